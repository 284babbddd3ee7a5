"""Landmark datasets: the on-disk format, an image reader for X-rays, converters from public layouts,
synthetic phantoms, and what bundles read from a dataset folder."""

from __future__ import annotations

from .converters import (
    convert_csv,
    convert_dha,
    convert_isbi2015,
    convert_labelme,
    convert_shenzhen,
    split_by_order,
)
from .datalists import (
    dataset_folder,
    error_protocol,
    image_datalist,
    image_files,
    phantom_dataset,
    resolve_dataset,
    training_datalists,
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
from .multidomain import (
    DomainBatchSampler,
    DomainDataset,
    domain_datalist,
    domain_names,
    domain_training_datalists,
    per_domain,
    resolve_domains,
)
from .synthetic import PHANTOM_KINDS, generate_phantom_dataset, landmark_names, render_phantom

__all__ = [
    "PHANTOM_KINDS",
    "DatasetError",
    "DomainBatchSampler",
    "DomainDataset",
    "ImageHeader",
    "ImageReadError",
    "SITKReader",
    "convert_csv",
    "convert_dha",
    "convert_isbi2015",
    "convert_labelme",
    "convert_shenzhen",
    "dataset_folder",
    "domain_datalist",
    "domain_names",
    "domain_training_datalists",
    "error_protocol",
    "generate_phantom_dataset",
    "image_datalist",
    "image_files",
    "landmark_names",
    "load_datalist",
    "per_domain",
    "phantom_dataset",
    "read_image",
    "read_image_header",
    "read_image_size",
    "read_metadata",
    "render_phantom",
    "resolve_dataset",
    "resolve_domains",
    "rgb_to_gray",
    "save_heatmaps_nifti",
    "split_by_order",
    "training_datalists",
    "write_dataset",
]
