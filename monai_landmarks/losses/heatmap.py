"""Heatmap regression losses with per-landmark weights, single-level and multiresolution.

Missing landmarks (weight 0, as the codecs give them) contribute nothing and are not counted by the mean,
whatever their channels hold: their predictions and targets are replaced before the loss is computed, so
even NaN in such a channel neither reaches the loss nor its gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.utils import LossReduction, StrEnum, look_up_option
from torch.nn.modules.loss import _Loss

__all__ = ["HeatmapLoss", "HeatmapLossType", "MultiResolutionHeatmapLoss"]


class HeatmapLossType(StrEnum):
    """Loss of :class:`HeatmapLoss`: mean squared error, binary cross-entropy, or spatial-softmax cross-entropy."""

    MSE = "mse"
    BCE = "bce"
    SOFTMAX_CE = "softmax_ce"


class HeatmapLoss(_Loss):
    """Pixel-wise heatmap loss, masked and weighted per landmark.

    ``kind="mse"`` with ``reduction="mean"`` is MMPose 0.x ``JointsMSELoss(use_target_weight=True)`` as HTC
    uses it (``seriee/Multiresolution-HTC:mmpose/models/losses/mse_loss.py``): the squared error averaged
    over pixels, then over landmarks, without a factor 1/2 (that version has none). Two differences, both
    only where a landmark is missing or a weight is not 0/1: a missing landmark is left out of the average
    (MMPose still divides by all ``B * K`` channels), and a weight multiplies the landmark's loss (MMPose
    multiplies prediction and target inside the square, i.e. the loss by ``w**2``). For 0/1 weights and no
    missing landmarks the two agree.

    ``kind="bce"`` with ``reduction="sum"`` is GU2Net's ``nn.BCELoss(reduction="sum")`` on its output
    ``sigmoid(global) * sigmoid(local)``, which is already a probability. With ``from_logits=True`` the
    input is a logit and the numerically stable ``binary_cross_entropy_with_logits`` is used. Probability
    BCE is computed in float32 outside autocast, where PyTorch does not allow it.

    ``kind="softmax_ce"`` treats each channel as logits of a distribution over its pixels: the cross-entropy of
    the spatial softmax against the target normalised to sum 1 (the patch refiner's loss). Plain MSE on patch
    heatmaps did not start learning in a probe (REFERENCE section 8): an all-zero output already scores well,
    while a softmax must put its mass somewhere. With ``reduction="mean"`` it is averaged over landmarks, not
    pixels; ``"none"`` gives the per-pixel terms, which sum to the cross-entropy.

    Args:
        kind: ``"mse"``, ``"bce"`` or ``"softmax_ce"``.
        reduction: ``"mean"``: the weighted sum divided by the number of pixels of the landmarks with a
            non-zero weight; ``"sum"``: the weighted sum over pixels, landmarks and images; ``"none"``: the
            weighted pixel-wise loss ``(B, K, *spatial)``, zero for missing landmarks.
        from_logits: ``kind="bce"`` only; the prediction is a logit rather than a probability.

    Raises:
        ValueError: for an unknown ``kind`` or ``reduction`` (the message lists the options), or
            ``from_logits`` with ``kind="mse"``.
    """

    def __init__(
        self,
        kind: HeatmapLossType | str = HeatmapLossType.MSE,
        reduction: LossReduction | str = LossReduction.MEAN,
        from_logits: bool = False,
    ) -> None:
        super().__init__(reduction=look_up_option(reduction, LossReduction).value)
        self.kind = look_up_option(kind, HeatmapLossType)
        if from_logits and self.kind != HeatmapLossType.BCE:
            raise ValueError(f"from_logits applies to kind='bce' only, got kind={self.kind.value!r}.")
        self.from_logits = from_logits

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            pred: predicted heatmaps ``(B, K, W, H)`` (any number of spatial axes).
            target: target heatmaps of the same shape.
            weights: ``(B, K)`` landmark weights, 0 (or any value <= 0, or NaN) for a missing landmark; None
                weighs all landmarks 1.

        Raises:
            ValueError: if the shapes do not match.
        """
        if pred.shape != target.shape or pred.ndim < 3:
            raise ValueError(
                f"pred and target must both be (B, K, *spatial) of the same shape, got {tuple(pred.shape)} and "
                f"{tuple(target.shape)}."
            )
        w = self._weights(weights, pred)
        w = torch.where(w > 0, w, torch.zeros_like(w))  # a weight <= 0 or NaN marks a missing landmark
        present = (w > 0).view(*w.shape, *([1] * (pred.ndim - 2)))
        # replace missing channels before the loss so that garbage there (even NaN) cannot leak into it
        pred = torch.where(present, pred, torch.zeros_like(pred))
        target = torch.where(present, target, torch.zeros_like(target))
        loss = self._pixel_loss(pred, target) * w.view(present.shape)
        if self.reduction == LossReduction.NONE.value:
            return loss
        total = loss.sum()
        if self.reduction == LossReduction.SUM.value:
            return total
        per_channel = 1 if self.kind == HeatmapLossType.SOFTMAX_CE else pred[0, 0].numel()
        return total / (present.sum() * per_channel).clamp(min=1)

    @staticmethod
    def _weights(weights: torch.Tensor | None, pred: torch.Tensor) -> torch.Tensor:
        if weights is None:
            return torch.ones(pred.shape[:2], dtype=pred.dtype, device=pred.device)
        weights = torch.as_tensor(weights, device=pred.device)
        if weights.shape != pred.shape[:2]:
            raise ValueError(
                f"weights must be (B, K) = {tuple(pred.shape[:2])} for heatmaps of shape {tuple(pred.shape)}, "
                f"got {tuple(weights.shape)}."
            )
        return weights.to(pred.dtype)

    def _pixel_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == HeatmapLossType.MSE:
            return (pred - target) ** 2
        if self.kind == HeatmapLossType.SOFTMAX_CE:
            spatial = tuple(range(2, pred.ndim))
            log_prob = torch.log_softmax(pred.float().flatten(2), dim=2).view(pred.shape)
            mass = target.float().sum(dim=spatial, keepdim=True)
            return (-target.float() / mass.clamp_min(1e-12) * log_prob).to(pred.dtype)
        if self.from_logits:
            return F.binary_cross_entropy_with_logits(pred, target, reduction="none")
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return F.binary_cross_entropy(pred.float(), target.float(), reduction="none").to(pred.dtype)


class MultiResolutionHeatmapLoss(_Loss):
    """Weighted sum of one :class:`HeatmapLoss` per resolution level (HTC's multiresolution learning).

    Each level has its own target rendered at its own resolution (never a downsampled full-size target).
    HTC weighs its MSE losses 1000 at 1/4 and 3000 at 1/2 of the input resolution
    (``seriee/Multiresolution-HTC:configs/Head_dataset/HTC_head_dataset_608x480.py``), the default here.

    Args:
        loss: the per-level loss, called as ``loss(pred, target, weights)``; it must reduce to a scalar.
            Default ``HeatmapLoss("mse")``.
        level_weights: one non-negative weight per level, coarsest level first.

    Raises:
        ValueError: if ``level_weights`` is empty or holds a negative or non-finite value, or ``loss`` does
            not reduce.
    """

    def __init__(self, loss: torch.nn.Module | None = None, level_weights: Sequence[float] = (1000.0, 3000.0)) -> None:
        super().__init__()
        self.loss = HeatmapLoss(HeatmapLossType.MSE) if loss is None else loss
        if getattr(self.loss, "reduction", None) == LossReduction.NONE.value:
            raise ValueError("the per-level loss must reduce to a scalar, got reduction='none'.")
        self.level_weights = tuple(float(w) for w in level_weights)
        if not self.level_weights or not all(np.isfinite(w) and w >= 0 for w in self.level_weights):
            raise ValueError(f"level_weights must be non-negative finite numbers, one per level, got {level_weights}.")

    def forward(
        self,
        preds: Sequence[torch.Tensor],
        targets: Sequence[torch.Tensor],
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """
        Args:
            preds: one predicted heatmap ``(B, K, *spatial_i)`` per level, coarsest first.
            targets: one target per level, each of its prediction's shape.
            weights: ``(B, K)`` landmark weights shared by all levels (see :class:`HeatmapLoss`).

        Raises:
            ValueError: if the numbers of predictions, targets and level weights differ, a level's shapes
                differ, or the levels are not ordered coarsest first.
        """
        self._check_levels(preds, targets)
        return sum(w * self.loss(p, t, weights) for w, p, t in zip(self.level_weights, preds, targets, strict=True))

    def _check_levels(self, preds: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]) -> None:
        if torch.is_tensor(preds) or torch.is_tensor(targets):
            raise ValueError("preds and targets must be sequences of heatmaps, one per level, not single tensors.")
        if not len(preds) == len(targets) == len(self.level_weights):
            raise ValueError(
                f"expected {len(self.level_weights)} levels (one per level weight), got {len(preds)} predictions "
                f"and {len(targets)} targets."
            )
        for i, (p, t) in enumerate(zip(preds, targets, strict=True)):
            if p.shape != t.shape:
                raise ValueError(f"level {i}: prediction shape {tuple(p.shape)} differs from target {tuple(t.shape)}.")
            if i > 0 and any(a < b for a, b in zip(p.shape[2:], preds[i - 1].shape[2:], strict=False)):
                raise ValueError(
                    f"levels must be ordered coarsest first, but level {i} {tuple(p.shape[2:])} is smaller than "
                    f"level {i - 1} {tuple(preds[i - 1].shape[2:])}."
                )
