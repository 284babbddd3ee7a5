"""Heatmap losses: MSE (HTC/MMPose) and BCE (GU2Net), masked per landmark, single and multiresolution."""

from __future__ import annotations

from .heatmap import HeatmapLoss, HeatmapLossType, MultiResolutionHeatmapLoss

__all__ = ["HeatmapLoss", "HeatmapLossType", "MultiResolutionHeatmapLoss"]
