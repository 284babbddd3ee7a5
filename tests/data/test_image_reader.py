"""Tests of SITKReader and the image helpers: formats, layout, spacing, colour, errors, NIfTI heatmaps."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
import torch
from monai.transforms import LoadImage, LoadImaged
from PIL import Image

from monai_landmarks.data.image_reader import (
    ImageReadError,
    SITKReader,
    read_image,
    read_image_header,
    read_image_size,
    rgb_to_gray,
    save_heatmaps_nifti,
)

W, H = 16, 8
SPACING = (0.3, 0.4)


def bright_pixel_image(dtype=np.uint16) -> sitk.Image:
    """A 16 x 8 image (SimpleITK size order (W, H)) with its maximum at x = 5, y = 2."""
    array = np.zeros((H, W), dtype)  # numpy order (H, W)
    array[2, 5] = 1000 if dtype == np.uint16 else 200
    array[0, 0] = 7
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING)
    return image


@pytest.mark.parametrize("suffix", [".png", ".mha", ".nii.gz", ".nrrd", ".dcm"])
def test_round_trip_layout_and_spacing(tmp_path, suffix):
    path = tmp_path / f"img{suffix}"
    sitk.WriteImage(bright_pixel_image(), str(path))
    img = LoadImage(reader=SITKReader(), ensure_channel_first=True, image_only=True)(path)
    assert tuple(img.shape) == (1, W, H)
    assert img[0, 5, 2] == img.max() == 1000 and img[0, 0, 0] == 7
    np.testing.assert_allclose(img.meta["spacing"], SPACING, rtol=1e-6)
    np.testing.assert_allclose(img.affine[:2, :2].numpy(), np.diag(SPACING), rtol=1e-6)
    assert tuple(img.meta["spatial_shape"]) == (W, H)
    assert img.meta["filename_or_obj"] == str(path)
    assert img.dtype == torch.float32


def test_affine_has_origin_and_no_flip(tmp_path):
    image = bright_pixel_image()
    image.SetOrigin((10.0, -2.5))
    sitk.WriteImage(image, str(tmp_path / "img.mha"))
    array, meta = SITKReader().get_data(SITKReader().read(tmp_path / "img.mha"))
    expected = np.array([[0.3, 0, 10.0], [0, 0.4, -2.5], [0, 0, 1]])
    np.testing.assert_allclose(meta["affine"], expected)
    assert array.shape == (W, H) and array.dtype == np.float32  # 16-bit kept as float
    assert np.isnan(meta["original_channel_dim"])


def test_dotted_path_for_bundles(tmp_path):
    sitk.WriteImage(bright_pixel_image(np.uint8), str(tmp_path / "img.png"))
    load = LoadImaged(keys="image", reader="monai_landmarks.data.image_reader.SITKReader", ensure_channel_first=True)
    out = load({"image": str(tmp_path / "img.png")})
    assert tuple(out["image"].shape) == (1, W, H) and out["image"][0, 5, 2] == 200


def test_colour_to_gray(tmp_path):
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[2, 5] = (200, 100, 50)
    rgb[3, 3] = (90, 90, 90)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([rgb, np.full((H, W), 9, np.uint8)])).save(tmp_path / "rgba.png")
    expected = round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)
    for name in ("rgb.png", "rgba.png"):
        img = LoadImage(reader=SITKReader(), ensure_channel_first=True, image_only=True)(tmp_path / name)
        assert tuple(img.shape) == (1, W, H) and img[0, 5, 2] == expected and img[0, 3, 3] == 90
    kept = LoadImage(reader=SITKReader(channels="keep"), ensure_channel_first=True, image_only=True)(
        tmp_path / "rgb.png"
    )
    assert tuple(kept.shape) == (3, W, H) and kept[:, 5, 2].tolist() == [200, 100, 50]
    same = np.repeat(np.arange(W * H, dtype=np.uint8).reshape(H, W, 1), 3, axis=2)
    np.testing.assert_array_equal(rgb_to_gray(same), same[..., 0])  # identical channels: exact


def test_stacking_several_files(tmp_path):
    for name in ("a.png", "b.png"):
        sitk.WriteImage(bright_pixel_image(np.uint8), str(tmp_path / name))
    img = LoadImage(reader=SITKReader(), image_only=True)([tmp_path / "a.png", tmp_path / "b.png"])
    assert tuple(img.shape) == (2, W, H)


def test_header_and_size_helpers(tmp_path):
    sitk.WriteImage(bright_pixel_image(), str(tmp_path / "img.nrrd"))
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "img.png")
    header = read_image_header(tmp_path / "img.nrrd")
    assert header.size == (W, H) and header.spacing == pytest.approx(SPACING) and header.num_components == 1
    assert read_image_size(tmp_path / "img.png") == (W, H) == read_image_size(tmp_path / "img.nrrd")
    array, _ = read_image(tmp_path / "img.nrrd")
    assert array.dtype == np.uint16 and array[5, 2] == 1000  # read_image keeps the file's dtype


def write_corrupt_files(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (30, 40), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "ok.png")
    Image.fromarray(noise).save(tmp_path / "ok.jpg", quality=90)
    for name in ("ok.png", "ok.jpg"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / f"truncated{name[2:]}").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.png").write_bytes(b"this is not an image")
    volume = sitk.GetImageFromArray(np.zeros((3, H, W), np.uint8))
    sitk.WriteImage(volume, str(tmp_path / "volume.mha"))


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing.png", "missing.png: image file not found"),
        ("truncated.png", "truncated.png: cannot read pixel data"),
        ("truncated.jpg", r"truncated.jpg: truncated JPEG"),
        ("garbage.png", "garbage.png: not a readable image"),
        ("volume.mha", r"volume.mha: expected a 2D image .* got size \(16, 8, 3\)"),
    ],
)
def test_bad_files_raise_naming_the_file(tmp_path, name, message):
    write_corrupt_files(tmp_path)
    loader = LoadImage(reader=SITKReader(), image_only=True)
    with pytest.raises(ImageReadError, match=message):
        loader(tmp_path / name)
    assert loader(tmp_path / "ok.jpg").shape == (40, 30)


def test_pixel_limit_checked_on_the_header(tmp_path):
    write_corrupt_files(tmp_path)  # truncated.png has a valid header and 40 x 30 = 1200 pixels
    with pytest.raises(ImageReadError, match=r"truncated.png: image of 40 x 30 .* exceeds max_pixels=1000 .*memory"):
        LoadImage(reader=SITKReader(max_pixels=1000), image_only=True)(tmp_path / "truncated.png")
    assert LoadImage(reader=SITKReader(max_pixels=None), image_only=True)(tmp_path / "ok.png").shape == (40, 30)


def test_reader_arguments_and_suffixes():
    with pytest.raises(ValueError, match=r"channels must be one of \('gray', 'keep'\)"):
        SITKReader(channels="rgb")
    with pytest.raises(ValueError, match="max_pixels"):
        SITKReader(max_pixels=0)
    reader = SITKReader()
    assert reader.verify_suffix("a.nii.gz") and reader.verify_suffix(["a.dcm", "b.PNG"])
    assert not reader.verify_suffix("a.txt")


def test_save_heatmaps_nifti(tmp_path):
    heatmaps = torch.zeros(3, W, H)
    heatmaps[1, 5, 2] = 1.0
    path = save_heatmaps_nifti(heatmaps, tmp_path / "hm.nii.gz", spacing=SPACING)
    nifti = nib.load(path)
    assert nifti.shape == (W, H, 3)
    np.testing.assert_allclose(nifti.header.get_zooms()[:2], SPACING, rtol=1e-6)
    back = np.moveaxis(nifti.get_fdata(), -1, 0)
    np.testing.assert_array_equal(back, heatmaps.numpy())
    save_heatmaps_nifti(np.zeros((1, W, H)), tmp_path / "unknown.nii", spacing=float("nan"))
    with pytest.raises(ValueError, match=r"\.nii or \.nii\.gz"):
        save_heatmaps_nifti(heatmaps, tmp_path / "hm.png")
    with pytest.raises(ValueError, match=r"shape \(K, W, H\)"):
        save_heatmaps_nifti(heatmaps[0], tmp_path / "hm.nii")
    with pytest.raises(ValueError, match="positive"):
        save_heatmaps_nifti(heatmaps, tmp_path / "hm.nii", spacing=0)
