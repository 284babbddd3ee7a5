"""Accuracy suite: train (or load) a bundle on a dataset folder, evaluate it under named protocols, keep the results.

Training and evaluation are the bundles' own ``training`` and ``evaluating`` workflows run through
``python -m monai.bundle`` (so preprocessing, decoding and metrics have one source); this module only builds the
commands, runs them, and collects what the bundle's ``LandmarkReportWriter`` wrote (``metrics.json``,
``per_landmark.csv``, ``per_image.csv``, overlays) into ``benchmarks/results/accuracy_<suite>_<evaluation>.json``
with the commands and provenance. Protocols are separate, named evaluations:

- ``isbi2015_mean`` / ``isbi2015_senior``: ISBI 2015 test1 at the dataset folder's resolution (the original
  0.1 mm grid stored at 0.2 mm/px: distances are exact in mm), ground truth the annotators' mean or the senior one.
- ``gu2net_grid``: GU2Net's resized-grid protocol applied to the same predictions (see ``gu2net_grid_errors``).
- ``hamedan_px``: cross-dataset, the ISBI 2015 model on Hamedan images, in pixels (no spacing is known).
- ``dha_wrist``: hands, mm normalised by the wrist width (bundle ``htc_hand``).
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.provenance import RESULTS_DIR, ROOT, load_average, record

SEED = 0  # the bundles' own seed (train.json "seed")
RADII = (2.0, 2.5, 3.0, 4.0)


@dataclass(frozen=True)
class Evaluation:
    name: str
    dataset: str
    split: str
    protocol: str
    ground_truth: str = "mean"


@dataclass(frozen=True)
class Suite:
    bundle: str
    dataset: str
    model_overrides: dict
    train_overrides: dict
    evaluations: tuple[Evaluation, ...]
    label: str
    derived: tuple[str, ...] = field(default=())


ISBI_PROTOCOL = (
    "ISBI 2015 test1 (150 images), original resolution (stored 967 x 1200 at 0.2 mm/px, exact), "
    "{gt} ground truth, SDR with <="
)
SUITES = {
    "isbi2015_cpu_scale": Suite(
        bundle="htc_ceph",
        dataset="isbi2015_ceph",
        model_overrides={"image_size": [256, 320], "width_multiplier": 0.25},
        train_overrides={"max_epochs": 20, "val_interval": 4},
        evaluations=(
            Evaluation("isbi2015_mean", "isbi2015_ceph", "test1", ISBI_PROTOCOL.format(gt="mean-of-annotators")),
            Evaluation("isbi2015_senior", "isbi2015_ceph", "test1", ISBI_PROTOCOL.format(gt="senior"), "senior"),
            Evaluation(
                "hamedan_px",
                "hamedan_ceph",
                "train",
                "cross-dataset: Hamedan (113 images, 670 x 835), pixels of the stored images (no spacing known), "
                "mean-of-annotators ground truth",
            ),
        ),
        label="CPU-scale: HTC at width 0.25 (1.37M parameters), 256 x 320 input, 20 epochs, batch 2, trained on "
        "ISBI 2015 train 001-130 with 131-150 held out for validation",
        derived=("gu2net_grid",),
    ),
    "dha_hand_cpu_scale": Suite(
        bundle="htc_hand",
        dataset="dha_hand_sample",
        model_overrides={"image_size": [256, 320], "width_multiplier": 0.25},
        train_overrides={"max_epochs": 40, "val_interval": 10, "num_val": 2},
        evaluations=(
            Evaluation(
                "dha_wrist", "dha_hand_sample", "train", "hand: mm normalised to a 50 mm wrist width, all 7 images"
            ),
        ),
        label="CPU-scale: HTC at width 0.25 on the 7-image hand sample (5 train, 2 validation); evaluated on all 7, "
        "so this only exercises the wrist-width protocol",
    ),
}


# ----------------------------------------------------------------------------------------------- commands


def _overrides(values: dict) -> list[str]:
    args = []
    for key, value in values.items():
        args += [f"--{key}", json.dumps(value) if isinstance(value, list | dict) else str(value)]
    return args


def train_command(suite: Suite, datasets_dir: Path, bundle_root: Path) -> list[str]:
    config = f"bundles/{suite.bundle}/configs/train.json"
    return [
        *("python", "-m", "monai.bundle", "run", "training", "--config_file", config),
        *("--bundle_root", str(bundle_root), "--dataset_dir", str(datasets_dir / suite.dataset)),
        *_overrides(suite.model_overrides | suite.train_overrides),
    ]


def eval_command(suite: Suite, ev: Evaluation, datasets_dir: Path, bundle_root: Path, ckpt: Path) -> list[str]:
    configs = f"['bundles/{suite.bundle}/configs/train.json','bundles/{suite.bundle}/configs/evaluate.json']"
    return [
        *("python", "-m", "monai.bundle", "run", "evaluating", "--config_file", configs),
        *("--bundle_root", str(bundle_root), "--dataset_dir", str(datasets_dir / ev.dataset)),
        *_overrides(suite.model_overrides),
        *("--ckpt_path", str(ckpt), "--eval_split", ev.split, "--ground_truth", ev.ground_truth),
        *("--output_dir", str(bundle_root / f"eval_{ev.name}")),
    ]


def _run(cmd: list[str], log: Path, threads: int) -> float:
    """Run a bundle command (python = this interpreter), its output into ``log``; wall seconds."""
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run([sys.executable, *cmd[1:]], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"`{shlex.join(cmd)}` failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------------------------- training


def _last_checkpoint(bundle_root: Path) -> tuple[int, Path] | None:
    found = sorted((int(p.stem.split("=")[1]), p) for p in (bundle_root / "models").glob("checkpoint_epoch=*.pt"))
    return found[-1] if found else None


def training_facts(bundle_root: Path) -> dict:
    """Epochs done and wall time of a bundle run, read from its files (whoever started it).

    The TensorBoard event file is named after the run's start time; the last epoch checkpoint is written at its
    end. Validation MRE by epoch comes from ``eval/validation_metrics.csv``.
    """
    facts: dict = {}
    last = _last_checkpoint(bundle_root)
    events = sorted((bundle_root / "eval" / "logs").glob("events.out.tfevents.*"))
    if last:
        facts["epochs_done"] = last[0]
        if events:
            start = min(float(p.name.split(".")[3]) for p in events)
            facts["wall_seconds"] = round(last[1].stat().st_mtime - start, 1)
    history = bundle_root / "eval" / "validation_metrics.csv"
    if history.is_file():
        facts["validation_history"] = list(csv.DictReader(history.open()))
    return facts


def train(suite: Suite, datasets_dir: Path, bundle_root: Path, threads: int) -> dict:
    """Train unless the run in ``bundle_root`` already finished (the bundle itself resumes an unfinished one)."""
    cmd = train_command(suite, datasets_dir, bundle_root)
    epochs = suite.train_overrides["max_epochs"]
    last = _last_checkpoint(bundle_root)
    ran = not (last and last[0] >= epochs)
    if ran:
        bundle_root.mkdir(parents=True, exist_ok=True)
        print(f"[accuracy] training: {shlex.join(cmd)}", flush=True)
        _run(cmd, bundle_root / "train.log", threads)
    return {"command": shlex.join(cmd), "ran_now": ran, "threads": threads} | training_facts(bundle_root)


# ----------------------------------------------------------------------------------------------- results


def _per_image(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open()))


def _errors(rows: list[dict]) -> list[list[float]]:
    keys = sorted((k for k in rows[0] if k.startswith("error_")), key=lambda k: int(k.split("_")[1]))
    return [[float(r[k]) for k in keys] for r in rows]


def _summary(errors: list[list[float]], strict: bool = False) -> dict:
    from monai_landmarks.metrics.landmark_error import landmark_error_report

    rep = landmark_error_report(np.asarray(errors, dtype=np.float64), radii=RADII, strict=strict)
    return {
        "mre": rep["mre"],
        "sd": rep["sd"],
        "sdr": {f"{r:g}": v for r, v in rep["sdr"].items()},
        "count": rep["count"],
        "mre_per_landmark": rep["mre_per_landmark"].tolist(),
        "sd_per_landmark": rep["sd_per_landmark"].tolist(),
    }


def gu2net_grid_errors(rows: list[dict], dataset_root: Path, split: str, ground_truth: str) -> list[list[float]]:
    """Errors under GU2Net's head protocol: the 416 x 512 grid of the original 1935 x 2400 image, 0.46875 mm/px.

    Predictions and ground truth (both in stored pixels) are mapped to the original grid
    (``u = (s + 0.5) * f - 0.5``), then to the resized one, and rounded to whole grid pixels, as the original's
    integer argmax and quantised labels are; distances use 0.46875 mm for both axes, as GU2Net does.
    """
    from monai_landmarks.data import load_datalist, read_metadata

    meta = read_metadata(dataset_root)
    f = meta.get("downsample_factor", 1)
    ow, oh = meta["original_size_wh"]
    scale = (416 / ow, 512 / oh)
    truth = {d["image_id"]: d["landmarks"][0] for d in load_datalist(dataset_root, split, ground_truth=ground_truth)}

    def grid(x: float, y: float) -> tuple[int, int]:
        ox, oy = (x + 0.5) * f - 0.5, (y + 0.5) * f - 0.5
        return round((ox + 0.5) * scale[0] - 0.5), round((oy + 0.5) * scale[1] - 0.5)

    out = []
    for r in rows:
        gt = truth[r["image_id"]]
        row = []
        for k in range(len(gt)):
            px, py = grid(float(r[f"x_{k}"]), float(r[f"y_{k}"]))
            gx, gy = grid(float(gt[k][0]), float(gt[k][1]))
            row.append(0.46875 * ((px - gx) ** 2 + (py - gy) ** 2) ** 0.5)
        out.append(row)
    return out


def _landmark_box(row: dict, size: tuple[int, int], margin: float = 0.15) -> tuple[int, int, int, int]:
    """The predicted landmarks' bounding box, widened by ``margin``: the markers stay visible once shrunk."""
    k = sum(1 for key in row if key.startswith("error_"))
    xs = [float(row[f"x_{i}"]) for i in range(k)]
    ys = [float(row[f"y_{i}"]) for i in range(k)]
    dx, dy = margin * (max(xs) - min(xs)), margin * (max(ys) - min(ys))
    box = (min(xs) - dx, min(ys) - dy, max(xs) + dx, max(ys) + dy)
    return max(0, int(box[0])), max(0, int(box[1])), min(size[0], int(box[2]) + 1), min(size[1], int(box[3]) + 1)


