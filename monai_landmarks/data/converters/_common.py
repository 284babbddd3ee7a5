"""Helpers shared by the converters: downsampling, split assignment, finding and loading images."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from monai_landmarks.data.dataset_format import DatasetError
from monai_landmarks.data.image_reader import ImageReadError, read_image, read_image_size
from monai_landmarks.utils.coords import rescale

__all__ = [
    "ON_MISSING",
    "assign_splits",
    "check_choice",
    "check_factor",
    "downsample_image",
    "find_image",
    "load_scaled",
    "image_sizes",
    "natural_key",
    "parse_float",
    "scale_points",
    "split_by_order",
]

ON_MISSING = ("error", "skip")


def check_choice(name: str, value, options: Sequence) -> None:
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}.")


def check_factor(factor) -> int:
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"downsample must be a positive integer factor, got {factor!r}.")
    return int(factor)


def downsample_image(array: np.ndarray, factor: int) -> np.ndarray:
    """``f x f`` box mean of a ``(W, H)`` image; trailing columns/rows that do not fill a block are dropped.

    Integer images are rounded back to their type, so an 8-bit image stays 8-bit.
    """
    factor = check_factor(factor)
    if factor == 1:
        return array
    w, h = (n // factor for n in array.shape[:2])
    if w == 0 or h == 0:
        raise ValueError(f"image of size {array.shape[:2]} is smaller than the downsample factor {factor}.")
    blocks = array[: w * factor, : h * factor].reshape(w, factor, h, factor).astype(np.float64)
    mean = blocks.mean(axis=(1, 3))
    if np.issubdtype(array.dtype, np.integer):
        return np.rint(mean).astype(array.dtype)
    return mean.astype(array.dtype)


def scale_points(points, factor: int) -> np.ndarray:
    """Pixel-centre coordinates of the source image -> the image downsampled by ``factor``."""
    return rescale(np.asarray(points, dtype=np.float64), 1.0 / check_factor(factor)).numpy()


def load_scaled(path: Path, factor: int):
    """``(image, original (W, H))``: the path itself when ``factor == 1`` (write_dataset copies or converts it),
    otherwise the downsampled ``(W, H)`` array."""
    try:
        if factor == 1:
            return path, read_image_size(path)
        array, header = read_image(path)
    except ImageReadError as e:
        raise DatasetError(str(e)) from e
    return downsample_image(array, factor), header.size


def image_sizes(paths: Mapping[str, Path]) -> dict[str, list[int]] | list[int]:
    """Header sizes ``(W, H)`` per image id, or one ``[W, H]`` when all are equal (as ``stored_size_wh``)."""
    try:
        sizes = {image_id: list(read_image_size(path)) for image_id, path in paths.items()}
    except ImageReadError as e:
        raise DatasetError(str(e)) from e
    unique = {tuple(s) for s in sizes.values()}
    return list(unique.pop()) if len(unique) == 1 else sizes


def natural_key(text: str):
    """Sort key that orders ``l2`` before ``l10``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t]


def split_by_order(ids: Iterable[str], sizes: Mapping[str, int | None]) -> dict[str, str]:
    """Assign sorted ``ids`` to consecutive splits, e.g. GU2Net's chest split
    ``{"train": 195, "val": 34, "test": None}`` (None, last only: all the rest).

    Raises:
        ValueError: a size that is negative or None before the last split, or more ids requested than given.
    """
    ids, names = sorted(ids), list(sizes)
    out, start = {}, 0
    for i, name in enumerate(names):
        n = sizes[name]
        if n is None and i != len(names) - 1:
            raise ValueError(f"split {name!r}: only the last split may take 'the rest' (None).")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"split {name!r}: size must be a non-negative integer or None, got {n!r}.")
        stop = len(ids) if n is None else start + n
        if stop > len(ids):
            raise ValueError(f"splits {dict(sizes)} need {stop} images, only {len(ids)} given.")
        out.update({image_id: name for image_id in ids[start:stop]})
        start = stop
    return out


def assign_splits(ids: Sequence[str], splits: Mapping[str, str] | None, default: str = "train") -> dict[str, str]:
    """Split name per id: ``splits[id]`` where given, else ``default``."""
    splits = splits or {}
    return {i: splits.get(i, default) for i in ids}


def find_image(folder: Path, stem: str, suffixes: Sequence[str]) -> Path | None:
    """The first ``folder/<stem><suffix>`` that exists (suffixes tried in order, any letter case)."""
    for suffix in suffixes:
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def parse_float(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(f"{where}: {text.strip()!r} is not a number.") from None
    if not np.isfinite(value):
        raise DatasetError(f"{where}: {text.strip()!r} is not a finite number.")
    return value
