import dataclasses

import pytest
import torch

from monai_landmarks.handlers import LandmarkReportWriter, MeanRadialError, SuccessDetectionRate
from monai_landmarks.metrics import ErrorProtocol, ErrorUnit, RadialErrorMetric


def test_protocol_normalises_and_is_frozen():
    protocol = ErrorProtocol("wrist", wrist_pair=[1, 5], wrist_width_mm=40)
    assert protocol.unit is ErrorUnit.WRIST and protocol.wrist_pair == (1, 5) and protocol.wrist_width_mm == 40.0
    assert protocol.to_dict() == {"unit": "wrist", "spacing": None, "wrist_pair": [1, 5], "wrist_width_mm": 40.0}
    assert ErrorProtocol("mm", spacing=0.1).spacing == (0.1, 0.1)
    assert ErrorProtocol("mm", spacing=0.1).to_dict() == {"unit": "mm", "spacing": [0.1, 0.1]}
    assert hash(protocol) == hash(ErrorProtocol("wrist", wrist_pair=(1, 5), wrist_width_mm=40.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        protocol.unit = "mm"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"unit": "inch"}, "inch"),
        ({"unit": "px", "spacing": 0.1}, "unit='mm'"),
        ({"spacing": 0.0}, "positive"),
        ({"wrist_pair": (2, 2)}, "two different"),
        ({"wrist_width_mm": float("nan")}, "positive and finite"),
    ],
)
def test_protocol_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ErrorProtocol(**kwargs)


def test_one_protocol_object_sets_every_consumer():
    """A 40 mm wrist width given once reaches the metric, both handlers and the report writer."""
    protocol = ErrorProtocol("wrist", wrist_pair=(0, 1), wrist_width_mm=40.0)
    truth = torch.tensor([[[0.0, 0.0], [100.0, 0.0], [50.0, 50.0]]])
    pred = truth + torch.tensor([[[0.0, 0.0], [0.0, 0.0], [10.0, 0.0]]])  # 10 px = 4 mm at 40 mm per 100 px
    metric = RadialErrorMetric(protocol=protocol)
    assert metric(pred, truth)[0, 2].item() == pytest.approx(4.0)
    for handler in (MeanRadialError(protocol=protocol), SuccessDetectionRate(2.0, protocol=protocol)):
        assert handler.metric_fn.protocol == protocol
    writer = LandmarkReportWriter("unused", protocol=protocol)
    assert writer.metric.protocol == protocol and writer.protocol["wrist_width_mm"] == 40.0
