"""Checkpoints that make a training run resumable, and the best model chosen by a validation metric.

MONAI's ``CheckpointSaver`` writes ``checkpoint_epoch=N.pt`` every epoch, but in place (its ``DiskSaver`` has
``atomic=False``): a run killed while saving leaves half a file, which the next start would try to resume from.
:class:`AtomicCheckpointSaver` is the same handler writing through a temporary file and a rename.
``CheckpointLoader`` restores a checkpoint, but only from a path known when the config is written.
:class:`ResumeFromLatest` finds the newest checkpoint when the run starts, so restarting the same command
continues where the last run stopped, losing at most the epoch in progress.

:class:`SaveBestModel` keeps the network of the best validation score (lowest MRE by default) in
``model.pt``. Unlike a key-metric ``CheckpointSaver``, its best score is part of the training checkpoint, so a
resumed run never overwrites a better model with a worse one.

:class:`SeedEachEpoch` makes every epoch's randomness (data order, augmentation draws, dropout) a function of
the seed and the epoch number alone, so a resumed run repeats exactly what an uninterrupted one would do.
:func:`check_weights` tells a checkpoint of another network apart from a corrupt file before loading it, refuses
NaN or infinite weights, and checks a file its bundle's ``large_files.yml`` lists against its sha256;
:func:`load_weights` (and the bundles' :class:`WeightsLoader` handler) load through it and say which file ran.

A checkpoint folder belongs to one run: :class:`ResumeFromLatest` locks it while the run lasts, records what
the run trains on in ``run.json`` and refuses a run of other data or another network there, and resumes from
or prunes only files of the saver's exact name.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from monai.handlers import CheckpointLoader, CheckpointSaver
from monai.utils import min_version, optional_import

from monai_landmarks.utils.dist import is_main_process
from monai_landmarks.utils.fingerprint import fingerprint_differences, run_fingerprint
from monai_landmarks.utils.io import atomic_torch_save, atomic_write_json
from monai_landmarks.utils.locks import FolderLock

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")
DiskSaver, _ = optional_import("ignite.handlers", "0.4.4", min_version, "DiskSaver")

__all__ = [
    "RUN_RECORD",
    "AtomicCheckpointSaver",
    "ResumeFromLatest",
    "SaveBestModel",
    "SeedEachEpoch",
    "WeightsLoader",
    "check_weights",
    "epoch_seed",
    "latest_checkpoint",
    "load_weights",
]

RUN_RECORD = "run.json"  #: what the run in a checkpoint folder trains on (see ResumeFromLatest)


def _epoch_file(file_prefix: str = "") -> re.Pattern:
    """The exact name MONAI's ``CheckpointSaver`` gives epoch checkpoints: ``[<prefix>_]checkpoint_epoch=N.pt``."""
    return re.compile(rf"^{re.escape(f'{file_prefix}_' if file_prefix else '')}checkpoint_epoch=(?P<epoch>\d+)\.pt$")


def _epoch_checkpoints(ckpt_dir, file_prefix: str = "") -> list[tuple[int, Path]]:
    folder = Path(ckpt_dir)
    if not folder.is_dir():
        return []
    pattern = _epoch_file(file_prefix)
    return sorted((int(m["epoch"]), p) for p in folder.iterdir() if (m := pattern.match(p.name)) and p.is_file())


def latest_checkpoint(ckpt_dir, file_prefix: str = "") -> Path | None:
    """The ``checkpoint_epoch=N.pt`` with the largest ``N`` in ``ckpt_dir``, or None.

    Only the exact name the saver writes counts: ``backup_checkpoint_epoch=9.pt`` or
    ``checkpoint_epoch=9.pt.bak`` are someone else's files.
    """
    found = _epoch_checkpoints(ckpt_dir, file_prefix)
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
    """MONAI's ``CheckpointSaver`` (same arguments and file names) whose files are replaced atomically."""

    def __init__(self, save_dir: str, save_dict: dict, **kwargs) -> None:
        super().__init__(save_dir, save_dict, **kwargs)
        for checkpoint in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint):
            if checkpoint is not None:
                fixed = getattr(checkpoint.save_handler, "filename", None)
                checkpoint.save_handler = _AtomicDiskSaver(self.save_dir, fixed)


