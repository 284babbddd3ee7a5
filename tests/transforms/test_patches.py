"""Landmark patches: the patch <-> image map is exact, a landmark drawn on an image is found at the same pixel after
crop -> decode -> uncrop, at any step, rotation and zoom, and on an image of twice the resolution."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_landmarks.codecs.decoders import decode_soft_argmax
from monai_landmarks.transforms import (
    LandmarkPatchesd,
    PatchesToImaged,
    extract_patches,
    image_to_patch,
    patch_to_image,
)
from monai_landmarks.transforms.patches import box_downsample, patch_matrices


def _blobs(size, points, sigma):
    """A (1, W, H) image with a Gaussian blob centred exactly on each (x, y) point (pixel-centre convention)."""
    xs = torch.arange(size[0], dtype=torch.float64)[:, None]
    ys = torch.arange(size[1], dtype=torch.float64)[None]
    return sum(torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)) for x, y in points)[None]


@st.composite
def patch_cases(draw):
    k = draw(st.integers(1, 3))
    # one blob per 40-pixel column, so that no two blobs overlap
    points = torch.tensor(
        [[30 + 40 * i + draw(st.floats(0, 10)), draw(st.floats(30, 70))] for i in range(k)], dtype=torch.float64
    )
    shift = torch.tensor([[draw(st.floats(-4, 4)), draw(st.floats(-4, 4))] for _ in range(k)], dtype=torch.float64)
    step = draw(st.sampled_from([0.5, 1.0, 1.5]))
    angles = torch.tensor([draw(st.floats(-0.5, 0.5)) for _ in range(k)])
    zooms = torch.tensor([draw(st.floats(0.8, 1.25)) for _ in range(k)])
    return points, points + shift, step, angles, zooms


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(patch_cases())
def test_crop_decode_uncrop_lands_on_the_drawn_pixel(case):
    points, centres, step, angles, zooms = case
    sigma = 3.0
    image = _blobs((160, 100), points, sigma)
    patches, matrices = extract_patches(image, centres, 33, step, angles, zooms)
    # the blob of landmark k, seen in patch k, has its sigma in patch pixels scaled by zoom / step
    local, _ = decode_soft_argmax(patches[:, 0], radius=int(3 * sigma * float(zooms.max()) / step) + 1, beta=2.0)
    found = patch_to_image(local[None].double(), matrices)[0]
    assert (found - points).norm(dim=-1).max() < 0.1  # pixels of the image


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(
    st.lists(st.tuples(st.floats(-50, 500), st.floats(-50, 500)), min_size=1, max_size=5),
    st.integers(2, 160),
    st.floats(0.1, 4.0),
    st.floats(-3.2, 3.2),
    st.floats(0.5, 2.0),
)
def test_patch_and_image_maps_are_exact_inverses(points, size, step, angle, zoom):
    centres = torch.tensor(points, dtype=torch.float64)
    k = len(points)
    m = patch_matrices(centres, size, step, torch.full((k,), angle), torch.full((k,), zoom))
    centre = torch.full((1, k, 2), (size - 1) / 2, dtype=torch.float64)
    assert torch.allclose(patch_to_image(centre, m)[0], centres, atol=1e-9)  # the patch centre is the position
    p = torch.rand(1, k, 2, dtype=torch.float64) * size
    assert torch.allclose(image_to_patch(patch_to_image(p, m), m), p, atol=1e-8)


def test_image_at_twice_the_resolution_gives_the_same_patches():
    points = torch.tensor([[40.3, 52.8], [77.6, 31.1]], dtype=torch.float64)
    image = _blobs((120, 100), points, 3.0)
    fine = image.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)  # each pixel becomes 2 x 2
    coarse_patches, m = extract_patches(image, points, 32, 1.0)
    fine_patches, m_fine = extract_patches(fine, (points + 0.5) * 2 - 0.5, 32, 2.0)
    assert torch.allclose(fine_patches, coarse_patches, atol=1e-6)
    to_fine = torch.tensor([[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1]], dtype=torch.float64)
    assert torch.allclose(m_fine, to_fine @ m, atol=1e-9)


def test_box_downsample_is_the_dataset_reduction():
    image = torch.arange(5 * 7, dtype=torch.float32).reshape(1, 5, 7)
    out = box_downsample(image, 2)
    assert out.shape == (1, 2, 3)  # trailing row and column dropped
    assert out[0, 1, 2] == image[0, 2:4, 4:6].mean()


def test_outside_the_image_reads_zero():
    image = torch.ones(1, 20, 20)
    patches, _ = extract_patches(image, torch.tensor([[0.0, 10.0]]), 8, 1.0)
    assert (patches[0, 0, :3] == 0).all() and (patches[0, 0, 4:] == 1).all()  # x = -3.5 .. -0.5 pad, 0.5.. image


def test_nan_centre_is_a_clear_error():
    with pytest.raises(ValueError, match=r"landmarks \[1\] are NaN"):
        extract_patches(torch.zeros(1, 30, 30), torch.tensor([[3.0, 4.0], [float("nan"), 1.0]]), 8)


def _sample(points, size=(120, 100), spacing=0.5):
    return {
        "image": _blobs(size, points, 3.0).float(),
        "landmarks": torch.tensor(points, dtype=torch.float32)[None],
        "spacing": np.array([spacing, spacing]),
        "image_id": "007",
    }


def test_patches_transform_keeps_landmarks_on_their_patch_pixels():
    points = [[40.3, 52.8], [77.6, 31.1], [float("nan"), float("nan")]]
    t = LandmarkPatchesd(patch_size=24, patch_spacing_mm=1.0, jitter_mm=2.0, rotate_range=0.3, scale_range=0.1)
    t.set_random_state(3)
    out = t(_sample(points))
    assert out["image"].shape == (3, 24, 24)
    assert out["patch_matrix"].shape == (3, 3, 3)
    local = out["patch_landmarks"]
    assert torch.isnan(local[0, 2]).all()  # a missing landmark has no target
    back = PatchesToImaged(keys="patch_landmarks")(out)["patch_landmarks"]
    assert torch.allclose(back[0, :2], torch.tensor(points[:2]), atol=1e-4)
    # the jitter moved the patch: the landmark is off-centre, within the clip
    offset = (local[0, :2] - 11.5).norm(dim=-1) * 1.0  # patch pixels of 1 mm
    assert (offset > 0.01).all() and (offset < 2.0 * 6).all()


def test_fixed_seed_gives_each_image_the_same_draw_every_time():
    t = LandmarkPatchesd(patch_size=16, jitter_mm=3.0, fixed_seed=0)
    a = t(_sample([[40.0, 50.0]]))["patch_landmarks"]
    t(dict(_sample([[60.0, 50.0]]), image_id="008"))
    b = t(_sample([[40.0, 50.0]]))["patch_landmarks"]
    assert torch.equal(a, b)


def test_jitter_is_clipped():
    t = LandmarkPatchesd(patch_size=16, jitter_mm=50.0, jitter_clip_mm=2.0)
    t.set_random_state(0)
    out = t(_sample([[60.0, 50.0]] * 6, spacing=0.5))
    shift = (out["patch_landmarks"][0] - 7.5).norm(dim=-1) * 0.5  # patch pixels are image pixels of 0.5 mm
    assert shift.max() <= 2.0 + 1e-4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"patch_size": 1}, "patch_size"),
        ({"patch_spacing_mm": 0.0}, "patch_spacing_mm"),
        ({"jitter_mm": -1.0}, "jitter_mm"),
        ({"scale_range": 1.0}, "scale_range"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LandmarkPatchesd(**kwargs)


def test_unknown_spacing_is_named():
    sample = dict(_sample([[40.0, 50.0]]), spacing=np.array([math.nan, math.nan]))
    with pytest.raises(ValueError, match="007.*spacing"):
        LandmarkPatchesd(patch_size=16, patch_spacing_mm=0.2)(sample)


def test_batched_points_map_with_batched_matrices():
    m = torch.stack([patch_matrices(torch.rand(3, 2) * 50, 16, 1.5, torch.rand(3), torch.ones(3)) for _ in range(2)])
    p = torch.rand(2, 3, 2, dtype=torch.float64) * 16
    batched = PatchesToImaged(keys="p", matrix_key="m")({"p": p, "m": m})["p"]
    one_by_one = torch.stack([patch_to_image(p[i : i + 1], m[i])[0] for i in range(2)])
    assert torch.allclose(batched, one_by_one, atol=1e-12)
