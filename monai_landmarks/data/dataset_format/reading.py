"""Reading a dataset folder: ``landmarks.csv`` rows grouped per image, checked, and returned as a MONAI
datalist by :func:`load_datalist`."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from monai_landmarks.data.image_reader import ImageReadError, read_image, read_image_size
from monai_landmarks.utils.coords import inside_image
from monai_landmarks.utils.keys import Keys
from monai_landmarks.utils.paths import check_safe_name

from .metadata import (
    BASE_COLUMNS,
    BORDER_TOLERANCE_PX,
    LANDMARKS_FILE,
    MEAN,
    METADATA_FILE,
    DatasetError,
    OutsideImageWarning,
    _read_text,
    _spacing_of,
    read_metadata,
)


def csv_rows(text: str, path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of CSV ``text``; a malformed row (such as a cell above the csv module's
    field size limit of 131072 characters) raises :class:`DatasetError` naming the file and line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise DatasetError(f"{path}, line {reader.line_num}: malformed CSV: {e}.") from e
        yield reader.line_num, cells


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and ``(line number, row dict)`` pairs; blank lines skipped."""
    reader = csv_rows(_read_text(path), path)
    try:
        header = [h.strip() for h in next(reader)[1]]
    except StopIteration:
        raise DatasetError(f"{path}: empty file, expected a header with columns {list(BASE_COLUMNS)}.") from None
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise DatasetError(f"{path}: duplicate column(s) {duplicates} in the header.")
    missing = [c for c in BASE_COLUMNS if c not in header]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; found {header}.")
    rows = []
    for line, cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise DatasetError(f"{path}, line {line}: {len(cells)} cells, the header has {len(header)}.")
        rows.append((line, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    return header, rows


def _annotators(header: Sequence[str]) -> list[str]:
    return [c[2:] for c in header if c.startswith("x_") and f"y_{c[2:]}" in header]


def _coordinate_columns(header: Sequence[str], ground_truth: str, path: Path) -> tuple[str, str]:
    if ground_truth == MEAN:
        return "x", "y"
    if ground_truth in _annotators(header):
        return f"x_{ground_truth}", f"y_{ground_truth}"
    options = [MEAN, *_annotators(header)]
    raise DatasetError(f"{path}: ground_truth {ground_truth!r} is not available; choose one of {options}.")


def _parse_point(row: dict, columns: tuple[str, str], where: str) -> tuple[float, float]:
    texts = [row[c] for c in columns]
    if texts[0] == "" and texts[1] == "":
        return math.nan, math.nan  # not annotated
    values = []
    for column, text in zip(columns, texts, strict=True):
        if text == "":
            raise DatasetError(f"{where}: '{column}' is empty but the other coordinate is not.")
        try:
            value = float(text)
        except ValueError:
            raise DatasetError(f"{where}: '{column}' = {text!r} is not a number.") from None
        if not math.isfinite(value):
            raise DatasetError(f"{where}: '{column}' = {text!r}; leave both x and y empty for a missing landmark.")
        values.append(value)
    return values[0], values[1]


def _parse_index(text: str, num_landmarks: int, where: str) -> int:
    try:
        index = int(text)
    except ValueError:
        raise DatasetError(f"{where}: 'landmark' = {text!r} is not an integer index.") from None
    if not 0 <= index < num_landmarks:
        raise DatasetError(f"{where}: landmark index {index} outside [0, {num_landmarks - 1}].")
    return index


def _resolve_file(root: Path, relative: str, where: str) -> Path:
    """``root / relative``, refusing absolute paths and paths that leave the dataset folder."""
    normal = os.path.normpath(relative)
    if not relative or os.path.isabs(relative) or re.match(r"^[A-Za-z]:", relative):
        raise DatasetError(f"{where}: 'file' = {relative!r} must be a path relative to the dataset folder.")
    if normal == ".." or normal.startswith(".." + os.sep):
        raise DatasetError(f"{where}: 'file' = {relative!r} points outside the dataset folder; refused.")
    return root / normal


def _group_rows(root: Path, rows, num_landmarks: int, columns: tuple[str, str], path: Path) -> dict[str, dict]:
    """Per image id: split, file, ``(K, 2)`` points; checks consistency and duplicates."""
    images: dict[str, dict] = {}
    for line, row in rows:
        where = f"{path}, line {line}"
        image_id, split = row["image_id"], row["split"]
        if not image_id or not split:
            raise DatasetError(f"{where}: 'image_id' and 'split' must not be empty.")
        check_safe_name(image_id, "'image_id'", where, DatasetError)  # ids name output files, as on writing
        check_safe_name(split, "'split'", where, DatasetError)
        index = _parse_index(row["landmark"], num_landmarks, where)
        file = _resolve_file(root, row["file"], where)
        record = images.setdefault(image_id, {"split": split, "file": file, "line": line, "points": {}, "lines": {}})
        if record["file"] != file:
            raise DatasetError(
                f"{where}: image {image_id!r} has file {row['file']!r} here but "
                f"{os.path.relpath(record['file'], root)!r} on line {record['line']}; one file per image id."
            )
        if record["split"] != split:
            raise DatasetError(
                f"{where}: image {image_id!r} is in split {split!r} here, {record['split']!r} on line {record['line']}."
            )
        if index in record["points"]:
            raise DatasetError(
                f"{where}: duplicate row for image {image_id!r}, landmark {index} "
                f"(first on line {record['lines'][index]})."
            )
        record["points"][index] = _parse_point(row, columns, where)
        record["lines"][index] = line
    for image_id, record in images.items():
        missing = sorted(set(range(num_landmarks)) - set(record["points"]))
        if missing:
            raise DatasetError(
                f"{path}: image {image_id!r} has {len(record['points'])} landmark rows, expected "
                f"num_landmarks = {num_landmarks} (missing landmark(s) {missing})."
            )
        record["points"] = np.asarray([record["points"][i] for i in range(num_landmarks)], dtype=np.float32)
    return images


def _select_splits(images: dict[str, dict], split, path: Path) -> list[str]:
    available = sorted({r["split"] for r in images.values()})
    if split is None:
        wanted = set(available)
    else:
        wanted = {split} if isinstance(split, str) else set(split)
        unknown = sorted(wanted - set(available))
        if unknown:
            raise DatasetError(f"{path}: split(s) {unknown} not in the dataset; available: {available}.")
    return sorted(i for i, r in images.items() if r["split"] in wanted)


def _check_image(image_id: str, record: dict, verify: bool, check_bounds: bool, strict_bounds: bool) -> None:
    file = record["file"]
    if not file.is_file():
        raise DatasetError(f"image {image_id!r}: file {file} not found (landmarks.csv line {record['line']}).")
    try:
        size = read_image(file, max_pixels=None)[0].shape[:2] if verify else read_image_size(file)
    except ImageReadError as e:
        raise DatasetError(f"image {image_id!r}: {e}") from e
    if not check_bounds:
        return
    where = f"image {image_id!r} ({file})"
    if strict_bounds:
        _check_inside(record["points"], size, where)
    else:
        _drop_outside(record["points"], size, where)


def _drop_outside(points: np.ndarray, size: tuple[int, int], where: str) -> None:
    """Set landmarks outside the image to NaN in place, one warning each."""
    outside = ~inside_image(points, size, BORDER_TOLERANCE_PX).numpy()
    for k in np.flatnonzero(outside):
        warnings.warn(
            f"{where}: landmark {k} at ({points[k, 0]:g}, {points[k, 1]:g}) lies outside the {size[0]} x {size[1]} "
            "image; loaded as missing (strict_bounds=True refuses such a dataset instead).",
            OutsideImageWarning,
            stacklevel=4,
        )
        points[k] = np.nan


def load_datalist(
    root,
    split: str | Sequence[str] | None = None,
    ground_truth: str = MEAN,
    domain: int = 0,
    verify_images: bool = False,
    check_bounds: bool = True,
    num_landmarks: int | None = None,
    strict_bounds: bool = False,
) -> list[dict]:
    """Validate a dataset folder and return a MONAI datalist, one dict per image sorted by image id.

    Each item: ``{Keys.IMAGE: absolute path, Keys.LANDMARKS: float32 (1, K, 2) with NaN for missing,
    Keys.SPACING: float64 (2,) mm per pixel (NaN when unknown), Keys.SPLIT, Keys.DOMAIN, Keys.IMAGE_ID}``.

    Args:
        root: dataset folder.
        split: None for all splits, a split name, or a sequence of names.
        ground_truth: ``"mean"`` reads ``x, y``; an annotator name (``"senior"``) reads ``x_<name>, y_<name>``.
        domain: integer domain index stored in every item (GU2Net's universal model).
        verify_images: also decode every selected image (slow) to catch truncated or corrupt files.
        check_bounds: check that every landmark lies inside its image (size from the image header); one
            outside is loaded as missing with an :class:`OutsideImageWarning`.
        num_landmarks: the ``K`` the caller's model predicts (a bundle's ``num_landmarks``); a dataset with
            another count raises here instead of as a shape error deep inside the loss. None skips the check.
        strict_bounds: refuse a landmark outside its image instead of loading it as missing.

    Raises:
        DatasetError: any violation of the format (see the module docstring).
    """
    root = Path(root).absolute()
    if isinstance(domain, bool) or not isinstance(domain, (int, np.integer)) or domain < 0:
        raise DatasetError(f"domain must be a non-negative integer, got {domain!r}.")
    meta = read_metadata(root)
    if num_landmarks is not None and meta["num_landmarks"] != num_landmarks:
        raise DatasetError(
            f"{root / METADATA_FILE}: the dataset has num_landmarks = {meta['num_landmarks']}, the model expects "
            f"{num_landmarks}; use a dataset of the same landmarks or set the bundle's num_landmarks to match."
        )
    path = root / LANDMARKS_FILE
    header, rows = _read_csv(path)
    columns = _coordinate_columns(header, ground_truth, path)
    images = _group_rows(root, rows, meta["num_landmarks"], columns, path)
    if not images:
        raise DatasetError(f"{path}: no landmark rows.")
    items = []
    for image_id in _select_splits(images, split, path):
        record = images[image_id]
        _check_image(image_id, record, verify_images, check_bounds, strict_bounds)
        spacing = _spacing_of(meta["pixel_spacing_mm"], image_id, f"{root / METADATA_FILE}")
        items.append(
            {
                Keys.IMAGE: str(record["file"]),
                Keys.LANDMARKS: record["points"][None],
                Keys.SPACING: spacing,
                Keys.SPLIT: record["split"],
                Keys.DOMAIN: int(domain),
                Keys.IMAGE_ID: image_id,
            }
        )
    return items


def _check_inside(points: np.ndarray, size: tuple[int, int], where: str) -> None:
    """Refuse a landmark outside its image (beyond :data:`BORDER_TOLERANCE_PX`)."""
    outside = ~inside_image(points, size, BORDER_TOLERANCE_PX).numpy()
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise DatasetError(
            f"{where}: landmark {k} at ({points[k, 0]:g}, {points[k, 1]:g}) lies outside the "
            f"{size[0]} x {size[1]} image."
        )
