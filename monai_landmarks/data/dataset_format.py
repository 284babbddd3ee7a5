"""The on-disk landmark dataset format of ``../shared/datasets``: read, validate, write.

A dataset is a folder::

    <root>/images/<image_id>.png    (or .jpg: write_dataset(image_format="jpeg"); readers take any image file)
    <root>/landmarks.csv      one row per (image, landmark): image_id, split, file, landmark, x, y[, x_<a>, y_<a> ...]
    <root>/dataset.json       name, num_landmarks, landmark_names, pixel_spacing_mm, ...

Coordinates are 0-based pixel-centre ``(x, y)`` of the stored image (``monai_landmarks.utils.coords``). An
empty ``x, y`` pair is a missing landmark (NaN); any other non-number is an error.

Checks (each raises :class:`DatasetError` naming the file, the line or image and the problem): metadata
keys and types, UTF-8 text (a BOM is accepted), required columns, numeric coordinates, landmark indices and
counts, duplicate rows, one file and one split per image id, ``file`` paths that stay inside the folder,
image files that exist and have a readable header, positive spacing. The image size for the bounds check comes
from each image's own header (``stored_size_wh`` in ``dataset.json`` is informational and may be a per-image
mapping).

Landmarks outside their image: a point within half a pixel of the image's outer edge
(:data:`BORDER_TOLERANCE_PX`) counts as inside, since annotation tools click on pixel edges. A point further out
is loaded as missing (NaN) with one :class:`OutsideImageWarning` naming the image, the landmark and where it
lies, so one stray click does not block a dataset; ``strict_bounds=True`` refuses it instead. The writer always
refuses it. ``verify_images=True`` also decodes every image to catch
truncated or corrupt files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from monai_landmarks.data.image_reader import ImageReadError, read_image, read_image_size
from monai_landmarks.utils.coords import as_landmarks, inside_image
from monai_landmarks.utils.io import current_umask
from monai_landmarks.utils.keys import Keys
from monai_landmarks.utils.paths import check_output_folder, check_safe_name, is_safe_name
from monai_landmarks.utils.spacing import Spacing

__all__ = [
    "BASE_COLUMNS",
    "BORDER_TOLERANCE_PX",
    "OutsideImageWarning",
    "MAX_LANDMARKS",
    "IMAGES_DIR",
    "IMAGE_FORMATS",
    "LANDMARKS_FILE",
    "MEAN",
    "METADATA_FILE",
    "DatasetError",
    "load_datalist",
    "read_metadata",
    "write_dataset",
]

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


# ----------------------------------------------------------------------------------------------- metadata


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


# ------------------------------------------------------------------------------------------------ reading


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


# ------------------------------------------------------------------------------------------------ writing


def _format(value: float) -> str:
    if math.isnan(value):
        return ""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _to_png_array(image: np.ndarray, where: str) -> np.ndarray:
    """A ``(W, H)`` (or ``(1, W, H)``) array as uint8/uint16 for PNG; floats must lie in [0, 1] and become uint8."""
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if array.ndim == 3 and array.shape[0] == 1:  # channel-first (1, W, H), as LoadImage gives
        array = array[0]
    if array.ndim != 2:
        raise DatasetError(f"{where}: image must be a 2-D (W, H) array, got shape {array.shape}.")
    if array.dtype in (np.uint8, np.uint16):
        return array
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise DatasetError(
                f"{where}: a float image must be finite and in [0, 1], got range "
                f"[{np.nanmin(array):g}, {np.nanmax(array):g}]."
            )
        return np.rint(array * 255).astype(np.uint8)
    raise DatasetError(f"{where}: image dtype {array.dtype} not supported; use uint8, uint16 or float in [0, 1].")


def _save_image(image, target: Path, where: str, image_format: str = "png") -> tuple[int, int]:
    """Write the sample's image as ``target`` (PNG or 8-bit JPEG); returns its size ``(W, H)``."""
    if isinstance(image, (str, os.PathLike)):
        source = Path(image)
        if not source.is_file():
            raise DatasetError(f"{where}: image file {source} not found.")
        try:
            array, _ = read_image(source)  # decodes fully: a truncated or corrupt file fails here
            keep = {"png": (".png",), "jpeg": (".jpg", ".jpeg")}[image_format]
            if source.suffix.lower() in keep:
                with Image.open(source) as img:
                    mode = img.mode
                if mode in ("L", "I;16", "I;16B"):  # already a gray file of that format: keep its bytes
                    shutil.copyfile(source, target)
                    return int(array.shape[0]), int(array.shape[1])
        except (ImageReadError, OSError, SyntaxError) as e:
            raise DatasetError(f"{where}: {e}") from e
        where = f"{where} ({source})"
    else:
        array = image
    array = _to_png_array(array, where)
    if image_format == "jpeg" and array.dtype != np.uint8:
        raise DatasetError(f"{where}: JPEG stores 8-bit images; this one is {array.dtype} (store it as PNG).")
    options = {"quality": JPEG_QUALITY} if image_format == "jpeg" else {}
    Image.fromarray(np.ascontiguousarray(array.T)).save(target, **options)  # rows are y: (W, H) -> (H, W)
    return int(array.shape[0]), int(array.shape[1])


