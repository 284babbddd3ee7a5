"""Glue between landmark batches and MONAI's Ignite workflows (``SupervisedTrainer``, ``SupervisedEvaluator``), and
the cascade's refinement step with its self-describing refiner weights file."""

from __future__ import annotations

from .. import transforms
from .batch import LandmarkTargetLoss, PrepareLandmarkBatch, as_levels
from .cascade import PatchRefinement
from .inferers import FlipTestInferer
from .refiner_file import RefinerFile, RefinerSpec, load_refiner, read_refiner

# the names run folders written by 0.1 use in their configs, kept so those folders still predict and resume
RefineLandmarksd = transforms.RefineLandmarksd
refinement_from_file = PatchRefinement.from_file

__all__ = [
    "FlipTestInferer",
    "LandmarkTargetLoss",
    "PatchRefinement",
    "PrepareLandmarkBatch",
    "RefinerFile",
    "RefinerSpec",
    "as_levels",
    "load_refiner",
    "read_refiner",
]
