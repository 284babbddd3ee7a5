"""How a landmark batch meets MONAI's ``SupervisedTrainer`` and ``SupervisedEvaluator``.

The trainer calls ``prepare_batch(batch) -> (inputs, targets, args, kwargs)``, then
``network(inputs, *args)`` and ``loss_function(pred, targets)``. Landmark training needs three things that
MONAI's default batch preparation does not carry: several heatmap targets (one per resolution level), the
per-landmark weights that mask missing landmarks, and, for a universal network, the domain of the batch.
:class:`PrepareLandmarkBatch` packs them and :class:`LandmarkTargetLoss` unpacks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.engines.utils import PrepareBatch

from monai_landmarks.utils.keys import Keys

__all__ = ["LandmarkTargetLoss", "PrepareLandmarkBatch", "as_levels"]


def as_levels(value) -> tuple[torch.Tensor, ...]:
    """A tensor or a sequence of tensors as a tuple of levels (one level for a plain tensor)."""
    if isinstance(value, torch.Tensor):
        return (value,)
    return tuple(value)


def _to(value, device, non_blocking: bool, **kwargs):
    if isinstance(value, torch.Tensor):
        return value.to(device=device, non_blocking=non_blocking, **kwargs)
    return tuple(_to(v, device, non_blocking, **kwargs) for v in value)


class PrepareLandmarkBatch(PrepareBatch):
    """Prepare ``(image, (heatmaps, weights), (domain,), {})`` from a collated landmark batch.

    Args:
        image_key: key of the network input.
        heatmap_key: key of the targets: one ``(B, K, w, h)`` tensor or a sequence of them (coarsest first).
            Evaluation batches without targets are allowed (the targets are then None).
        weights_key: key of the ``(B, K)`` landmark weights; None weighs every landmark 1.
        domain_key: key of the per-sample domain index, passed to the network as its second argument
            (GU2Net); None for single-domain networks. All samples of a batch must share one domain.
    """

    def __init__(
        self,
        image_key: str = Keys.IMAGE,
        heatmap_key: str = Keys.HEATMAPS,
        weights_key: str | None = Keys.WEIGHTS,
        domain_key: str | None = None,
    ) -> None:
        self.image_key = image_key
        self.heatmap_key = heatmap_key
        self.weights_key = weights_key
        self.domain_key = domain_key

    def _domain(self, batchdata: Mapping) -> tuple:
        if self.domain_key is None:
            return ()
        domains = torch.as_tensor(batchdata[self.domain_key]).reshape(-1)
        if not bool((domains == domains[0]).all()):
            raise ValueError(
                f"a batch mixes domains {sorted(set(domains.tolist()))}; batch each domain separately "
                "(monai_landmarks.data.DomainBatchSampler does)."
            )
        return (int(domains[0]),)

    def __call__(
        self, batchdata: Mapping[str, Any], device=None, non_blocking: bool = False, **kwargs
    ) -> tuple[torch.Tensor, Any, tuple, dict]:
        image = batchdata[self.image_key].to(device=device, non_blocking=non_blocking, **kwargs)
        targets = None
        if self.heatmap_key in batchdata:
            heatmaps = _to(as_levels(batchdata[self.heatmap_key]), device, non_blocking, **kwargs)
            weights = batchdata.get(self.weights_key) if self.weights_key else None
            if weights is not None:
                weights = _to(torch.as_tensor(weights), device, non_blocking, **kwargs)
            targets = (heatmaps, weights)
        return image, targets, self._domain(batchdata), {}


class LandmarkTargetLoss(torch.nn.Module):
    """Apply a multiresolution heatmap loss to a network output and a prepared batch's ``(heatmaps, weights)``.

    A single-level network (a tensor output, GU2Net) and a multi-level one (a tuple, coarsest first, HTC) are
    treated alike: both become a tuple of levels for :class:`~monai_landmarks.losses.MultiResolutionHeatmapLoss`,
    which weighs and checks them.

    Args:
        loss: a :class:`~monai_landmarks.losses.MultiResolutionHeatmapLoss`.
    """

    def __init__(self, loss: torch.nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, pred, targets) -> torch.Tensor:
        if targets is None:
            raise ValueError("the batch has no heatmap targets: add GenerateHeatmapsd to the training transforms.")
        heatmaps, weights = targets
        return self.loss(as_levels(pred), as_levels(heatmaps), weights)
