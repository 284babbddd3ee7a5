"""Plane geometry of the phantoms: directions and curves in canonical millimetres, signed distances on pixel
grids, and the pose that maps the canonical frame onto the image.

Canonical frame: x right, y down, in mm; angles in degrees, clockwise on screen. Pixel grids follow
``utils.coords``: ``gx`` is ``(w, 1)``, ``gy`` is ``(1, h)``, so arrays index ``[x, y]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def direction(degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    return np.array([np.cos(a), np.sin(a)])


def angle_of(v) -> float:
    return float(np.rad2deg(np.arctan2(v[1], v[0])))


def rotate(v, degrees: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def forward(d) -> np.ndarray:
    """The unit normal of direction ``d`` that points to +x (anterior on the head)."""
    n = np.array([-d[1], d[0]])
    return n if n[0] >= 0 else -n


def arc(centre, radius, start: float, stop: float, step: float = 10.0) -> np.ndarray:
    """Points on a circle (or an ellipse, with ``radius = (rx, ry)``) from angle ``start`` to ``stop``."""
    a = np.deg2rad(np.linspace(start, stop, max(2, math.ceil(abs(stop - start) / step) + 1)))
    return np.asarray(centre) + np.asarray(radius) * np.stack([np.cos(a), np.sin(a)], axis=1)


def fillet(corner, d1, d2, radius: float, n: int = 9) -> np.ndarray:
    """Arc of ``radius`` rounding the corner between the edges leaving ``corner`` along ``d1`` and ``d2``.

    Runs from the tangent point on the ``d1`` edge to the one on the ``d2`` edge; with odd ``n`` the middle
    point lies on the angle's bisector.
    """
    half = np.arccos(np.clip(np.dot(d1, d2), -1, 1)) / 2
    bisector = unit(d1 + d2)
    centre = corner + bisector * radius / np.sin(half)
    a1, a2 = (np.deg2rad(angle_of(corner + d * radius / np.tan(half) - centre)) for d in (d1, d2))
    sweep = (a2 - a1 + np.pi) % (2 * np.pi) - np.pi  # the short way round
    a = a1 + sweep * np.linspace(0, 1, n)
    return centre + radius * np.stack([np.cos(a), np.sin(a)], axis=1)


def box(centre, half_width: float, half_height: float, angle: float, chamfer: float) -> np.ndarray:
    """A rectangle with chamfered corners (a vertebral body), as polygon vertices."""
    w, h, c = half_width, half_height, chamfer
    corners = [(-w + c, -h), (w - c, -h), (w, -h + c), (w, h - c), (w - c, h), (-w + c, h), (-w, h - c), (-w, -h + c)]
    return np.asarray(centre) + np.array([rotate(p, angle) for p in corners])


# --------------------------------------------------------------------------------------------------------
# signed distances on pixel grids (positive inside); gx is (w, 1), gy is (1, h)


def sd_capsule(gx, gy, a, b, radii) -> np.ndarray:
    """Tapered capsule from ``a`` to ``b``; ``radii`` is ``((t, r), ...)`` along the axis, t in [0, 1]."""
    d = b - a
    t = np.clip(((gx - a[0]) * d[0] + (gy - a[1]) * d[1]) / max(float(d @ d), 1e-9), 0.0, 1.0)
    ts, rs = zip(*radii, strict=True)
    return np.interp(t, ts, rs) - np.hypot(gx - a[0] - t * d[0], gy - a[1] - t * d[1])


def sd_ellipse(gx, gy, centre, radii, angle: float) -> np.ndarray:
    """First-order signed distance to an ellipse rotated by ``angle`` radians (exact on the outline)."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = gx - centre[0], gy - centre[1]
    u, v = (dx * c + dy * s) / radii[0], (-dx * s + dy * c) / radii[1]
    rho = np.hypot(u, v)
    grad = np.hypot(u / radii[0], v / radii[1]) / np.maximum(rho, 1e-6)
    return (1.0 - rho) / np.maximum(grad, 1.0 / max(radii))


