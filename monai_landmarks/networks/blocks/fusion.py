"""Folding of batch normalisation into the preceding convolution, for inference, and the generic fuse walk.

As in timm, each block that holds something to fold owns a ``fuse()`` method returning its inference copy;
:func:`fuse_modules` walks a network and replaces each such child by it, so a network's ``fuse`` never reaches
into its blocks' internals.
"""

from __future__ import annotations

import copy

import torch
from monai.networks.blocks import Convolution
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

__all__ = ["fold_batch_norm", "fold_preceding_batch_norm", "fuse_convolution", "fuse_modules"]


def _check_norm(norm: nn.Module) -> None:
    if not isinstance(norm, nn.modules.batchnorm._BatchNorm):
        raise ValueError(f"only batch norm can be folded into a convolution, got {type(norm).__name__}.")
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError("norm must track running statistics (track_running_stats=True) to be folded.")


def _memory_format(weight: torch.Tensor) -> torch.memory_format:
    if weight.dim() == 4 and weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


def fold_batch_norm(conv: nn.Module, norm: nn.Module) -> nn.Module:
    """A copy of ``conv`` whose weight and bias include the eval-mode affine map of ``norm``.

    ``norm(conv(x)) == fold_batch_norm(conv, norm)(x)`` in eval mode (running statistics), up to float rounding.
    Neither argument is modified (their ``training`` flags included); the weight keeps its memory format.

    Args:
        conv: a ``nn.Conv{1,2,3}d`` or ``nn.ConvTranspose{1,2,3}d``, with or without bias.
        norm: a ``nn.BatchNorm{1,2,3}d`` over the conv's output channels, with running statistics.

    Raises:
        ValueError: when the types do not fit or ``norm`` tracks no running statistics.
    """
    if not isinstance(conv, nn.modules.conv._ConvNd):
        raise ValueError(f"conv must be a torch convolution module, got {type(conv).__name__}.")
    _check_norm(norm)
    if norm.num_features != conv.out_channels:
        raise ValueError(f"norm has {norm.num_features} features but conv has {conv.out_channels} output channels.")
    fused = copy.deepcopy(conv)
    fused.train(False)
    memory_format = _memory_format(conv.weight)
    weight, bias = fuse_conv_bn_weights(
        conv.weight.detach(),
        None if conv.bias is None else conv.bias.detach(),
        norm.running_mean,
        norm.running_var,
        norm.eps,
        None if norm.weight is None else norm.weight.detach(),
        None if norm.bias is None else norm.bias.detach(),
        transpose=conv.transposed,
    )
    fused.weight = nn.Parameter(weight.detach().contiguous(memory_format=memory_format), requires_grad=False)
    fused.bias = nn.Parameter(bias.detach(), requires_grad=False)
    return fused


def fold_preceding_batch_norm(norm: nn.Module, conv: nn.Module) -> nn.Module:
    """A copy of the 1x1 ``conv`` that includes the eval-mode affine map of the batch norm applied *before* it.

    ``conv(norm(x)) == fold_preceding_batch_norm(norm, conv)(x)`` in eval mode, up to float rounding. Only
    unpadded 1x1 convolutions without groups qualify (with padding the folded bias would be wrong at the border).

    Raises:
        ValueError: when ``conv`` is not such a convolution or ``norm`` cannot be folded.
    """
    if not isinstance(conv, nn.modules.conv._ConvNd) or conv.transposed:
        raise ValueError(f"conv must be a (non-transposed) torch convolution, got {type(conv).__name__}.")
    _check_norm(norm)
    if any(k != 1 for k in conv.kernel_size) or conv.groups != 1 or conv.padding_mode != "zeros":
        raise ValueError("only 1x1 convolutions without groups can absorb a preceding batch norm.")
    if isinstance(conv.padding, str) or any(p != 0 for p in conv.padding):
        raise ValueError("only unpadded convolutions can absorb a preceding batch norm.")
    if norm.num_features != conv.in_channels:
        raise ValueError(f"norm has {norm.num_features} features but conv has {conv.in_channels} input channels.")
    with torch.no_grad():
        scale = torch.rsqrt(norm.running_var + norm.eps)
        shift = -norm.running_mean * scale
        if norm.weight is not None:
            scale = scale * norm.weight
            shift = shift * norm.weight
        if norm.bias is not None:
            shift = shift + norm.bias
        w = conv.weight.detach()
        w2 = w.reshape(w.shape[0], w.shape[1])
        bias = w2 @ shift
        if conv.bias is not None:
            bias = bias + conv.bias.detach()
        weight = (w * scale.reshape(1, -1, *([1] * (w.dim() - 2)))).contiguous(memory_format=_memory_format(w))
    fused = copy.deepcopy(conv)
    fused.train(False)
    fused.weight = nn.Parameter(weight, requires_grad=False)
    fused.bias = nn.Parameter(bias, requires_grad=False)
    return fused


def fuse_convolution(layer: Convolution) -> nn.Module:
    """MONAI's ``Convolution`` (conv, then ADN) with its batch norm folded into the conv, or ``layer`` unchanged.

    MONAI's block has no ``fuse()`` of its own, so the walk folds it here: ``Sequential(folded conv, the rest of the
    ADN)`` when the ADN starts with a batch norm (norm first: ``"NA"``, ``"N"``, ``"NDA"``); any other layer (no
    norm, another norm, or the norm after the activation) is returned as it is.
    """
    adn = getattr(layer, "adn", None)
    parts = list(adn.named_children()) if adn is not None else []
    if not parts or parts[0][0] != "N" or not isinstance(parts[0][1], nn.modules.batchnorm._BatchNorm):
        return layer
    folded = nn.Sequential(fold_batch_norm(layer.conv, parts[0][1]), *[copy.deepcopy(m) for _, m in parts[1:]])
    return folded.train(layer.training)


def fuse_modules(module: nn.Module) -> nn.Module:
    """Fold, in place, every child of ``module`` that can be folded, walking the whole tree (eval mode assumed).

    A child with a ``fuse()`` method is replaced by what that returns (the block owns its folding, and its subtree);
    a MONAI ``Convolution`` by :func:`fuse_convolution`; every other child is walked. Returns ``module``.
    """
    for name, child in module.named_children():
        if callable(getattr(child, "fuse", None)):
            setattr(module, name, child.fuse())
        elif isinstance(child, Convolution):
            setattr(module, name, fuse_convolution(child))
        else:
            fuse_modules(child)
    return module
