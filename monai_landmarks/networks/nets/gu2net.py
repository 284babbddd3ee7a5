"""GU2Net: the universal (multi-domain) global-local landmark network of "You Only Learn Once".

Zhu, Yao, Xiao, Zhou, "You Only Learn Once: Universal Anatomical Landmark Detection", MICCAI 2021,
https://arxiv.org/abs/2103.04657. Reference implementation: MIRACLE-Center/YOLO_Universal_Anatomical_Landmark_Detection
(``model/networks/u2net.py`` and ``gln.py``, MIT licence); this is a re-implementation from that description.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution, UpSample
from monai.networks.layers.factories import Conv
from torch import nn

from monai_landmarks.networks.blocks.fusion import fuse_modules
from monai_landmarks.networks.blocks.layout import check_layout, to_layout
from monai_landmarks.networks.blocks.separable import ConcatSeparableConv, DomainSeparableConv

__all__ = ["GU2Net", "GU2NetDomain"]

_LEAKY = ("leakyrelu", {"negative_slope": 0.01, "inplace": True})


def _as_domain_tuple(name: str, value: int | Sequence[int], num_domains: int | None) -> tuple[int, ...]:
    values = (value,) if isinstance(value, int) else tuple(value)
    if num_domains is not None and len(values) == 1:
        values = values * num_domains
    if len(values) == 0 or (num_domains is not None and len(values) != num_domains):
        raise ValueError(f"{name} must be an int or one int per domain ({num_domains} domains), got {value!r}.")
    for v in values:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must hold positive ints, got {value!r}.")
    return values


class _DoubleConv(nn.Module):
    """Two :class:`DomainSeparableConv` in a row (the U-Net "double conv")."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, num_domains: int) -> None:
        super().__init__()
        self.conv1 = DomainSeparableConv(2, in_channels, mid_channels, num_domains, act=_LEAKY)
        self.conv2 = DomainSeparableConv(2, mid_channels, out_channels, num_domains, act=_LEAKY)

    def domain_view(self, domain: int) -> nn.Sequential:
        return nn.Sequential(self.conv1.domain_view(domain), self.conv2.domain_view(domain))


