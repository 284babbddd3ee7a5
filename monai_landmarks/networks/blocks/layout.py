"""Memory layout (NCHW or NHWC) of activations: the option shared by the networks, and the conversion."""

from __future__ import annotations

import torch

__all__ = ["LAYOUTS", "check_layout", "to_layout"]

#: ``"auto"``: each network picks the faster layout per part and per mode (documented on the network);
#: ``"channels_last"``: NHWC everywhere; ``"channels_first"``: NCHW everywhere (PyTorch's default).
LAYOUTS = ("auto", "channels_last", "channels_first")


def check_layout(layout: str) -> str:
    """Return ``layout`` if it is one of :data:`LAYOUTS`, else raise ``ValueError`` listing them."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}.")
    return layout


def to_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` (4D) as a dense NHWC-strided (``channels_last=True``) or NCHW-contiguous tensor; a no-op if it is one.

    Unlike ``x.contiguous(memory_format=torch.channels_last)``, this also gives NHWC strides to one-channel tensors
    (for which PyTorch keeps NCHW strides, so that a following convolution would answer in NCHW).
    """
    if channels_last:
        y = x.contiguous(memory_format=torch.channels_last)
        if y.shape[1] == 1:  # dense either way: the same memory seen with NHWC strides
            y = y.as_strided(y.shape, [y.shape[2] * y.shape[3], 1, y.shape[3], 1])
        return y
    return x.contiguous()
