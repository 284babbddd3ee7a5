"""Inferers for heatmap networks: test-time flip averaging.

Heatmaps of a flipped image, flipped back, line up exactly with the unflipped ones under the pixel-centre
convention: image column ``u`` of a width-``W`` image goes to ``W - 1 - u``, and its heatmap column at stride
``s`` (``w = W / s``) goes to ``w - 1 - j``. So averaging is a plain flip of the heatmaps plus the landmark
permutation that swaps left/right pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.inferers import Inferer

from monai_landmarks.engines.batch import as_levels

__all__ = ["FlipTestInferer"]


class FlipTestInferer(Inferer):
    """Run the network on the image and on its mirror image, and average the heatmaps.

    Args:
        flip_indices: landmark permutation of the mirror image, ``new[k] = old[flip_indices[k]]`` (left/right
            pairs swap); None when no landmark has a mirror partner (a lateral cephalogram).
        spatial_axis: the image axis to flip (0 = x, a horizontal flip).

    The output has the network's own type: a tensor, or a tuple of levels.
    """

    def __init__(self, flip_indices: Sequence[int] | None = None, spatial_axis: int = 0) -> None:
        super().__init__()
        if spatial_axis not in (0, 1):
            raise ValueError(f"spatial_axis must be 0 (x) or 1 (y), got {spatial_axis}.")
        self.flip_indices = None if flip_indices is None else torch.as_tensor(list(flip_indices), dtype=torch.long)
        self.dim = 2 + spatial_axis

    def _unflip(self, heatmaps: torch.Tensor) -> torch.Tensor:
        heatmaps = torch.flip(heatmaps, dims=(self.dim,))
        if self.flip_indices is None:
            return heatmaps
        if len(self.flip_indices) != heatmaps.shape[1]:
            raise ValueError(
                f"flip_indices has {len(self.flip_indices)} entries but the network predicts {heatmaps.shape[1]} "
                "landmarks."
            )
        return heatmaps[:, self.flip_indices.to(heatmaps.device)]

    def __call__(self, inputs: torch.Tensor, network, *args, **kwargs):
        plain = network(inputs, *args, **kwargs)
        mirror = network(torch.flip(inputs, dims=(self.dim,)), *args, **kwargs)
        levels = tuple((p + self._unflip(m)) / 2 for p, m in zip(as_levels(plain), as_levels(mirror), strict=True))
        return levels[0] if isinstance(plain, torch.Tensor) else levels
