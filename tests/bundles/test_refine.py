"""The refinement override of the ceph bundles: a refiner trained a few epochs on phantoms beats its coarse input."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.bundle.scripts import run
from monai.transforms import Compose

from monai_landmarks.engines import read_refiner
from monai_landmarks.transforms import patch_to_image

ROOT = Path(__file__).resolve().parents[2]
QUICK = {"patch_size": 32, "patch_spacing_mm": 1.0, "jitter_mm": 3.0, "refine_epochs": 3,
         "refiner_features": [8, 8, 16, 16, 16, 8], "num_workers": 0}  # fmt: skip


def _configs(name):
    return [str(ROOT / "bundles" / name / "configs" / f) for f in ("train.json", "synthetic.json", "refine.json")]


def _start_error(parser) -> float:
    """MRE (mm) of the validation patches' centres: the coarse input the refiner starts from."""
    items = parser.get_parsed_content("validate#dataset#data")
    prep = Compose(parser.get_parsed_content("validate#preprocessing").transforms)
    errors = []
    for item in items:
        sample = prep(dict(item))
        centre = torch.full((1, sample["image"].shape[0], 2), (sample["image"].shape[-1] - 1) / 2, dtype=torch.float64)
        start = patch_to_image(centre, sample["patch_matrix"])
        errors.append((start - torch.as_tensor(item["landmarks"])).norm(dim=-1) * float(item["spacing"][0]))
    return float(torch.cat(errors).nanmean())


@pytest.mark.parametrize("name", ["htc_ceph", "gu2net_ceph"])
def test_the_shipped_refiner_is_what_refine_json_trains(name, tmp_path):
    """The refiner file records the spec of configs/refine.json (the one place its settings are written)."""
    parser = ConfigParser()
    parser.read_config(_configs(name))
    parser.update({"bundle_root": str(tmp_path)})
    spec = parser.get_parsed_content("refiner_spec")
    assert read_refiner(ROOT / "bundles" / name / "models" / "refiner.pt").spec == spec
    assert parser.get_parsed_content("validate#best_model").writer == spec.save


@pytest.mark.parametrize("name", ["htc_ceph", "gu2net_ceph"])
def test_refiner_beats_its_coarse_input(name, tmp_path):
    files = _configs(name)
    run("training", config_file=files, bundle_root=str(tmp_path), **QUICK)
    assert (tmp_path / "models" / "refiner.pt").is_file()
    assert (tmp_path / "models" / "refiner_checkpoints").is_dir()
    with open(tmp_path / "eval" / "refiner" / "validation_metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    parser = ConfigParser()
    parser.read_config(files)
    parser.update({"bundle_root": str(tmp_path), **QUICK})
    start = _start_error(parser)
    best = min(float(r["val_mre"]) for r in rows)
    assert np.isfinite(start) and start > 2.0  # the jitter really moves the patches (3 mm per axis)
    assert best < 0.8 * start, (best, start)
