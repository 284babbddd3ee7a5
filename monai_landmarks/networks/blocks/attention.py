"""Bilinear-pooling ("double") attention and the transformer-style block of HTC.

Attention: Chen et al., "A^2-Nets: Double Attention Networks", NeurIPS 2018, https://arxiv.org/abs/1810.11579, as
used by the hybrid transformer-CNN (HTC) of Viriyasaranon, Ma, Choi, "Anatomical Landmark Detection Using a
Multiresolution Learning Approach with a Hybrid Transformer-CNN Model", MICCAI 2023, pp. 433-443
(reference implementation https://github.com/seriee/Multiresolution-HTC, ``Bilinear_pooling`` and
``HTC_EncoderLayer``).
"""

from __future__ import annotations

import copy

import torch
from monai.networks.layers import DropPath
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer, get_norm_layer
from torch import nn

from monai_landmarks.networks.blocks.fusion import fold_preceding_batch_norm

__all__ = ["BilinearPoolingAttention", "BilinearTransformerBlock"]


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


class BilinearPoolingAttention(nn.Module):
    """Bilinear-pooling (double) attention, linear in the number of positions ``N = W * H``.

    With ``M = channels // reduction``, 1x1 convs give ``A, B, V`` of shape ``(M, N)``; ``G = A softmax_N(B)^T``
    (``M x M`` global descriptors, softmax over positions); ``out = G softmax_M(V)`` (softmax over channels);
    a 1x1 conv maps ``out`` back to ``channels``. The residual connection is not part of this module.

    The three input convolutions are one 1x1 conv to ``3 M`` channels (the same parameters as three convs, one
    matrix product). The computation is written on ``(B, N, M)`` views, which are free in the channels-last
    layout; the NCHW layout works too (at the cost of one reshape copy).

    Args:
        spatial_dims: only 2 is supported.
        channels: input and output channels.
        reduction: ``channels // reduction`` attention channels (8, 4, 2, 1 for HTC's four stages).

    Raises:
        ValueError: when ``spatial_dims != 2`` or ``channels`` is not a positive multiple of ``reduction``.
    """

    def __init__(self, spatial_dims: int, channels: int, reduction: int = 1) -> None:
        super().__init__()
        if spatial_dims != 2:
            raise ValueError(f"BilinearPoolingAttention supports spatial_dims=2 only, got {spatial_dims}.")
        _check_positive("channels", channels)
        _check_positive("reduction", reduction)
        if channels % reduction != 0:
            raise ValueError(f"channels ({channels}) must be a multiple of reduction ({reduction}).")
        conv = Conv[Conv.CONV, spatial_dims]
        self.mid_channels = channels // reduction
        self.qkv = conv(channels, 3 * self.mid_channels, 1)
        self.proj = conv(self.mid_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.mid_channels
        b, _, w, h = x.shape
        t = self.qkv(x).permute(0, 2, 3, 1).reshape(b, w * h, 3 * m)  # (B, N, 3M), a view in channels-last
        a_t, b_t, v_t = t.split(m, dim=2)
        g = torch.bmm(a_t.transpose(1, 2), torch.softmax(b_t, dim=1))  # (B, M, M) = A softmax_N(B)^T
        out_t = torch.bmm(torch.softmax(v_t, dim=2), g.transpose(1, 2))  # (B, N, M) = (G softmax_M(V))^T
        out = out_t.reshape(b, w, h, m).permute(0, 3, 1, 2)
        return self.proj(out)


class BilinearTransformerBlock(nn.Module):
    """HTC's transformer-style block: ``x + DropPath(Attn(BN(x)))``, then ``x + DropPath(FFN(BN(x)))``.

    ``Attn`` is :class:`BilinearPoolingAttention`; ``FFN`` is 1x1 conv to ``ffn_ratio * channels``, GELU, 1x1 conv
    back (the published "MixFFN" without its optional depthwise conv and with dropout 0).

    Args:
        spatial_dims: only 2 is supported.
        channels: block width.
        reduction: attention reduction ratio.
        ffn_ratio: hidden width of the FFN as a multiple of ``channels``.
        drop_path: stochastic-depth probability of both residual branches.
        norm: normalisation layer (batch norm as published).
        act: FFN activation (GELU as published).

    Raises:
        ValueError: for invalid sizes or a drop-path probability outside [0, 1].
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        reduction: int = 1,
        ffn_ratio: int = 4,
        drop_path: float = 0.0,
        norm: tuple | str = "batch",
        act: tuple | str = "gelu",
    ) -> None:
        super().__init__()
        _check_positive("ffn_ratio", ffn_ratio)
        if not 0.0 <= drop_path <= 1.0:
            raise ValueError(f"drop_path must be in [0, 1], got {drop_path}.")
        conv = Conv[Conv.CONV, spatial_dims]
        self.norm1 = get_norm_layer(norm, spatial_dims=spatial_dims, channels=channels)
        self.attn = BilinearPoolingAttention(spatial_dims, channels, reduction)
        self.norm2 = get_norm_layer(norm, spatial_dims=spatial_dims, channels=channels)
        self.ffn = nn.Sequential(
            conv(channels, ffn_ratio * channels, 1), get_act_layer(act), conv(ffn_ratio * channels, channels, 1)
        )
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.ffn(self.norm2(x)))

    def fuse(self) -> BilinearTransformerBlock:
        """An inference copy (eval mode) with both pre-norms folded into the 1x1 convs that read them (the
        attention input and the FFN input); this block is left unchanged. Equal in eval mode up to float rounding.
        """
        fused = copy.deepcopy(self).eval()
        fused.attn.qkv = fold_preceding_batch_norm(self.norm1, self.attn.qkv)
        fused.ffn[0] = fold_preceding_batch_norm(self.norm2, self.ffn[0])
        fused.norm1 = nn.Identity()
        fused.norm2 = nn.Identity()
        return fused
