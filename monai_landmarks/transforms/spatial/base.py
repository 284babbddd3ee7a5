"""The base of the landmark-consistent spatial transforms: MONAI transforms on the image keys, the matching
pixel map on the landmark keys, and the records that let :meth:`~LandmarkSpatiald.inverse` and
:class:`~.invert.InvertLandmarksd` undo them (see the package docstring)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import InvertibleTransform, MapTransform
from monai.utils import TraceKeys, convert_to_tensor, ensure_tuple

from ...utils.coords import SPATIAL_DIMS, as_landmarks, transform_points

#: ``extra_info`` key of the 3 x 3 pixel map (input pixels -> output pixels) a transform applied to landmarks.
LANDMARK_MATRIX = "landmark_matrix"
#: ``extra_info`` key of the landmark permutation (``new[k] = old[perm[k]]``), or ``None``.
LANDMARK_PERMUTATION = "landmark_permutation"
#: ``extra_info`` key of the ``applied_operations`` entries written by the wrapped MONAI transforms.
INNER_OPERATIONS = "inner_operations"


def _as_image(img, key: Hashable) -> MetaTensor:
    """``img`` as a channel-first 2D MetaTensor, or a ValueError naming ``key``."""
    img = convert_to_tensor(img, track_meta=get_track_meta())
    if not isinstance(img, MetaTensor):
        raise ValueError(
            f"image '{key}': landmark transforms read the image affine, which needs metadata tracking; "
            "call monai.data.set_track_meta(True)."
        )
    if img.ndim != SPATIAL_DIMS + 1:
        raise ValueError(f"image '{key}': expected a channel-first 2D image (C, W, H), got shape {tuple(img.shape)}.")
    if img.pending_operations:
        raise ValueError(f"image '{key}': has pending lazy operations; landmark transforms run eagerly.")
    return img


def _pixel_map(affine_before: torch.Tensor, affine_after: torch.Tensor) -> torch.Tensor:
    """The 3 x 3 map from input to output pixels that keeps world positions: ``inv(A_after) @ A_before``."""
    before = torch.as_tensor(affine_before, dtype=torch.float64)
    after = torch.as_tensor(affine_after, dtype=torch.float64)
    m = torch.linalg.inv(after) @ before
    return m[[0, 1, -1]][:, [0, 1, -1]] if m.shape == (4, 4) else m


def _is_whole(value) -> bool:
    """A whole number (int, integral float or 0-d tensor); not text, not a bool."""
    if isinstance(value, (str, bytes, bool)):
        return False
    try:
        return float(value).is_integer()
    except (TypeError, ValueError, RuntimeError):
        return False


def check_size(spatial_size, name: str, allow_keep: bool) -> tuple[int, int]:
    values = ensure_tuple(spatial_size) if not isinstance(spatial_size, str) else (spatial_size,)
    size = tuple(int(s) for s in values) if all(map(_is_whole, values)) else ()
    if len(size) != SPATIAL_DIMS or any(s == 0 or (s < 0 and not allow_keep) for s in size):
        rule = "non-zero integers (-1 keeps an axis)" if allow_keep else "positive integers"
        raise ValueError(f"{name}: spatial_size must be two {rule} (W, H), got {spatial_size!r}.")
    return size  # type: ignore[return-value]


def permute(points: torch.Tensor, perm: Sequence[int] | None, inverse: bool = False) -> torch.Tensor:
    if perm is None:
        return points
    if len(perm) != points.shape[1]:
        raise ValueError(f"flip_indices has {len(perm)} entries but the landmarks have K = {points.shape[1]}.")
    index = torch.as_tensor(perm, dtype=torch.long, device=points.device)
    if inverse:
        index = torch.argsort(index)
    return points[:, index]


class LandmarkSpatiald(MapTransform, InvertibleTransform):
    """Apply MONAI spatial transforms to image keys and the matching pixel map to landmark keys.

    Subclasses say which MONAI transforms a call applies (:meth:`_image_transforms`), which instances invert
    their entries (:meth:`_inverters`) and, for flips, a landmark permutation (:meth:`_permutation`).
    """

    def __init__(self, keys: KeysCollection, landmark_keys: KeysCollection, allow_missing_keys: bool) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.landmark_keys = ensure_tuple(landmark_keys)

    @abstractmethod
    def _image_transforms(self, img: MetaTensor) -> list:
        """The MONAI transforms this call applies to ``img``, in order (empty when a random draw skips)."""

    @abstractmethod
    def _inverters(self) -> list:
        """MONAI transforms whose ``inverse`` undoes the recorded entries, in forward order."""

    def _permutation(self) -> list[int] | None:
        return None

    def _landmark_items(self, d: Mapping) -> list[Hashable]:
        present = [k for k in self.landmark_keys if k in d]
        missing = [k for k in self.landmark_keys if k not in d]
        if missing and not self.allow_missing_keys:
            raise KeyError(f"{self.__class__.__name__}: landmark key(s) {missing} not in the data.")
        return present

    def _map_landmarks(self, d: dict, matrix: torch.Tensor | None, perm, inverse: bool = False) -> None:
        landmark_keys = self._landmark_items(d)
        if landmark_keys and matrix is None:
            raise ValueError(
                f"{self.__class__.__name__}: landmarks {landmark_keys} need one of the image keys {list(self.keys)} "
                "to be present, since they follow that image."
            )
        for key in landmark_keys:
            points = as_landmarks(d[key], name=f"landmarks '{key}'")
            if inverse:
                d[key] = transform_points(permute(points, perm, inverse=True), torch.linalg.inv(matrix))
            else:
                d[key] = permute(transform_points(points, matrix), perm)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        perm = self._permutation()
        matrix = None
        for key in self.key_iterator(d):
            img = _as_image(d[key], key)
            before, n_ops = img.affine.clone(), len(img.applied_operations)
            for transform in self._image_transforms(img):
                img = transform(img)
            inner = [img.pop_applied_operation() for _ in range(len(img.applied_operations) - n_ops)][::-1]
            key_matrix = _pixel_map(before, img.affine)
            extra = {INNER_OPERATIONS: inner, LANDMARK_MATRIX: key_matrix.tolist(), LANDMARK_PERMUTATION: perm}
            self.push_transform(img, extra_info=extra)
            d[key] = img
            matrix = key_matrix if matrix is None else matrix
        self._map_landmarks(d, matrix, perm)
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        matrix, perm = None, None
        for key in self.key_iterator(d):
            img = d[key]
            extra = self.pop_transform(img)[TraceKeys.EXTRA_INFO]
            inner = extra[INNER_OPERATIONS]
            if inner:
                inverters = self._inverters()
                if len(inverters) != len(inner):
                    raise ValueError(
                        f"{self.__class__.__name__}: image '{key}' records {len(inner)} MONAI operations for this "
                        f"transform, expected {len(inverters)}; was it transformed by another instance?"
                    )
                for op in inner:
                    # a fresh inverter stands in for the instance that ran: TraceKeys.NONE skips the id check
                    img.push_applied_operation({**op, TraceKeys.ID: TraceKeys.NONE})
                for inverter in reversed(inverters):
                    img = inverter.inverse(img)
            d[key] = img
            if matrix is None:
                matrix, perm = torch.as_tensor(extra[LANDMARK_MATRIX], dtype=torch.float64), extra[LANDMARK_PERMUTATION]
        self._map_landmarks(d, matrix, perm, inverse=True)
        return d


__all__ = ["INNER_OPERATIONS", "LANDMARK_MATRIX", "LANDMARK_PERMUTATION", "LandmarkSpatiald", "check_size", "permute"]
