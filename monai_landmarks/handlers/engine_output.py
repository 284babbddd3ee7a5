"""The per-sample view of an engine iteration that landmark handlers read.

MONAI's post-processing sees each sample's batch and output keys together, then files new keys under
``engine.state.output`` and the batch's own keys (ground-truth landmarks, spacing, image id) back under
``engine.state.batch``. Handlers that compare a prediction with its ground truth need both again.
"""

from __future__ import annotations

from monai.data import decollate_batch

__all__ = ["engine_samples"]


def _samples(data) -> list[dict]:
    if data is None:
        return []
    if isinstance(data, dict):
        return decollate_batch(data, detach=True)
    return [d for d in data if isinstance(d, dict)]


def engine_samples(engine) -> list[dict]:
    """One dict per sample: the batch's keys overlaid with the output's (as post-processing saw them)."""
    outputs = _samples(engine.state.output)
    batches = _samples(getattr(engine.state, "batch", None))
    if len(batches) != len(outputs):
        return outputs
    return [{**b, **o} for b, o in zip(batches, outputs, strict=True)]
