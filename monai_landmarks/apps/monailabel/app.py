"""The MONAI Label app: one infer task and one train task per served bundle folder, a datastore that accepts
landmarks JSON labels (the app's own, or 3D Slicer markups, converted on upload), the active-learning strategies
``random`` and ``least_confident`` (:mod:`.strategy`), and HTTP errors that say what was wrong with a request.

Settings (``monailabel start_server ... --conf KEY VALUE``):

- ``bundles``: comma-separated bundle folders, each with ``configs/`` (a copy of ``bundles/<name>/configs``) and
  ``models/model.pt``; the model is called by the folder's name. Training writes its weights back there.
- ``overrides``: a JSON file (or JSON text without spaces: the ``monailabel`` script splits arguments at spaces)
  holding ``{"<bundle name>": {"<config key>": value}}``, set on top of that bundle's ``inference.json`` and
  ``train.json``; for example ``{"htc_ceph": {"width_multiplier": 0.25, "image_size": [128, 160]}}`` for weights
  trained on the synthetic profile.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

from fastapi import HTTPException
from monailabel.config import settings
from monailabel.datastore.local import LocalDatastore
from monailabel.interfaces.app import MONAILabelApp
from monailabel.tasks.activelearning.random import Random

from monai_landmarks.apps.monailabel.infer import LandmarkInferTask
from monai_landmarks.apps.monailabel.labels import LandmarkLabelError, bundle_landmark_names, check_label_file
from monai_landmarks.apps.monailabel.markups import is_markups, label_from_markups, read_markups
from monai_landmarks.apps.monailabel.strategy import LeastConfident, record_confidence
from monai_landmarks.apps.monailabel.train import LandmarkTrainTask

__all__ = ["LandmarkApp", "LandmarkDatastore", "served_bundles"]

logger = logging.getLogger(__name__)


def served_bundles(conf: dict) -> dict[str, Path]:
    """``{name: folder}`` of the ``bundles`` setting.

    Raises:
        ValueError: if the setting is missing or a folder is not a bundle.
    """
    folders = [Path(p.strip()).expanduser().absolute() for p in conf.get("bundles", "").split(",") if p.strip()]
    if not folders:
        raise ValueError("no bundles to serve: start the server with --conf bundles <bundle folder>[,<folder>...].")
    for folder in folders:
        if not (folder / "configs" / "inference.json").is_file():
            raise ValueError(f"{folder}: not a bundle folder (no configs/inference.json).")
    return {folder.name: folder for folder in folders}


def bundle_overrides(conf: dict, names) -> dict[str, dict]:
    """The ``overrides`` setting (JSON text or a JSON file), checked: an object of objects keyed by bundle names."""
    text = conf.get("overrides") or "{}"
    try:
        overrides = json.loads(text if text.lstrip().startswith("{") else Path(text).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--conf overrides: neither JSON nor a readable JSON file ({err}).") from None
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ValueError('--conf overrides: expected {"<bundle name>": {"<config key>": value}}.')
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(f"--conf overrides: {unknown} are not served bundles ({sorted(names)}).")
    return overrides


class LandmarkDatastore(LocalDatastore):
    """A local datastore whose labels are landmarks JSON files that fit at least one served model.

    A 3D Slicer markups file (``.mrk.json``, or any JSON with a ``markups`` list) is converted to the app's format
    through the image's geometry (:mod:`.markups`) and stored as ``<image id>.json``.
    """

    def __init__(self, *args, name_sets=(), **kwargs) -> None:
        self.name_sets = list(name_sets)
        super().__init__(*args, **kwargs)

    def save_label(self, image_id, label_filename, label_tag, label_info):
        if image_id not in self.list_images():
            raise HTTPException(status_code=404, detail=f"image {image_id!r} is not in the datastore.")
        if not str(label_filename).endswith(".json"):
            raise HTTPException(
                status_code=400,
                detail=f"labels of this app are landmarks JSON files (*.json), got {Path(label_filename).name!r}.",
            )
        converted = None
        try:
            if str(label_filename).endswith(".mrk.json") or _looks_like_markups(label_filename):
                converted = label_filename = self._from_markups(image_id, label_filename)
            check_label_file(label_filename, self.name_sets)
            return super().save_label(image_id, label_filename, label_tag, label_info)
        except LandmarkLabelError as err:
            raise HTTPException(status_code=400, detail=f"label for {image_id!r}: {err}") from None
        finally:
            if converted:
                Path(converted).unlink(missing_ok=True)

    def _from_markups(self, image_id: str, markups_file) -> str:
        """The app's label JSON of a markups file, in a temporary ``.json`` file (the stored name's suffix)."""
        record = read_markups(markups_file)
        label = label_from_markups(record, self.get_image_uri(image_id), self.name_sets, f"{image_id}.mrk.json")
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(label, f, indent=2)
        return path


def _looks_like_markups(path) -> bool:
    try:
        return is_markups(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # check_label_file names the problem


class LandmarkApp(MONAILabelApp):
    """Serve landmark bundles to MONAI Label clients (settings in the module docstring)."""

    def __init__(self, app_dir, studies, conf):
        self.bundles = served_bundles(conf)
        self.overrides = bundle_overrides(conf, self.bundles)
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name="monai-landmarks",
            description="Anatomical landmark detection in 2D X-rays (monai-landmarks bundles)",
            version=version("monai-landmarks"),
        )

    def init_datastore(self):
        return LandmarkDatastore(
            self.studies,
            extensions=settings.MONAI_LABEL_DATASTORE_FILE_EXT,
            auto_reload=settings.MONAI_LABEL_DATASTORE_AUTO_RELOAD,
            read_only=settings.MONAI_LABEL_DATASTORE_READ_ONLY,
            name_sets=[bundle_landmark_names(path) for path in self.bundles.values()],
        )

    def init_infers(self):
        infers = {}
        for name, path in self.bundles.items():
            task = LandmarkInferTask(str(path), self.conf, self.overrides.get(name))
            if task.is_valid():
                infers[name] = task
            else:
                logger.warning(f"{path}: no models/model.pt, so no inference for {name!r} until it is trained.")
        return infers

    def init_trainers(self):
        return {
            name: LandmarkTrainTask(str(path), self.conf, self.overrides.get(name))
            for name, path in self.bundles.items()
            if (path / "configs" / "train.json").is_file()
        }

    def init_strategies(self):
        return {"random": Random(), "least_confident": LeastConfident()}

    def infer(self, request, datastore=None):
        model = request.get("model")
        if model not in self._infers:
            offered = ", ".join(sorted(self._infers)) or "none (no bundle has trained weights)"
            raise HTTPException(status_code=404, detail=f"unknown model {model!r}; this server offers: {offered}.")
        image = request.get("image")
        if isinstance(image, str) and not os.path.exists(image) and image not in self.datastore().list_images():
            raise HTTPException(status_code=404, detail=f"image {image!r} is not in the datastore.")
        try:
            result = super().infer(request, datastore)
        except LandmarkLabelError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        if isinstance(image, str) and image in self.datastore().list_images():
            record_confidence(self.datastore(), image, model, result.get("params") or {})
        return result
