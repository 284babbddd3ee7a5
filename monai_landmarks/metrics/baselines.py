"""The mean-shape baseline: predict every landmark at its mean training position.

A detector that does not beat it has learned nothing about the image. Coordinates are pixels of the stored
images, so the baseline is meaningful for datasets whose images share one size (ISBI 2015, the phantoms).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from monai_landmarks.metrics.landmark_error import RadialErrorMetric
from monai_landmarks.metrics.protocol import ErrorProtocol
from monai_landmarks.utils.keys import Keys

__all__ = ["mean_shape", "mean_shape_report"]


def mean_shape(datalist: Sequence[dict]) -> np.ndarray:
    """The ``(1, K, 2)`` mean of the datalist's landmarks, ignoring missing ones."""
    points = np.stack([np.asarray(d[Keys.LANDMARKS], dtype=np.float64).reshape(-1, 2) for d in datalist])
    return np.nanmean(points, axis=0)[None]


def mean_shape_report(train: Sequence[dict], evaluate: Sequence[dict], protocol: ErrorProtocol) -> dict:
    """The error report of the mean-shape prediction on ``evaluate``.

    Args:
        train: datalist whose mean shape is the prediction.
        evaluate: datalist to score (its landmarks and spacing).
        protocol: the unit protocol of the errors.
    """
    metric = RadialErrorMetric(protocol)
    guess = torch.as_tensor(mean_shape(train))
    for d in evaluate:
        truth = torch.as_tensor(np.asarray(d[Keys.LANDMARKS], dtype=np.float64)).reshape(1, -1, 2)
        spacing = d.get(Keys.SPACING)
        spacing = None if spacing is None else torch.as_tensor(np.asarray(spacing, dtype=np.float64)).reshape(1, 2)
        metric(guess, truth, spacing=spacing)
    return metric.aggregate()
