"""The measurement record every analysis returns, and the input checks they share.

A measurement is a value computed from a few landmarks: an angle in degrees, a distance in mm or a ratio. When it
cannot be computed (a landmark missing, points that coincide, corners out of order, no pixel spacing for a length),
its ``value`` is None and ``reason`` says why: a measurement is never a number made up from bad input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from monai_landmarks.utils.spacing import Spacing

__all__ = ["Measurement", "as_points", "as_spacing", "missing_reason", "to_mm"]


@dataclass(frozen=True)
class Measurement:
    """One measurement of one image.

    Attributes:
        name: short name, e.g. ``"ANB"`` or ``"mt"``.
        value: the value, or None when it is undefined (``reason`` says why).
        unit: ``"deg"``, ``"mm"`` or ``"ratio"``.
        landmarks: 0-based indices of the landmarks the value depends on.
        reason: why ``value`` is None; None when there is a value.
        class_id: the class the value falls in (cephalometry: the ISBI 2015 class number), or None.
        class_label: the class in words, or None.
        details: anything else the analysis picked (Cobb: end and apex vertebrae), JSON-ready.
    """

    name: str
    value: float | None
    unit: str
    landmarks: tuple[int, ...]
    reason: str | None = None
    class_id: int | None = None
    class_label: str | None = None
    details: Mapping = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready dict (lists instead of tuples)."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "class": self.class_id,
            "class_label": self.class_label,
            "landmarks": list(self.landmarks),
            "reason": self.reason,
            "details": dict(self.details),
        }


def as_points(landmarks, num_landmarks: int, what: str) -> np.ndarray:
    """``(K, 2)`` float64 from an array-like of ``K = num_landmarks`` points (a leading batch axis of 1 is dropped).

    Raises:
        ValueError: wrong shape; the message names ``what`` and the expected layout.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim == 3 and points.shape[0] == 1:
        points = points[0]
    if points.shape != (num_landmarks, 2):
        raise ValueError(f"{what}: expected ({num_landmarks}, 2) landmarks (x, y), got shape {tuple(points.shape)}.")
    return points


def as_spacing(spacing) -> np.ndarray | None:
    """``(2,)`` mm per pixel ``(x, y)`` from a number or a pair; None when unknown (None or NaN).

    Raises:
        ValueError: a spacing that is not positive, or not one number or a pair
            (:class:`~monai_landmarks.utils.spacing.Spacing`'s checks).
    """
    try:
        unknown = spacing is None or bool(np.isnan(np.asarray(spacing, dtype=np.float64)).all())
    except (TypeError, ValueError):  # text: Spacing says what is wrong
        unknown = False
    return None if unknown else Spacing.of(spacing, None, name="spacing").as_array()


def to_mm(points: np.ndarray, spacing: np.ndarray | None) -> np.ndarray:
    """Points in mm when the spacing is known, else in pixels (angles need only square pixels)."""
    return points if spacing is None else points * spacing


def missing_reason(points: np.ndarray, indices: Sequence[int], names: Sequence[str]) -> str | None:
    """``"missing landmark(s): ..."`` when any of ``indices`` is NaN or infinite, else None."""
    bad = [i for i in indices if not np.isfinite(points[i]).all()]
    if not bad:
        return None
    return "missing landmark(s): " + ", ".join(f"{i} ({names[i]})" for i in bad)
