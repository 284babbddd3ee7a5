import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from monai_landmarks.cli import main
from monai_landmarks.data import PHANTOM_KINDS, generate_phantom_dataset

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"


def test_help_explains_each_command(capsys):
    for command in ("synth", "convert", "train", "evaluate", "export", "predict"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert "usage: monai-landmarks " + command in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["synth"])
    assert exit_.value.code == 2


def test_synth_offers_every_phantom_kind(capsys):
    """The command line lists the kinds itself (it imports nothing heavy to build its parser): it must list them all."""
    with pytest.raises(SystemExit):
        main(["synth", "--help"])
    assert "--kind {" + ",".join(PHANTOM_KINDS) + "}" in capsys.readouterr().out


def test_synth_writes_dataset_and_overlays(tmp_path, capsys):
    out = tmp_path / "ph"
    assert main(["synth", str(out), "--num-train", "2", "--num-val", "1", "--num-test", "0", "--overlays", "2"]) == 0
    assert json.loads((out / "dataset.json").read_text())["num_landmarks"] == 19
    assert len(list((out / "overlays").glob("*.png"))) == 2
    # a second run refuses to overwrite, with exit code 1 and a message naming the folder
    assert main(["synth", str(out), "--num-train", "1"]) == 1
    assert str(out) in capsys.readouterr().err


def test_predict_bad_bundle_and_missing_images(tmp_path, capsys):
    assert main(["predict", str(tmp_path), str(tmp_path)]) == 1
    assert "configs/inference.json" in capsys.readouterr().err


def test_convert_failure_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "converted"
    assert main(["convert", "isbi2015", str(tmp_path / "missing"), str(out)]) == 1
    assert "error" in capsys.readouterr().err and not out.exists()


def test_entry_point_runs_as_module():
    done = subprocess.run([sys.executable, "-m", "monai_landmarks.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "synth" in done.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"monai-landmarks {version('monai-landmarks')}"


def test_train_without_data_says_what_to_give(tmp_path, capsys):
    assert main(["train", str(BUNDLES / "htc_ceph"), "--bundle_root", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "dataset_dir is not set" in err and "Traceback" not in err
    assert main(["train", str(tmp_path)]) == 1
    assert f"{tmp_path}: not a bundle folder" in capsys.readouterr().err


def test_train_evaluate_export_predict_a_bundle_folder(tmp_path, capsys, monkeypatch):
    """The folder commands, as users type them: train on phantoms, then use the run folder with no settings."""
    monkeypatch.chdir(tmp_path)
    phantoms = generate_phantom_dataset(tmp_path / "head", "head", 4, 2, 2, size=(96, 120))
    tiny = ["--set", "image_size=[64,80]", "--set", "max_epochs=1", "--set", f"data_root={phantoms}",
            "--set", "num_workers=0", "--device", "cpu"]  # fmt: skip
    assert main(["train", str(BUNDLES / "gu2net_ceph"), "--synthetic", *tiny]) == 0, capsys.readouterr().err
    run = tmp_path / "runs" / "gu2net_ceph"  # the default run folder
    assert (run / "models" / "model.pt").is_file() and (run / "configs" / "inference.json").is_file()

    assert main(["evaluate", str(run)]) == 0, capsys.readouterr().err
    assert json.loads((run / "eval" / "test" / "metrics.json").read_text())["num_images"] == 2
    assert main(["export", str(run)]) == 0, capsys.readouterr().err
    assert (run / "models" / "model.ts").is_file()
    assert main(["export", str(run)]) == 1 and "exists" in capsys.readouterr().err  # never replaces a file
    images = str(phantoms / "images")
    assert main(["predict", str(run), images, "--out", str(tmp_path / "pred"), "--quiet", "--device", "cpu"]) == 0
    assert len(list((tmp_path / "pred").glob("*.png.json"))) == 8
    summary = json.loads((tmp_path / "pred" / "predict_summary.json").read_text())
    assert summary["complete"] and summary["table"] == "predictions.csv"


def test_synth_shows_progress_unless_quiet(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "a"), "--num-train", "2", "--num-val", "1", "--num-test", "0",
                 "--overlays", "0"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "writing synthetic_head" in err and "3/3" in err
    assert main(["synth", str(tmp_path / "b"), "--num-train", "2", "--num-val", "1", "--num-test", "0",
                 "--overlays", "0", "--quiet"]) == 0  # fmt: skip
    assert "writing" not in capsys.readouterr().err


def test_train_refiner_trains_the_cascade_refiner_beside_the_coarse_model(tmp_path, capsys):
    data = generate_phantom_dataset(tmp_path / "d", "head", 3, 1, 0, size=(64, 80))
    quick = ["patch_size=32", "patch_spacing_mm=1.0", "refine_epochs=1", "refiner_features=[8,8,8,8,8,8]",
             "num_workers=0", f"data_root={data}"]  # fmt: skip
    run = tmp_path / "run"
    args = ["train", str(BUNDLES / "htc_ceph"), "--synthetic", "--refiner", "--bundle_root", str(run)]
    assert main([*args, "--device", "cpu", *(x for q in quick for x in ("--set", q))]) == 0
    assert f"trained the patch refiner into {run}" in capsys.readouterr().out
    assert (run / "models" / "refiner.pt").is_file() and (run / "models" / "refiner_checkpoints" / "run.json").is_file()
    rows = (run / "eval" / "refiner" / "validation_metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1"]
    # the refiner run leaves the run folder's coarse model and configs to the coarse training
    assert not (run / "models" / "model.pt").exists() and not (run / "configs").exists()
