"""AP spine film phantom: the 17 vertebrae T1-L5 along a scoliotic centre line, 68 corner landmarks.

Landmarks follow the AASCE 2019 (SpineWeb 16) order: per vertebra, top to bottom, the corners of its body
top-left, top-right, bottom-left, bottom-right (image left / right). Each vertebral body is a bright
quadrilateral whose vertices are those corners; its endplates are perpendicular to a smooth centre line
whose lateral offset is a random sum of three bends (a Cobb-like scoliotic curve), with random wedging.
Pedicles, spinous processes, ribs, lung fields and the pelvis surround it. There is no pixel spacing
(errors are in pixels, as for the real data). Dataset images vary in size around a 1:2.7 aspect
(:func:`vary_size`) and are stored as JPEG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .film import Film
from .geometry import PoseSpread
from .kind import PhantomKind

VERTEBRAE = tuple(f"T{i}" for i in range(1, 13)) + tuple(f"L{i}" for i in range(1, 6))
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
LANDMARK_NAMES = tuple(f"{v} {c}" for v in VERTEBRAE for c in CORNERS)
FIELD_MM = (216.0, 560.0)  # about 1:2.6, as an AASCE film cropped to T1-pelvis
DEFAULT_SIZE = (160, 432)
IMAGE_FORMAT = "jpeg"  # the AASCE images are JPEG files


@dataclass(frozen=True)
class Spine:
    """The 17 vertebral bodies, top to bottom (canonical mm)."""

    corners: np.ndarray  # (17, 4, 2): TL, TR, BL, BR of each body
    centres: np.ndarray  # (17, 2)
    down: np.ndarray  # (17, 2) unit vectors along each body's axis, downwards
    right: np.ndarray  # (17, 2) unit vectors across it
    widths: np.ndarray  # (17,)
    heights: np.ndarray  # (17,)
    valid: bool  # the bodies do not overlap

    def landmarks(self) -> np.ndarray:
        return self.corners.reshape(-1, 2)

    def draw(self, film: Film) -> None:
        _draw(film, self)


def vary_size(rng: np.random.Generator, size: Sequence[int]) -> tuple[int, int]:
    """A dataset image's size: height within 15 % of ``size``'s, aspect within 20 % of its (at least 16 px)."""
    height = size[1] * rng.uniform(0.85, 1.15)
    width = height * size[0] / size[1] * rng.uniform(0.8, 1.2)
    return max(16, round(width)), max(16, round(height))


def _centre_line(rng: np.random.Generator, top: float, length: float):
    """``x(y)`` of the centre line and its slope: a random sum of three bends over the spine's length."""
    amplitudes = rng.normal(0, (14.0, 9.0, 5.0))
    phases = rng.uniform(0, 2 * np.pi, 3) * (0, 1, 1)  # the first bend is one arc (a C curve)
    k = np.arange(1, 4)

    def x(y):
        t = (np.asarray(y, dtype=np.float64)[..., None] - top) / length
        return FIELD_MM[0] / 2 + (amplitudes * np.sin(np.pi * k * t + phases)).sum(-1)

    def slope(y):
        t = (np.asarray(y, dtype=np.float64)[..., None] - top) / length
        return (amplitudes * np.pi * k / length * np.cos(np.pi * k * t + phases)).sum(-1)

    return x, slope


def spine_anatomy(rng: np.random.Generator) -> Spine:
    """Vertebral bodies ``(17, 4, 2)`` (corners TL, TR, BL, BR in mm) and their centres and axes."""
    n, u = rng.normal, rng.uniform
    ramp = np.linspace(0, 1, 17)
    heights = (14.0 + 12.0 * ramp) * u(0.9, 1.1) * (1 + n(0, 0.04, 17))
    widths = (36.0 + 14.0 * ramp) * u(0.9, 1.1) * (1 + n(0, 0.03, 17))
    discs = (6.0 + 4.0 * ramp[:-1]) * u(0.85, 1.15) * (1 + n(0, 0.08, 16))
    length = heights.sum() + discs.sum()
    top = 0.47 * FIELD_MM[1] - length / 2 + n(0, 5)
    x, slope = _centre_line(rng, top, length)
    y = top + np.cumsum(np.concatenate([[0.0], heights[:-1] / 2 + discs + heights[1:] / 2])) + heights[0] / 2
    centres = np.stack([x(y), y], axis=1)
    down = np.stack([slope(y), np.ones(17)], axis=1)
    down = down / np.linalg.norm(down, axis=1, keepdims=True)
    tilt = np.deg2rad(n(0, 1.5, 17))  # each body turns a little off the curve
    c, s = np.cos(tilt)[:, None], np.sin(tilt)[:, None]
    down = np.concatenate([c * down[:, :1] - s * down[:, 1:], s * down[:, :1] + c * down[:, 1:]], axis=1)
    right = np.stack([down[:, 1], -down[:, 0]], axis=1)
    wedge = n(0, 0.05, 17)  # left and right sides of a body differ in height
    half_w, half_h = widths[:, None] / 2, heights[:, None] / 2
    left_h, right_h = half_h * (1 + wedge[:, None]), half_h * (1 - wedge[:, None])
    corners = np.stack([
        centres - half_w * right - left_h * down, centres + half_w * right - right_h * down,
        centres - half_w * right + left_h * down, centres + half_w * right + right_h * down,
    ], axis=1)  # fmt: skip
    return Spine(corners, centres, down, right, widths, heights, _separate(corners, down))


