"""Ignite handlers: landmark metrics, evaluation reports, predictions, checkpoints and resume.

Ignite is imported through ``monai.utils.optional_import``: importing this package never needs it.
"""

from __future__ import annotations

from .checkpoint import ResumeFromLatest, SaveBestModel, latest_checkpoint
from .evaluation_report import LandmarkReportWriter
from .landmark_metrics import LandmarkMetricHandler, MeanRadialError, SuccessDetectionRate
from .metrics_history import MetricsHistory, lower_is_better
from .prediction_writer import LandmarkPredictionWriter, prediction_record

__all__ = [
    "LandmarkMetricHandler",
    "LandmarkPredictionWriter",
    "LandmarkReportWriter",
    "MeanRadialError",
    "MetricsHistory",
    "ResumeFromLatest",
    "SaveBestModel",
    "SuccessDetectionRate",
    "latest_checkpoint",
    "lower_is_better",
    "prediction_record",
]
