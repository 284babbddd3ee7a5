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
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import (
    Affine,
    Flip,
    InvertibleTransform,
    MapTransform,
    Randomizable,
    RandomizableTransform,
    Resize,
    SpatialPad,
)
from monai.transforms.spatial.array import RandAffineGrid
from monai.utils import (
    MAX_SEED,
    GridSampleMode,
    GridSamplePadMode,
    InterpolateMode,
    Method,
    PytorchPadMode,
    TraceKeys,
    convert_to_tensor,
    ensure_tuple,
    look_up_option,
)

from ..utils.coords import SPATIAL_DIMS, as_landmarks, transform_points
from ..utils.keys import Keys

__all__ = [
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


def _check_size(spatial_size, name: str, allow_keep: bool) -> tuple[int, int]:
    values = ensure_tuple(spatial_size) if not isinstance(spatial_size, str) else (spatial_size,)
    size = tuple(int(s) for s in values) if all(map(_is_whole, values)) else ()
    if len(size) != SPATIAL_DIMS or any(s == 0 or (s < 0 and not allow_keep) for s in size):
        rule = "non-zero integers (-1 keeps an axis)" if allow_keep else "positive integers"
        raise ValueError(f"{name}: spatial_size must be two {rule} (W, H), got {spatial_size!r}.")
    return size  # type: ignore[return-value]


def _permute(points: torch.Tensor, perm: Sequence[int] | None, inverse: bool = False) -> torch.Tensor:
    if perm is None:
        return points
    if len(perm) != points.shape[1]:
        raise ValueError(f"flip_indices has {len(perm)} entries but the landmarks have K = {points.shape[1]}.")
    index = torch.as_tensor(perm, dtype=torch.long, device=points.device)
    if inverse:
        index = torch.argsort(index)
    return points[:, index]


class _LandmarkSpatiald(MapTransform, InvertibleTransform):
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
                d[key] = transform_points(_permute(points, perm, inverse=True), torch.linalg.inv(matrix))
            else:
                d[key] = _permute(transform_points(points, matrix), perm)

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


class LandmarkResized(_LandmarkSpatiald):
    """Resize images to ``spatial_size`` (plain resize, aspect ratio not kept) and move the landmarks with them.

    This is GU2Net's preprocessing. Landmarks follow the pixel-centre rule ``u -> (u + 0.5) * m / n - 0.5``
    of ``coords.rescale``; MONAI's ``Resize`` records the same map in the image affine.

    Args:
        keys: image keys; they are resized alike.
        spatial_size: output size ``(W, H)``; a ``-1`` keeps that axis.
        landmark_keys: keys of ``(1, K, 2)`` landmarks in the pixels of the first image key.
        mode: interpolation mode of ``torch.nn.functional.interpolate`` (see ``monai.utils.InterpolateMode``).
        anti_aliasing: Gaussian-smooth before downsampling (MONAI ``Resize``); off by default, as in MONAI.
        allow_missing_keys: don't raise if an image or landmark key is missing (inference without landmarks).

    Raises:
        ValueError: if ``spatial_size`` is not two non-zero integers or ``mode`` is not a valid option.
    """

    def __init__(
        self,
        keys: KeysCollection,
        spatial_size: Sequence[int],
        landmark_keys: KeysCollection = Keys.LANDMARKS,
        mode: str = InterpolateMode.BILINEAR,
        anti_aliasing: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, landmark_keys, allow_missing_keys)
        self.spatial_size = _check_size(spatial_size, self.__class__.__name__, allow_keep=True)
        self.mode = look_up_option(mode, InterpolateMode)
        self.resizer = Resize(self.spatial_size, mode=self.mode, anti_aliasing=anti_aliasing)

    def _image_transforms(self, img: MetaTensor) -> list:
        return [self.resizer]

    def _inverters(self) -> list:
        return [self.resizer]


class LandmarkResizeWithPadd(_LandmarkSpatiald):
    """Resize images to fit ``spatial_size`` keeping the aspect ratio, then pad to it; landmarks follow.

    The scale is ``min(W_out / W, H_out / H)``, so the image fits inside any ``(W, H)`` target. (MONAI's
    ``Resize(size_mode="longest")`` sets the longest side to one number, which overflows a non-square target
    when the image's long side is the target's short side.) The resized size is rounded to whole pixels, and
    the landmark map uses the exact per-axis scale that rounding gives, read from the image affine.

    Args:
        keys: image keys; they are transformed alike.
        spatial_size: output size ``(W, H)``.
        landmark_keys: keys of ``(1, K, 2)`` landmarks in the pixels of the first image key.
        mode: interpolation mode of the resize (see ``monai.utils.InterpolateMode``).
        method: where padding goes: ``"symmetric"`` (centred) or ``"end"`` (after the image).
        padding_mode: ``torch.nn.functional.pad`` mode (see ``monai.utils.PytorchPadMode``).
        anti_aliasing: Gaussian-smooth before downsampling (MONAI ``Resize``).
        allow_missing_keys: don't raise if an image or landmark key is missing.

    Raises:
        ValueError: if ``spatial_size`` is not two positive integers or an option is not valid.
    """

    def __init__(
        self,
        keys: KeysCollection,
        spatial_size: Sequence[int],
        landmark_keys: KeysCollection = Keys.LANDMARKS,
        mode: str = InterpolateMode.BILINEAR,
        method: str = Method.SYMMETRIC,
        padding_mode: str = PytorchPadMode.CONSTANT,
        anti_aliasing: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, landmark_keys, allow_missing_keys)
        self.spatial_size = _check_size(spatial_size, self.__class__.__name__, allow_keep=False)
        self.mode = look_up_option(mode, InterpolateMode)
        self.anti_aliasing = anti_aliasing
        self.padder = SpatialPad(
            self.spatial_size, method=look_up_option(method, Method), mode=look_up_option(padding_mode, PytorchPadMode)
        )

    def fitted_size(self, image_size: Sequence[int]) -> tuple[int, int]:
        """The size ``(W, H)`` an image of ``image_size`` is resized to before padding."""
        scale = min(t / float(s) for t, s in zip(self.spatial_size, image_size, strict=True))
        return tuple(min(t, max(1, round(s * scale))) for t, s in zip(self.spatial_size, image_size, strict=True))  # type: ignore

    def _image_transforms(self, img: MetaTensor) -> list:
        size = self.fitted_size(img.shape[1:])
        return [Resize(size, mode=self.mode, anti_aliasing=self.anti_aliasing), self.padder]

    def _inverters(self) -> list:
        # Resize inverts from its recorded original size, so any instance will do
        return [Resize(self.spatial_size), self.padder]


#: how :class:`RandLandmarkAffined` draws its rotation and scale
AFFINE_SAMPLINGS = ("uniform", "truncated_normal")


def _magnitude(param_range) -> float:
    """The size of a MONAI range entry: ``r`` of a number (range ``(-r, r)``), the larger bound of a pair."""
    first = param_range[0]
    if isinstance(first, Sequence):
        return float(max(abs(v) for v in first))
    return float(abs(first))


class RandLandmarkAffined(RandomizableTransform, _LandmarkSpatiald):
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
        _LandmarkSpatiald.__init__(self, keys, landmark_keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        if sampling not in AFFINE_SAMPLINGS:
            raise ValueError(f"RandLandmarkAffined: sampling must be one of {AFFINE_SAMPLINGS}, got {sampling!r}.")
        if not 0.0 <= rotate_prob <= 1.0:
            raise ValueError(f"RandLandmarkAffined: rotate_prob must lie in [0, 1], got {rotate_prob!r}.")
        self.sampling = sampling
        self.rotate_prob = float(rotate_prob)
        self.spatial_size = None if spatial_size is None else _check_size(spatial_size, "RandLandmarkAffined", True)
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


class RandLandmarkFlipd(RandomizableTransform, _LandmarkSpatiald):
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
        _LandmarkSpatiald.__init__(self, keys, landmark_keys, allow_missing_keys)
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


def _domain_of(data: Mapping, domain_key: str, num_domains: int, owner: str, what: str) -> int:
    """The sample's domain index (0 when absent), checked against the ``num_domains`` settings ``owner`` has."""
    domain = int(data.get(domain_key, 0))
    if not 0 <= domain < num_domains:
        raise ValueError(
            f"{owner}: a sample of domain {domain}, but {what} gives {num_domains} setting(s); give one per domain."
        )
    return domain


class DomainResized(MapTransform, InvertibleTransform):
    """Resize each sample to the input size of its domain, plainly or keeping the aspect ratio; landmarks follow.

    A universal model (GU2Net) takes every domain at its own input size; this transform reads the sample's
    domain index and applies that domain's :class:`LandmarkResized` (plain resize) or, where ``keep_aspect`` is
    set, its :class:`LandmarkResizeWithPadd` (fit inside the size, then pad), so one pipeline serves all domains.
    The applied transform records its own entry, so :class:`InvertLandmarksd` and :meth:`inverse` undo it.

    Args:
        keys: image keys; they are resized alike.
        spatial_sizes: one output size ``(W, H)`` per domain (index = domain).
        keep_aspect: per domain, whether to keep the aspect ratio (resize to fit, then pad); default all False.
        domain_key: the sample key holding the domain index (0 when absent).
        landmark_keys, mode, anti_aliasing, allow_missing_keys: as for :class:`LandmarkResized`.

    Raises:
        ValueError: if ``spatial_sizes`` is empty or holds a bad size, ``keep_aspect`` does not give one flag per
            size, or a sample's domain has no size.
    """

    def __init__(
        self,
        keys: KeysCollection,
        spatial_sizes: Sequence[Sequence[int]],
        keep_aspect: Sequence[bool] | None = None,
        domain_key: str = Keys.DOMAIN,
        landmark_keys: KeysCollection = Keys.LANDMARKS,
        mode: str = InterpolateMode.BILINEAR,
        anti_aliasing: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        if not spatial_sizes:
            raise ValueError("DomainResized: spatial_sizes needs one (W, H) size per domain, got none.")
        keep_aspect = [False] * len(spatial_sizes) if keep_aspect is None else list(keep_aspect)
        if len(keep_aspect) != len(spatial_sizes) or not all(isinstance(k, bool) for k in keep_aspect):
            raise ValueError(
                f"DomainResized: keep_aspect needs one true/false per domain ({len(spatial_sizes)} sizes), "
                f"got {keep_aspect!r}."
            )
        common = {"landmark_keys": landmark_keys, "mode": mode, "anti_aliasing": anti_aliasing,
                  "allow_missing_keys": allow_missing_keys}  # fmt: skip
        self.resizers = [
            (LandmarkResizeWithPadd if keep else LandmarkResized)(keys, size, **common)
            for size, keep in zip(spatial_sizes, keep_aspect, strict=True)
        ]
        self.domain_key = domain_key

    def _resizer(self, data: Mapping) -> LandmarkResized | LandmarkResizeWithPadd:
        domain = _domain_of(data, self.domain_key, len(self.resizers), "DomainResized", "spatial_sizes")
        return self.resizers[domain]

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        return self._resizer(data)(data)

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        return self._resizer(data).inverse(data)


class DomainRandLandmarkAffined(Randomizable, MapTransform, InvertibleTransform):
    """:class:`RandLandmarkAffined` with its own rotation and translation ranges for each domain.

    Domains differ in input size and anatomy (a translation of 5 % of the input is a different number of pixels in
    each; a spine tolerates less rotation than a skull), so each domain gets its own :class:`RandLandmarkAffined`,
    and each sample is transformed by its domain's. Seeding this transform seeds every domain's from its stream.

    Args:
        keys: image keys; they are transformed alike.
        rotate_ranges: one ``rotate_range`` per domain (radians, as MONAI ``RandAffine``).
        translate_ranges: one ``translate_range`` per domain (pixels per axis).
        domain_key: the sample key holding the domain index (0 when absent).
        affine_args: the other arguments of :class:`RandLandmarkAffined` (``prob``, ``scale_range``, ...), shared by
            all domains.

    Raises:
        ValueError: if the two range lists are empty or of different lengths, or a sample's domain has no range.
    """

    def __init__(
        self,
        keys: KeysCollection,
        rotate_ranges: Sequence,
        translate_ranges: Sequence,
        domain_key: str = Keys.DOMAIN,
        **affine_args,
    ) -> None:
        MapTransform.__init__(self, keys, affine_args.get("allow_missing_keys", False))
        if not rotate_ranges or len(rotate_ranges) != len(translate_ranges):
            raise ValueError(
                "DomainRandLandmarkAffined: rotate_ranges and translate_ranges need one entry per domain each, got "
                f"{len(rotate_ranges)} and {len(translate_ranges)}."
            )
        self.affines = [
            RandLandmarkAffined(keys, rotate_range=r, translate_range=t, **affine_args)
            for r, t in zip(rotate_ranges, translate_ranges, strict=True)
        ]
        self.domain_key = domain_key

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        for affine in self.affines:
            affine.set_random_state(seed=int(self.R.randint(MAX_SEED, dtype="uint32")))
        return self

    def randomize(self, data=None) -> None:
        """Nothing to draw here: each domain's transform draws its own parameters when it runs."""

    def _affine(self, data: Mapping) -> RandLandmarkAffined:
        domain = _domain_of(data, self.domain_key, len(self.affines), "DomainRandLandmarkAffined", "rotate_ranges")
        return self.affines[domain]

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        return self._affine(data)(data)

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        return self._affine(data).inverse(data)


class InvertLandmarksd(MapTransform):
    """Map predicted landmarks from a transformed image's pixels back to the original image's pixels.

    A prediction is made on the transformed image (for example after :class:`LandmarkResized`), so it is in
    that image's pixel grid. This transform reads the reference image's ``applied_operations`` from the last to
    the first and undoes each recorded landmark map and permutation, without changing the image. Use it in
    post-processing after decollation, where each sample holds its own reference image.

    Every spatial transform applied to the reference image must be one of this module's; a MONAI spatial
    transform applied directly would move pixels without a landmark map, so it raises an error instead of
    giving silently wrong points.

    Args:
        keys: keys of ``(1, K, 2)`` landmarks in the transformed image's pixels (default the prediction).
        ref_key: key of the transformed image (a MetaTensor carrying ``applied_operations``).
        allow_missing_keys: don't raise if a landmark key is missing.

    Raises:
        KeyError: if ``ref_key`` is missing.
        ValueError: if the reference image is not a single-sample MetaTensor, or it records an operation that
            is not one of this module's landmark transforms.
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
                points = _permute(points, extra[LANDMARK_PERMUTATION], inverse=True)
                points = transform_points(
                    points, torch.linalg.inv(torch.as_tensor(extra[LANDMARK_MATRIX], dtype=torch.float64))
                )
            d[key] = points
        return d
