"""Landmark-consistent spatial transforms: Gaussian blobs drawn at the landmarks must move with them.

Each test draws a bright blob (sigma 1.5 px) at every landmark of a non-square 48 x 40 image, transforms image
and landmarks together, finds each blob again by an intensity-weighted centroid and checks that it lies on
the transformed landmark (0.5 px), then inverts and checks that blobs and landmarks are back.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from monai.data import MetaTensor, decollate_batch, list_data_collate, set_track_meta
from monai.transforms import (
    Compose,
    EnsureChannelFirstd,
    LoadImaged,
    NormalizeIntensityd,
    RandGaussianNoised,
    Resized,
)
from monai.utils import TraceKeys
from PIL import Image

from monai_landmarks.transforms.spatial import (
    LANDMARK_MATRIX,
    InvertLandmarksd,
    LandmarkResized,
    LandmarkResizeWithPadd,
    RandLandmarkAffined,
    RandLandmarkFlipd,
)
from monai_landmarks.utils.coords import inside_image, rescale
from monai_landmarks.utils.keys import Keys

SIZE = (48, 40)  # (W, H): non-square, so a swapped axis shows
POINTS = np.array([[17.3, 14.6], [30.7, 16.2], [22.4, 26.9]])  # sub-pixel, about 13 px apart
SIGMA = 1.5
TOL = 0.5  # px, blob centroid vs landmark


def blob_image(points=POINTS, size=SIZE, sigma=SIGMA) -> np.ndarray:
    """A ``(W, H)`` image with a unit Gaussian at each ``(x, y)``; spatial axis 0 is x."""
    x = np.arange(size[0], dtype=np.float64)[:, None]
    y = np.arange(size[1], dtype=np.float64)[None, :]
    points = [p for p in np.asarray(points, dtype=np.float64) if not np.isnan(p).any()]
    return sum(np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma**2)) for px, py in points)


def sample(points=POINTS) -> dict:
    image = MetaTensor(torch.as_tensor(blob_image(points), dtype=torch.float32)[None])
    return {Keys.IMAGE: image, Keys.LANDMARKS: torch.as_tensor(np.asarray(points)[None], dtype=torch.float32)}


def find_blob(image, guess, radius: int = 5) -> np.ndarray:
    """Sub-pixel ``(x, y)`` of the blob nearest ``guess``: the peak in a window, then a weighted centroid.

    The background (window median) is removed first, so this also works on normalised, noisy images.
    """
    a = np.asarray(image[0], dtype=np.float64)

    def window(cx, cy):
        x0, y0 = max(cx - radius, 0), max(cy - radius, 0)
        return x0, y0, a[x0 : cx + radius + 1, y0 : cy + radius + 1]

    x0, y0, win = window(*np.round(guess).astype(int))
    px, py = np.unravel_index(np.argmax(win), win.shape)
    x0, y0, win = window(px + x0, py + y0)
    w = np.clip(win - np.median(win), 0, None)
    xx, yy = np.meshgrid(np.arange(win.shape[0]) + x0, np.arange(win.shape[1]) + y0, indexing="ij")
    return np.array([(w * xx).sum(), (w * yy).sum()]) / w.sum()


def blob_errors(image, landmarks) -> np.ndarray:
    """Distance from each landmark to the blob found near it (px)."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    return np.array([np.linalg.norm(find_blob(image, p) - p) for p in pts])


def check_round_trip(transform, data=None, tol=TOL) -> dict:
    """Forward: blobs on the transformed landmarks; inverse: blobs and landmarks back on ``POINTS``."""
    data = sample() if data is None else data
    out = transform(data)
    assert isinstance(out[Keys.IMAGE], MetaTensor)
    assert out[Keys.LANDMARKS].shape == (1, len(POINTS), 2) and out[Keys.LANDMARKS].dtype == torch.float32
    assert blob_errors(out[Keys.IMAGE], out[Keys.LANDMARKS]).max() < tol
    back = transform.inverse(copy.deepcopy(out))  # MONAI's inverse pops the records of its input
    assert tuple(back[Keys.IMAGE].shape[1:]) == SIZE
    np.testing.assert_allclose(back[Keys.LANDMARKS][0].numpy(), POINTS, atol=1e-3)
    assert blob_errors(back[Keys.IMAGE], POINTS).max() < tol
    assert back[Keys.IMAGE].applied_operations == []
    np.testing.assert_allclose(back[Keys.IMAGE].affine.numpy(), np.eye(4), atol=1e-5)
    return out


