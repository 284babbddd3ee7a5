"""Accuracy suite: train (or load) a bundle on a dataset folder, evaluate it under named protocols, keep the results.

Training and evaluation are the bundles' own ``training`` and ``evaluating`` workflows run through
``python -m monai.bundle`` (so preprocessing, decoding and metrics have one source); this module only builds the
commands, runs them, and collects what the bundle's ``LandmarkReportWriter`` wrote (``metrics.json``,
``per_landmark.csv``, ``per_image.csv``, overlays) into ``benchmarks/results/accuracy_<suite>_<evaluation>.json``
with the commands and provenance. The suites and their protocols are in :mod:`benchmarks.suites`.

Shipped suites (``htc_ceph_shipped``, ``gu2net_ceph_shipped``) train nothing: they evaluate the weights a bundle
ships (``bundles/<b>/models/model.pt`` and ``refiner.pt``, or ``--checkpoint`` / ``--refiner``) coarse-only
(``refiner_path ""``) and as the coarse-to-fine cascade, under the protocols above (``*_coarse`` / ``*_cascade``).
The training wall time of the shipped weights is the lead's ``benchmarks/results/training_<bundle>.json``
(:func:`load_training`), or read from the run folders given with ``--coarse-run`` / ``--refiner-run``. Run::

    python -m benchmarks accuracy --suite htc_ceph_shipped gu2net_ceph_shipped --threads 2 \
        [--coarse-run runs/htc_coarse --refiner-run runs/refiner]   # one suite at a time with run folders
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.provenance import RESULTS_DIR, ROOT, load_average, record
from benchmarks.suites import CASCADE_SUITES, SUITES, Evaluation, Suite

__all__ = ["CASCADE_SUITES", "SUITES", "eval_command", "load_training", "run_suite", "train_command"]

SEED = 0  # the bundles' own seed (train.json "seed")
RADII = (2.0, 2.5, 3.0, 4.0)


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


def eval_command(
    suite: Suite, ev: Evaluation, datasets_dir: Path, bundle_root: Path, ckpt: Path, refiner: Path | None = None
) -> list[str]:
    """The bundle's ``evaluating`` workflow; coarse only (``refiner_path ""``) unless ``ev.cascade``.

    A cascade on a dataset without a pixel spacing (Hamedan) cuts its patches at the spacing the bundle's inference
    assumes for such images (``refine_default_spacing_mm``), as ``monai-landmarks predict`` does.
    """
    if ev.cascade and refiner is None:
        raise ValueError(f"{ev.name}: a cascade evaluation needs refiner weights.")
    configs = f"['bundles/{suite.bundle}/configs/train.json','bundles/{suite.bundle}/configs/evaluate.json']"
    cmd = [
        *("python", "-m", "monai.bundle", "run", "evaluating", "--config_file", configs),
        *("--bundle_root", str(bundle_root), "--dataset_dir", str(datasets_dir / ev.dataset)),
        *_overrides(suite.model_overrides),
        *("--ckpt_path", str(ckpt), "--eval_split", ev.split, "--ground_truth", ev.ground_truth),
        *("--output_dir", str(bundle_root / f"eval_{ev.name}")),
        *("--refiner_path", str(refiner) if ev.cascade else ""),
    ]
    if ev.shape_prior:
        cmd += ["--shape_prior_path", str(ROOT / "bundles" / suite.bundle / "models" / "shape_prior.pt")]
    if ev.cascade and _spacing_unknown(datasets_dir / ev.dataset):
        cmd += [f"--{_refine_step_id(suite.bundle)}#default_spacing", str(_default_spacing(suite.bundle))]
    return cmd


def _spacing_unknown(dataset_root: Path) -> bool:
    from monai_landmarks.data import read_metadata

    return read_metadata(dataset_root).get("pixel_spacing_mm") is None


def _bundle_config(bundle: str, name: str) -> dict:
    return json.loads((ROOT / "bundles" / bundle / "configs" / name).read_text())


def _refine_step_id(bundle: str) -> str:
    """Config id of the evaluation's ``RefineLandmarksd`` step (found, not assumed: the list may be reordered)."""
    steps = _bundle_config(bundle, "evaluate.json")["validate#postprocessing"]["transforms"]
    for i, step in enumerate(steps):
        if isinstance(step, dict) and str(step.get("_target_", "")).endswith("RefineLandmarksd"):
            return f"validate#postprocessing#transforms#{i}"
    raise ValueError(f"bundles/{bundle}/configs/evaluate.json: no RefineLandmarksd step in validate#postprocessing.")


