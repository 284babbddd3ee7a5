"""Ignite handlers of the landmark metrics (Ignite is imported through ``monai.utils.optional_import``)."""

from __future__ import annotations

from .landmark_metrics import LandmarkMetricHandler, MeanRadialError, SuccessDetectionRate

__all__ = ["LandmarkMetricHandler", "MeanRadialError", "SuccessDetectionRate"]
