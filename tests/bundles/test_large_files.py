"""Weights checked against the bundle's large_files.yml before use, and the file that ran named by path and sha256
(issue 22): the checks run once per version of a file, and a file no listing names is used and still reported."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from monai_landmarks.bundle.large_files import _sha256, file_sha256, listed_entry, verify_weights_file
from monai_landmarks.handlers.weights_loader import check_weights, load_weights

ROOT = Path(__file__).resolve().parents[2]


def _bundle(tmp_path: Path, size: bool = True) -> Path:
    """A bundle folder with a small weights file listed in its large_files.yml."""
    bundle = tmp_path / "b"
    (bundle / "models").mkdir(parents=True)
    torch.save(torch.nn.Linear(3, 2).state_dict(), weights := bundle / "models" / "model.pt")
    entry = {"path": "models/model.pt", "url": "", "hash_type": "sha256",
             "hash_val": hashlib.sha256(weights.read_bytes()).hexdigest()}  # fmt: skip
    if size:
        entry["size"] = weights.stat().st_size
    (bundle / "large_files.yml").write_text(yaml.safe_dump({"large_files": [entry]}))
    return bundle


def _flip_a_byte(path: Path, offset: int = -40) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_listed_file_that_matches_is_reported_with_its_listing(tmp_path):
    bundle = _bundle(tmp_path)
    info = verify_weights_file(bundle / "models" / "model.pt")
    assert info["sha256"] == hashlib.sha256((bundle / "models" / "model.pt").read_bytes()).hexdigest()
    assert info["listed_in"] == str((bundle / "large_files.yml").resolve())


def test_flipped_bytes_are_refused_naming_the_file_and_both_hashes(tmp_path):
    bundle = _bundle(tmp_path)
    weights = bundle / "models" / "model.pt"
    expected = verify_weights_file(weights)["sha256"]
    _flip_a_byte(weights)
    found = hashlib.sha256(weights.read_bytes()).hexdigest()
    problem = rf"model.pt: sha256 {found} does not match .*large_files.yml \(expected {expected}\)"
    with pytest.raises(ValueError, match=problem):
        check_weights(weights, torch.nn.Linear(3, 2))


def test_a_size_that_differs_is_refused_before_hashing(tmp_path):
    bundle = _bundle(tmp_path)
    weights = bundle / "models" / "model.pt"
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(ValueError, match=r"model.pt: \d+ bytes, but .*large_files.yml lists \d+"):
        load_weights(weights, torch.nn.Linear(3, 2))


def test_an_unlisted_file_is_used_and_reported(tmp_path):
    bundle = _bundle(tmp_path)
    other = bundle / "models" / "other.pt"
    shutil.copyfile(bundle / "models" / "model.pt", other)
    _flip_a_byte(bundle / "models" / "model.pt")  # the listed file's damage does not concern this one
    assert listed_entry(other) is None
    info = load_weights(other, torch.nn.Linear(3, 2))
    assert info["listed_in"] is None and len(info["sha256"]) == 64


def test_the_hash_is_computed_once_per_version_of_a_file(tmp_path):
    weights = _bundle(tmp_path, size=False) / "models" / "model.pt"
    _sha256.cache_clear()
    load_weights(weights, torch.nn.Linear(3, 2))
    verify_weights_file(weights)
    assert _sha256.cache_info().misses == 1
    torch.save(torch.nn.Linear(3, 2).state_dict(), weights)  # a new version is hashed again, and refused
    with pytest.raises(ValueError, match="does not match"):
        verify_weights_file(weights)
    assert _sha256.cache_info().misses == 2 and file_sha256(weights) == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_an_unreadable_listing_is_named(tmp_path):
    bundle = _bundle(tmp_path)
    (bundle / "large_files.yml").write_text("large_files: {not: [a list")
    with pytest.raises(ValueError, match=r"large_files.yml: unreadable large_files.yml"):
        verify_weights_file(bundle / "models" / "model.pt")


@pytest.mark.parametrize("name", ["htc_ceph", "gu2net_ceph"])
def test_shipped_weights_match_their_listing(name):
    for file in ("model.pt", "refiner.pt"):
        info = verify_weights_file(ROOT / "bundles" / name / "models" / file)
        assert info["listed_in"].endswith(f"{name}/large_files.yml")
