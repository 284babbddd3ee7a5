"""Active learning by the models' own confidence: the unlabelled image whose last inference was least sure first.

Every inference on a datastore image records the mean landmark confidence of the result in the image's info
(``landmark_confidence``: ``{model: mean}``, see :func:`record_confidence`). The strategy ``least_confident``
offers the unlabelled image with the lowest recorded confidence (of the request's ``model``, or the lowest over all
models); images never inferred come after every scored one, so a first round of inference decides the order.
"""

from __future__ import annotations

import logging

import numpy as np
from monailabel.interfaces.datastore import Datastore
from monailabel.interfaces.tasks.strategy import Strategy

__all__ = ["CONFIDENCE_INFO_KEY", "LeastConfident", "mean_confidence", "record_confidence"]

logger = logging.getLogger(__name__)

#: key of the image info that holds ``{model: mean landmark confidence}``
CONFIDENCE_INFO_KEY = "landmark_confidence"


def mean_confidence(record: dict) -> float | None:
    """Mean of a result's per-landmark confidences (None when it has none)."""
    values = [p["confidence"] for p in record.get("landmarks", []) if p.get("confidence") is not None]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else None


def record_confidence(datastore: Datastore, image_id: str, model: str, record: dict) -> None:
    """Store the result's mean confidence in the image's info, beside those of other models."""
    mean = mean_confidence(record)
    if mean is None:
        return
    scores = dict(datastore.get_image_info(image_id).get(CONFIDENCE_INFO_KEY) or {})
    scores[model] = mean
    datastore.update_image_info(image_id, {CONFIDENCE_INFO_KEY: scores})


class LeastConfident(Strategy):
    """Offer the unlabelled image whose recorded landmark confidence is lowest (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__("Unlabelled image with the lowest mean landmark confidence of its last inference first")

    def __call__(self, request, datastore: Datastore):
        images = datastore.get_unlabeled_images()
        if not images:
            return None
        model = request.get("model")

        def score(image_id: str) -> float:
            scores = datastore.get_image_info(image_id).get(CONFIDENCE_INFO_KEY) or {}
            values = [scores[model]] if model in scores else [] if model else list(scores.values())
            return min(values) if values else np.inf

        ranked = sorted(images, key=lambda image_id: (score(image_id), image_id))
        chosen = ranked[0]
        logger.info(f"least confident: {chosen} (mean confidence {score(chosen)}) of {len(images)} unlabelled")
        return {"id": chosen, "confidence": None if np.isinf(score(chosen)) else score(chosen)}
