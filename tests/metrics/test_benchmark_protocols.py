import numpy as np
import pytest

from monai_landmarks.metrics import landmark_error_report
from monai_landmarks.metrics.benchmark_protocols import GU2NET_GRID_SPACING_MM, gu2net_grid_errors, sdr_curve


def test_sdr_curve_counts_within_each_radius_skipping_nan():
    errors = [[0.0, 1.0, np.nan], [2.0, 3.0, np.inf]]  # 5 counted pairs, one failed prediction
    assert sdr_curve(errors, [0.0, 0.5, 1.0, 2.5, 100.0]).tolist() == [20.0, 20.0, 40.0, 60.0, 80.0]


def test_sdr_curve_ties_follow_the_sdr_rule():
    errors = [[3.0000000000000004, 1.0]]  # 3 mm in exact arithmetic, a few ulps over in floats
    assert sdr_curve(errors, [3.0]).tolist() == [100.0]
    assert sdr_curve(errors, [3.0], strict=True).tolist() == [50.0]
    rng = np.random.default_rng(0)
    errors = np.round(rng.gamma(2.0, 1.0, (20, 19)), 1)  # many ties with the radii
    radii = (0.5, 1.0, 2.0, 2.5, 4.0)
    for strict in (False, True):
        report = landmark_error_report(errors, radii=radii, strict=strict)["sdr"]
        assert sdr_curve(errors, radii, strict=strict) == pytest.approx([report[r] for r in radii])


@pytest.mark.parametrize(
    "errors, radii, match",
    [([1.0, 2.0], [1.0], "\\(N, K\\)"), ([[np.nan]], [1.0], "no counted pair"), ([[1.0]], [-1.0], "radii")],
)
def test_sdr_curve_refuses_bad_input(errors, radii, match):
    with pytest.raises(ValueError, match=match):
        sdr_curve(errors, radii)


def test_gu2net_grid_on_the_grid_itself():
    # an original of the grid's own size: grid pixels are original pixels, a (3, 4) offset is 5 grid pixels
    truth = np.array([[[10.0, 20.0], [100.0, 200.0]]])
    predicted = truth + np.array([[[3.0, 4.0], [0.0, 0.0]]])
    errors = gu2net_grid_errors(predicted, truth, (416, 512))
    assert errors.tolist() == [[5 * GU2NET_GRID_SPACING_MM, 0.0]]


def test_gu2net_grid_rounds_to_whole_grid_pixels():
    # ISBI 2015: 1935 x 2400 originals stored 2x downsampled; 1/4.65 of an original pixel per grid pixel in x
    truth = np.zeros((1, 1, 2))
    near = np.array([[[1.0, 1.0]]])  # 2 original px: under half a grid pixel on both axes
    far = np.array([[[5.0, 0.0]]])  # 10 original px: 2.15 grid pixels in x -> 2
    assert gu2net_grid_errors(near, truth, (1935, 2400), 2).tolist() == [[0.0]]
    assert gu2net_grid_errors(far, truth, (1935, 2400), 2).tolist() == [[2 * GU2NET_GRID_SPACING_MM]]
    # half a grid pixel rounds to even, as Python's round() does in GU2Net's code: 0.5 -> 0, 1.5 -> 2
    assert gu2net_grid_errors([[[0.5, 0.0], [1.5, 0.0]]], np.zeros((1, 2, 2)), (416, 512)).tolist() == [
        [0.0, 2 * GU2NET_GRID_SPACING_MM]
    ]


def test_gu2net_grid_refuses_mismatched_points():
    with pytest.raises(ValueError, match="one shape"):
        gu2net_grid_errors(np.zeros((1, 2, 2)), np.zeros((1, 3, 2)), (416, 512))
