"""Make a training run folder a bundle: the configs that produced its weights, written beside them.

After ``python -m monai.bundle run training --config_file "['<bundle>/configs/train.json', ...]"
--bundle_root runs/x``, ``runs/x/configs`` holds (written by the trainer handler :class:`SaveRunBundle`):

- ``train.json``: the training config as it ran (every config file merged, command-line overrides applied),
  so resuming or evaluating needs no overrides;
- ``inference.json``: the bundle's inference config with the values it shares with training (input size,
  network width, levels, landmark names, ...) set to the values this run trained with, so ``predict``,
  ``ckpt_export`` and MONAI Label build the network its weights fit, and an exported TorchScript file embeds
  a config that matches its weights;
- ``metadata.json``: the bundle's metadata describing this run instead of the bundle's shipped weights (its
  training data, and its best validation figures once training ends; the bundle's ``eval_metrics`` dropped);
- every other config file of the bundle (``evaluate.json``, ...), copied.

The configs hold no absolute path of the run folder: their ``bundle_root`` is :data:`RUN_FOLDER`, the folder
above the ``configs/`` being run (:func:`run_folder`), so a copied or moved run folder uses its own weights
and data; ``monai-landmarks`` and MONAI Label set ``bundle_root`` themselves.

``LICENSE``, ``docs/`` and ``sample_images/`` are copied too. Files are written only where nothing stands or
where an earlier training run of this folder wrote them (listed in ``configs/.written_by_training``), every
one checked before the first is written, and not at all when the run folder is the bundle folder itself.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import shutil
import warnings
from pathlib import Path

import torch.distributed as dist
from monai.utils import min_version, optional_import

from monai_landmarks.utils.dist import is_main_process
from monai_landmarks.utils.io import atomic_path, atomic_write_json, atomic_write_text

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")

__all__ = [
    "RUN_FOLDER",
    "RUN_KEYS",
    "SaveRunBundle",
    "model_settings",
    "run_folder",
    "run_metadata",
    "write_run_bundle",
]

logger = logging.getLogger(__name__)

MANIFEST = ".written_by_training"
RUN_FOLDER = "$monai_landmarks.bundle.run_folder()"  #: a run folder's ``bundle_root``: wherever its configs are
_IMPORT = "$import monai_landmarks.bundle"
#: inference.json keys that describe a run (its folders, files and device), not the trained model
RUN_KEYS = frozenset({"bundle_root", "imports", "device", "output_dir", "dataset_dir", "input_files", "ckpt_path"})
_COPIED = ("LICENSE", "docs", "sample_images")


def _running_workflow():
    """The ``ConfigWorkflow`` evaluating the calling config expression or running the trainer, if any.

    MONAI 1.6 hands config expressions and handlers no reference to their workflow: ``ConfigWorkflow``'s hooks
    (its ``initialize``/``run``/``finalize`` ids) only evaluate config entries, and ``create_workflow``'s
    ``workflow_name`` swaps the class, which ``python -m monai.bundle run``, ``torchrun`` and MONAI Label
    (``monai.bundle.run``) do not. So the one workflow running is found on the call stack, here only.
    """
    from monai.bundle import ConfigWorkflow

    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, ConfigWorkflow):
            return owner
        frame = frame.f_back
    return None


def run_folder() -> str:
    """The bundle folder of the configs the running MONAI workflow reads: the folder above their ``configs/``.

    Raises:
        ValueError: no ``ConfigWorkflow`` is running (a config parsed by hand): set ``bundle_root`` then.
    """
    workflow = _running_workflow()
    if workflow is None:
        raise ValueError(
            "bundle_root: this run folder's configs take their folder from the running MONAI workflow, and none is "
            "running; set bundle_root to the run folder."
        )
    configs = Path(workflow.config_root_path)
    return str(configs.parent if configs.name == "configs" else configs)


class SaveRunBundle:
    """Write the running training workflow's configs into ``bundle_root`` when the trainer starts, and the run's
    best validation figures into its ``metadata.json`` when training completes.

    A trainer handler: list it in ``train_handlers`` before ``ResumeFromLatest``, which locks and checks the run
    folder when the trainer is built, so a refused run writes nothing, and writes its run record after this
    handler's files were checked. Nothing is written when ``bundle_root`` is the bundle folder itself, on the
    processes of a ``torch.distributed`` run (their merged configs hold the process group, and would not run on
    one process), or, with a warning, when no ``ConfigWorkflow`` is running (a config parsed by hand).
    """

    def __init__(self, bundle_root) -> None:
        self.bundle_root = Path(bundle_root)
        self.written: list[Path] = []
        self._best: list = []

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.STARTED, self)
        engine.add_event_handler(Events.COMPLETED, self.record_validation)

    def __call__(self, engine=None) -> None:
        if not is_main_process():
            return
        if dist.is_available() and dist.is_initialized():
            logger.info(f"{self.bundle_root}: a distributed run; the run folder gets no configs.")
            return
        workflow = _running_workflow()
        if workflow is None:
            warnings.warn(
                "SaveRunBundle: no running MONAI ConfigWorkflow; the run folder gets no configs.", stacklevel=1
            )
            return
        self.written = write_run_bundle(workflow.parser, workflow.config_root_path, self.bundle_root)
        self._best = _best_models(workflow.parser) if self._metadata() in self.written else []

    def _metadata(self) -> Path:
        return self.bundle_root.resolve() / "configs" / "metadata.json"

    def record_validation(self, engine=None) -> None:
        """Put the run's best validation figures into the ``metadata.json`` this handler wrote."""
        if not self._best:
            return
        measured = [b for b in self._best if b.best_epoch >= 0]
        meta = json.loads(self._metadata().read_text(encoding="utf-8"))
        meta["eval_metrics"] = {f"best_validation_{b.metric_name}": b.best for b in measured}
        if measured:
            meta["eval_metrics"]["best_validation_epoch"] = measured[0].best_epoch
        atomic_write_json(self._metadata(), meta)


