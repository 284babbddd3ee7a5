"""Landmark metrics: radial error, MRE, SD and SDR, as MONAI cumulative metrics (no Ignite needed); clinical
scores of the measurements derived from landmarks (ISBI 2015 classification, AASCE SMAPE)."""

from __future__ import annotations

from .baselines import mean_shape, mean_shape_report
from .clinical import cephalometric_report, cobb_report, smape
from .landmark_error import (
    DEFAULT_RADII,
    ErrorProtocol,
    ErrorUnit,
    MeanRadialErrorMetric,
    RadialErrorMetric,
    SuccessDetectionRateMetric,
    landmark_error_report,
)

__all__ = [
    "DEFAULT_RADII",
    "ErrorProtocol",
    "ErrorUnit",
    "MeanRadialErrorMetric",
    "RadialErrorMetric",
    "SuccessDetectionRateMetric",
    "cephalometric_report",
    "cobb_report",
    "landmark_error_report",
    "mean_shape",
    "mean_shape_report",
    "smape",
]