class ResumeFromLatest:
    """Restore the newest epoch checkpoint of ``ckpt_dir`` when the trainer starts; do nothing if there is none.

    ``load_dict`` names the objects to restore, as for MONAI's ``CheckpointLoader``; include the trainer so
    the epoch counter resumes, and the optimizer and LR scheduler so the schedule does. Pair it with an
    ``AtomicCheckpointSaver(save_dir=ckpt_dir, save_dict=<same dict>, save_interval=1, n_saved=1)``.
    Older epoch checkpoints are removed once a newer one is written, so only one stays on disk.

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
    """

    def __init__(
        self, ckpt_dir, load_dict: dict, map_location=None, restart: bool = False, file_prefix: str = ""
    ) -> None:
        self.ckpt_dir = Path(ckpt_dir)
        self.load_dict = load_dict
        self.map_location = map_location
        self.restart = bool(restart)
        self.file_prefix = file_prefix
        self.logger = logging.getLogger(__name__)
        self.resumed_from: Path | None = None
        self.lock = FolderLock(self.ckpt_dir, "training")
        self._current: dict | None = None  # this run's fingerprint, from begin() until the trainer starts

    def attach(self, engine) -> None:
        """Lock the folder and check its run record now, then resume when the trainer starts.

        Checking here, not at the start, refuses another run's folder before anything else of this run is
        written there (the bundle's ``run`` writes the run folder's configs after this and before training).
        """
        # Ignite runs STARTED handlers in order: list this one first so the others see the restored state.
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
        checkpoints = _epoch_checkpoints(self.ckpt_dir, self.file_prefix)
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
            for _, old in _epoch_checkpoints(self.ckpt_dir, self.file_prefix):
                old.unlink(missing_ok=True)
        record = {"fingerprint": current, "checkpoints": _epoch_file(self.file_prefix).pattern}
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
        for _, older in _epoch_checkpoints(self.ckpt_dir, self.file_prefix)[:-1]:
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


class SaveBestModel:
    """Save the network's weights to ``path`` whenever the evaluator's ``metric_name`` improves.

    Attach it to the evaluator; put it in the trainer's checkpoint ``save_dict`` (it has ``state_dict``) so the
    best score survives a resume.

    Args:
        path: where the best weights go (a plain ``state_dict``, as the model zoo's ``models/model.pt``).
        network: the network to save (a DDP wrapper is unwrapped).
        metric_name: the evaluator metric to watch.
        mode: ``"min"`` (errors such as MRE) or ``"max"`` (rates such as SDR).
        writer: ``writer(state_dict, path)`` writes the file, default a plain ``state_dict``; the cascade's refiner
            passes its ``RefinerSpec.save``, so the file records the settings the weights only work with.
    """

    def __init__(
        self, path, network: torch.nn.Module, metric_name: str, mode: str = "min", writer=atomic_torch_save
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be one of ('min', 'max'), got {mode!r}.")
        self.path = Path(path)
        self.network = network
        self.metric_name = metric_name
        self.mode = mode
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1
        self.writer = writer

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def _better(self, value: float) -> bool:
        return value < self.best if self.mode == "min" else value > self.best

    def __call__(self, engine) -> None:
        if self.metric_name not in engine.state.metrics:
            raise KeyError(
                f"SaveBestModel watches metric {self.metric_name!r}, but the evaluator computed "
                f"{sorted(engine.state.metrics)}."
            )
        value = float(engine.state.metrics[self.metric_name])
        if math.isnan(value) or not self._better(value):
            return
        self.best = value
        self.best_epoch = int(engine.state.epoch)  # MONAI evaluators run with the trainer's epoch
        network = getattr(self.network, "module", self.network)
        if is_main_process():
            self.writer(network.state_dict(), self.path)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])


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


def _state_dict_in(obj, path: Path) -> Mapping:
    """The network weights in a loaded file: a plain ``state_dict`` or one stored under ``"model"``."""
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        keys = sorted(map(str, obj))[:6] if isinstance(obj, Mapping) else type(obj).__name__
        raise ValueError(
            f"{path}: not a network state_dict (found {keys}); pass the weights file, e.g. models/model.pt."
        )
    return obj