def _points(value, num_landmarks: int | None, where: str) -> np.ndarray:
    try:
        points = as_landmarks(value, num_landmarks, name=where)[0].numpy()
    except (ValueError, TypeError) as e:
        raise DatasetError(str(e)) from e
    if (np.isnan(points).any(axis=1) != np.isnan(points).all(axis=1)).any():
        raise DatasetError(f"{where}: a landmark has one NaN coordinate; a missing landmark is NaN in both.")
    return points


def _check_inside(points: np.ndarray, size: tuple[int, int], where: str) -> None:
    outside = ~inside_image(points, size, BORDER_TOLERANCE_PX).numpy()
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise DatasetError(
            f"{where}: landmark {k} at ({points[k, 0]:g}, {points[k, 1]:g}) lies outside the "
            f"{size[0]} x {size[1]} image."
        )


def _sample_record(sample, images_dir: Path, num_landmarks: int | None, layout: dict, image_format: str) -> dict:
    """Validate one sample, write its image, and return what the CSV and metadata need."""
    if not isinstance(sample, Mapping):
        raise DatasetError(f"each sample must be a dict, got {type(sample).__name__}.")
    missing = [k for k in (Keys.IMAGE_ID, Keys.SPLIT, Keys.IMAGE, Keys.LANDMARKS) if k not in sample]
    if missing:
        raise DatasetError(f"sample {sample.get(Keys.IMAGE_ID, '?')!r}: missing key(s) {missing}.")
    image_id, split = sample[Keys.IMAGE_ID], sample[Keys.SPLIT]
    where = f"sample {image_id!r}"
    for key, value in ((Keys.IMAGE_ID, image_id), (Keys.SPLIT, split)):
        check_safe_name(value, key, where, DatasetError)
    points = _points(sample[Keys.LANDMARKS], num_landmarks, f"{where} landmarks")
    annotators = {}
    for name, value in dict(sample.get("annotators") or {}).items():
        if not isinstance(name, str) or not _ANNOTATOR.match(name) or name == MEAN:
            raise DatasetError(f"{where}: annotator name {name!r} must be letters/digits and not {MEAN!r}.")
        annotators[name] = _points(value, len(points), f"{where} annotator {name!r}")
    columns = {}
    for name, values in dict(sample.get("columns") or {}).items():
        values = list(values)
        if len(values) != len(points):
            raise DatasetError(f"{where}: column {name!r} has {len(values)} values, expected {len(points)}.")
        columns[name] = values
    for key, found in (("annotators", list(annotators)), ("columns", list(columns))):
        expected = layout.setdefault(key, found)
        if found != expected:
            raise DatasetError(f"{where}: {key} {found} differ from the first sample's {expected}.")
    file = f"{IMAGES_DIR}/{image_id}{IMAGE_FORMATS[image_format]}"
    size = _save_image(sample[Keys.IMAGE], images_dir.parent / file, where, image_format)
    for name, p in (("landmarks", points), *annotators.items()):
        _check_inside(p, size, f"{where} {name}")
    return {
        "image_id": image_id,
        "split": split,
        "file": file,
        "size": size,
        "points": points,
        "annotators": annotators,
        "columns": columns,
    }


def _write_csv(path: Path, records: list[dict], layout: dict) -> list[str]:
    annotators, extra = layout.get("annotators", []), layout.get("columns", [])
    clash = set(extra) & {*BASE_COLUMNS, *(f"{c}_{a}" for a in annotators for c in "xy")}
    if clash:
        raise DatasetError(f"extra column(s) {sorted(clash)} clash with coordinate columns.")
    header = [*BASE_COLUMNS, *(f"{c}_{a}" for a in annotators for c in "xy"), *extra]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in sorted(records, key=lambda r: r["image_id"]):
            for k, (x, y) in enumerate(r["points"]):
                cells = [r["image_id"], r["split"], r["file"], k, _format(x), _format(y)]
                for a in annotators:
                    cells += [_format(v) for v in r["annotators"][a][k]]
                cells += [v if isinstance(v, str) else _format(float(v)) for v in (r["columns"][c][k] for c in extra)]
                writer.writerow(cells)
    return header


def _metadata(name, records, header, landmark_names, pixel_spacing_mm, extra_metadata) -> dict:
    sizes = {r["image_id"]: list(r["size"]) for r in sorted(records, key=lambda r: r["image_id"])}
    splits: dict[str, int] = {}
    for r in records:
        splits[r["split"]] = splits.get(r["split"], 0) + 1
    unique_sizes = {tuple(s) for s in sizes.values()}
    meta = {
        "name": name,
        "num_landmarks": len(records[0]["points"]),
        "landmark_names": None if landmark_names is None else list(landmark_names),
        "landmark_index_base": 0,
        "pixel_spacing_mm": pixel_spacing_mm,
        "coordinate_convention": COORDINATE_CONVENTION,
        "stored_size_wh": list(unique_sizes.pop()) if len(unique_sizes) == 1 else sizes,
        "splits": dict(sorted(splits.items())),
        "csv_columns": header,
        "image_ids": list(sizes),
    }
    clash = sorted(set(meta) & set(extra_metadata or {}))
    if clash:
        raise DatasetError(f"extra_metadata key(s) {clash} clash with keys write_dataset sets.")
    meta.update(extra_metadata or {})
    return meta


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


