"""Landmark inference of a bundle inside MONAI Label: the bundle's own ``inference.json`` pre-processing, inferer and
post-processing; landmarks come back as a JSON result (pixels, mm, confidences), as ``centroids`` and as a file
that the viewer plugins show.

What the plugins read (MONAI Label 0.8.5's ``plugins/slicer`` and ``plugins/ohifv3``):

- Both list models of type ``"segmentation"`` (3D Slicer also ``"detection"``, OHIF v3 also ``"vista3d"``) and
  nothing else, so the task has that type. Its ``labels`` are ``{landmark name: index + 1}``.
- 3D Slicer loads a result file whose name ends in ``.json`` with ``slicer.util.loadMarkups``: the result is a
  markups point list (``.mrk.json``, LPS mm, one control point per landmark labelled with its name; see
  :mod:`.markups`), which Slicer shows as a point list.
- OHIF v3 only parses an NRRD label map (``SegmentationReader.parseNrrdData``) and has no point-list result, so
  for it the result is a ``uint8`` label map with a small disc of value ``index + 1`` at each landmark, shown as one
  segment per landmark. Its client sends ``restore_label_idx`` with every inference request and the Slicer plugin
  never does, which is how the two are told apart; a request's ``landmarks_as`` (``"points"`` or ``"labelmap"``)
  chooses explicitly.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from monailabel.interfaces.tasks.infer_v2 import InferType
from monailabel.tasks.infer.bundle import BundleInferTask

from monai_landmarks.apps.monailabel.labelmap import landmark_labelmap
from monai_landmarks.apps.monailabel.labels import LandmarkLabelError, bundle_landmark_names, centroids, parse_spacing
from monai_landmarks.apps.monailabel.markups import markups_from_points
from monai_landmarks.bundle.large_files import verify_weights_file
from monai_landmarks.data.spacing import Spacing, resolve_spacing
from monai_landmarks.engines import as_levels
from monai_landmarks.handlers.prediction_writer import prediction_record
from monai_landmarks.handlers.weights_loader import check_weights
from monai_landmarks.utils.keys import Keys

__all__ = ["MODEL_FILE", "LandmarkInferTask", "LandmarkRequestError", "LandmarkServerError", "landmark_labelmap"]

#: the one weights file a served bundle's inference loads. MONAI's ``BundleInferTask`` offers every
#: ``models/*.pt`` as a ``model_filename`` option, and loads the chosen one with ``strict=False``: the cascade's
#: ``refiner.pt`` or a ``checkpoint_epoch=N.pt`` would give an answer from the wrong (or no) weights.
MODEL_FILE = "model.pt"


class LandmarkRequestError(LandmarkLabelError):
    """An inference request the server cannot serve because of its input (answered with HTTP 400)."""


class LandmarkServerError(RuntimeError):
    """The served bundle cannot answer (its weights do not fit its network): answered with HTTP 500 and the reason."""


class LandmarkInferTask(BundleInferTask):
    """Infer task of one bundle folder (``configs/`` and ``models/model.pt``).

    Args:
        path: the bundle folder.
        conf: the app's ``--conf`` settings.
        overrides: config values set on top of ``inference.json`` (for example ``width_multiplier`` and
            ``image_size`` of a model trained on the synthetic profile).
        domain: for a universal bundle, the domain this task serves (its pre-processing, network head and landmark
            names); None for a bundle of one domain.

    The request may carry ``spacing_mm`` (mm per pixel, a number or ``[x, y]``) for millimetre coordinates; else the
    bundle's ``pixel_spacing_mm`` applies, else the image header's for formats that store one (DICOM: Pixel Spacing,
    else Imager Pixel Spacing), and with none of them the result has pixels only.
    """

    def __init__(self, path: str, conf: dict, overrides: dict | None = None, domain: int | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.domain = domain
        if domain is not None:
            self.overrides["domain"] = domain
        self.landmark_names = bundle_landmark_names(path, domain)
        # add_post_restore=False: there is no label image to restore to the input's grid.
        super().__init__(path, conf, type=InferType.SEGMENTATION, add_post_restore=False)
        self.labels = {name: k + 1 for k, name in enumerate(self.landmark_names)}  # label map values, 0 = background
        if self.valid:
            self._config["model_filename"] = [MODEL_FILE]  # pinned: see MODEL_FILE

    def _load_bundle_config(self, path, config):
        parser = super()._load_bundle_config(path, config)
        for key, value in self.overrides.items():
            parser[key] = value
        if "network_def#single_output" in parser:  # MONAI Label serves network_def: every level, as predict runs it
            parser["network_def#single_output"] = False
        return parser

    def info(self) -> dict:
        i = super().info()
        i["landmarks"] = self.landmark_names  # `labels` are lower-cased by MONAI Label; these keep the metadata's case
        return i

    def run_pre_transforms(self, data, transforms):
        try:
            return super().run_pre_transforms(data, transforms)
        except Exception as err:  # an unreadable upload fails here, deep in a reader: name the input instead
            image = data.get("image_path") or data.get("image")
            raise LandmarkRequestError(f"{Path(str(image)).name}: cannot be read as an image ({err}).") from err

    def _get_network(self, device, data):
        """The network with ``models/model.pt``, checked (large_files.yml size and sha256, fit, NaN) when
        (re)loaded; any other ``model_filename`` in the request is refused."""
        requested = (data or {}).get("model_filename")
        if requested not in (None, "", MODEL_FILE, [MODEL_FILE]):
            raise LandmarkRequestError(
                f"request: model_filename {requested!r} is not served; {Path(self.bundle_path).name} infers only "
                f"with models/{MODEL_FILE} (refiner.pt is the cascade's refiner, checkpoint_epoch=N.pt a training "
                "checkpoint)."
            )
        cached = self._networks.get(device)
        path = self.get_path()
        if self.network is not None and path and not (cached and cached[1] == os.stat(path).st_mtime):
            try:
                check_weights(path, self.network)
            except (OSError, ValueError) as err:
                raise LandmarkServerError(str(err)) from None
        return super()._get_network(device, data)

    def run_inferer(self, data, convert_to_batch=True, device="cuda"):
        # MONAI Label keeps only outputs[0] of a batch, which for a multi-level network is the first level of the
        # whole batch; keep every level of the one sample instead.
        network = self._get_network(device, data)
        if self.domain is not None:
            network = network.for_domain(self.domain)  # a view sharing the loaded weights; forward(x) is domain 0
        image = data[self.input_key]
        with torch.no_grad():
            output = self.inferer(data)(image[None].to(torch.device(device)), network)
        levels = tuple(level[0] for level in as_levels(output))
        data[self.output_label_key] = levels[0] if isinstance(output, torch.Tensor) else levels
        return data

    def post_transforms(self, data=None):
        return [*super().post_transforms(data), self._result]

    def _spacing(self, data):
        """The :class:`~monai_landmarks.data.spacing.Spacing` (or None): the request's ``spacing_mm``, else the
        bundle's ``pixel_spacing_mm``, else the image header's (MetaImage, NIfTI, NRRD, DICOM;
        :func:`~monai_landmarks.data.spacing.resolve_spacing`)."""
        if data.get("spacing_mm") is not None:
            return Spacing.of(parse_spacing(data["spacing_mm"], "request"), "request")
        meta = getattr(data.get(self.input_key), "meta", None)
        if self.bundle_config.get("pixel_spacing_mm") is None:
            return resolve_spacing(None, None, meta)
        bundle = self.bundle_config.get_parsed_content("pixel_spacing_mm")
        return resolve_spacing(bundle, None, meta, override_source="bundle pixel_spacing_mm")

    def _result(self, data):
        """Centroids for the client and the JSON result (pixels, mm where the spacing is known, confidences)."""
        image = Path(str(data.get("image_path") or "")).name
        spacing = self._spacing(data)
        meta = getattr(data.get(self.input_key), "meta", None) or {}
        ran = data.get(Keys.CASCADE) or {}
        path = self.get_path()
        weights = {"model": verify_weights_file(path) if path else None, "refiner": ran.get("refiner")}
        record = prediction_record(
            data[Keys.PRED_LANDMARKS], data.get(Keys.CONFIDENCE), spacing, self.landmark_names,
            image=image, image_id=data.get("image_id") or image.split(".")[0],
            image_size=meta.get("spatial_shape"), cascade=ran.get("cascade", "off"), weights=weights,
            analysis=self.bundle_config.get("analysis"),
        )  # fmt: skip
        data["centroids"] = centroids(data[Keys.PRED_LANDMARKS], self.landmark_names)
        data[self.output_json_key] = record
        return data

    def writer(self, data, extension=None, dtype=None):
        """The result file (a markups point list for 3D Slicer, a label map for OHIF v3) and the JSON result."""
        choice = data.get("landmarks_as") or ("labelmap" if "restore_label_idx" in data else "points")
        if choice not in ("points", "labelmap"):
            raise LandmarkRequestError(f"request: landmarks_as must be 'points' or 'labelmap', got {choice!r}.")
        image = str(data.get("image_path") or data.get("image"))
        points, confidence = data[Keys.PRED_LANDMARKS], data.get(Keys.CONFIDENCE)
        if choice == "labelmap":
            return landmark_labelmap(points, image), data[self.output_json_key]
        markups = markups_from_points(points, self.landmark_names, image, confidence)
        path = tempfile.NamedTemporaryFile(suffix=".mrk.json", delete=False).name
        Path(path).write_text(json.dumps(markups, indent=2), encoding="utf-8")
        return path, data[self.output_json_key]