@pytest.mark.parametrize("size", [(64, 56), (31, 27), (36, 50), (48, 40)])
def test_resize_follows_pixel_centres(size):
    out = check_round_trip(LandmarkResized(Keys.IMAGE, size))
    assert tuple(out[Keys.IMAGE].shape[1:]) == size
    expected = rescale(torch.as_tensor(POINTS), [m / n for m, n in zip(size, SIZE, strict=True)])
    np.testing.assert_allclose(out[Keys.LANDMARKS][0].numpy(), expected.numpy(), atol=1e-4)


def test_resize_keeps_an_axis_with_minus_one():
    out = check_round_trip(LandmarkResized(Keys.IMAGE, (30, -1)))
    assert tuple(out[Keys.IMAGE].shape[1:]) == (30, 40)
    np.testing.assert_allclose(out[Keys.LANDMARKS][0, :, 1].numpy(), POINTS[:, 1], atol=1e-5)


@pytest.mark.parametrize(
    "target, fitted",
    [((64, 64), (64, 53)), ((40, 48), (40, 33)), ((56, 32), (38, 32)), ((48, 40), (48, 40))],
)
@pytest.mark.parametrize("method", ["symmetric", "end"])
def test_resize_with_pad_keeps_aspect_ratio(target, fitted, method):
    transform = LandmarkResizeWithPadd(Keys.IMAGE, target, method=method)
    assert transform.fitted_size(SIZE) == fitted
    out = check_round_trip(transform)
    assert tuple(out[Keys.IMAGE].shape[1:]) == target
    # one scale for both axes (up to the rounding of the fitted size), then a pure shift
    m = np.asarray(out[Keys.IMAGE].applied_operations[-1]["extra_info"][LANDMARK_MATRIX])
    assert abs(m[0, 0] - m[1, 1]) < 0.02 and abs(m[0, 1]) < 1e-12 and abs(m[1, 0]) < 1e-12
    pad = [(t - f) // 2 if method == "symmetric" else 0 for t, f in zip(target, fitted, strict=True)]
    expected = rescale(torch.as_tensor(POINTS), [f / n for f, n in zip(fitted, SIZE, strict=True)]) + torch.tensor(pad)
    np.testing.assert_allclose(out[Keys.LANDMARKS][0].numpy(), expected.numpy(), atol=1e-4)


@pytest.mark.parametrize("seed", range(6))
def test_random_affine_moves_blobs_and_landmarks_together(seed):
    transform = RandLandmarkAffined(
        Keys.IMAGE, prob=1.0, rotate_range=math.radians(30), scale_range=(0.2, 0.2), translate_range=(3, 3)
    )
    transform.set_random_state(seed)
    out = check_round_trip(transform)
    assert not torch.allclose(out[Keys.LANDMARKS][0], torch.as_tensor(POINTS, dtype=torch.float32), atol=0.5)


def test_random_affine_with_output_size():
    transform = RandLandmarkAffined(Keys.IMAGE, prob=1.0, rotate_range=0.3, spatial_size=(40, 48))
    out = check_round_trip(transform.set_random_state(3))
    assert tuple(out[Keys.IMAGE].shape[1:]) == (40, 48)


def test_random_affine_not_applied_is_identity_and_invertible():
    out = check_round_trip(RandLandmarkAffined(Keys.IMAGE, prob=0.0, rotate_range=1.0))
    np.testing.assert_allclose(out[Keys.LANDMARKS][0].numpy(), POINTS, atol=1e-6)
    np.testing.assert_allclose(out[Keys.IMAGE][0].numpy(), blob_image(), atol=1e-6)


def test_flip_along_x_maps_30_to_17():
    data = sample([[30.0, 5.0], [10.0, 20.0]])
    out = RandLandmarkFlipd(Keys.IMAGE, prob=1.0, spatial_axis=0)(data)
    np.testing.assert_allclose(out[Keys.LANDMARKS][0].numpy(), [[17.0, 5.0], [37.0, 20.0]])
    np.testing.assert_allclose(find_blob(out[Keys.IMAGE], (17, 5)), [17.0, 5.0], atol=0.05)


@pytest.mark.parametrize("axis, flip_indices", [(0, [1, 0, 2]), (1, None), ((0, 1), [2, 1, 0])])
def test_flip_permutes_landmarks_and_inverts(axis, flip_indices):
    out = check_round_trip(RandLandmarkFlipd(Keys.IMAGE, prob=1.0, spatial_axis=axis, flip_indices=flip_indices))
    flipped = POINTS.copy()
    for a in np.atleast_1d(axis):
        flipped[:, a] = SIZE[a] - 1 - flipped[:, a]
    order = flip_indices or [0, 1, 2]
    np.testing.assert_allclose(out[Keys.LANDMARKS][0].numpy(), flipped[order], atol=1e-5)


@pytest.mark.parametrize(
    "transform",
    [
        LandmarkResized(Keys.IMAGE, (31, 50)),
        LandmarkResizeWithPadd(Keys.IMAGE, (64, 64)),
        RandLandmarkAffined(Keys.IMAGE, prob=1.0, rotate_range=0.5, translate_range=(4, 4)),
        RandLandmarkFlipd(Keys.IMAGE, prob=1.0, flip_indices=[0, 2, 1, 3]),
    ],
    ids=["resize", "resize_pad", "affine", "flip"],
)
def test_missing_landmarks_stay_nan(transform):
    points = np.array([[17.3, 14.6], [np.nan, np.nan], [22.4, 26.9], [np.nan, np.nan]])
    out = transform(sample(points))
    nan = torch.isnan(out[Keys.LANDMARKS][0])
    assert nan.any(dim=-1).tolist() == nan.all(dim=-1).tolist()
    expected_missing = [False, True, False, True] if not isinstance(transform, RandLandmarkFlipd) else [0, 0, 1, 1]
    assert nan.all(dim=-1).tolist() == [bool(m) for m in expected_missing]
    back = transform.inverse(out)[Keys.LANDMARKS][0].numpy()
    np.testing.assert_allclose(back, points, atol=1e-3)  # assert_allclose matches NaN with NaN


def test_landmarks_leaving_the_image_keep_their_coordinates():
    transform = RandLandmarkAffined(Keys.IMAGE, prob=1.0, translate_range=((-30, -30), (0, 0)))
    out = transform(sample())
    moved = out[Keys.LANDMARKS][0]
    np.testing.assert_allclose(moved[:, 0].numpy(), POINTS[:, 0] + 30, atol=1e-4)  # backward map: -30 moves +30
    assert inside_image(moved, SIZE).tolist() == [True, False, False]
    np.testing.assert_allclose(transform.inverse(out)[Keys.LANDMARKS][0].numpy(), POINTS, atol=1e-3)


@pytest.mark.parametrize("cls", [RandLandmarkAffined, RandLandmarkFlipd])
def test_seed_reproduces_the_draw(cls):
    kwargs = {"rotate_range": 0.5, "scale_range": (0.2, 0.2)} if cls is RandLandmarkAffined else {}

    def run(seed):
        transform = cls(Keys.IMAGE, prob=0.5, **kwargs).set_random_state(seed)
        return [transform(sample())[Keys.LANDMARKS] for _ in range(8)]

    a, b, c = run(7), run(7), run(8)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))
    applied = [not torch.allclose(x, torch.as_tensor(POINTS[None], dtype=torch.float32)) for x in a]
    assert 0 < sum(applied) < len(applied)  # prob=0.5 applies some draws and not others


