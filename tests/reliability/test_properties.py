"""Property-based tests (hypothesis) of the contracts everything else relies on.

The coordinate contract (scaling, strides, pixels <-> millimetres), a chain of spatial transforms undone by
``InvertLandmarksd`` (the path predictions take back to the original image), the multiresolution codec's
sub-pixel round trip, and the dataset writer/reader round trip. Examples are few and derandomized so the
default run stays fast and repeatable.
"""

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from monai.data import MetaTensor
from monai.transforms import Compose

from monai_landmarks.codecs import MultiResolutionHeatmapCodec
from monai_landmarks.data import load_datalist, write_dataset
from monai_landmarks.transforms import InvertLandmarksd, LandmarkResized, RandLandmarkAffined, RandLandmarkFlipd
from monai_landmarks.utils.coords import distance, from_stride, inside_image, rescale, to_stride
from monai_landmarks.utils.keys import Keys

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)

sizes = st.tuples(st.integers(8, 64), st.integers(8, 64))
factors = st.floats(0.1, 8.0)
spacings = st.floats(0.01, 2.0)


@st.composite
def points_in(draw, size, k_max=5, missing=False):
    """``(1, K, 2)`` float64 points on an image of ``size`` (pixel centres span ``[-0.5, n - 0.5)``)."""
    k = draw(st.integers(1, k_max))
    unit = np.array(draw(st.lists(st.tuples(st.floats(0, 0.999), st.floats(0, 0.999)), min_size=k, max_size=k)))
    points = unit * np.asarray(size, float) - 0.5
    if missing:
        gone = draw(st.lists(st.booleans(), min_size=k, max_size=k))
        points[np.asarray(gone)] = np.nan
    return torch.as_tensor(points[None])


@st.composite
def image_and_points(draw, missing=False):
    size = draw(sizes)
    return size, draw(points_in(size, missing=missing))


# ---------------------------------------------------------------------------------------- coordinate contract


@FAST
@given(image_and_points(missing=True), factors, factors)
def test_rescale_round_trips_and_keeps_points_on_the_image(case, fx, fy):
    size, points = case
    scaled = rescale(points, (fx, fy))
    torch.testing.assert_close(rescale(scaled, (1 / fx, 1 / fy)), points, equal_nan=True)
    new_size = (size[0] * fx, size[1] * fy)  # the image edge -0.5 maps to -0.5, n - 0.5 to n * f - 0.5
    assert inside_image(scaled, new_size).all()
    assert torch.equal(torch.isnan(scaled), torch.isnan(points))


@FAST
@given(image_and_points(), st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4]))
def test_stride_round_trip_and_composition(case, a, b):
    _, points = case
    torch.testing.assert_close(from_stride(to_stride(points, a), a), points)
    torch.testing.assert_close(to_stride(to_stride(points, a), b), to_stride(points, a * b))


@FAST
@given(image_and_points(), image_and_points(), spacings, spacings)
def test_pixels_to_millimetres(case_a, case_b, sx, sy):
    a, b = case_a[1][:, :1], case_b[1][:, :1]
    mm = distance(a, b, spacing=(sx, sy))
    scaled = a * torch.tensor([sx, sy], dtype=a.dtype), b * torch.tensor([sx, sy], dtype=b.dtype)
    torch.testing.assert_close(mm, distance(*scaled))  # spacing scales each axis before the norm
    torch.testing.assert_close(distance(a, b, spacing=sx), sx * distance(a, b))


# --------------------------------------------------------------------------------------- transforms, inverted


