"""Per-domain spatial transforms of a universal model: each sample is resized (:class:`DomainResized`) or
augmented (:class:`DomainRandLandmarkAffined`) by the transform of its own domain."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import InvertibleTransform, MapTransform, Randomizable
from monai.utils import MAX_SEED, InterpolateMode

from ...utils.keys import Keys
from .augment import RandLandmarkAffined
from .resize import LandmarkResized, LandmarkResizeWithPadd


def domain_of(data: Mapping, domain_key: str, num_domains: int, owner: str, what: str) -> int:
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
        domain = domain_of(data, self.domain_key, len(self.resizers), "DomainResized", "spatial_sizes")
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
        domain = domain_of(data, self.domain_key, len(self.affines), "DomainRandLandmarkAffined", "rotate_ranges")
        return self.affines[domain]

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        return self._affine(data)(data)

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        return self._affine(data).inverse(data)


__all__ = ["DomainRandLandmarkAffined", "DomainResized"]
