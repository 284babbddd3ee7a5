import json
import subprocess
import sys

import pytest

from monai_landmarks.cli import main


def test_help_explains_each_command(capsys):
    for command in ("synth", "convert", "predict"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert "usage: monai-landmarks " + command in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["synth"])
    assert exit_.value.code == 2


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


def test_synth_shows_progress_unless_quiet(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "a"), "--num-train", "2", "--num-val", "1", "--num-test", "0",
                 "--overlays", "0"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "writing synthetic_head" in err and "3/3" in err
    assert main(["synth", str(tmp_path / "b"), "--num-train", "2", "--num-val", "1", "--num-test", "0",
                 "--overlays", "0", "--quiet"]) == 0  # fmt: skip
    assert "writing" not in capsys.readouterr().err
