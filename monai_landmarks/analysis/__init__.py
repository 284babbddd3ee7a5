"""Clinical measurements from landmarks: ISBI 2015 cephalometry (eight measurements and classes) and AASCE Cobb
angles, as plain functions on ``(K, 2)`` points in original-image pixels plus the pixel spacing."""

from __future__ import annotations

from .cephalometry import (
    CLASS_LABELS,
    ISBI_LANDMARKS,
    LINES,
    MEASUREMENTS,
    THRESHOLDS,
    cephalometric_measurements,
    classify,
)
from .cobb import COBB_ANGLES, VERTEBRAE, cobb_angles, corner_order_problems, vertebra_line
from .records import Measurement
from .registry import ANALYSIS_KEY, AnalysisKind, analyse, bundle_analysis, measurement_lines, parse_kind

__all__ = [
    "ANALYSIS_KEY",
    "CLASS_LABELS",
    "COBB_ANGLES",
    "ISBI_LANDMARKS",
    "LINES",
    "MEASUREMENTS",
    "THRESHOLDS",
    "VERTEBRAE",
    "AnalysisKind",
    "Measurement",
    "analyse",
    "bundle_analysis",
    "cephalometric_measurements",
    "classify",
    "cobb_angles",
    "corner_order_problems",
    "measurement_lines",
    "parse_kind",
    "vertebra_line",
]
