"""3D Slicer markups (.mrk.json) <-> landmark pixels through the image's ITK geometry (no ``monailabel`` needed)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from monai_landmarks.apps.monailabel.labels import LandmarkLabelError, parse_label
from monai_landmarks.apps.monailabel.markups import (
    label_from_markups,
    markups_from_points,
    points_from_markups,
)

NAMES = ["sella", "Nasion", "orbitale"]


def _png(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((30, 40), dtype=np.uint8)).save(path)  # W=40, H=30
    return path


def _markups(points, system="LPS", labels=NAMES, status="defined"):
    control = [{"label": n, "position": list(p), "positionStatus": status} for n, p in zip(labels, points, strict=True)]
    return {"markups": [{"type": "Fiducial", "coordinateSystem": system, "controlPoints": control}]}


def test_png_lps_is_pixels_and_ras_negates_x_and_y(tmp_path):
    image = _png(tmp_path)
    lps = points_from_markups(_markups([(3, 4, 0), (10.5, 2.25, 0), (39, 29, 0)]), image, NAMES)
    np.testing.assert_allclose(lps, [[3, 4], [10.5, 2.25], [39, 29]])
    ras = points_from_markups(_markups([(-3, -4, 0), (-10.5, -2.25, 0), (-39, -29, 0)], "RAS"), image, NAMES)
    np.testing.assert_allclose(ras, lps)


def test_origin_spacing_and_direction_of_the_header(tmp_path):
    img = sitk.Image(40, 30, sitk.sitkUInt8)
    img.SetOrigin((10.0, -5.0))
    img.SetSpacing((0.5, 0.25))
    img.SetDirection((0.0, -1.0, 1.0, 0.0))  # rotated by 90 degrees (row-major direction matrix)
    path = tmp_path / "a.mha"
    sitk.WriteImage(img, str(path))
    # physical = origin + D @ (spacing * index): index (4, 8) -> (10 + 0*2 - 1*2, -5 + 1*2 + 0) = (8, -3)
    points = points_from_markups(_markups([(8.0, -3.0, 0.0)], labels=["orbitale"]), path, NAMES)
    np.testing.assert_allclose(points[2], [4, 8], atol=1e-9)
    assert np.isnan(points[:2]).all()  # not given: missing
    back = markups_from_points(points, NAMES, path, confidence=[0.1, 0.2, 0.3])
    (markup,) = back["markups"]
    assert markup["coordinateSystem"] == "LPS" and [c["label"] for c in markup["controlPoints"]] == ["orbitale"]
    np.testing.assert_allclose(markup["controlPoints"][0]["position"], [8.0, -3.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(points_from_markups(back, path, NAMES), points, atol=1e-9)  # round trip


def test_labels_match_names_case_insensitively_and_undefined_points_are_missing(tmp_path):
    image = _png(tmp_path)
    record = _markups([(1, 2, 0), (5, 6, 0)], labels=["SELLA", "nasion"])
    record["markups"][0]["controlPoints"][1]["positionStatus"] = "undefined"
    record["markups"].append({"type": "ROI", "controlPoints": [{"label": "x", "position": [0, 0, 0]}]})  # ignored
    points = points_from_markups(record, image, NAMES)
    np.testing.assert_allclose(points[0], [1, 2])
    assert np.isnan(points[1:]).all()


@pytest.mark.parametrize(
    "record, match",
    [
        ({"landmarks": []}, "not a Slicer markups file"),
        (_markups([(1, 2, 0)], labels=["F-1"]), "label 'F-1' is not a landmark"),
        (_markups([(1, 2, 0), (3, 4, 0)], labels=["sella", "Sella"]), "given twice"),
        (_markups([(1, 2)], labels=["sella"]), "three finite numbers"),
        (_markups([(1, 2, 0)], system="IJK", labels=["sella"]), "LPS or RAS"),
        (_markups([(-5, 2, 0)], labels=["sella"]), "outside the image"),
        (_markups([(1, 2, 0)], labels=["sella"], status="undefined"), "no defined control point"),
    ],
)
def test_bad_markups_are_named(tmp_path, record, match):
    with pytest.raises(LandmarkLabelError, match=match):
        points_from_markups(record, _png(tmp_path), NAMES, "a.mrk.json")


def test_label_from_markups_picks_the_model_whose_names_fit(tmp_path):
    record = _markups([(7, 8, 0)], labels=["capitate"])
    label = label_from_markups(record, _png(tmp_path), [NAMES, ["radius", "capitate"]])
    points, spacing = parse_label(label, ["radius", "capitate"])  # a valid label of the app's own format
    np.testing.assert_allclose(points, [[np.nan, np.nan], [7, 8]])
    with pytest.raises(LandmarkLabelError, match="not a landmark"):
        label_from_markups(record, _png(tmp_path), [NAMES])
