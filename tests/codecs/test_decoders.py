import math

import pytest
import torch

from monai_landmarks.codecs import (
    GaussianHeatmapCodec,
    HeatmapDecoder,
    decode_argmax,
    decode_argmax_shift,
    decode_dark,
    decode_soft_argmax,
    decoder_function,
)
from monai_landmarks.utils import coords

ALL = [d.value for d in HeatmapDecoder]


def interior_points(codec: GaussianHeatmapCodec, size, count: int, margin: float, seed: int = 0) -> torch.Tensor:
    """Random image points at least ``margin`` heatmap pixels away from the heatmap's border."""
    g = torch.Generator().manual_seed(seed)
    w, h = codec.heatmap_size(size)
    lo = torch.tensor([margin, margin])
    span = torch.tensor([w - 1 - 2 * margin, h - 1 - 2 * margin])
    assert (span > 0).all(), "test case too small for its margin"
    return coords.from_stride((lo + torch.rand(1, count, 2, generator=g) * span), codec.stride)


# Heatmaps of 24 x 31 (odd, non-square) and 32 x 32; image sizes that strides 2 and 4 do not divide.
CASES = [
    (size_hm, stride, sigma) for size_hm in ((24, 31), (32, 32)) for stride in (1, 2, 4) for sigma in (1.5, 2.0, 3.0)
]


