"""gu2net_spine and gu2net_chest on their phantoms, through the command line: the synthetic profile trains,
evaluates and predicts; spine images are JPEG files of varied sizes, and what comes back is in each image's own
pixels."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from monai.bundle import ConfigParser

import monai_landmarks.data.datalists as datalists
from monai_landmarks.cli import main
from monai_landmarks.data import generate_phantom_dataset, load_datalist, read_metadata

ROOT = Path(__file__).resolve().parents[2]
# bundle -> (phantom kind, landmarks, unit, phantom size, tiny network input)
ANATOMIES = {
    "gu2net_spine": ("spine", 68, "px", (48, 130), [32, 96]),
    "gu2net_chest": ("chest", 166, "mm", (64, 64), [48, 48]),
}
TINY_NET = ["--set", "channels=[8,8,16,16,16]", "--set", "global_channels=8", "--set", "num_workers=0"]


@pytest.mark.parametrize("name", ANATOMIES)
def test_synthetic_profile_draws_the_bundles_phantoms(name, tmp_path, monkeypatch):
    """configs/synthetic.json asks phantom_dataset for this anatomy, cached in the run folder's data/."""
    kind = ANATOMIES[name][0]
    calls = []
    monkeypatch.setattr(datalists, "phantom_dataset", lambda *a, **k: calls.append((a, k)) or tmp_path)
    parser = ConfigParser()
    parser.read_config([str(ROOT / "bundles" / name / "configs" / f) for f in ("train.json", "synthetic.json")])
    parser["bundle_root"] = str(tmp_path)
    assert parser.get_parsed_content("data_root") == tmp_path
    ((args, options),) = calls
    assert args == (kind,) and options["cache_dir"] == f"{tmp_path}/data"
    assert parser.get_parsed_content("eval_split") == "test" and parser.get_parsed_content("val_interval") == 1
    train = json.loads((ROOT / "bundles" / name / "configs" / "train.json").read_text())
    assert parser.get_parsed_content("num_landmarks") == train["num_landmarks"] == ANATOMIES[name][1]


def _per_image(report: Path) -> dict:
    with open(report / "per_image.csv", newline="") as f:
        return {row["image_id"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("name", ANATOMIES)
def test_train_evaluate_predict_in_each_images_own_pixels(name, tmp_path, capsys):
    kind, count, unit, size, image_size = ANATOMIES[name]
    phantoms = generate_phantom_dataset(tmp_path / kind, kind, 4, 1, 2, size=size, seed=1)
    run = tmp_path / "run"
    tiny = ["--set", f"image_size={image_size}", "--set", "max_epochs=1", "--set", f"data_root={phantoms}",
            *TINY_NET, "--device", "cpu", "--bundle_root", str(run)]  # fmt: skip
    assert main(["train", str(ROOT / "bundles" / name), "--synthetic", *tiny]) == 0, capsys.readouterr().err
    assert (run / "models" / "model.pt").is_file()
    assert main(["evaluate", str(run)]) == 0, capsys.readouterr().err
    report = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    assert report["num_images"] == 2 and report["protocol"]["unit"] == unit and len(report["per_landmark"]) == count

    tests = load_datalist(phantoms, split="test")
    rows = _per_image(run / "eval" / "test")
    spacing = read_metadata(phantoms).get("pixel_spacing_mm") or 1.0
    for item in tests:  # the reported errors are those of the predictions against the stored truth
        row, truth = rows[item["image_id"]], np.asarray(item["landmarks"])[0]
        pred = np.array([[float(row[f"x_{k}"]), float(row[f"y_{k}"])] for k in range(count)])
        errors = np.array([float(row[f"error_{k}"]) for k in range(count)])
        assert np.allclose(np.linalg.norm(pred - truth, axis=1) * spacing, errors, atol=1e-2)

    out = tmp_path / "pred"
    files = [item["image"] for item in tests]
    assert main(["predict", str(run), *files, "--out", str(out), "--quiet", "--device", "cpu"]) == 0
    for item in tests:  # predict and evaluate agree: both map back to the image's own pixels
        record = json.loads((out / f"{Path(item['image']).name}.json").read_text())
        assert len(record["landmarks"]) == count
        pred = np.array([[p["x"], p["y"]] for p in record["landmarks"]])
        row = rows[item["image_id"]]
        assert np.allclose(pred, [[float(row[f"x_{k}"]), float(row[f"y_{k}"])] for k in range(count)], atol=0.05)
    if kind == "spine":  # JPEG files, and a different size for each image
        from PIL import Image

        sizes = set()
        for item in tests:
            with Image.open(item["image"]) as img:
                assert img.format == "JPEG"
                sizes.add(img.size)
        assert len(sizes) == len(tests)
