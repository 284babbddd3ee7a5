"""DICOM headers: Pixel Spacing, then Imager Pixel Spacing (row \\ column -> x, y), the tag recorded, MONOCHROME1
inverted. The files are written by pydicom (SimpleITK cannot write MONOCHROME1 or leave the spacing tags out)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from monai.transforms import LoadImage

from monai_landmarks.data.image_reader import ImageReadError, SITKReader, read_image, read_image_header
from tests.dicom_files import write_dicom

pytest.importorskip("pydicom")


@pytest.fixture
def pixels():
    return (np.arange(30 * 40).reshape(30, 40) % 1000).astype(np.uint16)  # H=30 rows, W=40 columns


def test_pixel_spacing_is_row_column_and_wins_over_imager_spacing(tmp_path, pixels):
    path = write_dicom(tmp_path / "a.dcm", pixels, {"PixelSpacing": [0.1, 0.2], "ImagerPixelSpacing": [0.3, 0.3]})
    header = read_image_header(path)
    assert header.spacing == (0.2, 0.1)  # x = column spacing (2nd value), y = row spacing (1st)
    assert header.spacing_tag == "PixelSpacing (0028,0030)"
    image = LoadImage(reader=SITKReader(), ensure_channel_first=True)(str(path))
    assert tuple(image.shape) == (1, 40, 30)
    np.testing.assert_allclose(image.meta["spacing"], [0.2, 0.1])
    assert image.meta["spacing_tag"] == "PixelSpacing (0028,0030)"
    np.testing.assert_allclose(np.diag(image.affine.numpy())[:2], [0.2, 0.1])


def test_imager_pixel_spacing_when_pixel_spacing_is_absent(tmp_path, pixels):
    path = write_dicom(tmp_path / "xray", pixels, {"ImagerPixelSpacing": [0.148, 0.15]})  # no .dcm suffix
    header = read_image_header(path)
    assert header.spacing == (0.15, 0.148)
    assert header.spacing_tag == "ImagerPixelSpacing (0018,1164)"


def test_no_spacing_tag_is_unknown_not_one(tmp_path, pixels):
    header = read_image_header(write_dicom(tmp_path / "a.dcm", pixels))
    assert all(math.isnan(s) for s in header.spacing) and header.spacing_tag is None
    image = LoadImage(reader=SITKReader())(str(tmp_path / "a.dcm"))
    assert np.isnan(image.meta["spacing"]).all()
    assert np.isfinite(image.affine.numpy()).all()  # the grid stays usable


def test_bad_spacing_tag_is_named(tmp_path, pixels):
    path = write_dicom(tmp_path / "a.dcm", pixels, {"PixelSpacing": [0.1, 0.0]})
    with pytest.raises(ImageReadError, match=r"a\.dcm: DICOM PixelSpacing \(0028,0030\) is"):
        read_image_header(path)


def test_monochrome1_is_inverted_once(tmp_path, pixels):
    mono2, _ = read_image(write_dicom(tmp_path / "m2.dcm", pixels))
    mono1, header = read_image(write_dicom(tmp_path / "m1.dcm", pixels, photometric="MONOCHROME1"))
    assert header.photometric == "MONOCHROME1"
    np.testing.assert_array_equal(mono2, pixels.T.astype(mono2.dtype))
    # mirrored exactly once: the two readings add up to one constant (inverting twice would make them differ by one)
    total = mono1.astype(np.int64) + mono2.astype(np.int64)
    assert (total == total.flat[0]).all() and np.ptp(mono1) == np.ptp(pixels)


def test_nominal_scanned_pixel_spacing_is_read_last(tmp_path, pixels):
    """Digitised film (and SimpleITK's DICOM writer) give only Nominal Scanned Pixel Spacing (0018,2010)."""
    path = write_dicom(tmp_path / "film.dcm", pixels, {"NominalScannedPixelSpacing": [0.1, 0.15]})
    header = read_image_header(path)
    assert header.spacing == (0.15, 0.1) and header.spacing_tag == "NominalScannedPixelSpacing (0018,2010)"
    both = {"ImagerPixelSpacing": [0.3, 0.3], "NominalScannedPixelSpacing": [0.1, 0.1]}
    assert read_image_header(write_dicom(tmp_path / "both.dcm", pixels, both)).spacing == (0.3, 0.3)
