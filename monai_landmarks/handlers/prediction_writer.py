"""Write predicted landmarks of an inference run: one JSON per image (original-image pixels, millimetres where
the spacing is known, a confidence per landmark), one long CSV for the run (:mod:`.prediction_table`) and an overlay
picture with landmark numbers and a legend.

The spacing follows :func:`monai_landmarks.data.spacing.resolve_spacing`: ``--spacing``, then the dataset's, then
the image header (MetaImage, NIfTI, NRRD, DICOM), else the spacing the cascade assumed (the bundle default); the JSON
records which one as ``spacing_source``, and an assumed spacing gives no millimetre coordinates.

Every output says what ran: ``cascade`` (``"on"``: coarse model and patch refiner, ``"off"``: coarse model only) and
``weights`` (each file's path and sha256), in the JSON, the CSV, the summary and the log.

Landmarks outside the image (the cascade can move one off a small, thin or blank image) keep their position, are
flagged ``outside_image: true`` and get confidence 0: a reviewer sees where the model put it and that it is not on
the image, and sorting by confidence puts it first. The rule lives in :func:`prediction_record`, for the coarse and
the cascade landmarks alike (and for the MONAI Label app's results).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from monai.utils import min_version, optional_import

from monai_landmarks.data.spacing import Spacing, is_assumed, resolve_spacing
from monai_landmarks.handlers.engine_output import engine_samples
from monai_landmarks.handlers.prediction_journal import JOURNAL_FILE, PredictionJournal
from monai_landmarks.handlers.prediction_table import MEASUREMENT_COLUMNS, PredictionTable, measurement_rows
from monai_landmarks.utils.io import atomic_write_json
from monai_landmarks.utils.keys import Keys
from monai_landmarks.utils.locks import FolderLock
from monai_landmarks.utils.paths import child_path, display

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")

__all__ = ["SUMMARY_FILE", "LandmarkPredictionWriter", "outside_image", "prediction_record"]

SUMMARY_FILE = "predict_summary.json"  #: written last by a predict run: its outputs, and whether it completed


def outside_image(points, image_size) -> np.ndarray:
    """``(K,)`` bool: landmarks (original-image pixels, 0-based pixel centres) beyond the image's outer pixel edges,
    ``-0.5 .. W - 0.5`` and ``-0.5 .. H - 0.5``; a missing (NaN) landmark is not outside."""
    pts = torch.as_tensor(points, dtype=torch.float64).reshape(-1, 2).cpu().numpy()
    size = np.asarray(image_size, dtype=np.float64).reshape(-1)[:2]
    with np.errstate(invalid="ignore"):
        return ((pts < -0.5) | (pts > size - 0.5)).any(axis=1)


def prediction_record(
    points,
    confidence=None,
    spacing=None,
    landmark_names: Sequence[str] | None = None,
    image: str = "",
    image_id: str = "",
    spacing_source: str | None = None,
    image_size: Sequence[int] | None = None,
    cascade: str | None = None,
    weights: dict | None = None,
    analysis: str | None = None,
) -> dict:
    """The JSON record of one image's prediction.

    Args:
        points: ``(K, 2)`` or ``(1, K, 2)`` landmarks in original-image pixels (pixel-centre, x then y).
        confidence: ``(K,)`` decoder confidence, or None.
        spacing: a :class:`~monai_landmarks.data.spacing.Spacing` (value and source), or mm per pixel ``(sx, sy)``
            (or a scalar) from ``spacing_source``; None or NaN when unknown, and then no mm are written.
        landmark_names: names per landmark; indices when None.
        image, image_id: where the prediction came from.
        spacing_source: where a ``spacing`` given as numbers came from (``"--spacing"``, ``"dataset"``,
            ``"header: <DICOM tag>"``, or ``"assumed: bundle default (0.2 mm)"``, which is recorded but gives no mm
            coordinates).
        image_size: ``(W, H)`` of the original image; landmarks outside it get ``outside_image: true`` and
            confidence 0 (their position is kept). None: not checked.
        cascade: ``"on"`` or ``"off"`` (refined or coarse landmarks); None: not recorded.
        weights: the weights files that ran, ``{"model": {"path", "sha256"}, "refiner": ... | None}``.
        analysis: the bundle's clinical analysis (``"cephalometry"``, ``"cobb"``; :mod:`monai_landmarks.analysis`):
            its measurements go into ``measurements``, computed without the landmarks flagged outside the image
            and, for millimetres, only with a spacing that was not assumed. None: no measurements.
    """
    pts = torch.as_tensor(points, dtype=torch.float64).reshape(-1, 2).cpu().numpy()
    conf = None if confidence is None else torch.as_tensor(confidence).reshape(-1).cpu().numpy()
    if not isinstance(spacing, Spacing):
        spacing = Spacing.known(spacing, spacing_source, where=image or None)
    sp = None if spacing is None else spacing.as_array()
    assumed = spacing is not None and spacing.assumed
    outside = None if image_size is None else outside_image(pts, image_size)
    names = list(landmark_names) if landmark_names is not None else [str(i) for i in range(len(pts))]
    landmarks = []
    for k, (x, y) in enumerate(pts):
        entry = {"index": k, "name": names[k] if k < len(names) else str(k), "x": float(x), "y": float(y)}
        if sp is not None and not assumed:
            entry.update(x_mm=float(x * sp[0]), y_mm=float(y * sp[1]))
        if conf is not None:
            entry["confidence"] = float(conf[k])
        if outside is not None:
            entry["outside_image"] = bool(outside[k])
            if outside[k]:
                entry["confidence"] = 0.0
        landmarks.append(entry)
    record = {
        "image": image,
        "image_id": image_id,
        "coordinates": "pixels of the original image, 0-based pixel centres, x = column, y = row",
        "spacing_mm": None if spacing is None else spacing.as_list(),
        "spacing_source": None if spacing is None else spacing.source,
    }
    if image_size is not None:
        record["image_size"] = [int(v) for v in np.asarray(image_size).reshape(-1)[:2]]
        record["num_outside_image"] = int(outside.sum())
    if cascade is not None:
        record["cascade"] = cascade
    if weights is not None:
        record["weights"] = weights
    if analysis is not None:
        known = None if assumed else sp
        record["measurements"] = _measurements(analysis, pts, known, outside, image_size)
    record["landmarks"] = landmarks
    return record


def _measurements(analysis: str, pts: np.ndarray, spacing, outside, image_size) -> list[dict]:
    from monai_landmarks.analysis import analyse

    usable = pts.copy()
    if outside is not None:
        usable[outside] = np.nan  # a landmark off the image measures nothing
    return [m.to_dict() for m in analyse(analysis, usable, spacing, image_size).values()]


class LandmarkPredictionWriter:
    """Write ``<name>.json`` (and ``<name>.png`` overlays) for every sample an inference engine produces.

    ``<name>`` is the sample's image id when it has one (datalists), else the image's full file name, so
    ``1.2.840.1.png`` gives ``1.2.840.1.png.json`` and ``x.dcm`` and ``x.mha`` stay apart; two samples with
    one name are refused. Every file is written atomically. The writer locks ``output_dir`` for the run
    (:class:`~monai_landmarks.utils.locks.FolderLock`) and records each output in the folder's journal
    (:mod:`.prediction_journal`) before writing it; it never replaces a file that no predict run wrote there, so
    later runs on other images add to the folder. An image's JSON, overlay and CSV rows are kept together: when
    one of them fails (a full disk) or the run is interrupted, that image's files of this run are removed and its
    rows cut. The summary :data:`SUMMARY_FILE` is written last, when at least one image was predicted: what
    finished, the images that failed (``failed``: image and reason; :class:`~monai_landmarks.data.InferenceDataset`
    skips them), whether the run completed, the run's CSV (``table``), whether the cascade ran (``cascade``), the
    weights files (``weights``: path and sha256) and where each image's spacing came from (``spacing_sources``);
    the same goes to the log, as one line, when the run finishes.

    Args:
        output_dir: where the files go.
        landmark_names: names per landmark, written into the JSON.
        spacing: mm per pixel of the input images (``--spacing``), before any other; None to take the sample's
            ``spacing_key`` if present, else the image header's (formats that store one), else to write pixels only.
        overlay: also write an overlay picture per image.
        table: also append every image's landmarks to one CSV for the run (:mod:`.prediction_table`).
        pred_key, confidence_key, spacing_key, id_key: sample keys read.
        analysis: the bundle's clinical analysis (its ``inference.json`` ``"analysis"``): each JSON then holds the
            measurements (:func:`prediction_record`), and with ``table`` the run writes ``measurements.csv`` too,
            a row per image and measurement (:mod:`.prediction_table`); None for none (and no measurements.csv).
        draw_measurements: draw on each overlay the lines every measurement uses, and list the values in its
            legend (needs ``analysis``).
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
        analysis: str | None = None,
        draw_measurements: bool = False,
    ) -> None:
        from monai_landmarks.analysis import parse_kind

        self.output_dir = Path(output_dir)
        self.analysis = parse_kind(analysis, "LandmarkPredictionWriter analysis")
        if draw_measurements and self.analysis is None:
            raise ValueError("draw_measurements: the bundle declares no clinical analysis (inference.json "
                             "'analysis'), so there are no measurements to draw.")  # fmt: skip
        self.draw_measurements = bool(draw_measurements)
        if landmark_names is not None and (
            isinstance(landmark_names, str) or not all(isinstance(n, str) for n in _as_list(landmark_names))
        ):
            raise ValueError(f"landmark_names must be a list of names (text), got {landmark_names!r}.")
        self.landmark_names = landmark_names
        self.spacing = spacing
        self.overlay = overlay
        self.keys = (pred_key, confidence_key, spacing_key, id_key)
        self.written: list[Path] = []
        self.lock = FolderLock(self.output_dir, "predict")
        self.journal = PredictionJournal(self.output_dir)
        self.tables: list[PredictionTable] = self._tables() if table else []
        self.outputs: list[dict] = []
        self.failures: list[dict] = []  #: images that gave no prediction, with the reason (after :meth:`finish`)
        self._sources: dict[str, str] | None = None  # output name -> image, this run
        self._earlier: set[str] = set()  # files earlier predict runs wrote here (journal and summary)
        self._dataset = None  # the engine's dataset, for the images it skipped
        #: the model weights that ran ({"path", "sha256"}): the engine's ``state.weights["model"]`` (set by
        #: :class:`~monai_landmarks.handlers.weights_loader.WeightsLoader`), else what the caller sets here
        self.model_weights: dict | None = None
        self._refiner: dict | None = None
        self._shape_prior: dict | None = None
        self.logger = logging.getLogger(__name__)

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.STARTED, self.start)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        engine.add_event_handler(Events.COMPLETED, self.finish)

    def start(self, engine=None) -> None:
        """Lock the output folder and read what earlier runs wrote there."""
        self.lock.acquire()
        try:
            self.written, self.outputs, self.failures = [], [], []
            self._refiner = None
            self._shape_prior = None
            self._sources = {SUMMARY_FILE: "the run's summary", JOURNAL_FILE: "the folder's journal"}
            if self.tables:
                self.tables = self._tables()  # each run its own CSVs
            earlier = _earlier_outputs(self.output_dir / SUMMARY_FILE) | self.journal.files()
            self._earlier = {SUMMARY_FILE, JOURNAL_FILE, *earlier}
            self._dataset = getattr(getattr(engine, "data_loader", None), "dataset", None)
        except BaseException:
            self.lock.release()
            raise

    def finish(self, engine=None, complete: bool = True) -> Path | None:
        """Write the summary (last, so a complete one means a complete run) and release the lock.

        Returns the summary's path, or None when no image was predicted (then nothing is written).
        """
        try:
            for table in self.tables:
                table.keep(len(self.outputs))  # rows of an image cut short by an interrupt go
            self.failures = self._failed(complete)
            if not self.outputs:
                return None
            path = self.output_dir / SUMMARY_FILE
            summary = {
                "complete": bool(complete), "num_images": len(self.outputs), **self.run_facts(),
                "outputs": self.outputs, "num_failed": len(self.failures), "failed": self.failures,
            }  # fmt: skip
            for key, table in zip(("table", "measurements_table"), self.tables, strict=False):
                if table.path is not None:  # this run's CSV (predictions.csv, predictions_2.csv, ...)
                    summary[key] = table.path.name
            atomic_write_json(path, summary)
            self.logger.info(f"{self.output_dir}: {len(self.outputs)} image(s); {self.describe()}")
            return path
        finally:
            self.lock.release()

    def run_facts(self) -> dict:
        """What ran, for the summary: the cascade (``"on"``, ``"off"``, or ``"mixed"``), the weights files, and the
        count of images per spacing source (``"unknown"`` for none)."""
        cascades = sorted({o["cascade"] for o in self.outputs})
        return {
            "cascade": cascades[0] if len(cascades) == 1 else ("mixed" if cascades else None),
            "weights": {"model": self.model_weights, "refiner": self._refiner}
            | ({"shape_prior": self._shape_prior} if self._shape_prior else {}),
            "spacing_sources": dict(Counter(o["spacing_source"] or "unknown" for o in self.outputs)),
        }

    def describe(self) -> str:
        """One line: cascade on/off, the weights files with their sha256, and the spacing sources."""
        facts = self.run_facts()
        files = [f"{k} {w['path']} (sha256 {w['sha256']})" for k, w in facts["weights"].items() if w]
        sources = ", ".join(f"{n} x {k}" for k, n in facts["spacing_sources"].items())
        return f"cascade {facts['cascade']}; {'; '.join(files) or 'weights not recorded'}; spacing: {sources}"

    def _failed(self, complete: bool) -> list[dict]:
        """The images the dataset skipped; after a complete run also any other input that gave no prediction."""
        failed = list(getattr(self._dataset, "failures", None) or [])
        if not complete:
            return failed
        done = {_same(entry["image"]) for entry in self.outputs} | {_same(f["image"]) for f in failed}
        for item in getattr(self._dataset, "data", None) or []:
            image = item.get(Keys.IMAGE) if isinstance(item, dict) else None
            if isinstance(image, (str, Path)) and _same(image) not in done:
                failed.append({"image": str(image), "reason": "no prediction (its error is in the log)"})
        return failed

    def __call__(self, engine) -> None:
        weights = getattr(engine.state, "weights", None) or {}
        if weights.get("model"):
            self.model_weights = weights["model"]
        for sample in engine_samples(engine):
            self.write(sample)

    def _target(self, name: str, suffix: str, source: str) -> Path:
        path = child_path(self.output_dir, f"{name}{suffix}")
        if path.name in self._sources:
            raise ValueError(
                f"{source}: its output {path} would replace the one of {self._sources[path.name]}; "
                "output names must be unique (rename one of the images)."
            )
        if path.exists() and path.name not in self._earlier:
            raise FileExistsError(
                f"{path}: exists and was not written by a predict run here (not in {JOURNAL_FILE}); refused "
                "to replace it. Move it away or choose another output folder."
            )
        self._sources[path.name] = source
        return path

    @property
    def table(self) -> PredictionTable | None:
        """This run's ``predictions.csv`` table, or None when the writer writes no tables."""
        return self.tables[0] if self.tables else None

    def _tables(self) -> list[PredictionTable]:
        """``predictions.csv``, and ``measurements.csv`` for a bundle with an analysis, each journaled when made."""

        def journal(path: Path) -> None:
            self.journal.record([path.name], "the run's table")

        tables = [PredictionTable(self.output_dir, on_create=journal)]
        if self.analysis is not None:
            tables.append(PredictionTable(self.output_dir, "measurements", MEASUREMENT_COLUMNS, measurement_rows,
                                          on_create=journal))  # fmt: skip
        return tables

    def record(self, sample: dict) -> dict:
        """The JSON record of one sample (:func:`prediction_record`), as :meth:`write` writes it."""
        pred_key, confidence_key, spacing_key, id_key = self.keys
        image = sample.get(Keys.IMAGE)
        meta = getattr(image, "meta", None) or {}
        file = str(meta.get("filename_or_obj", ""))
        name = str(sample.get(id_key) or Path(file).name or len(self.written))
        ran = sample.get(Keys.CASCADE) or {}
        spacing = resolve_spacing(self.spacing, sample.get(spacing_key), meta)
        if spacing is None and is_assumed(ran.get("spacing_source")):  # the spacing the refiner assumed
            spacing = Spacing.of(ran["spacing_mm"], ran["spacing_source"], file or name)
        weights = {"model": self.model_weights, "refiner": ran.get("refiner")}
        if "shape_prior" in ran:  # the bundle declares a shape prior step: on (its file) or off (None)
            weights["shape_prior"] = ran["shape_prior"]
        return prediction_record(
            sample[pred_key], sample.get(confidence_key), spacing, self.landmark_names, file, name,
            image_size=meta.get("spatial_shape"), cascade=ran.get("cascade", "off"), weights=weights,
            analysis=self.analysis,
        )  # fmt: skip

    def write(self, sample: dict) -> Path:
        """Write one sample's files; returns the JSON path."""
        if self._sources is None:
            self.start()
        record = self.record(sample)
        file, name, source = record["image"], record["image_id"], record["spacing_source"]
        path = self._target(name, ".json", file or name)
        overlay = self._target(name, ".png", file or name) if self.overlay and file and Path(file).is_file() else None
        entry = {"image": file, "json": path.name, "cascade": record["cascade"], "spacing_source": source,
                 "num_outside_image": record.get("num_outside_image"),
                 **({"overlay": overlay.name} if overlay is not None else {})}  # fmt: skip
        self.journal.record([path.name] + ([overlay.name] if overlay is not None else []), file or name)
        done: list[Path] = []  # this image's files written so far
        try:
            atomic_write_json(path, record)
            done.append(path)
            if overlay is not None:
                self._write_overlay(overlay, file, record, *([self.analysis] if self.draw_measurements else []))
                done.append(overlay)
            for table in self.tables:
                table.append(record)
            self.outputs.append(entry)  # the image counts from here on
            self._refiner = record["weights"]["refiner"] or self._refiner
            self._shape_prior = record["weights"].get("shape_prior") or self._shape_prior
        except BaseException:
            if not (self.outputs and self.outputs[-1] is entry):
                self._undo(done)
            raise
        self.written.append(path)
        return path

    def _undo(self, files: list[Path]) -> None:
        """Remove what this run wrote for an image it did not finish, so JSONs, CSV and summary agree."""
        for path in files:
            path.unlink(missing_ok=True)
        for table in self.tables:
            table.keep(len(self.outputs))

    @staticmethod
    def _write_overlay(path: Path, file: str, record: dict, analysis=None) -> None:
        """The picture with each landmark's index beside it and a legend ``index name``; with ``analysis`` (the
        measurements to draw) also the lines of each measurement, and its value in the legend."""
        from monai_landmarks.data.image_reader import read_image
        from monai_landmarks.utils.overlay import save_overlay

        points = np.array([[p["x"], p["y"]] for p in record["landmarks"]])
        numbers = [str(p["index"]) for p in record["landmarks"]]
        legend = [f"{p['index']:>2} {p['name']}" for p in record["landmarks"]]
        lines = None
        if analysis is not None:
            from monai_landmarks.analysis import measurement_lines

            lines = measurement_lines(analysis, record.get("measurements") or [], points)
            legend += [""] + [_measurement_text(m) for m in record.get("measurements") or []]
        save_overlay(path, read_image(file)[0], predicted=points, names=numbers, legend=legend, lines=lines)


def _measurement_text(m: dict) -> str:
    """A legend line: ``ANB 3.1 deg (skeletal class I)``, or the reason it has no value."""
    if m["value"] is None:
        return f"{m['name']}: none ({m['reason']})"
    label = f" ({m['class_label']})" if m.get("class_label") else ""
    return f"{m['name']} {m['value']:.2f} {m['unit']}{label}"


def _as_list(value) -> list:
    try:
        return list(value)
    except TypeError:
        return [value]


def _earlier_outputs(summary: Path) -> set[str]:
    """The file names an earlier predict run listed in its summary (they may be replaced)."""
    if not summary.exists():
        return set()
    try:
        outputs = json.loads(summary.read_text(encoding="utf-8"))["outputs"]
        names = {entry[k] for entry in outputs for k in ("json", "overlay") if k in entry}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"{display(summary)}: not a readable predict summary ({e!r}); refused to replace it. Choose another "
            "output folder."
        ) from e
    return {n for n in names if isinstance(n, str)}


def _same(image) -> str:
    return str(Path(image).expanduser())
