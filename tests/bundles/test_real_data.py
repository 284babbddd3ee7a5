"""Every cephalometric bundle's train, evaluate and inference commands on the real ISBI 2015 folder.

A pipeline check, not an accuracy run: a few images at a small input size, one epoch. It proves that the real
data's layout, spacing (mm protocol), landmark names and original-image coordinates flow through each bundle.
Skipped where ``../shared/datasets`` is absent.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import dataset_path  # tests/conftest.py: skips when the shared datasets are absent
from monai.bundle.scripts import run

ROOT = Path(__file__).resolve().parents[2]
# small overrides per bundle: the real profile's network at a fraction of its size, 64 x 80 input
SMALL = {"htc_ceph": {"width_multiplier": 0.25}, "gu2net_ceph": {"channels": [8, 16, 16, 32, 32]}}


def _configs(name, *files):
    paths = [str(ROOT / "bundles" / name / "configs" / f) for f in files]
    return paths[0] if len(paths) == 1 else paths


@pytest.mark.datasets
@pytest.mark.parametrize("name", SMALL)
def test_isbi2015_train_evaluate_infer(name, tmp_path):
    isbi = dataset_path("isbi2015_ceph")
    root = tmp_path / "run"
    few = "$[d[:4] for d in monai_landmarks.data.datalists.training_datalists(@data_root, num_val=@num_val)]"
    common = {"bundle_root": str(root), "dataset_dir": str(isbi), "image_size": [64, 80], "num_workers": 0,
              "datalists": few, **SMALL[name]}  # fmt: skip
    run("training", config_file=_configs(name, "train.json"), max_epochs=1, val_interval=1, **common)
    report = json.loads((root / "eval" / "validation" / "metrics.json").read_text())
    assert report["protocol"]["unit"] == "mm" and report["num_images"] == 4
    assert "sella" in {k.lower() for k in report["per_landmark"]}

    test_few = "$monai_landmarks.data.load_datalist(@data_root, split=@eval_split)[:3]"
    run("evaluating", config_file=_configs(name, "train.json", "evaluate.json"), **common,
        **{"validate#dataset#data": test_few})  # fmt: skip
    assert json.loads((root / "eval" / "test1" / "metrics.json").read_text())["num_images"] == 3

    # the run folder's own inference config has the trained size and width
    image = str(isbi / "images" / "151.png")
    run("run", config_file=str(root / "configs" / "inference.json"), input_files=[image],
        output_dir=str(root / "pred"), pixel_spacing_mm=0.2)  # fmt: skip
    record = json.loads((root / "pred" / "151.png.json").read_text())
    xy = np.array([[p["x"], p["y"]] for p in record["landmarks"]])
    assert xy.shape == (19, 2) and (xy >= -0.5).all() and (xy[:, 0] <= 966.5).all() and (xy[:, 1] <= 1199.5).all()
    assert record["landmarks"][0]["x_mm"] == pytest.approx(0.2 * xy[0, 0])
