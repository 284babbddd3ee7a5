"""ISBI 2015 cephalometric challenge (Wang et al. 2015/2016), from its original release layout::

    <source>/RawImage/TrainingData/001.bmp ... 150.bmp      -> split "train"
    <source>/RawImage/Test1Data/151.bmp ... 300.bmp         -> split "test1"
    <source>/RawImage/Test2Data/301.bmp ... 400.bmp         -> split "test2"
    <source>/AnnotationsByMD/400_senior/001.txt ...
    <source>/AnnotationsByMD/400_junior/001.txt ...

Each annotation file holds 19 lines ``x,y`` (integer pixel indices of the 1935 x 2400 original, i.e.
pixel-centre coordinates) followed by other lines that are ignored. The original spacing is 0.1 mm/px.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_landmarks.data.converters._common import (
    check_choice,
    check_factor,
    image_sizes,
    load_scaled,
    parse_float,
    scale_points,
)
from monai_landmarks.data.dataset_format import MEAN, DatasetError, write_dataset

__all__ = ["ISBI2015_LANDMARK_NAMES", "convert_isbi2015", "read_isbi2015_annotation"]

ISBI2015_LANDMARK_NAMES = (
    "Sella", "Nasion", "Orbitale", "Porion", "Subspinale (A point)", "Supramentale (B point)", "Pogonion",
    "Menton", "Gnathion", "Gonion", "Lower incisal incision", "Upper incisal incision", "Upper lip",
    "Lower lip", "Subnasale", "Soft tissue pogonion", "Posterior nasal spine", "Anterior nasal spine",
    "Articulare",
)  # fmt: skip
SPLIT_FOLDERS = {"train": "TrainingData", "test1": "Test1Data", "test2": "Test2Data"}
ANNOTATOR_FOLDERS = {"senior": "400_senior", "junior": "400_junior"}
GROUND_TRUTHS = (MEAN, *ANNOTATOR_FOLDERS)
ORIGINAL_SPACING_MM = 0.1


def read_isbi2015_annotation(path, num_landmarks: int = len(ISBI2015_LANDMARK_NAMES)) -> np.ndarray:
    """The first ``num_landmarks`` ``x,y`` lines of an ISBI 2015 annotation file as a ``(K, 2)`` array.

    Raises:
        DatasetError: missing file, too few lines, or a line that is not two numbers (file and line named).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file not found.")
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    if len(lines) < num_landmarks:
        raise DatasetError(f"{path}: {len(lines)} lines, expected at least {num_landmarks} 'x,y' landmark lines.")
    points = []
    for number, line in enumerate(lines[:num_landmarks], start=1):
        cells = line.split(",")
        if len(cells) != 2:
            raise DatasetError(f"{path}, line {number}: expected 'x,y', got {line!r}.")
        points.append([parse_float(c, f"{path}, line {number}") for c in cells])
    return np.asarray(points, dtype=np.float64)


def _images(source: Path, splits: Sequence[str] | None) -> list[tuple[str, str, Path]]:
    """``(image_id, split, path)`` of the BMPs in the selected split folders."""
    chosen = list(SPLIT_FOLDERS) if splits is None else list(splits)
    for s in chosen:
        check_choice("split", s, list(SPLIT_FOLDERS))
    found = []
    for split in chosen:
        folder = source / "RawImage" / SPLIT_FOLDERS[split]
        if not folder.is_dir():
            if splits is not None:
                raise DatasetError(f"{folder}: folder not found for requested split {split!r}.")
            continue
        found += [(p.stem, split, p) for p in sorted(folder.iterdir()) if p.suffix.lower() == ".bmp"]
    if not found:
        expected = [str(source / "RawImage" / SPLIT_FOLDERS[s]) for s in chosen]
        raise DatasetError(f"{source}: no .bmp images in {expected}.")
    return found


def _annotators(source: Path, ground_truth: str) -> list[str]:
    """Annotators to read: those the ground truth needs (required) plus any other present folder."""
    needed = list(ANNOTATOR_FOLDERS) if ground_truth == MEAN else [ground_truth]
    names = []
    for name, folder in ANNOTATOR_FOLDERS.items():
        path = source / "AnnotationsByMD" / folder
        if path.is_dir():
            names.append(name)
        elif name in needed:
            raise DatasetError(f"{path}: annotation folder not found; ground_truth={ground_truth!r} needs it.")
    return names


def convert_isbi2015(
    source_dir,
    out_dir,
    ground_truth: str = MEAN,
    downsample: int = 1,
    splits: Sequence[str] | None = None,
    name: str = "isbi2015_ceph",
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Convert the original ISBI 2015 release (layout in the module docstring) to the dataset format.

    Args:
        source_dir: folder holding ``RawImage/`` and ``AnnotationsByMD/``.
        out_dir: dataset folder to write (atomically, see :func:`~..dataset_format.write_dataset`).
        ground_truth: ``"mean"`` of senior and junior (GU2Net and most later work), or ``"senior"`` (what
            the 2015 challenge scored) or ``"junior"``. Every annotator present is also kept as
            ``x_<name>, y_<name>``.
        downsample: integer factor ``f``: ``f x f`` box mean, trailing rows/columns dropped, coordinates
            ``(u + 0.5) / f - 0.5`` and spacing ``0.1 * f`` mm.
        splits: subset of ``("train", "test1", "test2")``; None takes every split folder present.
        name: dataset name.
        overwrite: replace an existing dataset folder.
        progress: show a progress bar (the command line's, unless ``--quiet``).

    Returns:
        ``out_dir`` as a Path.

    Raises:
        DatasetError: missing folders, images or annotation files, malformed annotation lines.
        ValueError: an unknown ``ground_truth`` or split, or a bad ``downsample``.
    """
    source = Path(source_dir)
    check_choice("ground_truth", ground_truth, GROUND_TRUTHS)
    factor = check_factor(downsample)
    images = _images(source, splits)
    annotators = _annotators(source, ground_truth)
    annotations = {
        image_id: {
            a: read_isbi2015_annotation(source / "AnnotationsByMD" / ANNOTATOR_FOLDERS[a] / f"{image_id}.txt")
            for a in annotators
        }
        for image_id, _, _ in images
    }
    original_sizes = image_sizes({image_id: path for image_id, _, path in images})

    def samples():
        for image_id, split, path in images:
            points = {a: scale_points(p, factor) for a, p in annotations[image_id].items()}
            gt = np.mean([points["senior"], points["junior"]], axis=0) if ground_truth == MEAN else points[ground_truth]
            image, _ = load_scaled(path, factor)
            yield {"image_id": image_id, "split": split, "image": image, "landmarks": gt, "annotators": points}

    extra = {
        "original_size_wh": original_sizes,
        "original_pixel_spacing_mm": ORIGINAL_SPACING_MM,
        "downsample_factor": factor,
        "ground_truth": "mean of senior and junior" if ground_truth == MEAN else f"{ground_truth} annotation",
        "annotators": annotators,
        "official_splits": {"train": "001-150", "test1": "151-300", "test2": "301-400"},
        "source_layout": "ISBI 2015 release: RawImage/<split>/*.bmp, AnnotationsByMD/400_<annotator>/*.txt",
    }
    return write_dataset(
        out_dir,
        name,
        samples(),
        landmark_names=ISBI2015_LANDMARK_NAMES,
        pixel_spacing_mm=round(ORIGINAL_SPACING_MM * factor, 10),  # 0.1 * 3 is 0.30000000000000004
        extra_metadata=extra,
        overwrite=overwrite,
        progress=progress,
        total=len(images),
        inputs=[source_dir],
    )
