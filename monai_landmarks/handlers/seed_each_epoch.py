"""Every epoch's randomness a function of the run's seed and the epoch number, so a resumed run repeats an
uninterrupted one."""

from __future__ import annotations

import random

import numpy as np
import torch
from monai.utils import min_version, optional_import

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")

__all__ = ["SeedEachEpoch", "epoch_seed"]


def epoch_seed(seed: int, epoch: int) -> int:
    """A 32-bit seed for ``epoch`` of a run seeded with ``seed``; different seeds or epochs give unrelated ones."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


class SeedEachEpoch:
    """Reseed Python, NumPy, torch and the training transforms at the start of every epoch.

    Without it an epoch's data order and augmentations depend on every random draw since the run started, and
    a run resumed from a checkpoint draws differently from one that never stopped. The DataLoader's shuffle
    and the transforms draw lazily, on the epoch's first batch, so reseeding on ``EPOCH_STARTED`` fixes them.
    Exact for ``num_workers=0``; worker processes are seeded from torch's generator when their iterator starts.

    Args:
        seed: the run's seed.
        transform: the training transforms (a MONAI ``Compose`` or any ``Randomizable``), reseeded as well.
    """

    def __init__(self, seed: int, transform=None) -> None:
        self.seed = int(seed)
        self.transform = transform

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine) -> None:
        seed = epoch_seed(self.seed, engine.state.epoch)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        if self.transform is not None and hasattr(self.transform, "set_random_state"):
            self.transform.set_random_state(seed=seed)
