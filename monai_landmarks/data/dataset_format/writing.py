"""Writing a dataset folder from samples (:func:`write_dataset`): each sample checked and its image stored,
then ``landmarks.csv`` and ``dataset.json``, read back before the folder is moved into place."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from monai_landmarks.data.image_reader import ImageReadError, read_image
from monai_landmarks.utils.coords import as_landmarks
from monai_landmarks.utils.io import current_umask
from monai_landmarks.utils.keys import Keys
from monai_landmarks.utils.paths import check_safe_name

from .folder import _check_target, _move_into_place, _write_manifest
from .metadata import (
    _ANNOTATOR,
    BASE_COLUMNS,
    COORDINATE_CONVENTION,
    IMAGE_FORMATS,
    IMAGES_DIR,
    JPEG_QUALITY,
    LANDMARKS_FILE,
    MEAN,
    METADATA_FILE,
    DatasetError,
    _check_spacing,
)
from .reading import _check_inside, load_datalist


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
