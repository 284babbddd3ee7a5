"""The three Cobb angles of an AP spine X-ray from the 68 vertebra corners, by the AASCE 2019 challenge's algorithm.

Landmarks: 17 vertebrae T1-L5, top to bottom, each as top-left, top-right, bottom-left, bottom-right corner (the
order of ``aasce_spine/dataset.json``). The algorithm is the challenge organisers' MATLAB script as ported to Python
in ``yijingru/Vertebra-Landmark-Detection`` (``cobb_evaluate.py``, "transfered from matlab version of the MICCAI
challenge"); this is our own implementation of it:

1. Each vertebra's direction is the vector from the midpoint of its left edge (TL, BL) to that of its right edge
   (TR, BR). The angle between two vertebrae is ``arccos`` of their cosine clipped to ``[0, 1]`` (so at most 90;
   computed here as ``atan2(|cross|, dot)``, the same angle without arccos's loss of precision near 0).
2. The main angle ``mt`` is the largest angle between any two vertebrae; its end vertebrae are the pair
   (the upper one is the first row reaching the maximum).
3. The spine is "S"-shaped unless the centre line (midpoints of the top and bottom edges, the last two left out)
   stays on one side of the chord from its first to its last point (all normalised offsets of one sign).
4. Not S: ``pt`` = angle between T1 and the upper end vertebra, ``tl`` = angle between L5 and the lower one.
   S and the main curve's end vertebrae in the upper half of the image (the mean y of their bottom-edge midpoints
   less than half the image height, y pointing down; MATLAB's 1-based ``mid_p_v(2 * v)`` is the bottom edge,
   which the Python port's 0-based ``mid_p_v[2 * v]`` turned into the top edge): ``pt`` = the largest angle
   between the upper end vertebra and any vertebra above it, ``tl`` = the largest between the lower end vertebra
   and any below. S in the lower half: ``pt`` = the largest angle above the upper end vertebra as before, ``tl`` =
   the largest angle above *that* curve's upper end.

The output order and names follow the released ``cobb_angles.csv`` (``mt, pt, tl``: the algorithm's output order).
In the last case both ``pt`` and ``tl`` lie above the main curve: the names are the challenge's positions, not
anatomy. The image height is part of the rule; without it we use the spine's own vertical middle (half-way between
T1's top and L5's bottom edge) and say so in ``details["half_rule"]``.

Ours, documented: each angle also reports its end vertebrae and an apex, the vertebra between the two ends whose
centre lies farthest from the line joining their centres (the challenge's algorithm picks no apex). Input that would
make an angle meaningless gives None with the reason: a missing corner, and corners out of order (a vertebra's
top-left not left of its top-right, bottom-left not left of bottom-right, or a top corner not above the bottom
corner on its side, which also rules out coincident corners and so a vertebra without a direction; the dataset's
``annotation_odd`` lists 11 such ground-truth images).
"""

from __future__ import annotations

import numpy as np

from .records import Measurement, as_points

__all__ = ["COBB_ANGLES", "VERTEBRAE", "cobb_angles", "corner_order_problems", "vertebra_line"]

VERTEBRAE = tuple([f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)])
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
COBB_ANGLES = ("mt", "pt", "tl")
NAMES = tuple(f"{v} {c}" for v in VERTEBRAE for c in CORNERS)


def corner_order_problems(corners: np.ndarray) -> list[str]:
    """Vertebrae whose four corners are not in TL, TR, BL, BR order (image x right, y down), as sentences."""
    problems = []
    for v, (tl, tr, bl, br) in enumerate(corners.reshape(-1, 4, 2)):
        if not (tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1] and tr[1] < br[1]):
            problems.append(f"{VERTEBRAE[v]}: corners not in top-left, top-right, bottom-left, bottom-right order")
    return problems


