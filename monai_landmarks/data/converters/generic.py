"""Generic importers: labelme point annotations and landmark tables (CSV, long or wide).

labelme
    One JSON per image with ``shapes`` of ``shape_type`` ``"point"``, each ``{"label": ..., "points":
    [[x, y]]}``, and ``imagePath`` relative to the JSON file. labelme puts the top-left image *corner* at
    ``(0, 0)``, so coordinates are shifted by -0.5 to pixel centres (as for ``hamedan_ceph`` in
    ``../shared/datasets``). Shapes of other types are ignored (a ``null`` type with one point, as old labelme
    versions write, is a point); a label without a point is a missing landmark. Labels that differ only in
    letter case or spaces (``Sella``, ``sella``) are refused as typos unless a ``label_map`` is given.

CSV
    ``layout="long"``: one row per (image, landmark) with columns ``image, landmark, x, y`` (names
    configurable); ``layout="wide"``: one row per image with ``image, x0, y0, x1, y1, ...``. The image
    column holds a file name relative to ``image_dir``; the image id is its stem. An optional ``split``
    column assigns splits. Coordinates must already be pixel centres, or be moved there with ``offset``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from monai_landmarks.data.converters._common import (
    check_choice,
    check_factor,
    image_sizes,
    load_scaled,
    natural_key,
    parse_float,
    scale_points,
)
from monai_landmarks.data.dataset_format import DatasetError, csv_rows, write_dataset
from monai_landmarks.data.image_reader import ImageReadError, read_image_size
from monai_landmarks.utils.paths import regular_files

__all__ = ["LABELME_OFFSET", "convert_csv", "convert_labelme", "read_labelme"]

LABELME_OFFSET = -0.5  # labelme's (0, 0) is the top-left corner of the image, ours the centre of its first pixel
LAYOUTS = ("long", "wide")
DEFAULT_COLUMNS = {
    "long": {"image": "image", "landmark": "landmark", "x": "x", "y": "y", "split": "split"},
    "wide": {"image": "image", "x": "x{}", "y": "y{}", "split": "split"},
}


def _samples(entries: dict, paths: dict, factor: int):
    """Yield write_dataset samples from ``{image_id: (split, points)}`` and ``{image_id: image path}``."""
    for image_id, (split, points) in entries.items():
        image, _ = load_scaled(paths[image_id], factor)
        yield {"image_id": image_id, "split": split, "image": image, "landmarks": scale_points(points, factor)}


def _write(
    out_dir, name, entries, paths, factor, landmark_names, pixel_spacing_mm, extra, overwrite, progress, sources
) -> Path:
    """Write the converted dataset; ``sources`` (the annotation files) and the images are its inputs."""
    if not entries:
        raise DatasetError(f"{out_dir}: nothing to convert (no annotated images).")
    extra = {"original_size_wh": image_sizes(paths), "downsample_factor": factor, **extra}
    if pixel_spacing_mm is not None:
        scaled = np.broadcast_to(np.asarray(pixel_spacing_mm, float), (2,)) * factor
        pixel_spacing_mm = [round(float(v), 10) for v in scaled]  # 0.1 * 3 is 0.30000000000000004
    return write_dataset(
        out_dir,
        name,
        _samples(entries, paths, factor),
        landmark_names=landmark_names,
        pixel_spacing_mm=pixel_spacing_mm,
        extra_metadata=extra,
        overwrite=overwrite,
        progress=progress,
        total=len(entries),
        inputs=[*sources, *paths.values()],
    )


# ------------------------------------------------------------------------------------------------ labelme


def read_labelme(path) -> tuple[dict, dict[str, tuple[float, float]]]:
    """The JSON document and its point labels ``{label: (x, y)}`` in labelme's own coordinates.

    Raises:
        DatasetError: missing or invalid JSON, a point shape without one finite ``[x, y]``, a repeated label.
    """
    path = Path(path)
    if path.exists() and not regular_files([path]):  # reading a FIFO would wait for a writer forever
        raise DatasetError(f"{path}: not a regular file (a FIFO, socket or device); refused.")
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: labelme file not found.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: not a valid UTF-8 JSON file: {e}.") from e
    except RecursionError as e:
        raise DatasetError(f"{path}: JSON nested too deeply to be a labelme file.") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise DatasetError(f"{path}: not a labelme file (no 'shapes' list).")
    points: dict[str, tuple[float, float]] = {}
    for number, shape in enumerate(doc["shapes"]):
        if not isinstance(shape, dict) or _shape_type(shape) != "point":
            continue
        label, xy = str(shape.get("label", "")), shape.get("points")
        where = f"{path}: shape {number} (label {label!r})"
        if not isinstance(xy, list) or len(xy) != 1 or not isinstance(xy[0], list) or len(xy[0]) != 2:
            raise DatasetError(f"{where}: a point shape needs 'points': [[x, y]], got {xy!r}.")
        if label in points:
            raise DatasetError(f"{where}: label appears twice in the file.")
        values = [parse_float(str(v), where) for v in xy[0]]
        points[label] = (values[0], values[1])
    return doc, points


def _shape_type(shape: dict):
    """labelme files of old versions have ``"shape_type": null``; such a shape with one point is a point."""
    kind = shape.get("shape_type", "point")
    points = shape.get("points")
    if kind is None and isinstance(points, list) and len(points) == 1:
        return "point"
    return kind


def _check_label_spelling(docs: dict) -> None:
    """Labels that differ only in letter case or spaces are typos, not extra landmarks: refuse them."""
    first: dict[str, tuple[str, Path]] = {}
    for path, _, points in docs.values():
        for label in points:
            key = " ".join(label.split()).casefold()
            seen = first.setdefault(key, (label, path))
            if seen[0] != label:
                raise DatasetError(
                    f"{path}: label {label!r} differs from {seen[0]!r} in {seen[1]} only in letter case or spaces; "
                    "fix the typo, or pass label_map to map both."
                )


def _one_letter_off(a: str, b: str) -> bool:
    """``a`` is ``b`` with one letter dropped, added or two neighbouring letters swapped (``sela`` / ``sella``,
    ``nasoin`` / ``nasion``). Substitutions and digits are not counted: ``L1`` / ``L2`` and ``Go_l`` / ``Go_r``
    are different landmarks."""
    a, b = sorted((a, b), key=len)
    if len(a) < 4:
        return False  # short abbreviations (Po / Pog) differ by one letter on purpose
    if len(b) == len(a) + 1:
        return any(b[i].isalpha() and b[:i] + b[i + 1 :] == a for i in range(len(b)))
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    return False


def _check_label_typos(docs: dict) -> None:
    """Without a label_map every label is a landmark, so a misspelt one (``sela`` beside ``sella``) would add a
    landmark: refuse a label one letter off another, naming the file of the rarer one and the labels."""
    files: dict[str, list[Path]] = {}
    for path, _, points in docs.values():
        for label in points:
            files.setdefault(label, []).append(path)
    for a in files:
        for b in files:
            if a >= b or not _one_letter_off(a.casefold(), b.casefold()):
                continue
            rare, common = sorted((a, b), key=lambda label: (len(files[label]), label))
            names = sorted((label for label in files if label != rare), key=natural_key)
            raise DatasetError(
                f"{files[rare][0]}: label {rare!r} is one letter off {common!r} (in {len(files[common])} "
                f"file(s)); it would become a landmark of its own. Valid names (the other labels): {names}. "
                "Fix the typo, or pass label_map to list the landmarks."
            )


def _label_index(label_map, labels: set[str]) -> dict[str, int]:
    if label_map is None:
        return {label: i for i, label in enumerate(sorted(labels, key=natural_key))}
    index = dict(label_map) if isinstance(label_map, Mapping) else {label: i for i, label in enumerate(label_map)}
    if sorted(index.values()) != list(range(len(index))):
        raise ValueError(f"label_map indices must be 0 .. K-1 without gaps or repeats, got {index}.")
    return index


def _labelme_image(json_path: Path, doc: dict, image_dir: Path | None) -> Path:
    relative = str(doc.get("imagePath") or "").replace("\\", "/")
    if not relative:
        raise DatasetError(f"{json_path}: no 'imagePath' (embedded imageData is not supported).")
    image = image_dir / Path(relative).name if image_dir is not None else json_path.parent / relative
    if not image.is_file():
        raise DatasetError(f"{json_path}: image {image} not found (imagePath {relative!r}).")
    try:
        size = read_image_size(image)
    except ImageReadError as e:
        raise DatasetError(str(e)) from e
    stated = (doc.get("imageWidth"), doc.get("imageHeight"))
    if None not in stated and tuple(stated) != size:
        raise DatasetError(
            f"{json_path}: imageWidth x imageHeight {stated[0]} x {stated[1]} differ from the "
            f"image {image.name}, {size[0]} x {size[1]}."
        )
    return image


def convert_labelme(
    json_files,
    out_dir,
    name: str,
    label_map: Mapping[str, int] | Sequence[str] | None = None,
    image_dir=None,
    splits: Mapping[str, str] | None = None,
    pixel_spacing_mm=None,
    downsample: int = 1,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Convert labelme point files (one per image) to the dataset format.

    Args:
        json_files: a folder (all ``*.json`` in it) or a sequence of JSON paths; the image id is the stem.
        out_dir: dataset folder to write.
        name: dataset name.
        label_map: ``{label: index}`` or the labels in index order; None sorts all labels found naturally
            (``l2`` before ``l10``). Labels outside the map are an error.
        image_dir: look images up here by the file name of ``imagePath`` instead of next to the JSON.
        splits: ``{image_id: split}``; others go to ``"train"``.
        pixel_spacing_mm: spacing of the source images (None = unknown); scaled by ``downsample``.
        downsample: integer box-mean factor.
        overwrite: replace an existing dataset folder.
        progress: show a progress bar (the command line's, unless ``--quiet``).

    Raises:
        DatasetError: invalid JSON, labels outside ``label_map``, missing images, size mismatches.
    """
    factor = check_factor(downsample)
    if isinstance(json_files, (str, Path)) and Path(json_files).is_dir():
        files = regular_files(sorted(Path(json_files).glob("*.json")))
    else:
        files = [Path(json_files)] if isinstance(json_files, (str, Path)) else [Path(f) for f in json_files]
    if not files:
        raise DatasetError(f"{json_files}: no labelme .json files.")
    docs = {}
    for f in files:
        if f.stem in docs:
            raise DatasetError(f"{f}: image id {f.stem!r} also comes from {docs[f.stem][0]}; ids are file stems.")
        docs[f.stem] = (f, *read_labelme(f))
    if label_map is None:
        _check_label_spelling(docs)
        _check_label_typos(docs)
    index = _label_index(label_map, {label for _, _, points in docs.values() for label in points})
    entries, paths = {}, {}
    for image_id, (path, doc, points) in docs.items():
        unknown = sorted(set(points) - set(index), key=natural_key)
        if unknown:
            raise DatasetError(f"{path}: label(s) {unknown} not in label_map; valid names: {list(index)}.")
        array = np.full((len(index), 2), np.nan)
        for label, xy in points.items():
            array[index[label]] = np.asarray(xy) + LABELME_OFFSET
        paths[image_id] = _labelme_image(path, doc, None if image_dir is None else Path(image_dir))
        entries[image_id] = ((splits or {}).get(image_id, "train"), array)
    names = sorted(index, key=index.get)
    extra = {
        "label_map": {label: index[label] for label in names},
        "source_format": "labelme",
        "coordinate_note": "labelme coordinates (top-left image corner at 0) shifted by -0.5 to pixel centres.",
    }
    sources = [path for path, _, _ in docs.values()]
    return _write(out_dir, name, entries, paths, factor, names, pixel_spacing_mm, extra, overwrite, progress, sources)