def _default_spacing(bundle: str) -> float:
    return float(_bundle_config(bundle, "inference.json")["refine_default_spacing_mm"])


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


def _last_checkpoint(bundle_root: Path, checkpoints: str = "models") -> tuple[int, Path] | None:
    found = sorted((int(p.stem.split("=")[1]), p) for p in (bundle_root / checkpoints).glob("checkpoint_epoch=*.pt"))
    return found[-1] if found else None


def training_facts(
    bundle_root: Path, checkpoints: str = "models", history: str = "eval/validation_metrics.csv"
) -> dict:
    """Epochs done and wall time of a bundle run, read from its files (whoever started it).

    The TensorBoard event file is named after the run's start time; the last epoch checkpoint is written at its
    end (a resumed run counts from its first start, pauses included). Validation MRE by epoch comes from
    ``history``. A refiner run (``configs/refine.json``) keeps its checkpoints in ``models/refiner_checkpoints``
    and its history in ``eval/refiner/validation_metrics.csv``.
    """
    facts: dict = {}
    last = _last_checkpoint(bundle_root, checkpoints)
    events = sorted((bundle_root / "eval" / "logs").glob("events.out.tfevents.*"))
    if last:
        facts["epochs_done"] = last[0]
        if events:
            start = min(float(p.name.split(".")[3]) for p in events)
            facts["wall_seconds"] = round(last[1].stat().st_mtime - start, 1)
    if (bundle_root / history).is_file():
        facts["validation_history"] = list(csv.DictReader((bundle_root / history).open()))
    return facts


TRAINING_KEYS = ("coarse_seconds", "refiner_seconds", "commands", "threads", "load")


def training_file(results_dir: Path, bundle: str) -> Path:
    return Path(results_dir) / f"training_{bundle}.json"


def load_training(path: Path) -> dict:
    """The training record of shipped weights (written by whoever trained them), checked.

    ``{"coarse_seconds": s, "refiner_seconds": s, "commands": [command, ...], "threads": n, "load": l}``: wall
    seconds of the coarse and the refiner training, the commands run, their torch threads and the 1-minute load
    average while they ran (a number, or a text such as ``"2.1-3.4"``).

    Raises:
        ValueError: not JSON, a key missing, or a value of the wrong kind (the message names the file).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}).") from None
    missing = [k for k in TRAINING_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise ValueError(f"{path}: missing {missing}; expected keys {list(TRAINING_KEYS)}.")
    for key in ("coarse_seconds", "refiner_seconds"):
        if isinstance(data[key], bool) or not isinstance(data[key], int | float) or not data[key] >= 0:
            raise ValueError(f"{path}: '{key}' must be a number of seconds >= 0, got {data[key]!r}.")
    commands = data["commands"]
    if not isinstance(commands, list) or not commands or not all(isinstance(c, str) and c for c in commands):
        raise ValueError(f"{path}: 'commands' must be a non-empty list of command lines, got {commands!r}.")
    if isinstance(data["threads"], bool) or not isinstance(data["threads"], int) or data["threads"] < 1:
        raise ValueError(f"{path}: 'threads' must be a positive integer, got {data['threads']!r}.")
    if isinstance(data["load"], bool) or not isinstance(data["load"], int | float | str):
        raise ValueError(f"{path}: 'load' must be a load average (number or text), got {data['load']!r}.")
    return data


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
    """The ``per_image.csv`` rows' predictions scored by GU2Net's resized-grid head protocol
    (:func:`monai_landmarks.metrics.benchmark_protocols.gu2net_grid_errors`) against the dataset's ground truth."""
    from monai_landmarks.data import load_datalist, read_metadata
    from monai_landmarks.metrics.benchmark_protocols import gu2net_grid_errors as grid_errors

    meta = read_metadata(dataset_root)
    truth = {d["image_id"]: d["landmarks"][0] for d in load_datalist(dataset_root, split, ground_truth=ground_truth)}
    gt = np.stack([np.asarray(truth[r["image_id"]], dtype=np.float64) for r in rows])
    predicted = [[[float(r[f"x_{k}"]), float(r[f"y_{k}"])] for k in range(gt.shape[1])] for r in rows]
    return grid_errors(predicted, gt, meta["original_size_wh"], meta.get("downsample_factor", 1)).tolist()


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


