"""Resizing with landmarks: plain (:class:`LandmarkResized`) or keeping the aspect ratio and padding
(:class:`LandmarkResizeWithPadd`)."""

from __future__ import annotations

from collections.abc import Sequence

from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import Resize, SpatialPad
from monai.utils import InterpolateMode, Method, PytorchPadMode, look_up_option

from ...utils.keys import Keys
from .base import LandmarkSpatiald, check_size


class LandmarkResized(LandmarkSpatiald):
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
        self.spatial_size = check_size(spatial_size, self.__class__.__name__, allow_keep=True)
        self.mode = look_up_option(mode, InterpolateMode)
        self.resizer = Resize(self.spatial_size, mode=self.mode, anti_aliasing=anti_aliasing)

    def _image_transforms(self, img: MetaTensor) -> list:
        return [self.resizer]

    def _inverters(self) -> list:
        return [self.resizer]


class LandmarkResizeWithPadd(LandmarkSpatiald):
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
        self.spatial_size = check_size(spatial_size, self.__class__.__name__, allow_keep=False)
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


__all__ = ["LandmarkResizeWithPadd", "LandmarkResized"]
