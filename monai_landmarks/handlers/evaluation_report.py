"""Evaluation reports: MRE, SD and SDR overall and per landmark as JSON and CSV, plus overlays of the best and
worst images.

Attach :class:`LandmarkReportWriter` to a ``SupervisedEvaluator`` whose post-processing leaves, in each
decollated sample, the prediction and the ground truth in the same pixels (original-image pixels for the
published protocols), the pixel spacing and the image id. The formulas are those of
:func:`monai_landmarks.metrics.landmark_error_report`, shared with the Ignite metrics.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from monai.utils import min_version, optional_import

from monai_landmarks.handlers.engine_output import engine_samples
from monai_landmarks.metrics import DEFAULT_RADII, ErrorProtocol, RadialErrorMetric, landmark_error_report
from monai_landmarks.utils.dist import gather_lists, is_main_process
from monai_landmarks.utils.io import atomic_write_json, atomic_write_text
from monai_landmarks.utils.keys import Keys
from monai_landmarks.utils.paths import child_path

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")

__all__ = ["LandmarkReportWriter"]

_OVERLAY_NAME = re.compile(r"^(best|worst)_\d+_.+\.png$")  # the names _overlays writes


def _file_of(sample: dict) -> str:
    image = sample.get(Keys.IMAGE)
    meta = getattr(image, "meta", {}) or {}
    return str(meta.get("filename_or_obj", ""))


class LandmarkReportWriter:
    """Collect radial errors during an evaluation run and write the report when it completes.

    Files written to ``output_dir`` (each atomically): ``metrics.json`` (overall MRE, SD, SDR, counts, the
    protocol, and what ran: ``cascade`` on/off and the ``weights`` files with their sha256), ``per_landmark.csv``,
    ``per_image.csv`` (one row per image with each landmark's error and the prediction), and
    ``overlays/{best,worst}_<rank>_<image_id>.png``.

    Args:
        output_dir: folder of the report.
        protocol: the unit protocol (:class:`~monai_landmarks.metrics.ErrorProtocol`).
        radii: SDR radii in the report's unit.
        strict: SDR counts ``error < r`` instead of ``error <= r``.
        landmark_names: names for the CSV rows; indices when None.
        num_overlays: how many best and worst images get an overlay picture (0 for none).
        pred_key, label_key, spacing_key, id_key: sample keys read.
        domain: report only the samples of this domain (a universal model's per-domain report); None for all.
    """

    def __init__(
        self,
        output_dir,
        protocol: ErrorProtocol,
        radii: Sequence[float] = DEFAULT_RADII,
        strict: bool = False,
        landmark_names: Sequence[str] | None = None,
        num_overlays: int = 3,
        pred_key: str = Keys.PRED_LANDMARKS,
        label_key: str = Keys.LANDMARKS,
        spacing_key: str = Keys.SPACING,
        id_key: str = Keys.IMAGE_ID,
        domain: int | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.domain = domain
        self.metric = RadialErrorMetric(protocol)
        self.protocol = {**protocol.to_dict(), "strict_sdr": strict}
        self.radii = tuple(float(r) for r in radii)
        self.strict = strict
        self.landmark_names = list(landmark_names) if landmark_names is not None else None
        self.num_overlays = num_overlays
        self.keys = (pred_key, label_key, spacing_key, id_key)
        self.rows: list[dict] = []
        self.report: dict | None = None
        self.ran: dict = {"cascade": set(), "refiner": None}  # what the evaluation ran, for metrics.json

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.COMPLETED, self.write)

    def reset(self, engine=None) -> None:
        self.rows = []
        self.ran = {"cascade": set(), "refiner": None, "shape_prior": None}
        self.report = None
        self.metric.reset()

    def collect(self, engine) -> None:
        pred_key, label_key, spacing_key, id_key = self.keys
        for sample in engine_samples(engine, domain=self.domain):
            pred = torch.as_tensor(sample[pred_key]).reshape(1, -1, 2)
            label = torch.as_tensor(sample[label_key]).reshape(1, -1, 2)
            spacing = sample.get(spacing_key)
            spacing = None if spacing is None else torch.as_tensor(spacing, dtype=torch.float64).reshape(1, 2)
            errors = self.metric(pred, label, spacing)[0]
            cascade = sample.get(Keys.CASCADE) or {}
            self.ran["cascade"].add(cascade.get("cascade", "off"))
            self.ran["refiner"] = cascade.get("refiner") or self.ran["refiner"]
            self.ran["shape_prior"] = cascade.get("shape_prior") or self.ran["shape_prior"]
            self.rows.append(
                {
                    "image_id": str(sample.get(id_key, len(self.rows))),
                    "file": _file_of(sample),
                    "errors": errors.cpu().numpy(),
                    "pred": pred[0].cpu().numpy(),
                    "label": label[0].cpu().numpy(),
                }
            )

    def write(self, engine=None) -> dict:
        """Write the report files (rank 0 of a distributed run, with every rank's rows) and return the report."""
        self.rows = gather_lists(self.rows)
        if not self.rows:
            raise RuntimeError("LandmarkReportWriter: the evaluation produced no samples to report.")
        errors = torch.as_tensor(np.stack([r["errors"] for r in self.rows]))
        report = landmark_error_report(errors, radii=self.radii, strict=self.strict)
        self.report = self._summary(report)
        model = (getattr(getattr(engine, "state", None), "weights", None) or {}).get("model")
        cascades = sorted(self.ran["cascade"])
        self.report["cascade"] = cascades[0] if len(cascades) == 1 else "mixed"
        self.report["weights"] = {"model": model, "refiner": self.ran["refiner"]}
        if self.ran["shape_prior"]:
            self.report["weights"]["shape_prior"] = self.ran["shape_prior"]
        if not is_main_process():
            return self.report
        self.output_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.output_dir / "metrics.json", self.report)
        atomic_write_text(self.output_dir / "per_landmark.csv", self._per_landmark_csv(report))
        atomic_write_text(self.output_dir / "per_image.csv", self._per_image_csv())
        self._overlays()
        return self.report

    def _names(self, k: int) -> list[str]:
        if self.landmark_names and len(self.landmark_names) == k:
            return self.landmark_names
        return [str(i) for i in range(k)]

    def _summary(self, report: dict) -> dict:
        names = self._names(len(report["mre_per_landmark"]))
        return {
            "protocol": self.protocol,
            "num_images": len(self.rows),
            "count": int(report["count"]),
            "failures": int(report["failures"]),
            "mre": float(report["mre"]),
            "sd": float(report["sd"]),
            "sdr": {f"{r:g}": float(v) for r, v in report["sdr"].items()},
            "per_landmark": {
                name: {
                    "mre": float(report["mre_per_landmark"][i]),
                    "sd": float(report["sd_per_landmark"][i]),
                    "sdr": {f"{r:g}": float(v[i]) for r, v in report["sdr_per_landmark"].items()},
                }
                for i, name in enumerate(names)
            },
        }

    def _per_landmark_csv(self, report: dict) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        radii = list(report["sdr_per_landmark"])
        writer.writerow(["landmark", "name", "count", "mre", "sd", *[f"sdr_{r:g}" for r in radii]])
        names = self._names(len(report["mre_per_landmark"]))
        for i, name in enumerate(names):
            rates = [f"{float(report['sdr_per_landmark'][r][i]):.4f}" for r in radii]
            writer.writerow(
                [
                    i,
                    name,
                    int(report["count_per_landmark"][i]),
                    f"{float(report['mre_per_landmark'][i]):.6f}",
                    f"{float(report['sd_per_landmark'][i]):.6f}",
                    *rates,
                ]
            )
        return out.getvalue()

    def _per_image_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        k = len(self.rows[0]["errors"])
        coords = [f"{axis}_{i}" for i in range(k) for axis in "xy"]
        writer.writerow(["image_id", "file", "mre", *[f"error_{i}" for i in range(k)], *coords])
        for r in self.rows:
            writer.writerow(
                [
                    r["image_id"],
                    r["file"],
                    f"{_image_mre(r['errors']):.6f}",
                    *[f"{e:.6f}" for e in r["errors"]],
                    *[f"{v:.3f}" for v in r["pred"].reshape(-1)],
                ]
            )
        return out.getvalue()

    def _overlays(self) -> None:
        if self.num_overlays <= 0:
            return
        from monai_landmarks.utils.overlay import save_overlay

        folder = self.output_dir / "overlays"
        for old in folder.glob("*.png"):  # pictures of an earlier validation would mislead; others are not ours
            if _OVERLAY_NAME.match(old.name):
                old.unlink()
        ranked = sorted(self.rows, key=lambda r: _image_mre(r["errors"]))
        n = min(self.num_overlays, len(ranked))
        picks = [("best", i, r) for i, r in enumerate(ranked[:n])]
        picks += [("worst", i, r) for i, r in enumerate(reversed(ranked[-n:]))]
        for tag, rank, row in picks:
            if not row["file"] or not Path(row["file"]).is_file():
                continue
            image = _load_gray(row["file"])
            save_overlay(
                child_path(folder, f"{tag}_{rank}_{row['image_id']}.png"),
                image,
                row["label"],
                predicted=row["pred"],
            )


def _image_mre(errors: np.ndarray) -> float:
    present = errors[~np.isnan(errors)]
    return float(present.mean()) if present.size else float("nan")


def _load_gray(path: str) -> np.ndarray:
    from monai_landmarks.data.image_reader import read_image

    return read_image(path)[0]
