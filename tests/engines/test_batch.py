import pytest
import torch

from monai_landmarks.engines import FlipTestInferer, LandmarkTargetLoss, PrepareLandmarkBatch
from monai_landmarks.losses import HeatmapLoss, MultiResolutionHeatmapLoss


def _batch(domains=(0, 0)):
    b = len(domains)
    return {
        "image": torch.rand(b, 1, 16, 8),
        "heatmaps": [torch.rand(b, 3, 4, 2), torch.rand(b, 3, 8, 4)],
        "landmark_weights": torch.ones(b, 3),
        "domain": torch.tensor(domains),
    }


def test_prepare_batch_packs_levels_weights_and_domain():
    image, targets, args, kwargs = PrepareLandmarkBatch(domain_key="domain")(_batch((1, 1)), "cpu")
    heatmaps, weights = targets
    assert image.shape == (2, 1, 16, 8) and len(heatmaps) == 2 and weights.shape == (2, 3)
    assert args == (1,) and kwargs == {}


def test_prepare_batch_without_targets_or_domain():
    batch = {"image": torch.rand(1, 1, 8, 8)}
    image, targets, args, _ = PrepareLandmarkBatch()(batch)
    assert targets is None and args == ()


def test_prepare_batch_refuses_mixed_domains():
    with pytest.raises(ValueError, match=r"mixes domains \[0, 2\]"):
        PrepareLandmarkBatch(domain_key="domain")(_batch((0, 2)))


def test_target_loss_equals_multires_loss_and_accepts_single_tensor():
    batch = _batch()
    _, targets, _, _ = PrepareLandmarkBatch()(batch)
    preds = (torch.rand(2, 3, 4, 2), torch.rand(2, 3, 8, 4))
    multires = MultiResolutionHeatmapLoss(HeatmapLoss("mse"), (1000.0, 3000.0))
    got = LandmarkTargetLoss(multires)(preds, targets)
    assert torch.allclose(got, multires(preds, targets[0], targets[1]))
    single = LandmarkTargetLoss(MultiResolutionHeatmapLoss(HeatmapLoss("mse"), (1.0,)))
    value = single(preds[1], (targets[0][1], targets[1]))
    assert torch.allclose(value, HeatmapLoss("mse")(preds[1], targets[0][1], targets[1]))
    with pytest.raises(ValueError, match="no heatmap targets"):
        single(preds[1], None)


class _Shift(torch.nn.Module):
    """A 'network' whose heatmap is its input, so a flip test can be checked by hand."""

    def forward(self, x):
        return torch.cat([x, 2 * x], dim=1)


def test_flip_test_is_exact_on_a_symmetric_response_and_permutes_pairs():
    x = torch.rand(2, 1, 6, 4)
    plain = FlipTestInferer()(x, _Shift())
    # The identity 'network' is equivariant to flips: averaging changes nothing.
    assert torch.allclose(plain, _Shift()(x))
    swapped = FlipTestInferer(flip_indices=[1, 0])(x, _Shift())
    expected = (_Shift()(x) + _Shift()(x)[:, [1, 0]]) / 2
    assert torch.allclose(swapped, expected)


def test_flip_test_keeps_tuple_outputs():
    class Two(torch.nn.Module):
        def forward(self, x):
            return x[:, :, ::2, ::2], x

    out = FlipTestInferer()(torch.rand(1, 1, 8, 8), Two())
    assert isinstance(out, tuple) and out[0].shape == (1, 1, 4, 4)
    with pytest.raises(ValueError, match="flip_indices has 2 entries"):
        FlipTestInferer(flip_indices=[1, 0])(torch.rand(1, 1, 8, 8), Two())
    with pytest.raises(ValueError, match="spatial_axis"):
        FlipTestInferer(spatial_axis=2)
