"""Landmarks as MONAI Label sees them: the label JSON files clients store in the datastore, the ``centroids`` of
an inference result, and the landmark names of a served bundle. Nothing here imports ``monailabel``, so the
format is tested in the main environment.

A label file (``<image id>.json`` under the datastore's ``labels/final``) is one JSON object (a 3D Slicer markups
file, ``.mrk.json``, or a label map with one blob per landmark, as Slicer's Submit Label sends, is converted to it
on upload: :mod:`.markups`, :mod:`.labelmap`)::

    {
      "landmarks": [
        {"name": "sella", "x": 101.5, "y": 80.25},
        {"index": 1, "x": 140.0, "y": 72.0}
      ],
      "spacing_mm": [0.1, 0.1]
    }

``x`` is the column and ``y`` the row, in pixels of the stored image, 0-based pixel centres (the package's
coordinate contract, ``monai_landmarks.utils.coords``). Each entry names its landmark by ``name`` (as in the
bundle's metadata, case-insensitive) or by 0-based ``index``; landmarks left out are missing (NaN) and do not
train. ``spacing_mm`` (mm per pixel, ``[x, y]`` or one number) is optional. The inference result of this app has
the same ``landmarks`` list, so a corrected result can be saved back as the label.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from monai.bundle import ConfigParser

from monai_landmarks.data.spacing import Spacing
from monai_landmarks.metrics.protocol import WRIST_WIDTH_MM, ErrorProtocol
from monai_landmarks.utils.keys import Keys

__all__ = [
    "LandmarkLabelError",
    "bundle_domains",
    "bundle_landmark_names",
    "bundle_protocol",
    "centroids",
    "check_label_file",
    "first_fitting_label",
    "label_sample",
    "parse_label",
    "parse_spacing",
]


class LandmarkLabelError(ValueError):
    """A landmarks label (or a request value) that does not follow the format; the message names the input."""


def bundle_landmark_names(bundle_dir, domain: int | None = None) -> list[str]:
    """Landmark names of a bundle, in channel order, from ``configs/metadata.json`` (the output's ``channel_def``);
    for one ``domain`` of a universal bundle, from ``configs/inference.json``'s ``domain_landmark_names`` (indices
    where a domain's dataset names none).

    Raises:
        LandmarkLabelError: if the metadata has no output ``channel_def``, or the domain is not the bundle's.
    """
    if domain is not None:
        return _domain_landmark_names(Path(bundle_dir) / "configs" / "inference.json", domain)
    path = Path(bundle_dir) / "configs" / "metadata.json"
    outputs = json.loads(path.read_text(encoding="utf-8")).get("network_data_format", {}).get("outputs", {})
    channel_def = next(iter(outputs.values()), {}).get("channel_def") if outputs else None
    if not channel_def:
        raise LandmarkLabelError(f"{path}: no network_data_format.outputs channel_def to take landmark names from.")
    return [channel_def[k] for k in sorted(channel_def, key=int)]


def bundle_domains(bundle_dir) -> list[str]:
    """The dataset name of each domain of a universal bundle (``configs/inference.json`` ``domain_names``), in
    domain order; ``[]`` for a bundle of one domain (no ``domain`` setting).

    Raises:
        LandmarkLabelError: a universal bundle whose ``domain_names`` is not a list of names.
    """
    path = Path(bundle_dir) / "configs" / "inference.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if "domain" not in config:
        return []
    names = config.get("domain_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise LandmarkLabelError(f"{path}: a universal bundle needs domain_names, one dataset name per domain.")
    return names


def _domain_landmark_names(path: Path, domain: int) -> list[str]:
    config = json.loads(path.read_text(encoding="utf-8"))
    counts, names = config.get("num_landmarks"), config.get("domain_landmark_names")
    if not isinstance(counts, list) or not 0 <= domain < len(counts):
        raise LandmarkLabelError(f"{path}: no domain {domain} (num_landmarks {counts!r}).")
    listed = names[domain] if isinstance(names, list) and domain < len(names) else None
    return [str(n) for n in listed] if listed else [str(k) for k in range(int(counts[domain]))]


def bundle_protocol(config, samples: Sequence[dict]) -> ErrorProtocol:
    """The error protocol a bundle measures labelled samples in, by the rule of its ``train.json``
    (:meth:`~monai_landmarks.metrics.ErrorProtocol.of_data`): millimetres when every sample has a spacing, else
    the bundle's wrist protocol where it sets ``wrist_pair`` (``htc_hand``), else pixels.

    Args:
        config: the bundle's ``train.json`` content (a dict, or a ``monai.bundle.ConfigParser``, left unchanged).
        samples: datalist items (:func:`label_sample`), NaN spacing where a label has none.
    """
    parser = ConfigParser(copy.deepcopy(getattr(config, "config", config)))  # parsing rewrites macros in place
    calibrated = all(np.isfinite(np.asarray(s[Keys.SPACING], dtype=np.float64)).all() for s in samples)
    wrist_pair = parser.get_parsed_content("wrist_pair", default=None)
    wrist_width_mm = parser.get_parsed_content("wrist_width_mm", default=WRIST_WIDTH_MM)
    return ErrorProtocol.of_data(calibrated, wrist_pair, wrist_width_mm)


def parse_spacing(value, where: str) -> np.ndarray:
    """``(2,)`` float64 mm per pixel from one positive number or ``[x, y]`` (JSON numbers, checked as every spacing
    is: :class:`~monai_landmarks.data.spacing.Spacing`); NaN when ``value`` is None."""
    if value is None:
        return np.full(2, np.nan, dtype=np.float64)
    values = [value] * 2 if _is_number(value) else value
    try:
        if not (isinstance(values, (list, tuple)) and len(values) == 2 and all(_is_number(v) for v in values)):
            raise ValueError("not one number or [x, y]")
        return Spacing.of(values, where).as_array()  # float64: float32 would move SDR ties (see load_datalist)
    except ValueError:
        raise LandmarkLabelError(f"{where}: spacing_mm must be a positive number or [x, y], got {value!r}.") from None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _slot(entry: dict, lookup: dict[str, int] | None, count: int | None, where: str) -> int | str:
    """The landmark an entry is for: its index when the names are known (or it gives one), else its name."""
    if "name" in entry:
        name = entry["name"]
        if not isinstance(name, str) or not name.strip():
            raise LandmarkLabelError(f"{where}: 'name' must be a non-empty string, got {name!r}.")
        if lookup is None:
            return name.strip().lower()
        if name.strip().lower() not in lookup:
            known = ", ".join(list(lookup)[:8]) + (", ..." if len(lookup) > 8 else "")
            raise LandmarkLabelError(f"{where}: unknown landmark name {name!r}; the model's landmarks are {known}.")
        return lookup[name.strip().lower()]
    if "index" in entry:
        index = entry["index"]
        if not isinstance(index, int) or isinstance(index, bool) or index < 0 or (count and index >= count):
            limit = f" below {count}" if count else ""
            raise LandmarkLabelError(f"{where}: 'index' must be an integer >= 0{limit}, got {index!r}.")
        return index
    raise LandmarkLabelError(f"{where}: each landmark needs a 'name' or an 'index'.")


def parse_label(record, names: Sequence[str] | None, where: str = "label") -> tuple[np.ndarray, np.ndarray]:
    """Points and spacing of a label record (the decoded JSON).

    Args:
        record: the decoded label JSON.
        names: the model's landmark names (their order is the channel order); None checks the structure only
            and returns one point per entry in file order.
        where: what to call the input in error messages (a file name).

    Returns:
        ``(points, spacing)``: ``(K, 2)`` float32 with NaN for missing landmarks, and ``(2,)`` float64 mm per pixel
        (NaN when not given).

    Raises:
        LandmarkLabelError: any departure from the format in the module docstring.
    """
    if not isinstance(record, dict):
        raise LandmarkLabelError(
            f"{where}: expected a JSON object with a 'landmarks' list, got {type(record).__name__}."
        )
    entries = record.get("landmarks")
    if not isinstance(entries, list) or not entries:
        raise LandmarkLabelError(f"{where}: 'landmarks' must be a non-empty list of {{name or index, x, y}} objects.")
    lookup = None if names is None else {n.lower(): k for k, n in enumerate(names)}
    count = None if names is None else len(names)
    points = np.full((count or len(entries), 2), np.nan, dtype=np.float32)
    seen: set = set()
    for i, entry in enumerate(entries):
        at = f"{where}: landmarks[{i}]"
        if not isinstance(entry, dict):
            raise LandmarkLabelError(f'{at}: expected an object like {{"name": ..., "x": ..., "y": ...}}.')
        slot = _slot(entry, lookup, count, at)
        if slot in seen:
            raise LandmarkLabelError(f"{at}: landmark {slot!r} is given twice.")
        seen.add(slot)
        x, y = entry.get("x"), entry.get("y")
        if not (_is_number(x) and _is_number(y) and math.isfinite(x) and math.isfinite(y)):
            raise LandmarkLabelError(f"{at}: 'x' and 'y' must be finite numbers (pixels), got x={x!r}, y={y!r}.")
        if x < -0.5 or y < -0.5:
            raise LandmarkLabelError(f"{at}: ({x}, {y}) lies outside the image (negative pixel coordinates).")
        points[slot if isinstance(slot, int) and names is not None else i] = (x, y)
    return points, parse_spacing(record.get("spacing_mm"), where)


def read_label(path, names: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_label` of a JSON file; a file that is not UTF-8 JSON raises :class:`LandmarkLabelError`."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LandmarkLabelError(f"{Path(path).name}: not a landmarks JSON file ({err}).") from None
    return parse_label(record, names, Path(path).name)


def check_label_file(path, name_sets: Sequence[Sequence[str]]) -> None:
    """Check a label file before it enters the datastore: it must suit at least one served model.

    Raises:
        LandmarkLabelError: with the reason it fits none (the first model's reason when all fail the same way).
    """
    read_label(path, None)  # structure first, so its message does not depend on the models
    errors = []
    for names in name_sets:
        try:
            read_label(path, names)
            return
        except LandmarkLabelError as err:
            errors.append(str(err))
    if errors:
        raise LandmarkLabelError(errors[0])


def label_sample(image, label, names: Sequence[str]) -> dict:
    """A training datalist item (as ``load_datalist`` makes them) from an image file and its label file."""
    points, spacing = read_label(label, names)
    if np.isnan(points).all():
        raise LandmarkLabelError(f"{Path(label).name}: no landmark of the model is labelled.")
    return {
        Keys.IMAGE: str(image),
        Keys.LANDMARKS: points[None],
        Keys.SPACING: spacing,
        Keys.IMAGE_ID: Path(label).name[: -len(".json")],
    }


def centroids(points, names: Sequence[str]) -> list[dict]:
    """MONAI Label's ``centroids`` in the form of its radiology app's localization models: one
    ``{key: [label value, i, j, k]}`` per landmark found, in channel order.

    The radiology app (``GetCentroidsd``) keys them ``label_<value>`` and gives voxel indices of the label; here the
    key is the landmark name, the label value is ``index + 1`` (the app's ``labels``, 0 being background), ``i, j``
    are the landmark's ``x, y`` in pixels (sub-pixel, not rounded) and ``k`` is 0, the one slice of an X-ray.
    MONAI Label turns the values into strings in the result JSON.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return [
        {name: [k + 1, float(x), float(y), 0]}
        for k, (name, (x, y)) in enumerate(zip(names, pts, strict=True))
        if np.isfinite([x, y]).all()
    ]


def first_fitting_label(name_sets: Sequence[Sequence[str]], read_points, source: str, none_served: str) -> dict:
    """The app's label record from the first served model whose landmark names fit an upload.

    ``read_points(names)`` gives the upload's ``(K, 2)`` points for those names (NaN where not marked) or raises
    :class:`LandmarkLabelError`; ``source`` says where the points came from.

    Raises:
        LandmarkLabelError: no model fits (the first model's reason), or ``none_served`` when none is served.
    """
    errors = []
    for names in name_sets:
        try:
            points = read_points(names)
        except LandmarkLabelError as err:
            errors.append(str(err))
            continue
        landmarks = [
            {"index": k, "name": names[k], "x": float(x), "y": float(y)}
            for k, (x, y) in enumerate(points.tolist())
            if math.isfinite(x) and math.isfinite(y)
        ]
        return {"landmarks": landmarks, "source": source}
    raise LandmarkLabelError(errors[0] if errors else none_served)