def _best_models(parser) -> list:
    from monai_landmarks.handlers.save_best_model import SaveBestModel

    saved = parser.get_parsed_content("train#checkpoint") if "train#checkpoint" in parser else {}
    return [obj for obj in dict(saved).values() if isinstance(obj, SaveBestModel)]


def _is_plain(value) -> bool:
    if isinstance(value, str):
        return not value.startswith(("$", "@", "%"))
    if isinstance(value, dict):
        return "_target_" not in value and all(_is_plain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return True


def _json_value(value):
    """``value`` as JSON data, or None when it is not plain data (a tensor, a module, ...)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return None


def model_settings(inference: dict, training: dict) -> list[str]:
    """The keys of an ``inference.json`` that shape the model its weights fit: those the training config has too,
    with a plain value in ``inference`` (not an expression or a component), other than :data:`RUN_KEYS`.

    A training run writes its values of these into its own ``inference.json``; MONAI Label trains with the served
    ``inference.json``'s values of them, so the weights either writes are the ones its inference loads.
    """
    skip = RUN_KEYS | {"_meta_"}  # a parser's metadata (ConfigParser.meta_key) is not a setting
    return [k for k, v in inference.items() if k in training and k not in skip and _is_plain(v)]


def _inference_config(source: dict, parser) -> dict:
    config = copy.deepcopy(source)
    for key in model_settings(source, parser.get()):
        trained = _json_value(parser.get_parsed_content(key))
        if trained is not None:
            config[key] = trained
    return _relocatable(config)


def _training_config(parser) -> dict:
    config = copy.deepcopy(parser.get())
    config.pop("_meta_", None)
    return _relocatable(config)


def _relocatable(config: dict) -> dict:
    """``config`` with :data:`RUN_FOLDER` as its ``bundle_root`` (and the import that expression needs)."""
    config["bundle_root"] = RUN_FOLDER
    imports = list(config.get("imports") or [])
    config["imports"] = imports if _IMPORT in imports else [*imports, _IMPORT]
    return config


def _training_data(parser, root: Path) -> str | None:
    """The folder of the run's training images, relative to the run folder when it lies inside it."""
    from monai_landmarks.utils.fingerprint import dataset_fingerprint

    items = parser.get_parsed_content("train#dataset#data") if "train#dataset#data" in parser else None
    folder = dataset_fingerprint(items)["data"]
    if folder is None:
        return None
    path = Path(folder)
    return path.relative_to(root).as_posix() if root in path.parents else folder


def run_metadata(metadata: dict, parser, root) -> dict:
    """The bundle's ``metadata.json`` made to describe a training run: the bundle's ``eval_metrics`` (the figures
    of its shipped weights) removed until the run measures its own, and its data source set to the run's data."""
    meta = copy.deepcopy(metadata)
    data = _training_data(parser, Path(root))
    meta["eval_metrics"] = {}
    meta["data_source"] = f"this training run's data: {data}" if data else "this training run's data"
    meta["description"] = (
        f"{meta.get('description', '')} These weights were trained by a run of this bundle (its run folder), "
        "not the bundle's shipped weights; eval_metrics holds the run's best validation figures once it "
        "finishes (eval/validation_metrics.csv has every validation)."
    ).strip()
    return meta


class _Writer:
    """Writes files under a run folder, refusing to replace any file an earlier training run did not write.

    Every file is checked (:meth:`add`) before the first one is written (:meth:`write`).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = root / "configs" / MANIFEST
        self.owned = set(self.manifest.read_text().split()) if self.manifest.is_file() else set()
        self.planned: dict[Path, object] = {}

    def add(self, path: Path, content) -> None:
        """Plan ``path``: JSON data, or a source file (a :class:`~pathlib.Path`) to copy."""
        name = path.relative_to(self.root).as_posix()
        if path.exists() and name not in self.owned:
            raise FileExistsError(
                f"{path}: exists and was not written by a training run; move it away or train into a new folder."
            )
        self.planned[path] = content

    def write(self) -> list[Path]:
        self.owned |= {path.relative_to(self.root).as_posix() for path in self.planned}
        atomic_write_text(self.manifest, "\n".join(sorted(self.owned)) + "\n")  # first: a crash leaves them owned
        for path, content in self.planned.items():
            if isinstance(content, Path):
                with atomic_path(path) as tmp:
                    shutil.copyfile(content, tmp)
            else:
                atomic_write_json(path, content)
        return list(self.planned)


def write_run_bundle(parser, configs_dir, bundle_root) -> list[Path]:
    """Write the configs a training parser ran with into ``bundle_root`` (see the module docstring).

    Args:
        parser: the training's ``ConfigParser`` (config files merged, overrides applied).
        configs_dir: the bundle's ``configs`` folder the training config came from.
        bundle_root: the run folder.

    Returns:
        The files written.
    """
    source = Path(configs_dir).resolve()
    root = Path(bundle_root).resolve()
    if root / "configs" == source:
        return []
    configs = {"train.json": _training_config(parser)}
    inference = source / "inference.json"
    if inference.is_file():  # resolved before anything is written: a config that fails leaves no files
        configs["inference.json"] = _inference_config(json.loads(inference.read_text()), parser)
    metadata = source / "metadata.json"
    if metadata.is_file():
        configs["metadata.json"] = run_metadata(json.loads(metadata.read_text()), parser, root)
    writer = _Writer(root)
    for name, config in configs.items():
        writer.add(root / "configs" / name, config)
    for file in sorted(source.iterdir()):
        if file.is_file() and file.name not in configs and not file.name.startswith("."):
            writer.add(root / "configs" / file.name, file)
    for name in _COPIED:
        item = source.parent / name
        if item.is_dir():
            files = sorted(f for f in item.rglob("*") if f.is_file())
        else:
            files = [item] if item.is_file() else []
        for file in files:
            writer.add(root / file.relative_to(source.parent), file)
    return writer.write()
