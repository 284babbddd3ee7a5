"""Landmark inference of a bundle inside MONAI Label: the bundle's own ``inference.json`` pre-processing, inferer and
post-processing, with landmarks returned as ``centroids`` and a JSON result instead of a label image.
"""

from __future__ import annotations

from pathlib import Path

import torch
from monailabel.interfaces.tasks.infer_v2 import InferType
from monailabel.tasks.infer.bundle import BundleInferTask

from monai_landmarks.apps.monailabel.labels import LandmarkLabelError, bundle_landmark_names, centroids, parse_spacing
from monai_landmarks.engines import as_levels
from monai_landmarks.handlers.prediction_writer import prediction_record
from monai_landmarks.utils.keys import Keys

__all__ = ["LandmarkInferTask", "LandmarkRequestError"]


class LandmarkRequestError(LandmarkLabelError):
    """An inference request the server cannot serve because of its input (answered with HTTP 400)."""


class LandmarkInferTask(BundleInferTask):
    """Infer task of one bundle folder (``configs/`` and ``models/model.pt``).

    Args:
        path: the bundle folder.
        conf: the app's ``--conf`` settings.
        overrides: config values set on top of ``inference.json`` (for example ``width_multiplier`` and
            ``image_size`` of a model trained on the synthetic profile).

    The request may carry ``spacing_mm`` (mm per pixel, a number or ``[x, y]``) for millimetre coordinates; else the
    bundle's ``pixel_spacing_mm`` applies, and with neither the result has pixels only.
    """

    def __init__(self, path: str, conf: dict, overrides: dict | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.landmark_names = bundle_landmark_names(path)
        # add_post_restore=False: there is no label image to restore to the input's grid.
        super().__init__(path, conf, type=InferType.OTHERS, add_post_restore=False)

    def _load_bundle_config(self, path, config):
        parser = super()._load_bundle_config(path, config)
        for key, value in self.overrides.items():
            parser[key] = value
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

    def run_inferer(self, data, convert_to_batch=True, device="cuda"):
        # MONAI Label keeps only outputs[0] of a batch, which for a multi-level network is the first level of the
        # whole batch; keep every level of the one sample instead.
        network = self._get_network(device, data)
        image = data[self.input_key]
        with torch.no_grad():
            output = self.inferer(data)(image[None].to(torch.device(device)), network)
        levels = tuple(level[0] for level in as_levels(output))
        data[self.output_label_key] = levels[0] if isinstance(output, torch.Tensor) else levels
        return data

    def post_transforms(self, data=None):
        return [*super().post_transforms(data), self._result]

    def _spacing(self, data):
        if data.get("spacing_mm") is not None:
            return parse_spacing(data["spacing_mm"], "request")
        if self.bundle_config.get("pixel_spacing_mm") is None:
            return None
        return self.bundle_config.get_parsed_content("pixel_spacing_mm")

    def _result(self, data):
        """Centroids for the client and the JSON result (pixels, mm where the spacing is known, confidences)."""
        image_id = Path(str(data.get("image_path") or "")).name
        record = prediction_record(
            data[Keys.PRED_LANDMARKS], data.get(Keys.CONFIDENCE), self._spacing(data), self.landmark_names,
            image=image_id, image_id=image_id.split(".")[0],
        )  # fmt: skip
        data["centroids"] = centroids(data[Keys.PRED_LANDMARKS], self.landmark_names)
        data[self.output_json_key] = record
        return data

    def writer(self, data, extension=None, dtype=None):
        return None, data[self.output_json_key]
