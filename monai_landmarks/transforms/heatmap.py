"""Dictionary transforms around the heatmap codecs: training targets from landmarks, landmarks from predictions.

The call style follows MONAI's ``GenerateHeatmapd`` (landmark keys in, heatmap keys out, the size either given
or read from a reference image), with the package's conventions: ``(1, K, 2)`` landmarks in image pixels,
heatmaps ``(K, w, h)``, and a sub-pixel Gaussian per level (see :mod:`monai_landmarks.codecs`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import ensure_tuple

from monai_landmarks.codecs.decoders import HeatmapDecoder
from monai_landmarks.codecs.multires import LevelFusion, MultiResolutionHeatmapCodec
from monai_landmarks.utils import coords
from monai_landmarks.utils.keys import Keys

__all__ = ["DecodeHeatmapsd", "GenerateHeatmapsd"]

AUTO = "auto"


def _per_key(value, keys: tuple, name: str) -> tuple:
    values = ensure_tuple(value)
    if len(values) != len(keys):
        raise ValueError(f"{name}: expected one per key {list(keys)}, got {list(values)}.")
    return values


class GenerateHeatmapsd(MapTransform):
    """Add Gaussian heatmap targets and landmark weights for the landmarks at ``keys``.

    The targets are a tuple of ``(K, w, h)`` heatmaps, one per level, coarsest first, by default at
    ``Keys.HEATMAPS`` (one level gives a one-element tuple, so training code handles any number of levels
    alike). With one level, ``as_tuple=False`` writes the single tensor instead, by default at ``Keys.HEATMAP``.
    The ``(K,)`` weights (0 for missing or off-image landmarks) go to ``weights_key``. Run it after the spatial
    transforms, on landmarks in the final image's pixels.

    Args:
        keys: keys of ``(1, K, 2)`` (or ``(K, 2)``) landmarks in image pixels.
        spatial_size: image size ``(W, H)``, or ``"auto"`` to read the spatial shape of ``ref_key``'s
            channel-first ``(C, W, H)`` image in each sample.
        levels: ``(stride, sigma)`` per level, coarsest first; sigma in that level's heatmap pixels.
            HTC: ``((4, 2.0), (2, 2.0))``; GU2Net: ``((1, 3.0),)``.
        heatmap_key: output key(s), one per key; default ``Keys.HEATMAPS``, or ``Keys.HEATMAP`` when ``as_tuple``
            is False.
        weights_key: output key(s) of the weights, one per key; None to skip.
        ref_key: image key read when ``spatial_size="auto"``.
        peak, truncate, dtype, weight_partial: see :class:`~monai_landmarks.codecs.GaussianHeatmapCodec`.
        as_tuple: write a tuple of levels; False (one level only) writes a plain tensor.
        codec: a :class:`~monai_landmarks.codecs.MultiResolutionHeatmapCodec` to encode with; when given it
            replaces ``levels``, ``peak``, ``truncate``, ``dtype`` and ``weight_partial``, so a bundle defines
            its codec once and shares it with :class:`DecodeHeatmapsd`.
        allow_missing_keys: skip absent keys instead of raising.

    Example::

        GenerateHeatmapsd(keys="landmarks", spatial_size="auto", levels=((4, 2.0), (2, 2.0)))
        # sample["heatmaps"] = (hm_1/4, hm_1/2), sample["landmark_weights"] = (K,)
    """

    def __init__(
        self,
        keys: KeysCollection = Keys.LANDMARKS,
        spatial_size: Sequence[int] | str = AUTO,
        levels: Sequence[tuple[int, float]] = ((4, 2.0), (2, 2.0)),
        heatmap_key: KeysCollection | None = None,
        weights_key: KeysCollection | None = Keys.WEIGHTS,
        ref_key: Hashable = Keys.IMAGE,
        peak: float = 1.0,
        truncate: float = 3.0,
        dtype: torch.dtype = torch.float32,
        weight_partial: bool = False,
        as_tuple: bool = True,
        allow_missing_keys: bool = False,
        codec: MultiResolutionHeatmapCodec | None = None,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if isinstance(spatial_size, str) and spatial_size != AUTO:
            raise ValueError(f"spatial_size must be (W, H) or {AUTO!r}, got {spatial_size!r}.")
        size = None if isinstance(spatial_size, str) else spatial_size
        if codec is None:
            codec = MultiResolutionHeatmapCodec(
                None, levels, peak=peak, truncate=truncate, dtype=dtype, weight_partial=weight_partial
            )
        self.codec = codec
        self.size = size
        self.single = not as_tuple
        if self.single and len(self.codec.codecs) > 1:
            raise ValueError(f"as_tuple=False needs a single level, got {len(self.codec.codecs)} levels.")
        if heatmap_key is None:
            heatmap_key = Keys.HEATMAP if self.single else Keys.HEATMAPS
        self.heatmap_keys = _per_key(heatmap_key, self.keys, "heatmap_key")
        self.weights_keys = (
            (None,) * len(self.keys) if weights_key is None else _per_key(weights_key, self.keys, "weights_key")
        )
        self.ref_key = ref_key
        self.auto_size = size is None

    def _spatial_size(self, data: Mapping) -> tuple[int, ...] | None:
        if not self.auto_size:
            return tuple(self.size)
        if self.ref_key not in data:
            raise ValueError(f"spatial_size='auto' reads the image at {self.ref_key!r}, which this sample lacks.")
        shape = tuple(data[self.ref_key].shape)
        if len(shape) != 1 + coords.SPATIAL_DIMS:
            raise ValueError(f"{self.ref_key!r}: expected a channel-first (C, W, H) image, got shape {shape}.")
        return shape[1:]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        size = self._spatial_size(d)
        for key, heatmap_key, weights_key in self.key_iterator(d, self.heatmap_keys, self.weights_keys):
            points = coords.as_landmarks(d[key], name=str(key))
            heatmaps, weights = self.codec.encode(points, size)
            d[heatmap_key] = heatmaps[0] if self.single else heatmaps
            if weights_key is not None:
                d[weights_key] = weights
        return d


class DecodeHeatmapsd(MapTransform):
    """Decode predicted heatmaps into landmarks (image pixels) and a confidence per landmark.

    Works on a decollated sample (``(K, w, h)`` per level -> ``(1, K, 2)`` landmarks and ``(1, K)`` confidence)
    or on a batch (``(B, K, w, h)`` -> ``(B, K, 2)`` and ``(B, K)``). With several levels the value at ``keys``
    is a tuple or list of heatmaps, coarsest first, matching ``levels``.

    Args:
        keys: keys of the predicted heatmaps.
        levels: ``(stride, sigma)`` per level, as given to :class:`GenerateHeatmapsd`.
        decoder: a :class:`~monai_landmarks.codecs.HeatmapDecoder` name.
        decoder_args: extra keyword arguments of the decoder, see
            :class:`~monai_landmarks.codecs.GaussianHeatmapCodec`.
        fuse: a :class:`~monai_landmarks.codecs.LevelFusion` name (HTC: ``"mean"``).
        truncate: the targets' truncation, used by the decoders' defaults.
        landmarks_key: output key(s) of the landmarks, one per key.
        confidence_key: output key(s) of the confidence, one per key; None to skip.
        allow_missing_keys: skip absent keys instead of raising.
        codec: a :class:`~monai_landmarks.codecs.MultiResolutionHeatmapCodec` to decode with (the one the
            targets were generated with); when given it replaces ``levels``, ``decoder``, ``decoder_args``,
            ``fuse`` and ``truncate``.
    """

    def __init__(
        self,
        keys: KeysCollection = Keys.PRED,
        levels: Sequence[tuple[int, float]] = ((4, 2.0), (2, 2.0)),
        decoder: HeatmapDecoder | str = HeatmapDecoder.DARK,
        decoder_args: Mapping | None = None,
        fuse: LevelFusion | str = LevelFusion.MEAN,
        truncate: float = 3.0,
        landmarks_key: KeysCollection = Keys.PRED_LANDMARKS,
        confidence_key: KeysCollection | None = Keys.CONFIDENCE,
        allow_missing_keys: bool = False,
        codec: MultiResolutionHeatmapCodec | None = None,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if codec is None:
            codec = MultiResolutionHeatmapCodec(
                None, levels, truncate=truncate, decoder=decoder, decoder_args=decoder_args, fuse=fuse
            )
        self.codec = codec
        self.landmarks_keys = _per_key(landmarks_key, self.keys, "landmarks_key")
        self.confidence_keys = (
            (None,) * len(self.keys)
            if confidence_key is None
            else _per_key(confidence_key, self.keys, "confidence_key")
        )

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key, landmarks_key, confidence_key in self.key_iterator(d, self.landmarks_keys, self.confidence_keys):
            pred = d[key]
            levels = [pred] if isinstance(pred, (torch.Tensor, np.ndarray)) else list(pred)
            points, confidence = self.codec.decode(levels)
            d[landmarks_key] = points
            if confidence_key is not None:
                d[confidence_key] = confidence
        return d
