import numpy as np
import pytest
import torch

from monai_landmarks.utils import coords


def test_as_landmarks_accepts_both_layouts():
    k2 = np.array([[1.0, 2.0], [3.0, 4.0]])
    a = coords.as_landmarks(k2)
    b = coords.as_landmarks(torch.tensor(k2).unsqueeze(0))
    assert a.shape == (1, 2, 2) and a.dtype == torch.float32
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "points, count, message",
    [
        (np.zeros((3,)), None, "shape"),
        (np.zeros((2, 3, 2)), None, "shape"),
        (np.zeros((4, 3)), None, "shape"),
        (np.zeros((4, 2)), 5, "expected 5 landmarks"),
        (np.array([[np.inf, 0.0]]), None, "infinity"),
    ],
)
def test_as_landmarks_rejects(points, count, message):
    with pytest.raises(ValueError, match=message) as err:
        coords.as_landmarks(points, count, name="img_007.csv")
    assert "img_007.csv" in str(err.value)


def test_nan_marks_missing():
    p = coords.as_landmarks([[1.0, 2.0], [np.nan, np.nan]])
    assert coords.missing_mask(p).tolist() == [[False, True]]
    assert torch.isnan(coords.rescale(p, 2.0)[0, 1]).all()


def test_rescale_follows_pixel_centres():
    # Downscaling by 2 with a box mean: original pixels 0 and 1 become stored pixel 0 (centre 0.5 -> 0.0).
    p = torch.tensor([[[0.5, 1.5], [-0.5, -0.5]]])
    out = coords.rescale(p, 0.5)
    assert torch.allclose(out, torch.tensor([[[0.0, 0.5], [-0.5, -0.5]]]))
    # The outer edge -0.5 is a fixed point and distances scale by the factor.
    assert torch.allclose((out[0, 0] - out[0, 1]).abs(), (p[0, 0] - p[0, 1]).abs() * 0.5)


def test_stride_round_trip_and_known_values():
    p = torch.tensor([[[0.0, 0.0], [1.5, 3.5], [7.25, 2.0]]])
    h = coords.to_stride(p, 4)
    # Image pixels 0..3 make heatmap pixel 0, whose centre is image 1.5.
    assert torch.allclose(h[0, 1], torch.tensor([0.0, 0.5]))
    assert torch.allclose(coords.from_stride(h, 4), p)
    assert torch.allclose(coords.to_stride(p, (2, 4)), coords.rescale(p, torch.tensor([0.5, 0.25])))


def test_inside_image():
    p = torch.tensor([[[-0.5, 0.0], [9.49, 4.0], [9.5, 0.0], [np.nan, np.nan], [0.0, -0.51]]])
    assert coords.inside_image(p, (10, 5)).tolist() == [[True, True, False, True, False]]


def test_distance_units():
    a = torch.tensor([[3.0, 4.0]])
    b = torch.zeros(1, 2)
    assert coords.distance(a, b).item() == pytest.approx(5.0)
    assert coords.distance(a, b, 0.1).item() == pytest.approx(0.5)
    # Anisotropic pixels scale each axis before the norm: (3 * 0.2, 4 * 0.1) -> (0.6, 0.4).
    assert coords.distance(a, b, (0.2, 0.1)).item() == pytest.approx((0.36 + 0.16) ** 0.5)
    # Per-image spacing broadcasts over landmarks: (B=2, K=1, 2) points, (B, 1, 2) spacing.
    pa = torch.tensor([[[3.0, 4.0]], [[3.0, 4.0]]])
    d = coords.distance(pa, torch.zeros_like(pa), torch.tensor([[[1.0, 1.0]], [[2.0, 2.0]]]))
    assert d.squeeze(-1).tolist() == pytest.approx([5.0, 10.0])
    assert torch.isnan(coords.distance(torch.tensor([np.nan, 0.0]), b[0]))


def test_wrist_scale():
    gt = torch.zeros(2, 5, 2)
    gt[0, 4] = torch.tensor([100.0, 0.0])
    gt[1, 4] = torch.tensor([0.0, 0.0])  # coincident pair: no scale
    s = coords.wrist_scale(gt, (0, 4), 50.0)
    assert s[0].item() == pytest.approx(0.5)
    assert torch.isnan(s[1])


def test_transform_points_matches_matrix_and_keeps_nan():
    m = torch.tensor([[0.0, -1.0, 10.0], [1.0, 0.0, 2.0], [0.0, 0.0, 1.0]])
    p = torch.tensor([[[1.0, 2.0], [np.nan, np.nan]]])
    out = coords.transform_points(p, m)
    assert torch.allclose(out[0, 0], torch.tensor([8.0, 3.0]))
    assert torch.isnan(out[0, 1]).all()
    m4 = torch.eye(4, dtype=torch.float64)
    m4[0, 3], m4[1, 3] = 1.0, -1.0
    assert torch.allclose(coords.transform_points(p[:, :1], m4), torch.tensor([[[2.0, 1.0]]]))
    with pytest.raises(ValueError, match="3x3 or 4x4"):
        coords.transform_points(p, torch.eye(2))
