"""Resume a training run from its newest epoch checkpoint, in a folder that belongs to that one run.

``CheckpointLoader`` restores a checkpoint, but only from a path known when the config is written.
:class:`ResumeFromLatest` finds the newest checkpoint when the run starts, so restarting the same command
continues where the last run stopped, losing at most the epoch in progress.

A checkpoint folder belongs to one run: :class:`ResumeFromLatest` locks it while the run lasts, records what
the run trains on in ``run.json`` and refuses a run of other data or another network there, and resumes from
or prunes only files of the saver's exact name.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from monai.handlers import CheckpointLoader
from monai.utils import min_version, optional_import

from monai_landmarks.utils.dist import is_main_process
from monai_landmarks.utils.fingerprint import fingerprint_differences, run_fingerprint
from monai_landmarks.utils.io import atomic_write_json
from monai_landmarks.utils.locks import FolderLock

from .checkpoint_saver import epoch_checkpoints, epoch_file, latest_checkpoint
from .save_best_model import SaveBestModel

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")

__all__ = ["RUN_RECORD", "ResumeFromLatest"]

RUN_RECORD = "run.json"  #: what the run in a checkpoint folder trains on (see ResumeFromLatest)


class ResumeFromLatest:
    """Restore the newest epoch checkpoint of ``ckpt_dir`` when the trainer starts; do nothing if there is none.

    A trainer handler (list it in the trainer's ``train_handlers``). ``load_dict`` names the objects to restore,
    as for MONAI's ``CheckpointLoader``: the network, and the optimizer and LR scheduler so the schedule
    resumes; the trainer it is attached to is restored too (under ``trainer_key``), so the epoch counter
    resumes. Pair it with an ``AtomicCheckpointSaver(save_dir=ckpt_dir, save_dict=<same dict>,
    trainer_key=<same key>, save_interval=1, n_saved=1)`` listed after the validation handler, so each
    checkpoint holds the epoch's validation state. Older epoch checkpoints are removed once a newer one is
    written, so only one stays on disk.

    What makes it safe to start the same command twice, or another command in the same folder:

    - only files with the saver's exact name (``checkpoint_epoch=N.pt``) are resumed from or pruned;
    - ``ckpt_dir`` is locked (:class:`~monai_landmarks.utils.locks.FolderLock`) and the run record checked
      when the handler is attached, before the run writes anything (configs, checkpoints), until the run
      ends: a second training into the same folder stops with an error naming the first;
    - weights the run would replace that no run of this folder wrote (a bundle's shipped ``models/model.pt``,
      listed in its ``large_files.yml``, or a ``model.pt`` beside no run record) stop it before it starts;
    - ``ckpt_dir/run.json`` records what the run trains on (:func:`~monai_landmarks.utils.fingerprint.run_fingerprint`);
      a run with another dataset or network is refused, naming both, unless ``restart=True``, which removes
      the old run's epoch checkpoints and starts from epoch 0.

    Args:
        ckpt_dir: folder of the ``checkpoint_epoch=N.pt`` files.
        load_dict: objects to restore, keyed as in the checkpoint.
        map_location: device the tensors are loaded to.
        restart: start over in a folder that holds another run (set ``train#resume#restart`` to true).
        file_prefix: the saver's ``file_prefix``, if any.
        trainer_key: the key the trainer is restored from (None: the trainer is not restored). A config cannot
            name the trainer in ``load_dict`` when this handler is one of its ``train_handlers``.
    """

    def __init__(
        self,
        ckpt_dir,
        load_dict: dict,
        map_location=None,
        restart: bool = False,
        file_prefix: str = "",
        trainer_key: str | None = None,
    ) -> None:
        self.ckpt_dir = Path(ckpt_dir)
        self.load_dict = dict(load_dict)
        self.trainer_key = trainer_key
        self.map_location = map_location
        self.restart = bool(restart)
        self.file_prefix = file_prefix
        self.logger = logging.getLogger(__name__)
        self.resumed_from: Path | None = None
        self.lock = FolderLock(self.ckpt_dir, "training")
        self._current: dict | None = None  # this run's fingerprint, from begin() until the trainer starts

    def attach(self, engine) -> None:
        """Lock the folder and check its run record now, then resume when the trainer starts.

        Checking here, when the trainer is built, refuses another run's folder before anything else of this run
        is written there (the run folder's configs, written when the trainer starts, included).
        """
        if self.trainer_key is not None:
            self.load_dict.setdefault(self.trainer_key, engine)
        engine.add_event_handler(Events.STARTED, self)
        # The saver forgets files of earlier runs; prune them once its newer checkpoint exists.
        engine.add_event_handler(Events.EPOCH_STARTED, self.prune)
        engine.add_event_handler(Events.COMPLETED, self.prune)
        engine.add_event_handler(Events.COMPLETED, self.finish)
        self.begin(engine)

    def begin(self, engine) -> None:
        """Take the folder's lock and check the run record against this run (main process only).

        Raises:
            FolderLockedError: another training holds the folder.
            ValueError: the folder holds another run, or weights no run of this folder wrote.
        """
        if not is_main_process():
            return
        self.lock.acquire()
        try:
            self._current = self._check_run(engine)
        except BaseException:
            self.lock.release()  # a refused start leaves the folder as it found it
            raise

    def __call__(self, engine) -> None:
        if self._current is None:  # a trainer run again after it finished (its lock was released then)
            self.begin(engine)
        try:
            if is_main_process():
                self._record_run()
            self._resume(engine)
        except BaseException:
            self.lock.release()
            raise

    def _resume(self, engine) -> None:
        path = latest_checkpoint(self.ckpt_dir, self.file_prefix)
        if path is None:
            return
        try:
            CheckpointLoader(load_path=str(path), load_dict=self.load_dict, map_location=self.map_location)(engine)
        except Exception as e:  # a truncated file, another network: name the file instead of a torch traceback
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise ValueError(
                f"{path}: cannot resume training from this checkpoint ({type(e).__name__}: {first}). "
                "Move it away to resume from an earlier one, or use another bundle_root."
            ) from e
        self.resumed_from = path
        self.logger.info(f"resumed training from {path} at epoch {engine.state.epoch}")

    def _check_run(self, engine) -> dict:
        """Compare the run record with this run; refuse another run's folder. Returns this run's fingerprint.

        Nothing is written here: :meth:`_record_run` does that once the trainer starts.
        """
        record_path = self.ckpt_dir / RUN_RECORD
        current = run_fingerprint(engine)
        recorded = _read_record(record_path)
        self._check_weights_owned(recorded)
        checkpoints = epoch_checkpoints(self.ckpt_dir, self.file_prefix)
        differences = fingerprint_differences(recorded.get("fingerprint") or {}, current) if recorded else []
        if differences:
            if not self.restart:
                raise ValueError(
                    f"{record_path}: this folder holds another training run; it differs in "
                    f"{'; '.join(differences)}. Use another bundle_root, or set train#resume#restart to true "
                    "to start over (the old run's epoch checkpoints are removed)."
                )
            self.logger.warning(f"{record_path}: starting over ({'; '.join(differences)}).")
        elif recorded is None and checkpoints and not self.restart:
            self.logger.warning(f"{self.ckpt_dir}: no {RUN_RECORD} (a run of an older version); resuming it.")
        return current

    def _record_run(self) -> None:
        """Start over if asked (the old epoch checkpoints removed), and write this run's record."""
        current, self._current = self._current, None
        if self.restart:
            for _, old in epoch_checkpoints(self.ckpt_dir, self.file_prefix):
                old.unlink(missing_ok=True)
        record = {"fingerprint": current, "checkpoints": epoch_file(self.file_prefix).pattern}
        atomic_write_json(self.ckpt_dir / RUN_RECORD, record)

    def _weights_written(self) -> list[Path]:
        """The weights files this run writes: the paths of the ``SaveBestModel`` handlers it checkpoints."""
        return [Path(obj.path) for obj in self.load_dict.values() if isinstance(obj, SaveBestModel)]

    def _check_weights_owned(self, recorded: dict | None) -> None:
        """Refuse to start where this run would replace weights that no run of this folder wrote: files
        shipped with a bundle (listed in its ``large_files.yml``), or weights beside no run record."""
        for path in self._weights_written():
            listed = _listed_large_file(path)
            if listed is not None:
                raise ValueError(
                    f"{path}: shipped weights of the bundle (listed in {listed}); training here would replace them "
                    "and leave the bundle's other files and hashes stale. Pick another --bundle_root (bundle_root) "
                    "for the run, e.g. runs/<name>."
                )
            if path.exists() and recorded is None:
                raise ValueError(
                    f"{path}: weights that no training run of this folder wrote (no {self.ckpt_dir / RUN_RECORD}); "
                    "training here would replace them. Pick another --bundle_root (bundle_root) for the run."
                )

    def prune(self, engine=None) -> None:
        """Remove every epoch checkpoint of this run but the newest (files of other names are never touched)."""
        if not is_main_process():
            return
        for _, older in epoch_checkpoints(self.ckpt_dir, self.file_prefix)[:-1]:
            older.unlink(missing_ok=True)

    def finish(self, engine=None) -> None:
        """Release the folder's lock (also released by the kernel if the process dies)."""
        self.lock.release()


def _listed_large_file(path: Path) -> Path | None:
    """The ``large_files.yml`` of a bundle folder above ``path`` that lists it (a file shipped with the bundle)."""
    import yaml

    target = path.resolve()
    for folder in list(target.parents)[:3]:
        listing = folder / "large_files.yml"
        if not listing.is_file():
            continue
        try:
            entries = (yaml.safe_load(listing.read_text(encoding="utf-8")) or {}).get("large_files") or []
        except (OSError, ValueError, AttributeError, yaml.YAMLError) as e:
            raise ValueError(f"{listing}: unreadable ({e}); cannot tell which weights the bundle ships.") from e
        if any(isinstance(f, dict) and (folder / str(f.get("path", ""))).resolve() == target for f in entries):
            return listing
    return None


def _read_record(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable run record ({e}); move it away or use another bundle_root.") from e
    if not isinstance(record, dict):
        raise ValueError(f"{path}: not a run record (expected a JSON object).")
    return record
