"""3D Slicer markups JSON (``.mrk.json``) point lists <-> the app's landmarks, through the image's ITK geometry.

Mapping
    A control point's ``position`` is in millimetres in the markup's ``coordinateSystem``: ``"LPS"`` (Slicer's
    default for files since 4.11) or ``"RAS"``, which is LPS with x and y negated. The LPS point is ITK's physical
    point of the image: ``origin + direction @ (spacing * index)``, with the origin, spacing and direction that
    SimpleITK reads from the image header, which is the geometry Slicer gives the same file. The continuous index
    ``(i, j)`` is the landmark ``(x, y)`` in pixels (0-based pixel centres, x = column), the app's coordinates; the
    third axis (the slice of a 2D image, 0) is dropped. A PNG has origin 0, spacing 1 and no rotation, so the LPS
    position of landmark ``(x, y)`` is ``(x, y, 0)`` and its RAS position ``(-x, -y, 0)``.

    The geometry is the header's, not the dataset's spacing: a DICOM's ITK spacing can differ from the Pixel
    Spacing / Imager Pixel Spacing the reader reports (``monai_landmarks.data.dicom``); the pixel coordinates do not
    depend on it as long as both sides use the same header.

Names
    Each control point's ``label`` names its landmark (case-insensitive, as in the bundle's metadata); points whose
    ``positionStatus`` is not ``"defined"`` are left out (missing). Inference results are written the same way, so
    a result corrected in Slicer and saved with File > Save reads back as a label.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from monai_landmarks.apps.monailabel.labels import LandmarkLabelError, first_fitting_label

__all__ = [
    "MARKUPS_SCHEMA",
    "image_geometry",
    "is_markups",
    "label_from_markups",
    "markups_from_points",
    "points_from_markups",
    "read_markups",
]

MARKUPS_SCHEMA = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/"
    "markups-schema-v1.0.3.json#"
)


def is_markups(record) -> bool:
    """True for a decoded Slicer markups file (an object with a ``markups`` list)."""
    return isinstance(record, dict) and isinstance(record.get("markups"), list)


def _geometry(image) -> sitk.ImageFileReader:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(image))
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        raise LandmarkLabelError(f"{Path(image).name}: cannot read the image geometry ({err}).") from None
    return reader


def image_geometry(image):
    """A 1-pixel image holding ``image``'s ITK geometry (origin, spacing, direction) and its dimension."""
    reader = _geometry(image)
    dim = reader.GetDimension()
    img = sitk.Image([1] * dim, sitk.sitkUInt8)  # only the geometry is used
    img.SetOrigin(reader.GetOrigin())
    img.SetSpacing(reader.GetSpacing())
    img.SetDirection(reader.GetDirection())
    return img, dim


def points_from_markups(record, image, names: Sequence[str], where: str = "markups") -> np.ndarray:
    """``(K, 2)`` float32 pixels (NaN for landmarks not in the file) from a decoded markups file of ``image``.

    Raises:
        LandmarkLabelError: not a point list, an unknown or repeated landmark label, a bad position, an unknown
            coordinate system.
    """
    if not is_markups(record):
        raise LandmarkLabelError(f"{where}: not a Slicer markups file (no 'markups' list).")
    lookup = {n.lower(): k for k, n in enumerate(names)}
    points = np.full((len(names), 2), np.nan, dtype=np.float32)
    img, dim = image_geometry(image)
    found = 0
    for m, markup in enumerate(record["markups"]):
        if not isinstance(markup, dict) or markup.get("type", "Fiducial") != "Fiducial":
            continue  # ROIs, lines, curves: not landmarks
        system = str(markup.get("coordinateSystem", "LPS")).upper()
        if system not in ("LPS", "RAS"):
            raise LandmarkLabelError(f"{where}: markups[{m}]: coordinateSystem must be LPS or RAS, got {system!r}.")
        for c, point in enumerate(markup.get("controlPoints") or []):
            at = f"{where}: markups[{m}].controlPoints[{c}]"
            if point.get("positionStatus", "defined") != "defined":
                continue
            label = str(point.get("label", "")).strip()
            if label.lower() not in lookup:
                known = ", ".join(list(names)[:8]) + (", ..." if len(names) > 8 else "")
                raise LandmarkLabelError(f"{at}: label {label!r} is not a landmark of the model ({known}).")
            k = lookup[label.lower()]
            if not np.isnan(points[k]).all():
                raise LandmarkLabelError(f"{at}: landmark {label!r} is given twice.")
            position = point.get("position")
            if not (
                isinstance(position, list)
                and len(position) == 3
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in position)
            ):
                raise LandmarkLabelError(f"{at}: 'position' must be three finite numbers (mm), got {position!r}.")
            lps = [-position[0], -position[1], position[2]] if system == "RAS" else list(position)
            index = img.TransformPhysicalPointToContinuousIndex([float(v) for v in lps[:dim]])
            points[k] = index[:2]
            found += 1
    if not found:
        raise LandmarkLabelError(f"{where}: no defined control point of a point list (Fiducial markup).")
    if (points < -0.5).any():
        raise LandmarkLabelError(f"{where}: a control point lies outside the image (negative pixel coordinates).")
    return points


def markups_from_points(points, names: Sequence[str], image, confidence=None) -> dict:
    """A Slicer markups point list (LPS, mm) of ``(K, 2)`` pixel landmarks of ``image``; NaN landmarks are left out.

    ``confidence`` (``(K,)``) goes into each control point's ``description``.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    conf = None if confidence is None else np.asarray(confidence, dtype=np.float64).reshape(-1)
    img, dim = image_geometry(image)
    control_points = []
    for k, (x, y) in enumerate(pts):
        if not np.isfinite([x, y]).all():
            continue
        lps = list(img.TransformContinuousIndexToPhysicalPoint([float(x), float(y), 0.0][:dim]))
        lps += [0.0] * (3 - len(lps))
        control_points.append(
            {
                "id": str(k + 1),
                "label": names[k],
                "description": "" if conf is None else f"confidence {conf[k]:.4f}",
                "position": lps,
                "positionStatus": "defined",
            }
        )
    markup = {"type": "Fiducial", "coordinateSystem": "LPS", "coordinateUnits": "mm", "controlPoints": control_points}
    return {"@schema": MARKUPS_SCHEMA, "markups": [markup]}


def read_markups(path) -> dict:
    """The decoded JSON of a markups file; errors name the file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LandmarkLabelError(f"{Path(path).name}: not a JSON file ({err}).") from None


def label_from_markups(record, image, name_sets: Sequence[Sequence[str]], where: str = "markups") -> dict:
    """The app's label record (:mod:`.labels`) of a decoded markups file, for the first model whose landmark names
    fit its control point labels.

    Raises:
        LandmarkLabelError: it fits no served model (the first model's reason).
    """
    return first_fitting_label(
        name_sets,
        lambda names: points_from_markups(record, image, names, where),
        "3D Slicer markups, mapped through the image's ITK geometry",
        f"{where}: no served model to read landmark names from.",
    )
