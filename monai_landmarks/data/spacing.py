"""Which pixel spacing an image's millimetres use, and where it came from.

Precedence, the same for the prediction writer and the cascade (:func:`monai_landmarks.engines.cascade.image_spacing`):
``--spacing`` (the user), then the dataset's spacing (``dataset.json``), then the image header for formats that
store a physical spacing (MetaImage, NIfTI, NRRD, DICOM: Pixel Spacing, then Imager Pixel Spacing), else unknown.
PNG, JPEG, BMP and TIFF headers carry 1.0 or a DPI value, never millimetres on the patient, so they are not used.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["HEADER_SPACING_SUFFIXES", "header_spacing", "resolve_spacing"]

#: formats whose header spacing is physical; PNG, JPEG, BMP and TIFF carry 1.0 or a DPI value instead
HEADER_SPACING_SUFFIXES = (".mha", ".mhd", ".nii", ".nii.gz", ".nrrd", ".nhdr", ".dcm")


def _finite_pair(value) -> np.ndarray | None:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size == 0:
        return None
    pair = np.broadcast_to(array[:2], (2,)).copy()
    return pair if np.isfinite(pair).all() else None


def header_spacing(meta: Mapping | None) -> tuple[np.ndarray | None, str | None]:
    """``(spacing (x, y), source)`` from a loaded image's meta (``SITKReader``), or ``(None, None)``.

    The source is ``"header"``, or ``"header: <DICOM tag>"`` for DICOM (a DICOM without ``.dcm`` is known by its
    recorded tag). A NaN spacing (a DICOM without spacing tags) counts as none.
    """
    meta = meta or {}
    name = str(meta.get("filename_or_obj", "")).lower()
    tag = meta.get("spacing_tag")
    if not (tag or name.endswith(HEADER_SPACING_SUFFIXES)):
        return None, None
    spacing = _finite_pair(meta.get("spacing"))
    if spacing is None:
        return None, None
    return spacing, f"header: {tag}" if tag else "header"


def resolve_spacing(
    override=None, dataset=None, meta: Mapping | None = None, override_source: str = "--spacing"
) -> tuple[np.ndarray | None, str | None]:
    """``(spacing (x, y), source)`` by the precedence of the module docstring; ``(None, None)`` when unknown.

    Sources: ``override_source`` (for ``override``), ``"dataset"``, ``"header"`` or ``"header: <DICOM tag>"``.
    """
    for value, source in ((override, override_source), (dataset, "dataset")):
        spacing = _finite_pair(value)
        if spacing is not None:
            return spacing, source
    return header_spacing(meta)
