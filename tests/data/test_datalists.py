import json

import pytest

from monai_landmarks.data import DatasetError, error_protocol, resolve_dataset, training_datalists
from monai_landmarks.data.synthetic import GENERATOR_VERSION


def test_resolve_generates_once_and_redraws_other_versions(tmp_path):
    root = resolve_dataset(None, "hand", tmp_path, num_train=3, num_val=1, num_test=1, size=(64, 80))
    assert error_protocol(root)["unit"] == "wrist"
    stamp = (root / "dataset.json").stat().st_mtime_ns
    assert resolve_dataset("", "hand", tmp_path, 3, 1, 1, size=(64, 80)) == root
    assert (root / "dataset.json").stat().st_mtime_ns == stamp  # reused
    meta = json.loads((root / "dataset.json").read_text())
    meta["generator_version"] = GENERATOR_VERSION - 1
    (root / "dataset.json").write_text(json.dumps(meta))
    resolve_dataset(None, "hand", tmp_path, 3, 1, 1, size=(64, 80))
    assert json.loads((root / "dataset.json").read_text())["generator_version"] == GENERATOR_VERSION


def test_resolve_refuses_a_folder_without_dataset_json(tmp_path):
    with pytest.raises(DatasetError, match="no dataset.json"):
        resolve_dataset(tmp_path, "head")


def test_validation_split_or_hold_out(tmp_path):
    root = resolve_dataset(None, "head", tmp_path, num_train=4, num_val=2, num_test=1, size=(64, 80))
    train, val = training_datalists(root)
    assert len(train) == 4 and {v["split"] for v in val} == {"val"}
    train, held = training_datalists(root, val_split="none", num_val=1)
    assert len(train) == 3 and held[0]["image_id"] > train[-1]["image_id"]
    assert error_protocol(root) == {"unit": "mm"}
    with pytest.raises(DatasetError, match="cannot hold out"):
        training_datalists(root, val_split="none", num_val=4)
