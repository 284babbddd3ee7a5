"""Multiresolution Gaussian heatmaps: one single-level codec per level (HTC's multiresolution learning).

Each level renders its own target at its own stride (never a downsampled copy of a finer one), with sigma in
that level's heatmap pixels. Levels are ordered coarsest first, as HTC's heads are (1/4, then 1/2).
Decoding decodes every level to image pixels with its own stride, then fuses the levels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from monai.utils import StrEnum, look_up_option

from monai_landmarks.codecs.decoders import HeatmapDecoder
from monai_landmarks.codecs.gaussian import GaussianHeatmapCodec

__all__ = ["LevelFusion", "MultiResolutionHeatmapCodec", "fuse_levels"]


class LevelFusion(StrEnum):
    """How decoded levels become one prediction."""

    MEAN = "mean"  #: mean of the levels' coordinates and of their confidences (HTC)
    FINEST = "finest"  #: the last (finest) level's result
    COARSEST = "coarsest"  #: the first (coarsest) level's result


def fuse_levels(
    results: Sequence[tuple[torch.Tensor, torch.Tensor]], fuse: LevelFusion | str = LevelFusion.MEAN
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fuse per-level ``(landmarks, confidence)`` pairs, ordered coarsest first, into one pair."""
    fuse = look_up_option(fuse, LevelFusion)
    if not results:
        raise ValueError("fuse_levels needs at least one level.")
    if fuse == LevelFusion.FINEST:
        return results[-1]
    if fuse == LevelFusion.COARSEST:
        return results[0]
    points = torch.stack([p for p, _ in results]).mean(dim=0)
    confidence = torch.stack([c for _, c in results]).mean(dim=0)
    return points, confidence


class MultiResolutionHeatmapCodec:
    """A list of :class:`~monai_landmarks.codecs.gaussian.GaussianHeatmapCodec`, one per ``(stride, sigma)`` level.

    Args:
        spatial_size: image size ``(W, H)``; may instead be given to :meth:`encode`.
        levels: ``(stride, sigma)`` per level, coarsest (largest stride) first. HTC: ``((4, 2.0), (2, 2.0))``;
            GU2Net: ``((1, 3.0),)``.
        peak, truncate, dtype, decoder, decoder_args, weight_partial, round_targets: as for
            :class:`~monai_landmarks.codecs.gaussian.GaussianHeatmapCodec`, shared by all levels.
        fuse: default :class:`LevelFusion` of :meth:`decode`.

    Weights do not depend on the level (they test the landmark against the image), so one ``(K,)`` weight
    tensor serves every level.
    """

    def __init__(
        self,
        spatial_size: Sequence[int] | None = None,
        levels: Sequence[tuple[int, float]] = ((4, 2.0), (2, 2.0)),
        peak: float = 1.0,
        truncate: float = 3.0,
        dtype: torch.dtype = torch.float32,
        decoder: HeatmapDecoder | str = HeatmapDecoder.DARK,
        decoder_args: Mapping | None = None,
        weight_partial: bool = False,
        fuse: LevelFusion | str = LevelFusion.MEAN,
        round_targets: bool = False,
    ) -> None:
        levels = tuple(tuple(level) for level in levels)
        if not levels or any(len(level) != 2 for level in levels):
            raise ValueError(f"levels must be a non-empty sequence of (stride, sigma) pairs, got {levels}.")
        strides = [level[0] for level in levels]
        if any(a <= b for a, b in zip(strides, strides[1:], strict=False)):
            raise ValueError(f"levels must be ordered coarsest first (strictly decreasing strides), got {strides}.")
        self.levels = levels
        self.fuse = look_up_option(fuse, LevelFusion)
        self.codecs = [
            GaussianHeatmapCodec(
                spatial_size,
                stride=stride,
                sigma=sigma,
                peak=peak,
                truncate=truncate,
                dtype=dtype,
                decoder=decoder,
                decoder_args=decoder_args,
                weight_partial=weight_partial,
                round_targets=round_targets,
            )
            for stride, sigma in levels
        ]

    def heatmap_sizes(self, spatial_size: Sequence[int] | None = None) -> list[tuple[int, int]]:
        """Heatmap size of each level, coarsest first."""
        return [codec.heatmap_size(spatial_size) for codec in self.codecs]

    def encode(
        self, landmarks: torch.Tensor, spatial_size: Sequence[int] | None = None
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """One sample: ``(1, K, 2)`` -> a tuple of ``(K, w_i, h_i)`` heatmaps (coarsest first) and ``(K,)`` weights."""
        encoded = [codec.encode(landmarks, spatial_size) for codec in self.codecs]
        return tuple(h for h, _ in encoded), encoded[0][1]

    def encode_batch(
        self, landmarks: torch.Tensor, spatial_size: Sequence[int] | None = None
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """A batch: ``(B, K, 2)`` -> a tuple of ``(B, K, w_i, h_i)`` heatmaps and ``(B, K)`` weights."""
        encoded = [codec.encode_batch(landmarks, spatial_size) for codec in self.codecs]
        return tuple(h for h, _ in encoded), encoded[0][1]

    def decode_levels(self, heatmaps: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Decode each level to image pixels: a list of ``(landmarks, confidence)``, coarsest first."""
        if isinstance(heatmaps, torch.Tensor) or len(heatmaps) != len(self.codecs):
            got = "one tensor" if isinstance(heatmaps, torch.Tensor) else f"{len(heatmaps)} tensors"
            raise ValueError(f"heatmaps: expected a sequence of {len(self.codecs)} levels (coarsest first), got {got}.")
        return [codec.decode(h) for codec, h in zip(self.codecs, heatmaps, strict=True)]

    def decode(
        self, heatmaps: Sequence[torch.Tensor], fuse: LevelFusion | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode every level and fuse them.

        Args:
            heatmaps: one tensor per level, coarsest first, each ``(K, w_i, h_i)`` or ``(B, K, w_i, h_i)``.
            fuse: a :class:`LevelFusion` name; default the codec's.

        Returns:
            landmarks ``(1, K, 2)`` or ``(B, K, 2)`` in image pixels and confidence ``(1, K)`` or ``(B, K)``.
        """
        return fuse_levels(self.decode_levels(heatmaps), self.fuse if fuse is None else fuse)

    def __repr__(self) -> str:
        decoder = self.codecs[0].decoder.value
        return f"{type(self).__name__}(levels={self.levels}, decoder={decoder!r}, fuse={self.fuse.value!r})"
