"""Landmark metrics: radial error, MRE, SD and SDR, as MONAI cumulative metrics (no Ignite needed)."""

from __future__ import annotations

from .baselines import mean_shape, mean_shape_report
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
    "landmark_error_report",
    "mean_shape",
    "mean_shape_report",
]
