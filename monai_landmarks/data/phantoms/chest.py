"""PA chest film phantom: two lung fields, the heart and two clavicles as ordered contours, 166 points.

Landmarks follow the JSRT / Gaggion et al. order (``landmark_groups``): right lung 44, left lung 50, heart
26, right clavicle 23, left clavicle 23 points, each a closed contour sampled at equal arc lengths from its
first point. The patient faces the viewer, so the right lung is on the image's left. Starts and directions,
as in the dataset: lungs from the apex down the lateral side (right lung anticlockwise on screen, left
clockwise), the heart from its lower right-atrial end up and over (clockwise), clavicles from the lateral
end along the top edge to the medial end and back (right clockwise, left anticlockwise).

Each structure is a smooth closed curve (a periodic Catmull-Rom spline) through template points in mm, with
random size, position and per-point variation; the drawn outlines are those curves, so every landmark lies
on an edge: lungs lower the density of the thorax, the heart raises it, clavicles are bones. The film is
358.4 mm square (JSRT's 512 x 512 at 0.7 mm).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from .film import Film
from .geometry import PoseSpread
from .kind import Parts, PhantomKind

STRUCTURES = (("right lung", 44), ("left lung", 50), ("heart", 26), ("right clavicle", 23), ("left clavicle", 23))
LANDMARK_NAMES = tuple(f"{name} {i}" for name, count in STRUCTURES for i in range(count))
_ENDS = tuple(accumulate((count for _, count in STRUCTURES), initial=0))
LANDMARK_GROUPS = {name: (a, b) for (name, _), a, b in zip(STRUCTURES, _ENDS[:-1], _ENDS[1:], strict=True)}
FIELD_MM = (358.4, 358.4)
DEFAULT_SIZE = (256, 256)
_MM = 0.7  # the templates are in pixels of a 512 x 512 film


@dataclass(frozen=True)
class Contour:
    outline: np.ndarray  # the drawn closed curve, densely sampled (mm)
    points: np.ndarray  # its landmarks: equal arc lengths from the outline's first point


@dataclass(frozen=True)
class Chest(Parts):
    """The five structures in landmark order (:data:`STRUCTURES`)."""

    right_lung: Contour
    left_lung: Contour
    heart: Contour
    right_clavicle: Contour
    left_clavicle: Contour

    valid = True

    def landmarks(self) -> np.ndarray:
        return np.vstack([contour.points for contour in self])

    def draw(self, film: Film) -> None:
        _draw(film, self)


# Template points (x, y) in 512-frame pixels, in landmark order from each contour's first point.
_RIGHT_LUNG = [(186, 42), (140, 60), (106, 100), (86, 160), (76, 240), (66, 320), (58, 408), (100, 385),
               (150, 366), (186, 354), (200, 300), (210, 220), (220, 140), (222, 80)]  # fmt: skip
_LEFT_LUNG = [(330, 42), (378, 62), (410, 98), (432, 172), (444, 254), (452, 334), (458, 410), (424, 394),
              (388, 368), (372, 304), (332, 240), (312, 170), (294, 120), (300, 68)]  # fmt: skip
_HEART = [(204, 352), (203, 306), (212, 268), (240, 244), (276, 232), (318, 238), (352, 270), (376, 306),
          (384, 336), (366, 370), (334, 388), (288, 388), (246, 380), (220, 370)]  # fmt: skip
_RIGHT_CLAVICLE = [(128, 58), (152, 63), (178, 70), (204, 74), (222, 82), (229, 96), (222, 106), (200, 100),
                   (176, 92), (150, 84), (128, 76), (119, 67)]  # fmt: skip
_LEFT_CLAVICLE = [(512 - x, y) for x, y in _RIGHT_CLAVICLE]  # the mirror image: anticlockwise


def closed_spline(points: np.ndarray, per_segment: int = 6) -> np.ndarray:
    """A periodic Catmull-Rom curve through ``points`` (in order), densely sampled from ``points[0]``."""
    p = np.asarray(points, dtype=np.float64)
    p0, p1, p2, p3 = np.roll(p, 1, 0), p, np.roll(p, -1, 0), np.roll(p, -2, 0)
    t = np.linspace(0, 1, per_segment, endpoint=False)[None, :, None]
    curve = 0.5 * (2 * p1[:, None] + (p2 - p0)[:, None] * t + (2 * p0 - 5 * p1 + 4 * p2 - p3)[:, None] * t**2
                   + (3 * p1 - p0 - 3 * p2 + p3)[:, None] * t**3)  # fmt: skip
    return curve.reshape(-1, 2)


def resample_closed(curve: np.ndarray, count: int) -> np.ndarray:
    """``count`` points at equal arc lengths round the closed ``curve``, the first at ``curve[0]``."""
    ring = np.vstack([curve, curve[:1]])
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ring, axis=0), axis=1))])
    targets = np.arange(count) * s[-1] / count
    return np.stack([np.interp(targets, s, ring[:, 0]), np.interp(targets, s, ring[:, 1])], axis=1)


def _vary(rng: np.random.Generator, template, scale, shift, jitter: float) -> np.ndarray:
    p = np.asarray(template, dtype=np.float64) * _MM
    centre = p.mean(axis=0)
    return centre + shift + (p - centre) * scale + rng.normal(0, jitter, p.shape)


def _clavicle(rng: np.random.Generator, template, side: int) -> np.ndarray:
    n, u = rng.normal, rng.uniform
    p = _vary(rng, template, (u(0.9, 1.1), 1.0), n(0, 3, 2), 0.5)
    a = np.deg2rad(side * n(0, 4))  # swung about its medial end
    medial = p[5]
    c, s = np.cos(a), np.sin(a)
    return medial + (p - medial) @ np.array([[c, s], [-s, c]])


def chest_anatomy(rng: np.random.Generator) -> Chest:
    """Each structure's dense outline and its landmarks (mm), in landmark order."""
    n, u = rng.normal, rng.uniform
    thorax = np.array([u(0.9, 1.08), u(0.88, 1.1)])  # width and height of the lungs
    controls = [
        _vary(rng, _RIGHT_LUNG, thorax * u(0.95, 1.05), n(0, 2, 2), 1.8),
        _vary(rng, _LEFT_LUNG, thorax * u(0.95, 1.05), n(0, 2, 2), 1.8),
        _vary(rng, _HEART, u(0.85, 1.15) * (1 + n(0, 0.04, 2)), n(0, 4, 2) + (0, 10 * (thorax[1] - 1)), 1.5),
        _clavicle(rng, _RIGHT_CLAVICLE, 1),
        _clavicle(rng, _LEFT_CLAVICLE, -1),
    ]
    outlines = [closed_spline(p) for p in controls]
    return Chest(*(Contour(o, resample_closed(o, count)) for o, (_, count) in zip(outlines, STRUCTURES, strict=True)))


