"""Landmarks <-> heatmaps: Gaussian target encoders, sub-pixel decoders and multiresolution targets.

A codec owns the conversion both ways (``encode`` -> targets and weights, ``decode`` -> landmarks and
confidence); only target transforms and post-processing call codecs, networks never do. The pixel-centre
convention is documented in :mod:`monai_landmarks.codecs.gaussian`.
"""

from __future__ import annotations

from monai_landmarks.codecs.decoders import (
    HeatmapDecoder,
    decode_argmax,
    decode_argmax_shift,
    decode_dark,
    decode_soft_argmax,
    decoder_function,
)
from monai_landmarks.codecs.gaussian import GaussianHeatmapCodec, heatmap_size, render_gaussians
from monai_landmarks.codecs.multires import LevelFusion, MultiResolutionHeatmapCodec, fuse_levels

__all__ = [
    "GaussianHeatmapCodec",
    "HeatmapDecoder",
    "LevelFusion",
    "MultiResolutionHeatmapCodec",
    "decode_argmax",
    "decode_argmax_shift",
    "decode_dark",
    "decode_soft_argmax",
    "decoder_function",
    "fuse_levels",
    "heatmap_size",
    "render_gaussians",
]
