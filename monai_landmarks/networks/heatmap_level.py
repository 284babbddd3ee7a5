"""A one-tensor view of a multi-level heatmap network, for tools that expect a single output.

MONAI's ``verify_net_in_out`` reads ``output.shape[1]``, and many exporters and viewers expect one tensor;
HTC returns a tuple of levels. The wrapper shares the network's parameters: its state dict is the network's,
under the prefix ``network.``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["HeatmapLevel"]


class HeatmapLevel(nn.Module):
    """Return one level (default the finest, the last) of a network that outputs a tuple of heatmaps.

    A network that returns a plain tensor passes through unchanged.

    Args:
        network: the heatmap network.
        level: index into the network's tuple of levels (coarsest first), -1 for the finest.
    """

    def __init__(self, network: nn.Module, level: int = -1) -> None:
        super().__init__()
        self.network = network
        self.level = level

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.network(x)
        if isinstance(out, torch.Tensor):
            return out
        return out[self.level]
