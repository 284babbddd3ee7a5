"""Scoring rules the benchmark report applies to stored errors and predictions, beside :func:`landmark_error_report`:

- :func:`sdr_curve`: the SDR at many radii (the report's SDR curve figure), with the same tie rule as the SDR.
- :func:`gu2net_grid_errors`: GU2Net's resized-grid head protocol (REFERENCE section 1): points mapped onto a
  416 x 512 grid of the original 1935 x 2400 image and rounded to whole grid pixels, 0.46875 mm per grid pixel.

Inputs are numbers (arrays or nested lists), never files: the benchmarks read the records and datasets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monai_landmarks.metrics.landmark_error import RADIUS_RTOL

__all__ = ["GU2NET_GRID_SIZE", "GU2NET_GRID_SPACING_MM", "gu2net_grid_errors", "sdr_curve"]

#: GU2Net's head input: (width, height) of the grid the original image is resized to, and its pixel size
GU2NET_GRID_SIZE = (416, 512)
GU2NET_GRID_SPACING_MM = 0.46875


def sdr_curve(errors, radii: Sequence[float], strict: bool = False) -> np.ndarray:
    """Percentage of counted pairs with error ``<= r`` (``< r`` when ``strict``) for each radius in ``radii``.

    ``errors`` is an ``(N, K)`` table of radial errors; NaN pairs are skipped, ``+inf`` fails every radius. Ties
    within :data:`~monai_landmarks.metrics.landmark_error.RADIUS_RTOL` count as equal, as in the SDR of
    :func:`~monai_landmarks.metrics.landmark_error_report`; unlike it, a radius may be 0 (the curve's start).

    Raises:
        ValueError: ``errors`` is not two-dimensional or holds no counted pair, or a radius is negative.
    """
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 2:
        raise ValueError(f"errors: expected a (N, K) table of radial errors, got shape {e.shape}.")
    r = np.asarray(radii, dtype=np.float64)
    if r.ndim != 1 or not np.all(np.isfinite(r) & (r >= 0)):
        raise ValueError(f"radii must be a sequence of finite numbers >= 0, got {list(radii)}.")
    flat = np.sort(e[~np.isnan(e)])
    if flat.size == 0:
        raise ValueError("errors: no counted pair (every error is NaN).")
    if strict:
        hits = np.searchsorted(flat, r * (1.0 - RADIUS_RTOL), side="left")
    else:
        hits = np.searchsorted(flat, r * (1.0 + RADIUS_RTOL), side="right")
    return 100.0 * hits / flat.size


def _to_grid(points: np.ndarray, original_size_wh: Sequence[int], downsample_factor: float) -> np.ndarray:
    """Stored pixels -> original pixels (``u = (s + 0.5) * f - 0.5``) -> whole pixels of GU2Net's grid."""
    scale = np.asarray(GU2NET_GRID_SIZE, dtype=np.float64) / np.asarray(original_size_wh, dtype=np.float64)
    original = (points + 0.5) * downsample_factor - 0.5
    return np.round((original + 0.5) * scale - 0.5)  # half to even, as Python's round() in GU2Net's code


def gu2net_grid_errors(predicted, truth, original_size_wh: Sequence[int], downsample_factor: float = 1) -> np.ndarray:
    """Radial errors in mm under GU2Net's resized-grid head protocol.

    Args:
        predicted, truth: ``(N, K, 2)`` points ``(x, y)`` in pixels of the stored images.
        original_size_wh: ``(width, height)`` of the original images (1935 x 2400 for ISBI 2015).
        downsample_factor: original pixels per stored pixel.

    Both point sets go to the original grid, then to the 416 x 512 one, and are rounded to whole grid pixels, as
    GU2Net's integer argmax and quantised labels are; distances use 0.46875 mm on both axes, as GU2Net does.

    Returns:
        ``(N, K)`` float64 errors.

    Raises:
        ValueError: the point sets are not ``(N, K, 2)`` of the same shape.
    """
    p, t = np.asarray(predicted, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 2 or p.shape != t.shape:
        raise ValueError(f"predicted {p.shape} and truth {t.shape}: expected two (N, K, 2) arrays of one shape.")
    d = _to_grid(p, original_size_wh, downsample_factor) - _to_grid(t, original_size_wh, downsample_factor)
    return GU2NET_GRID_SPACING_MM * np.sqrt((d**2).sum(axis=-1))
