"""One long CSV for a whole prediction run: a row per image and landmark, beside the per-image JSONs.

Columns: ``image, image_id, landmark, name, x, y, x_mm, y_mm, confidence, spacing_source, outside_image, cascade,
model, model_sha256, refiner, refiner_sha256``; ``landmark`` is the 0-based index of the JSON (and the number on the
overlay), ``x``/``y`` are original-image pixels (0-based pixel centres), ``x_mm``/``y_mm`` and ``confidence`` are
empty when unknown; ``outside_image`` is ``True`` for a landmark off the image (confidence 0), ``cascade`` is ``on``
or ``off``, and the last four name the weights files that ran (empty when none).

Rows are appended and flushed image by image, so an interrupted run keeps the rows of the images it finished.
The file is created by the run that writes it: ``predictions.csv``, or ``predictions_2.csv`` and so on when an
earlier run's table is already there (an existing file is never overwritten or appended to).
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["CSV_COLUMNS", "PredictionTable"]

CSV_COLUMNS = (
    "image", "image_id", "landmark", "name", "x", "y", "x_mm", "y_mm", "confidence", "spacing_source",
    "outside_image", "cascade", "model", "model_sha256", "refiner", "refiner_sha256",
)  # fmt: skip


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if value == value else ""
    return str(value)


class PredictionTable:
    """Append prediction records (:func:`~monai_landmarks.handlers.prediction_writer.prediction_record`) to a CSV.

    Args:
        output_dir: the folder of the run's JSON files.
        stem: file name without ``.csv``.
    """

    def __init__(self, output_dir, stem: str = "predictions") -> None:
        self.output_dir, self.stem = Path(output_dir), stem
        self.path: Path | None = None  #: the file this run created, once the first record is written

    def _create(self) -> Path:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            path = self.output_dir / (f"{self.stem}.csv" if n == 1 else f"{self.stem}_{n}.csv")
            try:
                with open(path, "x", newline="", encoding="utf-8") as f:  # "x": never an earlier run's file
                    csv.writer(f).writerow(CSV_COLUMNS)
                return path
            except FileExistsError:
                continue
        raise FileExistsError(f"{self.output_dir}: too many {self.stem}_N.csv files; choose another --out folder.")

    def append(self, record: dict) -> Path:
        """Write one image's rows; returns the CSV path."""
        if self.path is None:
            self.path = self._create()
        weights = record.get("weights") or {}
        files = [(w or {}).get(k) for w in (weights.get("model"), weights.get("refiner")) for k in ("path", "sha256")]
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            for lm in record["landmarks"]:
                writer.writerow(
                    _cell(v)
                    for v in (
                        record.get("image"), record.get("image_id"), lm["index"], lm["name"], lm["x"], lm["y"],
                        lm.get("x_mm"), lm.get("y_mm"), lm.get("confidence"), record.get("spacing_source"),
                        lm.get("outside_image"), record.get("cascade"), *files,
                    )
                )  # fmt: skip
        return self.path
