"""Heatmap losses against hand-computed values on 2x2 heatmaps."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from monai_landmarks.losses import HeatmapLoss, MultiResolutionHeatmapLoss

NAN = float("nan")

# one image, two landmarks, 2x2 heatmaps
PRED = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]])
TARGET = torch.tensor([[[[0.5, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.5]]]])
# squared errors: landmark 0 -> 0.25 + 1 = 1.25 over 4 pixels, landmark 1 -> 0.25 over 4 pixels
SQ_SUM = (1.25, 0.25)

# BCE: probabilities and their logits; per-pixel losses ln2, ln(4/3), 2 ln2, ln2
BCE_PROB = torch.tensor([[[[0.5, 0.25], [0.75, 0.5]]]])
BCE_LOGIT = torch.tensor([[[[0.0, math.log(1 / 3)], [math.log(3), 0.0]]]])
BCE_TARGET = torch.tensor([[[[1.0, 0.0], [0.0, 0.5]]]])
BCE_SUM = 4 * math.log(2) + math.log(4 / 3)


@pytest.mark.parametrize(
    "reduction, weights, expected",
    [
        ("mean", None, sum(SQ_SUM) / 8),
        ("sum", None, sum(SQ_SUM)),
        ("mean", [[1.0, 0.0]], SQ_SUM[0] / 4),  # the missing landmark is not counted by the mean
        ("sum", [[0.0, 1.0]], SQ_SUM[1]),
        ("mean", [[2.0, 1.0]], (2 * SQ_SUM[0] + SQ_SUM[1]) / 8),  # weights scale each landmark's loss
        ("mean", [[0.0, 0.0]], 0.0),  # nothing to learn from
    ],
)
def test_mse_values(reduction, weights, expected):
    w = None if weights is None else torch.tensor(weights)
    loss = HeatmapLoss("mse", reduction=reduction)(PRED, TARGET, w)
    assert loss.item() == pytest.approx(expected)


def test_mse_none_is_pixelwise():
    loss = HeatmapLoss("mse", reduction="none")(PRED, TARGET, torch.tensor([[1.0, 0.0]]))
    expected = torch.tensor([[[[0.25, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]])
    assert torch.equal(loss, expected)


def test_mse_matches_mmpose_joints_mse_loss():
    """MMPose 0.x JointsMSELoss(use_target_weight=True), as HTC uses it, when all landmarks are present."""
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g)
    w = torch.ones(2, 3)
    # its definition: nn.MSELoss() per joint on (B, H*W) with pred and target times the weight, summed, / K
    p, t = pred.reshape(2, 3, -1), target.reshape(2, 3, -1)
    mmpose = sum(F.mse_loss(p[:, k] * w[:, k : k + 1], t[:, k] * w[:, k : k + 1]) for k in range(3)) / 3
    assert HeatmapLoss("mse")(pred, target, w).item() == pytest.approx(mmpose.item())


@pytest.mark.parametrize(
    "pred, from_logits, reduction, expected",
    [
        (BCE_PROB, False, "sum", BCE_SUM),  # GU2Net: nn.BCELoss(reduction="sum") on probabilities
        (BCE_PROB, False, "mean", BCE_SUM / 4),
        (BCE_LOGIT, True, "sum", BCE_SUM),
        (BCE_LOGIT, True, "mean", BCE_SUM / 4),
    ],
)
def test_bce_values(pred, from_logits, reduction, expected):
    loss = HeatmapLoss("bce", reduction=reduction, from_logits=from_logits)(pred, BCE_TARGET)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("garbage", [NAN, 5.0, -3.0])
@pytest.mark.parametrize("kind, from_logits", [("mse", False), ("bce", False), ("bce", True)])
def test_missing_landmark_garbage_changes_nothing(kind, from_logits, garbage):
    """A missing landmark's channels may hold anything (even NaN): loss and gradients ignore them."""
    pred = torch.cat([BCE_PROB, BCE_PROB], dim=1)
    target = torch.cat([BCE_TARGET, BCE_TARGET], dim=1)
    loss_fn = HeatmapLoss(kind, from_logits=from_logits)
    reference = loss_fn(BCE_PROB, BCE_TARGET)

    pred = pred.clone()
    pred[:, 1] = garbage
    target[:, 1] = garbage
    pred.requires_grad_(True)
    loss = loss_fn(pred, target, torch.tensor([[1.0, 0.0]]))
    loss.backward()
    assert loss.item() == pytest.approx(reference.item())
    assert torch.isfinite(pred.grad).all()
    assert torch.equal(pred.grad[:, 1], torch.zeros_like(pred.grad[:, 1]))
    assert pred.grad[:, 0].abs().sum() > 0