# Overlays of dataset images are derived from images without a redistribution licence: they stay out of git.
DATASET_OVERLAYS_DIR = ROOT / "runs" / "benchmarks" / "overlays"


def _copy_overlays(
    report_dir: Path, name: str, figures_dir: Path = DATASET_OVERLAYS_DIR, width: int = 360
) -> list[str]:
    """The best and worst overlay, cropped to the landmarks and shrunk, kept beside the runs (not committed)."""
    from PIL import Image

    rows = {r["image_id"]: r for r in _per_image(report_dir / "per_image.csv")}
    figures_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for kind in ("best", "worst"):
        found = sorted((report_dir / "overlays").glob(f"{kind}_0_*.png"))  # rank 0: the best / the worst image
        if not found:
            continue
        image = Image.open(found[0]).convert("RGB")
        image_id = found[0].stem.split("_", 2)[2]
        if image_id in rows:
            image = image.crop(_landmark_box(rows[image_id], image.size))
        image.thumbnail((width, width * 2))
        target = figures_dir / f"overlay_{name}_{kind}.png"
        image.quantize(colors=128).save(target, optimize=True)  # a palette keeps the PNG small
        copied.append(target.relative_to(ROOT).as_posix() if target.is_relative_to(ROOT) else str(target))
    return copied