class GU2Net(nn.Module):
    """GU2Net (global + universal U-Net), one model for several landmark datasets ("domains").

    Output for domain ``d``: ``sigmoid(global_d) * sigmoid(local_d)``, a heatmap in (0, 1) per landmark of ``d``,
    at the input resolution. Topology, as published:

    * **Local net** (universal U-Net): per-domain 1x1 conv ``in_d -> c0``; encoder of five double convs with widths
      ``channels = (c0, c1, c2, c3, c4) = (64, 128, 256, 512, 512)``, 2x2 max-pool before the last four; decoder of
      four steps "bilinear x2 up (align_corners=True), zero-pad to the skip's size if odd, concatenate [skip, up],
      double conv" with output widths ``(c2, c1, c0, c0)`` and middle width half the concatenated width; per-domain
      1x1 conv ``c0 -> K_d``, sigmoid. Every conv of a double conv is a :class:`DomainSeparableConv`: depthwise 3x3
      (per domain) -> pointwise 1x1 (shared) -> BatchNorm (per domain) -> LeakyReLU(0.01).
    * **Global net** (per domain): the image and the local heatmaps taken at every 4th pixel (nearest x0.25), a 3x3
      conv each to ``g // 2`` and ``(g + 1) // 2`` channels (``g``: the domain's ``global_channels``), concatenated;
      dilated 3x3 conv + BatchNorm + ReLU for each of ``dilations = (1, 2, 5, 2, 1)``; 1x1 conv to ``K_d``; sigmoid;
      nearest upsampling back to the input size.

    Parameters: 2,742,694 for one domain of 19 landmarks with 1 input channel (exactly the published count) and
    4,381,052 for three domains of (19, 37, 6) landmarks; each count is the original's. Every parameter is used by
    the forward pass of its domain.

    Layout: batches are MONAI channel-first ``(B, C, W, H)`` (spatial axis 0 is x); the network treats both spatial
    axes alike, so sizes are written ``(axis0, axis1)``: the published head input is ``(416, 512)``, hand
    ``(368, 512)``, chest ``(512, 512)``. Any spatial size of at least 16 works: sizes that are not multiples of 16
    are handled as in the original (max-pool floors, the upsampled map is zero-padded to the skip's size), so the
    output always has the input's size.

    Speed (same function and parameters as the original; measured in ``benchmarks/README.md``):

    * ``layout="auto"`` runs the local net in the channels-last (NHWC) layout, where oneDNN (CPU) runs depthwise
      and 1x1 convolutions 2-3x faster than in NCHW; the global net's dense 3x3 convolutions run NCHW while
      gradients are recorded (oneDNN's NHWC weight gradient of dense 3x3 convs is slow) and NHWC otherwise.
    * The decoder's first conv of each step takes ``[skip, upsampled]`` without materialising their concatenation
      (see :class:`~monai_landmarks.networks.blocks.ConcatSeparableConv`), which also avoids the gradient-slice
      copies of the concatenation.
    * The global sigmoid is applied before the nearest upsampling (the two commute) and the x0.25 nearest
      downsampling is a strided view.
    * For inference, ``for_domain(d, fuse=True)`` also folds every BatchNorm into the preceding convolution.

    Export: ``forward(x, domain)`` picks modules by ``domain`` and is eager-only. ``for_domain(d)`` returns a
    :class:`GU2NetDomain` sharing this network's parameters, whose ``forward(x)`` takes only the image and which
    ``torch.jit.script`` / ``torch.jit.trace`` (hence MONAI's ``ckpt_export``) accept.

    Args:
        spatial_dims: number of spatial dimensions; only 2 is supported.
        in_channels: image channels, one int for all domains or one per domain.
        out_channels: landmarks per domain, e.g. ``(19, 37, 6)``; an int means a single domain.
        channels: the five local-net widths ``(c0, c1, c2, c3, c4)``.
        global_channels: width of the global net (128 as published), one int for all domains or one per domain (each
            domain has its own global net, so each may have its own width).
        dilations: dilations of the global net's conv stack.
        global_stride: the global net works at ``1 / global_stride`` of the input resolution (4 as published).
        layout: activation memory layout, one of ``("auto", "channels_last", "channels_first")`` (see "Speed"); it
            changes speed only, never the function.

    Raises:
        ValueError: for ``spatial_dims != 2``, non-positive or mismatched channel numbers, ``channels`` not of length
            5, an empty or non-positive ``dilations``, ``global_stride < 1`` or an unknown ``layout``.

    Example::

        net = GU2Net(2, in_channels=1, out_channels=(19, 37, 6))
        heatmaps = net(torch.rand(2, 1, 416, 512), domain=0)  # (2, 19, 416, 512)
        scripted = torch.jit.script(net.for_domain(0).eval())
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int | Sequence[int],
        out_channels: int | Sequence[int],
        channels: Sequence[int] = (64, 128, 256, 512, 512),
        global_channels: int | Sequence[int] = 128,
        dilations: Sequence[int] = (1, 2, 5, 2, 1),
        global_stride: int = 4,
        layout: str = "auto",
    ) -> None:
        super().__init__()
        if spatial_dims != 2:
            raise ValueError(f"GU2Net supports spatial_dims=2 only, got {spatial_dims}.")
        self.out_channels = _as_domain_tuple("out_channels", out_channels, None)
        num_domains = len(self.out_channels)
        self.in_channels = _as_domain_tuple("in_channels", in_channels, num_domains)
        channels = tuple(channels)
        if len(channels) != 5:
            raise ValueError(f"channels must hold the 5 local-net widths (c0, c1, c2, c3, c4), got {channels!r}.")
        _as_domain_tuple("channels", channels, None)
        global_widths = _as_domain_tuple("global_channels", global_channels, num_domains)
        if min(global_widths) < 2:
            raise ValueError(f"global_channels must be at least 2 (image and local halves), got {global_channels!r}.")
        dilations = tuple(dilations)
        if len(dilations) == 0:
            raise ValueError("dilations must not be empty.")
        _as_domain_tuple("dilations", dilations, None)
        _as_domain_tuple("global_stride", global_stride, None)
        self.channels = channels
        self.global_channels = global_widths
        self.dilations = dilations
        self.global_stride = global_stride
        self.layout = check_layout(layout)

        c0, c1, c2, c3, c4 = channels
        conv = Conv[Conv.CONV, 2]
        self.local_in = nn.ModuleList([conv(cin, c0, 1) for cin in self.in_channels])
        self.encoder = nn.ModuleList(
            [
                _DoubleConv(cin, cout, cout, num_domains)
                for cin, cout in ((c0, c0), (c0, c1), (c1, c2), (c2, c3), (c3, c4))
            ]
        )
        ups = ((c4 + c3, c2), (c2 + c2, c1), (c1 + c1, c0), (c0 + c0, c0))
        self.decoder = nn.ModuleList([_DoubleConv(cin, cout, cin // 2, num_domains) for cin, cout in ups])
        self.local_out = nn.ModuleList([conv(c0, k, 1) for k in self.out_channels])

        widths = list(zip(self.in_channels, self.out_channels, global_widths, strict=True))
        self.global_in = nn.ModuleList([conv(cin, g // 2, 3, padding=1) for cin, _, g in widths])
        self.global_in_local = nn.ModuleList([conv(k, (g + 1) // 2, 3, padding=1) for _, k, g in widths])
        self.global_body = nn.ModuleList(
            [
                nn.Sequential(
                    *[
                        Convolution(
                            2,
                            g,
                            g,
                            kernel_size=3,
                            dilation=d,
                            adn_ordering="NA",
                            act=("relu", {"inplace": True}),
                            norm="batch",
                        )
                        for d in dilations
                    ]
                )
                for g in global_widths
            ]
        )
        self.global_out = nn.ModuleList([conv(g, k, 1) for _, k, g in widths])
        # weight layout = the layout the part runs in while training (oneDNN is much slower on mixed layouts)
        if self.layout != "channels_first":
            for part in (self.local_in, self.encoder, self.decoder, self.local_out):
                part.to(memory_format=torch.channels_last)
        if self.layout == "channels_last":
            for part in (self.global_in, self.global_in_local, self.global_body, self.global_out):
                part.to(memory_format=torch.channels_last)

    @property
    def num_domains(self) -> int:
        return len(self.out_channels)

    def _check_domain(self, domain: int) -> int:
        if isinstance(domain, bool) or not isinstance(domain, int) or not 0 <= domain < self.num_domains:
            raise ValueError(f"domain must be an int in [0, {self.num_domains}), got {domain!r}.")
        return domain

    def for_domain(self, domain: int = 0, fuse: bool = False) -> GU2NetDomain:
        """The single-domain network of ``domain``; ``forward(x)`` takes only the image.

        Args:
            domain: index into ``out_channels``.
            fuse: if False, the returned module shares this network's parameters (training it trains this network,
                ``train()``/``eval()`` on it switch the shared layers). If True, it is an independent copy for
                inference with every BatchNorm folded into the preceding convolution; its output equals this
                network's eval-mode output up to float rounding (about 1e-6).

        Raises:
            ValueError: when ``domain`` is not a valid index.
        """
        view = GU2NetDomain(self, self._check_domain(domain))
        return view.fuse() if fuse else view

    def forward(self, x: torch.Tensor, domain: int = 0) -> torch.Tensor:
        """Heatmaps ``(B, K_domain, W, H)`` in (0, 1) for a batch ``(B, in_channels[domain], W, H)``."""
        if isinstance(domain, torch.Tensor) and domain.numel() == 1:  # torch.onnx's tracer hands the default over
            domain = int(domain)
        return self.for_domain(domain)(x)

    def __prepare_scriptable__(self) -> GU2NetDomain:
        # torch.jit.script cannot index module lists by a run-time domain; scripting the universal network
        # (as MONAI's ckpt_export does by default) gives its domain 0, as tracing does
        return self.for_domain(0)


class _UpStep(nn.Module):
    """Decoder step: bilinear x2 (align_corners), zero-pad to the skip's size, double conv of ``cat([skip, up])``."""

    def __init__(self, first: ConcatSeparableConv, second: nn.Sequential) -> None:
        super().__init__()
        self.upsample = UpSample(2, scale_factor=2, mode="nontrainable", interp_mode="bilinear", align_corners=True)
        self.first = first
        self.second = second

    def forward(self, y: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        y = self.upsample(y)
        dw = skip.shape[2] - y.shape[2]
        dh = skip.shape[3] - y.shape[3]
        if dw != 0 or dh != 0:  # odd sizes, as the original: pad the upsampled map (left/top get the smaller half)
            y = F.pad(y, [dh // 2, dh - dh // 2, dw // 2, dw - dw // 2])
        return self.second(self.first(skip, y))  # = double_conv(cat([skip, y], dim=1))


class GU2NetDomain(nn.Module):
    """One domain of a :class:`GU2Net` as a plain module: ``forward(x)`` -> heatmaps; scriptable and traceable.

    Built by :meth:`GU2Net.for_domain`; it holds the domain's layers of the parent network (shared, not copied)
    unless made by :meth:`fuse`.

    A traced (not scripted) copy is specialised to whether the traced input size is a multiple of 16 (the zero-pad
    step of odd sizes is recorded or not); trace with the size you will run, or script.
    """

    def __init__(self, net: GU2Net, domain: int) -> None:
        super().__init__()
        self.domain = domain
        self.in_channels = net.in_channels[domain]
        self.out_channels = net.out_channels[domain]
        self.global_stride = net.global_stride
        self.layout = net.layout
        self.local_in = net.local_in[domain]
        self.stem = net.encoder[0].domain_view(domain)
        self.down = nn.ModuleList([block.domain_view(domain) for block in net.encoder[1:]])
        skip_channels = (net.channels[3], net.channels[2], net.channels[1], net.channels[0])
        self.up = nn.ModuleList(
            [
                _UpStep(ConcatSeparableConv(block.conv1.domain_view(domain), c), block.conv2.domain_view(domain))
                for block, c in zip(net.decoder, skip_channels, strict=True)
            ]
        )
        self.local_out = net.local_out[domain]
        self.global_in = net.global_in[domain]
        self.global_in_local = net.global_in_local[domain]
        self.global_body = net.global_body[domain]
        self.global_out = net.global_out[domain]

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError("GU2Net expects a (B, C, W, H) batch, got " + str(x.dim()) + " dimensions.")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                "GU2Net domain "
                + str(self.domain)
                + " expects "
                + str(self.in_channels)
                + " input channels, got "
                + str(x.shape[1])
                + "."
            )
        if x.shape[2] < 16 or x.shape[3] < 16:
            raise ValueError("GU2Net needs spatial sizes of at least 16 (4 max-pools), got " + str(list(x.shape[2:])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing():
            self._check_input(x)
        x = to_layout(x, self.layout != "channels_first")

        # local net
        if self.layout == "channels_first":
            y = self.local_in(x)
        else:  # the 1x1 input conv as a matrix product on the NHWC view: oneDNN answers a 1-channel input in NCHW
            w = self.local_in.weight
            y = F.linear(x.permute(0, 2, 3, 1), w.reshape(w.shape[0], w.shape[1]), self.local_in.bias)
            y = y.permute(0, 3, 1, 2)
        y = self.stem(y)
        skips = [y]
        for block in self.down:
            y = block(F.max_pool2d(y, 2))
            skips.append(y)
        n = len(skips)
        for i, step in enumerate(self.up):
            y = step(y, skips[n - 2 - i])
        local = torch.sigmoid(self.local_out(y))

        # global net, at 1/s of the resolution (nearest = every s-th pixel, as F.interpolate(scale_factor=1/s))
        s = self.global_stride
        w = (x.shape[2] // s) * s
        h = (x.shape[3] // s) * s
        nhwc = self.layout == "channels_last" or (
            self.layout == "auto" and (not torch.is_grad_enabled() or torch.jit.is_tracing())
        )
        xs = to_layout(x[:, :, :w:s, :h:s], nhwc)
        ls = to_layout(local[:, :, :w:s, :h:s], nhwc)
        g = torch.cat([self.global_in(xs), self.global_in_local(ls)], dim=1)
        g = torch.sigmoid(self.global_out(self.global_body(g))).contiguous()
        g = F.interpolate(g, size=[x.shape[2], x.shape[3]], mode="nearest")
        return (g * local).contiguous()  # NCHW first operand: the product is written NCHW, no extra copy

    def fuse(self) -> GU2NetDomain:
        """An independent inference copy (eval mode, no gradients) with every BatchNorm folded into its conv."""
        fused = fuse_modules(copy.deepcopy(self).eval())  # each block folds its own norms
        if self.layout != "channels_first":  # the fused copy runs without gradients: NHWC global convs
            fused.global_in.to(memory_format=torch.channels_last)
            fused.global_in_local.to(memory_format=torch.channels_last)
            fused.global_body.to(memory_format=torch.channels_last)
        for p in fused.parameters():
            p.requires_grad_(False)
        return fused.eval()