def image_size(size_hm, stride):
    return (size_hm[0] * stride - stride // 2, size_hm[1] * stride)


@pytest.mark.parametrize("size_hm, stride, sigma", CASES)
def test_subpixel_round_trip(size_hm, stride, sigma):
    size = image_size(size_hm, stride)
    base = GaussianHeatmapCodec(size, stride=stride, sigma=sigma)
    assert base.heatmap_size() == size_hm
    # DARK's blur reads ceil(3 sigma) + 1 pixels around the peak: stay clear of the zero padding.
    points = interior_points(base, size, 40, margin=math.ceil(3 * sigma) + 1.5)
    heatmaps, _ = base.encode(points)
    for name, tol in (("dark", 0.05), ("soft_argmax", 0.05), ("argmax", 0.5 * stride), ("argmax_shift", 0.25 * stride)):
        decoded, confidence = GaussianHeatmapCodec(stride=stride, sigma=sigma, decoder=name).decode(heatmaps)
        error = (decoded - points).abs().max().item()
        assert error <= tol + 1e-4, f"{name}: {error:.4f} px"
        torch.testing.assert_close(confidence[0], heatmaps.flatten(1).amax(1))


def test_dark_without_blur_is_exact():
    codec = GaussianHeatmapCodec((40, 36), sigma=2.0, decoder="dark", decoder_args={"blur": False})
    points = interior_points(codec, (40, 36), 30, margin=2)
    decoded, _ = codec.decode(codec.encode(points)[0])
    assert (decoded - points).abs().max() < 1e-3


def test_argmax_shift_beats_argmax_on_average():
    codec = GaussianHeatmapCodec((64, 64), stride=4, sigma=2.0)
    points = interior_points(codec, (64, 64), 200, margin=1)
    heatmaps, _ = codec.encode(points)
    plain = coords.distance(decode_argmax(heatmaps, stride=4)[0], points[0]).mean()
    shifted = coords.distance(decode_argmax_shift(heatmaps, stride=4)[0], points[0]).mean()
    assert shifted < 0.8 * plain


def test_argmax_within_half_a_heatmap_pixel_everywhere():
    # Including landmarks on the border, where the refining decoders are biased (see below).
    codec = GaussianHeatmapCodec((20, 12), stride=2, sigma=1.5)
    points = torch.rand(1, 100, 2, generator=torch.Generator().manual_seed(1)) * torch.tensor([20.0, 12.0]) - 0.5
    decoded, _ = decode_argmax(codec.encode(points)[0], stride=2)
    assert (decoded - points).abs().max() <= 1.0 + 1e-5


@pytest.mark.parametrize("sigma", [1.5, 3.0])
def test_border_is_never_worse_than_argmax(sigma):
    # Landmarks from the outer edge of the first pixel to 8 pixels in, on both ends of x.
    codec = GaussianHeatmapCodec((32, 32), sigma=sigma)
    xs = torch.arange(-0.5, 8.0, 0.25)
    points = torch.stack((torch.cat((xs, 31 - xs)), torch.full((2 * len(xs),), 16.3)), dim=-1)[None]
    heatmaps, _ = codec.encode(points)
    for name in ("dark", "soft_argmax"):
        decoded, _ = GaussianHeatmapCodec(sigma=sigma, decoder=name).decode(heatmaps)
        assert (decoded - points).abs().max() <= 0.5 + 1e-4, name
    # DARK refines unblurred near the edge, so it stays exact off the outermost pixel.
    decoded, _ = codec.decode(heatmaps)
    off_edge = (points[0, :, 0] > 0.5) & (points[0, :, 0] < 30.5)
    assert (decoded[0, off_edge] - points[0, off_edge]).abs().max() < 1e-3


@pytest.mark.parametrize("name", [n for n in ALL if n != "softmax"])  # softmax reads logits: flat is uniform
def test_empty_channel_decodes_to_a_position_with_zero_confidence(name):
    stride = 2
    points, confidence = decoder_function(name)(torch.zeros(2, 3, 8, 6), stride=stride)
    assert points.shape == (2, 3, 2) and confidence.shape == (2, 3)
    assert torch.isfinite(points).all() and (confidence == 0).all()
    # The "peak" of a flat channel is heatmap pixel (0, 0).
    torch.testing.assert_close(points, coords.from_stride(torch.zeros(2, 3, 2), stride))


@pytest.mark.parametrize("name", ALL)
def test_leading_axes_are_preserved(name):
    heatmaps, _ = GaussianHeatmapCodec((16, 12), sigma=1.5).encode_batch(torch.tensor([[[4.3, 5.6]], [[9.0, 2.2]]]))
    fn = decoder_function(name)
    batch, conf = fn(heatmaps)
    one, one_conf = fn(heatmaps[1, 0])
    assert batch.shape == (2, 1, 2) and conf.shape == (2, 1) and one.shape == (2,) and one_conf.shape == ()
    torch.testing.assert_close(batch[1, 0], one)


def test_dark_blur_helps_on_noisy_heatmaps():
    g = torch.Generator().manual_seed(3)
    codec = GaussianHeatmapCodec((48, 48), sigma=2.0)
    points = interior_points(codec, (48, 48), 300, margin=8)
    heatmaps, _ = codec.encode(points)
    noisy = heatmaps + 0.03 * torch.randn(heatmaps.shape, generator=g)
    errors = {}
    for name, fn in (("argmax", decode_argmax), ("dark", decode_dark), ("soft", decode_soft_argmax)):
        errors[name] = coords.distance(fn(noisy)[0], points[0]).mean().item()
    raw = coords.distance(decode_dark(noisy, blur=False)[0], points[0]).mean().item()
    assert errors["dark"] < raw and errors["dark"] < errors["argmax"] and errors["soft"] < errors["argmax"], errors


def test_soft_argmax_needs_the_power_for_clean_targets():
    # beta = 1 with a window of 2 sigma keeps the window's uneven tail cut: about 0.07 px off here.
    codec = GaussianHeatmapCodec((40, 40), sigma=2.0)
    points = interior_points(codec, (40, 40), 50, margin=8)
    heatmaps, _ = codec.encode(points)
    plain = (decode_soft_argmax(heatmaps, radius=4, beta=1.0)[0] - points[0]).abs().max()
    sharp = (decode_soft_argmax(heatmaps, radius=4, beta=2.0)[0] - points[0]).abs().max()
    assert plain > 0.03 and sharp < 0.015


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: decoder_function("centroid"), "argmax_shift"),
        (lambda: decode_soft_argmax(torch.zeros(1, 4, 4), radius=0), "radius"),
        (lambda: decode_soft_argmax(torch.zeros(1, 4, 4), beta=0.0), "beta"),
        (lambda: decode_argmax(torch.zeros(4)), "heatmaps"),
    ],
)
def test_illegal_decoder_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_softmax_decoder_finds_the_centre_of_log_gaussian_logits():
    from monai_landmarks.codecs.decoders import decode_softmax

    xs = torch.arange(40.0)[:, None]
    ys = torch.arange(30.0)[None]
    logits = torch.stack([-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 2.5**2) for x, y in [(12.3, 20.6), (30.8, 15.4)]])
    points, confidence = decode_softmax(logits[None], stride=2, radius=8)
    expected = (torch.tensor([[12.3, 20.6], [30.8, 15.4]]) + 0.5) * 2 - 0.5
    assert (points[0] - expected).abs().max() < 0.02
    assert ((confidence > 0.9) & (confidence <= 1.0)).all()  # nearly all the mass lies in the window
    flat, conf_flat = decode_softmax(torch.zeros(1, 1, 20, 20), radius=2)
    assert conf_flat.item() == pytest.approx(9 / 400)  # flat: the peak is pixel (0, 0), its window 3 x 3 on the map
