"""What the reader takes from a DICOM header besides pixels: the pixel spacing (and which tag gave it) and the
photometric interpretation.

Spacing
    ``PixelSpacing (0028,0030)`` first, then ``ImagerPixelSpacing (0018,1164)``, the usual tag on projection
    X-rays (CR, DX), which is the spacing at the detector, then ``NominalScannedPixelSpacing (0018,2010)``, the tag
    of digitised film (secondary capture; SimpleITK writes it). All hold ``row spacing \\ column spacing`` in mm,
    that is ``(y, x)``; the package's order is ``(x, y)``. Without any of them the spacing is unknown (NaN), never the
    1.0 that SimpleITK reports.

MONOCHROME1
    The lowest value is white. SimpleITK's GDCM reader already returns such images inverted (``2**bits - 1 -
    value``), so they look like MONOCHROME2; the reader must not invert them again, and the tests hold it to that.

The tags are read through SimpleITK's GDCM metadata (keys like ``"0028|0030"``), so no DICOM library is needed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["DICOM_SPACING_TAGS", "DicomInfo", "dicom_info", "is_dicom"]

#: tags tried in order for the pixel spacing: (name recorded in the output, SimpleITK metadata key)
DICOM_SPACING_TAGS = (
    ("PixelSpacing (0028,0030)", "0028|0030"),
    ("ImagerPixelSpacing (0018,1164)", "0018|1164"),
    ("NominalScannedPixelSpacing (0018,2010)", "0018|2010"),
)
_PHOTOMETRIC = "0028|0004"
_TAG_KEY = re.compile(r"^[0-9a-fA-F]{4}\|[0-9a-fA-F]{4}$")


@dataclass(frozen=True)
class DicomInfo:
    """Spacing ``(x, y)`` in mm (NaN when no tag gives it), the tag it came from, and the photometric value."""

    spacing: tuple[float, float]
    spacing_tag: str | None
    photometric: str


def is_dicom(reader) -> bool:
    """True if a SimpleITK reader (after ``ReadImageInformation``) read DICOM tags: DICOM files often lack ``.dcm``."""
    return any(_TAG_KEY.match(key) for key in reader.GetMetaDataKeys())


def _spacing_value(text: str, name: str, path: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.strip().strip("\x00").split("\\")]
    try:
        row, column = (float(p) for p in parts)
    except ValueError:
        row = column = math.nan
    if not (math.isfinite(row) and math.isfinite(column) and row > 0 and column > 0):
        raise ValueError(
            f"{path}: DICOM {name} is {text.strip()!r}; expected two positive numbers, row \\ column spacing in mm."
        )
    return column, row


def dicom_info(reader) -> DicomInfo:
    """Spacing, its tag and the photometric interpretation from a SimpleITK reader's DICOM metadata.

    Raises:
        ValueError: a spacing tag that is present but not two positive numbers (the message names the file).
    """
    path = reader.GetFileName()
    keys = set(reader.GetMetaDataKeys())
    photometric = reader.GetMetaData(_PHOTOMETRIC).strip() if _PHOTOMETRIC in keys else ""
    for name, key in DICOM_SPACING_TAGS:
        text = reader.GetMetaData(key) if key in keys else ""
        if text.strip().strip("\x00"):
            return DicomInfo(_spacing_value(text, name, path), name, photometric)
    return DicomInfo((math.nan, math.nan), None, photometric)
