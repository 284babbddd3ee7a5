"""Shenzhen chest X-rays with GU2Net's 6-landmark labels.

Source layout, as GU2Net reads it (``MIRACLE-Center/YOLO_Universal_Anatomical_Landmark_Detection``,
``universal_landmark_detection/model/datasets/chest.py``, verified; labels in ``data/chest_labels.zip``):
``pngs/<name>.png`` and ``labels/<name>.txt``. A label file's first line is the number of landmarks ``n``,
then ``n`` lines of two whitespace-separated ratios ``x / W, y / H``. GU2Net multiplies them by the image
size and rounds, using the product as a pixel index.

Assumption (not documented by the source): the ratios are fractions of the image extent, whose left edge
is 0 and right edge 1, so the pixel-centre coordinate is ``r * W - 0.5`` (``convention="corner"``, the
default). ``convention="gu2net"`` uses ``r * W`` as GU2Net does; the two differ by half a pixel.
No pixel spacing is published with these labels: errors are reported in pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from monai_landmarks.data.converters._common import (
    ON_MISSING,
    assign_splits,
    check_choice,
    check_factor,
    image_sizes,
    load_scaled,
    parse_float,
    scale_points,
)
from monai_landmarks.data.dataset_format import DatasetError, write_dataset
from monai_landmarks.data.image_reader import ImageReadError, read_image_size

__all__ = ["SHENZHEN_NUM_LANDMARKS", "convert_shenzhen", "read_shenzhen_label"]

SHENZHEN_NUM_LANDMARKS = 6
CONVENTIONS = {"corner": -0.5, "gu2net": 0.0}  # offset added to r * size


def read_shenzhen_label(path, num_landmarks: int = SHENZHEN_NUM_LANDMARKS) -> np.ndarray:
    """Relative coordinates ``(K, 2)`` from a GU2Net chest label file (count line, then ``rx ry`` lines).

    Raises:
        DatasetError: missing file, wrong count, a line that is not two numbers (file and line named).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: label file not found.")
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    try:
        count = int(lines[0])
    except (IndexError, ValueError):
        raise DatasetError(f"{path}, line 1: expected the number of landmarks, got {lines[:1]}.") from None
    if count != num_landmarks:
        raise DatasetError(f"{path}, line 1: {count} landmarks, expected {num_landmarks}.")
    if len(lines) < 1 + count:
        raise DatasetError(f"{path}: {len(lines) - 1} coordinate lines, expected {count}.")
    ratios = []
    for number, line in enumerate(lines[1 : 1 + count], start=2):
        cells = line.replace(",", " ").split()
        if len(cells) != 2:
            raise DatasetError(f"{path}, line {number}: expected two numbers 'rx ry', got {line!r}.")
        ratios.append([parse_float(c, f"{path}, line {number}") for c in cells])
    return np.asarray(ratios, dtype=np.float64)


def convert_shenzhen(
    image_dir,
    label_dir,
    out_dir,
    convention: str = "corner",
    downsample: int = 1,
    splits: Mapping[str, str] | None = None,
    on_missing: str = "error",
    name: str = "shenzhen_chest",
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Convert ``image_dir/<name>.png`` with ``label_dir/<name>.txt`` (layout in the module docstring).

    Args:
        image_dir: folder of PNG images (GU2Net's ``pngs``).
        label_dir: folder of label files (GU2Net's ``labels``).
        out_dir: dataset folder to write.
        convention: ``"corner"`` (``x = r * W - 0.5``, default) or ``"gu2net"`` (``x = r * W``).
        downsample: integer box-mean factor.
        splits: ``{image_id: split}``; others go to ``"train"``. GU2Net's split is
            ``split_by_order(ids, {"train": 195, "val": 34, "test": None})``.
        on_missing: ``"error"`` (default) or ``"skip"`` for an image without a label file (the labels
            cover the 279 normal images of the 662).
        name: dataset name.
        overwrite: replace an existing dataset folder.
        progress: show a progress bar (the command line's, unless ``--quiet``).

    Raises:
        DatasetError: a missing label (unless skipped), malformed label files, unreadable images.
        ValueError: bad ``convention``, ``downsample`` or ``on_missing``.
    """
    check_choice("convention", convention, list(CONVENTIONS))
    check_choice("on_missing", on_missing, ON_MISSING)
    factor = check_factor(downsample)
    image_dir, label_dir = Path(image_dir), Path(label_dir)
    for folder in (image_dir, label_dir):
        if not folder.is_dir():
            raise DatasetError(f"{folder}: folder not found.")
    paths = {p.stem: p for p in sorted(image_dir.iterdir()) if p.suffix.lower() == ".png"}
    missing = [i for i in paths if not (label_dir / f"{i}.txt").is_file()]
    if missing and on_missing == "error":
        raise DatasetError(f"{label_dir}: no label file for image(s) {missing[:10]} (on_missing='skip' drops them).")
    paths = {i: p for i, p in paths.items() if i not in missing}
    if not paths:
        raise DatasetError(f"{image_dir}: no PNG images with a label file in {label_dir}.")
    points = {}
    for image_id, path in paths.items():
        ratios = read_shenzhen_label(label_dir / f"{image_id}.txt")
        try:
            size = np.asarray(read_image_size(path), dtype=np.float64)
        except ImageReadError as e:
            raise DatasetError(str(e)) from e
        points[image_id] = scale_points(ratios * size + CONVENTIONS[convention], factor)
    split_of = assign_splits(list(paths), splits)

    def samples():
        for image_id, path in paths.items():
            image, _ = load_scaled(path, factor)
            yield {"image_id": image_id, "split": split_of[image_id], "image": image, "landmarks": points[image_id]}

    extra = {
        "original_size_wh": image_sizes(paths),
        "downsample_factor": factor,
        "label_convention": convention,
        "label_note": "GU2Net chest labels: ratios of the image size; pixel centre = r * size"
        + (" - 0.5 (ratios taken as fractions of the image extent)." if convention == "corner" else " (as GU2Net)."),
        "skipped_without_label": missing,
        "spacing_note": "No pixel spacing is published with these labels; report errors in pixels.",
    }
    return write_dataset(
        out_dir, name, samples(), pixel_spacing_mm=None, extra_metadata=extra, overwrite=overwrite,
        progress=progress, total=len(paths), inputs=[image_dir, label_dir],
    )  # fmt: skip
