"""Random augmentation with landmarks: an affine map (:class:`RandLandmarkAffined`) and a flip that renames
left/right landmarks (:class:`RandLandmarkFlipd`)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import Affine, Flip, RandomizableTransform
from monai.transforms.spatial.array import RandAffineGrid
from monai.utils import GridSampleMode, GridSamplePadMode, ensure_tuple, look_up_option

from ...utils.coords import SPATIAL_DIMS
from ...utils.keys import Keys
from .base import LandmarkSpatiald, check_size

#: how :class:`RandLandmarkAffined` draws its rotation and scale
AFFINE_SAMPLINGS = ("uniform", "truncated_normal")


def _magnitude(param_range) -> float:
    """The size of a MONAI range entry: ``r`` of a number (range ``(-r, r)``), the larger bound of a pair."""
    first = param_range[0]
    if isinstance(first, Sequence):
        return float(max(abs(v) for v in first))
    return float(abs(first))


class RandLandmarkAffined(RandomizableTransform, LandmarkSpatiald):
    """Random rotation, scaling, shear and translation about the image centre (MONAI ``Affine``); landmarks follow.

    One draw per call is applied to every image key and to the landmarks. The parameters have the meaning of
    MONAI's ``RandAffine`` (a backward map from output to input pixels: ``scale_range=0.2`` draws a sampling
    scale in ``[0.8, 1.2]``, and a single number scales axis 0 only, so pass ``(0.2, 0.2)`` for both axes;
    ``rotate_range`` is in radians; translations in pixels). The landmark map is the inverse of that matrix,
    read from the image affine, which MONAI updates with the same matrix it samples with.

    Landmarks that leave the image keep their coordinates (they are not clipped or set to NaN), so the inverse
    brings them back exactly; heatmap codecs give landmarks outside the image a zero weight.

    Args:
        keys: image keys; they are transformed alike.
        prob: probability of applying the transform.
        rotate_range: rotation range in radians, as MONAI ``RandAffine``.
        shear_range: shear range, as MONAI ``RandAffine``.
        translate_range: translation range in pixels per axis, as MONAI ``RandAffine``.
        scale_range: scale range per axis (1.0 is added), as MONAI ``RandAffine``.
        spatial_size: output size ``(W, H)``; default (``None``) keeps the input size.
        landmark_keys: keys of ``(1, K, 2)`` landmarks in the pixels of the first image key.
        mode: ``grid_sample`` interpolation mode (see ``monai.utils.GridSampleMode``).
        padding_mode: ``grid_sample`` padding (see ``monai.utils.GridSamplePadMode``). Default ``"zeros"``:
            MONAI's ``"reflection"`` would mirror anatomy into the border and show landmark-like structures
            where no landmark is labelled.
        allow_missing_keys: don't raise if an image or landmark key is missing.
        sampling: ``"uniform"`` (MONAI's draws in the ranges) or ``"truncated_normal"``, the draws of HTC's
            released (MMPose) augmentation: the angle is ``clip(N(0, 1), -2, 2) * rotate_range`` and one scale
            for both axes is ``1 + clip(N(0, 1), -1, 1) * scale_range`` (each range a single number, or its first
            entry); translation and shear stay uniform.
        rotate_prob: probability that a transformed sample is also rotated (MMPose: 0.6); 1.0 always rotates.

    Raises:
        ValueError: if ``mode``, ``padding_mode`` or ``sampling`` is not a valid option, or ``rotate_prob`` is
            not a probability.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        rotate_range=None,
        shear_range=None,
        translate_range=None,
        scale_range=None,
        spatial_size: Sequence[int] | None = None,
        landmark_keys: KeysCollection = Keys.LANDMARKS,
        mode: str = GridSampleMode.BILINEAR,
        padding_mode: str = GridSamplePadMode.ZEROS,
        allow_missing_keys: bool = False,
        sampling: str = "uniform",
        rotate_prob: float = 1.0,
    ) -> None:
        LandmarkSpatiald.__init__(self, keys, landmark_keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        if sampling not in AFFINE_SAMPLINGS:
            raise ValueError(f"RandLandmarkAffined: sampling must be one of {AFFINE_SAMPLINGS}, got {sampling!r}.")
        if not 0.0 <= rotate_prob <= 1.0:
            raise ValueError(f"RandLandmarkAffined: rotate_prob must lie in [0, 1], got {rotate_prob!r}.")
        self.sampling = sampling
        self.rotate_prob = float(rotate_prob)
        self.spatial_size = None if spatial_size is None else check_size(spatial_size, "RandLandmarkAffined", True)
        self.mode = look_up_option(mode, GridSampleMode)
        self.padding_mode = look_up_option(padding_mode, GridSamplePadMode)
        self.rand_affine_grid = RandAffineGrid(
            rotate_range=rotate_range, shear_range=shear_range, translate_range=translate_range, scale_range=scale_range
        )
        self.rand_affine_grid.set_random_state(state=self.R)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        # one stream for the "apply?" draw and the parameters, so a seed fixes both
        self.rand_affine_grid.set_random_state(state=self.R)
        return self

    def randomize(self, data=None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        g = self.rand_affine_grid
        g.randomize()
        if self.sampling == "truncated_normal":
            if g.rotate_range:
                g.rotate_params = [float(np.clip(self.R.standard_normal(), -2, 2)) * _magnitude(g.rotate_range)]
            if g.scale_range:
                scale = 1.0 + float(np.clip(self.R.standard_normal(), -1, 1)) * _magnitude(g.scale_range)
                g.scale_params = [scale] * SPATIAL_DIMS
        if self.rotate_prob < 1.0 and self.R.random_sample() >= self.rotate_prob:
            g.rotate_params = [0.0] * len(g.rotate_params or [])

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        self.randomize(None)
        return super().__call__(data)

    def _params(self) -> dict:
        if not self._do_transform:
            return {}
        g = self.rand_affine_grid
        return {
            "rotate_params": g.rotate_params,
            "shear_params": g.shear_params,
            "translate_params": g.translate_params,
            "scale_params": g.scale_params,
        }

    def _image_transforms(self, img: MetaTensor) -> list:
        size_changes = self.spatial_size is not None and tuple(
            s if s > 0 else n for s, n in zip(self.spatial_size, img.shape[1:], strict=True)
        ) != tuple(img.shape[1:])
        if not (self._do_transform or size_changes):
            return []
        affine = Affine(
            **self._params(),
            spatial_size=self.spatial_size,
            mode=self.mode,
            padding_mode=self.padding_mode,
            image_only=True,
        )
        return [affine]

    def _inverters(self) -> list:
        # Affine inverts from its recorded matrix, mode and padding, so a plain instance will do
        return [Affine(image_only=True)]


class RandLandmarkFlipd(RandomizableTransform, LandmarkSpatiald):
    """Random flip (MONAI ``Flip``) with a landmark permutation; ``u -> (n - 1) - u`` along the flipped axes.

    A flip turns a left structure into a right one, so landmarks that come in left/right pairs must swap
    names: ``flip_indices`` lists, for each output landmark ``k``, the input landmark it takes
    (``new[k] = old[flip_indices[k]]``). For example ``[1, 0, 2]`` swaps landmarks 0 and 1 and keeps 2.

    Args:
        keys: image keys; they are flipped alike.
        prob: probability of flipping.
        spatial_axis: spatial axis or axes to flip: 0 is x (left/right), 1 is y.
        flip_indices: the landmark permutation applied with a flip; ``None`` keeps the order.
        landmark_keys: keys of ``(1, K, 2)`` landmarks in the pixels of the first image key.
        allow_missing_keys: don't raise if an image or landmark key is missing.

    Raises:
        ValueError: if ``spatial_axis`` names an axis other than 0 or 1, or ``flip_indices`` is not a
            permutation of ``0 .. K-1`` that is its own inverse (pairs swap, the others stay).
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        spatial_axis: int | Sequence[int] = 0,
        flip_indices: Sequence[int] | None = None,
        landmark_keys: KeysCollection = Keys.LANDMARKS,
        allow_missing_keys: bool = False,
    ) -> None:
        LandmarkSpatiald.__init__(self, keys, landmark_keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        axes = ensure_tuple(spatial_axis)
        if not axes or any(a not in range(SPATIAL_DIMS) for a in axes):
            raise ValueError(f"RandLandmarkFlipd: spatial_axis must be 0 (x), 1 (y) or both, got {spatial_axis!r}.")
        if flip_indices is not None:
            flip_indices = [int(i) for i in flip_indices]
            if sorted(flip_indices) != list(range(len(flip_indices))):
                raise ValueError(
                    f"RandLandmarkFlipd: flip_indices must be a permutation of 0 .. K-1, got {flip_indices}."
                )
            # flipping twice is the identity, so the renaming must undo itself: pairs swap, others stay
            if any(flip_indices[i] != k for k, i in enumerate(flip_indices)):
                raise ValueError(
                    f"RandLandmarkFlipd: flip_indices must swap pairs (be its own inverse), got {flip_indices}."
                )
        self.flip_indices = flip_indices
        self.flipper = Flip(spatial_axis=axes)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        self.randomize(None)
        return super().__call__(data)

    def _permutation(self) -> list[int] | None:
        return self.flip_indices if self._do_transform else None

    def _image_transforms(self, img: MetaTensor) -> list:
        return [self.flipper] if self._do_transform else []

    def _inverters(self) -> list:
        return [self.flipper]


__all__ = ["AFFINE_SAMPLINGS", "RandLandmarkAffined", "RandLandmarkFlipd"]
