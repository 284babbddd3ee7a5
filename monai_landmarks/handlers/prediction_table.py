"""Long CSVs for a whole prediction run, beside the per-image JSONs: ``predictions.csv``, a row per image and
landmark, and, for a bundle with a clinical analysis, ``measurements.csv``, a row per image and measurement.

Columns: ``image, image_id, landmark, name, x, y, x_mm, y_mm, confidence, spacing_source, outside_image, cascade,
model, model_sha256, refiner, refiner_sha256``; ``landmark`` is the 0-based index of the JSON (and the number on the
overlay), ``x``/``y`` are original-image pixels (0-based pixel centres), ``x_mm``/``y_mm`` and ``confidence`` are
empty when unknown; ``outside_image`` is ``True`` for a landmark off the image (confidence 0), ``cascade`` is ``on``
or ``off``, and the last four name the weights files that ran (empty when none).

Rows are appended and flushed image by image, so an interrupted run keeps the rows of the images it finished;
:meth:`PredictionTable.keep` cuts the rows of an image the run did not finish (the writer calls it after a failure
or an interrupt, so the CSV lists the images the summary lists).
``measurements.csv`` columns: ``image, image_id, measurement, value, unit, class, class_label, reason, landmarks,
details``; ``value`` is empty when the measurement is undefined and ``reason`` then says why, ``class`` and
``class_label`` are empty where the analysis defines no class (Cobb angles), ``landmarks`` lists the 0-based indices
it used (space-separated) and ``details`` is JSON (Cobb: end and apex vertebrae).

A file is created by the run that writes it: ``predictions.csv``, or ``predictions_2.csv`` and so on when an
earlier run's table is already there (an existing file is never overwritten or appended to); the same for
``measurements.csv``. ``on_create`` is told the name before the file is made (the writer journals it).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from monai_landmarks.utils.io import write_error

__all__ = ["CSV_COLUMNS", "MEASUREMENT_COLUMNS", "PredictionTable", "landmark_rows", "measurement_rows"]

CSV_COLUMNS = (
    "image", "image_id", "landmark", "name", "x", "y", "x_mm", "y_mm", "confidence", "spacing_source",
    "outside_image", "cascade", "model", "model_sha256", "refiner", "refiner_sha256",
)  # fmt: skip
MEASUREMENT_COLUMNS = (
    "image", "image_id", "measurement", "value", "unit", "class", "class_label", "reason", "landmarks", "details",
)  # fmt: skip


def landmark_rows(record: dict) -> Iterable[tuple]:
    """The ``predictions.csv`` rows of one prediction record, one per landmark."""
    weights = record.get("weights") or {}
    files = [(w or {}).get(k) for w in (weights.get("model"), weights.get("refiner")) for k in ("path", "sha256")]
    for lm in record["landmarks"]:
        yield (
            record.get("image"), record.get("image_id"), lm["index"], lm["name"], lm["x"], lm["y"], lm.get("x_mm"),
            lm.get("y_mm"), lm.get("confidence"), record.get("spacing_source"), lm.get("outside_image"),
            record.get("cascade"), *files,
        )  # fmt: skip


def measurement_rows(record: dict) -> Iterable[tuple]:
    """The ``measurements.csv`` rows of one prediction record, one per measurement (none without an analysis)."""
    for m in record.get("measurements") or []:
        details = json.dumps(m["details"], sort_keys=True) if m.get("details") else None
        landmarks = " ".join(str(i) for i in m.get("landmarks") or [])
        yield (
            record.get("image"), record.get("image_id"), m["name"], m["value"], m["unit"], m.get("class"),
            m.get("class_label"), m.get("reason"), landmarks, details,
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
        columns, rows: the header, and the rows of one record (default: ``predictions.csv``'s).
        on_create: called with the file's path just before this run creates it.
    """

    def __init__(
        self,
        output_dir,
        stem: str = "predictions",
        columns: Sequence[str] = CSV_COLUMNS,
        rows: Callable[[dict], Iterable[tuple]] = landmark_rows,
        on_create: Callable[[Path], None] | None = None,
    ) -> None:
        self.output_dir, self.stem = Path(output_dir), stem
        self.columns, self.rows, self.on_create = tuple(columns), rows, on_create
        self.path: Path | None = None  #: the file this run created, once the first record is written
        self._ends: list[int] = []  # file size after the header, then after each image's rows

    def _create(self) -> Path:
        for n in range(1, 10_000):
            path = self.output_dir / (f"{self.stem}.csv" if n == 1 else f"{self.stem}_{n}.csv")
            if path.exists():
                continue
            if self.on_create is not None:
                self.on_create(path)
            try:
                self.output_dir.mkdir(parents=True, exist_ok=True)
                with open(path, "x", newline="", encoding="utf-8") as f:  # "x": never an earlier run's file
                    self.path = path
                    csv.writer(f).writerow(self.columns)
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
        try:
            with open(self.path, "a", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows([_cell(v) for v in row] for row in self.rows(record))
        except OSError as e:
            os.truncate(self.path, self._ends[-1])  # no half image in the table
            raise write_error(self.path, e) from e
        self._ends.append(self.path.stat().st_size)
        return self.path