# ---------------------------------------------------------------------------------------------------- CSV


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: CSV file not found.") from None
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not UTF-8 text (invalid byte at offset {e.start}).") from e
    reader = csv_rows(text, path)
    header = [h.strip() for h in next(reader, (0, []))[1]]
    rows = []
    for line, cells in reader:
        if any(c.strip() for c in cells):
            if len(cells) != len(header):
                raise DatasetError(f"{path}, line {line}: {len(cells)} cells, the header has {len(header)}.")
            rows.append((line, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    return header, rows


def _coordinate(text: str, offset: float, where: str) -> float:
    return math.nan if text == "" else parse_float(text, where) + offset


def _wide_count(header: Sequence[str], cols: dict, num_landmarks: int | None, path: Path) -> int:
    k = 0
    while cols["x"].format(k) in header and cols["y"].format(k) in header:
        k += 1
    lone = [c for c in (cols["x"].format(k), cols["y"].format(k)) if c in header]
    if lone:
        raise DatasetError(f"{path}: column {lone[0]!r} has no partner; landmark {k} needs both x and y columns.")
    if num_landmarks is not None and num_landmarks > k:
        raise DatasetError(
            f"{path}: missing columns {cols['x'].format(k)!r}/{cols['y'].format(k)!r} for "
            f"num_landmarks={num_landmarks}; found {k} x/y column pairs."
        )
    if num_landmarks is not None and k > num_landmarks:  # silently dropping them would lose annotations
        extra = [cols[c].format(i) for i in range(num_landmarks, k) for c in "xy"]
        raise DatasetError(f"{path}: extra landmark column(s) {extra} beyond num_landmarks={num_landmarks}.")
    if k == 0:
        raise DatasetError(f"{path}: no {cols['x'].format(0)!r}, {cols['y'].format(0)!r} columns; found {header}.")
    return num_landmarks or k


def _parse_table(path: Path, layout: str, cols: dict, num_landmarks: int | None, offset: float) -> dict:
    """``{image file: {"split": str or None, "points": {index: (x, y)}, "line": int}}``."""
    header, rows = _read_table(path)
    needed = [cols["image"]] + ([cols["landmark"], cols["x"], cols["y"]] if layout == "long" else [])
    missing = [c for c in needed if c not in header]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; found {header}.")
    k = _wide_count(header, cols, num_landmarks, path) if layout == "wide" else None
    table: dict[str, dict] = {}
    for line, row in rows:
        where = f"{path}, line {line}"
        entry = table.setdefault(row[cols["image"]], {"split": row.get(cols["split"]), "points": {}, "line": line})
        if row.get(cols["split"]) != entry["split"]:
            raise DatasetError(
                f"{where}: split {row.get(cols['split'])!r} differs from {entry['split']!r} on line "
                f"{entry['line']} for image {row[cols['image']]!r}."
            )
        if layout == "wide":
            if len(table[row[cols["image"]]]["points"]):
                raise DatasetError(f"{where}: image {row[cols['image']]!r} repeated (first on line {entry['line']}).")
            for i in range(k):
                entry["points"][i] = tuple(_coordinate(row[cols[c].format(i)], offset, where) for c in "xy")
            continue
        try:
            index = int(row[cols["landmark"]])
        except ValueError:
            raise DatasetError(f"{where}: landmark {row[cols['landmark']]!r} is not an integer index.") from None
        if index < 0 or (num_landmarks is not None and index >= num_landmarks):
            raise DatasetError(f"{where}: landmark index {index} outside [0, {(num_landmarks or 1) - 1}].")
        if index in entry["points"]:
            raise DatasetError(f"{where}: duplicate row for image {row[cols['image']]!r}, landmark {index}.")
        entry["points"][index] = tuple(_coordinate(row[cols[c]], offset, where) for c in "xy")
    return table


def convert_csv(
    csv_file,
    image_dir,
    out_dir,
    name: str,
    layout: str = "long",
    columns: Mapping[str, str] | None = None,
    num_landmarks: int | None = None,
    offset: float = 0.0,
    landmark_names: Sequence[str] | None = None,
    splits: Mapping[str, str] | None = None,
    pixel_spacing_mm=None,
    downsample: int = 1,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Import a landmark table and its images (layouts in the module docstring).

    Args:
        csv_file: UTF-8 CSV with a header.
        image_dir: folder the image column is relative to.
        out_dir: dataset folder to write.
        name: dataset name.
        layout: ``"long"`` or ``"wide"``.
        columns: renames of the default columns: long ``{"image", "landmark", "x", "y", "split"}``, wide
            ``{"image", "x": "x{}", "y": "y{}", "split"}`` (format strings taking the landmark index).
        num_landmarks: ``K``; None infers it (largest index + 1, or the number of x/y column pairs).
        offset: added to every coordinate (-0.5 for tools whose origin is the image corner).
        landmark_names: optional names (their number must equal ``K``).
        splits: ``{image_id: split}``, overriding a split column; otherwise ``"train"``.
        pixel_spacing_mm: spacing of the source images (None = unknown); scaled by ``downsample``.
        downsample: integer box-mean factor.
        overwrite: replace an existing dataset folder.
        progress: show a progress bar (the command line's, unless ``--quiet``).

    Raises:
        DatasetError: missing columns, non-numeric cells, duplicates, missing images (file and line named).
        ValueError: unknown ``layout`` or column keys.
    """
    check_choice("layout", layout, LAYOUTS)
    factor = check_factor(downsample)
    cols = dict(DEFAULT_COLUMNS[layout])
    unknown = sorted(set(columns or {}) - set(cols))
    if unknown:
        raise ValueError(f"columns: unknown key(s) {unknown}; valid keys for layout {layout!r}: {list(cols)}.")
    cols.update(columns or {})
    path, image_dir = Path(csv_file), Path(image_dir)
    table = _parse_table(path, layout, cols, num_landmarks, offset)
    k = num_landmarks or max((max(e["points"]) + 1 for e in table.values()), default=0)
    entries, paths = {}, {}
    for file, entry in sorted(table.items()):
        image_id = Path(file).stem
        if image_id in paths:
            raise DatasetError(f"{path}, line {entry['line']}: image id {image_id!r} (from {file!r}) used twice.")
        paths[image_id] = image_dir / file
        if not paths[image_id].is_file():
            raise DatasetError(f"{path}, line {entry['line']}: image {paths[image_id]} not found.")
        points = np.full((k, 2), np.nan)
        for i, xy in entry["points"].items():
            points[i] = xy
        split = (splits or {}).get(image_id) or entry["split"] or "train"
        entries[image_id] = (split, points)
    extra = {"source_format": f"CSV ({layout})", "coordinate_offset": offset}
    return _write(
        out_dir, name, entries, paths, factor, landmark_names, pixel_spacing_mm, extra, overwrite, progress, [path]
    )
