"""What a training run trains on, recorded in its run folder so that a restart resumes only the same run.

A run folder's checkpoints are resumed by whatever run is started there next. Without a record, a run
started with another dataset (or another network) resumes the old one, and trains nothing if it had
finished. :func:`run_fingerprint` summarises the training data (folder, image ids, landmark count) and
the key settings (network class and parameter shapes, batch size); :func:`fingerprint_differences` lists
what differs between two of them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence

import numpy as np

from monai_landmarks.utils.keys import Keys

__all__ = ["dataset_fingerprint", "fingerprint_differences", "run_fingerprint"]


def _digest(texts: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(texts).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def dataset_fingerprint(items: Sequence[Mapping] | None) -> dict:
    """Folder, number and digest of the image ids, and landmark count of a datalist (None: unknown data)."""
    items = [item for item in items or () if isinstance(item, Mapping)]
    if not items:
        return {"data": None}
    files = [
        str(item.get(Keys.IMAGE, "")) if isinstance(item.get(Keys.IMAGE), (str, os.PathLike)) else "" for item in items
    ]
    ids = sorted(str(item.get(Keys.IMAGE_ID, os.path.basename(f))) for item, f in zip(items, files, strict=True))
    landmarks = items[0].get(Keys.LANDMARKS)
    folders = sorted({os.path.dirname(os.path.abspath(f)) for f in files if f})
    return {
        "data": os.path.commonpath(folders) if folders else None,
        "num_images": len(ids),
        "image_ids": _digest(ids),
        "num_landmarks": None if landmarks is None else int(np.shape(landmarks)[-2]),
    }


def run_fingerprint(engine) -> dict:
    """The fingerprint of a MONAI trainer's run: its training datalist and key settings."""
    loader = getattr(engine, "data_loader", None)
    items = getattr(getattr(loader, "dataset", None), "data", None)
    network = getattr(engine, "network", None)
    network = getattr(network, "module", network)
    shapes = [] if network is None else [f"{k}:{tuple(v.shape)}" for k, v in network.state_dict().items()]
    return {
        **dataset_fingerprint(items),
        "network": None if network is None else type(network).__name__,
        "parameter_shapes": _digest(shapes),
        "batch_size": getattr(loader, "batch_size", None),
    }


def fingerprint_differences(recorded: Mapping, current: Mapping) -> list[str]:
    """``"key: recorded -> current"`` for every key whose value differs."""
    keys = sorted(set(recorded) | set(current))
    return [f"{k}: {recorded.get(k)!r} -> {current.get(k)!r}" for k in keys if recorded.get(k) != current.get(k)]
