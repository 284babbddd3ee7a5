"""The ISBI 2015 task-2 benchmark entry: its suites, the measurement record and its README section."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the benchmarks package lives beside the library, not inside it

import pytest  # noqa: E402
from conftest import dataset_path  # noqa: E402

from benchmarks.accuracy import SUITES, eval_command  # noqa: E402
from benchmarks.clinical import cobb_record, measurement_record  # noqa: E402
from benchmarks.report import load_results  # noqa: E402
from benchmarks.report.measurements import measurements_section  # noqa: E402


@pytest.mark.parametrize("bundle", ["htc_ceph", "gu2net_ceph"])
def test_measurement_suites_run_the_cascade_on_test1(bundle, tmp_path):
    suite = SUITES[f"{bundle}_measurements"]
    (tmp_path / "isbi2015_ceph").mkdir()
    meta = '{"name": "isbi", "num_landmarks": 19, "pixel_spacing_mm": 0.2}'
    (tmp_path / "isbi2015_ceph" / "dataset.json").write_text(meta)
    (ev,) = suite.evaluations
    assert suite.shipped and suite.bundle == bundle and ev.cascade and ev.measurements and ev.split == "test1"
    cmd = eval_command(suite, ev, tmp_path, tmp_path / "run", tmp_path / "model.pt", tmp_path / "refiner.pt")
    assert cmd[cmd.index("--refiner_path") + 1] == str(tmp_path / "refiner.pt")


def _fake_report(folder: Path, image_ids, points, k: int = 19) -> Path:
    folder.mkdir(parents=True)
    with (folder / "per_image.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image_id", *[f"{a}_{i}" for i in range(k) for a in ("x", "y")],
                         *[f"error_{i}" for i in range(k)]])  # fmt: skip
        for i, pts in zip(image_ids, points, strict=True):
            writer.writerow([i, *[c for p in pts for c in p], *[0.0] * k])
    return folder


@pytest.mark.datasets
def test_senior_landmarks_as_predictions_score_100_against_senior(tmp_path):
    from monai_landmarks.data import load_datalist

    root = dataset_path("isbi2015_ceph")
    items = load_datalist(root, "test1", ground_truth="senior")[:4]
    report = _fake_report(tmp_path / "eval", [d["image_id"] for d in items],
                          [d["landmarks"][0].tolist() for d in items])  # fmt: skip
    rec = measurement_record(report, root, "test1")
    senior = rec["measurements"]["senior"]
    assert senior["mean_success_rate"] == 100.0
    assert all(m["mae"] < 1e-4 and m["count"] == 4 for m in senior["measurements"].values())
    assert rec["measurement_spacing_mm"] == 0.2 and len(rec["measurement_values"]) == 4
    assert rec["measurements"]["junior_vs_senior"]["measurements"]["SNA"]["count"] == 4

    fake = {"suite": "gu2net_ceph_measurements", "bundle": "gu2net_ceph", "eval_wall_seconds": 1.0,
            "eval_command": "python -m monai.bundle run evaluating", **rec}  # fmt: skip
    text = "\n".join(measurements_section({"gu2net_ceph_measurements": fake}))
    anb = next(line for line in text.splitlines() if line.startswith("| ANB |"))
    assert "/ 100.0 |" in anb and "/ 0.00 deg |" in anb  # against the senior ground truth: all right
    assert "**mean of the eight** | **" in text and "Lindner & Cootes" in text and "77-79 %" in text
    assert measurements_section({}) == []


def test_report_routes_measurement_records_to_their_own_section(tmp_path):
    (tmp_path / "accuracy_gu2net_ceph_measurements_isbi2015_measurements_cascade.json").write_text(
        '{"suite": "gu2net_ceph_measurements", "evaluation": "isbi2015_measurements_cascade", "shipped": true, '
        '"measurements": {}}'
    )
    results = load_results(tmp_path)
    assert list(results["measurements"]) == ["gu2net_ceph_measurements"] and results["shipped"] == {}


def test_spine_suite_scores_cobb_angles_with_the_shape_prior(tmp_path):
    suite = SUITES["gu2net_spine_shipped"]
    coarse, prior = suite.evaluations
    assert not coarse.shape_prior and prior.shape_prior and prior.cobb and prior.split == "test1"
    cmd = eval_command(suite, prior, tmp_path, tmp_path / "run", tmp_path / "model.pt")
    assert cmd[cmd.index("--shape_prior_path") + 1] == str(ROOT / "bundles/gu2net_spine/models/shape_prior.pt")
    assert "--shape_prior_path" not in eval_command(suite, coarse, tmp_path, tmp_path / "run", tmp_path / "model.pt")


@pytest.mark.datasets
def test_true_corners_as_predictions_reproduce_the_released_cobb_angles(tmp_path):
    from monai_landmarks.data import load_datalist

    root = dataset_path("aasce_spine")
    items = load_datalist(root, "test1")[:3]
    points = [d["landmarks"][0].tolist() for d in items]
    points[2][4], points[2][5] = points[2][5], points[2][4]  # T2's top corners swapped: its angles are undefined
    report = _fake_report(tmp_path / "eval", [d["image_id"] for d in items], points, k=68)
    rec = cobb_record(report, root, "test1")
    assert rec["cobb"]["count"] == 2 and rec["cobb"]["smape"] < 0.5
    assert rec["cobb"]["skipped"] == [{"image_id": items[2]["image_id"], "reason": rec["cobb"]["skipped"][0]["reason"]}]
    assert "T2: corners not in" in rec["cobb"]["skipped"][0]["reason"]
    assert rec["cobb_from_true_corners"]["count"] == 3 and len(rec["cobb_values"]) == 3