def _check_finite(state: Mapping, path: Path) -> None:
    """NaN or infinite weights make every heatmap NaN, and every landmark null: refuse them at load."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(
            f"{path}: {len(bad)} parameter tensor(s) hold NaN or infinite values (e.g. {bad[0]!r}); "
            "the training diverged or the file is damaged. Use an earlier checkpoint."
        )


def _read_weights(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors alike: the file is not usable weights
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"{path}: not a readable PyTorch weights file ({type(e).__name__}: {first}).") from e


def check_weights(path, network: torch.nn.Module) -> Mapping:
    """Check that the weights file ``path`` loads into ``network`` (same parameter names and shapes).

    A file listed in its bundle's ``large_files.yml`` is first checked against its size and sha256
    (:func:`~monai_landmarks.bundle.large_files.verify_weights_file`).

    Returns:
        The file's state_dict (on the CPU).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that does not match ``large_files.yml``, not a PyTorch weights file, weights of another
            network or of other settings (the message names the file and the first differences), or NaN or
            infinite weights.
    """
    from monai_landmarks.bundle.large_files import verify_weights_file

    path = Path(path)
    verify_weights_file(path)
    obj = _read_weights(path)
    state = _state_dict_in(obj, path)
    expected = getattr(network, "module", network).state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or reshaped):
        _check_finite(state, path)
        return state
    name = type(getattr(network, "module", network)).__name__
    if isinstance(obj, Mapping) and isinstance(obj.get("meta"), Mapping) and "patch_size" in obj["meta"]:
        raise ValueError(
            f"{path}: the cascade's patch refiner weights (refiner.pt), not weights of the network {name}; pass the "
            "coarse model's weights (models/model.pt)."
        )
    details = []
    if missing:
        details.append(f"{len(missing)} missing (e.g. {missing[0]!r})")
    if unexpected:
        details.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]!r})")
    if reshaped:
        k = reshaped[0]
        details.append(
            f"{len(reshaped)} of another shape (e.g. {k!r}: {tuple(state[k].shape)} in the file, "
            f"{tuple(expected[k].shape)} in the network)"
        )
    raise ValueError(
        f"{path}: weights do not fit the network {name}: "
        f"{'; '.join(details)} parameters. Is it a checkpoint of another network, or trained with other "
        "settings (num_landmarks, width_multiplier)?"
    )


def load_weights(path, network: torch.nn.Module) -> dict:
    """Load the weights file ``path`` into ``network`` after :func:`check_weights`; says which file ran.

    Every door that loads a bundle's model weights goes through here (the bundles' :class:`WeightsLoader`,
    ``predict``, ``export``, the MONAI Label app), so each one checks ``large_files.yml`` and reports the same.

    Returns:
        ``{"path": str, "sha256": hex, "listed_in": large_files.yml or None}``.
    """
    from monai_landmarks.bundle.large_files import verify_weights_file

    state = check_weights(path, network)
    getattr(network, "module", network).load_state_dict(state)  # copied onto the parameters' device
    return verify_weights_file(path)  # the hash is cached: not read again


class WeightsLoader:
    """Load checked model weights when the engine starts (in place of MONAI's ``CheckpointLoader`` in the bundles'
    inference and evaluation configs), and record which file ran in ``engine.state.weights["model"]``.

    Args:
        load_path: the weights file (a state_dict, as ``models/model.pt``).
        network: the network to load into.
        map_location: accepted for ``CheckpointLoader``'s arguments; the weights go to the network's device.
        name: the key in ``engine.state.weights``.
    """

    def __init__(self, load_path, network: torch.nn.Module, map_location=None, name: str = "model") -> None:
        self.load_path, self.network, self.map_location, self.name = Path(load_path), network, map_location, name
        self.logger = logging.getLogger(__name__)
        self.loaded: dict | None = None

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine) -> None:
        self.loaded = load_weights(self.load_path, self.network)
        weights = dict(getattr(engine.state, "weights", None) or {})
        weights[self.name] = self.loaded
        engine.state.weights = weights
        self.logger.info(f"{self.name} weights: {self.loaded['path']} (sha256 {self.loaded['sha256']})")
