"""The film a phantom is drawn on, and its exposure.

:class:`Film` accumulates projected bone attenuation and the union of soft tissue from shapes given in
canonical mm; bones are signed-distance shapes with a bright cortical rim, soft tissue the union of its
shapes with a smooth edge. :func:`expose` turns that into a radiograph: film response, blur, scatter fog and
heel effect, gamma and window, then quantum and read noise. Everything is vectorised numpy on small windows
round each shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .geometry import Pose, sd_capsule, sd_ellipse, sd_polygon, sd_polyline

SOFT_RAMP_MM = 9.0  # soft tissue thickens over this distance from the skin line


def _bone_profile(sd, cortex: float, marrow: float) -> np.ndarray:
    """Projected density of a bone: 1 on a cortical rim ``cortex`` pixels wide, ``marrow`` inside.

    Edges ramp over one pixel, so shapes are anti-aliased at any size.
    """
    edge = np.clip(sd + 0.5, 0.0, 1.0)
    inner = np.clip(sd - cortex + 0.5, 0.0, 1.0)
    return edge - (1.0 - marrow) * inner


class Film:
    """Accumulates projected bone attenuation and the union of soft tissue; shapes are in canonical mm."""

    def __init__(self, size, pose: Pose) -> None:
        self.size = (int(size[0]), int(size[1]))
        self.pose = pose
        self.bone = np.zeros(self.size, dtype=np.float32)
        self.soft = np.full(self.size, -np.inf, dtype=np.float32)  # signed distance (px) to the skin
        self._gx = np.arange(self.size[0], dtype=np.float32)[:, None]
        self._gy = np.arange(self.size[1], dtype=np.float32)[None, :]

    def _shape(self, points_mm, margin_mm: float, sd_fn: Callable):
        """``(sx, sy, sd)``: ``sd_fn(gx, gy, points_px)`` on the window round the shape; None off the film."""
        px = self.pose(np.atleast_2d(points_mm))
        margin = margin_mm * self.pose.scale + 2
        lo = np.maximum(np.floor(px.min(axis=0) - margin).astype(int), 0)
        hi = np.minimum(np.ceil(px.max(axis=0) + margin + 1).astype(int), self.size)
        if (hi <= lo).any():
            return None
        sx, sy = slice(lo[0], hi[0]), slice(lo[1], hi[1])
        return sx, sy, sd_fn(self._gx[sx], self._gy[:, sy], px)

    def _add(self, shape, soft: bool, density: float, cortex: float, marrow: float) -> None:
        if shape is None:
            return
        sx, sy, sd = shape
        if soft:
            np.maximum(self.soft[sx, sy], sd, out=self.soft[sx, sy])
        else:
            self.bone[sx, sy] += density * _bone_profile(sd, cortex * self.pose.scale, marrow)

    def capsule(self, a, b, radii, density=1.0, cortex=1.0, marrow=0.5, soft=False) -> None:
        """Tapered capsule; ``radii`` as for :func:`sd_capsule`, in mm."""
        px_radii = [(t, r * self.pose.scale) for t, r in radii]
        rmax = max(r for _, r in radii)
        shape = self._shape([a, b], rmax, lambda gx, gy, p: sd_capsule(gx, gy, p[0], p[1], px_radii))
        self._add(shape, soft, density, cortex, marrow)

    def ellipse(self, centre, radii, angle=0.0, density=1.0, cortex=1.0, marrow=0.5, soft=False) -> None:
        r, a = (radii[0] * self.pose.scale, radii[1] * self.pose.scale), np.deg2rad(angle) + self.pose.angle
        shape = self._shape([centre], max(radii), lambda gx, gy, p: sd_ellipse(gx, gy, p[0], r, a))
        self._add(shape, soft, density, cortex, marrow)

    def polygon(self, vertices, density=1.0, cortex=1.0, marrow=0.5, soft=False) -> None:
        band = ((SOFT_RAMP_MM if soft else cortex + 1.0) * self.pose.scale) + 2.0  # where the profile varies
        shape = self._shape(vertices, 0.0, lambda gx, gy, p: sd_polygon(gx, gy, p, band))
        self._add(shape, soft, density, cortex, marrow)

    def polyline(self, points, radius, density=1.0, cortex=1.0, marrow=0.5) -> None:
        r = radius * self.pose.scale
        shape = self._shape(points, radius, lambda gx, gy, p: sd_polyline(gx, gy, p, r))
        self._add(shape, False, density, cortex, marrow)

    def shell(self, centre, radii, thickness, density=1.0, cortex=1.0, marrow=0.5, fill=0.0, weight=None) -> None:
        """Elliptic shell (a skull vault, a rim) of ``thickness`` round ``radii``, with ``fill`` density inside.

        ``weight(x_mm, y_mm)``, a function of canonical coordinates, scales the density (where the vault
        gives way to the face).
        """
        k = self.pose.scale
        r = (radii[0] * k, radii[1] * k)
        shape = self._shape(
            [centre], max(radii) + thickness, lambda g, h, p: sd_ellipse(g, h, p[0], r, self.pose.angle)
        )
        if shape is None:
            return
        sx, sy, sd = shape
        density = density * _bone_profile(thickness * k / 2 - np.abs(sd), cortex * k, marrow)
        if fill:
            density = density + fill * np.clip(sd + 0.5, 0, 1)
        if weight is not None:
            density = density * weight(*self.pose.canonical(self._gx[sx], self._gy[:, sy]))
        self.bone[sx, sy] += density


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with mirrored borders (a sum of shifted copies: the kernel is short)."""
    radius = min(math.ceil(3 * sigma), *(n - 1 for n in image.shape))
    if sigma <= 0.05 or radius < 1:
        return image
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    kernel /= kernel.sum()
    w, h = image.shape
    padded = np.pad(image, ((radius, radius), (0, 0)), mode="symmetric")
    image = sum(k * padded[i : i + w] for i, k in enumerate(kernel))
    padded = np.pad(image, ((0, 0), (radius, radius)), mode="symmetric")
    return sum(k * padded[:, i : i + h] for i, k in enumerate(kernel))


