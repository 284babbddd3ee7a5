"""Where a dataset is written: the checks on the target folder, the manifest of the files a write made there,
and the move that puts a finished dataset in place, replacing only those files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from monai_landmarks.utils.paths import check_output_folder, is_safe_name

from .metadata import IMAGES_DIR, LANDMARKS_FILE, MANIFEST, METADATA_FILE, DatasetError, read_metadata


def _written_before(root: Path) -> set[str]:
    """The files an earlier :func:`write_dataset` made in ``root``: those its manifest lists, or for a folder
    written before the manifest existed, ``dataset.json``, ``landmarks.csv`` and ``images/<id>.png`` of the
    image ids ``dataset.json`` lists."""
    manifest = root / MANIFEST
    if manifest.is_file():
        names = manifest.read_text(encoding="utf-8", errors="replace").splitlines()
    else:
        names = [
            METADATA_FILE,
            LANDMARKS_FILE,
            *(f"{IMAGES_DIR}/{i}.png" for i in read_metadata(root).get("image_ids") or []),
        ]
    return {name for name in names if _is_dataset_file(name)}  # an edited manifest cannot name other files


def _is_dataset_file(name: str) -> bool:
    """A name write_dataset writes: its metadata, table, manifest, or ``images/<safe id>.png``."""
    if name in (METADATA_FILE, LANDMARKS_FILE, MANIFEST):
        return True
    folder, _, file = name.partition("/")
    return folder == IMAGES_DIR and file.endswith(".png") and is_safe_name(file[: -len(".png")])


def _check_target(root: Path, overwrite: bool, inputs: Iterable = ()) -> set[str]:
    """Refuse a target that is, holds or lies inside an input, or a non-empty folder that is not an earlier
    dataset (or not to be overwritten). Returns the files an earlier write made there (replaceable)."""
    try:
        check_output_folder(root, inputs, containing=True, label="dataset folder")
    except ValueError as e:
        raise DatasetError(str(e)) from None
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root}: exists and is not a folder.")
    if not (root.is_dir() and any(root.iterdir())):
        return set()
    if not overwrite:
        raise DatasetError(f"{root}: folder exists and is not empty; pass overwrite=True to replace it.")
    if not (root / METADATA_FILE).is_file():  # never touch a folder that is not a dataset
        raise DatasetError(f"{root}: overwrite=True only replaces a dataset folder, and it has no {METADATA_FILE}.")
    return _written_before(root)


def _relative_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


def _move_into_place(tmp: Path, root: Path, owned: set[str]) -> None:
    """Move the new dataset from ``tmp`` into ``root``, replacing only the files an earlier write made there.

    Any other file in ``root`` is kept; one that a new file would replace stops the move before it starts.
    """
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()
    if not root.exists():
        os.replace(tmp, root)
        return
    new = _relative_files(tmp)
    foreign = [name for name in new if (root / name).exists() and name not in owned]
    if foreign or (root / IMAGES_DIR).is_file():
        clash = root / (foreign[0] if foreign else IMAGES_DIR)
        raise DatasetError(
            f"{clash}: exists and was not written by an earlier dataset write here; overwrite would replace it. "
            "Move it away or write the dataset into another folder."
        )
    _write_manifest(root, owned | set(new))  # first: files of a move cut short are still known as the writer's
    for name in sorted(owned - set(new)):
        if (root / name).is_file():
            (root / name).unlink()
    (root / IMAGES_DIR).mkdir(exist_ok=True)
    for name in sorted(new, key=lambda n: n == METADATA_FILE):  # dataset.json last
        os.replace(tmp / name, root / name)
    _write_manifest(root, set(new) | {MANIFEST})
    shutil.rmtree(tmp, ignore_errors=True)


def _write_manifest(root: Path, names: set[str]) -> None:
    (root / MANIFEST).write_text("\n".join(sorted(names | {MANIFEST})) + "\n", encoding="utf-8")
