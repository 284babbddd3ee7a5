"""Networks for anatomical landmark detection: GU2Net and HTC (``nets``), and their building blocks (``blocks``)."""

from monai_landmarks.networks.blocks import (
    LAYOUTS,
    BilinearPoolingAttention,
    BilinearTransformerBlock,
    ConcatSeparableConv,
    DilatedResidualBlock,
    DomainSeparableConv,
    SeparableView,
    check_layout,
    fold_batch_norm,
    fold_preceding_batch_norm,
    fuse_convolution,
    fuse_modules,
    fuse_separable,
    to_layout,
)
from monai_landmarks.networks.nets import HTC, GU2Net, GU2NetDomain, LandmarkRefiner

__all__ = [
    "HTC",
    "LAYOUTS",
    "BilinearPoolingAttention",
    "BilinearTransformerBlock",
    "ConcatSeparableConv",
    "DilatedResidualBlock",
    "DomainSeparableConv",
    "GU2Net",
    "GU2NetDomain",
    "LandmarkRefiner",
    "SeparableView",
    "check_layout",
    "fold_batch_norm",
    "fold_preceding_batch_norm",
    "fuse_convolution",
    "fuse_modules",
    "fuse_separable",
    "to_layout",
]
