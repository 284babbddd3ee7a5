"""Errors summarised by anatomical structure: the lungs, heart and clavicles of a chest contour set, the
vertebrae of a spine, and the mean squared point error in another pixel frame (the form chest contour papers
publish).

Inputs are ``(N, K)`` radial errors (one row per image, NaN where a landmark is missing), as the accuracy suite and
:class:`~monai_landmarks.handlers.LandmarkReportWriter`'s ``per_image.csv`` hold them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["group_errors", "landmark_groups", "mean_squared_error", "vertebra_groups"]


def landmark_groups(meta: Mapping) -> dict[str, tuple[int, int]]:
    """The ``landmark_groups`` of a dataset's metadata (``name -> [start, stop)``), checked; empty when absent.

    Raises:
        ValueError: a group that is not a ``[start, stop)`` pair inside ``[0, num_landmarks]``.
    """
    k = int(meta["num_landmarks"])
    groups = {}
    for name, span in (meta.get("landmark_groups") or {}).items():
        if not (isinstance(span, Sequence) and len(span) == 2 and 0 <= span[0] < span[1] <= k):
            raise ValueError(f"landmark group {name!r}: expected [start, stop) within [0, {k}], got {span!r}.")
        groups[name] = (int(span[0]), int(span[1]))
    return groups


def vertebra_groups(names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Groups of consecutive landmarks sharing the first word of their name (``"T1 top-left"`` -> ``"T1"``).

    Raises:
        ValueError: when a name's group appears again after another group (the corners must be consecutive).
    """
    groups: dict[str, tuple[int, int]] = {}
    for i, name in enumerate(names):
        key = name.split()[0]
        if key in groups and groups[key][1] != i:
            raise ValueError(f"landmark {i} ({name!r}) is not next to the other landmarks of {key!r}.")
        groups[key] = (groups.get(key, (i, i))[0], i + 1)
    return groups


def group_errors(errors, groups: Mapping[str, tuple[int, int]]) -> dict[str, dict]:
    """Per group: mean and SD of the radial errors of its landmarks over all images, and how many were counted."""
    e = np.asarray(errors, dtype=np.float64)
    out = {}
    for name, (start, stop) in groups.items():
        values = e[:, start:stop]
        counted = values[~np.isnan(values)]
        out[name] = {
            "mre": float(counted.mean()) if counted.size else None,
            "sd": float(counted.std(ddof=1)) if counted.size > 1 else None,
            "count": int(counted.size),
        }
    return out


def mean_squared_error(errors, scale: float = 1.0) -> float | None:
    """Mean of the squared radial errors after scaling them by ``scale`` (e.g. mm -> pixels of another frame).

    ``scale`` turns an error's unit into the one wanted: errors in mm of a 0.7 mm image, in pixels of a
    1024 x 1024 resize of its 512 x 512 copy, is ``scale = 2 / 0.7``. None when no error is counted.
    """
    e = np.asarray(errors, dtype=np.float64).ravel() * float(scale)
    e = e[~np.isnan(e)]
    return float(np.mean(e**2)) if e.size else None
