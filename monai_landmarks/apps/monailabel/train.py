"""Training of a bundle from the MONAI Label datastore: each image's ``final`` label is a landmarks JSON file
(format in :mod:`monai_landmarks.apps.monailabel.labels`), turned into the datalist items the bundle's
``train.json`` already reads.
"""

from __future__ import annotations

import numpy as np
from monai.bundle import ConfigParser
from monailabel.tasks.train.bundle import BundleTrainTask

from monai_landmarks.apps.monailabel.labels import bundle_landmark_names, bundle_protocol, label_sample
from monai_landmarks.bundle.run_bundle import model_settings

__all__ = ["RESUME", "LandmarkTrainTask"]

#: the bundle's run-folder handler this app leaves out: a new request trains for its own ``max_epochs`` from
#: ``model.pt`` (MONAI Label's checkpoint loader) instead of resuming a finished run and stopping at once
RESUME = "@train#resume"


class LandmarkTrainTask(BundleTrainTask):
    """Train task of one bundle folder.

    Args:
        path: the bundle folder (``configs/train.json``, ``configs/inference.json``; weights go to ``models/``).
        conf: the app's ``--conf`` settings.
        overrides: config values set on top of both configs, as for the infer task.
    """

    def __init__(self, path: str, conf: dict, overrides: dict | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.landmark_names = bundle_landmark_names(path)
        super().__init__(path, conf)
        self.model_settings = self._model_settings(path)

    def _model_settings(self, path: str) -> dict:
        infer = ConfigParser()
        infer.read_config(f"{path}/configs/inference.json")
        for key, value in self.overrides.items():
            infer[key] = value
        # the settings that shape the network, from the served inference.json (train.json derives some from
        # dataset_dir instead), so the weights training writes are the ones inference loads
        return {k: infer.get_parsed_content(k) for k in model_settings(infer.config, self.bundle_config.config)}

    def _fetch_datalist(self, request, datastore):
        return [
            label_sample(d["image"], d["label"], self.landmark_names)
            for d in super()._fetch_datalist(request, datastore)
        ]

    def _update_overrides(self, overrides):
        samples = overrides[self.const.key_train_dataset_data()] + (
            overrides.get(self.const.key_validate_dataset_data()) or []
        )
        protocol = bundle_protocol(self.bundle_config, samples)
        overrides.update(self.overrides)
        overrides.update(self.model_settings)
        overrides.update(
            {
                # the schedules read max_epochs, MONAI Label sets only the trainer's
                "max_epochs": overrides[self.const.key_train_trainer_max_epochs()],
                # a request trains a few epochs on new labels: validate each, so the served model is the best one
                "val_interval": 1,
                "landmark_names": self.landmark_names,
                "protocol": protocol.to_config(),  # the best model is chosen in the bundle's unit
            }
        )
        # the bundle's own run and handlers, in one process and under torchrun alike, without resuming
        overrides["train#run_handlers"] = [h for h in self.bundle_config.get("train#run_handlers", []) if h != RESUME]
        # The multi-GPU path writes the overrides into a JSON config file, which cannot hold arrays: the datalists
        # go in as plain lists and the config turns them back into arrays.
        for key, plain in ((self.const.key_train_dataset_data(), "monailabel_train_datalist"),
                           (self.const.key_validate_dataset_data(), "monailabel_validate_datalist")):  # fmt: skip
            if overrides.get(key) is not None:
                overrides[plain] = [_plain(item) for item in overrides[key]]
                overrides[key] = f"$monai_landmarks.data.datalists.datalist_arrays(@{plain})"
        return overrides


def _plain(item: dict) -> dict:
    """A datalist item with its arrays as (nested) lists; NaN stays NaN (MONAI's JSON reading accepts it)."""
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in item.items()}
