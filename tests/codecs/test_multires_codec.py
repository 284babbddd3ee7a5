import pytest
import torch

from monai_landmarks.codecs import GaussianHeatmapCodec, LevelFusion, MultiResolutionHeatmapCodec, fuse_levels

HTC = ((4, 2.0), (2, 2.0))


def test_levels_are_single_level_codecs_coarsest_first():
    codec = MultiResolutionHeatmapCodec((64, 48), HTC)
    points = torch.tensor([[[20.3, 11.7], [40.0, 30.2], [float("nan"), float("nan")]]])
    heatmaps, weights = codec.encode(points)
    assert [h.shape for h in heatmaps] == [(3, 16, 12), (3, 32, 24)] == [(3, *s) for s in codec.heatmap_sizes()]
    assert weights.tolist() == [1.0, 1.0, 0.0]
    for (stride, sigma), h in zip(HTC, heatmaps, strict=True):
        torch.testing.assert_close(h, GaussianHeatmapCodec((64, 48), stride=stride, sigma=sigma).encode(points)[0])
    batch, batch_weights = codec.encode_batch(points.expand(2, -1, -1))
    assert [h.shape for h in batch] == [(2, 3, 16, 12), (2, 3, 32, 24)] and batch_weights.shape == (2, 3)


def test_decode_fuses_levels():
    codec = MultiResolutionHeatmapCodec((128, 96), HTC, decoder="argmax")
    points = torch.tensor([[[50.3, 41.7], [70.9, 30.2]]])
    heatmaps, _ = codec.encode(points)
    (coarse, c_conf), (fine, f_conf) = codec.decode_levels(heatmaps)
    mean, mean_conf = codec.decode(heatmaps)
    torch.testing.assert_close(mean, (coarse + fine) / 2)
    torch.testing.assert_close(mean_conf, (c_conf + f_conf) / 2)
    assert torch.equal(codec.decode(heatmaps, fuse="finest")[0], fine)
    assert torch.equal(codec.decode(heatmaps, fuse=LevelFusion.COARSEST)[0], coarse)
    # Integer decoding differs between levels, so the fusion is not trivially equal to one of them.
    assert not torch.equal(coarse, fine)


def test_subpixel_round_trip_through_both_levels():
    codec = MultiResolutionHeatmapCodec((160, 128), HTC)
    points = torch.rand(1, 30, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([96.0, 64.0]) + 32
    heatmaps, _ = codec.encode(points)
    decoded, confidence = codec.decode([h[None] for h in heatmaps])
    assert decoded.shape == (1, 30, 2) and confidence.shape == (1, 30)
    assert (decoded - points).abs().max() < 0.05


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"levels": ()}, "non-empty"),
        ({"levels": ((4, 2.0, 1),)}, "pairs"),
        ({"levels": ((2, 2.0), (4, 2.0))}, "coarsest first"),
        ({"levels": ((2, 2.0), (2, 3.0))}, "coarsest first"),
        ({"fuse": "median"}, "finest"),
        ({"decoder": "nope"}, "soft_argmax"),
    ],
)
def test_illegal_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiResolutionHeatmapCodec((32, 32), **kwargs)


def test_decode_needs_one_tensor_per_level():
    codec = MultiResolutionHeatmapCodec((32, 32), HTC)
    with pytest.raises(ValueError, match="2 levels"):
        codec.decode(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="2 levels"):
        codec.decode([torch.zeros(3, 8, 8)])
    with pytest.raises(ValueError, match="at least one"):
        fuse_levels([])