def evaluate(suite_name: str, suite: Suite, ev: Evaluation, datasets_dir: Path, bundle_root: Path, ckpt: Path,
             threads: int, training: dict) -> dict:  # fmt: skip
    cmd = eval_command(suite, ev, datasets_dir, bundle_root, ckpt)
    print(f"[accuracy] evaluating {ev.name}: {shlex.join(cmd)}", flush=True)
    load_start = load_average()
    seconds = _run(cmd, bundle_root / f"eval_{ev.name}.log", threads)
    report_dir = bundle_root / f"eval_{ev.name}" / ev.split
    metrics = json.loads((report_dir / "metrics.json").read_text())
    rows = _per_image(report_dir / "per_image.csv")
    errors = _errors(rows)
    result = {
        "suite": suite_name,
        "evaluation": ev.name,
        "label": suite.label,
        "protocol": ev.protocol,
        "unit": metrics["protocol"]["unit"],
        "bundle": suite.bundle,
        "dataset": ev.dataset,
        "split": ev.split,
        "ground_truth": ev.ground_truth,
        "checkpoint": str(ckpt),
        "eval_command": shlex.join(cmd),
        "eval_wall_seconds": round(seconds, 1),
        "training": training,
        "metrics": metrics,
        "strict_sdr": _summary(errors, strict=True)["sdr"],
        "errors": [[round(e, 4) for e in row] for row in errors],
        "image_ids": [r["image_id"] for r in rows],
        # one set of overlays per image set (the senior evaluation shows the same predictions)
        "overlays": _copy_overlays(report_dir, f"{suite_name}_{ev.name}") if ev.ground_truth == "mean" else [],
    }
    result |= record(SEED, batch_size=1, input_size=suite.model_overrides.get("image_size"), threads=threads,
                     load_average_1min_at_start=load_start)  # fmt: skip
    return result