def vertebra_line(corners, vertebra: str, extend: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The line a Cobb angle is measured on: from the midpoint of the vertebra's left edge to that of its right edge,
    lengthened by ``extend`` of its length at each end (so the angle shows on an overlay), in image pixels."""
    v = VERTEBRAE.index(vertebra)
    tl, tr, bl, br = np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2)[v]
    left, right = (tl + bl) / 2, (tr + br) / 2
    return left - extend * (right - left), right + extend * (right - left)


def _pair_angles(directions: np.ndarray) -> np.ndarray:
    """``(17, 17)`` angles in degrees between vertebra directions, cosine clipped to [0, 1] as the challenge does."""
    dot = directions @ directions.T
    x, y = directions[:, 0], directions[:, 1]
    cross = np.abs(np.outer(x, y) - np.outer(y, x))
    # atan2 is arccos(cos) without its loss of precision near 0; a negative cosine is clipped to 90 degrees
    return np.where(dot > 0, np.degrees(np.arctan2(cross, dot)), 90.0)


def _is_s(centre: np.ndarray) -> bool:
    """True unless every normalised offset of the centre line from its end-to-end chord has one sign."""
    first, last = centre[0], centre[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        offsets = (centre[:-2, 1] - last[1]) / (first[1] - last[1]) - (centre[:-2, 0] - last[0]) / (first[0] - last[0])
    if not np.isfinite(offsets).all():
        return True  # a vertical chord: the port's NaN comparison takes this branch too
    return not abs(offsets.sum() ** 2 - np.abs(offsets).sum() ** 2) < 1e-4


def _apex(centres: np.ndarray, upper: int, lower: int) -> int | None:
    if lower - upper < 2:
        return None
    chord = centres[lower] - centres[upper]
    inner = centres[upper + 1 : lower] - centres[upper]
    distance = np.abs(chord[0] * inner[:, 1] - chord[1] * inner[:, 0])
    return upper + 1 + int(np.argmax(distance))


def _pick(angles: np.ndarray, centre: np.ndarray, half_y: float) -> dict[str, tuple[float, int, int]]:
    """``{name: (angle, vertebra a, vertebra b)}`` by the challenge's rules."""
    last = len(angles) - 1
    row_best = np.argmax(angles, axis=1)
    upper = int(np.argmax(angles.max(axis=1)))
    lower = int(row_best[upper])
    picked = {"mt": (float(angles[upper, lower]), upper, lower)}
    if not _is_s(centre):
        picked["pt"] = (float(angles[0, upper]), 0, upper)
        picked["tl"] = (float(angles[last, lower]), lower, last)
        return picked
    above = int(np.argmax(angles[upper, : upper + 1]))
    picked["pt"] = (float(angles[upper, above]), above, upper)
    if centre[2 * upper + 1, 1] + centre[2 * lower + 1, 1] < 2 * half_y:  # bottom edges, as MATLAB's 1-based 2*v
        below = lower + int(np.argmax(angles[lower, lower:]))
        picked["tl"] = (float(angles[lower, below]), lower, below)
    else:
        higher = int(np.argmax(angles[above, : above + 1]))
        picked["tl"] = (float(angles[above, higher]), higher, above)
    return picked


def _undefined(reason: str) -> dict[str, Measurement]:
    used = tuple(range(len(NAMES)))
    return {name: Measurement(name, None, "deg", used, reason) for name in COBB_ANGLES}


def cobb_angles(landmarks, image_height: float | None = None) -> dict[str, Measurement]:
    """The AASCE Cobb angles ``mt``, ``pt``, ``tl`` (degrees) of one spine, with their end and apex vertebrae.

    Args:
        landmarks: ``(68, 2)`` (or ``(1, 68, 2)``) corners in pixels of the original image, NaN for a missing one.
        image_height: the image's height in pixels (the challenge's upper/lower half rule); None: the spine's middle.

    Returns:
        ``{"mt": ..., "pt": ..., "tl": ...}``; each ``details`` holds ``end_vertebrae`` (upper, lower names), ``apex``
        (a name or None), ``s_shape`` and ``half_rule``. Values None with the reason when the angles are undefined.

    Raises:
        ValueError: landmarks not ``(68, 2)``, or an image height that is not positive.
    """
    corners = as_points(landmarks, len(NAMES), "vertebra corners")
    if image_height is not None and not (np.isfinite(image_height) and image_height > 0):
        raise ValueError(f"image_height must be a positive number of pixels, got {image_height!r}.")
    missing = [i for i in range(len(NAMES)) if not np.isfinite(corners[i]).all()]
    if missing:
        return _undefined("missing corner(s): " + ", ".join(NAMES[i] for i in missing))
    problems = corner_order_problems(corners)
    if problems:
        return _undefined("; ".join(problems))
    quads = corners.reshape(-1, 4, 2)
    directions = (quads[:, 1] + quads[:, 3]) / 2 - (quads[:, 0] + quads[:, 2]) / 2
    centre = (corners[0::2] + corners[1::2]) / 2  # top- and bottom-edge midpoints, top to bottom
    if image_height is None:
        half_y, rule = (centre[0, 1] + centre[-1, 1]) / 2, "spine middle (no image height given)"
    else:
        half_y, rule = image_height / 2, "image half (challenge rule)"
    centres = quads.mean(axis=1)
    s_shape = _is_s(centre)
    out = {}
    for name, (angle, a, b) in _pick(_pair_angles(directions), centre, half_y).items():
        upper, lower = min(a, b), max(a, b)
        apex = _apex(centres, upper, lower)
        details = {
            "end_vertebrae": [VERTEBRAE[upper], VERTEBRAE[lower]],
            "apex": None if apex is None else VERTEBRAE[apex],
            "s_shape": s_shape,
            "half_rule": rule,
        }
        used = tuple(sorted({4 * v + c for v in (upper, lower) for c in range(4)}))
        out[name] = Measurement(name, angle, "deg", used, details=details)
    return out
