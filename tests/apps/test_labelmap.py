"""Label maps <-> landmark pixels: 3D Slicer's Submit Label (one blob per landmark) read back as landmarks, and the
OHIF result map (no ``monailabel`` needed)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from monai_landmarks.apps.monailabel.labelmap import landmark_labelmap, points_from_labelmap
from monai_landmarks.apps.monailabel.labels import LandmarkLabelError

NAMES = ["sella", "Nasion", "orbitale"]


def _png(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((30, 40), dtype=np.uint8)).save(path)  # W=40, H=30
    return path


def _labelmap(path, array, origin=(0.0, 0.0, 0.0), spacing=(1.0, 1.0, 1.0)):
    """A one-slice 3D label map (as Slicer exports a 2D volume's segments), ``array`` as (H, W)."""
    img = sitk.GetImageFromArray(array[None].astype(np.uint8))
    img.SetOrigin(origin)
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


def _blobs(centres, values, shape=(30, 40), r=2):
    label = np.zeros(shape, dtype=np.uint8)
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    for (x, y), v in zip(centres, values, strict=True):
        label[(cols - x) ** 2 + (rows - y) ** 2 <= r * r] = v
    return label


def test_blob_centroids_by_label_value_and_by_segment_name(tmp_path):
    image = _png(tmp_path)
    path = _labelmap(tmp_path / "l.nii.gz", _blobs([(5, 6), (20, 10)], [1, 3]))
    points = points_from_labelmap(path, image, NAMES)  # values are index + 1
    np.testing.assert_allclose(points[[0, 2]], [[5, 6], [20, 10]], atol=1e-6)
    assert np.isnan(points[1]).all()
    # the Slicer plugin's label_info names the segment of each value (case-insensitive)
    info = [{"name": "nasion", "idx": 1}, {"name": "SELLA", "idx": 3}]
    named = points_from_labelmap(path, image, NAMES, info)
    np.testing.assert_allclose(named[[1, 0]], [[5, 6], [20, 10]], atol=1e-6)


def test_geometry_maps_the_label_grid_onto_the_image(tmp_path):
    img = sitk.Image(40, 30, sitk.sitkUInt8)
    img.SetOrigin((10.0, 20.0))
    img.SetSpacing((0.5, 0.5))
    image = tmp_path / "a.mha"
    sitk.WriteImage(img, str(image))
    # a label map at 1 mm on the same physical extent: label pixel (5, 6) is physical (15, 26) = image (10, 12)
    path = _labelmap(tmp_path / "l.nrrd", _blobs([(5, 6)], [2], shape=(15, 20)), (10.0, 20.0, 0.0))
    np.testing.assert_allclose(points_from_labelmap(path, image, NAMES)[1], [10, 12], atol=1e-6)


def test_the_ohif_result_map_reads_back(tmp_path):
    image = _png(tmp_path)
    truth = np.array([[5.0, 6.0], [20.0, 10.0], [33.0, 25.0]])
    path = landmark_labelmap(truth, str(image), radius=2)
    np.testing.assert_allclose(points_from_labelmap(path, image, NAMES), truth, atol=1e-6)


@pytest.mark.parametrize(
    "label, info, message",
    [
        (np.zeros((30, 40)), None, "the label map is empty"),
        (_blobs([(5, 6), (30, 20)], [1, 1]), None, "2 separate blobs; paint one blob per landmark"),
        (_blobs([(5, 6)], [9]), None, "value 9 is no landmark"),
        (_blobs([(5, 6)], [1]), [{"name": "Segment_1", "idx": 1}],
         r"segment 'Segment_1' \(value 1\) is not a landmark"),
        (_blobs([(5, 6), (30, 20)], [1, 2]), [{"name": "sella", "idx": 1}, {"name": "sella", "idx": 2}],
         "painted with two label values"),
        (_blobs([(5, 6), (30, 20)], [1, 2]), [{"name": "sella", "idx": 2}, {"name": "nasion", "idx": 3}],
         r"label values \[1\] have no segment in label_info"),
    ],
)  # fmt: skip
def test_bad_label_maps_are_refused_with_the_reason(tmp_path, label, info, message):
    path = _labelmap(tmp_path / "l.nii.gz", label)
    with pytest.raises(LandmarkLabelError, match=message):
        points_from_labelmap(path, _png(tmp_path), NAMES, info)


def test_unreadable_volume_and_other_image_are_refused(tmp_path):
    image = _png(tmp_path)
    bad = tmp_path / "l.nii.gz"
    bad.write_bytes(b"not a label map")
    with pytest.raises(LandmarkLabelError, match="cannot be read as a label map"):
        points_from_labelmap(bad, image, NAMES)
    volume = sitk.GetImageFromArray(np.zeros((3, 30, 40), dtype=np.uint8))
    sitk.WriteImage(volume, str(tmp_path / "v.nrrd"))
    with pytest.raises(LandmarkLabelError, match="3 slices"):
        points_from_labelmap(tmp_path / "v.nrrd", image, NAMES)
    far = _labelmap(tmp_path / "far.nii.gz", _blobs([(5, 6)], [1]), origin=(100.0, 0.0, 0.0))
    with pytest.raises(LandmarkLabelError, match="outside the image"):
        points_from_labelmap(far, image, NAMES)
