"""What a bundle needs from its data: the dataset folder (or synthetic phantoms), the training and validation
datalists, the unit protocol its errors are reported in, and the image files an inference run reads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from monai.data import IterableDataset
from monai.transforms import apply_transform
from torch.utils.data import get_worker_info

from monai_landmarks.data.dataset_format import DatasetError, load_datalist, read_metadata
from monai_landmarks.data.image_reader import SUPPORTED_SUFFIXES
from monai_landmarks.metrics.protocol import WRIST_WIDTH_MM, ErrorProtocol
from monai_landmarks.utils.keys import Keys
from monai_landmarks.utils.locks import FolderLock
from monai_landmarks.utils.paths import display, not_a_file

__all__ = [
    "InferenceDataset",
    "datalist_arrays",
    "dataset_folder",
    "error_protocol",
    "image_datalist",
    "image_files",
    "phantom_dataset",
    "resolve_dataset",
    "training_datalists",
]

_logger = logging.getLogger(__name__)
PHANTOM_WAIT_S = 1800.0  #: how long a process waits for another one generating the same phantoms


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

    An existing copy is reused when its generator version matches, and redrawn otherwise. Several processes
    (the ranks of a ``torchrun`` training) may ask at once: one generates, under a lock of ``cache_dir``,
    while the others wait for it (up to :data:`PHANTOM_WAIT_S`) and then reuse its dataset.

    Args:
        kind: ``"head"`` (19 landmarks), ``"hand"`` (37), ``"spine"`` (68; JPEG images of varied sizes) or
            ``"chest"`` (166).
        cache_dir: the folder the dataset is kept in.
        num_train, num_val, num_test, size, seed: phantom dataset settings.
    """
    from monai_landmarks.data.synthetic import GENERATOR_VERSION, generate_phantom_dataset

    root = Path(cache_dir).expanduser() / f"synthetic_{kind}_seed{seed}"
    with FolderLock(root.parent, "phantom generation").acquire(wait=PHANTOM_WAIT_S):
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
        val, what = load_datalist(root, split=val_split, **options), f"validation split {val_split!r}"
    elif not 0 < num_val < len(train):
        raise DatasetError(
            f"{root}: cannot hold out {num_val} of the {len(train)} {train_split!r} images for validation "
            f"and there is no {val_split!r} split."
        )
    else:
        train, val = train[:-num_val], train[-num_val:]
        what = f"validation images (the last {num_val} of split {train_split!r}: no {val_split!r} split)"
    _check_labelled(root, train, f"training split {train_split!r}")
    _check_labelled(root, val, what)
    return train, val


def _check_labelled(root, items: Sequence[dict], what: str) -> None:
    """A split without one labelled landmark trains nothing, or validates nothing, so no best model is kept."""
    if not any(np.isfinite(np.asarray(item[Keys.LANDMARKS], dtype=float)).all(axis=-1).any() for item in items):
        raise DatasetError(
            f"{root}: the {what} has no labelled landmark in its {len(items)} image(s) (every x, y is empty); "
            "training would keep no model (models/model.pt is the best validation's). Label some landmarks there "
            "or choose another validation split."
        )


def error_protocol(
    root, wrist_pair: Sequence[int] | None = None, wrist_width_mm: float = WRIST_WIDTH_MM
) -> ErrorProtocol:
    """The unit protocol of a dataset's errors, one object for every metric, handler and report of a bundle.

    Calibrated spacing gives millimetres; a ``wrist_normalisation`` entry in ``dataset.json`` (its pair and
    width) or the ``wrist_pair`` and ``wrist_width_mm`` given here (hand data without it) give
    wrist-normalised millimetres; otherwise pixels (:meth:`ErrorProtocol.of_data`).
    """
    meta = read_metadata(root)
    wrist = meta.get("wrist_normalisation")
    if wrist and not meta.get("pixel_spacing_mm"):
        wrist_pair, wrist_width_mm = wrist["pair"], wrist["width_mm"]
    return ErrorProtocol.of_data(bool(meta.get("pixel_spacing_mm")), wrist_pair, wrist_width_mm)


def image_files(paths, warn: Callable[[str], None] | None = None) -> list[str]:
    """The image files an inference run reads: the files named in ``paths`` and the images directly in the folders
    among them (each folder sorted; not recursive). One policy for the command line, the bundles'
    ``inference.json`` (``image_files(@dataset_dir)``) and a MONAI Label studies folder.

    In a folder, what is not an image file is skipped with one note per folder (``warn``, default: this module's
    logger): hidden files (``.DS_Store``), subfolders (MONAI Label's ``labels/``), FIFOs, broken links, and files
    whose name has none of the reader's suffixes (:data:`~.image_reader.SUPPORTED_SUFFIXES`) unless they start
    like a DICOM file (DICOM files often have no suffix): a ``README.txt``, MONAI Label's ``datastore_v2.json``,
    the ``.raw`` beside an ``.mhd``. A file named on its own is kept whatever its name, and the reader says what
    is wrong with it. Outputs are named after the file names, so those must be unique.

    Args:
        paths: a folder or image file, or a sequence of them.
        warn: called with each note.

    Raises:
        FileNotFoundError: a path that does not exist (or is a broken symbolic link or a link loop).
        ValueError: a path that is a FIFO, socket or device; no image file at all; two files of one name.
    """
    warn = warn or _logger.warning
    files: list[Path] = []
    for given in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        path = Path(given).expanduser()
        kind = not_a_file(path)
        if kind == "a folder":
            files += _folder_images(path, warn)
        elif kind is None:
            files.append(path)
        elif kind == "a FIFO, socket or device":
            raise ValueError(f"{display(path)}: not a regular file (FIFO, socket or device); refused.")
        else:
            what = "no such image file or folder" if kind == "missing" else f"{kind}, not an image file or folder"
            raise FileNotFoundError(f"{display(path)}: {what}.")
    if not files:
        raise ValueError(f"{', '.join(map(display, _as_list(paths)))}: no image files found.")
    _check_unique_names(files)
    return list(dict.fromkeys(str(f) for f in files))