def test_all_image_keys_get_the_same_draw():
    data = sample()
    data["label"] = data[Keys.IMAGE].clone()
    transform = RandLandmarkAffined([Keys.IMAGE, "label"], prob=1.0, rotate_range=0.5, translate_range=(3, 3))
    out = transform.set_random_state(1)(data)
    torch.testing.assert_close(out[Keys.IMAGE].as_tensor(), out["label"].as_tensor())
    back = transform.inverse(out)
    torch.testing.assert_close(back[Keys.IMAGE].as_tensor(), back["label"].as_tensor())


def _readers():
    """MONAI's default reader for PNG (PIL, 4 x 4 affine) and the package's SITKReader (3 x 3), if present."""
    readers = [pytest.param(None, id="default")]
    try:
        from monai_landmarks.data.image_reader import SITKReader
    except ImportError:
        return readers
    return [*readers, pytest.param(SITKReader, id="sitk")]


@pytest.mark.parametrize("reader", _readers())
def test_training_chain_from_a_png(tmp_path, reader):
    """Load, resize, augment and normalise; then invert back to the file's pixels."""
    path = tmp_path / "phantom.png"
    Image.fromarray((blob_image().T * 200 + 20).astype(np.uint8)).save(path)  # PIL is (H, W): rows are y
    flip_indices = [1, 0, 2]
    chain = Compose(
        [
            LoadImaged(Keys.IMAGE, reader=None if reader is None else reader()),
            EnsureChannelFirstd(Keys.IMAGE),
            LandmarkResized(Keys.IMAGE, (60, 52)),
            RandLandmarkAffined(Keys.IMAGE, prob=1.0, rotate_range=0.4, scale_range=(0.1, 0.1), translate_range=(2, 2)),
            RandLandmarkFlipd(Keys.IMAGE, prob=1.0, flip_indices=flip_indices),
            NormalizeIntensityd(Keys.IMAGE),
            RandGaussianNoised(Keys.IMAGE, prob=1.0, std=0.05),
        ]
    ).set_random_state(0)
    out = chain({Keys.IMAGE: str(path), Keys.LANDMARKS: POINTS})
    image, landmarks = out[Keys.IMAGE], out[Keys.LANDMARKS]
    assert isinstance(image, MetaTensor) and tuple(image.shape) == (1, 60, 52)
    assert abs(float(image.mean())) < 0.1 and abs(float(image.std()) - 1) < 0.1  # normalised, then noise
    assert blob_errors(image, landmarks).max() < TOL

    # a perfect prediction on the network input goes back to the file's pixels, permutation undone
    out[Keys.PRED_LANDMARKS] = landmarks.clone()
    pred = InvertLandmarksd()(out)[Keys.PRED_LANDMARKS]
    np.testing.assert_allclose(pred[0].numpy(), POINTS, atol=1e-3)

    back = chain.inverse(out)
    np.testing.assert_allclose(back[Keys.LANDMARKS][0].numpy(), POINTS, atol=1e-3)
    assert tuple(back[Keys.IMAGE].shape) == (1, *SIZE)
    loaded = chain.transforms[0]({Keys.IMAGE: str(path)})[Keys.IMAGE]
    np.testing.assert_allclose(back[Keys.IMAGE].affine.numpy(), loaded.affine.numpy(), atol=1e-5)
    assert blob_errors(back[Keys.IMAGE], POINTS).max() < TOL


