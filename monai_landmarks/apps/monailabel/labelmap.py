"""Landmarks as label maps, both ways: the result OHIF v3 shows (a disc of value ``k + 1`` at landmark ``k``) and
the label 3D Slicer's *Submit Label* sends (one painted blob per landmark, read back as the blobs' centroids).

What the Slicer plugin (MONAI Label 0.8.5, ``plugins/slicer``, ``onSaveLabel``) sends: the segments of its
segmentation node exported as one label map on the image's grid (``.nii.gz`` by default, ``.seg.nrrd`` when the
user picks that extension), with ``params = {"label_info": [{"name": <segment name>, "idx": <value>}, ...]}``.
A value's landmark is the segment name given for it in ``label_info`` (or in a ``.seg.nrrd``'s ``SegmentN_Name``
/ ``SegmentN_LabelValue`` fields), else the app's own label value, ``index + 1`` (the model's ``labels``).
Nothing here imports ``monailabel``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk
import torch

from monai_landmarks.apps.monailabel.labels import LandmarkLabelError
from monai_landmarks.apps.monailabel.markups import image_geometry

__all__ = ["LABELMAP_SUFFIXES", "is_labelmap_name", "landmark_labelmap", "points_from_labelmap"]

#: label map files the app reads as a label (what the Slicer plugin writes, and the other formats ITK reads)
LABELMAP_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".seg.nrrd", ".nhdr", ".mha", ".mhd")


def is_labelmap_name(name) -> bool:
    return str(name).lower().endswith(LABELMAP_SUFFIXES)


def landmark_labelmap(points, image, radius: int | None = None) -> str:
    """A ``uint8`` NRRD label map on ``image``'s grid with a disc of value ``k + 1`` at landmark ``k``; its path.

    ``radius`` in pixels, default 1 % of the smaller side (at least 2). NaN landmarks are left out.
    """
    reader = sitk.ImageFileReader()
    reader.SetFileName(image)
    reader.ReadImageInformation()
    w, h = reader.GetSize()[:2]
    r = radius if radius is not None else max(2, round(min(w, h) / 100))
    rows, cols = np.ogrid[:h, :w]
    label = np.zeros((h, w), dtype=np.uint8)
    for k, (x, y) in enumerate(np.asarray(torch.as_tensor(points).reshape(-1, 2).cpu(), dtype=np.float64)):
        if np.isfinite([x, y]).all():
            label[(cols - x) ** 2 + (rows - y) ** 2 <= r * r] = k + 1
    out = sitk.GetImageFromArray(label.reshape((1, h, w)) if reader.GetDimension() == 3 else label)
    out.SetOrigin(reader.GetOrigin())
    out.SetSpacing(reader.GetSpacing())
    out.SetDirection(reader.GetDirection())
    path = tempfile.NamedTemporaryFile(suffix=".nrrd", delete=False).name
    sitk.WriteImage(out, path, useCompression=False)  # OHIF v3 asks for uncompressed results
    return path


def _read(path, where: str) -> sitk.Image:
    try:
        label = sitk.ReadImage(str(path))
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1] if str(err).strip() else ""
        raise LandmarkLabelError(f"{where}: cannot be read as a label map ({first}).") from None
    if label.GetNumberOfComponentsPerPixel() != 1 or label.GetDimension() not in (2, 3):
        raise LandmarkLabelError(
            f"{where}: expected a 2D label map (one value per pixel), got {label.GetDimension()}D with "
            f"{label.GetNumberOfComponentsPerPixel()} components (overlapping segments: save as .nii.gz)."
        )
    if label.GetDimension() == 3 and label.GetSize()[2] != 1:
        raise LandmarkLabelError(f"{where}: a label map of {label.GetSize()[2]} slices; an X-ray label has one.")
    return label


def _value_names(label: sitk.Image, label_info) -> dict[int, str]:
    """``{label value: segment name}`` from the request's ``label_info`` and a ``.seg.nrrd``'s segment fields."""
    names = {}
    keys = set(label.GetMetaDataKeys())
    for key in keys:
        if key.startswith("Segment") and key.endswith("_Name"):
            value_key = key[: -len("_Name")] + "_LabelValue"
            if value_key in keys and label.GetMetaData(value_key).strip().isdigit():
                names[int(label.GetMetaData(value_key))] = label.GetMetaData(key)
    for entry in label_info or []:
        if isinstance(entry, dict) and isinstance(entry.get("idx"), int) and isinstance(entry.get("name"), str):
            names[entry["idx"]] = entry["name"]
    return names


def points_from_labelmap(path, image, names: Sequence[str], label_info=None, where: str = "label map") -> np.ndarray:
    """``(K, 2)`` float32 pixels of ``image`` (NaN for landmarks not painted): the centroid of each value's blob,
    mapped from the label map's grid to the image's through both ITK geometries.

    Args:
        path: the label map file.
        image: the datastore image it labels.
        names: the model's landmark names, in channel order.
        label_info: the Slicer plugin's ``[{"name": ..., "idx": value}, ...]`` (optional).
        where: what to call the input in error messages.

    Raises:
        LandmarkLabelError: unreadable, not one 2D slice, not integer, empty, a value of no landmark, a landmark
            with two values, a value painted as several blobs, or a centroid outside the image.
    """
    label = _read(path, where)
    array = sitk.GetArrayViewFromImage(label)
    if not np.issubdtype(array.dtype, np.integer):
        raise LandmarkLabelError(f"{where}: label values must be integers, got {array.dtype}.")
    values = [int(v) for v in np.unique(array) if v > 0]
    if not values:
        raise LandmarkLabelError(f"{where}: the label map is empty; paint one blob per landmark.")
    lookup = {n.lower(): k for k, n in enumerate(names)}
    known = ", ".join(list(names)[:8]) + (", ..." if len(names) > 8 else "")
    value_names = _value_names(label, label_info)
    img, dim = image_geometry(image)
    points = np.full((len(names), 2), np.nan, dtype=np.float32)
    unnamed = sorted(set(values) - set(value_names))
    if value_names and unnamed:  # the names and the map disagree: guessing would put a landmark's name on another
        raise LandmarkLabelError(
            f"{where}: label values {unnamed} have no segment in label_info (it names values "
            f"{sorted(value_names)}); submit only the landmark segments, or a map whose values are the model's labels."
        )
    for value in values:
        if value in value_names:
            name = value_names[value].strip()
            if name.lower() not in lookup:
                raise LandmarkLabelError(
                    f"{where}: segment {name!r} (value {value}) is not a landmark of the model ({known}); "
                    "name each segment after its landmark."
                )
            k = lookup[name.lower()]
        elif value <= len(names):
            k = value - 1
        else:
            raise LandmarkLabelError(
                f"{where}: value {value} is no landmark: the model's label values are 1..{len(names)} "
                "(the server's /info labels), or name the segments in label_info."
            )
        if not np.isnan(points[k]).all():
            raise LandmarkLabelError(f"{where}: landmark {names[k]!r} is painted with two label values.")
        points[k] = _blob_centre(label, value, img, dim, f"{where}: value {value} ({names[k]})")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(image))
    reader.ReadImageInformation()  # image_geometry read it already
    width, height = reader.GetSize()[:2]
    if (points < -0.5).any() or (points[:, 0] > width - 0.5).any() or (points[:, 1] > height - 0.5).any():
        raise LandmarkLabelError(f"{where}: a blob lies outside the image (is it the label map of another image?).")
    return points


def _blob_centre(label: sitk.Image, value: int, img: sitk.Image, dim: int, where: str) -> tuple[float, float]:
    """The image pixel of the centroid of the one blob of ``value``."""
    mask = sitk.Equal(label, value)
    blobs = int(sitk.GetArrayFromImage(sitk.ConnectedComponent(mask)).max())  # a view would outlive its image
    if blobs > 1:
        raise LandmarkLabelError(f"{where}: painted as {blobs} separate blobs; paint one blob per landmark.")
    rows_cols = np.argwhere(sitk.GetArrayFromImage(mask).reshape(label.GetSize()[1], label.GetSize()[0]))
    y, x = rows_cols.mean(axis=0)
    centre = [float(x), float(y), 0.0][: label.GetDimension()]
    physical = label.TransformContinuousIndexToPhysicalPoint(centre)
    point = [float(v) for v in physical[:dim]] + [0.0] * (dim - len(physical))
    index = img.TransformPhysicalPointToContinuousIndex(point)
    return float(index[0]), float(index[1])
