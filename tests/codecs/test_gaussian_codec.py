import math

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_landmarks.codecs import GaussianHeatmapCodec, heatmap_size, render_gaussians
from monai_landmarks.utils import coords


def test_peak_index_follows_the_coordinate_contract():
    codec = GaussianHeatmapCodec((12, 8), stride=1, sigma=1.5)
    heatmaps, weights = codec.encode(torch.tensor([[[5.0, 2.0], [0.0, 7.0]]]))
    assert heatmaps.shape == (2, 12, 8)
    assert heatmaps[0, 5, 2] == 1.0 and heatmaps[0].argmax() == 5 * 8 + 2
    assert heatmaps[1, 0, 7] == 1.0
    assert weights.tolist() == [1.0, 1.0]


def test_stride_uses_pixel_centres():
    # Image pixels 4..7 form heatmap pixel 1 at stride 4; its centre is image 5.5 (not 4.0 = 1 * 4).
    codec = GaussianHeatmapCodec((16, 16), stride=4, sigma=1.0, peak=2.0)
    heatmaps, _ = codec.encode(torch.tensor([[[5.5, 1.5], [4.0, 4.0]]]))
    assert heatmaps[0, 1, 0] == 2.0
    # (4.0, 4.0) is heatmap (0.625, 0.625): the nearest pixel is (1, 1) but not at full height.
    assert heatmaps[1].argmax() == 1 * 4 + 1 and heatmaps[1].max() < 2.0
    expected = coords.to_stride(torch.tensor([4.0, 4.0]), 4)
    value = 2.0 * math.exp(-((1 - expected[0].item()) ** 2 + (1 - expected[1].item()) ** 2) / 2.0)
    assert heatmaps[1, 1, 1].item() == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize(
    "size, stride, expected", [((64, 48), 1, (64, 48)), ((64, 48), 4, (16, 12)), ((33, 17), 4, (9, 5))]
)
def test_heatmap_size_rounds_up(size, stride, expected):
    assert heatmap_size(size, stride) == expected
    assert GaussianHeatmapCodec(size, stride=stride).encode(torch.zeros(1, 1, 2))[0].shape == (1, *expected)


def test_values_are_the_windowed_subpixel_gaussian():
    sigma, truncate, p = 2.0, 3.0, (10.3, 7.8)
    heatmaps, _ = GaussianHeatmapCodec((24, 20), sigma=sigma, truncate=truncate).encode(torch.tensor([[p]]))
    x, y = torch.meshgrid(torch.arange(24.0), torch.arange(20.0), indexing="ij")
    gauss = torch.exp(-((x - p[0]) ** 2 + (y - p[1]) ** 2) / (2 * sigma**2))
    r = math.ceil(truncate * sigma)
    window = ((x - 10).abs() <= r) & ((y - 8).abs() <= r)
    torch.testing.assert_close(heatmaps[0], torch.where(window, gauss, 0.0), atol=1e-6, rtol=0)
    assert heatmaps[0, :, 15:].abs().sum() == 0 and heatmaps[0, 17:].abs().sum() == 0


def test_missing_landmark_gives_empty_channel_and_zero_weight():
    heatmaps, weights = GaussianHeatmapCodec((16, 16)).encode(torch.tensor([[[3.0, 4.0], [np.nan, np.nan]]]))
    assert heatmaps[1].abs().sum() == 0 and heatmaps[0].max() == 1.0
    assert weights.tolist() == [1.0, 0.0]


def test_off_image_landmarks():
    points = torch.tensor([[[-2.0, 5.0], [16.4, 3.0], [200.0, 3.0], [-1e30, 1e30], [15.4, 0.0]]])
    heatmaps, weights = GaussianHeatmapCodec((16, 16), sigma=2.0).encode(points)
    # The partial Gaussian of a near landmark is drawn; far ones leave an empty channel; all get weight 0.
    assert heatmaps[0, 0, 5] == pytest.approx(math.exp(-4 / 8), rel=1e-5)
    assert heatmaps[1, 15, 3] == pytest.approx(math.exp(-(1.4**2) / 8), rel=1e-5)
    assert heatmaps[2:4].abs().sum() == 0
    assert weights.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    _, partial = GaussianHeatmapCodec((16, 16), sigma=2.0, weight_partial=True).encode(points)
    assert partial.tolist() == [1.0, 1.0, 0.0, 0.0, 1.0]


def test_batch_matches_single_samples():
    codec = GaussianHeatmapCodec((20, 14), stride=2, sigma=1.5)
    batch = torch.rand(3, 4, 2) * torch.tensor([19.0, 13.0])
    batch[1, 2] = float("nan")
    heatmaps, weights = codec.encode_batch(batch)
    assert heatmaps.shape == (3, 4, 10, 7) and weights.shape == (3, 4)
    for b in range(3):
        single, w = codec.encode(batch[b : b + 1])
        torch.testing.assert_close(heatmaps[b], single)
        torch.testing.assert_close(weights[b], w)
    points, confidence = codec.decode(heatmaps)
    one, one_conf = codec.decode(heatmaps[1])
    assert points.shape == (3, 4, 2) and one.shape == (1, 4, 2) and one_conf.shape == (1, 4)
    torch.testing.assert_close(points[1:2], one)
    torch.testing.assert_close(confidence[1:2], one_conf)


