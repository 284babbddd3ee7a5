"""Digital Hand Atlas with the 37-landmark annotation of Payer et al. (MICCAI 2016), as GU2Net uses it.

Source layout (``christianpayer/MedicalDataAugmentationTool-HeatmapRegression``,
``hand_xray/hand_xray_dataset/``, verified at commit 20560277): ``setup/all.csv`` has no header and one row
per image, ``image_id, x0, y0, x1, y1, ..., x36, y36`` (75 cells, 910 rows), in integer pixel indices of the
original image, i.e. pixel-centre coordinates; ``images/<image_id>.mha`` (or the ``.jpg`` copies GU2Net
reads) hold the radiographs.

There is no calibrated spacing (the ``.mha`` headers carry a nominal one): ``pixel_spacing_mm`` is null and
``dataset.json`` records the wrist-width normalisation used for millimetre errors instead,
``mm per pixel = width_mm / |p[a] - p[b]|`` (GU2Net: pair (0, 4), 50 mm; see ``utils.coords.wrist_scale``).
Image 3142 is dropped by default, as usual (909 of 910 rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from monai_landmarks.data.converters._common import (
    ON_MISSING,
    assign_splits,
    check_choice,
    check_factor,
    find_image,
    image_sizes,
    load_scaled,
    parse_float,
    scale_points,
)
from monai_landmarks.data.dataset_format import DatasetError, csv_rows, write_dataset
from monai_landmarks.metrics.protocol import WRIST_PAIR, WRIST_WIDTH_MM

__all__ = ["DHA_NUM_LANDMARKS", "convert_dha", "read_dha_csv"]

DHA_NUM_LANDMARKS = 37
IMAGE_SUFFIXES = (".mha", ".jpg", ".jpeg", ".png")


def read_dha_csv(path, num_landmarks: int = DHA_NUM_LANDMARKS) -> dict[str, np.ndarray]:
    """``{image_id: (K, 2) array}`` from a Payer-style ``all.csv`` (no header, id then ``K`` x,y pairs).

    Raises:
        DatasetError: missing or non-UTF-8 file, a row of the wrong length, a non-number, a repeated id.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: landmark CSV not found.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not UTF-8 text (invalid byte at offset {e.start}).") from e
    points: dict[str, np.ndarray] = {}
    for number, cells in csv_rows(text, path):
        if not any(c.strip() for c in cells):
            continue
        where = f"{path}, line {number}"
        if len(cells) != 1 + 2 * num_landmarks:
            raise DatasetError(
                f"{where}: {len(cells)} cells, expected an image id and {num_landmarks} x,y pairs "
                f"({1 + 2 * num_landmarks} cells)."
            )
        image_id = cells[0].strip()
        if image_id in points:
            raise DatasetError(f"{where}: image {image_id!r} appears twice.")
        values = [parse_float(c, f"{where}, column {i + 2}") for i, c in enumerate(cells[1:])]
        points[image_id] = np.asarray(values, dtype=np.float64).reshape(num_landmarks, 2)
    if not points:
        raise DatasetError(f"{path}: no rows.")
    return points


def _check_pair(pair: Sequence[int], num_landmarks: int) -> tuple[int, int]:
    a, b = (int(i) for i in pair)
    if a == b or not (0 <= a < num_landmarks and 0 <= b < num_landmarks):
        raise ValueError(f"wrist_pair must be two different indices in [0, {num_landmarks - 1}], got {pair}.")
    return a, b


