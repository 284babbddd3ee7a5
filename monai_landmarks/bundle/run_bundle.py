"""Make a training run folder a bundle: the configs that produced its weights, written beside them.

After ``python -m monai.bundle run training --config_file "['<bundle>/configs/train.json', ...]"
--bundle_root runs/x``, ``runs/x/configs`` holds:

- ``train.json``: the training config as it ran (every config file merged, command-line overrides applied,
  ``bundle_root`` set to the run folder), so resuming or evaluating needs no overrides;
- ``inference.json``: the bundle's inference config with the values it shares with training (input size,
  network width, levels, landmark names, ...) set to the values this run trained with, so ``predict``,
  ``ckpt_export`` and MONAI Label build the network its weights fit, and an exported TorchScript file embeds
  a config that matches its weights;
- every other config file of the bundle (``evaluate.json``, ``metadata.json``, ...), copied.

``LICENSE``, ``docs/`` and ``sample_images/`` are copied too. Files are written only where nothing stands or
where an earlier training run of this folder wrote them (listed in ``configs/.written_by_training``), and not
at all when the run folder is the bundle folder itself.
"""

from __future__ import annotations

import copy
import inspect
import json
import shutil
import warnings
from pathlib import Path

from monai_landmarks.utils.dist import is_main_process
from monai_landmarks.utils.io import atomic_path, atomic_write_json, atomic_write_text

__all__ = ["save_run_bundle", "write_run_bundle"]

MANIFEST = ".written_by_training"
# inference.json keys that describe the run, not the trained model: never taken from the training config
_RUN_KEYS = {"bundle_root", "imports", "device", "output_dir", "dataset_dir", "input_files", "ckpt_path"}
_COPIED = ("LICENSE", "docs", "sample_images")


def _running_workflow():
    """The ``ConfigWorkflow`` evaluating the calling config expression, if any.

    MONAI hands config expressions no reference to their workflow, so it is found on the call stack.
    """
    from monai.bundle import ConfigWorkflow

    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, ConfigWorkflow):
            return owner
        frame = frame.f_back
    return None


def save_run_bundle(bundle_root) -> list[Path]:
    """Write the running training workflow's configs into ``bundle_root`` (a train.json ``run`` step, placed
    after the trainer is built, so a config or dataset error leaves no files behind).

    Returns:
        The files written (none when ``bundle_root`` is the bundle folder itself, or with a warning when no
        ``ConfigWorkflow`` is running, as when a config is parsed by hand).
    """
    if not is_main_process():
        return []
    workflow = _running_workflow()
    if workflow is None:
        warnings.warn("save_run_bundle: no running MONAI ConfigWorkflow; the run folder gets no configs.", stacklevel=2)
        return []
    return write_run_bundle(workflow.parser, workflow.config_root_path, bundle_root)


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


def _inference_config(source: dict, parser, root: Path) -> dict:
    config = copy.deepcopy(source)
    for key, value in source.items():
        if key in _RUN_KEYS or key not in parser.get() or not _is_plain(value):
            continue
        trained = _json_value(parser.get_parsed_content(key))
        if trained is not None:
            config[key] = trained
    config["bundle_root"] = str(root)
    return config


def _training_config(parser, root: Path) -> dict:
    config = copy.deepcopy(parser.get())
    config.pop("_meta_", None)
    config["bundle_root"] = str(root)
    return config


class _Writer:
    """Writes files under a run folder, refusing to replace any file an earlier training run did not write."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = root / "configs" / MANIFEST
        self.owned = set(self.manifest.read_text().split()) if self.manifest.is_file() else set()
        self.written: list[Path] = []

    def _check(self, path: Path) -> str:
        name = path.relative_to(self.root).as_posix()
        if path.exists() and name not in self.owned:
            raise FileExistsError(
                f"{path}: exists and was not written by a training run; move it away or train into a new folder."
            )
        return name

    def json(self, path: Path, obj) -> None:
        self.owned.add(self._check(path))
        atomic_write_json(path, obj)
        self.written.append(path)

    def copy(self, source: Path, path: Path) -> None:
        self.owned.add(self._check(path))
        with atomic_path(path) as tmp:
            shutil.copyfile(source, tmp)
        self.written.append(path)

    def finish(self) -> None:
        atomic_write_text(self.manifest, "\n".join(sorted(self.owned)) + "\n")


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
    configs = {"train.json": _training_config(parser, root)}
    inference = source / "inference.json"
    if inference.is_file():  # resolved before anything is written: a config that fails leaves no files
        configs["inference.json"] = _inference_config(json.loads(inference.read_text()), parser, root)
    writer = _Writer(root)
    for name, config in configs.items():
        writer.json(root / "configs" / name, config)
    for file in sorted(source.iterdir()):
        if file.is_file() and file.name not in ("train.json", "inference.json") and not file.name.startswith("."):
            writer.copy(file, root / "configs" / file.name)
    for name in _COPIED:
        item = source.parent / name
        if item.is_dir():
            files = sorted(f for f in item.rglob("*") if f.is_file())
        else:
            files = [item] if item.is_file() else []
        for file in files:
            writer.copy(file, root / file.relative_to(source.parent))
    writer.finish()
    return writer.written
