"""MONAI's ``CheckpointSaver`` writing through a temporary file and a rename, and the epoch checkpoints it leaves.

MONAI's ``CheckpointSaver`` writes ``checkpoint_epoch=N.pt`` every epoch, but in place (its ``DiskSaver`` has
``atomic=False``): a run killed while saving leaves half a file, which the next start would try to resume from.
:class:`AtomicCheckpointSaver` is the same handler writing atomically; :func:`latest_checkpoint` finds the newest
file of the exact name it writes.
"""

from __future__ import annotations

import re
from pathlib import Path

from monai.handlers import CheckpointSaver
from monai.utils import min_version, optional_import

from monai_landmarks.utils.dist import is_main_process
from monai_landmarks.utils.io import atomic_torch_save

DiskSaver, _ = optional_import("ignite.handlers", "0.4.4", min_version, "DiskSaver")

__all__ = ["AtomicCheckpointSaver", "epoch_checkpoints", "epoch_file", "latest_checkpoint"]


def epoch_file(file_prefix: str = "") -> re.Pattern:
    """The exact name MONAI's ``CheckpointSaver`` gives epoch checkpoints: ``[<prefix>_]checkpoint_epoch=N.pt``."""
    return re.compile(rf"^{re.escape(f'{file_prefix}_' if file_prefix else '')}checkpoint_epoch=(?P<epoch>\d+)\.pt$")


def epoch_checkpoints(ckpt_dir, file_prefix: str = "") -> list[tuple[int, Path]]:
    """``(N, path)`` of every ``checkpoint_epoch=N.pt`` in ``ckpt_dir``, oldest first."""
    folder = Path(ckpt_dir)
    if not folder.is_dir():
        return []
    pattern = epoch_file(file_prefix)
    return sorted((int(m["epoch"]), p) for p in folder.iterdir() if (m := pattern.match(p.name)) and p.is_file())


def latest_checkpoint(ckpt_dir, file_prefix: str = "") -> Path | None:
    """The ``checkpoint_epoch=N.pt`` with the largest ``N`` in ``ckpt_dir``, or None.

    Only the exact name the saver writes counts: ``backup_checkpoint_epoch=9.pt`` or
    ``checkpoint_epoch=9.pt.bak`` are someone else's files.
    """
    found = epoch_checkpoints(ckpt_dir, file_prefix)
    return found[-1][1] if found else None


class _AtomicDiskSaver(DiskSaver):
    """Ignite's ``DiskSaver`` (so ``Checkpoint.last_checkpoint`` works) writing with :func:`atomic_torch_save`."""

    def __init__(self, dirname, filename: str | None = None) -> None:
        super().__init__(dirname=str(dirname), require_empty=False, atomic=False)
        self.filename = filename  # a fixed name, as MONAI's final and key-metric checkpoints use
        self.pending: list[Path] = []

    def __call__(self, checkpoint, filename: str, metadata=None) -> None:
        if not is_main_process():
            return
        path = Path(self.dirname) / (self.filename or filename)
        atomic_torch_save(checkpoint, path)
        for old in self.pending:
            if old != path:
                old.unlink(missing_ok=True)
        self.pending = []

    def remove(self, filename: str) -> None:
        # Ignite removes the old checkpoint before saving the new one: a kill in between would leave none.
        self.pending.append(Path(self.dirname) / (self.filename or filename))


class AtomicCheckpointSaver(CheckpointSaver):
    """MONAI's ``CheckpointSaver`` (same arguments and file names) whose files are replaced atomically.

    Args:
        save_dir, save_dict, kwargs: as for MONAI's ``CheckpointSaver``.
        trainer_key: also save the engine the handler is attached to under this key (its epoch and iteration,
            so a run resumes where it stopped). A config cannot name the trainer in ``save_dict`` when the saver
            is one of that trainer's ``train_handlers`` (a circular reference). None saves ``save_dict`` only.
    """

    def __init__(self, save_dir: str, save_dict: dict, trainer_key: str | None = None, **kwargs) -> None:
        super().__init__(save_dir, dict(save_dict), **kwargs)  # its own dict: attach() adds the trainer to it
        self.trainer_key = trainer_key
        for checkpoint in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint):
            if checkpoint is not None:
                fixed = getattr(checkpoint.save_handler, "filename", None)
                checkpoint.save_handler = _AtomicDiskSaver(self.save_dir, fixed)

    def attach(self, engine) -> None:
        if self.trainer_key is not None:
            self.save_dict.setdefault(self.trainer_key, engine)  # the checkpoints hold this same dict
        super().attach(engine)
