"""DICOM files for tests, written with pydicom (the ``dev`` extra): SimpleITK cannot write MONOCHROME1 or leave
the spacing tags out."""

from __future__ import annotations

import numpy as np

_PIXELS = object()


def write_dicom(
    path, pixels_hw: np.ndarray, tags: dict | None = None, photometric: str = "MONOCHROME2", pixel_data=_PIXELS
):
    """A minimal secondary-capture DICOM of ``(H, W)`` uint16 pixels with the given extra attributes.

    ``tags`` are set after Rows and Columns, so they can contradict the pixels (malformed files); ``pixel_data``
    replaces the pixel bytes (None: no Pixel Data element at all).
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels_hw.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    for key, value in (tags or {}).items():
        setattr(ds, key, value)
    if pixel_data is _PIXELS:
        ds.PixelData = np.ascontiguousarray(pixels_hw, dtype="<u2").tobytes()
    elif pixel_data is not None:
        ds.PixelData = pixel_data
    try:
        pydicom.dcmwrite(path, ds, enforce_file_format=True)  # pydicom 3
    except TypeError:
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(path, write_like_original=False)  # pydicom 2
    return path
