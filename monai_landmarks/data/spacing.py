"""Which pixel spacing an image's millimetres use: the precedence that chooses a
:class:`~monai_landmarks.utils.spacing.Spacing` (the value with its source and checks; re-exported here).

Precedence (:func:`resolve_spacing`), the same for the prediction writer, the cascade and MONAI Label:
``--spacing`` (the user), then the dataset's spacing (``dataset.json``), then the image header for formats that
store a physical spacing (MetaImage, NIfTI, NRRD, DICOM: Pixel Spacing, then Imager Pixel Spacing, then Nominal
Scanned Pixel Spacing), else the caller's default (the cascade's: the pixel size of the bundle's training data),
recorded as ``"assumed: bundle default (0.2 mm)"``, else unknown. PNG, JPEG, BMP and TIFF headers carry 1.0 or a
DPI value, never millimetres on the patient, so they are not used.

An assumed spacing is a guess: the prediction writer records it (``spacing_mm``, ``spacing_source``) but writes no
millimetre coordinates from it (:attr:`Spacing.assumed`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from monai_landmarks.utils.spacing import ASSUMED, Spacing, assumed_source, is_assumed

__all__ = [
    "ASSUMED",
    "HEADER_SPACING_SUFFIXES",
    "Spacing",
    "assumed_source",
    "header_spacing",
    "image_spacing",
    "image_spacing_and_source",
    "is_assumed",
    "resolve_spacing",
]

#: formats whose header spacing is physical; PNG, JPEG, BMP and TIFF carry 1.0 or a DPI value instead
HEADER_SPACING_SUFFIXES = (".mha", ".mhd", ".nii", ".nii.gz", ".nrrd", ".nhdr", ".dcm")


def header_spacing(meta: Mapping | None) -> Spacing | None:
    """The header's spacing of a loaded image's meta (``SITKReader``), or None.

    The source is ``"header"``, or ``"header: <DICOM tag>"`` for DICOM (a DICOM without ``.dcm`` is known by its
    recorded tag). A NaN spacing (a DICOM without spacing tags) counts as none.
    """
    meta = meta or {}
    name = str(meta.get("filename_or_obj", ""))
    tag = meta.get("spacing_tag")
    if not (tag or name.lower().endswith(HEADER_SPACING_SUFFIXES)):
        return None
    value = meta.get("spacing")
    value = None if value is None else np.asarray(value, dtype=np.float64).reshape(-1)[:2]  # (x, y) of a 3D header
    return Spacing.known(value, f"header: {tag}" if tag else "header", where=name or None)


def resolve_spacing(
    override=None, dataset=None, meta: Mapping | None = None, override_source: str = "--spacing", default=None
) -> Spacing | None:
    """The spacing by the precedence of the module docstring; None when unknown.

    Args:
        override: the user's spacing (``--spacing``), recorded as ``override_source``; checked as given (a NaN
            is an error here, not an unknown spacing).
        dataset: the dataset's spacing of the image (NaN when unknown).
        meta: the loaded image's meta (its file name, header spacing and DICOM tag).
        default: the spacing assumed when nothing else tells (:meth:`Spacing.assume`).

    Raises:
        ValueError: a given spacing that is not positive and finite (the message names the image file).
    """
    where = str((meta or {}).get("filename_or_obj") or "image")
    if override is not None:  # the user's value is checked as given, never passed over
        return Spacing.of(override, override_source, where)
    spacing = Spacing.known(dataset, "dataset", where) or header_spacing(meta)
    if spacing is None and Spacing.known(default, "bundle default", where) is not None:
        return Spacing.assume(default, where)
    return spacing


def image_spacing_and_source(image, override=None, default=None, dataset=None) -> tuple[torch.Tensor, str]:
    """Millimetres per pixel ``(2,)`` of an image and where they came from: ``override`` (``--spacing``) when set,
    else the dataset's or the header's, else ``default`` (the bundle's training data spacing, source
    ``"assumed: bundle default (... mm)"``), by :func:`resolve_spacing`.

    Raises:
        ValueError: when the spacing chosen is not positive and finite, or none is known (the message names the file).
    """
    meta = getattr(image, "meta", None) or {}
    spacing = resolve_spacing(override, dataset, meta, default=default)
    if spacing is None:
        name = str(meta.get("filename_or_obj", "image"))
        raise ValueError(f"{name}: unknown pixel spacing; give it with --spacing (mm per pixel).")
    return spacing.as_tensor(), spacing.source


def image_spacing(image, override=None, default=None, dataset=None) -> torch.Tensor:
    """The spacing of :func:`image_spacing_and_source` alone."""
    return image_spacing_and_source(image, override, default, dataset)[0]