@pytest.mark.parametrize(
    "transform",
    [
        LandmarkResized(Keys.IMAGE, (56, 30), allow_missing_keys=True),
        LandmarkResizeWithPadd(Keys.IMAGE, (32, 32), allow_missing_keys=True),
    ],
    ids=["resize", "resize_pad"],
)
def test_inference_path_maps_predictions_to_original_pixels(transform):
    data = sample()
    expected = data.pop(Keys.LANDMARKS)  # inference: no landmarks
    out = transform(data)
    assert Keys.LANDMARKS not in out
    found = np.stack([find_blob(out[Keys.IMAGE], p) for p in transform(sample())[Keys.LANDMARKS][0].numpy()])
    out[Keys.PRED_LANDMARKS] = torch.as_tensor(found[None], dtype=torch.float32)  # "predicted" on the input grid
    pred = InvertLandmarksd(Keys.PRED_LANDMARKS, ref_key=Keys.IMAGE)(out)[Keys.PRED_LANDMARKS]
    assert (pred - expected).norm(dim=-1).max() < TOL
    assert len(out[Keys.IMAGE].applied_operations) == 1  # the image is not changed


def test_invert_landmarks_after_collate_and_decollate():
    chain = Compose(
        [
            LandmarkResized(Keys.IMAGE, (32, 36)),
            RandLandmarkFlipd(Keys.IMAGE, prob=0.5, flip_indices=[1, 0, 2]),
            RandLandmarkAffined(Keys.IMAGE, prob=1.0, rotate_range=0.3),
        ]
    ).set_random_state(0)
    batch = list_data_collate([chain(sample()) for _ in range(4)])
    assert batch[Keys.IMAGE].shape == (4, 1, 32, 36)
    batch[Keys.PRED_LANDMARKS] = batch[Keys.LANDMARKS].clone()
    flips = 0
    for item in decollate_batch(batch):
        flips += item[Keys.IMAGE].applied_operations[1][TraceKeys.DO_TRANSFORM]
        pred = InvertLandmarksd()(item)[Keys.PRED_LANDMARKS]
        np.testing.assert_allclose(pred[0].numpy(), POINTS, atol=1e-3)
    assert 0 < flips < 4


