"""Converters from the original public layouts of landmark datasets to the package's dataset format.

Each ``convert_<name>(...)`` reads the source layout, checks it (errors name the file and line), and calls
:func:`~monai_landmarks.data.dataset_format.write_dataset`, which writes atomically. The command line's
``convert`` offers those in :data:`~.registry.CONVERTERS` (one entry per dataset).
"""

from __future__ import annotations

from ._common import downsample_image, split_by_order
from .dha import convert_dha, read_dha_csv
from .generic import convert_csv, convert_labelme, read_labelme
from .isbi2015 import ISBI2015_LANDMARK_NAMES, convert_isbi2015, read_isbi2015_annotation
from .registry import CONVERTERS, Converter, Option
from .shenzhen import convert_shenzhen, read_shenzhen_label

__all__ = [
    "CONVERTERS",
    "Converter",
    "ISBI2015_LANDMARK_NAMES",
    "Option",
    "convert_csv",
    "convert_dha",
    "convert_isbi2015",
    "convert_labelme",
    "convert_shenzhen",
    "downsample_image",
    "read_dha_csv",
    "read_isbi2015_annotation",
    "read_labelme",
    "read_shenzhen_label",
    "split_by_order",
]