def _separate(corners: np.ndarray, down: np.ndarray) -> bool:
    """Each body's bottom corners lie at least 1 mm above the next body's top corners (no overlap)."""
    bottom = np.einsum("vcd,vd->vc", corners[:-1, 2:], down[:-1]).max(axis=1)
    below = np.einsum("vcd,vd->vc", corners[1:, :2], down[:-1]).min(axis=1)
    return bool((below - bottom > 1.0).all())


def _draw(film: Film, spine: Spine) -> None:
    corners, centres, down, right = spine.corners, spine.centres, spine.down, spine.right
    w, h = spine.widths, spine.heights
    mid_x = float(centres[:, 0].mean())
    body = [(mid_x - 95, -40), (mid_x + 95, -40), (mid_x + 100, 600), (mid_x - 100, 600)]
    film.polygon(np.array(body), soft=True)
    film.polygon(np.array(body) * (0.92, 1.0) + (0.08 * mid_x, 0), density=0.3, cortex=0.0, marrow=1.0)
    lung_y = (centres[0, 1] + centres[11, 1]) / 2
    for side in (-1, 1):  # lung fields lower the density on either side of the thoracic spine
        film.ellipse((mid_x + side * 55, lung_y), (38, 0.55 * (centres[11, 1] - centres[0, 1])), 0, -0.18, 0, 1)
    for i in range(17):
        c, d, r = centres[i], down[i], right[i]
        if i < 12:  # a rib from each transverse process: out, then down the chest wall
            for side in (-1, 1):
                t = np.linspace(0, 1, 6)[:, None]
                start = c + side * (w[i] / 2 + 3) * r - 0.2 * h[i] * d
                rib = start + t * (side * 70.0, 0.0) + (0.0, 1.0) * (-8 * np.sin(np.pi * t) + 35 * t**2)
                film.polyline(rib, 2.5, density=0.22, cortex=0.8, marrow=0.4)
        quad = corners[i][[0, 1, 3, 2]]
        film.polygon(quad, density=0.45, cortex=1.6, marrow=0.5)
        for side in (-1, 1):  # pedicles: oval rings in the upper half of the body
            film.ellipse(c + side * 0.3 * w[i] * r - 0.12 * h[i] * d, (0.09 * w[i], 0.22 * h[i]),
                         np.rad2deg(np.arctan2(d[1], d[0])) - 90, 0.3, 1.0, 0.2)  # fmt: skip
        film.capsule(c + 0.05 * h[i] * d, c + 0.45 * h[i] * d, ((0, 0.05 * w[i]), (1, 0.09 * w[i])), 0.2, 0.8, 0.6)
    l5 = corners[-1]
    sacrum_top = (l5[2] + l5[3]) / 2 + 9 * down[-1]
    sacrum = [sacrum_top - 0.55 * w[-1] * right[-1], sacrum_top + 0.55 * w[-1] * right[-1], sacrum_top + 70 * down[-1]]
    film.polygon(np.array(sacrum), density=0.35, cortex=1.5, marrow=0.6)
    for side in (-1, 1):  # iliac wings
        film.ellipse(sacrum_top + (side * 62, 22), (40, 34), side * 20, 0.3, 2.0, 0.45)


def corner_order_ok(points: np.ndarray) -> bool:
    """Corners ``(68, 2)`` are TL, TR, BL, BR per vertebra: left of right and above below, on every body."""
    q = np.asarray(points).reshape(17, 4, 2)
    left_of = (q[:, 0, 0] < q[:, 1, 0]) & (q[:, 2, 0] < q[:, 3, 0])
    above = (q[:, 0, 1] < q[:, 2, 1]) & (q[:, 1, 1] < q[:, 3, 1])
    return bool((left_of & above).all())


KIND = PhantomKind(
    "spine", LANDMARK_NAMES, FIELD_MM, DEFAULT_SIZE, anatomy=spine_anatomy,
    pose=PoseSpread(scale=(0.88, 1.0), rotation=3.0, shift_mm=(3.0, 6.0)), image_format=IMAGE_FORMAT,
    vary_size=vary_size,
)  # fmt: skip

__all__ = ["CORNERS", "DEFAULT_SIZE", "FIELD_MM", "IMAGE_FORMAT", "KIND", "LANDMARK_NAMES", "VERTEBRAE", "Spine",
           "corner_order_ok", "spine_anatomy", "vary_size"]  # fmt: skip
