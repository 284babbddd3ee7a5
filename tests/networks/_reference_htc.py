"""An independent, deliberately plain re-statement of the original HTC forward pass (oracle and speed baseline).

Written for this project from the published description of seriee/Multiresolution-HTC (backbone
``Hybrid_Transformer_CNN.py``, ``Deconv_fpn_neck.py``, the two heads): NCHW, three separate 1x1 convs A, B, V in
the attention computed on ``(B, M, N)`` views as published, and the two FPN output convs whose results the
original discards are evaluated too (as the original does, so the baseline costs what the original costs). It is
not a copy of that code. The original's other dead parameters (see ``HTC``'s docstring) are left out, so it has the
21,887,026 parameters the original uses plus the discarded convs' 1,180,160: 23,067,186 at K=13, not the 24,613,426
the original registers.

:func:`load_from` copies the weights of a :class:`monai_landmarks.networks.nets.HTC`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class _Attn(nn.Module):
    def __init__(self, c: int, r: int) -> None:
        super().__init__()
        self.m = c // r
        self.conv_a = nn.Conv2d(c, self.m, 1)
        self.conv_b = nn.Conv2d(c, self.m, 1)
        self.conv_v = nn.Conv2d(c, self.m, 1)
        self.reconv = nn.Conv2d(self.m, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        a = self.conv_a(x).view(b, self.m, h * w)
        maps = F.softmax(self.conv_b(x).view(b, self.m, h * w), dim=-1)
        vecs = F.softmax(self.conv_v(x).view(b, self.m, h * w), dim=1)
        out = torch.bmm(a, maps.permute(0, 2, 1)).matmul(vecs)
        return self.reconv(out.view(b, self.m, h, w))


def _drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth as mmcv's DropPath: zero whole samples with probability p, scale the rest by 1/(1-p)."""
    if p == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0], 1, 1, 1)).bernoulli_(1 - p)
    return x * keep / (1 - p)


class _Stage(nn.Module):
    def __init__(self, cin: int, c: int, r: int, ratio: int, drop_path: float) -> None:
        super().__init__()
        self.drop_path = drop_path
        self.embed = nn.Conv2d(cin, c, 3, stride=2, padding=1)
        self.norm1 = nn.BatchNorm2d(c)
        self.attn = _Attn(c, r)
        self.norm2 = nn.BatchNorm2d(c)
        self.fc1 = nn.Conv2d(c, ratio * c, 1)
        self.fc2 = nn.Conv2d(ratio * c, c, 1)
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=2, dilation=2, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.conv4 = nn.Conv2d(c, c, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        x = x + _drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)
        x = x + _drop_path(self.fc2(F.gelu(self.fc1(self.norm2(x)))), self.drop_path, self.training)
        identity = self.conv4(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return F.relu(out)


class ReferenceHTC(nn.Module):
    """Original-style HTC; ``forward(x)`` returns ``(quarter, half)``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int] = (64, 128, 320, 512),
        reductions: Sequence[int] = (8, 4, 2, 1),
        ratios: Sequence[int] = (8, 8, 4, 4),
        neck: int = 256,
        head: int = 256,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        cins = (in_channels,) + tuple(channels[:-1])
        rates = [drop_path_rate * i / 3 for i in range(4)]  # linear over the stages, as the original
        self.stages = nn.ModuleList([_Stage(*a) for a in zip(cins, channels, reductions, ratios, rates, strict=True)])
        self.laterals = nn.ModuleList([nn.Conv2d(c, neck, 3, padding=1) for c in channels[1:]])
        self.c_convs = nn.ModuleList([nn.Conv2d(neck, neck, 3, padding=1) for _ in channels[1:]])
        self.q1 = nn.Conv2d(neck, head, 3, padding=1)
        self.q2 = nn.Conv2d(head, out_channels, 1)
        self.deconv = nn.ConvTranspose2d(neck, neck, 4, stride=2, padding=1, output_padding=0, bias=False)
        self.deconv_bn = nn.BatchNorm2d(neck)
        self.h1 = nn.Conv2d(neck, head, 3, padding=1)
        self.h2 = nn.Conv2d(head, out_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        lats = [conv(f) for conv, f in zip(self.laterals, feats[1:], strict=True)]
        for i in range(len(lats) - 1, 0, -1):
            lats[i - 1] = lats[i - 1] + F.interpolate(lats[i], size=lats[i - 1].shape[2:], mode="nearest")
        outs = [
            conv(lat) for conv, lat in zip(self.c_convs, lats, strict=True)
        ]  # all evaluated, only the first is used
        y = outs[0]
        quarter = self.q2(F.relu(self.q1(y)))
        half = self.h2(F.relu(self.h1(F.relu(self.deconv_bn(self.deconv(y))))))
        return quarter, half


def _copy(dst: nn.Module, src: nn.Module) -> None:
    dst.load_state_dict(src.state_dict())


@torch.no_grad()
def load_from(ref: ReferenceHTC, net: nn.Module) -> ReferenceHTC:
    """Copy the weights of an ``HTC`` (our layout) into ``ref``; the discarded FPN convs keep their own weights."""
    for rs, os_ in zip(ref.stages, net.stages, strict=True):
        _copy(rs.embed, os_.embed)
        t = os_.transformer
        _copy(rs.norm1, t.norm1)
        _copy(rs.norm2, t.norm2)
        m = rs.attn.m
        for k, conv in enumerate((rs.attn.conv_a, rs.attn.conv_b, rs.attn.conv_v)):
            conv.weight.copy_(t.attn.qkv.weight[k * m : (k + 1) * m])
            conv.bias.copy_(t.attn.qkv.bias[k * m : (k + 1) * m])
        _copy(rs.attn.reconv, t.attn.proj)
        _copy(rs.fc1, t.ffn[0])
        _copy(rs.fc2, t.ffn[2])
        c = os_.conv
        _copy(rs.conv1, c.conv1.conv)
        _copy(rs.bn1, c.conv1.adn.N)
        _copy(rs.conv2, c.conv2.conv)
        _copy(rs.bn2, c.conv2.adn.N)
        _copy(rs.conv4, c.shortcut)
    for rl, ol in zip(ref.laterals, net.neck.laterals, strict=True):
        _copy(rl, ol)
    _copy(ref.c_convs[0], net.neck.out)
    _copy(ref.q1, net.head_quarter[0].conv)
    _copy(ref.q2, net.head_quarter[1])
    _copy(ref.deconv, net.head_half[0].conv)
    _copy(ref.deconv_bn, net.head_half[0].adn.N)
    _copy(ref.h1, net.head_half[1].conv)
    _copy(ref.h2, net.head_half[2])
    return ref
