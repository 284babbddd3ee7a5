"""The one coordinate contract of monai-landmarks.

Every module of the package holds landmarks the way this module says; dataset-specific orders are converted
only where data is read (``monai_landmarks.data``).

Layout
    One image's landmarks are a float tensor of shape ``(1, K, 2)``: one channel, ``K`` landmarks, two
    coordinates. This is the ``(C, N, dims)`` layout of MONAI's ``ApplyTransformToPoints``. A batch is
    ``(B, K, 2)`` (the channel axis of each sample becomes the batch axis). NumPy input is accepted by the
    helpers and returned as torch tensors.

Axis order
    Images are MONAI channel-first arrays whose spatial axis 0 is x (the column, the image width) and axis 1
    is y (the row, the image height): a PNG of width W and height H loads as ``(C, W, H)``, which is what
    MONAI's ``LoadImage`` gives by default for 2D files. Coordinate ``d`` of a landmark indexes spatial axis
    ``d``, so a landmark is ``(x, y)`` and no code ever swaps axes. Sizes are written ``(W, H)``.

Pixel centres
    Coordinates are in pixels, 0-based, pixel-centre: the centre of the first pixel is ``0.0`` and the
    pixel covers ``[-0.5, 0.5)``. An image of size ``n`` along an axis spans ``[-0.5, n - 0.5)``. This is
    the convention of ``../shared/datasets`` and of MONAI affines (index ``i`` maps to the centre of voxel
    ``i``).

Resolutions
    A change of resolution by a factor ``f`` (new pixels per old pixel) scales about the pixel grid's outer
    edge: ``u_new = (u + 0.5) * f - 0.5``. A heatmap with stride ``s`` (one heatmap pixel per ``s`` image
    pixels) therefore holds the landmark at ``(u + 0.5) / s - 0.5``. Distances scale by exactly ``f``.

Physical units
    ``spacing`` is millimetres per pixel of the image the coordinates refer to, one value per axis (x, y).
    NaN spacing means unknown; errors are then reported in pixels.

Missing landmarks
    A landmark that is not annotated is ``NaN`` in both coordinates. Helpers propagate NaN; codecs give
    missing landmarks an empty target and a zero weight; metrics skip them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "SPATIAL_DIMS",
    "as_landmarks",
    "distance",
    "from_stride",
    "inside_image",
    "missing_mask",
    "rescale",
    "to_stride",
    "transform_points",
    "wrist_scale",
]

SPATIAL_DIMS = 2


def as_landmarks(points, num_landmarks: int | None = None, name: str = "landmarks") -> torch.Tensor:
    """Return ``points`` as a float32 ``(1, K, 2)`` tensor, accepting ``(K, 2)`` or ``(1, K, 2)``.

    Args:
        points: array-like of landmark coordinates in the package's (x, y) pixel-centre convention.
        num_landmarks: if given, the required ``K``.
        name: how to name the input in error messages (for example a file name).

    Raises:
        ValueError: if the shape is not ``(K, 2)`` or ``(1, K, 2)``, ``K`` differs from ``num_landmarks``,
            or a coordinate is infinite.
    """
    t = torch.as_tensor(np.asarray(points, dtype=np.float32) if not torch.is_tensor(points) else points)
    t = t.to(torch.float32)
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3 or t.shape[0] != 1 or t.shape[-1] != SPATIAL_DIMS:
        raise ValueError(f"{name}: expected landmarks of shape (K, 2) or (1, K, 2), got {tuple(t.shape)}.")
    if num_landmarks is not None and t.shape[1] != num_landmarks:
        raise ValueError(f"{name}: expected {num_landmarks} landmarks, got {t.shape[1]}.")
    if torch.isinf(t).any():
        raise ValueError(f"{name}: landmark coordinates must be finite or NaN (missing), found infinity.")
    return t


def missing_mask(points: torch.Tensor) -> torch.Tensor:
    """True where a landmark is missing (any coordinate NaN); shape ``points.shape[:-1]``."""
    return torch.isnan(torch.as_tensor(points)).any(dim=-1)


def rescale(points: torch.Tensor, factor: float | Sequence[float]) -> torch.Tensor:
    """Map coordinates to a grid resampled by ``factor`` new pixels per old pixel (per axis or scalar)."""
    points = torch.as_tensor(points)
    f = torch.as_tensor(factor, dtype=points.dtype, device=points.device)
    return (points + 0.5) * f - 0.5


def to_stride(points: torch.Tensor, stride: float | Sequence[float]) -> torch.Tensor:
    """Image coordinates -> coordinates in a heatmap with ``stride`` image pixels per heatmap pixel."""
    s = torch.as_tensor(stride, dtype=torch.as_tensor(points).dtype)
    return rescale(points, 1.0 / s)


def from_stride(points: torch.Tensor, stride: float | Sequence[float]) -> torch.Tensor:
    """Heatmap coordinates at ``stride`` -> image coordinates (the inverse of :func:`to_stride`)."""
    return rescale(points, stride)


def inside_image(points: torch.Tensor, size: Sequence[int], tolerance: float = 0.0) -> torch.Tensor:
    """True where a landmark lies on the image of spatial ``size`` ``(W, H)``: ``-0.5 <= u < n - 0.5``.

    ``tolerance`` (pixels) widens the image by that much on every side: ``-0.5 - t <= u < n - 0.5 + t``.
    Missing landmarks are reported as inside (they have no position to be outside of).
    """
    points = torch.as_tensor(points)
    n = torch.as_tensor(size, dtype=points.dtype, device=points.device)
    ok = ((points >= -0.5 - tolerance) & (points < n - 0.5 + tolerance)).all(dim=-1)
    return ok | missing_mask(points)


def distance(a: torch.Tensor, b: torch.Tensor, spacing=None) -> torch.Tensor:
    """Euclidean distance between ``(..., 2)`` points, in pixels or, with ``spacing``, in millimetres.

    ``spacing`` is mm per pixel, broadcastable to ``(..., 2)``: a scalar, a per-axis ``(sx, sy)``, or
    per-image values such as ``(B, 1, 2)``. Axes are scaled before the norm, so anisotropic pixels are
    measured correctly. NaN where either point is missing.
    """
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    offset = a - b
    if spacing is not None:
        offset = offset * torch.as_tensor(spacing, dtype=torch.float64, device=offset.device)
    return offset.norm(dim=-1)


def wrist_scale(target: torch.Tensor, pair: tuple[int, int], width_mm: float) -> torch.Tensor:
    """Millimetres per pixel when the distance between landmarks ``pair`` is taken as ``width_mm``.

    The hand protocol (REFERENCE section 1) has no calibrated spacing and assumes a wrist width
    (:class:`~monai_landmarks.metrics.ErrorProtocol` holds it, 50 mm by default).
    ``target`` is ``(..., K, 2)`` ground truth; returns ``(...)``. NaN where the pair is missing or coincident.
    """
    target = torch.as_tensor(target, dtype=torch.float64)
    a, b = pair
    width = (target[..., a, :] - target[..., b, :]).norm(dim=-1)
    return torch.where(width > 0, width_mm / width, torch.full_like(width, float("nan")))


def transform_points(points: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply a homogeneous ``(3, 3)`` matrix (or ``(4, 4)``, using its x/y part) to ``(..., 2)`` points.

    Computed in float64 (affines chain; float32 drifts by hundredths of a pixel on 2000-pixel images) and
    returned in the points' dtype. NaN stays NaN.
    """
    points = torch.as_tensor(points)
    m = torch.as_tensor(matrix, dtype=torch.float64, device=points.device)
    if m.shape == (4, 4):
        m = m[[0, 1, 3]][:, [0, 1, 3]]
    if m.shape != (3, 3):
        raise ValueError(f"expected a 3x3 or 4x4 affine matrix, got shape {tuple(m.shape)}.")
    p = points.to(torch.float64)
    out = p @ m[:2, :2].T + m[:2, 2]
    return out.to(points.dtype)