def sd_polygon(gx, gy, vertices, band: float) -> np.ndarray:
    """Signed distance to a simple polygon (even-odd rule), exact within ``band`` pixels of its outline.

    ``gx`` and ``gy`` are consecutive pixel coordinates. Each edge only touches the pixels it can affect
    (its band, and the rows it spans for the inside test), so the cost grows with the outline's length
    rather than with edges times area.
    """
    x0, y0, w, h = float(gx[0, 0]), float(gy[0, 0]), gx.shape[0], gy.shape[1]
    d2 = np.full((w, h), band * band, dtype=np.float32)
    inside = np.zeros((w, h), dtype=bool)

    def index(v, origin, n):
        return min(max(math.ceil(v - origin), 0), n)

    for (ax, ay), (bx, by) in zip(vertices.tolist(), np.roll(vertices, -1, axis=0).tolist(), strict=True):
        ex, ey = bx - ax, by - ay
        i0, i1 = index(min(ax, bx) - band, x0, w), index(max(ax, bx) + band, x0, w)
        j0, j1 = index(min(ay, by) - band, y0, h), index(max(ay, by) + band, y0, h)
        if i1 > i0 and j1 > j0:
            wx, wy = gx[i0:i1] - ax, gy[:, j0:j1] - ay
            t = np.clip((wx * ex + wy * ey) / max(ex * ex + ey * ey, 1e-12), 0.0, 1.0)
            block = d2[i0:i1, j0:j1]
            np.minimum(block, (wx - t * ex) ** 2 + (wy - t * ey) ** 2, out=block)
        # rows whose centre lies in [min(ay, by), max(ay, by)) cross this edge, left of it flips inside
        j0, j1, i1 = index(min(ay, by), y0, h), index(max(ay, by), y0, h), index(max(ax, bx), x0, w)
        if ey != 0 and j1 > j0 and i1 > 0:
            inside[:i1, j0:j1] ^= gx[:i1] < ax + (gy[:, j0:j1] - ay) * (ex / ey)
    d = np.sqrt(d2)
    return np.where(inside, d, -d)


def sd_polyline(gx, gy, points, radius: float) -> np.ndarray:
    d = np.full(np.broadcast_shapes(gx.shape, gy.shape), -np.inf)
    for a, b in zip(points[:-1], points[1:], strict=True):
        d = np.maximum(d, sd_capsule(gx, gy, a, b, ((0, radius), (1, radius))))
    return d


class Pose:
    """Similarity map from the canonical millimetre frame to image pixels."""

    def __init__(self, size, field, scale: float, angle: float, shift_mm) -> None:
        self.unit = min(size[0] / field[0], size[1] / field[1])  # pixels per canonical mm
        self.scale = self.unit * scale  # pixels per mm of this anatomy
        self.angle = np.deg2rad(angle)
        c, s = np.cos(self.angle), np.sin(self.angle)
        self.linear = self.scale * np.array([[c, -s], [s, c]])
        self.field_centre = np.asarray(field) / 2 - 0.5 / self.unit  # canonical mm at the image centre
        self.image_centre = (np.asarray(size, dtype=np.float64) - 1) / 2 + self.unit * np.asarray(shift_mm)

    def __call__(self, points) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.field_centre) @ self.linear.T + self.image_centre

    def canonical(self, gx, gy) -> tuple[np.ndarray, np.ndarray]:
        """Canonical mm of pixel grids ``gx`` ``(w, 1)`` and ``gy`` ``(1, h)`` (the inverse map)."""
        inv = np.linalg.inv(self.linear)
        dx, dy = gx - self.image_centre[0], gy - self.image_centre[1]
        c = self.field_centre
        return inv[0, 0] * dx + inv[0, 1] * dy + c[0], inv[1, 0] * dx + inv[1, 1] * dy + c[1]


@dataclass(frozen=True)
class PoseSpread:
    """How the pose of one anatomy varies: a scale range, a rotation range (+- degrees) and a shift (sd in mm)."""

    scale: tuple[float, float]
    rotation: float
    shift_mm: float | tuple[float, float]

    def draw(self, rng: np.random.Generator, size, field) -> Pose:
        """A random pose of the canonical ``field`` (mm) on an image of ``size``: scale, angle, then shift."""
        scale = rng.uniform(*self.scale)
        angle = rng.uniform(-self.rotation, self.rotation)
        return Pose(size, field, scale, angle, rng.normal(0, self.shift_mm, 2))