@FAST
@given(image_and_points(), sizes, st.floats(-0.5, 0.5), st.floats(0.8, 1.25), st.booleans(), st.integers(0, 2**31))
def test_transform_chain_is_undone_for_predictions(case, target, angle, scale, flip, seed):
    size, points = case
    chain = Compose(
        [
            LandmarkResized(Keys.IMAGE, target),
            RandLandmarkAffined(
                Keys.IMAGE, prob=1.0, rotate_range=((angle, angle),), scale_range=((scale - 1, scale - 1),) * 2
            ),  # fmt: skip
            RandLandmarkFlipd(Keys.IMAGE, prob=float(flip), spatial_axis=0),
        ]
    ).set_random_state(seed)
    out = chain({Keys.IMAGE: MetaTensor(torch.zeros(1, *size)), Keys.LANDMARKS: points.numpy()})
    out[Keys.PRED_LANDMARKS] = out[Keys.LANDMARKS].clone()  # a perfect prediction on the network's input
    back = InvertLandmarksd(Keys.PRED_LANDMARKS, ref_key=Keys.IMAGE)(out)[Keys.PRED_LANDMARKS]
    np.testing.assert_allclose(torch.as_tensor(back).reshape(-1, 2).numpy(), points[0].numpy(), atol=2e-3)


# -------------------------------------------------------------------------------------------------- codecs


@st.composite
def codec_cases(draw):
    levels = draw(st.sampled_from([((4, 2.0), (2, 2.0)), ((2, 1.5), (1, 2.0)), ((1, 3.0),)]))
    stride, sigma = levels[0]
    margin = (math.ceil(3 * sigma) + 1.5) * stride  # clear of the border, where refinement is limited
    size = (draw(st.integers(int(2 * margin) + 8, 96)), draw(st.integers(int(2 * margin) + 8, 96)))
    k = draw(st.integers(1, 4))
    unit = torch.tensor(draw(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=k, max_size=k)))
    span = torch.tensor(size, dtype=torch.float64) - 1 - 2 * margin
    return size, levels, (unit * span + margin).to(torch.float32)[None]


@FAST
@given(codec_cases())
def test_multiresolution_codec_round_trip_is_subpixel(case):
    size, levels, points = case
    codec = MultiResolutionHeatmapCodec(size, levels=levels)
    heatmaps, weights = codec.encode(points)
    assert (weights == 1).all()
    decoded, confidence = codec.decode(heatmaps)
    assert (decoded - points).abs().max() < 0.05  # DARK on every level, fused: sub-pixel
    assert torch.isfinite(confidence).all()


# --------------------------------------------------------------------------------------- dataset round trip

image_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,11}", fullmatch=True)


@st.composite
def datasets(draw):
    ids = draw(st.lists(image_ids, min_size=1, max_size=4, unique_by=str.lower))  # file names: any file system
    k = draw(st.integers(1, 4))
    samples = []
    for image_id in ids:
        size = draw(st.tuples(st.integers(1, 20), st.integers(1, 20)))
        points = draw(points_in(size, k_max=k, missing=True))
        points = torch.cat([points, torch.full((1, k - points.shape[1], 2), math.nan, dtype=points.dtype)], 1)
        split = draw(st.sampled_from(["train", "val", "test"]))
        samples.append({"image_id": image_id, "split": split, "image": np.zeros(size, np.uint8), "landmarks": points})
    return samples


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(datasets(), st.one_of(st.none(), spacings))
def test_write_then_load_returns_what_was_written(tmp_path_factory, samples, spacing):
    root = write_dataset(tmp_path_factory.mktemp("ds") / "ds", "prop", samples, pixel_spacing_mm=spacing)
    items = {item[Keys.IMAGE_ID]: item for item in load_datalist(root)}
    assert sorted(items) == sorted(s["image_id"] for s in samples)
    for sample in samples:
        item = items[sample["image_id"]]
        assert item[Keys.SPLIT] == sample["split"]
        # stored with 4 decimals
        np.testing.assert_allclose(np.asarray(item[Keys.LANDMARKS]), sample["landmarks"].numpy(), atol=5e-5)
        expected = [math.nan] * 2 if spacing is None else [spacing] * 2
        np.testing.assert_allclose(item[Keys.SPACING], expected, rtol=1e-6)
