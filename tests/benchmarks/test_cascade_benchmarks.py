"""The cascade benchmarks: shipped-weights accuracy suites, the training record, the report's cascade section and
the end-to-end inference benchmark (fake result files; the slow tests run tiny real evaluations)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the benchmarks package lives beside the library, not inside it

from conftest import dataset_path  # noqa: E402  tests/conftest.py: skips when the shared datasets are absent

from benchmarks.__main__ import main  # noqa: E402
from benchmarks.accuracy import (  # noqa: E402
    SUITES,
    derived_gu2net_grid,
    eval_command,
    load_training,
    run_suite,
    shipped_weights,
    training_facts,
)
from benchmarks.report import load_results, write_report  # noqa: E402

ENV = {"seed": 0, "git_commit": "abc1234", "torch": "2.13.0", "monai": "1.6.1", "device": "fake CPU"}
TRAINING = {
    "coarse_seconds": 3600.0,
    "refiner_seconds": 1200,
    "commands": ["python -m monai.bundle run training --config_file bundles/htc_ceph/configs/train.json"],
    "threads": 2,
    "load": 2.4,
}


def _dataset(folder: Path, spacing) -> Path:
    folder.mkdir(parents=True)
    (folder / "dataset.json").write_text(json.dumps({"name": folder.name, "num_landmarks": 19,
                                                    "pixel_spacing_mm": spacing}))  # fmt: skip
    return folder


def _random_weights(bundle: str, folder: Path, meta: bool = True) -> tuple[Path, Path]:
    """Random coarse weights of the bundle's network and random refiner weights, self-describing unless not
    ``meta`` (both as the bundle's configs build them)."""
    from monai.bundle import ConfigParser

    configs = ROOT / "bundles" / bundle / "configs"
    torch.manual_seed(0)
    parser = ConfigParser()
    parser.read_config(str(configs / "inference.json"))
    torch.save(parser.get_parsed_content("network_def").state_dict(), folder / "model.pt")
    refine = ConfigParser()
    refine.read_config([str(configs / "train.json"), str(configs / "refine.json")])
    state = refine.get_parsed_content("network_def").state_dict()
    if meta:
        refine.get_parsed_content("refiner_spec").save(state, folder / "refiner.pt")
    else:
        torch.save(state, folder / "refiner.pt")
    return folder / "model.pt", folder / "refiner.pt"


# ----------------------------------------------------------------------------------------------- accuracy suites


@pytest.mark.parametrize("name", ["htc_ceph_shipped", "gu2net_ceph_shipped"])
def test_shipped_suites_evaluate_coarse_and_cascade(name, tmp_path):
    suite = SUITES[name]
    assert suite.shipped and suite.bundle == name.removesuffix("_shipped")
    _dataset(tmp_path / "isbi2015_ceph", 0.2)
    _dataset(tmp_path / "hamedan_ceph", None)
    commands = {}
    for ev in suite.evaluations:
        cmd = eval_command(suite, ev, tmp_path, tmp_path / "run", tmp_path / "model.pt", tmp_path / "refiner.pt")
        commands[ev.name] = cmd
        assert cmd[cmd.index("--refiner_path") + 1] == (str(tmp_path / "refiner.pt") if ev.cascade else "")
    assert set(commands) == {"isbi2015_mean_coarse", "isbi2015_mean_cascade", "isbi2015_senior_cascade",
                             "hamedan_px_cascade"}  # fmt: skip
    senior = commands["isbi2015_senior_cascade"]
    assert senior[senior.index("--ground_truth") + 1] == "senior"
    assert suite.derived == {"gu2net_grid_cascade": "isbi2015_mean_cascade"}
    # only the dataset without a spacing gets the inference's default spacing for the refiner's patches
    spacing_args = {k: [a for a in c if a.endswith("#default_spacing")] for k, c in commands.items()}
    assert spacing_args["hamedan_px_cascade"] and not spacing_args["isbi2015_mean_cascade"]
    hamedan = commands["hamedan_px_cascade"]
    assert float(hamedan[hamedan.index(spacing_args["hamedan_px_cascade"][0]) + 1]) == 0.2


@pytest.mark.parametrize("bundle", ["htc_ceph", "gu2net_ceph"])
def test_default_spacing_override_reaches_the_refinement_step(bundle, tmp_path):
    """The override's config id names the RefineLandmarksd step of the merged evaluation config."""
    from monai.bundle import ConfigParser

    suite = SUITES[f"{bundle}_shipped"]
    _dataset(tmp_path / "hamedan_ceph", None)
    ev = next(e for e in suite.evaluations if e.name == "hamedan_px_cascade")
    cmd = eval_command(suite, ev, tmp_path, tmp_path / "run", tmp_path / "model.pt", tmp_path / "refiner.pt")
    key = next(a for a in cmd if a.endswith("#default_spacing"))[2:]
    parser = ConfigParser()
    parser.read_config([str(ROOT / f"bundles/{bundle}/configs/{n}.json") for n in ("train", "evaluate")])
    step = parser.get(key.rsplit("#", 1)[0])
    assert step["_target_"].endswith("RefineLandmarksd")


def test_cascade_evaluation_needs_a_refiner(tmp_path):
    suite = SUITES["htc_ceph_shipped"]
    ev = next(e for e in suite.evaluations if e.cascade)
    with pytest.raises(ValueError, match="needs refiner weights"):
        eval_command(suite, ev, tmp_path, tmp_path / "run", tmp_path / "model.pt")


def test_old_suite_stays_coarse_only(tmp_path):
    suite = SUITES["isbi2015_cpu_scale"]
    _dataset(tmp_path / "isbi2015_ceph", 0.2)
    cmd = eval_command(suite, suite.evaluations[0], tmp_path, tmp_path / "run", tmp_path / "model.pt")
    assert cmd[cmd.index("--refiner_path") + 1] == ""


def test_shipped_weights_are_checked(tmp_path):
    suite = SUITES["htc_ceph_shipped"]
    with pytest.raises(FileNotFoundError, match="--checkpoint"):
        shipped_weights(suite, tmp_path / "absent.pt", tmp_path / "refiner.pt")
    model, refiner = _random_weights("htc_ceph", tmp_path)
    with pytest.raises(FileNotFoundError, match="--refiner"):
        shipped_weights(suite, model, tmp_path / "absent.pt")
    assert shipped_weights(suite, model, refiner) == (model, refiner)
    (tmp_path / "bare").mkdir()
    _, bare = _random_weights("htc_ceph", tmp_path / "bare", meta=False)
    with pytest.raises(ValueError, match="refiner.pt: not refiner weights"):  # it would silently give coarse results
        shipped_weights(suite, model, bare)


def test_one_suite_options_need_one_suite(capsys):
    with pytest.raises(SystemExit) as e:
        main(["accuracy", "--suite", "htc_ceph_shipped", "gu2net_ceph_shipped", "--refiner", "r.pt"])
    assert e.value.code == 2 and "--refiner" in capsys.readouterr().err


def test_derived_gu2net_grid_names_its_source(tmp_path):
    from monai_landmarks.data import generate_phantom_dataset, load_datalist

    root = generate_phantom_dataset(tmp_path / "isbi2015_ceph", "head", 0, 0, 2, size=(416, 512))
    meta = json.loads((root / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps(meta | {"original_size_wh": [416, 512], "downsample_factor": 1}))
    items = load_datalist(root, "test")
    truth = [item["landmarks"][0].tolist() for item in items]
    shifted = [[[x + 3.0, y + 4.0] for x, y in truth[0]], truth[1]]  # 5 grid pixels off, then exact
    base = {"evaluation": "isbi2015_mean_cascade", "dataset": "isbi2015_ceph", "split": "test",
            "ground_truth": "mean", "image_ids": [i["image_id"] for i in items], "predictions": shifted,
            "metrics": {}, "errors": [], "overlays": []}  # fmt: skip
    out = derived_gu2net_grid(base, tmp_path, "gu2net_grid_cascade")
    assert out["evaluation"] == "gu2net_grid_cascade" and out["derived_from"] == "isbi2015_mean_cascade"
    assert "isbi2015_mean_cascade predictions" in out["protocol"]
    errors = np.asarray(out["errors"])
    assert np.allclose(errors[1], 0) and np.allclose(errors[0], 5 * 0.46875, atol=1e-4)  # rounded to 4 decimals


# ----------------------------------------------------------------------------------------------- training record


def test_load_training(tmp_path):
    path = tmp_path / "training_htc_ceph.json"
    path.write_text(json.dumps(TRAINING))
    assert load_training(path) == TRAINING
    for broken, match in [
        ({k: v for k, v in TRAINING.items() if k != "refiner_seconds"}, "missing \\['refiner_seconds'\\]"),
        (TRAINING | {"coarse_seconds": "1 h"}, "'coarse_seconds' must be a number"),
        (TRAINING | {"commands": "python ..."}, "'commands' must be a non-empty list"),
        (TRAINING | {"threads": 0}, "'threads' must be a positive integer"),
        (TRAINING | {"load": None}, "'load' must be a load average"),
    ]:
        path.write_text(json.dumps(broken))
        with pytest.raises(ValueError, match=match) as e:
            load_training(path)
        assert str(path) in str(e.value)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_training(path)


def test_training_facts_of_a_refiner_run(tmp_path):
    """Epochs and wall time from the files a refine.json run writes: first TensorBoard start to last checkpoint."""
    (tmp_path / "eval" / "logs").mkdir(parents=True)
    (tmp_path / "eval" / "refiner").mkdir()
    for start in (1_000_000, 1_000_500):  # a resumed run writes a second event file
        (tmp_path / "eval" / "logs" / f"events.out.tfevents.{start}.host.1.0").write_bytes(b"")
    checkpoints = tmp_path / "models" / "refiner_checkpoints"
    checkpoints.mkdir(parents=True)
    for epoch in (4, 16):
        (checkpoints / f"checkpoint_epoch={epoch}.pt").write_bytes(b"")
        os.utime(checkpoints / f"checkpoint_epoch={epoch}.pt", (1_000_000 + 100 * epoch,) * 2)
    with (tmp_path / "eval" / "refiner" / "validation_metrics.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["epoch", "val_mre"], [1, 4.2], [2, 2.6]])
    facts = training_facts(tmp_path, "models/refiner_checkpoints", "eval/refiner/validation_metrics.csv")
    assert facts["epochs_done"] == 16 and facts["wall_seconds"] == 1600
    assert [row["val_mre"] for row in facts["validation_history"]] == ["4.2", "2.6"]


# ----------------------------------------------------------------------------------------------- report


def _record(suite: str, evaluation: str, mre: float, sdr2: float, cascade: bool, **extra) -> dict:
    bundle = suite.removesuffix("_shipped")
    return ENV | {
        "suite": suite, "evaluation": evaluation, "label": "fake", "protocol": f"fake protocol {evaluation}",
        "unit": "mm", "bundle": bundle, "dataset": "isbi2015_ceph", "split": "test1", "ground_truth": "mean",
        "cascade": cascade, "shipped": True, "threads": 2, "eval_wall_seconds": 3.0,
        "load_average_1min_at_start": 1.0, "load_average_1min": 2.0,
        "eval_command": f"python -m monai.bundle run evaluating --refiner_path {'r.pt' if cascade else chr(39) * 2}",
        "training": {"command": None, "coarse_run": {"wall_seconds": 1800.0}, "refiner_run": {"wall_seconds": 600.0}},
        "metrics": {"mre": mre, "sd": 0.5, "count": 38, "sdr": {"2": sdr2, "2.5": 80.0, "3": 90.0, "4": 99.0}},
        "errors": [[1.0, 2.0], [3.0, float("nan")]], "image_ids": ["151", "152"], "overlays": [],
    } | extra  # fmt: skip


def _speed_case(bundle: str, threads: int, coarse: float, cascade: float) -> dict:
    return {"name": f"test_cascade_end_to_end[{bundle}-{threads}]", "extra_info": ENV | {
        "bundle": bundle, "threads": threads, "images": 4, "image_source": "fake images", "weights": "fake weights",
        "seconds_per_image": {"coarse": {"median": coarse, "best": coarse * 0.9},
                              "cascade": {"median": cascade, "best": cascade * 0.9}},
        "cascade_over_coarse_median": cascade / coarse, "target_seconds_per_image": 1.0, "target_threads": 2,
        "load_average_1min_at_start": 1.5, "load_average_1min": 2.5}}  # fmt: skip


def _write_cascade_results(folder: Path) -> None:
    records = [
        _record("htc_ceph_shipped", "isbi2015_mean_coarse", 2.0, 60.0, False),
        _record("htc_ceph_shipped", "isbi2015_mean_cascade", 1.5, 75.0, True),
        _record("htc_ceph_shipped", "isbi2015_senior_cascade", 1.8, 70.0, True, ground_truth="senior"),
        _record("htc_ceph_shipped", "hamedan_px_cascade", 12.0, 10.0, True, dataset="hamedan_ceph", unit="px"),
        _record("gu2net_ceph_shipped", "isbi2015_mean_coarse", 2.4, 55.0, False),
        _record("gu2net_ceph_shipped", "isbi2015_mean_cascade", 1.7, 72.0, True),
    ]
    grid = {k: v for k, v in records[1].items() if k != "metrics"} | {
        "evaluation": "gu2net_grid_cascade", "derived_from": "isbi2015_mean_cascade", "unit": "mm (resized grid)",
        "summary": {"mre": 1.6, "sd": 0.7, "count": 38, "sdr": {"2": 74.0, "2.5": 81.0, "3": 91.0, "4": 98.0}},
    }  # fmt: skip
    for rec in [*records, grid]:
        (folder / f"accuracy_{rec['suite']}_{rec['evaluation']}.json").write_text(json.dumps(rec))
    (folder / "training_htc_ceph.json").write_text(json.dumps(TRAINING))
    cases = [_speed_case("htc_ceph", 1, 0.4, 0.9), _speed_case("htc_ceph", 2, 0.3, 0.6),
             _speed_case("gu2net_ceph", 2, 0.5, 1.2)]  # fmt: skip
    (folder / "speed_cascade.json").write_text(json.dumps({"benchmarks": cases}))


def _row(lines: list[str], *parts: str) -> str:
    found = [line for line in lines if all(p in line for p in parts)]
    assert len(found) == 1, (parts, found)
    return found[0]


def test_report_cascade_section(tmp_path):
    _write_cascade_results(tmp_path)
    results = load_results(tmp_path)
    assert set(results["shipped"]) == {"htc_ceph_shipped", "gu2net_ceph_shipped"}
    assert not results["accuracy"] and results["training"]["htc_ceph"]["coarse_seconds"] == 3600.0
    text = write_report(tmp_path, tmp_path / "README.md", figures=False)
    lines = text.splitlines()
    assert "## Coarse-to-fine cascade" in lines and "[Cascade](#coarse-to-fine-cascade)" in text
    # coarse rows: the coarse model's training time; cascade rows: coarse + refiner; the lead's file beats the runs
    coarse = _row(lines, "| `htc_ceph` | coarse only (`isbi2015_mean_coarse`)")
    assert "| 2.00 (0.50) | 60.0 / 80.0 / 90.0 / 99.0 | 60 min |" in coarse
    assert "our images: the 'cepha400' JPEG copy" in coarse and "0.2 mm/px" in coarse
    assert _row(lines, "| `htc_ceph` | cascade (`isbi2015_mean_cascade`)").endswith("| 80 min |")
    assert _row(lines, "| `gu2net_ceph` | cascade (`isbi2015_mean_cascade`)").endswith("| 40 min |")  # run folders
    assert "| 1.60 (0.70) | 74.0 / 81.0 / 91.0 / 98.0 |" in _row(lines, "(`gu2net_grid_cascade`)")
    assert "from 2.00 to 1.50 mm (-0.50)" in _row(lines, "- `htc_ceph`: the refiner takes the MRE")
    assert "| 12.00 (" in _row(lines, "| `htc_ceph` | fake protocol hamedan_px_cascade")
    training = _row(lines, "| `htc_ceph` | 60 min | 20 min | 80 min | 2 | 2.4 |")
    assert "training_htc_ceph.json" in training
    assert "run folders" in _row(lines, "| `gu2net_ceph` | 30 min | 10 min | 40 min |")
    assert '--refiner_path ""' in text
    # seconds per image: the target is judged at 2 threads only
    assert "| - |" in _row(lines, "| `htc_ceph` | 1 | 4 | 0.400 (0.360) | 0.900 (0.810) | 2.25x |")
    assert "<= 1 s: met" in _row(lines, "| `htc_ceph` | 2 | 4 | 0.300 (0.270) | 0.600 (0.540) | 2.00x |")
    assert "<= 1 s: NOT met" in _row(lines, "| `gu2net_ceph` | 2 | 4 |")


def test_report_without_cascade_results(tmp_path):
    text = write_report(tmp_path, tmp_path / "README.md", figures=False)
    assert "Coarse-to-fine" not in text and "#coarse-to-fine-cascade" not in text


def test_report_rejects_a_broken_training_file(tmp_path):
    (tmp_path / "training_htc_ceph.json").write_text(json.dumps({"coarse_seconds": 1}))
    with pytest.raises(ValueError, match="training_htc_ceph.json: missing"):
        write_report(tmp_path, tmp_path / "README.md", figures=False)


# ----------------------------------------------------------------------------------------------- tiny real runs


def _subset(src: Path, dst: Path, split: str, count: int) -> None:
    """The first ``count`` images of a split of a dataset folder, linked, with their landmark rows."""
    rows = list(csv.DictReader((src / "landmarks.csv").open()))
    ids = sorted({r["image_id"] for r in rows if r["split"] == split})[:count]
    keep = [r for r in rows if r["image_id"] in ids]
    (dst / "images").mkdir(parents=True)
    (dst / "dataset.json").write_text((src / "dataset.json").read_text())
    with (dst / "landmarks.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)
    for file in sorted({r["file"] for r in keep}):
        (dst / file).symlink_to((src / file).resolve())


@pytest.mark.slow
@pytest.mark.datasets
def test_shipped_suite_on_two_images(tmp_path, monkeypatch):
    monkeypatch.setattr("benchmarks.accuracy.DATASET_OVERLAYS_DIR", tmp_path / "overlays")  # not the repo's runs/

    datasets = tmp_path / "datasets"
    _subset(dataset_path("isbi2015_ceph"), datasets / "isbi2015_ceph", "test1", 2)
    _subset(dataset_path("hamedan_ceph"), datasets / "hamedan_ceph", "train", 2)
    model, refiner = _random_weights("htc_ceph", tmp_path)
    written = run_suite("htc_ceph_shipped", datasets, tmp_path / "runs", model, 1, tmp_path / "results",
                        refiner=refiner)  # fmt: skip
    names = {p.stem.removeprefix("accuracy_htc_ceph_shipped_") for p in written}
    assert names == {"isbi2015_mean_coarse", "isbi2015_mean_cascade", "isbi2015_senior_cascade",
                     "gu2net_grid_cascade", "hamedan_px_cascade"}  # fmt: skip
    recs = {n: json.loads((tmp_path / "results" / f"accuracy_htc_ceph_shipped_{n}.json").read_text()) for n in names}
    assert recs["isbi2015_mean_coarse"]["refiner"] is None and recs["isbi2015_mean_cascade"]["refiner"] == str(refiner)
    assert recs["isbi2015_mean_cascade"]["image_ids"] == recs["isbi2015_mean_coarse"]["image_ids"]
    assert recs["isbi2015_mean_cascade"]["errors"] != recs["isbi2015_mean_coarse"]["errors"]  # the refiner ran
    assert recs["hamedan_px_cascade"]["unit"] == "px" and len(recs["hamedan_px_cascade"]["errors"]) == 2
    assert len(recs["isbi2015_mean_coarse"]["training"]["weights_sha256"]["refiner"]) == 16
    assert all(Path(p).parent == tmp_path / "overlays" for p in recs["isbi2015_mean_cascade"]["overlays"])
    meta = torch.load(refiner, weights_only=True)["meta"]
    assert recs["isbi2015_mean_cascade"]["training"]["refiner_meta"]["patch_size"] == meta["patch_size"]


@pytest.mark.slow
def test_bench_cascade_runs(tmp_path):
    """One case of the inference benchmark, one noise image, one round (its own checks: one JSON per image from
    each run, the cascade moved the landmarks); the record carries what the report reads."""
    (tmp_path / "no_datasets").mkdir()
    env = os.environ | {"MONAI_LANDMARKS_DATASETS": str(tmp_path / "no_datasets"), "BENCH_CASCADE_IMAGES": "1",
                        "BENCH_CASCADE_ROUNDS": "1", "PYTHONPATH": str(ROOT)}  # fmt: skip
    out = tmp_path / "speed_cascade.json"
    cmd = [sys.executable, "-m", "pytest", "benchmarks/bench_cascade.py::test_cascade_end_to_end[htc_ceph-1]",
           "--benchmark-enable", f"--benchmark-json={out}", "-p", "no:cacheprovider", "-q"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    info = json.loads(out.read_text())["benchmarks"][0]["extra_info"]
    assert info["bundle"] == "htc_ceph" and info["threads"] == 1 and info["images"] == 1
    assert set(info["seconds_per_image"]) == {"coarse", "cascade"} and "noise" in info["image_source"]
    assert info["refiner_meta"]["patch_size"] > 0 and info["seed"] == 0 and "git_commit" in info


# ----------------------------------------------------------------------------------------------- spine and chest


@pytest.mark.parametrize("name", ["gu2net_chest_shipped", "gu2net_spine_shipped"])
def test_coarse_only_suites_take_no_refiner(name, tmp_path):
    suite = SUITES[name]
    assert suite.shipped and not any(ev.cascade for ev in suite.evaluations)
    (tmp_path / "model.pt").write_bytes(b"weights")
    assert shipped_weights(suite, tmp_path / "model.pt", None) == (tmp_path / "model.pt", None)
    cmd = eval_command(suite, suite.evaluations[0], tmp_path, tmp_path / "run", tmp_path / "model.pt")
    assert cmd[cmd.index("--eval_split") + 1] == "test1" and cmd[cmd.index("--refiner_path") + 1] == ""


def test_report_spine_and_chest_section(tmp_path):
    from benchmarks.accuracy import _structure_summaries

    chest = tmp_path / "jsrt_chest"
    chest.mkdir()
    (chest / "dataset.json").write_text(json.dumps({"name": "c", "num_landmarks": 2, "pixel_spacing_mm": 0.7,
                                                    "landmark_groups": {"a": [0, 1], "b": [1, 2]}}))  # fmt: skip
    errors = [[0.7, 1.4], [2.1, float("nan")]]
    extra = _structure_summaries(SUITES["gu2net_chest_shipped"], chest, errors)
    assert extra["groups"]["a"]["mre"] == pytest.approx(1.4) and extra["groups"]["b"]["count"] == 1
    assert extra["mse"]["value"] == pytest.approx((4 + 16 + 36) / 3)  # 2, 4, 6 px of the 1024 frame
    rec = _record("gu2net_chest_shipped", "jsrt_chest_test1", 1.4, 50.0, False, errors=errors, **extra)
    (tmp_path / "accuracy_gu2net_chest_shipped_jsrt_chest_test1.json").write_text(json.dumps(rec))
    results = load_results(tmp_path)
    assert not results["shipped"] and set(results["anatomies"]) == {"gu2net_chest_shipped"}
    lines = write_report(tmp_path, tmp_path / "README.md", figures=False).splitlines()
    assert "## Spine and chest" in lines and "Coarse-to-fine" not in "\n".join(lines)
    assert "| 1.40 mm (0.70) | 66.7 / 100.0 / 100.0 / 100.0 (2 / 2.5 / 3 / 4 mm) | 3 | 18.7 px^2 |" in _row(
        lines, "| `gu2net_chest` |"
    )
    assert _row(lines, "| a | 1.40 (").endswith("| 2 |")
