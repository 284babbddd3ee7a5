"""The MONAI Label app: one infer task and one train task per served bundle folder, a datastore (a local studies
folder, or a DICOMweb server when ``--studies`` is a URL) that accepts landmarks JSON labels (the app's own, 3D
Slicer markups or a label map with one blob per landmark, converted on upload), the active-learning strategies
``random`` and ``least_confident`` (:mod:`.strategy`), and HTTP errors that say what was wrong with a request.
An inference request's ``image`` is a datastore image id, an uploaded file or a session's image, never another
path on the server.

Settings (``monailabel start_server ... --conf KEY VALUE``):

- ``bundles``: comma-separated bundle folders, each with ``configs/`` (a copy of ``bundles/<name>/configs``) and
  ``models/model.pt``; the model is called by the folder's name, and a universal bundle (``gu2net_universal``) is
  served as one model per domain, ``<folder name>_<short name>`` (``gu2net_universal_ceph``,
  ``gu2net_universal_spine``, ``gu2net_universal_chest``; :func:`served_models`). Training writes its weights
  back there (a universal bundle trains as one model, under its folder's name).
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
from monailabel.config import Settings, settings
from monailabel.datastore.dicom import DICOMwebClientX, DICOMWebDatastore
from monailabel.datastore.local import LocalDatastore
from monailabel.interfaces.app import MONAILabelApp
from monailabel.tasks.activelearning.random import Random

from monai_landmarks.apps.monailabel.infer import LandmarkInferTask, LandmarkServerError
from monai_landmarks.apps.monailabel.labelmap import LABELMAP_SUFFIXES, is_labelmap_name, points_from_labelmap
from monai_landmarks.apps.monailabel.labels import (
    LandmarkLabelError,
    bundle_domains,
    bundle_landmark_names,
    check_label_file,
    first_fitting_label,
)
from monai_landmarks.apps.monailabel.markups import is_markups, label_from_markups, read_markups
from monai_landmarks.apps.monailabel.strategy import LeastConfident, record_confidence
from monai_landmarks.apps.monailabel.train import LandmarkTrainTask
from monai_landmarks.data.image_reader import SUPPORTED_SUFFIXES
from monai_landmarks.data.multidomain import domain_short_names

__all__ = [
    "IMAGE_PATTERNS",
    "LandmarkApp",
    "LandmarkDICOMwebDatastore",
    "LandmarkDatastore",
    "served_bundles",
    "served_models",
]

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


def served_models(bundles: dict[str, Path]) -> dict[str, tuple[Path, int | None]]:
    """``{model name: (bundle folder, domain)}``: each bundle under its name (domain None), a universal bundle once
    per domain as ``<bundle name>_<short name>`` (:func:`~monai_landmarks.data.multidomain.domain_short_names` of its
    ``domain_names``), with the domain's index.

    Raises:
        ValueError: two models of one name (a bundle folder named like another's domain model).
    """
    models: dict[str, tuple[Path, int | None]] = {}
    for name, folder in bundles.items():
        domains = bundle_domains(folder)
        names = [f"{name}_{short}" for short in domain_short_names(domains)] if domains else [name]
        for domain, model in enumerate(names):
            if model in models:
                raise ValueError(f"{folder}: serves a model named {model!r}, as {models[model][0]} does; rename one.")
            models[model] = (folder, domain if domains else None)
    return models


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


class LandmarkLabels:
    """Labels of a landmark datastore: the app's landmarks JSON, checked on upload to fit at least one served model;
    a 3D Slicer markups file (``.mrk.json``, or any JSON with a ``markups`` list: :mod:`.markups`) or a label map
    with one blob per landmark (what Slicer's *Submit Label* sends: :mod:`.labelmap`) is converted to it through the
    image's geometry and stored as ``<image id>.json``. Anything else is answered with what to send.
    """

    name_sets: list

    def save_label(self, image_id, label_filename, label_tag, label_info):
        if image_id not in self.list_images():
            raise HTTPException(status_code=404, detail=f"image {image_id!r} is not in the datastore.")
        name = str(label_filename)
        if not (name.endswith(".json") or is_labelmap_name(name)):
            raise HTTPException(status_code=400, detail=f"label for {image_id!r}: {Path(name).name!r} is {LABEL_KINDS}")
        converted = None
        try:
            image = self.get_image_uri(image_id)
            if is_labelmap_name(name):
                info = (label_info or {}).get("label_info")
                converted = label_filename = self._write(label_from_labelmap(name, image, self.name_sets, info))
            elif name.endswith(".mrk.json") or _looks_like_markups(name):
                record = read_markups(name)
                label = label_from_markups(record, image, self.name_sets, f"{image_id}.mrk.json")
                converted = label_filename = self._write(label)
            check_label_file(label_filename, self.name_sets)
            return self._store_label(image_id, label_filename, label_tag, label_info)
        except LandmarkLabelError as err:
            raise HTTPException(status_code=400, detail=f"label for {image_id!r}: {err}") from None
        finally:
            if converted:
                Path(converted).unlink(missing_ok=True)

    def _store_label(self, image_id, label_filename, label_tag, label_info):
        return LocalDatastore.save_label(self, image_id, label_filename, label_tag, label_info)

    @staticmethod
    def _write(label: dict) -> str:
        """The app's label JSON in a temporary ``.json`` file (the stored name's suffix)."""
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(label, f, indent=2)
        return path


def _looks_like_markups(path) -> bool:
    try:
        return is_markups(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # check_label_file names the problem


#: what a label upload may be, for the message that refuses anything else
LABEL_KINDS = (
    'not a label of this app. Send a landmarks JSON file (*.json: {"landmarks": [{"name": ..., "x": ..., '
    '"y": ...}]}), a 3D Slicer markups point list (*.mrk.json, control points named after the landmarks) or a '
    f"label map ({', '.join(LABELMAP_SUFFIXES)}) with one blob per landmark, of value index + 1 or named in "
    "label_info."
)


def label_from_labelmap(path, image, name_sets, label_info) -> dict:
    """The app's label record of a label map, for the first model whose landmarks fit it (else its reason)."""
    return first_fitting_label(
        name_sets,
        lambda names: points_from_labelmap(path, image, names, label_info, "label map"),
        "label map: blob centroids, mapped through the image's ITK geometry",
        "no served model to read landmark names from.",
    )


#: the datastore's image files: the formats the package reads (MONAI Label's default list has *.xml and *.svs
#: and no *.dcm); datastore_v2.json, labels/ and other files are never images
IMAGE_PATTERNS = sorted({f"*.{s}" for s in SUPPORTED_SUFFIXES} | {f"*.{s.upper()}" for s in SUPPORTED_SUFFIXES})


class LandmarkDatastore(LandmarkLabels, LocalDatastore):
    """A local studies folder (images of :data:`IMAGE_PATTERNS` directly in it) with landmark labels."""

    def __init__(self, *args, name_sets=(), **kwargs) -> None:
        self.name_sets = list(name_sets)
        super().__init__(*args, **kwargs)


#: series modalities listed from a DICOMweb server when MONAI_LABEL_DICOMWEB_SEARCH_FILTER is not set or is MONAI
#: Label's default (CT): radiographs, and secondary captures (OT) of scanned films
XRAY_MODALITIES = ("CR", "DX", "PX", "RG", "IO", "OT")


class LandmarkDICOMwebDatastore(LandmarkLabels, DICOMWebDatastore):
    """MONAI Label's DICOMweb datastore, for single-image (X-ray) series, with landmark labels.

    Images are the series of a DICOMweb server (QIDO-RS; :data:`XRAY_MODALITIES` unless
    ``MONAI_LABEL_DICOMWEB_SEARCH_FILTER`` is set), fetched on first use (WADO-RS) into the cache folder and read
    as the DICOM file itself, so the header's spacing applies. Labels are stored in the cache folder, not on the
    DICOM server (a landmark list has no DICOM SEG form, and MONAI Label uploads only DICOM SEG).
    """

    def __init__(self, client, cache_path: str, name_sets=(), search_filter=None) -> None:
        self.name_sets = list(name_sets)
        self.modalities = None if search_filter is not None else XRAY_MODALITIES
        super().__init__(client, search_filter or {}, cache_path=cache_path, convert_to_nifti=False)

    def list_images(self):
        series = self._client.search_for_series(search_filters=self._search_filter)
        return [
            s["0020000E"]["Value"][0]
            for s in series
            if self.modalities is None or (s.get("00080060", {}).get("Value") or [""])[0] in self.modalities
        ]

    def get_image_uri(self, image_id: str) -> str:
        local = LocalDatastore.get_image_uri(self, image_id)
        if local and os.path.isfile(local):
            return local
        folder = Path(super().get_image_uri(image_id))  # the series, fetched into the cache
        files = sorted(folder.glob("*.dcm"))
        if len(files) != 1:
            raise LandmarkLabelError(
                f"series {image_id}: {len(files)} DICOM instances; this app reads single-image series (an X-ray)."
            )
        LocalDatastore.add_image(self, image_id, str(files[0]), self._dicom_info(image_id))
        return LocalDatastore.get_image_uri(self, image_id)

    def get_label_uri(self, label_id, label_tag, image_id=""):
        return LocalDatastore.get_label_uri(self, label_id, label_tag)

    def get_labeled_images(self, label_tag=None, labels=None):
        return LocalDatastore.get_labeled_images(self, label_tag, labels)

    def get_unlabeled_images(self, label_tag=None, labels=None):
        labelled = set(self.get_labeled_images(label_tag, labels))
        return [i for i in self.list_images() if i not in labelled]

    def datalist(self, full_path=True):
        return LocalDatastore.datalist(self, full_path)


class LandmarkApp(MONAILabelApp):
    """Serve landmark bundles to MONAI Label clients (settings in the module docstring)."""

    def __init__(self, app_dir, studies, conf):
        self.bundles = served_bundles(conf)
        self.models = served_models(self.bundles)
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
        name_sets = [bundle_landmark_names(path, domain) for path, domain in self.models.values()]
        if self.studies.startswith(("http://", "https://")):
            return self._dicomweb_datastore(self.studies.rstrip("/").strip(), name_sets)
        logger.info(f"studies folder {self.studies}: images {', '.join(IMAGE_PATTERNS)}")
        return LandmarkDatastore(
            self.studies,
            extensions=IMAGE_PATTERNS,
            auto_reload=settings.MONAI_LABEL_DATASTORE_AUTO_RELOAD,
            read_only=settings.MONAI_LABEL_DATASTORE_READ_ONLY,
            name_sets=name_sets,
        )

    def _dicomweb_datastore(self, url: str, name_sets) -> LandmarkDICOMwebDatastore:
        """MONAI Label's DICOMweb client and datastore as its own app builds them, without the DICOM SEG tools it
        downloads (labels here are landmark lists, not segmentations); the cache goes into the app folder."""
        from dicomweb_client.session_utils import create_session_from_user_pass

        user = settings.MONAI_LABEL_DATASTORE_USERNAME or settings.MONAI_LABEL_DICOMWEB_USERNAME
        password = settings.MONAI_LABEL_DATASTORE_PASSWORD or settings.MONAI_LABEL_DICOMWEB_PASSWORD
        client = DICOMwebClientX(
            url=url,
            session=create_session_from_user_pass(user, password) if user and password else None,
            qido_url_prefix=settings.MONAI_LABEL_QIDO_PREFIX,
            wado_url_prefix=settings.MONAI_LABEL_WADO_PREFIX,
            stow_url_prefix=settings.MONAI_LABEL_STOW_PREFIX,
        )
        cache = (settings.MONAI_LABEL_DATASTORE_CACHE_PATH or settings.MONAI_LABEL_DICOMWEB_CACHE_PATH).strip()
        cache = cache or os.path.join(self.app_dir, "dicomweb")
        # MONAI Label's own default (CT) counts as not set: `start_server` exports every setting to the environment,
        # so a filter the user set cannot be told from the default any other way
        default = Settings.model_fields["MONAI_LABEL_DICOMWEB_SEARCH_FILTER"].default
        chosen = settings.MONAI_LABEL_DICOMWEB_SEARCH_FILTER != default
        search = settings.MONAI_LABEL_DICOMWEB_SEARCH_FILTER if chosen else None
        listed = f"series matching {search}" if chosen else f"series of modality {', '.join(XRAY_MODALITIES)}"
        logger.info(f"DICOMweb studies {url}: {listed}; cache and labels in {cache}")
        return LandmarkDICOMwebDatastore(client, cache, name_sets, search)

    def init_infers(self):
        infers = {}
        for name, (path, domain) in self.models.items():
            task = LandmarkInferTask(str(path), self.conf, self.overrides.get(path.name), domain=domain)
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
        in_store = isinstance(image, str) and image in self.datastore().list_images()
        if isinstance(image, str) and not in_store and not self._is_upload(image):
            raise HTTPException(status_code=404, detail=f"image {image!r} is not in the datastore.")
        if in_store:
            request = {**request, "image_id": image}
        try:
            result = super().infer(request, datastore)
        except LandmarkLabelError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        except LandmarkServerError as err:
            raise HTTPException(status_code=500, detail=str(err)) from None
        if in_store:
            record_confidence(self.datastore(), image, model, result.get("params") or {})
        return result

    def _is_upload(self, path: str) -> bool:
        """True for a file MONAI Label wrote for this request: an upload (the temporary folder) or a session's
        image. Any other path on the server (the datastore's own files, labels, anything else) is no input."""
        file = Path(path).absolute()
        if not file.is_file() or (not self.studies.startswith(("http://", "https://")) and _inside(file, self.studies)):
            return False
        sessions = self._sessions is not None and _inside(file, self._sessions.store_path)
        return sessions or file.parent == Path(tempfile.gettempdir()).absolute()  # where uploads are written


def _inside(file: Path, folder) -> bool:
    return Path(folder).absolute() in file.parents
