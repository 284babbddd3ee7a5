"""The benchmark command line and report generator, on tiny fake result files (no benchmark is run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the benchmarks package lives beside the library, not inside it

from benchmarks.__main__ import build_parser, speed_command  # noqa: E402
from benchmarks.accuracy import SUITES, eval_command, train_command  # noqa: E402
from benchmarks.report import command, load_results, write_report  # noqa: E402

ENV = {"seed": 0, "git_commit": "abc1234", "torch": "2.13.0", "monai": "1.6.1", "device": "fake CPU"}


def _bench(name: str, **info) -> dict:
    return {"name": name, "extra_info": ENV | {"load_average_1min_at_start": 1.0, "load_average_1min": 2.0} | info}


def _write_fake_results(folder: Path) -> None:
    networks = [
        _bench("test_cpu[a]", model="gu2net_original", mode="train", input_shape=[2, 1, 416, 512],
               images_per_s_best=0.2, images_per_s_mean=0.18, peak_mem_mb=900.0, gflops_per_image=30.0,
               parameters=2742694),
        _bench("test_cpu[b]", model="gu2net", mode="train", input_shape=[2, 1, 416, 512], images_per_s_best=0.4,
               images_per_s_mean=0.35, peak_mem_mb=700.0, gflops_per_image=30.0, parameters=2742694),
        _bench("test_gu2net_speedup_interleaved[train]", mode="train", original_images_per_s_best=0.2,
               ours_images_per_s_best=0.4, original_images_per_s_median=0.19, ours_images_per_s_median=0.38,
               speedup_best=2.0, speedup_median=2.0, speedup_per_round=[2.0, 2.0]),
        _bench("test_batch_sweep[gu2net-infer]", model="gu2net", mode="infer", input_shape=[8, 1, 416, 512],
               images_per_s_best={"1": 1.0, "2": 1.1, "4": 1.2, "8": 1.2}),
    ]  # fmt: skip
    heatmaps = [
        _bench("test_interleaved_ratios[x]", case="head_gu2net", K=19, size=[512, 416],
               seconds_median={"zeros": 0.001, "ours": 0.002, "monai": 0.3}, monai_over_ours_median=150.0,
               monai_over_ours_min=160.0, ours_over_zeros_median=2.0, ours_over_zeros_min=1.8),
    ]  # fmt: skip
    pipeline = [
        _bench("test_pipeline_vs_network[c]", case="htc_ceph_cpu_scale", input_size=[256, 320], batch_size=2,
               parameters=1_373_836, pipeline_samples_per_s=4.0, network_images_per_s=2.0, pipeline_over_network=2.0,
               serial_images_per_s=1.33, stage_ms_per_sample={"load": 100.0, "augment": 120.0, "targets": 30.0}),
    ]  # fmt: skip
    for name, records in (("networks", networks), ("heatmaps", heatmaps), ("pipeline", pipeline)):
        (folder / f"speed_{name}.json").write_text(json.dumps({"benchmarks": records}))
    accuracy = ENV | {
        "suite": "isbi2015_cpu_scale",
        "evaluation": "isbi2015_mean",
        "label": "CPU-scale: fake",
        "protocol": "ISBI 2015 test1, fake",
        "dataset": "isbi2015_ceph",
        "eval_command": "python -m monai.bundle run evaluating ...",
        "eval_wall_seconds": 1.0,
        "training": {"command": "python -m monai.bundle run training ...", "epochs_done": 2, "wall_seconds": 5.0},
        "metrics": {
            "mre": 1.5,
            "sd": 0.5,
            "count": 4,
            "sdr": {"2": 75.0, "2.5": 80.0, "3": 90.0, "4": 100.0},
            "per_landmark": {"sella": {"mre": 1.0, "sd": 0.1}, "nasion": {"mre": 2.0, "sd": 0.2}},
        },
        "strict_sdr": {"2": 70.0, "2.5": 80.0, "3": 90.0, "4": 100.0},
        "errors": [[1.0, 2.0], [1.5, 1.5]],
        "overlays": [],
    }
    (folder / "accuracy_isbi2015_cpu_scale_isbi2015_mean.json").write_text(json.dumps(accuracy))


@pytest.mark.parametrize(
    "argv, command",
    [
        (["speed"], "speed"),
        (["speed", "--only", "heatmaps", "-k", "interleaved"], "speed"),
        (["accuracy", "--checkpoint", "model.pt", "--threads", "2"], "accuracy"),
        (["report", "--no-figures"], "report"),
        (["all", "--only", "pipeline", "--suite", "isbi2015_cpu_scale"], "all"),
    ],
)
def test_parser_accepts(argv, command):
    assert build_parser().parse_args(argv).command == command


@pytest.mark.parametrize("argv", [[], ["speed", "--only", "nothing"], ["accuracy", "--suite", "unknown"], ["fly"]])
def test_parser_rejects(argv):
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)


def test_commands_carry_the_overrides(tmp_path):
    suite = SUITES["isbi2015_cpu_scale"]
    train = train_command(suite, tmp_path, tmp_path / "run")
    assert train[:5] == ["python", "-m", "monai.bundle", "run", "training"]
    assert "--width_multiplier" in train and "[256, 320]" in train
    ev = eval_command(suite, suite.evaluations[1], tmp_path, tmp_path / "run", tmp_path / "model.pt")
    assert ev[ev.index("--ground_truth") + 1] == "senior" and ev[ev.index("--eval_split") + 1] == "test1"
    assert any(a.endswith("speed_heatmaps.json") for a in speed_command("benchmarks/bench_heatmaps.py", tmp_path))


def test_report_from_fake_results(tmp_path):
    _write_fake_results(tmp_path)
    assert set(load_results(tmp_path)["speed"]) == {"networks", "heatmaps", "pipeline"}
    text = write_report(tmp_path, tmp_path / "README.md", figures=False)
    assert (tmp_path / "README.md").read_text() == text
    assert "| gu2net | (2, 1, 416, 512) | train | 0.400 (0.350) | 700 |" in text  # measured row
    assert "2.00x" in text and "2.00x median (met)" in text  # GU2Net bar
    assert "150x" in text and ">= 100x: met" in text  # heatmap target
    assert "(published" in text and "(measured, CPU-scale)" in text
    assert "No GPU was lent" in text


def test_report_states_our_data_and_htc_parameters(tmp_path):
    _write_fake_results(tmp_path)
    lines = write_report(tmp_path, tmp_path / "README.md", figures=False).splitlines()
    measured = next(line for line in lines if line.startswith("| HTC `isbi2015_mean` (measured"))
    assert "ISBI 2015 test1, fake; our images: the 'cepha400' JPEG copy" in measured and "0.2 mm/px" in measured
    for paper in ("AFPF", "attention-guided"):  # literature rows assert no ground-truth convention
        row = next(line for line in lines if line.startswith(f"| {paper}"))
        assert "mean-of-annotators" not in row and "not verified here" in row
    assert any(line.startswith("| released code, registered | 24,613,426 |") for line in lines)
    assert any(line.startswith("| released code, used by its forward pass | 21,887,026 |") for line in lines)
    assert any(line.startswith("| ours, `htc_original` (our test restatement") for line in lines)
    assert sum("| 16.2M (paper) |" in line for line in lines) == 2


def test_recorded_commands_are_relative_to_their_checkout():
    cmd = "python -m monai.bundle run training --bundle_root /somewhere/else/checkout/runs/benchmarks/x --seed 0"
    assert command(cmd) == "python -m monai.bundle run training --bundle_root runs/benchmarks/x --seed 0"


def test_report_figures(tmp_path):
    pytest.importorskip("matplotlib")
    _write_fake_results(tmp_path)
    write_report(tmp_path, tmp_path / "README.md")
    for name in ("sdr_curve.png", "per_landmark_error.png", "throughput_by_batch.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 0


def test_report_without_results(tmp_path):
    text = write_report(tmp_path, tmp_path / "README.md", figures=False)
    assert "No accuracy results recorded yet" in text and "No network results recorded yet" in text
