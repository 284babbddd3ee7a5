"""The dataset format's names and limits, its errors, and ``dataset.json``: reading and checking it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from monai_landmarks.utils.spacing import Spacing

METADATA_FILE = "dataset.json"
MANIFEST = ".written_by_write_dataset"  #: the files write_dataset made in a folder (what overwrite may replace)
LANDMARKS_FILE = "landmarks.csv"
IMAGES_DIR = "images"
IMAGE_FORMATS = {"png": ".png", "jpeg": ".jpg"}  # what write_dataset stores, and the file suffix
JPEG_QUALITY = 95
BASE_COLUMNS = ("image_id", "split", "file", "landmark", "x", "y")
MEAN = "mean"  #: ground truth from the ``x, y`` columns
COORDINATE_CONVENTION = "0-based pixel-centre coordinates of the stored PNG (x = column, y = row)"
_ANNOTATOR = re.compile(r"^[A-Za-z0-9]+$")
MAX_LANDMARKS = 10_000  #: a bound on ``num_landmarks`` checked before anything of that size is allocated
BORDER_TOLERANCE_PX = 0.5  #: how far past the image edge a landmark still counts as inside (pixels)


class DatasetError(ValueError):
    """A dataset folder, file or sample does not follow the format; the message names where and what."""


class OutsideImageWarning(UserWarning):
    """A landmark of a dataset lies outside its image and was loaded as missing."""


def _check_spacing_value(value, where: str) -> None:
    try:
        Spacing.of(value, "dataset", where)
    except ValueError as e:
        raise DatasetError(str(e)) from None


def _check_spacing(spacing, where: str) -> None:
    """None (unknown), a number, ``[sx, sy]``, or a mapping ``image_id -> number or pair``."""
    if spacing is None:
        return
    if isinstance(spacing, Mapping):
        for image_id, value in spacing.items():
            _check_spacing_value(value, f"{where} (image {image_id})")
        return
    _check_spacing_value(spacing, where)


def _spacing_of(spacing, image_id: str, where: str) -> np.ndarray:
    if isinstance(spacing, Mapping):
        if image_id not in spacing:
            raise DatasetError(f"{where}: pixel_spacing_mm has no entry for image {image_id!r}.")
        spacing = spacing[image_id]
    # float64: float32 turns 0.2 into 0.20000000298, and an error of exactly 10 px then misses SDR@2mm
    if spacing is None:
        return np.full(2, np.nan, dtype=np.float64)
    return np.broadcast_to(np.asarray(spacing, dtype=np.float64), (2,)).copy()


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise DatasetError(
            f"{path}: file not found; a dataset folder holds {METADATA_FILE}, {LANDMARKS_FILE}, images/."
        )
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DatasetError(
            f"{path}: not UTF-8 text (invalid byte at offset {e.start}); save it as UTF-8 (a BOM is fine)."
        ) from e
    except OSError as e:
        raise DatasetError(f"{path}: cannot read: {e.strerror}.") from e


def read_metadata(root) -> dict:
    """Load and validate ``<root>/dataset.json``.

    Required: ``name`` (non-empty string), ``num_landmarks`` (positive integer). Optional:
    ``pixel_spacing_mm`` (null/absent = unknown, a number, ``[sx, sy]`` or a per-image mapping),
    ``landmark_names`` (null or ``num_landmarks`` strings). Absent optional keys are returned as None.

    Raises:
        DatasetError: missing or invalid file or key.
    """
    path = Path(root) / METADATA_FILE
    try:
        meta = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}.") from e
    except RecursionError as e:
        raise DatasetError(f"{path}: JSON nested too deeply to be dataset metadata.") from e
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: expected a JSON object, got {type(meta).__name__}.")
    missing = [k for k in ("name", "num_landmarks") if k not in meta]
    if missing:
        raise DatasetError(f"{path}: missing required key(s) {missing}.")
    if not isinstance(meta["name"], str) or not meta["name"]:
        raise DatasetError(f"{path}: 'name' must be a non-empty string, got {meta['name']!r}.")
    k = meta["num_landmarks"]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_LANDMARKS:
        raise DatasetError(f"{path}: 'num_landmarks' must be a positive integer up to {MAX_LANDMARKS}, got {k!r}.")
    meta.setdefault("pixel_spacing_mm", None)
    meta.setdefault("landmark_names", None)
    _check_spacing(meta["pixel_spacing_mm"], f"{path}: 'pixel_spacing_mm'")
    names = meta["landmark_names"]
    if names is not None and (
        not isinstance(names, list) or len(names) != k or not all(isinstance(n, str) for n in names)
    ):
        raise DatasetError(f"{path}: 'landmark_names' must be null or a list of {k} strings, got {names!r}.")
    return meta
