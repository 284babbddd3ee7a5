"""Synthetic phantom datasets: :func:`generate_phantom_dataset` writes phantoms in the dataset format.

The phantoms themselves (geometry, film, one module per anatomy) live in :mod:`.phantoms`; this module is
their dataset writer and keeps the public names (:func:`render_phantom`, :func:`landmark_names`,
:data:`PHANTOM_KINDS`, ...) where the package has always exported them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_landmarks.data.phantoms import GENERATOR_VERSION, KINDS, PHANTOM_KINDS, PhantomKind, phantom_kind
from monai_landmarks.data.phantoms.hand import LANDMARK_NAMES as HAND_LANDMARK_NAMES
from monai_landmarks.data.phantoms.hand import WRIST_PAIR, WRIST_WIDTH_MM
from monai_landmarks.data.phantoms.head import LANDMARK_NAMES as HEAD_LANDMARK_NAMES
from monai_landmarks.data.phantoms.head import SPACING_MM as HEAD_SPACING_MM
from monai_landmarks.data.phantoms.render import check_size, render_phantom

__all__ = [
    "DEFAULT_SIZES",
    "GENERATOR_VERSION",
    "HAND_LANDMARK_NAMES",
    "HEAD_LANDMARK_NAMES",
    "HEAD_SPACING_MM",
    "PHANTOM_KINDS",
    "WRIST_PAIR",
    "WRIST_WIDTH_MM",
    "generate_phantom_dataset",
    "landmark_names",
    "render_phantom",
]

DEFAULT_SIZES = {name: kind.default_size for name, kind in KINDS.items()}


def landmark_names(kind: str) -> tuple[str, ...]:
    """Landmark names of a phantom kind, in landmark order (head: ISBI 2015's 19; hand: 37; spine: AASCE's
    68; chest: JSRT's 166)."""
    return phantom_kind(kind).landmark_names


def generate_phantom_dataset(
    root,
    kind: str = "head",
    num_train: int = 96,
    num_val: int = 16,
    num_test: int = 16,
    size: Sequence[int] | None = None,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write a phantom dataset with splits ``train``, ``val`` and ``test`` in the dataset format.

    Images are 8-bit PNG (spine: JPEG, as the AASCE films); image ``i`` (counting through the splits in that
    order) is ``render_phantom(kind, numpy.random.default_rng([seed, i]), size)``, so the first images of a
    dataset do not depend on how many follow. Spine images vary in size round ``size`` (one size per image:
    ``phantoms.spine.vary_size(numpy.random.default_rng([seed, i, 1]), size)``), about 1:2.7 like the real
    films, so an aspect-keeping resize has work to do. Head phantoms get ``pixel_spacing_mm`` =
    :data:`HEAD_SPACING_MM` at the default size (scaled with ``size``), chest phantoms 0.7 mm at 512 x 512
    (JSRT's) scaled the same way; spine phantoms have no spacing (pixels). Hand phantoms have no spacing and
    record the wrist-width normalisation (landmarks 0 and 4, 50 mm) as ``wrist_normalisation`` (what
    :func:`~.datalists.error_protocol` reads) and as ``wrist_pair`` / ``wrist_width_mm``. What a kind records
    is its :class:`~.phantoms.kind.PhantomKind`'s (``calibrated``, ``metadata``, ``image_format``, ``vary_size``).

    Args:
        root: the dataset folder to create.
        kind: one of :data:`PHANTOM_KINDS`.
        num_train, num_val, num_test: images per split (non-negative integers; a split with none is absent).
        size: image size ``(W, H)``; default :data:`DEFAULT_SIZES`.
        seed: the dataset's seed.
        overwrite: replace an existing dataset folder.
        progress: show a progress bar (the command line's, unless ``--quiet``).

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: unknown ``kind``, bad ``size`` or counts; :class:`~.dataset_format.DatasetError` (a
            ``ValueError``) when ``root`` exists and ``overwrite`` is false, or no image is requested.
    """
    from monai_landmarks.data.dataset_format import write_dataset  # the format module imports this package

    spec = phantom_kind(kind)
    size = check_size(size, spec.default_size)
    counts = {"train": num_train, "val": num_val, "test": num_test}
    for split, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"num_{split} must be a non-negative integer, got {count!r}.")
    splits = [split for split, count in counts.items() for _ in range(count)]

    def samples():
        for index, split in enumerate(splits):
            image_size = _image_size(spec, seed, index, size)
            image, points = render_phantom(kind, np.random.default_rng([seed, index]), image_size)
            image = np.rint(image * 255).astype(np.uint8)
            yield {"image_id": f"{kind}{index:04d}", "split": split, "image": image, "landmarks": points}

    extra = {"synthetic": True, "kind": kind, "seed": int(seed), "generator_version": GENERATOR_VERSION}
    spacing = None
    if spec.calibrated:  # the canonical film is in mm: the spacing is 1 / (pixels per mm)
        field = spec.field_mm
        spacing = round(1.0 / min(size[0] / field[0], size[1] / field[1]), 6)
    return write_dataset(
        root,
        f"synthetic_{kind}",
        samples(),
        landmark_names=list(spec.landmark_names),
        pixel_spacing_mm=spacing,
        extra_metadata=extra | dict(spec.metadata),
        overwrite=overwrite,
        progress=progress,
        total=len(splits),
        image_format=spec.image_format,
    )


def _image_size(spec: PhantomKind, seed: int, index: int, size: tuple[int, int]) -> tuple[int, int]:
    """Image ``index``'s size: ``size``, or for kinds that vary it (spine) one drawn from its own stream."""
    vary = spec.vary_size
    return size if vary is None else vary(np.random.default_rng([seed, index, 1]), size)
