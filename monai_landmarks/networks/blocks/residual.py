"""The dilated residual convolution block of HTC (the CNN half of each hybrid stage)."""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

__all__ = ["DilatedResidualBlock"]


class DilatedResidualBlock(nn.Module):
    """``ReLU(BN(conv3x3_d2(ReLU(BN(conv3x3(x))))) + conv3x3(x))``: a residual block with a dilated second conv.

    The shortcut is a 3x3 convolution (no normalisation); no convolution has a bias. As the ``BasicBlock`` of
    seriee/Multiresolution-HTC (HTC, MICCAI 2023).

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: input channels.
        out_channels: output channels.
        dilation: dilation of the second 3x3 conv (2 as published).
        norm: normalisation layer (batch norm as published).

    Raises:
        ValueError: when ``dilation`` is not a positive int.
    """

    def __init__(
        self, spatial_dims: int, in_channels: int, out_channels: int, dilation: int = 2, norm: tuple | str = "batch"
    ) -> None:
        super().__init__()
        if not isinstance(dilation, int) or dilation < 1:
            raise ValueError(f"dilation must be a positive int, got {dilation!r}.")
        relu = ("relu", {"inplace": True})
        self.conv1 = Convolution(
            spatial_dims, in_channels, out_channels, kernel_size=3, adn_ordering="NA", act=relu, norm=norm, bias=False
        )
        self.conv2 = Convolution(
            spatial_dims,
            out_channels,
            out_channels,
            kernel_size=3,
            dilation=dilation,
            adn_ordering="N",
            act=None,
            norm=norm,
            bias=False,
        )
        self.shortcut = Conv[Conv.CONV, spatial_dims](in_channels, out_channels, 3, padding=1, bias=False)
        self.act = get_act_layer(relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))
