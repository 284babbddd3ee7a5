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

Pixel data
    GDCM decodes an uncompressed Pixel Data element shorter than ``Rows x Columns x Number of Frames x Samples x
    Bits Allocated / 8`` (a file cut short, or Rows / Columns that contradict the pixels) without an error, padding
    or inventing the rest: :func:`check_pixel_data` compares the element's length with the header's.

The tags are read through SimpleITK's GDCM metadata (keys like ``"0028|0030"``), so no DICOM library is needed.
"""

from __future__ import annotations

import math
import os
import re
import struct
from dataclasses import dataclass

__all__ = ["DICOM_SPACING_TAGS", "DicomInfo", "check_pixel_data", "dicom_info", "is_dicom"]

#: tags tried in order for the pixel spacing: (name recorded in the output, SimpleITK metadata key)
DICOM_SPACING_TAGS = (
    ("PixelSpacing (0028,0030)", "0028|0030"),
    ("ImagerPixelSpacing (0018,1164)", "0018|1164"),
    ("NominalScannedPixelSpacing (0018,2010)", "0018|2010"),
)
_PHOTOMETRIC = "0028|0004"
_PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"  # (7FE0,0010), little endian
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


def _int_tag(reader, key: str, default: int) -> int:
    keys = reader.GetMetaDataKeys()
    text = reader.GetMetaData(key).strip().strip("\x00") if key in keys else ""
    try:
        return int(float(text)) if text else default
    except ValueError:
        return default


def _pixel_data_length(path: str) -> tuple[int, int] | None:
    """``(length, bytes present)`` of the last Pixel Data element of a little-endian file, or None when not found or
    encapsulated (compressed pixel data has an undefined length; its codec checks the frames)."""
    with open(path, "rb") as f:
        data = f.read()
    at = data.rfind(_PIXEL_DATA_TAG)
    if at < 0:
        return None
    if data[at + 4 : at + 6] in (b"OW", b"OB"):  # explicit VR: 2 reserved bytes, then a 4-byte length
        start = at + 12
        (length,) = struct.unpack("<I", data[at + 8 : start])
    else:
        start = at + 8
        (length,) = struct.unpack("<I", data[at + 4 : start])
    return None if length == 0xFFFFFFFF else (length, len(data) - start)


def check_pixel_data(reader) -> None:
    """Refuse an uncompressed DICOM whose Pixel Data is shorter than its Rows, Columns, frames and bits announce.

    Raises:
        ValueError: the message names the file, the bytes found and those the header announces.
    """
    path = reader.GetFileName()
    if not os.path.isfile(path):
        return
    rows, columns = _int_tag(reader, "0028|0010", 0), _int_tag(reader, "0028|0011", 0)
    frames, samples = _int_tag(reader, "0028|0008", 1), _int_tag(reader, "0028|0002", 1)
    needed = rows * columns * frames * samples * max(_int_tag(reader, "0028|0100", 8), 8) // 8
    found = _pixel_data_length(path)
    if found is None:
        return
    length, present = found
    if min(length, present) < needed:
        raise ValueError(
            f"{path}: DICOM Pixel Data holds {min(length, present)} bytes, but Rows x Columns ({rows} x {columns}"
            f"{f' x {frames} frames' if frames != 1 else ''}) need {needed}: the file is cut short or its Rows / "
            "Columns are wrong."
        )
