"""Write predicted landmarks of an inference run: one JSON per image (original-image pixels, millimetres where
the spacing is known, a confidence per landmark), one long CSV for the run (:mod:`.prediction_table`) and an overlay
picture with landmark numbers and a legend.

The spacing follows :func:`monai_landmarks.data.spacing.resolve_spacing`: ``--spacing``, then the dataset's, then
the image header (MetaImage, NIfTI, NRRD, DICOM); the JSON records which one as ``spacing_source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from monai.utils import min_version, optional_import

from monai_landmarks.data.spacing import resolve_spacing
from monai_landmarks.handlers.engine_output import engine_samples
from monai_landmarks.handlers.prediction_table import PredictionTable
from monai_landmarks.utils.io import atomic_write_json
from monai_landmarks.utils.keys import Keys

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")

__all__ = ["LandmarkPredictionWriter", "prediction_record"]


def prediction_record(
    points,
    confidence=None,
    spacing=None,
    landmark_names: Sequence[str] | None = None,
    image: str = "",
    image_id: str = "",
    spacing_source: str | None = None,
) -> dict:
    """The JSON record of one image's prediction.

    Args:
        points: ``(K, 2)`` or ``(1, K, 2)`` landmarks in original-image pixels (pixel-centre, x then y).
        confidence: ``(K,)`` decoder confidence, or None.
        spacing: mm per pixel ``(sx, sy)`` (or a scalar); None or NaN when unknown, and then no mm are written.
        landmark_names: names per landmark; indices when None.
        image, image_id: where the prediction came from.
        spacing_source: where ``spacing`` came from (``"--spacing"``, ``"dataset"``, ``"header: <DICOM tag>"``).
    """
    pts = torch.as_tensor(points, dtype=torch.float64).reshape(-1, 2).cpu().numpy()
    conf = None if confidence is None else torch.as_tensor(confidence).reshape(-1).cpu().numpy()
    sp = None if spacing is None else np.broadcast_to(np.asarray(spacing, dtype=np.float64).reshape(-1), (2,))
    if sp is not None and not np.isfinite(sp).all():
        sp = None
    names = list(landmark_names) if landmark_names is not None else [str(i) for i in range(len(pts))]
    landmarks = []
    for k, (x, y) in enumerate(pts):
        entry = {"index": k, "name": names[k] if k < len(names) else str(k), "x": float(x), "y": float(y)}
        if sp is not None:
            entry.update(x_mm=float(x * sp[0]), y_mm=float(y * sp[1]))
        if conf is not None:
            entry["confidence"] = float(conf[k])
        landmarks.append(entry)
    return {
        "image": image,
        "image_id": image_id,
        "coordinates": "pixels of the original image, 0-based pixel centres, x = column, y = row",
        "spacing_mm": None if sp is None else [float(v) for v in sp],
        "spacing_source": None if sp is None else spacing_source,
        "landmarks": landmarks,
    }


class LandmarkPredictionWriter:
    """Write ``<name>.json`` (and ``<name>.png`` overlays) for every sample an inference engine produces.

    Args:
        output_dir: where the files go.
        landmark_names: names per landmark, written into the JSON.
        spacing: mm per pixel of the input images (``--spacing``), before any other; None to take the sample's
            ``spacing_key`` if present, else the image header's (formats that store one), else to write pixels only.
        overlay: also write an overlay picture per image.
        table: also append every image's landmarks to one CSV for the run (:mod:`.prediction_table`).
        pred_key, confidence_key, spacing_key, id_key: sample keys read.
    """

    def __init__(
        self,
        output_dir,
        landmark_names: Sequence[str] | None = None,
        spacing=None,
        overlay: bool = True,
        table: bool = True,
        pred_key: str = Keys.PRED_LANDMARKS,
        confidence_key: str = Keys.CONFIDENCE,
        spacing_key: str = Keys.SPACING,
        id_key: str = Keys.IMAGE_ID,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.landmark_names = landmark_names
        self.spacing = spacing
        self.overlay = overlay
        self.keys = (pred_key, confidence_key, spacing_key, id_key)
        self.written: list[Path] = []
        self.table = PredictionTable(self.output_dir) if table else None

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine) -> None:
        for sample in engine_samples(engine):
            self.write(sample)

    def write(self, sample: dict) -> Path:
        """Write one sample's files; returns the JSON path."""
        pred_key, confidence_key, spacing_key, id_key = self.keys
        image = sample.get(Keys.IMAGE)
        file = str((getattr(image, "meta", None) or {}).get("filename_or_obj", ""))
        name = str(sample.get(id_key) or Path(file).name.split(".")[0] or len(self.written))
        spacing, source = resolve_spacing(self.spacing, sample.get(spacing_key), getattr(image, "meta", None))
        record = prediction_record(
            sample[pred_key], sample.get(confidence_key), spacing, self.landmark_names, file, name, source
        )
        path = self.output_dir / f"{name}.json"
        atomic_write_json(path, record)
        if self.table is not None:
            self.table.append(record)
        if self.overlay and file and Path(file).is_file():
            self._write_overlay(self.output_dir / f"{name}.png", file, record)
        self.written.append(path)
        return path

    @staticmethod
    def _write_overlay(path: Path, file: str, record: dict) -> None:
        """The picture with each landmark's index beside it and a legend ``index name``."""
        from monai_landmarks.data.image_reader import read_image
        from monai_landmarks.utils.overlay import save_overlay

        points = np.array([[p["x"], p["y"]] for p in record["landmarks"]])
        numbers = [str(p["index"]) for p in record["landmarks"]]
        legend = [f"{p['index']:>2} {p['name']}" for p in record["landmarks"]]
        save_overlay(path, read_image(file)[0], predicted=points, names=numbers, legend=legend)
