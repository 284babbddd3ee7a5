import json

import pytest

from monai_landmarks.data import (
    DatasetError,
    dataset_folder,
    error_protocol,
    image_datalist,
    image_files,
    resolve_dataset,
    training_datalists,
)
from monai_landmarks.data.synthetic import GENERATOR_VERSION
from monai_landmarks.metrics import ErrorProtocol


def test_resolve_generates_once_and_redraws_other_versions(tmp_path):
    root = resolve_dataset(None, "hand", tmp_path, num_train=3, num_val=1, num_test=1, size=(64, 80))
    assert error_protocol(root).unit == "wrist"
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
    assert error_protocol(root) == ErrorProtocol("mm")
    with pytest.raises(DatasetError, match="cannot hold out"):
        training_datalists(root, val_split="none", num_val=4)


def test_dataset_folder_unset_says_how_to_use_phantoms(tmp_path):
    for unset in (None, ""):
        with pytest.raises(DatasetError, match="dataset_dir is not set.*synthetic.json"):
            dataset_folder(unset)
    with pytest.raises(DatasetError, match=f"{tmp_path}: not a landmark dataset folder"):
        dataset_folder(tmp_path)


def test_wrist_protocol_takes_the_dataset_width(tmp_path):
    root = resolve_dataset(None, "hand", tmp_path, num_train=3, num_val=1, num_test=1, size=(64, 80))
    meta = json.loads((root / "dataset.json").read_text())
    meta["wrist_normalisation"] = {"pair": [1, 5], "width_mm": 40.0}
    (root / "dataset.json").write_text(json.dumps(meta))
    assert error_protocol(root) == ErrorProtocol("wrist", wrist_pair=(1, 5), wrist_width_mm=40.0)


def test_image_files_of_an_inference_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'missing'}: no such image file or folder"):
        image_files(tmp_path / "missing")
    (tmp_path / ".hidden.png").write_bytes(b"")
    with pytest.raises(ValueError, match=f"{tmp_path}: no image files found"):
        image_files(tmp_path)
    (tmp_path / "b.png").write_bytes(b"")
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    files = image_files(tmp_path)
    assert files == [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    assert image_datalist(files) == [{"image": files[0]}, {"image": files[1]}]
    with pytest.raises(ValueError, match="no input images"):
        image_datalist([])


def test_domain_helpers(tmp_path):
    from monai_landmarks.data import (
        domain_folders,
        domain_indices,
        domain_landmark_counts,
        domain_protocols,
        resolve_domains,
    )

    roots = resolve_domains(None, kinds=("head", "hand"), cache_dir=tmp_path, num_train=2, num_val=1, num_test=1,
                            size=(64, 80))  # fmt: skip
    assert domain_landmark_counts(roots) == [19, 37]
    assert [p.unit for p in domain_protocols(roots, [None, (0, 4)])] == ["mm", "wrist"]
    assert domain_folders([str(r) for r in roots]) == roots
    assert domain_indices([{"domain": 1}, {}]) == [1, 0]
    with pytest.raises(DatasetError, match="dataset_dirs is not set.*synthetic.json"):
        domain_folders(None)