def _as_list(paths) -> list:
    return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def _folder_images(folder: Path, warn: Callable[[str], None]) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError as e:
        raise OSError(e.errno, f"{display(folder)}: cannot list the folder ({e.strerror}).") from e
    images, skipped = [], []
    for entry in entries:
        kind = not_a_file(entry)
        if entry.name.startswith(".") or kind is not None:
            skipped.append(entry.name + ("/" if kind == "a folder" else ""))
        elif _is_image_name(entry) or _starts_like_dicom(entry):
            images.append(entry)
        else:
            skipped.append(entry.name)
    if skipped:
        shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        suffixes = " ".join(f".{s}" for s in SUPPORTED_SUFFIXES)
        warn(
            f"{display(folder)}: skipped {len(skipped)} of {len(entries)} entries, not image files (images are "
            f"{suffixes} or DICOM; hidden files and folders are skipped): {display(shown)}."
        )
    return images


def _is_image_name(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(f".{suffix}") for suffix in SUPPORTED_SUFFIXES)


def _starts_like_dicom(path: Path) -> bool:
    """A DICOM Part 10 file: 128 preamble bytes, then ``DICM``."""
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _check_unique_names(files: Sequence[Path]) -> None:
    first: dict[str, Path] = {}
    for f in files:
        if f.name in first and first[f.name].resolve() != f.resolve():
            raise ValueError(
                f"{display(f)} and {display(first[f.name])} have the same file name, and outputs are named after "
                "it; predict them into separate output folders."
            )
        first.setdefault(f.name, f)


def image_datalist(files: Sequence[str]) -> list[dict]:
    """A MONAI datalist of image files, ``[{"image": file}, ...]``.

    Raises:
        ValueError: if ``files`` is empty.
    """
    if not files:
        raise ValueError("no input images: the list of image files is empty.")
    return [{"image": str(f)} for f in files]


class InferenceDataset(IterableDataset):
    """The images of an inference run, each through ``transform``; an image the transform fails on (unreadable,
    truncated, NaN pixels, no pixels) is logged, recorded in :attr:`failures` and skipped, and the run goes on.

    Iterable, with no length, so a skipped image is simply not yielded (an Ignite engine then ends the epoch when
    the images run out). Failures are recorded in the process that iterates: with ``num_workers > 0`` each worker
    logs its own, and :class:`~monai_landmarks.handlers.LandmarkPredictionWriter` reports the images that gave
    no prediction.

    Args:
        data: datalist items (:func:`image_datalist`).
        transform: the preprocessing.
    """

    def __init__(self, data: Sequence[dict], transform: Callable | None = None) -> None:
        super().__init__(data, transform)
        self.failures: list[dict] = []  #: ``{"image": file, "reason": message}`` per skipped image, this pass

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        self.failures = []
        for item in list(self.data)[worker::workers]:
            sample = self._load(item)
            if sample is not None:
                yield sample

    def _load(self, item: dict) -> dict | None:
        try:
            return apply_transform(self.transform, item) if self.transform is not None else item
        except Exception as e:  # one bad image must not end the batch; the reason is kept and shown
            image = str(item.get(Keys.IMAGE, ""))
            self.failures.append({"image": image, "reason": _reason(e, image)})
            _logger.warning(f"{display(image)}: {self.failures[-1]['reason']} (skipped; the other images go on)")
            return None


def _reason(error: BaseException, image: str) -> str:
    """The message of the error a MONAI transform wrapped (``applying transform ...`` names no file), without
    the file name it starts with."""
    while error.__cause__ is not None and str(error).startswith("applying transform"):
        error = error.__cause__
    text = str(error).strip() or type(error).__name__
    for prefix in (f"{image}: ", f"{display(image)}: "):
        text = text.removeprefix(prefix)
    return text


def datalist_arrays(items: Sequence[dict]) -> list[dict]:
    """Datalist items whose landmarks and spacing arrived as JSON lists (a config file) with them as arrays again,
    of the dtypes :func:`~.dataset_format.load_datalist` gives: landmarks float32, spacing float64 (NaN kept)."""
    dtypes = {Keys.LANDMARKS: np.float32, Keys.SPACING: np.float64}
    return [{k: np.asarray(v, dtype=dtypes[k]) if k in dtypes else v for k, v in item.items()} for item in items]
