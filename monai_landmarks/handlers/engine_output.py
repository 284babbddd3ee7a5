"""The per-sample view of an engine iteration that landmark handlers read.

MONAI's post-processing sees each sample's batch and output keys together, then files new keys under
``engine.state.output`` and the batch's own keys (ground-truth landmarks, spacing, image id) back under
``engine.state.batch``. Handlers that compare a prediction with its ground truth need both again.
"""

from __future__ import annotations

import torch
from monai.data import decollate_batch

from monai_landmarks.utils.keys import Keys

__all__ = ["engine_samples"]


def _samples(data) -> list[dict]:
    if data is None:
        return []
    if isinstance(data, dict):
        return decollate_batch(data, detach=True)
    return [d for d in data if isinstance(d, dict)]


def engine_samples(engine, domain: int | None = None) -> list[dict]:
    """One dict per sample: the batch's keys overlaid with the output's (as post-processing saw them).

    With ``domain`` set, only the samples of that domain (``Keys.DOMAIN``), as a universal model's per-domain
    metrics and reports need.
    """
    outputs = _samples(engine.state.output)
    batches = _samples(getattr(engine.state, "batch", None))
    samples = outputs if len(batches) != len(outputs) else [{**b, **o} for b, o in zip(batches, outputs, strict=True)]
    if domain is None:
        return samples
    return [s for s in samples if _domain_of(s) == domain]


def _domain_of(sample: dict) -> int:
    if Keys.DOMAIN not in sample:
        raise KeyError(f"a per-domain handler needs the sample key {Keys.DOMAIN!r}; the sample has {sorted(sample)}.")
    return int(torch.as_tensor(sample[Keys.DOMAIN]).reshape(-1)[0])
