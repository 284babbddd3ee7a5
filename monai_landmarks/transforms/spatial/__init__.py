"""Landmark-consistent, invertible spatial transforms.

Each transform applies MONAI's own image transform (``Resize``, ``SpatialPad``, ``Affine``, ``Flip``) to the
image keys and moves the landmark keys with it, so that a landmark stays on the same anatomy.

How landmarks follow the image
    MONAI updates a MetaTensor's ``affine`` (index -> world) with every spatial transform so that a world
    position keeps its meaning. A landmark at pixel ``p`` of the input is therefore at
    ``inv(A_after) @ A_before @ p`` of the output, which is the world round trip that
    ``ApplyTransformToPoints`` computes (image -> world with ``A_before``, world -> image with ``A_after``).
    MONAI 1.6.1 makes these updates consistent with the pixels it writes, in this package's pixel-centre
    convention (``utils.coords``):

    - ``Resize`` (``align_corners`` unset): ``scale_affine(..., centered=True)``, i.e.
      ``u -> (u + 0.5) * m / n - 0.5``, the rule of ``coords.rescale``;
    - ``SpatialPad``: a translation by the padding in front;
    - ``Flip``: ``u -> (n - 1) - u``;
    - ``Affine`` (``align_corners=False``): its matrix about the pixel-grid centre ``(n - 1) / 2``, the same
      matrix that builds the sampling grid (``Affine.compute_w_affine``), so random draws are recorded too.

    ``tests/transforms/test_spatial.py`` checks each of these with Gaussian blobs drawn at sub-pixel positions.

How they are inverted
    Each transform records, on every image key it transforms, one entry in ``applied_operations`` holding MONAI's own
    entries (``inner_operations``), the 3 x 3 pixel map applied to the landmarks (``landmark_matrix``, input
    pixels -> output pixels) and the landmark permutation of a flip. ``inverse`` hands MONAI's entries back to
    MONAI's inverse for the images and applies the inverse map to the landmarks; :class:`InvertLandmarksd`
    walks the same entries to take predicted landmarks back to the original image's pixels.

The landmarks follow the first image key present in the sample: give image keys of one size together.
Images must be channel-first 2D MetaTensors (metadata tracking on, MONAI's default); landmarks are
``(1, K, 2)`` or ``(K, 2)`` in the pixel coordinates of that image and come out as float32 ``(1, K, 2)``.

Modules: :mod:`.base` (the shared base class and records), :mod:`.resize`, :mod:`.augment` (random affine and
flip), :mod:`.domain` (per-domain versions for universal models) and :mod:`.invert`.
"""

from __future__ import annotations

from .augment import AFFINE_SAMPLINGS, RandLandmarkAffined, RandLandmarkFlipd
from .base import INNER_OPERATIONS, LANDMARK_MATRIX, LANDMARK_PERMUTATION
from .domain import DomainRandLandmarkAffined, DomainResized
from .invert import InvertLandmarksd
from .resize import LandmarkResized, LandmarkResizeWithPadd

__all__ = [
    "AFFINE_SAMPLINGS",
    "INNER_OPERATIONS",
    "LANDMARK_MATRIX",
    "LANDMARK_PERMUTATION",
    "DomainRandLandmarkAffined",
    "DomainResized",
    "InvertLandmarksd",
    "LandmarkResizeWithPadd",
    "LandmarkResized",
    "RandLandmarkAffined",
    "RandLandmarkFlipd",
]