def expose(rng: np.random.Generator, film: Film, soft_tissue: float, noise: bool) -> np.ndarray:
    """Film response, blur, scatter fog and heel effect, gamma and window, then quantum and read noise.

    ``soft_tissue`` is the attenuation of soft tissue at full thickness (:data:`SOFT_RAMP_MM` in from the skin).
    """
    u = rng.uniform
    soft = soft_tissue * np.sqrt(np.clip(film.soft / (SOFT_RAMP_MM * film.pose.scale), 0, 1))
    image = 1.0 - np.exp(-u(1.0, 1.4) * (np.maximum(film.bone, 0) + soft))
    image = _blur(image, u(0.4, 0.9) * film.pose.unit)
    gx = np.linspace(-1, 1, film.size[0], dtype=np.float32)[:, None]
    gy = np.linspace(-1, 1, film.size[1], dtype=np.float32)[None, :]
    fog = u(0.03, 0.1) + u(-0.04, 0.04) * gx + u(-0.04, 0.04) * gy + u(0, 0.04) * (1 - gx**2) * (1 - gy**2)
    image = fog + (1 - fog) * image * (1 + u(-0.08, 0.08) * gy)
    image = np.clip(image, 0, 1) ** u(0.75, 1.3)
    low, high = u(0.0, 0.04), u(0.92, 1.05)
    image = (image - low) / (high - low)
    quantum, read = u(0.01, 0.035), u(0.003, 0.012)  # drawn either way, so noise=False changes nothing else
    if noise:
        sd = np.sqrt(quantum**2 * np.clip(image, 0, 1) + read**2)
        image = image + sd * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(image, 0, 1).astype(np.float32)
