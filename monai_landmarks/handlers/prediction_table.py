"""One long CSV for a whole prediction run: a row per image and landmark, beside the per-image JSONs.

Columns: ``image, image_id, landmark, name, x, y, x_mm, y_mm, confidence, spacing_source, outside_image, cascade,
model, model_sha256, refiner, refiner_sha256``; ``landmark`` is the 0-based index of the JSON (and the number on the
overlay), ``x``/``y`` are original-image pixels (0-based pixel centres), ``x_mm``/``y_mm`` and ``confidence`` are
empty when unknown; ``outside_image`` is ``True`` for a landmark off the image (confidence 0), ``cascade`` is ``on``
or ``off``, and the last four name the weights files that ran (empty when none).

Rows are appended and flushed image by image, so an interrupted run keeps the rows of the images it finished;
:meth:`PredictionTable.keep` cuts the rows of an image the run did not finish (the writer calls it after a failure
or an interrupt, so the CSV lists the images the summary lists).
The file is created by the run that writes it: ``predictions.csv``, or ``predictions_2.csv`` and so on when an
earlier run's table is already there (an existing file is never overwritten or appended to).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from monai_landmarks.utils.io import write_error

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
        self._ends: list[int] = []  # file size after the header, then after each image's rows

    def _create(self) -> Path:
        for n in range(1, 10_000):
            path = self.output_dir / (f"{self.stem}.csv" if n == 1 else f"{self.stem}_{n}.csv")
            try:
                self.output_dir.mkdir(parents=True, exist_ok=True)
                with open(path, "x", newline="", encoding="utf-8") as f:  # "x": never an earlier run's file
                    self.path = path
                    csv.writer(f).writerow(CSV_COLUMNS)
                self._ends = [path.stat().st_size]
                return path
            except FileExistsError:
                continue
            except OSError as e:
                self._remove()
                raise write_error(path, e) from e
        raise FileExistsError(f"{self.output_dir}: too many {self.stem}_N.csv files; choose another --out folder.")

    def _remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        self.path, self._ends = None, []

    def keep(self, num_images: int) -> None:
        """Keep the rows of the first ``num_images`` images appended; with none, remove the file this run made."""
        if self.path is None:
            return
        if num_images == 0:
            self._remove()
            return
        end = self._ends[min(num_images, len(self._ends) - 1)]
        if self.path.stat().st_size != end:
            os.truncate(self.path, end)
        del self._ends[num_images + 1 :]

    def append(self, record: dict) -> Path:
        """Write one image's rows; returns the CSV path."""
        if self.path is None:
            self._create()
        weights = record.get("weights") or {}
        files = [(w or {}).get(k) for w in (weights.get("model"), weights.get("refiner")) for k in ("path", "sha256")]
        try:
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
        except OSError as e:
            os.truncate(self.path, self._ends[-1])  # no half image in the table
            raise write_error(self.path, e) from e
        self._ends.append(self.path.stat().st_size)
        return self.path
