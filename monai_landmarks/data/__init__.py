"""Landmark datasets: the on-disk format, an image reader for X-rays, and converters from public layouts."""

from __future__ import annotations

from .converters import (
    convert_csv,
    convert_dha,
    convert_isbi2015,
    convert_labelme,
    convert_shenzhen,
    split_by_order,
)
from .dataset_format import DatasetError, load_datalist, read_metadata, write_dataset
from .image_reader import (
    ImageHeader,
    ImageReadError,
    SITKReader,
    read_image,
    read_image_header,
    read_image_size,
    rgb_to_gray,
    save_heatmaps_nifti,
)

__all__ = [
    "DatasetError",
    "ImageHeader",
    "ImageReadError",
    "SITKReader",
    "convert_csv",
    "convert_dha",
    "convert_isbi2015",
    "convert_labelme",
    "convert_shenzhen",
    "load_datalist",
    "read_image",
    "read_image_header",
    "read_image_size",
    "read_metadata",
    "rgb_to_gray",
    "save_heatmaps_nifti",
    "split_by_order",
    "write_dataset",
]
