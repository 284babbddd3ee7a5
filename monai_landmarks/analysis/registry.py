"""Which analysis a bundle's landmarks get, and the one call that runs it.

A bundle declares its analysis with the flat value ``"analysis"`` in ``configs/inference.json`` (the file
``predict`` and the MONAI Label app already read, and that training copies into every run folder):
``"cephalometry"`` (the 19 ISBI 2015 landmarks), ``"cobb"`` (68 AASCE vertebra corners), or ``null`` / absent for
none. :func:`bundle_analysis` reads and checks it; :func:`analyse` computes the measurements.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path

import numpy as np

from .cephalometry import LINES, cephalometric_measurements
from .cobb import cobb_angles, vertebra_line
from .records import Measurement

__all__ = ["ANALYSIS_KEY", "AnalysisKind", "analyse", "bundle_analysis", "measurement_lines", "parse_kind"]

ANALYSIS_KEY = "analysis"


class AnalysisKind(str, Enum):
    """The analyses a bundle can declare."""

    CEPHALOMETRY = "cephalometry"
    COBB = "cobb"


def parse_kind(kind, where: str = "analysis") -> AnalysisKind | None:
    """An :class:`AnalysisKind` from its name (or the enum itself); None for None.

    Raises:
        ValueError: an unknown name; the message names ``where`` and lists the valid ones.
    """
    if kind is None or isinstance(kind, AnalysisKind):
        return kind
    try:
        return AnalysisKind(kind)
    except ValueError:
        valid = ", ".join(repr(k.value) for k in AnalysisKind)
        raise ValueError(f"{where}: unknown analysis {kind!r}; valid: {valid} or null.") from None


def bundle_analysis(bundle_dir) -> AnalysisKind | None:
    """The analysis ``bundle_dir/configs/inference.json`` declares, or None when it declares none.

    Raises:
        ValueError: the file is not JSON, or the value is not a known analysis (the message names the file).
    """
    path = Path(bundle_dir) / "configs" / "inference.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}).") from None
    value = config.get(ANALYSIS_KEY) if isinstance(config, Mapping) else None
    return parse_kind(value, f"{path}: '{ANALYSIS_KEY}'")


def analyse(kind, landmarks, spacing=None, image_size: Sequence[int] | None = None) -> dict[str, Measurement]:
    """The measurements of one image's landmarks by the declared analysis; ``{}`` when ``kind`` is None.

    Args:
        kind: ``"cephalometry"``, ``"cobb"``, an :class:`AnalysisKind`, or None.
        landmarks: ``(K, 2)`` x, y in pixels of the original image, NaN for missing.
        spacing: mm per pixel (number or ``(x, y)``), None / NaN when unknown.
        image_size: ``(width, height)`` of the original image in pixels; Cobb's upper/lower-half rule uses the
            height (without it, the spine's middle, reported in each angle's ``details``).

    Raises:
        ValueError: an unknown kind, landmarks of the wrong shape, or a bad spacing.
    """
    kind = parse_kind(kind)
    if kind is None:
        return {}
    if kind is AnalysisKind.CEPHALOMETRY:
        return cephalometric_measurements(landmarks, spacing)
    return cobb_angles(landmarks, None if image_size is None else float(image_size[1]))


def measurement_lines(kind, measurements: Sequence[Mapping], landmarks) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """The lines each measurement with a value is read from, as ``(start, end, name)`` in image pixels, for an
    overlay: cephalometry the landmark pairs of :data:`~.cephalometry.LINES`, Cobb the two end vertebrae's lines.

    Args:
        kind: the analysis that made ``measurements`` (as for :func:`analyse`).
        measurements: :meth:`~.records.Measurement.to_dict` records (a prediction JSON's ``measurements``).
        landmarks: ``(K, 2)`` the landmarks they were computed from.
    """
    kind = parse_kind(kind)
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    lines = []
    for m in measurements:
        if m.get("value") is None:
            continue  # nothing was measured, so nothing to show
        if kind is AnalysisKind.CEPHALOMETRY:
            lines += [(points[a], points[b], m["name"]) for a, b in LINES[m["name"]]]
        elif kind is AnalysisKind.COBB:
            lines += [(*vertebra_line(points, v), m["name"]) for v in m["details"]["end_vertebrae"]]
    return lines
