"""The on-disk landmark dataset format of ``../shared/datasets``: read, validate, write.

A dataset is a folder::

    <root>/images/<image_id>.png    (or .jpg: write_dataset(image_format="jpeg"); readers take any image file)
    <root>/landmarks.csv      one row per (image, landmark): image_id, split, file, landmark, x, y[, x_<a>, y_<a> ...]
    <root>/dataset.json       name, num_landmarks, landmark_names, pixel_spacing_mm, ...

Coordinates are 0-based pixel-centre ``(x, y)`` of the stored image (``monai_landmarks.utils.coords``). An
empty ``x, y`` pair is a missing landmark (NaN); any other non-number is an error.

Checks (each raises :class:`DatasetError` naming the file, the line or image and the problem): metadata
keys and types, UTF-8 text (a BOM is accepted), required columns, numeric coordinates, landmark indices and
counts, duplicate rows, one file and one split per image id, ``file`` paths that stay inside the folder,
image files that exist and have a readable header, positive spacing. The image size for the bounds check comes
from each image's own header (``stored_size_wh`` in ``dataset.json`` is informational and may be a per-image
mapping).

Landmarks outside their image: a point within half a pixel of the image's outer edge
(:data:`BORDER_TOLERANCE_PX`) counts as inside, since annotation tools click on pixel edges. A point further out
is loaded as missing (NaN) with one :class:`OutsideImageWarning` naming the image, the landmark and where it
lies, so one stray click does not block a dataset; ``strict_bounds=True`` refuses it instead. The writer always
refuses it. ``verify_images=True`` also decodes every image to catch
truncated or corrupt files.

Modules: :mod:`.metadata` (names, errors, ``dataset.json``), :mod:`.reading` (``landmarks.csv`` and
:func:`load_datalist`), :mod:`.writing` (:func:`write_dataset`) and :mod:`.folder` (the target folder, its
manifest and the final move).
"""

from __future__ import annotations

from .metadata import (
    BASE_COLUMNS,
    BORDER_TOLERANCE_PX,
    COORDINATE_CONVENTION,
    IMAGE_FORMATS,
    IMAGES_DIR,
    JPEG_QUALITY,
    LANDMARKS_FILE,
    MANIFEST,
    MAX_LANDMARKS,
    MEAN,
    METADATA_FILE,
    DatasetError,
    OutsideImageWarning,
    read_metadata,
)
from .reading import csv_rows, load_datalist
from .writing import write_dataset

__all__ = [
    "BASE_COLUMNS",
    "BORDER_TOLERANCE_PX",
    "COORDINATE_CONVENTION",
    "IMAGES_DIR",
    "IMAGE_FORMATS",
    "JPEG_QUALITY",
    "LANDMARKS_FILE",
    "MANIFEST",
    "MAX_LANDMARKS",
    "MEAN",
    "METADATA_FILE",
    "DatasetError",
    "OutsideImageWarning",
    "csv_rows",
    "load_datalist",
    "read_metadata",
    "write_dataset",
]
