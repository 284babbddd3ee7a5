"""An independent, deliberately plain re-statement of the original GU2Net forward pass.

This is the oracle for "same function" tests and the baseline ("original-style") of the speed benchmark. It follows
the published implementation (MIRACLE-Center/YOLO_Universal_Anatomical_Landmark_Detection, ``u2net.py`` +
``gln.py``, MIT) op by op: NCHW, BatchNorm kept separate from the convolutions, ``nn.Upsample`` then a (usually
empty) ``F.pad`` then ``torch.cat`` in every up step, nearest ``F.interpolate`` by ``scale_factor=0.25`` into the
global branch and back by ``size``, and the sigmoid of the global branch taken at full resolution. It is written
from the published description for this project; it is not a copy of that code.

It holds its own parameters. :func:`load_from` copies them from a :class:`monai_landmarks.networks.nets.GU2Net`
so that both compute the same function with the same weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class _Sep(nn.Module):
    """Depthwise 3x3 (one per domain) -> pointwise 1x1 (shared) -> BN (one per domain) -> LeakyReLU."""

    def __init__(self, cin: int, cout: int, ndom: int) -> None:
        super().__init__()
        self.dw = nn.ModuleList([nn.Conv2d(cin, cin, 3, padding=1, groups=cin) for _ in range(ndom)])
        self.pw = nn.Conv2d(cin, cout, 1)
        self.bn = nn.ModuleList([nn.BatchNorm2d(cout) for _ in range(ndom)])
        self.act = nn.LeakyReLU(inplace=True)

    def forward(self, x: torch.Tensor, d: int) -> torch.Tensor:
        return self.act(self.bn[d](self.pw(self.dw[d](x))))


class _Double(nn.Module):
    def __init__(self, cin: int, cout: int, cmid: int, ndom: int) -> None:
        super().__init__()
        self.a = _Sep(cin, cmid, ndom)
        self.b = _Sep(cmid, cout, ndom)

    def forward(self, x: torch.Tensor, d: int) -> torch.Tensor:
        return self.b(self.a(x, d), d)


class ReferenceGU2Net(nn.Module):
    """Original-style GU2Net: ``forward(x, d)`` returns ``sigmoid(global) * sigmoid(local)``."""

    def __init__(
        self,
        in_channels: int | Sequence[int],
        out_channels: Sequence[int],
        channels: Sequence[int] = (64, 128, 256, 512, 512),
        global_channels: int = 128,
        dilations: Sequence[int] = (1, 2, 5, 2, 1),
    ) -> None:
        super().__init__()
        n = len(out_channels)
        cins = [in_channels] * n if isinstance(in_channels, int) else list(in_channels)
        c0, c1, c2, c3, c4 = channels
        self.inc = nn.ModuleList([nn.Conv2d(cin, c0, 1) for cin in cins])
        self.outc = nn.ModuleList([nn.Conv2d(c0, k, 1) for k in out_channels])
        self.enc = nn.ModuleList(
            [
                _Double(c0, c0, c0, n),
                _Double(c0, c1, c1, n),
                _Double(c1, c2, c2, n),
                _Double(c2, c3, c3, n),
                _Double(c3, c4, c4, n),
            ]
        )
        ups = [(c4 + c3, c2), (c2 + c2, c1), (c1 + c1, c0), (c0 + c0, c0)]
        self.dec = nn.ModuleList([_Double(cin, cout, cin // 2, n) for cin, cout in ups])
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.pool = nn.MaxPool2d(2)
        g = global_channels
        self.g_in = nn.ModuleList([nn.Conv2d(cin, g // 2, 3, padding=1) for cin in cins])
        self.g_in_local = nn.ModuleList([nn.Conv2d(k, (g + 1) // 2, 3, padding=1) for k in out_channels])
        self.g_body = nn.ModuleList(
            [
                nn.Sequential(
                    *[
                        nn.Sequential(nn.Conv2d(g, g, 3, padding=dd, dilation=dd), nn.BatchNorm2d(g), nn.ReLU(True))
                        for dd in dilations
                    ]
                )
                for _ in range(n)
            ]
        )
        self.g_out = nn.ModuleList([nn.Conv2d(g, k, 1) for k in out_channels])

    def _up(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        dy = skip.size(2) - x.size(2)
        dx = skip.size(3) - x.size(3)
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return torch.cat([skip, x], dim=1)

    def forward(self, x: torch.Tensor, d: int = 0) -> torch.Tensor:
        feats = [self.enc[0](self.inc[d](x), d)]
        for block in self.enc[1:]:
            feats.append(block(self.pool(feats[-1]), d))
        y = feats[-1]
        for block, skip in zip(self.dec, reversed(feats[:-1]), strict=True):
            y = block(self._up(y, skip), d)
        local = torch.sigmoid(self.outc[d](y))
        size = x.shape[2:]
        xs = F.interpolate(x, scale_factor=0.25)
        ls = F.interpolate(local, scale_factor=0.25)
        g = torch.cat([self.g_in[d](xs), self.g_in_local[d](ls)], dim=1)
        g = self.g_out[d](self.g_body[d](g))
        g = torch.sigmoid(F.interpolate(g, size=size))
        return g * local


def _copy_conv(dst: nn.Conv2d, src: nn.Module) -> None:
    dst.weight.data.copy_(src.weight.data)
    if dst.bias is not None:
        dst.bias.data.copy_(src.bias.data)


def _copy_bn(dst: nn.BatchNorm2d, src: nn.Module) -> None:
    for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        getattr(dst, name).data.copy_(getattr(src, name).data)


@torch.no_grad()
def load_from(ref: ReferenceGU2Net, net: nn.Module) -> ReferenceGU2Net:
    """Copy the weights of a ``GU2Net`` (our layout) into ``ref`` (the reference layout)."""
    n = len(ref.inc)
    for d in range(n):
        _copy_conv(ref.inc[d], net.local_in[d])
        _copy_conv(ref.outc[d], net.local_out[d])
        _copy_conv(ref.g_in[d], net.global_in[d])
        _copy_conv(ref.g_in_local[d], net.global_in_local[d])
        _copy_conv(ref.g_out[d], net.global_out[d])
        for rl, ol in zip(ref.g_body[d], net.global_body[d], strict=True):
            _copy_conv(rl[0], ol.conv)
            _copy_bn(rl[1], ol.adn.N)
    for rblocks, oblocks in ((ref.enc, net.encoder), (ref.dec, net.decoder)):
        for rb, ob in zip(rblocks, oblocks, strict=True):
            for rs, os_ in ((rb.a, ob.conv1), (rb.b, ob.conv2)):
                _copy_conv(rs.pw, os_.pointwise)
                for d in range(n):
                    _copy_conv(rs.dw[d], os_.depthwise[d])
                    _copy_bn(rs.bn[d], os_.norm[d])
    return ref
