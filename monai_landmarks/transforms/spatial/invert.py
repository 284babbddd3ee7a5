"""Predicted landmarks back to the original image's pixels (:class:`InvertLandmarksd`)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform
from monai.utils import TraceKeys

from ...utils.coords import as_landmarks, transform_points
from ...utils.keys import Keys
from .base import LANDMARK_MATRIX, LANDMARK_PERMUTATION, permute


class InvertLandmarksd(MapTransform):
    """Map predicted landmarks from a transformed image's pixels back to the original image's pixels.

    A prediction is made on the transformed image (for example after :class:`LandmarkResized`), so it is in
    that image's pixel grid. This transform reads the reference image's ``applied_operations`` from the last to
    the first and undoes each recorded landmark map and permutation, without changing the image. Use it in
    post-processing after decollation, where each sample holds its own reference image.

    Every spatial transform applied to the reference image must be one of this package's; a MONAI spatial
    transform applied directly would move pixels without a landmark map, so it raises an error instead of
    giving silently wrong points.

    Args:
        keys: keys of ``(1, K, 2)`` landmarks in the transformed image's pixels (default the prediction).
        ref_key: key of the transformed image (a MetaTensor carrying ``applied_operations``).
        allow_missing_keys: don't raise if a landmark key is missing.

    Raises:
        KeyError: if ``ref_key`` is missing.
        ValueError: if the reference image is not a single-sample MetaTensor, or it records an operation that
            is not one of this package's landmark transforms.
    """

    def __init__(
        self, keys: KeysCollection = Keys.PRED_LANDMARKS, ref_key: str = Keys.IMAGE, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ref_key = ref_key

    def operations(self, ref) -> list[dict]:
        """The recorded landmark operations of ``ref``, first to last; raises if one is not a landmark transform."""
        if not isinstance(ref, MetaTensor) or ref.is_batch:
            raise ValueError(
                f"InvertLandmarksd: '{self.ref_key}' must be one sample's MetaTensor (decollate the batch first), "
                f"got {type(ref).__name__}."
            )
        ops = []
        for op in ref.applied_operations:
            extra = op.get(TraceKeys.EXTRA_INFO)
            if not isinstance(extra, Mapping) or LANDMARK_MATRIX not in extra:
                raise ValueError(
                    f"InvertLandmarksd: '{self.ref_key}' records {op.get(TraceKeys.CLASS_NAME)}, which has no landmark "
                    "map; apply spatial transforms through monai_landmarks.transforms to invert landmarks."
                )
            ops.append(extra)
        return ops

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        if self.ref_key not in d:
            raise KeyError(f"InvertLandmarksd: reference image key '{self.ref_key}' not in the data.")
        ops = None
        for key in self.key_iterator(d):
            ops = self.operations(d[self.ref_key]) if ops is None else ops
            points = as_landmarks(d[key], name=f"landmarks '{key}'")
            for extra in reversed(ops):
                points = permute(points, extra[LANDMARK_PERMUTATION], inverse=True)
                points = transform_points(
                    points, torch.linalg.inv(torch.as_tensor(extra[LANDMARK_MATRIX], dtype=torch.float64))
                )
            d[key] = points
        return d


__all__ = ["InvertLandmarksd"]
