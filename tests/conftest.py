"""Shared test settings: where the real datasets live (optional) and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATASETS = Path(
    os.environ.get("MONAI_LANDMARKS_DATASETS", Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets")
)


def dataset_path(name: str) -> Path:
    """The folder of a shared dataset, or skip the test when it is not on this machine."""
    path = DATASETS / name
    if not (path / "dataset.json").is_file():
        pytest.skip(f"dataset {name!r} not found under {DATASETS} (set MONAI_LANDMARKS_DATASETS)")
    return path


def linked_images(items, folder: Path) -> Path:
    """``folder`` holding a link to each datalist item's image (an image folder for ``predict``)."""
    folder.mkdir()
    for item in items:
        (folder / Path(item["image"]).name).symlink_to(item["image"])
    return folder
