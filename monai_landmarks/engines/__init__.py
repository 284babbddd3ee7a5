"""Glue between landmark batches and MONAI's Ignite workflows (``SupervisedTrainer``, ``SupervisedEvaluator``)."""

from __future__ import annotations

from .batch import LandmarkTargetLoss, PrepareLandmarkBatch, as_levels
from .cascade import (
    PatchRefinement,
    RefineLandmarksd,
    image_spacing,
    image_spacing_and_source,
    load_refiner,
    refinement_from_file,
)
from .inferers import FlipTestInferer

__all__ = [
    "FlipTestInferer",
    "LandmarkTargetLoss",
    "PatchRefinement",
    "PrepareLandmarkBatch",
    "RefineLandmarksd",
    "as_levels",
    "image_spacing",
    "image_spacing_and_source",
    "load_refiner",
    "refinement_from_file",
]
