"""What a training run trains on, recorded in its run folder so that a restart resumes only the same run.

A run folder's checkpoints are resumed by whatever run is started there next. Without a record, a run
started with another dataset (or another network) resumes the old one, and trains nothing if it had
finished. :func:`run_fingerprint` summarises the training data (folder, image ids, landmark count, and a
digest of what is in it: image file names and sizes, landmark coordinates and spacings, so a dataset
re-converted or regenerated in the same folder is other data) and the key settings (network class and
parameter shapes, batch size); :func:`fingerprint_differences` lists what differs between two of them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence

import numpy as np

from monai_landmarks.utils.keys import Keys

__all__ = ["dataset_fingerprint", "fingerprint_differences", "run_fingerprint"]


_LABEL_KEYS = (Keys.LANDMARKS, Keys.SPACING)
_ADDED_KEYS = {"data_digest"}  # keys added after records were first written: compared only where recorded


def _digest(texts: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(texts).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _file_size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _content_digest(items: Sequence[Mapping], files: Sequence[str]) -> str:
    """What the images and labels are: each image's file name and size, its landmarks and spacing."""
    lines = []
    for item, file in zip(items, files, strict=True):
        values = [np.asarray(item.get(key, np.nan), np.float64).tobytes().hex() for key in _LABEL_KEYS]
        lines.append(" ".join([os.path.basename(file), str(_file_size(file) if file else None), *values]))
    return _digest(sorted(lines))


def dataset_fingerprint(items: Sequence[Mapping] | None) -> dict:
    """Folder, number and digest of the image ids, landmark count and content digest of a datalist (None:
    unknown data)."""
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
        "data_digest": _content_digest(items, files),
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
    """``"key: recorded -> current"`` for every key whose value differs.

    A key the record lacks (written by an older version, before that key existed) is not compared.
    """
    keys = sorted(set(recorded) | (set(current) - _ADDED_KEYS))
    return [f"{k}: {recorded.get(k)!r} -> {current.get(k)!r}" for k in keys if recorded.get(k) != current.get(k)]
