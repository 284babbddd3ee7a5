"""What a bundle needs from its data: the dataset folder (or synthetic phantoms), the training and validation
datalists, the unit protocol its errors are reported in, and the image files an inference run reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_landmarks.data.dataset_format import DatasetError, load_datalist, read_metadata
from monai_landmarks.metrics.protocol import ErrorProtocol
from monai_landmarks.utils.keys import Keys

__all__ = [
    "datalist_arrays",
    "dataset_folder",
    "error_protocol",
    "image_datalist",
    "image_files",
    "phantom_dataset",
    "resolve_dataset",
    "training_datalists",
]


def dataset_folder(dataset_dir) -> Path:
    """The dataset folder a real-data profile trains on.

    Raises:
        DatasetError: if ``dataset_dir`` is not set (saying how to train on phantoms instead), or holds no
            ``dataset.json``.
    """
    if not dataset_dir:
        raise DatasetError(
            "dataset_dir is not set: give a folder in the dataset format with --dataset_dir, or train on synthetic "
            "phantoms by adding the bundle's configs/synthetic.json, for example "
            "--config_file \"['<bundle>/configs/train.json','<bundle>/configs/synthetic.json']\"."
        )
    root = Path(dataset_dir).expanduser()
    if not (root / "dataset.json").is_file():
        raise DatasetError(
            f"{root}: not a landmark dataset folder (no dataset.json). Convert the data with "
            "`monai-landmarks convert`, or train on synthetic phantoms with the bundle's configs/synthetic.json."
        )
    return root


def phantom_dataset(
    kind: str = "head",
    cache_dir="./data",
    num_train: int = 96,
    num_val: int = 16,
    num_test: int = 16,
    size: Sequence[int] | None = None,
    seed: int = 0,
) -> Path:
    """A synthetic phantom dataset, generated once into ``<cache_dir>/synthetic_<kind>_seed<seed>``.

    An existing copy is reused when its generator version matches, and redrawn otherwise.

    Args:
        kind: ``"head"`` (19 landmarks), ``"hand"`` (37), ``"spine"`` (68; JPEG images of varied sizes) or
            ``"chest"`` (166).
        cache_dir: the folder the dataset is kept in.
        num_train, num_val, num_test, size, seed: phantom dataset settings.
    """
    from monai_landmarks.data.synthetic import GENERATOR_VERSION, generate_phantom_dataset

    root = Path(cache_dir).expanduser() / f"synthetic_{kind}_seed{seed}"
    cached = (root / "dataset.json").is_file()
    if cached and read_metadata(root).get("generator_version") == GENERATOR_VERSION:
        return root
    return generate_phantom_dataset(
        root, kind=kind, num_train=num_train, num_val=num_val, num_test=num_test, size=size, seed=seed,
        overwrite=cached,
    )  # fmt: skip


def resolve_dataset(
    dataset_dir,
    kind: str = "head",
    cache_dir="./data",
    num_train: int = 96,
    num_val: int = 16,
    num_test: int = 16,
    size: Sequence[int] | None = None,
    seed: int = 0,
) -> Path:
    """The dataset folder to use: ``dataset_dir`` when set, else synthetic phantoms generated once.

    Args:
        dataset_dir: a folder in the dataset format (``dataset.json``, ``landmarks.csv``, ``images/``), or
            None / ``""`` to use synthetic phantom data.
        kind: phantom kind when generating (``"head"``: 19 landmarks, ``"hand"``: 37, ``"spine"``: 68,
            ``"chest"``: 166).
        cache_dir: where generated phantoms are kept (``<cache_dir>/synthetic_<kind>_seed<seed>``); an
            existing copy is reused when the generator version matches, and redrawn otherwise.
        num_train, num_val, num_test, size, seed: phantom dataset settings.

    Raises:
        DatasetError: if ``dataset_dir`` is set but holds no ``dataset.json``.
    """
    if dataset_dir:
        return dataset_folder(dataset_dir)
    return phantom_dataset(kind, cache_dir, num_train, num_val, num_test, size, seed)


def training_datalists(
    root,
    train_split: str = "train",
    val_split: str = "val",
    num_val: int = 20,
    ground_truth: str = "mean",
    domain: int = 0,
    num_landmarks: int | None = None,
    strict_bounds: bool = False,
) -> tuple[list[dict], list[dict]]:
    """Training and validation datalists of a dataset folder.

    The dataset's ``val_split`` is used when it has one. Otherwise the last ``num_val`` images of
    ``train_split`` (in image-id order) are held out, as GU2Net holds out ISBI 2015 images 131-150: validation
    never comes from a test split. ``num_landmarks`` (the bundle's) is checked against the dataset's.
    Landmarks outside their image are loaded as missing with a warning, or refused with ``strict_bounds``.
    """
    splits = read_metadata(root).get("splits") or {}
    options = {"ground_truth": ground_truth, "domain": domain, "num_landmarks": num_landmarks}
    options["strict_bounds"] = strict_bounds
    train = load_datalist(root, split=train_split, **options)
    if val_split in splits:
        return train, load_datalist(root, split=val_split, **options)
    if not 0 < num_val < len(train):
        raise DatasetError(
            f"{root}: cannot hold out {num_val} of the {len(train)} {train_split!r} images for validation "
            f"and there is no {val_split!r} split."
        )
    return train[:-num_val], train[-num_val:]


def error_protocol(root, wrist_pair: Sequence[int] | None = None, wrist_width_mm: float = 50.0) -> ErrorProtocol:
    """The unit protocol of a dataset's errors, one object for every metric, handler and report of a bundle.

    Calibrated spacing gives millimetres; a ``wrist_normalisation`` entry in ``dataset.json`` (its pair and
    width) or the ``wrist_pair`` and ``wrist_width_mm`` given here (hand data without it) give
    wrist-normalised millimetres; otherwise pixels.
    """
    meta = read_metadata(root)
    if meta.get("pixel_spacing_mm"):
        return ErrorProtocol("mm")
    wrist = meta.get("wrist_normalisation")
    if wrist:
        return ErrorProtocol("wrist", wrist_pair=wrist["pair"], wrist_width_mm=wrist["width_mm"])
    if wrist_pair is not None:
        return ErrorProtocol("wrist", wrist_pair=wrist_pair, wrist_width_mm=wrist_width_mm)
    return ErrorProtocol("px")


def image_files(folder) -> list[str]:
    """The image files directly in ``folder`` (sorted; hidden files skipped): an inference run's input.

    Raises:
        FileNotFoundError: if ``folder`` is not a folder.
        ValueError: if it holds no file, so a misspelt or empty input folder fails instead of predicting nothing.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such input folder (set dataset_dir to a folder of images).")
    files = sorted(str(f) for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
    if not files:
        raise ValueError(f"{folder}: no image files found (set dataset_dir to a folder of images).")
    return files


def image_datalist(files: Sequence[str]) -> list[dict]:
    """A MONAI datalist of image files, ``[{"image": file}, ...]``.

    Raises:
        ValueError: if ``files`` is empty.
    """
    if not files:
        raise ValueError("no input images: the list of image files is empty.")
    return [{"image": str(f)} for f in files]


def datalist_arrays(items: Sequence[dict]) -> list[dict]:
    """Datalist items whose landmarks and spacing arrived as JSON lists (a config file) with them as arrays again,
    of the dtypes :func:`~.dataset_format.load_datalist` gives: landmarks float32, spacing float64 (NaN kept)."""
    dtypes = {Keys.LANDMARKS: np.float32, Keys.SPACING: np.float64}
    return [{k: np.asarray(v, dtype=dtypes[k]) if k in dtypes else v for k, v in item.items()} for item in items]
