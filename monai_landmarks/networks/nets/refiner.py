"""The patch refiner of the two-stage (coarse-to-fine) cascade.

A coarse model finds every landmark roughly on a downscaled image; the refiner then looks at a patch of the full
resolution image around each coarse estimate (``transforms.patches``) and says where in the patch its landmark
is. Two-stage methods on ISBI 2015 (Zhong et al. 2019, Song et al. 2020) get their accuracy from this local
stage, and ``K`` small patches cost about as much as one low-resolution image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.nets import BasicUNet
from torch import nn

__all__ = ["LandmarkRefiner"]


class LandmarkRefiner(nn.Module):
    """Per-landmark heatmap logits for a stack of landmark patches: ``(B, K, P, P)`` -> ``(B, K, P, P)``.

    Channel ``k`` of the input is the patch around landmark ``k``. All patches go through one MONAI
    :class:`~monai.networks.nets.BasicUNet` with ``K`` output channels (shared features, one output channel per
    landmark), and patch ``k`` keeps output channel ``k``: the landmark's identity selects its head, so
    neighbouring landmarks that share a patch (the incisors, the lips) are told apart.

    The output is a logit per pixel, trained with a spatial softmax (``HeatmapLoss("softmax_ce")``) and decoded
    with the ``"softmax"`` decoder.

    Args:
        spatial_dims: 2.
        num_landmarks: ``K``.
        features: the BasicUNet's six feature widths.
        dropout: the BasicUNet's dropout.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        num_landmarks: int = 19,
        features: Sequence[int] = (16, 32, 64, 128, 128, 16),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if spatial_dims != 2:
            raise ValueError(f"LandmarkRefiner is 2D, got spatial_dims={spatial_dims}.")
        if isinstance(num_landmarks, bool) or not isinstance(num_landmarks, int) or num_landmarks < 1:
            raise ValueError(f"num_landmarks must be a positive integer, got {num_landmarks!r}.")
        self.num_landmarks = num_landmarks
        self.unet = BasicUNet(
            spatial_dims=2, in_channels=1, out_channels=num_landmarks, features=tuple(features), dropout=dropout
        )

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        if patches.ndim != 4 or patches.shape[1] != self.num_landmarks:
            raise ValueError(
                f"expected patch stacks (B, {self.num_landmarks}, P, P), one patch per landmark, got "
                f"{tuple(patches.shape)}."
            )
        b, k, w, h = patches.shape
        logits = self.unet(patches.reshape(b * k, 1, w, h))  # (B*K, K, P, P)
        own = torch.arange(k, device=patches.device).repeat(b)
        return logits[torch.arange(b * k, device=patches.device), own].reshape(b, k, w, h)