def test_invert_landmarks_rejects_foreign_spatial_transforms():
    data = LandmarkResized(Keys.IMAGE, (30, 30))(sample())
    data = Resized(Keys.IMAGE, (20, 20))(data)
    data[Keys.PRED_LANDMARKS] = data[Keys.LANDMARKS]
    with pytest.raises(ValueError, match="Resize"):
        InvertLandmarksd()(data)
    with pytest.raises(KeyError, match="reference"):
        InvertLandmarksd(ref_key="other")(data)


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: LandmarkResized(Keys.IMAGE, (32,)), ValueError, "spatial_size"),
        (lambda: LandmarkResized(Keys.IMAGE, (32, 0)), ValueError, "spatial_size"),
        (lambda: LandmarkResized(Keys.IMAGE, (32, 32), mode="cubic"), ValueError, "bilinear"),
        (lambda: LandmarkResizeWithPadd(Keys.IMAGE, (32, -1)), ValueError, "positive"),
        (lambda: LandmarkResizeWithPadd(Keys.IMAGE, (32, 32), method="centre"), ValueError, "symmetric"),
        (lambda: LandmarkResizeWithPadd(Keys.IMAGE, (32, 32), padding_mode="zeros"), ValueError, "constant"),
        (lambda: RandLandmarkAffined(Keys.IMAGE, padding_mode="constant"), ValueError, "reflection"),
        (lambda: RandLandmarkAffined(Keys.IMAGE, mode="linear"), ValueError, "bilinear"),
        (lambda: RandLandmarkFlipd(Keys.IMAGE, spatial_axis=2), ValueError, "spatial_axis"),
        (lambda: RandLandmarkFlipd(Keys.IMAGE, flip_indices=[0, 0, 1]), ValueError, "permutation"),
        (lambda: RandLandmarkFlipd(Keys.IMAGE, flip_indices=[1, 2, 0]), ValueError, "own inverse"),
    ],
)
def test_illegal_arguments_raise(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize(
    "transform, data, error, message",
    [
        (LandmarkResized(Keys.IMAGE, (8, 8)), {Keys.IMAGE: torch.zeros(1, 8, 8, 8)}, ValueError, "2D"),
        (LandmarkResized(Keys.IMAGE, (8, 8)), {Keys.IMAGE: torch.zeros(1, 8, 8)}, KeyError, "landmark"),
        (LandmarkResized(Keys.IMAGE, (8, 8), allow_missing_keys=True), {Keys.LANDMARKS: POINTS}, ValueError, "image"),
        (RandLandmarkFlipd(Keys.IMAGE, 1.0, flip_indices=[1, 0]), sample(), ValueError, "K = 3"),
        (LandmarkResized(Keys.IMAGE, (8, 8)), {**sample(), Keys.LANDMARKS: np.zeros((3, 3))}, ValueError, "shape"),
    ],
)
def test_bad_input_raises(transform, data, error, message):
    with pytest.raises(error, match=message):
        transform(data)


def test_needs_metadata_tracking():
    set_track_meta(False)
    try:
        with pytest.raises(ValueError, match="set_track_meta"):
            LandmarkResized(Keys.IMAGE, (8, 8))(sample())
    finally:
        set_track_meta(True)


def _expected_affine_map(points, angle, scale, shift, size):
    """Independent formula: MONAI samples input ``c + R(S(j - c) + t)`` at output pixel ``j``; invert it."""
    c = (np.asarray(size, dtype=np.float64) - 1) / 2
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return c + ((points - c) @ rot - shift) / scale  # (p - c) @ rot == R^T (p - c) per row


@settings(max_examples=30, deadline=None)
@given(
    angle=st.floats(-math.pi / 6, math.pi / 6),
    scale=st.tuples(st.floats(0.8, 1.2), st.floats(0.8, 1.2)),
    shift=st.tuples(st.floats(-5, 5), st.floats(-5, 5)),
    points=st.lists(st.tuples(st.floats(-20, 70), st.floats(-20, 60)), min_size=1, max_size=5),
)
def test_affine_matches_formula_and_round_trips(angle, scale, shift, points):
    transform = RandLandmarkAffined(
        Keys.IMAGE,
        prob=1.0,
        rotate_range=((angle, angle),),
        scale_range=tuple((s - 1, s - 1) for s in scale),
        translate_range=tuple((t, t) for t in shift),
    )
    size = (16, 12)
    pts = np.asarray(points, dtype=np.float64)
    data = {Keys.IMAGE: MetaTensor(torch.zeros(1, *size)), Keys.LANDMARKS: pts}
    out = transform(data)
    expected = _expected_affine_map(pts, angle, np.asarray(scale), np.asarray(shift), size)
    np.testing.assert_allclose(out[Keys.LANDMARKS][0].numpy(), expected, atol=2e-3)
    np.testing.assert_allclose(transform.inverse(out)[Keys.LANDMARKS][0].numpy(), pts, atol=2e-3)


@settings(max_examples=30, deadline=None)
@given(size=st.tuples(st.integers(5, 64), st.integers(5, 64)), target=st.tuples(st.integers(5, 64), st.integers(5, 64)))
def test_resize_with_pad_round_trips(size, target):
    pts = np.array([[0.0, 0.0], [size[0] - 1.0, size[1] - 1.0], [size[0] / 3, size[1] / 2]])
    transform = LandmarkResizeWithPadd(Keys.IMAGE, target)
    out = transform({Keys.IMAGE: MetaTensor(torch.zeros(1, *size)), Keys.LANDMARKS: pts})
    fitted = np.asarray(transform.fitted_size(size))
    assert (fitted <= np.asarray(target)).all() and (fitted == np.asarray(target)).any()
    assert inside_image(out[Keys.LANDMARKS], target).all()
    np.testing.assert_allclose(transform.inverse(out)[Keys.LANDMARKS][0].numpy(), pts, atol=1e-3)


def test_truncated_normal_affine_draws_as_mmpose():
    """HTC's released augmentation: angle clip(N(0, 1), -2, 2) * r with probability 0.6, one isotropic scale
    1 + clip(N(0, 1), -1, 1) * s."""
    from monai_landmarks.transforms import RandLandmarkAffined

    t = RandLandmarkAffined("image", prob=1.0, rotate_range=0.7, scale_range=0.5, sampling="truncated_normal",
                            rotate_prob=0.6)  # fmt: skip
    t.set_random_state(0)
    angles, scales = [], []
    for _ in range(4000):
        t.randomize()
        angles.append(t.rand_affine_grid.rotate_params[0])
        sx, sy = t.rand_affine_grid.scale_params
        assert sx == sy
        scales.append(sx)
    angles, scales = np.array(angles), np.array(scales)
    rotated = angles[angles != 0]
    assert abs(rotated).max() <= 1.4 + 1e-9 and scales.min() >= 0.5 - 1e-9 and scales.max() <= 1.5 + 1e-9
    assert len(rotated) / len(angles) == pytest.approx(0.6, abs=0.03)
    assert rotated.std() == pytest.approx(0.7 * 0.96, rel=0.05)  # sd of N(0, 1) clipped to [-2, 2]: 0.959
    with pytest.raises(ValueError, match="sampling"):
        RandLandmarkAffined("image", sampling="gaussian")
    with pytest.raises(ValueError, match="rotate_prob"):
        RandLandmarkAffined("image", rotate_prob=1.5)
