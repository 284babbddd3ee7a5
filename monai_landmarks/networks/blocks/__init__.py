"""Building blocks of the landmark networks."""

from monai_landmarks.networks.blocks.attention import BilinearPoolingAttention, BilinearTransformerBlock
from monai_landmarks.networks.blocks.fusion import (
    fold_batch_norm,
    fold_preceding_batch_norm,
    fuse_convolution,
    fuse_modules,
)
from monai_landmarks.networks.blocks.layout import LAYOUTS, check_layout, to_layout
from monai_landmarks.networks.blocks.residual import DilatedResidualBlock
from monai_landmarks.networks.blocks.separable import (
    ConcatSeparableConv,
    DomainSeparableConv,
    SeparableView,
    fuse_separable,
)

__all__ = [
    "LAYOUTS",
    "BilinearPoolingAttention",
    "BilinearTransformerBlock",
    "ConcatSeparableConv",
    "DilatedResidualBlock",
    "DomainSeparableConv",
    "SeparableView",
    "check_layout",
    "fold_batch_norm",
    "fold_preceding_batch_norm",
    "fuse_convolution",
    "fuse_modules",
    "fuse_separable",
    "to_layout",
]
