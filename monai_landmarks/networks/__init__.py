"""Networks for anatomical landmark detection: GU2Net and HTC (``nets``), and their building blocks (``blocks``)."""

from monai_landmarks.networks.blocks import (
    LAYOUTS,
    BilinearPoolingAttention,
    BilinearTransformerBlock,
    ConcatSeparableConv,
    DilatedResidualBlock,
    DomainSeparableConv,
    check_layout,
    fold_batch_norm,
    fold_preceding_batch_norm,
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
    "check_layout",
    "fold_batch_norm",
    "fold_preceding_batch_norm",
    "fuse_separable",
    "to_layout",
]
