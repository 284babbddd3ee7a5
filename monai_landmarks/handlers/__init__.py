"""Ignite handlers: landmark metrics, evaluation reports, predictions, checkpoints and resume.

Ignite is imported through ``monai.utils.optional_import``: importing this package never needs it.
"""

from __future__ import annotations

from .checkpoint import (
    AtomicCheckpointSaver,
    ResumeFromLatest,
    SaveBestModel,
    SeedEachEpoch,
    WeightsLoader,
    latest_checkpoint,
    load_weights,
)
from .domains import DomainReportWriter, SetSamplerEpoch, domain_metrics, domain_report_writers, mean_metric
from .evaluation_report import LandmarkReportWriter
from .landmark_metrics import LandmarkMetricHandler, MeanRadialError, SuccessDetectionRate
from .metrics_history import MetricsHistory, lower_is_better
from .prediction_writer import LandmarkPredictionWriter, prediction_record
from .progress import RunProgress
from .training_log import LossAndLearningRate, TrainingProgressBar, ValidationOverlayTensorBoard

__all__ = [
    "AtomicCheckpointSaver",
    "DomainReportWriter",
    "LandmarkMetricHandler",
    "LandmarkPredictionWriter",
    "LandmarkReportWriter",
    "LossAndLearningRate",
    "MeanRadialError",
    "MetricsHistory",
    "ResumeFromLatest",
    "RunProgress",
    "SaveBestModel",
    "SeedEachEpoch",
    "SetSamplerEpoch",
    "SuccessDetectionRate",
    "TrainingProgressBar",
    "ValidationOverlayTensorBoard",
    "WeightsLoader",
    "domain_metrics",
    "domain_report_writers",
    "latest_checkpoint",
    "load_weights",
    "lower_is_better",
    "mean_metric",
    "prediction_record",
]
