import numpy as np
import pytest

from monai_landmarks.metrics import ErrorProtocol
from monai_landmarks.metrics.baselines import mean_shape, mean_shape_report


def _item(points, spacing=(0.5, 0.5)):
    return {"landmarks": np.asarray(points, dtype=np.float32)[None], "spacing": np.asarray(spacing, np.float32)}


def test_mean_shape_ignores_missing():
    train = [_item([[0, 0], [4, 4]]), _item([[2, 0], [np.nan, np.nan]])]
    assert np.allclose(mean_shape(train), [[[1, 0], [4, 4]]])


def test_mean_shape_report_by_hand():
    train = [_item([[0, 0]]), _item([[2, 0]])]  # mean (1, 0)
    evaluate = [_item([[4, 4]]), _item([[1, 0]])]  # errors 5 px and 0 px
    px = mean_shape_report(train, evaluate, ErrorProtocol("px"))
    assert px["mre"] == pytest.approx(2.5)
    mm = mean_shape_report(train, evaluate, ErrorProtocol("mm"))
    assert mm["mre"] == pytest.approx(1.25) and mm["sdr"][2.0] == pytest.approx(50.0)