def write_dataset(
    root,
    name: str,
    samples: Iterable[Mapping],
    landmark_names: Sequence[str] | None = None,
    pixel_spacing_mm=None,
    extra_metadata: Mapping | None = None,
    overwrite: bool = False,
    progress: bool = False,
    total: int | None = None,
    inputs: Iterable = (),
    image_format: str = "png",
) -> Path:
    """Write samples as a dataset folder: a failure leaves no folder (or the old one) behind.

    Everything is written into a temporary sibling folder and read back with :func:`load_datalist`; a new
    folder is then renamed to ``root`` in one step. Overwriting an earlier dataset replaces only the files an
    earlier write made there (listed in its ``.written_by_write_dataset``), keeping any other file.

    Args:
        root: the dataset folder to create.
        name: dataset name stored in ``dataset.json``.
        samples: dicts ``{"image_id": str, "split": str, "image": ..., "landmarks": (K, 2) or (1, K, 2)}``
            with optional ``"annotators": {name: (K, 2)}`` (written as ``x_<name>, y_<name>``) and
            ``"columns": {name: K values}`` (extra per-landmark columns such as ``n_annotators``); every
            sample must have the same annotators and columns. ``image`` is a ``(W, H)`` or ``(1, W, H)``
            array (uint8, uint16, or float in [0, 1], which is stored as uint8) or the path of an image file:
            a gray PNG is copied byte for byte, any other file is read with
            :func:`~.image_reader.read_image` (colour to gray) and stored as PNG. Landmarks are ``(x, y)``
            pixel-centre coordinates of that image, NaN for missing, and must lie inside it.
        landmark_names: optional names; their number fixes ``K``.
        pixel_spacing_mm: mm per stored pixel: None (unknown), a number, ``[sx, sy]`` or ``{image_id: ...}``.
        extra_metadata: more JSON-serialisable keys for ``dataset.json`` (may not replace the keys set here).
        overwrite: replace an existing dataset (a folder that holds ``dataset.json``): the files an earlier
            write made; a file of the new dataset that would replace any other file is refused.
        progress: show a progress bar on stderr (the command line's, unless ``--quiet``).
        total: how many samples to expect, for the progress bar.
        inputs: files and folders the samples are read from: ``root`` may not be one, hold one or lie in one.
        image_format: ``"png"`` (lossless, 8 or 16 bit) or ``"jpeg"`` (8-bit, quality :data:`JPEG_QUALITY`,
            as films that come as JPEG files; a gray JPEG file given as a path is copied byte for byte).

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        DatasetError: invalid arguments or samples, ``root`` overlaps an input, or exists and may not be
            replaced.
    """
    root = Path(root)
    if image_format not in IMAGE_FORMATS:
        raise DatasetError(f"image_format must be one of {sorted(IMAGE_FORMATS)}, got {image_format!r}.")
    if not isinstance(name, str) or not name:
        raise DatasetError(f"name must be a non-empty string, got {name!r}.")
    _check_spacing(pixel_spacing_mm, "pixel_spacing_mm")
    if landmark_names is not None and (
        isinstance(landmark_names, str) or not all(isinstance(n, str) for n in landmark_names)
    ):
        raise DatasetError(f"landmark_names must be a sequence of strings, got {landmark_names!r}.")
    num_landmarks = None if landmark_names is None else len(landmark_names)
    _check_target(root, overwrite, inputs)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0700, whatever the umask
    try:
        (tmp / IMAGES_DIR).mkdir()
        records, layout, seen = [], {}, set()
        for sample in tqdm(samples, desc=f"writing {name}", unit="image", total=total, disable=not progress):
            record = _sample_record(sample, tmp / IMAGES_DIR, num_landmarks, layout, image_format)
            if record["image_id"] in seen:
                raise DatasetError(f"sample {record['image_id']!r}: duplicate image_id.")
            seen.add(record["image_id"])
            num_landmarks = len(record["points"])
            records.append(record)
        if not records:
            raise DatasetError(f"{root}: no samples to write.")
        header = _write_csv(tmp / LANDMARKS_FILE, records, layout)
        meta = _metadata(name, records, header, landmark_names, pixel_spacing_mm, extra_metadata)
        try:
            text = json.dumps(meta, indent=2, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise DatasetError(f"metadata is not JSON-serialisable: {e}") from e
        (tmp / METADATA_FILE).write_text(text + "\n", encoding="utf-8")
        _write_manifest(tmp, {METADATA_FILE, LANDMARKS_FILE, *(r["file"] for r in records)})
        load_datalist(tmp)
        owned = _check_target(root, overwrite, inputs)  # the folder may have appeared meanwhile
        _move_into_place(tmp, root, owned)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