@pytest.mark.parametrize("kind, from_logits", [("mse", False), ("bce", False), ("bce", True)])
def test_gradient_flows(kind, from_logits):
    pred = torch.full((2, 3, 4, 4), 0.3, requires_grad=True)
    target = torch.zeros(2, 3, 4, 4)
    target[..., 1, 2] = 1.0
    HeatmapLoss(kind, from_logits=from_logits)(pred, target, torch.ones(2, 3)).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert (pred.grad != 0).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "l1"}, r"(?s)'l1'.*(mse.*bce|bce.*mse)"),
        ({"reduction": "avg"}, r"(?s)'avg'.*(mean|sum|none)"),
        ({"kind": "mse", "from_logits": True}, "from_logits"),
    ],
)
def test_illegal_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HeatmapLoss(**kwargs)


@pytest.mark.parametrize(
    "pred_shape, target_shape, weights_shape, match",
    [
        ((1, 2, 2, 2), (1, 2, 2, 3), None, r"\(1, 2, 2, 2\) and \(1, 2, 2, 3\)"),
        ((2, 2), (2, 2), None, "B, K"),
        ((1, 2, 2, 2), (1, 2, 2, 2), (2,), r"weights must be \(B, K\) = \(1, 2\)"),
    ],
)
def test_illegal_inputs(pred_shape, target_shape, weights_shape, match):
    w = None if weights_shape is None else torch.ones(weights_shape)
    with pytest.raises(ValueError, match=match):
        HeatmapLoss()(torch.zeros(pred_shape), torch.zeros(target_shape), w)


def _levels():
    """Coarse 2x2 level with MSE mean 1/4, fine 4x4 level with MSE mean 1/16."""
    preds = [torch.zeros(1, 1, 2, 2, requires_grad=True), torch.zeros(1, 1, 4, 4, requires_grad=True)]
    targets = [torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 4, 4)]
    targets[0][0, 0, 1, 1] = 1.0
    targets[1][0, 0, 2, 3] = 1.0
    return preds, targets


def test_multiresolution_weights_levels():
    preds, targets = _levels()
    loss = MultiResolutionHeatmapLoss()(preds, targets)
    assert loss.item() == pytest.approx(1000 * 0.25 + 3000 * 0.0625)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in preds)


def test_multiresolution_custom_loss_and_weights():
    preds, targets = _levels()
    loss = MultiResolutionHeatmapLoss(HeatmapLoss("mse", reduction="sum"), level_weights=(1.0, 2.0))
    assert loss(preds, targets, torch.ones(1, 1)).item() == pytest.approx(1.0 + 2.0)
    assert loss(preds, targets, torch.zeros(1, 1)).item() == 0.0


def test_multiresolution_errors():
    preds, targets = _levels()
    loss = MultiResolutionHeatmapLoss()
    with pytest.raises(ValueError, match="2 levels.*1 predictions and 2 targets"):
        loss(preds[:1], targets)
    with pytest.raises(ValueError, match="2 levels.*3 predictions and 3 targets"):
        loss(preds + preds[:1], targets + targets[:1])
    with pytest.raises(
        ValueError, match=r"level 1: prediction shape \(1, 1, 4, 4\) differs from target \(1, 1, 2, 2\)"
    ):
        loss(preds, [targets[0], targets[0]])
    with pytest.raises(ValueError, match="coarsest first"):
        loss(preds[::-1], targets[::-1])
    with pytest.raises(ValueError, match="sequences"):
        loss(preds[0], targets[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"loss": HeatmapLoss(reduction="none")}, "reduce"),
        ({"level_weights": ()}, "level_weights"),
        ({"level_weights": (1.0, -1.0)}, "level_weights"),
        ({"level_weights": (1.0, float("inf"))}, "level_weights"),
    ],
)
def test_multiresolution_illegal_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiResolutionHeatmapLoss(**kwargs)


def test_softmax_ce_is_the_cross_entropy_of_the_spatial_softmax():
    pred = torch.randn(2, 3, 8, 6)
    target = torch.rand(2, 3, 8, 6)
    weights = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    loss = HeatmapLoss("softmax_ce")(pred, target, weights)
    log_p = torch.log_softmax(pred.flatten(2), dim=2)
    q = target.flatten(2) / target.flatten(2).sum(dim=2, keepdim=True)
    ce = -(q * log_p).sum(dim=2)  # (B, K)
    assert torch.allclose(loss, (ce * weights).sum() / weights.sum(), atol=1e-6)


def test_softmax_ce_is_lowest_at_the_target():
    target = torch.zeros(1, 1, 9, 9)
    target[0, 0, 4, 4], target[0, 0, 3, 4] = 1.0, 0.5
    near = torch.log(target + 1e-6)
    far = near.roll(3, dims=2)
    loss = HeatmapLoss("softmax_ce")
    assert loss(near, target) < loss(far, target)


def test_softmax_ce_ignores_nan_in_a_missing_channel():
    pred = torch.randn(1, 2, 5, 5, requires_grad=True)
    garbage = torch.where(torch.arange(2).view(1, 2, 1, 1) == 1, torch.full_like(pred, float("nan")), pred)
    loss = HeatmapLoss("softmax_ce")(garbage, torch.rand(1, 2, 5, 5), torch.tensor([[1.0, 0.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