def derived_gu2net_grid(base: dict, datasets_dir: Path) -> dict:
    rows = [
        {"image_id": i, **{f"x_{k}": p[0] for k, p in enumerate(pts)}, **{f"y_{k}": p[1] for k, p in enumerate(pts)}}
        for i, pts in zip(base["image_ids"], base["predictions"], strict=True)
    ]
    errors = gu2net_grid_errors(rows, datasets_dir / base["dataset"], base["split"], base["ground_truth"])
    out = {k: v for k, v in base.items() if k not in ("errors", "overlays", "predictions", "metrics", "strict_sdr")}
    out |= {
        "evaluation": "gu2net_grid",
        "protocol": "GU2Net's resized-grid head protocol applied to the isbi2015_mean predictions: 416 x 512 grid of "
        "the original image, 0.46875 mm/px, predictions and ground truth rounded to the grid (test1 only, not "
        "GU2Net's pooled test1+test2)",
        "unit": "mm (resized grid)",
        "summary": _summary(errors),
        "strict_sdr": _summary(errors, strict=True)["sdr"],
        "errors": [[round(e, 4) for e in row] for row in errors],
    }
    return out


def _predictions(report_dir: Path) -> list[list[list[float]]]:
    rows = _per_image(report_dir / "per_image.csv")
    k = sum(1 for key in rows[0] if key.startswith("error_"))
    return [[[float(r[f"x_{i}"]), float(r[f"y_{i}"])] for i in range(k)] for r in rows]


def run_suite(
    name: str,
    datasets_dir: Path,
    runs_dir: Path,
    checkpoint: Path | None,
    threads: int,
    results_dir: Path = RESULTS_DIR,
) -> list[Path]:
    """Train (or take ``checkpoint``), evaluate every protocol of the suite, write one JSON per evaluation."""
    suite = SUITES[name]
    bundle_root = runs_dir / name
    if checkpoint is None:
        training = train(suite, datasets_dir, bundle_root, threads)
        checkpoint = bundle_root / "models" / "model.pt"
    else:
        training = {"command": None, "checkpoint_given": str(checkpoint)}
    results_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ev in suite.evaluations:
        result = evaluate(name, suite, ev, datasets_dir, bundle_root, checkpoint, threads, training)
        path = results_dir / f"accuracy_{name}_{ev.name}.json"
        path.write_text(json.dumps(result, indent=1))
        written.append(path)
        if ev.name == "isbi2015_mean" and "gu2net_grid" in suite.derived:
            result["predictions"] = _predictions(bundle_root / f"eval_{ev.name}" / ev.split)
            derived = derived_gu2net_grid(result, datasets_dir)
            path = results_dir / f"accuracy_{name}_gu2net_grid.json"
            path.write_text(json.dumps(derived, indent=1))
            written.append(path)
    return written
