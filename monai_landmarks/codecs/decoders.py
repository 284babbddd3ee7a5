"""Heatmap decoders: heatmaps -> landmarks in image pixels, and a confidence per landmark.

Every decoder takes heatmaps of shape ``(..., w, h)``, usually ``(B, K, w, h)`` (axis -2 is x, axis -1 is y,
see :mod:`monai_landmarks.codecs.gaussian` for the pixel-centre convention), and returns

- landmarks ``(..., 2)`` in IMAGE pixels: the heatmap position mapped with
  :func:`monai_landmarks.utils.coords.from_stride`;
- confidence ``(...)``: the heatmap's maximum value (the raw value at the integer peak, before any
  refinement or blur), so an empty channel has confidence 0.

An all-equal channel (for example the empty target of a missing landmark) has its "peak" at heatmap pixel
``(0, 0)``: decoders always return a position and leave it to the confidence to say it means nothing.

All decoders are vectorised over the leading axes and run on the heatmaps' device. NaN in a heatmap is not
handled (it propagates).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from monai.utils import StrEnum, look_up_option

from monai_landmarks.utils import coords

__all__ = [
    "HeatmapDecoder",
    "decode_argmax",
    "decode_argmax_shift",
    "decode_dark",
    "decode_soft_argmax",
    "decode_softmax",
    "decoder_function",
]


class HeatmapDecoder(StrEnum):
    """Names of the decoders."""

    ARGMAX = "argmax"  #: integer peak
    ARGMAX_SHIFT = "argmax_shift"  #: peak plus a quarter pixel toward the higher neighbour (HTC, MMPose)
    DARK = "dark"  #: Taylor expansion of the log-heatmap at the peak (Zhang et al., CVPR 2020)
    SOFT_ARGMAX = "soft_argmax"  #: weighted mean of a window around the peak
    SOFTMAX = "softmax"  #: spatial softmax of logits, then the mean position in a window around the peak


def _flat(heatmaps: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    if heatmaps.ndim < 2:
        raise ValueError(f"heatmaps: expected shape (..., w, h), got {tuple(heatmaps.shape)}.")
    lead = tuple(heatmaps.shape[:-2])
    return heatmaps.reshape(-1, *heatmaps.shape[-2:]), lead


def _peak(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer ``(N, 2)`` (x, y) of each channel's maximum and the maximum values ``(N,)``."""
    h = flat.shape[-1]
    values, index = flat.flatten(1).max(dim=1)
    return torch.stack((index // h, index % h), dim=1), values


def _patch(flat: torch.Tensor, centre: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Values ``(N, P, P)`` (``P = 2 radius + 1``) around ``centre``, zero off the heatmap, and the on-map mask."""
    n, w, h = flat.shape
    offsets = torch.arange(-radius, radius + 1, device=flat.device)
    ix = centre[:, 0:1] + offsets
    iy = centre[:, 1:2] + offsets
    inside = ((ix >= 0) & (ix < w))[:, :, None] & ((iy >= 0) & (iy < h))[:, None, :]
    index = ix.clamp(0, w - 1)[:, :, None] * h + iy.clamp(0, h - 1)[:, None, :]
    values = flat.flatten(1).gather(1, index.flatten(1)).reshape(n, 2 * radius + 1, 2 * radius + 1)
    return values * inside, inside


def _finish(position: torch.Tensor, confidence: torch.Tensor, lead: tuple[int, ...], stride: int):
    points = coords.from_stride(position.to(torch.float64), stride).to(torch.float32)
    return points.reshape(*lead, 2), confidence.to(torch.float32).reshape(lead)


def decode_argmax(heatmaps: torch.Tensor, stride: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer peak. Error up to half a heatmap pixel per axis (``stride / 2`` image pixels).

    Args:
        heatmaps: ``(..., w, h)``.
        stride: image pixels per heatmap pixel.

    Returns:
        landmarks ``(..., 2)`` in image pixels and confidence ``(...)``.
    """
    flat, lead = _flat(heatmaps)
    peak, value = _peak(flat)
    return _finish(peak, value, lead, stride)


def decode_argmax_shift(heatmaps: torch.Tensor, stride: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer peak shifted by a quarter pixel toward the higher neighbour on each axis (HTC, MMPose 0.x).

    No shift along an axis where the peak is on the border or both neighbours are equal.
    """
    flat, lead = _flat(heatmaps)
    peak, value = _peak(flat)
    around, inside = _patch(flat, peak, 1)
    # Neighbours along x are around[:, 0/2, 1], along y around[:, 1, 0/2]; both must exist.
    dx = (around[:, 2, 1] - around[:, 0, 1]) * (inside[:, 0, 1] & inside[:, 2, 1])
    dy = (around[:, 1, 2] - around[:, 1, 0]) * (inside[:, 1, 0] & inside[:, 1, 2])
    position = peak.to(torch.float32) + 0.25 * torch.stack((dx.sign(), dy.sign()), dim=1).to(torch.float32)
    return _finish(position, value, lead, stride)


def _gaussian_kernel(sigma: float, radius: int, device, dtype) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-(x**2) / (2.0 * sigma**2))
    return k / k.sum()


def decode_dark(
    heatmaps: torch.Tensor,
    stride: int = 1,
    sigma: float = 2.0,
    blur: bool = True,
    truncate: float = 3.0,
    eps: float = 1e-10,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DARK: second-order Taylor expansion of the log-heatmap at the integer peak (Zhang et al., CVPR 2020).

    The offset is ``-H^-1 g``, with the gradient ``g`` and Hessian ``H`` of ``log(max(heatmap, eps))`` from
    central finite differences at the peak. For an exact Gaussian the log is quadratic and the expansion exact.
    With ``blur`` (DARK's modulation, meant for network output) the heatmap is first smoothed with a Gaussian
    of ``sigma`` truncated at ``truncate`` sigmas; only the 3 x 3 values needed around each peak are computed.
    The peak is taken on the unblurred heatmap, as in DARK and MMPose.

    Borders: a blur window that would leave the heatmap is not used (zero padding would pull the estimate
    inward by up to a pixel), so peaks within ``ceil(truncate * sigma) + 1`` pixels of the edge are refined
    unblurred; along an axis where the peak is on the outermost pixel there is no central difference, and the
    integer position is kept on that axis (error up to half a pixel). Where the log-heatmap is not locally
    concave (flat or saddle-shaped, for example an empty channel) the integer peak is kept; offsets are clamped
    to one pixel per axis.

    Args:
        heatmaps: ``(..., w, h)``.
        stride: image pixels per heatmap pixel.
        sigma: Gaussian standard deviation of the blur, in heatmap pixels (the target's sigma).
        blur: smooth before the expansion.
        truncate: blur window half-width in multiples of ``sigma``.
        eps: floor of the heatmap before the log (network output can be zero or negative).

    Returns:
        landmarks ``(..., 2)`` in image pixels and confidence ``(...)``.
    """
    flat, lead = _flat(heatmaps)
    peak, value = _peak(flat)
    around, inside = _patch(flat, peak, 1)
    around = around.to(torch.float64)
    if blur:
        radius = math.ceil(truncate * sigma)
        patch, patch_inside = _patch(flat, peak, radius + 1)
        k = _gaussian_kernel(sigma, radius, flat.device, torch.float64)
        # Separable 'valid' convolution of the (2r + 3)^2 patch down to the 3 x 3 values around the peak.
        blurred = (patch.to(torch.float64).unfold(1, k.numel(), 1) * k).sum(-1)
        blurred = (blurred.unfold(2, k.numel(), 1) * k).sum(-1)
        whole = patch_inside.flatten(1).all(dim=1)
        around = torch.where(whole[:, None, None], blurred, around)
    log = around.clamp_min(eps).log()
    # On the outermost pixel an axis has no central difference: no offset there, and no coupling term.
    border_x = ~(inside[:, 0, 1] & inside[:, 2, 1])
    border_y = ~(inside[:, 1, 0] & inside[:, 1, 2])
    gx = 0.5 * (log[:, 2, 1] - log[:, 0, 1]) * ~border_x
    gy = 0.5 * (log[:, 1, 2] - log[:, 1, 0]) * ~border_y
    hxx = torch.where(border_x, -1.0, log[:, 2, 1] - 2.0 * log[:, 1, 1] + log[:, 0, 1])
    hyy = torch.where(border_y, -1.0, log[:, 1, 2] - 2.0 * log[:, 1, 1] + log[:, 1, 0])
    hxy = 0.25 * (log[:, 2, 2] - log[:, 2, 0] - log[:, 0, 2] + log[:, 0, 0]) * ~(border_x | border_y)
    det = hxx * hyy - hxy**2
    concave = (det > 0) & (hxx < 0)
    safe_det = torch.where(concave, det, torch.ones_like(det))
    ox = -(hyy * gx - hxy * gy) / safe_det
    oy = -(hxx * gy - hxy * gx) / safe_det
    offset = torch.stack((ox, oy), dim=1) * concave[:, None]
    position = peak.to(torch.float64) + offset.clamp(-1.0, 1.0)
    return _finish(position, value, lead, stride)


def decode_soft_argmax(
    heatmaps: torch.Tensor, stride: int = 1, radius: int = 4, beta: float = 2.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Local soft-argmax: the mean position in a window around the integer peak, weighted by ``max(v, 0)^beta``.

    No softmax: the weights are the heatmap values themselves. A window cuts a Gaussian's tails unevenly
    (the peak pixel is up to half a pixel off the true centre), which biases a plain weighted mean; ``beta > 1``
    narrows the Gaussian by ``sqrt(beta)`` so the cut-off tail mass becomes negligible. On clean targets, in
    heatmap pixels: ``beta = 2`` with ``radius = ceil(2 sigma)`` is within 0.015 px and with the target's own
    window ``ceil(3 sigma)`` (the codec's default) within 0.001 px; ``beta = 1`` with ``ceil(2 sigma)`` can be
    off by 0.1 px.

    Borders: the window stays symmetric about the peak, so near an edge its half-width along that axis shrinks
    to the peak's distance from the edge (a window clipped on one side only would pull the estimate inward by
    up to ``radius / 2``). The estimate then degrades smoothly toward the integer peak, which it equals on the
    outermost pixel. A window without positive values keeps the integer peak.

    Args:
        heatmaps: ``(..., w, h)``.
        stride: image pixels per heatmap pixel.
        radius: window half-width in heatmap pixels (the codec uses its target's, ``ceil(truncate * sigma)``).
        beta: exponent of the weights.

    Returns:
        landmarks ``(..., 2)`` in image pixels and confidence ``(...)``.
    """
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise ValueError(f"radius must be a positive integer, got {radius!r}.")
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta!r}.")
    flat, lead = _flat(heatmaps)
    peak, value = _peak(flat)
    around, _ = _patch(flat, peak, radius)
    # symmetric half-widths (N, 2); the sizes stay traced values, so an ONNX export keeps dynamic heatmap sizes
    to_end = torch.stack((flat.shape[1] - 1 - peak[:, 0], flat.shape[2] - 1 - peak[:, 1]), dim=1)
    reach = torch.minimum(peak, to_end).clamp_max(radius)
    offsets = torch.arange(-radius, radius + 1, device=flat.device)
    keep_x = offsets.abs() <= reach[:, 0:1]
    keep_y = offsets.abs() <= reach[:, 1:2]
    weight = around.to(torch.float64).clamp_min(0.0) ** beta * (keep_x[:, :, None] & keep_y[:, None, :])
    offsets = offsets.to(torch.float64)
    total = weight.sum(dim=(1, 2))
    ox = (weight.sum(dim=2) * offsets).sum(dim=1)
    oy = (weight.sum(dim=1) * offsets).sum(dim=1)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    offset = torch.stack((ox, oy), dim=1) / safe[:, None]
    position = peak.to(torch.float64) + offset
    return _finish(position, value, lead, stride)


def decode_softmax(heatmaps: torch.Tensor, stride: int = 1, radius: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """For logit heatmaps trained with a spatial softmax (the refiner's): softmax over each channel's pixels,
    then the probability-weighted mean position in a window around the peak (:func:`decode_soft_argmax` with
    ``beta = 1``).

    The confidence is the probability mass inside that window, in ``[0, 1]``: how sure the network is that the
    landmark lies within ``radius`` heatmap pixels of the returned position.
    """
    flat, lead = _flat(heatmaps)
    prob = torch.softmax(flat.flatten(1).to(torch.float32), dim=1).view_as(flat)
    points, _ = decode_soft_argmax(prob, stride=1, radius=radius, beta=1.0)  # (N, 2) heatmap pixels
    peak, _ = _peak(prob)
    around, _ = _patch(prob, peak, radius)
    mass = around.sum(dim=(1, 2))
    return _finish(points, mass, lead, stride)


_DECODERS: dict[HeatmapDecoder, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    HeatmapDecoder.ARGMAX: decode_argmax,
    HeatmapDecoder.ARGMAX_SHIFT: decode_argmax_shift,
    HeatmapDecoder.DARK: decode_dark,
    HeatmapDecoder.SOFT_ARGMAX: decode_soft_argmax,
    HeatmapDecoder.SOFTMAX: decode_softmax,
}


def decoder_function(name: HeatmapDecoder | str) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The decoder function of a :class:`HeatmapDecoder` name; ValueError listing the options otherwise."""
    return _DECODERS[look_up_option(name, HeatmapDecoder)]
