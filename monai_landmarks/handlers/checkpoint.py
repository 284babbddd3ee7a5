"""Where the checkpoint handlers lived before they got one file each (0.1): run folders written then name
``monai_landmarks.handlers.checkpoint.<Handler>`` in their configs, so the names stay importable from here."""

from .checkpoint_saver import AtomicCheckpointSaver, latest_checkpoint
from .resume import ResumeFromLatest
from .save_best_model import SaveBestModel
from .seed_each_epoch import SeedEachEpoch
from .weights_loader import WeightsLoader, check_weights, load_weights

__all__ = [
    "AtomicCheckpointSaver",
    "ResumeFromLatest",
    "SaveBestModel",
    "SeedEachEpoch",
    "WeightsLoader",
    "check_weights",
    "latest_checkpoint",
    "load_weights",
]
