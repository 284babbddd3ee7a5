"""Radial error metrics against hand-computed references over two accumulated batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_landmarks.metrics import (
    ErrorProtocol,
    MeanRadialErrorMetric,
    RadialErrorMetric,
    SuccessDetectionRateMetric,
    landmark_error_report,
)

NAN = float("nan")

# Three images with three landmarks; the middle landmark of image 1 is not annotated.
# Prediction offsets (pixels) and their lengths:
#   image 0: (3, 4) -> 5,  (0, 2) -> 2,    (0, 0) -> 0
#   image 1: (6, 8) -> 10, missing GT,     (0, -3) -> 3
#   image 2: (-1, 0) -> 1, (0, 4) -> 4,    (0, 1) -> 1
# Landmarks 0 and 2 are 20, 25 and 50 px apart (the wrist pair of the wrist tests).
GT_A = [[[10, 10], [20, 20], [30, 10]], [[5, 5], [NAN, NAN], [5, 30]]]
PRED_A = [[[13, 14], [20, 22], [30, 10]], [[11, 13], [6, 6], [5, 27]]]
GT_B = [[[0, 0], [8, 8], [30, 40]]]
PRED_B = [[[-1, 0], [8, 12], [30, 41]]]
PX = [5, 2, 0, 10, 3, 1, 4, 1]  # the 8 counted errors
PX_TABLE = [[5, 2, 0], [10, NAN, 3], [1, 4, 1]]
PER_IMAGE_MM = [0.625, 0.25, 0, 2.5, 0.75, 1, 4, 1]  # PX at 0.125, 0.25 and 1 mm/px for images 0, 1, 2


def t(x):
    return torch.tensor(x, dtype=torch.float32)


def run(metric, spacing_a=None, spacing_b=None, pred_b=PRED_B):
    metric(t(PRED_A), t(GT_A), spacing=spacing_a)
    metric(t(pred_b), t(GT_B), spacing=spacing_b)
    return metric.aggregate()


def pop_sd(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def test_pixels_pooled_and_per_landmark():
    r = run(RadialErrorMetric(ErrorProtocol("px")))
    assert r["count"] == 8 and r["failures"] == 0
    assert r["mre"] == pytest.approx(26 / 8)
    # squared deviations from 3.25 sum to 71.5
    assert r["sd"] == pytest.approx(math.sqrt(71.5 / 8))
    # <= 2: {2, 0, 1, 1}; <= 3 adds 3; <= 4 adds 4
    assert r["sdr"] == pytest.approx({2.0: 50.0, 2.5: 50.0, 3.0: 62.5, 4.0: 75.0})
    assert r["mre_per_landmark"].tolist() == pytest.approx([16 / 3, 3.0, 4 / 3])
    assert r["sd_per_landmark"].tolist() == pytest.approx([math.sqrt(366 / 27), 1.0, math.sqrt(14 / 9)])
    assert r["count_per_landmark"].tolist() == [3, 2, 3]
    assert r["sdr_per_landmark"][2.0].tolist() == pytest.approx([100 / 3, 50.0, 200 / 3])
    assert r["sdr_per_landmark"][4.0].tolist() == pytest.approx([100 / 3, 100.0, 100.0])


def test_buffer_holds_per_image_errors():
    metric = RadialErrorMetric(ErrorProtocol("px"))
    run(metric)
    np.testing.assert_allclose(metric.get_buffer().numpy(), PX_TABLE)


def test_constant_spacing_scalar():
    r = run(RadialErrorMetric(ErrorProtocol("mm", spacing=0.5)))
    assert r["mre"] == pytest.approx(0.5 * 26 / 8)
    assert r["sd"] == pytest.approx(0.5 * math.sqrt(71.5 / 8))
    assert r["sdr"][2.0] == pytest.approx(100 * 6 / 8)  # mm errors 2.5 1 0 5 1.5 0.5 2 0.5


def test_constant_spacing_anisotropic():
    # offset (3, 2) px with (1, 2) mm per px is (3, 4) mm -> 5 mm
    metric = MeanRadialErrorMetric(ErrorProtocol("mm", spacing=(1.0, 2.0)))
    metric(t([[[3, 2]]]), t([[[0, 0]]]))
    assert metric.aggregate().item() == pytest.approx(5.0)


def test_per_image_spacing():
    # images at 0.125, 0.25 and 1 mm/px: errors 0.625 0.25 0 | 2.5 - 0.75 | 1 4 1
    r = run(RadialErrorMetric(ErrorProtocol("mm")), t([[0.125, 0.125], [0.25, 0.25]]), t([[1.0, 1.0]]))
    expected = PER_IMAGE_MM
    assert r["mre"] == pytest.approx(sum(expected) / 8)
    assert r["sd"] == pytest.approx(pop_sd(expected))
    assert r["sdr"][2.0] == pytest.approx(100 * 6 / 8)


def test_per_image_spacing_wins_and_nan_rows_fall_back_to_constant():
    metric = RadialErrorMetric(ErrorProtocol("mm", spacing=0.25))
    r = run(metric, t([[0.125, 0.125], [NAN, NAN]]), t([[1.0, 1.0]]))
    assert r["mre"] == pytest.approx(sum(PER_IMAGE_MM) / 8)


def test_per_image_spacing_as_list_and_per_landmark_forms():
    """Decollated inputs: lists of (1, K, 2) landmarks and (2,) spacings; collated (B, 1, K, 2) batches."""
    metric = RadialErrorMetric(ErrorProtocol("mm"))
    metric(list(t(PRED_A).unsqueeze(1)), list(t(GT_A).unsqueeze(1)), spacing=[t([0.125, 0.125]), t([0.25, 0.25])])
    metric(t(PRED_B).unsqueeze(1), t(GT_B).unsqueeze(1), spacing=t([[[1.0, 1.0]]]))
    assert metric.aggregate()["mre"] == pytest.approx(sum(PER_IMAGE_MM) / 8)


def test_wrist_normalisation():
    # wrist pair (0, 2) is 20, 25 and 50 px wide -> 2.5, 2 and 1 mm/px at a 50 mm wrist
    r = run(RadialErrorMetric(ErrorProtocol("wrist", wrist_pair=(0, 2))))
    expected = [12.5, 5, 0, 20, 6, 1, 4, 1]
    assert r["mre"] == pytest.approx(sum(expected) / 8)
    assert r["sd"] == pytest.approx(pop_sd(expected))
    assert r["sdr"] == pytest.approx({2.0: 37.5, 2.5: 37.5, 3.0: 37.5, 4.0: 50.0})


def test_wrist_width_and_pair_are_settings():
    # wrist (2, 0) at 100 mm doubles every error of the previous test
    r = run(RadialErrorMetric(ErrorProtocol("wrist", wrist_pair=(2, 0), wrist_width_mm=100.0)))
    assert r["mre"] == pytest.approx(2 * 49.5 / 8)


def test_wrist_ignores_spacing_of_the_batch():
    r = run(RadialErrorMetric(ErrorProtocol("wrist", wrist_pair=(0, 2))), t([[9.0, 9.0], [9.0, 9.0]]), t([[9.0, 9.0]]))
    assert r["mre"] == pytest.approx(49.5 / 8)


def test_nan_ground_truth_is_skipped():
    # image 1's landmark 1 has a prediction (6, 6) but no ground truth: it is neither an error nor counted
    r = run(RadialErrorMetric(ErrorProtocol("px")))
    assert r["count"] == 8 and r["count_per_landmark"][1] == 2


def test_nan_prediction_is_a_failure():
    pred_b = [[[-1, 0], [NAN, NAN], [30, 41]]]  # landmark 1 of image 2 (error 4 before) is not predicted
    r = run(RadialErrorMetric(ErrorProtocol("px")), pred_b=pred_b)
    assert r["count"] == 8 and r["failures"] == 1
    assert r["mre"] == math.inf and r["sd"] == math.inf
    assert r["sdr"] == pytest.approx({2.0: 50.0, 2.5: 50.0, 3.0: 62.5, 4.0: 62.5})
    assert r["mre_per_landmark"][1] == math.inf and r["sd_per_landmark"][1] == math.inf
    assert r["mre_per_landmark"][0].item() == pytest.approx(16 / 3)
    assert r["sdr_per_landmark"][4.0].tolist() == pytest.approx([100 / 3, 50.0, 100.0])


def test_sdr_boundary_inclusive_and_strict():
    # errors of exactly 2 px (image 0, landmark 1) and 3 px (image 1, landmark 2)
    loose = run(RadialErrorMetric(ErrorProtocol("px")))["sdr"]
    strict = run(RadialErrorMetric(ErrorProtocol("px"), strict=True))["sdr"]
    assert loose[2.0] == pytest.approx(50.0) and strict[2.0] == pytest.approx(37.5)
    assert loose[3.0] == pytest.approx(62.5) and strict[3.0] == pytest.approx(50.0)
    assert loose[2.5] == strict[2.5] == pytest.approx(50.0)


def test_custom_radii_and_sample_sd():
    r = run(RadialErrorMetric(ErrorProtocol("px"), radii=(1, 10), ddof=1))
    assert r["sdr"] == pytest.approx({1.0: 37.5, 10.0: 100.0})
    assert r["sd"] == pytest.approx(math.sqrt(71.5 / 7))


def test_reset():
    metric = RadialErrorMetric(ErrorProtocol("px"))
    run(metric)
    metric.reset()
    metric(t(PRED_B), t(GT_B))
    r = metric.aggregate()
    assert r["count"] == 3 and r["mre"] == pytest.approx(2.0)


def test_scalar_metrics():
    mre = MeanRadialErrorMetric(ErrorProtocol("px"))
    sdr = SuccessDetectionRateMetric(3.0, ErrorProtocol("px"))
    sdr_strict = SuccessDetectionRateMetric(3.0, ErrorProtocol("px"), strict=True)
    for m in (mre, sdr, sdr_strict):
        run(m)
    assert mre.aggregate().item() == pytest.approx(3.25)
    assert sdr.aggregate().item() == pytest.approx(62.5)
    assert sdr_strict.aggregate().item() == pytest.approx(50.0)


def test_call_returns_batch_errors():
    errors = RadialErrorMetric(ErrorProtocol("px"))(t(PRED_A), t(GT_A))
    assert errors.shape == (2, 3) and errors.dtype == torch.float64
    np.testing.assert_allclose(errors.numpy(), PX_TABLE[:2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"unit": "cm"}, r"(?s)'cm'.*(mm|px|wrist)"),
        ({"unit": "px", "spacing": 0.1}, "unit='mm'"),
        ({"unit": "wrist", "spacing": 0.1}, "unit='mm'"),
        ({"spacing": -0.1}, "positive"),
        ({"spacing": (0.1, 0.1, 0.1)}, r"\(sx, sy\)"),
        ({"spacing": NAN}, "positive"),
        ({"wrist_pair": (1, 1)}, "wrist_pair"),
        ({"wrist_pair": (0, -1)}, "wrist_pair"),
        ({"wrist_width_mm": 0.0}, "wrist_width_mm"),
        ({"radii": ()}, "radii"),
        ({"radii": (2.0, -1.0)}, "radii"),
        ({"ddof": -1}, "ddof"),
    ],
)
def test_illegal_arguments(kwargs, match):
    fields = {"unit", "spacing", "wrist_pair", "wrist_width_mm"}
    with pytest.raises(ValueError, match=match):
        protocol = ErrorProtocol(**{k: v for k, v in kwargs.items() if k in fields})
        RadialErrorMetric(protocol, **{k: v for k, v in kwargs.items() if k not in fields})


def test_sdr_metric_takes_one_radius():
    with pytest.raises(ValueError, match="one radius"):
        SuccessDetectionRateMetric(2.0, ErrorProtocol("px"), radii=(2.0, 4.0))


@pytest.mark.parametrize(
    "metric, y_pred, y, spacing, match",
    [
        (
            RadialErrorMetric(ErrorProtocol("px")),
            t(PRED_A),
            t(GT_A)[:, :2],
            None,
            r"same shape.*\(2, 3, 2\).*\(2, 2, 2\)",
        ),
        (RadialErrorMetric(ErrorProtocol("px")), t(PRED_A)[0], t(GT_A)[0], None, r"y_pred: expected .*\(B, K, 2\)"),
        (RadialErrorMetric(ErrorProtocol("px")), t(PRED_A), None, None, "ground-truth"),
        (RadialErrorMetric(ErrorProtocol("mm")), t(PRED_A), t(GT_A), None, "unit='px'"),
        (
            RadialErrorMetric(ErrorProtocol("mm")),
            t(PRED_A),
            t(GT_A),
            t([[0.1, 0.1], [NAN, 0.1]]),
            r"item\(s\) \[1\].*unit='px'",
        ),
        (RadialErrorMetric(ErrorProtocol("mm")), t(PRED_A), t(GT_A), t([0.1, 0.1, 0.1]), r"\(B, 2\) = \(2, 2\)"),
        (RadialErrorMetric(ErrorProtocol("mm")), t(PRED_A), t(GT_A), t([[0.1, 0.1], [-0.1, 0.1]]), "positive"),
        (RadialErrorMetric(ErrorProtocol("wrist", wrist_pair=(0, 3))), t(PRED_A), t(GT_A), None, "out of range"),
        (
            RadialErrorMetric(ErrorProtocol("wrist", wrist_pair=(0, 1))),
            t(PRED_A),
            t(GT_A),
            None,
            r"item\(s\) \[1\] lack",
        ),
    ],
)
def test_illegal_inputs(metric, y_pred, y, spacing, match):
    with pytest.raises(ValueError, match=match):
        metric(y_pred, y, spacing=spacing)


def test_aggregate_before_any_batch():
    with pytest.raises(ValueError, match="nothing to aggregate"):
        RadialErrorMetric(ErrorProtocol("px")).aggregate()


def test_report_function():
    r = landmark_error_report(np.array([[1.0, NAN], [3.0, math.inf]]), radii=(1.0,), ddof=1)
    assert r["count"] == 3 and r["failures"] == 1 and r["mre"] == math.inf
    assert r["sdr"][1.0] == pytest.approx(100 / 3)
    assert r["sd_per_landmark"][0].item() == pytest.approx(math.sqrt(2.0))  # sample SD of (1, 3)
    assert r["sdr_per_landmark"][1.0].tolist() == pytest.approx([50.0, 0.0])


def test_report_of_nothing_is_nan():
    r = landmark_error_report(torch.full((2, 2), NAN))
    assert r["count"] == 0 and math.isnan(r["mre"]) and math.isnan(r["sd"])
    assert all(math.isnan(v) for v in r["sdr"].values())


@pytest.mark.parametrize("errors, match", [(np.ones(3), r"\(N, K\)"), (np.array([[-1.0]]), ">= 0")])
def test_report_rejects_bad_tables(errors, match):
    with pytest.raises(ValueError, match=match):
        landmark_error_report(errors)
