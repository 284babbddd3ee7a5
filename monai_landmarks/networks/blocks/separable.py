"""Domain-specific separable convolution, the building block of GU2Net's universal U-Net.

Zhu et al., "You Only Learn Once: Universal Anatomical Landmark Detection", MICCAI 2021,
https://arxiv.org/abs/2103.04657.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer, get_norm_layer
from torch import nn

from monai_landmarks.networks.blocks.fusion import fold_batch_norm

__all__ = ["ConcatSeparableConv", "DomainSeparableConv", "SeparableView", "fuse_separable"]


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


class DomainSeparableConv(nn.Module):
    """Depthwise conv (one per domain) -> pointwise 1x1 conv (shared) -> norm (one per domain) -> activation.

    The depthwise kernels and the normalisation layers hold what is specific to each domain (dataset); the
    pointwise convolution, which holds almost all of the weights, is shared by all domains. Both convolutions
    have a bias, as in the published implementation.

    ``forward(x, domain)`` runs the layers of one domain. :meth:`domain_view` returns the same computation as a
    :class:`SeparableView` of the shared modules (no copies), which TorchScript can script and trace; its ``fuse()``
    folds the normalisation into the pointwise convolution for inference.

    Args:
        spatial_dims: number of spatial dimensions; 2 (the only one GU2Net uses) or 3.
        in_channels: input channels (the depthwise conv keeps this number).
        out_channels: output channels of the pointwise conv.
        num_domains: number of domains, i.e. of depthwise kernels and normalisation layers.
        kernel_size: depthwise kernel size (odd); padding keeps the spatial size.
        act: activation (name or (name, kwargs)), LeakyReLU(0.01) by default as published.
        norm: normalisation (name or (name, kwargs)), batch norm by default as published.

    Raises:
        ValueError: when a size is not a positive int or ``kernel_size`` is even.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        num_domains: int = 1,
        kernel_size: int = 3,
        act: tuple | str = ("leakyrelu", {"negative_slope": 0.01, "inplace": True}),
        norm: tuple | str = "batch",
    ) -> None:
        super().__init__()
        for name, value in (
            ("spatial_dims", spatial_dims),
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("num_domains", num_domains),
            ("kernel_size", kernel_size),
        ):
            _check_positive(name, value)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd so that the spatial size is kept, got {kernel_size}.")
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.depthwise = nn.ModuleList(
            [
                conv_type(in_channels, in_channels, kernel_size, padding=kernel_size // 2, groups=in_channels)
                for _ in range(num_domains)
            ]
        )
        self.pointwise = conv_type(in_channels, out_channels, 1)
        self.norm = nn.ModuleList(
            [get_norm_layer(norm, spatial_dims=spatial_dims, channels=out_channels) for _ in range(num_domains)]
        )
        self.act = get_act_layer(act)

    @property
    def num_domains(self) -> int:
        return len(self.depthwise)

    def forward(self, x: torch.Tensor, domain: int = 0) -> torch.Tensor:
        x = self.pointwise(self.depthwise[domain](x))
        return self.act(self.norm[domain](x))

    def domain_view(self, domain: int) -> SeparableView:
        """The layers of one domain as ``SeparableView(depthwise, pointwise, norm, act)``; shares the parameters."""
        if not 0 <= domain < self.num_domains:
            raise ValueError(f"domain must be in [0, {self.num_domains}), got {domain}.")
        return SeparableView(self.depthwise[domain], self.pointwise, self.norm[domain], self.act)


class SeparableView(nn.Sequential):
    """One domain of a :class:`DomainSeparableConv`: ``Sequential(depthwise, pointwise, norm, act)``.

    A plain ``nn.Sequential`` (same state dict, scriptable) that knows how to fold itself: :meth:`fuse`.
    """

    def fuse(self) -> nn.Sequential:
        """The inference copy with the norm folded into the pointwise conv (:func:`fuse_separable`)."""
        return fuse_separable(self)


class ConcatSeparableConv(nn.Module):
    """``separable(torch.cat([a, b], dim=1))`` computed without building the concatenation (2D).

    A depthwise conv acts on each channel alone and a pointwise conv is a sum over input channels, so for
    ``x = cat([a, b])``: ``pw(dw(x)) = pw_a(dw_a(a)) + pw_b(dw_b(b))`` with the kernels split at ``a``'s channel
    count. This saves writing the concatenated tensor and, in training, the copies that slicing its gradient
    causes in the channels-last layout. The result equals the concatenating form up to float rounding.

    Args:
        separable: ``Sequential(depthwise, pointwise, norm, act)`` (a :meth:`DomainSeparableConv.domain_view`, or
            its :func:`fuse_separable` form ``Sequential(depthwise, pointwise, act)``); its modules are shared.
        split: number of channels of the first input ``a``.

    Raises:
        ValueError: when ``split`` does not leave channels for both inputs.
    """

    def __init__(self, separable: nn.Sequential, split: int) -> None:
        super().__init__()
        self.depthwise = separable[0]
        self.pointwise = separable[1]
        self.post = nn.Sequential(*list(separable)[2:])
        channels = self.depthwise.in_channels
        if not 0 < split < channels:
            raise ValueError(f"split must be in (0, {channels}), got {split}.")
        self.split = split
        self.padding = self.depthwise.padding[0]

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        s = self.split
        wd = self.depthwise.weight
        bd = self.depthwise.bias
        wp = self.pointwise.weight
        bd_a = None if bd is None else bd[:s]
        bd_b = None if bd is None else bd[s:]
        da = F.conv2d(a, wd[:s], bd_a, padding=self.padding, groups=s)
        db = F.conv2d(b, wd[s:], bd_b, padding=self.padding, groups=wd.shape[0] - s)
        y = F.conv2d(da, wp[:, :s], self.pointwise.bias) + F.conv2d(db, wp[:, s:])
        return self.post(y)

    def fuse(self) -> ConcatSeparableConv:
        """An inference copy with the norm of ``post`` folded into the pointwise conv (a copy as is if none)."""
        if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.post):
            return copy.deepcopy(self)
        view = nn.Sequential(self.depthwise, self.pointwise, *self.post)
        return ConcatSeparableConv(fuse_separable(view), self.split)


def fuse_separable(view: nn.Sequential) -> nn.Sequential:
    """Fold the batch norm of a :meth:`DomainSeparableConv.domain_view` into its pointwise conv (inference only).

    Returns ``Sequential(depthwise, pointwise_with_norm_folded_in, act)`` built from copies; ``view`` and the
    network it comes from are left unchanged. The result equals the eval-mode output of ``view`` (running
    statistics are used) up to float rounding.

    Raises:
        ValueError: when ``view`` is not ``Sequential(conv, conv, batch norm, act)``.
    """
    if len(view) != 4:
        raise ValueError(
            f"fuse_separable expects Sequential(depthwise, pointwise, norm, act), got {len(view)} modules."
        )
    depthwise, pointwise, norm, act = view
    return nn.Sequential(copy.deepcopy(depthwise), fold_batch_norm(pointwise, norm), copy.deepcopy(act))