def convert_dha(
    csv_file,
    image_dir,
    out_dir,
    exclude: Sequence[str] = ("3142",),
    wrist_pair: Sequence[int] = WRIST_PAIR,
    wrist_width_mm: float = WRIST_WIDTH_MM,
    downsample: int = 1,
    splits: Mapping[str, str] | None = None,
    on_missing: str = "error",
    name: str = "dha_hand",
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Convert the hand X-rays in ``image_dir`` with their rows of Payer's ``all.csv``.

    Every image in ``image_dir`` (``<id>.mha``, ``.jpg``, ``.jpeg`` or ``.png``) is converted; CSV rows
    without an image are ignored (the public CSV covers 910 images, most of them not redistributed).

    Args:
        csv_file: Payer's ``all.csv`` (layout in the module docstring).
        image_dir: folder of ``<image_id>.<suffix>`` images.
        out_dir: dataset folder to write.
        exclude: image ids to drop (default: 3142, as usual).
        wrist_pair: landmark indices whose distance is taken as ``wrist_width_mm`` for mm errors
            (GU2Net (0, 4); Payer's code (1, 5)); recorded in ``dataset.json``.
        wrist_width_mm: the assumed wrist width.
        downsample: integer box-mean factor (coordinates ``(u + 0.5) / f - 0.5``).
        splits: ``{image_id: split}``; ids not listed go to ``"train"``. See :func:`~._common.split_by_order`.
        on_missing: ``"error"`` (default) or ``"skip"`` for an image that has no CSV row.
        name: dataset name.
        overwrite: replace an existing dataset folder.
        progress: show a progress bar (the command line's, unless ``--quiet``).

    Raises:
        DatasetError: malformed CSV, an image without a row (unless skipped), unreadable images.
        ValueError: bad ``wrist_pair``, ``wrist_width_mm``, ``downsample`` or ``on_missing``.
    """
    check_choice("on_missing", on_missing, ON_MISSING)
    factor = check_factor(downsample)
    pair = _check_pair(wrist_pair, DHA_NUM_LANDMARKS)
    if not np.isfinite(wrist_width_mm) or wrist_width_mm <= 0:
        raise ValueError(f"wrist_width_mm must be positive, got {wrist_width_mm}.")
    image_dir, excluded = Path(image_dir), {str(i) for i in exclude}
    if not image_dir.is_dir():
        raise DatasetError(f"{image_dir}: image folder not found.")
    table = read_dha_csv(csv_file)
    stems = sorted({p.stem for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES} - excluded)
    missing = [s for s in stems if s not in table]
    if missing and on_missing == "error":
        raise DatasetError(
            f"{csv_file}: no landmark row for image(s) {missing[:10]} in {image_dir} (on_missing='skip' drops them)."
        )
    ids = [s for s in stems if s in table]
    if not ids:
        raise DatasetError(f"{image_dir}: no images with a row in {csv_file} (suffixes {list(IMAGE_SUFFIXES)}).")
    split_of = assign_splits(ids, splits)
    stored = {i: scale_points(table[i], factor) for i in ids}
    widths = {i: round(float(np.linalg.norm(table[i][pair[0]] - table[i][pair[1]])), 3) for i in ids}
    paths = {i: find_image(image_dir, i, IMAGE_SUFFIXES) for i in ids}
    original_sizes = image_sizes(paths)

    def samples():
        for image_id in ids:
            image, _ = load_scaled(paths[image_id], factor)
            yield {"image_id": image_id, "split": split_of[image_id], "image": image, "landmarks": stored[image_id]}

    extra = {
        "original_size_wh": original_sizes,
        "downsample_factor": factor,
        "wrist_normalisation": {"pair": list(pair), "width_mm": float(wrist_width_mm)},
        "wrist_width_original_px": widths,  # before downsampling, as in ../shared/datasets/dha_hand_sample
        "spacing_note": "No calibrated spacing; mm = px * width_mm / |p[a] - p[b]| (wrist_normalisation).",
        "excluded_ids": sorted(excluded),
        "skipped_without_row": missing,
        "ground_truth": "single annotation set (Payer et al., MICCAI 2016)",
        "source_layout": "Payer all.csv (no header: image_id, x0, y0, ..., x36, y36) + images/<id>.mha|jpg",
    }
    return write_dataset(
        out_dir, name, samples(), pixel_spacing_mm=None, extra_metadata=extra, overwrite=overwrite,
        progress=progress, total=len(ids), inputs=[csv_file, image_dir],
    )  # fmt: skip