def _copy_overlays(report_dir: Path, name: str, figures_dir: Path | None = None, width: int = 360) -> list[str]:
    """The best and worst overlay, cropped to the landmarks and shrunk, kept beside the runs (not committed)."""
    from PIL import Image

    figures_dir = figures_dir or DATASET_OVERLAYS_DIR  # read when called: tests point it elsewhere
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
             threads: int, training: dict, refiner: Path | None = None) -> dict:  # fmt: skip
    cmd = eval_command(suite, ev, datasets_dir, bundle_root, ckpt, refiner)
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
        "cascade": ev.cascade,
        "refiner": str(refiner) if ev.cascade else None,
        "shipped": suite.shipped,
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
    result |= _structure_summaries(suite, datasets_dir / ev.dataset, errors)
    result |= record(SEED, batch_size=1, input_size=_input_size(suite), threads=threads,
                     load_average_1min_at_start=load_start)  # fmt: skip
    return result


def _structure_summaries(suite: Suite, dataset_root: Path, errors: list[list[float]]) -> dict:
    """Per-structure errors and the mean squared error in another frame, where the suite asks for them."""
    from monai_landmarks.data import read_metadata
    from monai_landmarks.metrics.groups import group_errors, landmark_groups, mean_squared_error, vertebra_groups

    out: dict = {}
    meta = read_metadata(dataset_root)
    if suite.groups == "dataset":
        out["groups"] = group_errors(errors, landmark_groups(meta))
    elif suite.groups == "vertebrae":
        out["groups"] = group_errors(errors, vertebra_groups(meta["landmark_names"]))
    if suite.mse_scale is not None:
        out["mse"] = {"value": mean_squared_error(errors, suite.mse_scale), "scale": suite.mse_scale}
    return out


def _input_size(suite: Suite) -> list[int]:
    return suite.model_overrides.get("image_size") or _bundle_config(suite.bundle, "train.json")["image_size"]