def _draw(film: Film, chest: Chest) -> None:
    torso = np.array([(20, 60), (90, 20), (150, 5), (208, 5), (268, 20), (338, 60), (352, 370), (6, 370)])
    film.polygon(torso, soft=True)
    film.polygon(torso + (0, 8), density=0.45, cortex=0.0, marrow=1.0)  # the thorax and abdomen
    film.capsule((179.2, -10), (179.2, 370), ((0, 14), (1, 17)), density=0.2, cortex=1.0, marrow=0.6)  # spine
    for lung in (chest.right_lung, chest.left_lung):
        film.polygon(lung.outline, density=-0.38, cortex=0.0, marrow=1.0)
    film.polygon(chest.heart.outline, density=0.3, cortex=0.0, marrow=1.0)
    for side, lung in ((-1, chest.right_lung.outline), (1, chest.left_lung.outline)):  # posterior ribs across each lung
        top, bottom = lung[:, 1].min(), lung[:, 1].max()
        for y in np.linspace(top + 8, bottom - 30, 8):
            t = np.linspace(0, 1, 6)[:, None]
            bend = (0, 1) * (-14 * np.sin(np.pi * t) + 45 * t**2)  # up, then down the chest wall
            rib = np.array([179.2 + side * 22, y - 18]) + t * (side * 140, 0) + bend
            film.polyline(rib, 3.5, density=0.12, cortex=1.0, marrow=0.4)
    for clavicle in (chest.right_clavicle, chest.left_clavicle):
        film.polygon(clavicle.outline, density=0.55, cortex=1.5, marrow=0.5)


KIND = PhantomKind(
    "chest", LANDMARK_NAMES, FIELD_MM, DEFAULT_SIZE, anatomy=chest_anatomy,
    pose=PoseSpread(scale=(0.9, 1.04), rotation=4.0, shift_mm=5.0), calibrated=True,
    metadata={"landmark_groups": {name: list(ends) for name, ends in LANDMARK_GROUPS.items()}},
)  # fmt: skip

__all__ = ["DEFAULT_SIZE", "FIELD_MM", "KIND", "LANDMARK_GROUPS", "LANDMARK_NAMES", "STRUCTURES", "Chest", "Contour",
           "chest_anatomy", "closed_spline", "resample_closed"]  # fmt: skip
