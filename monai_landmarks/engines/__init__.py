"""Glue between landmark batches and MONAI's Ignite workflows (``SupervisedTrainer``, ``SupervisedEvaluator``)."""

from __future__ import annotations

from .batch import LandmarkTargetLoss, PrepareLandmarkBatch, as_levels
from .inferers import FlipTestInferer

__all__ = ["FlipTestInferer", "LandmarkTargetLoss", "PrepareLandmarkBatch", "as_levels"]