def derived_gu2net_grid(base: dict, datasets_dir: Path, name: str = "gu2net_grid") -> dict:
    """The ``gu2net_grid`` protocol on the predictions of the evaluation ``base`` (its record plus
    ``predictions``), as evaluation ``name``."""
    rows = [
        {"image_id": i, **{f"x_{k}": p[0] for k, p in enumerate(pts)}, **{f"y_{k}": p[1] for k, p in enumerate(pts)}}
        for i, pts in zip(base["image_ids"], base["predictions"], strict=True)
    ]
    errors = gu2net_grid_errors(rows, datasets_dir / base["dataset"], base["split"], base["ground_truth"])
    out = {k: v for k, v in base.items() if k not in ("errors", "overlays", "predictions", "metrics", "strict_sdr")}
    out |= {
        "evaluation": name,
        "derived_from": base["evaluation"],
        "protocol": f"GU2Net's resized-grid head protocol applied to the {base['evaluation']} predictions: 416 x 512 "
        "grid of "
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


def shipped_weights(suite: Suite, checkpoint: Path | None, refiner: Path | None) -> tuple[Path, Path | None]:
    """The coarse and refiner weights a shipped suite evaluates: the bundle's ``models/`` unless given; checked
    here, since a missing refiner would silently give coarse landmarks (the bundle then skips refinement). A suite
    with no cascade evaluation takes no refiner (None)."""
    from monai_landmarks.engines import read_refiner

    models = ROOT / "bundles" / suite.bundle / "models"
    checkpoint = Path(checkpoint or models / "model.pt")
    cascade = any(ev.cascade for ev in suite.evaluations)
    refiner = Path(refiner or models / "refiner.pt") if cascade else None
    for path, option in ((checkpoint, "--checkpoint"), (refiner, "--refiner")):
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"{path}: no weights there; commit the bundle's weights or pass {option}.")
    if refiner is not None:
        read_refiner(refiner)  # ValueError naming the file when it is not self-describing refiner weights
    return checkpoint, refiner


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def shipped_training(checkpoint: Path, refiner: Path | None, coarse_run: Path | None, refiner_run: Path | None) -> dict:
    """What is known of how the shipped weights were trained, from their run folders when given (the lead's
    ``training_<bundle>.json``, read by the report, is the record that counts)."""
    from monai_landmarks.engines import read_refiner

    out: dict = {"command": None, "weights_sha256": {"coarse": _sha256(checkpoint)}}
    if refiner is not None:
        out["weights_sha256"]["refiner"] = _sha256(refiner)
        out["refiner_meta"] = read_refiner(refiner).spec.meta()  # the patch size, pixel size and widths it trained with
    if coarse_run is not None:
        out["coarse_run"] = {"folder": str(coarse_run)} | training_facts(Path(coarse_run))
    if refiner_run is not None:
        facts = training_facts(Path(refiner_run), "models/refiner_checkpoints", "eval/refiner/validation_metrics.csv")
        out["refiner_run"] = {"folder": str(refiner_run)} | facts
    return out


def run_suite(
    name: str,
    datasets_dir: Path,
    runs_dir: Path,
    checkpoint: Path | None,
    threads: int,
    results_dir: Path = RESULTS_DIR,
    refiner: Path | None = None,
    coarse_run: Path | None = None,
    refiner_run: Path | None = None,
) -> list[Path]:
    """Train (or take ``checkpoint``, or the shipped weights), evaluate every protocol of the suite, write one JSON
    per evaluation (``accuracy_<suite>_<evaluation>.json``)."""
    suite = SUITES[name]
    bundle_root = runs_dir / name
    if suite.shipped:
        checkpoint, refiner = shipped_weights(suite, checkpoint, refiner)
        training = shipped_training(checkpoint, refiner, coarse_run, refiner_run)
    elif checkpoint is None:
        training = train(suite, datasets_dir, bundle_root, threads)
        checkpoint = bundle_root / "models" / "model.pt"
    else:
        training = {"command": None, "checkpoint_given": str(checkpoint)}
    bundle_root.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ev in suite.evaluations:
        result = evaluate(name, suite, ev, datasets_dir, bundle_root, checkpoint, threads, training, refiner)
        if ev.measurements:
            from benchmarks.clinical import measurement_record

            report_dir = bundle_root / f"eval_{ev.name}" / ev.split
            result |= measurement_record(report_dir, datasets_dir / ev.dataset, ev.split)
        if ev.cobb:
            from benchmarks.clinical import cobb_record

            result |= cobb_record(bundle_root / f"eval_{ev.name}" / ev.split, datasets_dir / ev.dataset, ev.split)
        path = results_dir / f"accuracy_{name}_{ev.name}.json"
        path.write_text(json.dumps(result, indent=1))
        written.append(path)
        for derived_name in [d for d, source in suite.derived.items() if source == ev.name]:
            result["predictions"] = _predictions(bundle_root / f"eval_{ev.name}" / ev.split)
            derived = derived_gu2net_grid(result, datasets_dir, derived_name)
            path = results_dir / f"accuracy_{name}_{derived_name}.json"
            path.write_text(json.dumps(derived, indent=1))
            written.append(path)
    return written
