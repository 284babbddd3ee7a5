"""Names of the dictionary keys that travel through datalists, transforms, batches and engines.

A sample is a dict; these are the keys the package reads and writes, so that one transform's output is the
next one's input without configuration. Every transform still takes its keys as arguments, MONAI-style.
"""

from __future__ import annotations

__all__ = ["Keys"]


class Keys:
    """Default keys of a landmark sample."""

    IMAGE = "image"  #: image file path in a datalist, then a MetaTensor ``(C, W, H)``
    LANDMARKS = "landmarks"  #: ``(1, K, 2)`` float, pixel coordinates of ``IMAGE`` (see ``utils.coords``)
    SPACING = "spacing"  #: ``(2,)`` mm per pixel of the dataset image the landmarks were read for, NaN when unknown
    DOMAIN = "domain"  #: integer index of the anatomy domain (GU2Net's universal model)
    IMAGE_ID = "image_id"  #: identifier string from the dataset
    SPLIT = "split"  #: split name, for example ``train`` or ``test1``
    HEATMAP = "heatmap"  #: single-level target ``(K, W/s, H/s)``
    HEATMAPS = "heatmaps"  #: multiresolution targets: a tuple of ``(K, W/s_i, H/s_i)``, one per level
    WEIGHTS = "landmark_weights"  #: ``(K,)`` float, 0 for a missing landmark
    PRED = "pred"  #: network output (heatmaps, or a tuple of them)
    PRED_LANDMARKS = "pred_landmarks"  #: decoded ``(1, K, 2)`` prediction in the same pixels as ``LANDMARKS``
    CONFIDENCE = "confidence"  #: ``(1, K)`` decoder confidence per landmark
    PATCH_LANDMARKS = "patch_landmarks"  #: ``(1, K, 2)``, landmark ``k`` in the pixels of its own patch ``k``
    PATCH_MATRIX = "patch_matrix"  #: ``(K, 3, 3)`` float64 patch -> image pixel affines (``transforms.patches``)
    COARSE_LANDMARKS = "coarse_landmarks"  #: ``(1, K, 2)`` the coarse model's landmarks before refinement
    CASCADE = "cascade"  #: what the cascade did to a sample: ``{"cascade": "on"|"off", "refiner", "spacing_mm", ...}``
