"""Dictionary transforms for landmark samples: landmark-consistent spatial transforms and heatmap targets.

Intensity normalisation and augmentation come from MONAI unchanged (``NormalizeIntensityd``,
``RandGaussianNoised``, ...); only transforms that move pixels need the landmark-aware versions here.
"""

from __future__ import annotations

from .heatmap import DecodeHeatmapsd, GenerateHeatmapsd
from .patches import (
    DecodePatchesd,
    LandmarkPatchesd,
    PatchesToImaged,
    RefineLandmarksd,
    decode_patches,
    extract_patches,
    image_to_patch,
    patch_to_image,
)
from .shape_prior import ShapeModel, ShapePriord
from .spatial import (
    INNER_OPERATIONS,
    LANDMARK_MATRIX,
    LANDMARK_PERMUTATION,
    DomainRandLandmarkAffined,
    DomainResized,
    InvertLandmarksd,
    LandmarkResized,
    LandmarkResizeWithPadd,
    RandLandmarkAffined,
    RandLandmarkFlipd,
)

__all__ = [
    "INNER_OPERATIONS",
    "LANDMARK_MATRIX",
    "LANDMARK_PERMUTATION",
    "DecodeHeatmapsd",
    "DecodePatchesd",
    "DomainRandLandmarkAffined",
    "DomainResized",
    "GenerateHeatmapsd",
    "InvertLandmarksd",
    "LandmarkPatchesd",
    "LandmarkResizeWithPadd",
    "LandmarkResized",
    "PatchesToImaged",
    "RandLandmarkAffined",
    "RandLandmarkFlipd",
    "RefineLandmarksd",
    "decode_patches",
    "ShapeModel",
    "ShapePriord",
    "extract_patches",
    "image_to_patch",
    "patch_to_image",
]
