"""Ignite handlers: landmark metrics, evaluation reports, predictions, checkpoints and resume.

Ignite is imported through ``monai.utils.optional_import``: importing this package never needs it.
"""

from __future__ import annotations

from .checkpoint_saver import AtomicCheckpointSaver, latest_checkpoint
from .domains import DomainReportWriter, SetSamplerEpoch, domain_metrics, domain_report_writers, mean_metric
from .evaluation_report import LandmarkReportWriter
from .landmark_metrics import LandmarkMetricHandler, MeanRadialError, SuccessDetectionRate
from .metrics_history import MetricsHistory, lower_is_better
from .prediction_writer import LandmarkPredictionWriter, prediction_record
from .progress import RunProgress
from .resume import ResumeFromLatest
from .save_best_model import SaveBestModel
from .seed_each_epoch import SeedEachEpoch
from .training_log import LossAndLearningRate, TrainingProgressBar, ValidationOverlayTensorBoard
from .weights_loader import WeightsLoader, check_weights, load_weights

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
    "check_weights",
    "domain_metrics",
    "domain_report_writers",
    "latest_checkpoint",
    "load_weights",
    "lower_is_better",
    "mean_metric",
    "prediction_record",
]