def test_inputs_and_dtypes():
    points = np.array([[3.2, 4.7], [8.0, 1.5]], dtype=np.float64)
    codec = GaussianHeatmapCodec((12, 10), dtype=torch.float64)
    heatmaps, weights = codec.encode(points)
    assert heatmaps.dtype == torch.float64 and weights.dtype == torch.float32
    meta, _ = codec.encode(MetaTensor(torch.as_tensor(points)[None]))
    assert type(meta) is torch.Tensor
    torch.testing.assert_close(meta, heatmaps)
    half, _ = GaussianHeatmapCodec((12, 10), dtype=torch.float16).encode(points)
    assert half.dtype == torch.float16
    # The size may come at call time, as in MONAI's GenerateHeatmap.
    late, _ = GaussianHeatmapCodec().encode(points, spatial_size=(12, 10))
    torch.testing.assert_close(late, heatmaps.float())


def test_render_windows_at_the_edge_of_the_heatmap():
    # r = 3: a point at -3.5 still reaches pixel 0, one at -3.6 does not; NaN rows stay empty.
    points = torch.tensor([[-3.5, 2.0], [-3.6, 2.0], [10.4, 2.0], [np.nan, 0.0], [2.0, 1e9]])
    out = render_gaussians(points, (8, 8), sigma=1.0, peak=2.0)
    assert out.shape == (5, 8, 8)
    assert out[0, 0, 2] == pytest.approx(2.0 * math.exp(-(3.5**2) / 2), rel=1e-5) and out[0, 1:].sum() == 0
    assert out[1:2].sum() == 0 and out[3:].sum() == 0
    assert out[2, 7, 2] == pytest.approx(2.0 * math.exp(-(3.4**2) / 2), rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stride": 0}, "stride"),
        ({"stride": 1.5}, "stride"),
        ({"sigma": 0.0}, "sigma"),
        ({"truncate": -1.0}, "truncate"),
        ({"dtype": torch.int32}, "floating"),
        ({"decoder": "centroid"}, "argmax_shift"),
        ({"decoder": "dark", "decoder_args": {"radius": 2}}, "does not take"),
        ({"spatial_size": (4, 4, 4)}, "spatial_size"),
        ({"spatial_size": (0, 4)}, "spatial_size"),
    ],
)
def test_illegal_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GaussianHeatmapCodec(**kwargs)


def test_illegal_inputs():
    codec = GaussianHeatmapCodec((8, 8))
    with pytest.raises(ValueError, match="spatial_size is needed"):
        GaussianHeatmapCodec().encode(torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="shape"):
        codec.encode(torch.zeros(2, 3, 2))
    with pytest.raises(ValueError, match=r"\(B, K, 2\)"):
        codec.encode_batch(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="heatmaps"):
        codec.decode(torch.zeros(8, 8))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    codec = GaussianHeatmapCodec((40, 32), stride=2, sigma=2.0)
    points = torch.rand(2, 5, 2) * torch.tensor([39.0, 31.0])
    heatmaps, weights = codec.encode_batch(points)
    gpu, gpu_weights = codec.encode_batch(points.cuda())
    assert gpu.device.type == "cuda" and gpu_weights.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), heatmaps)
    for name in ("argmax", "argmax_shift", "dark", "soft_argmax"):
        dec = GaussianHeatmapCodec(stride=2, sigma=2.0, decoder=name)
        cpu_points, cpu_conf = dec.decode(heatmaps)
        gpu_points, gpu_conf = dec.decode(gpu)
        torch.testing.assert_close(gpu_points.cpu(), cpu_points, atol=1e-4, rtol=0)
        torch.testing.assert_close(gpu_conf.cpu(), cpu_conf)


def test_round_targets_centres_each_gaussian_on_a_whole_heatmap_pixel():
    point = torch.tensor([[[10.3, 7.8]]])  # stride 2: heatmap (u + 0.5) / 2 - 0.5 = (4.9, 3.65)
    exact, _ = GaussianHeatmapCodec((32, 24), stride=2, sigma=2.0).encode(point)
    rounded, _ = GaussianHeatmapCodec((32, 24), stride=2, sigma=2.0, round_targets=True).encode(point)
    assert rounded[0, 5, 4] == 1.0 and exact.max() < 1.0  # the peak lands exactly on pixel (5, 4)
    assert rounded[0, 6, 4] == rounded[0, 4, 4] and rounded[0, 5, 5] == rounded[0, 5, 3]  # symmetric about it
    assert exact[0, 4, 4] > exact[0, 6, 4]  # the exact centre, 4.9, is nearer 4 than 6
