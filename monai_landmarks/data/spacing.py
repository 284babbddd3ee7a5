"""Which pixel spacing an image's millimetres use, and where it came from.

Precedence, the same for the prediction writer and the cascade (:func:`image_spacing`):
``--spacing`` (the user), then the dataset's spacing (``dataset.json``), then the image header for formats that
store a physical spacing (MetaImage, NIfTI, NRRD, DICOM: Pixel Spacing, then Imager Pixel Spacing, then Nominal
Scanned Pixel Spacing), else the caller's default (the cascade's: the pixel size of the bundle's training data),
recorded as ``"assumed: bundle default (0.2 mm)"``, else unknown. PNG, JPEG, BMP and TIFF headers carry 1.0 or a DPI
value, never millimetres on the patient, so they are not used.

An assumed spacing is a guess: the prediction writer records it (``spacing_mm``, ``spacing_source``) but writes no
millimetre coordinates from it (:func:`is_assumed`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

__all__ = [
    "ASSUMED",
    "HEADER_SPACING_SUFFIXES",
    "assumed_source",
    "header_spacing",
    "image_spacing",
    "image_spacing_and_source",
    "is_assumed",
    "resolve_spacing",
]

#: formats whose header spacing is physical; PNG, JPEG, BMP and TIFF carry 1.0 or a DPI value instead
HEADER_SPACING_SUFFIXES = (".mha", ".mhd", ".nii", ".nii.gz", ".nrrd", ".nhdr", ".dcm")
ASSUMED = "assumed: "  #: how a source that is a default, not a property of the image, begins


def assumed_source(spacing) -> str:
    """``"assumed: bundle default (0.2 mm)"`` (or ``(0.2 x 0.25 mm)``) for a default spacing."""
    x, y = (float(v) for v in np.broadcast_to(np.asarray(spacing, dtype=np.float64).reshape(-1)[:2], (2,)))
    return f"{ASSUMED}bundle default ({x:g} mm)" if x == y else f"{ASSUMED}bundle default ({x:g} x {y:g} mm)"


def is_assumed(source: str | None) -> bool:
    """True for a spacing source that is a default rather than the user's, the dataset's or the header's."""
    return isinstance(source, str) and source.startswith(ASSUMED)


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
    override=None, dataset=None, meta: Mapping | None = None, override_source: str = "--spacing", default=None
) -> tuple[np.ndarray | None, str | None]:
    """``(spacing (x, y), source)`` by the precedence of the module docstring; ``(None, None)`` when unknown.

    Sources: ``override_source`` (for ``override``), ``"dataset"``, ``"header"`` or ``"header: <DICOM tag>"``, or
    :func:`assumed_source` for ``default``.
    """
    for value, source in ((override, override_source), (dataset, "dataset")):
        spacing = _finite_pair(value)
        if spacing is not None:
            return spacing, source
    spacing, source = header_spacing(meta)
    if spacing is None and _finite_pair(default) is not None:
        return _finite_pair(default), assumed_source(default)
    return spacing, source


def image_spacing_and_source(image, override=None, default=None, dataset=None) -> tuple[torch.Tensor, str]:
    """Millimetres per pixel ``(2,)`` of an image and where they came from: ``override`` (``--spacing``) when set,
    else the dataset's or the header's, else ``default`` (the bundle's training data spacing, source
    ``"assumed: bundle default (... mm)"``), by :func:`resolve_spacing`.

    Raises:
        ValueError: when the spacing chosen is not positive and finite, or none is known (the message names the file).
    """
    meta = getattr(image, "meta", None) or {}
    name = str(meta.get("filename_or_obj", "image"))
    if override is not None:  # the user's value is checked as given, never passed over
        value, source = override, "--spacing"
    else:
        value, source = resolve_spacing(dataset=dataset, meta=meta, default=default)
    if value is None:
        raise ValueError(f"{name}: unknown pixel spacing; give it with --spacing (mm per pixel).")
    try:
        spacing = torch.as_tensor(np.asarray(value, dtype=np.float64)).reshape(-1)[:2].expand(2)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"{name}: pixel spacing must be one or two numbers (mm per pixel), got {value!r}.") from e
    if not bool(torch.isfinite(spacing).all() and (spacing > 0).all()):
        raise ValueError(f"{name}: pixel spacing must be positive and finite, got {spacing.tolist()}.")
    return spacing, source


def image_spacing(image, override=None, default=None, dataset=None) -> torch.Tensor:
    """The spacing of :func:`image_spacing_and_source` alone."""
    return image_spacing_and_source(image, override, default, dataset)[0]
