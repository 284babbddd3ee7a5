"""HTC: hybrid transformer-CNN with multiresolution heatmap heads.

Viriyasaranon, Ma, Choi, "Anatomical Landmark Detection Using a Multiresolution Learning Approach with a Hybrid
Transformer-CNN Model", MICCAI 2023, pp. 433-443. Reference implementation (MMPose 0.23 based):
https://github.com/seriee/Multiresolution-HTC (backbone ``Hybrid_Transformer_CNN.py``, neck ``Deconv_fpn_neck.py``,
heads ``topdown_convhead_heatmap.py`` / ``topdown_distance_deconvhead.py``); this is a re-implementation.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from monai.networks.layers.factories import Conv
from torch import nn
from torch.utils.checkpoint import checkpoint

from monai_landmarks.networks.blocks.attention import BilinearTransformerBlock
from monai_landmarks.networks.blocks.fusion import fuse_modules
from monai_landmarks.networks.blocks.layout import check_layout, to_layout
from monai_landmarks.networks.blocks.residual import DilatedResidualBlock

__all__ = ["HTC"]

_HEAD_STRIDES = (4, 2)
#: backbone initialisations: the published intent, and what the released code ends up with (see ``HTC``)
BACKBONE_INITS = ("he_fan_out", "pytorch")


def _positive_ints(name: str, values: Sequence[int], length: int | None = None) -> tuple[int, ...]:
    values = tuple(values)
    if length is not None and len(values) != length:
        raise ValueError(f"{name} must hold {length} values (one per stage), got {values!r}.")
    for v in values:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must hold positive ints, got {values!r}.")
    return values


class _HybridStage(nn.Module):
    """Stride-2 3x3 conv patch embedding -> transformer block (bilinear pooling attention + FFN) -> conv block."""

    def __init__(self, in_channels: int, channels: int, reduction: int, ffn_ratio: int, drop_path: float) -> None:
        super().__init__()
        self.embed = Conv[Conv.CONV, 2](in_channels, channels, 3, stride=2, padding=1)
        self.transformer = BilinearTransformerBlock(2, channels, reduction, ffn_ratio, drop_path)
        self.conv = DilatedResidualBlock(2, channels, channels, dilation=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.transformer(self.embed(x)))


class _FPNNeck(nn.Module):
    """3x3 lateral convs, top-down nearest upsampling and addition, a 3x3 output conv on the finest level."""

    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        conv = Conv[Conv.CONV, 2]
        self.laterals = nn.ModuleList([conv(c, out_channels, 3, padding=1) for c in in_channels])
        self.out = conv(out_channels, out_channels, 3, padding=1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        lat: list[torch.Tensor] = []
        for i, conv in enumerate(self.laterals):
            lat.append(conv(feats[i]))
        for i in range(len(lat) - 1, 0, -1):
            prev = lat[i - 1]
            lat[i - 1] = prev + F.interpolate(lat[i], size=[prev.shape[2], prev.shape[3]], mode="nearest")
        return self.out(lat[0])


class HTC(nn.Module):
    """Hybrid transformer-CNN (HTC) with multiresolution heads; returns heatmaps at 1/4 and 1/2 of the input.

    Topology (published configuration in brackets):

    * **Backbone**: four stages of widths ``channels`` (64, 128, 320, 512), strides 2, 4, 8, 16. Each stage: 3x3
      stride-2 conv patch embedding (with bias); one transformer-style block ``x + DropPath(Attn(BN(x)))``,
      ``x + DropPath(FFN(BN(x)))`` where Attn is bilinear-pooling (double) attention with ``C / r`` attention
      channels, ``r = attention_reductions`` (8, 4, 2, 1), and FFN is 1x1 conv to ``ffn_ratios * C`` (8, 8, 4, 4),
      GELU, 1x1 conv back; one dilated residual conv block (3x3 conv, BN, ReLU, 3x3 conv dilation 2, BN, plus a
      3x3 conv shortcut, ReLU; no conv biases). Stochastic depth grows linearly over the stages from 0 to
      ``drop_path_rate`` (0.1): 0, 0.033, 0.067, 0.1.
    * **Neck** (FPN on the outputs of stages 2-4, strides 4, 8, 16): 3x3 lateral convs to ``neck_channels`` (256),
      top-down nearest upsampling and addition, one 3x3 conv on the stride-4 level. Stage 1 (stride 2) only feeds
      stage 2, as published.
    * **Heads** (the multiresolution learning): stride 4 = 3x3 conv (``head_channels`` 256), ReLU, 1x1 conv to K;
      stride 2 = 4x4 stride-2 transposed conv (256, no bias), BN, ReLU, 3x3 conv, ReLU, 1x1 conv to K. Each head is
      trained on its own target rendered at its own resolution (sigma 2 heatmap pixels, MSE weighted 1000 and
      3000 in the paper); the final landmark is the mean of both heads' decoded coordinates.

    Output: ``forward`` always returns a tuple of heatmaps (raw regression outputs, no activation), coarsest
    first: ``(quarter, half)`` with shapes ``(B, K, W/4, H/4)`` and ``(B, K, W/2, H/2)``, in training and in eval
    alike; with ``heads=(4,)`` or ``heads=(2,)`` a 1-tuple.

    Input: MONAI channel-first ``(B, C, W, H)`` (spatial axis 0 is x); both spatial sizes must be multiples of 16,
    other sizes are rejected (the original accepts them, but its stride-2 convs round up, so its heatmaps are then no
    longer exactly 1/4 and 1/2 of the input and its pyramid levels not exact 2x steps). The published sizes are
    (608, 480) for the XCAT head data (``image_size=[608, 480]`` in the original configs, which MMPose reads as
    width x height, so ``(W, H) = (608, 480)``) and (1024, 1216) for ISBI 2023 (``image_size=[1024, 1216]``).

    Parameters: 21,887,026 with ``in_channels=3, out_channels=13`` (the XCAT head configuration); 21,890,110 for 19
    landmarks. The paper's table reports "16.2M", which the released code does not reproduce: its modules register
    24,613,426 parameters (K=13), of which 2,726,400 are never used by its forward pass (an ``nn.MultiheadAttention``
    inherited by the bilinear-pooling module, a BatchNorm in each patch embedding, two FPN output convs whose
    results are discarded). Those dead parameters are left out here, so every parameter receives a gradient.

    Args:
        spatial_dims: number of spatial dimensions; only 2 is supported.
        in_channels: image channels (3 as published; 1 for plain grayscale X-rays).
        out_channels: number of landmarks K.
        channels: the four stage widths.
        attention_reductions: attention channel reduction per stage; each stage width must be a multiple of it.
        ffn_ratios: FFN hidden width per stage, as a multiple of the stage width.
        neck_channels: FPN width.
        head_channels: width of the heads' hidden convs.
        heads: output strides of the heads to build, a subset of ``(4, 2)``; outputs are ordered coarsest first.
        drop_path_rate: stochastic depth of the last stage (linear from 0 over the stages).
        width_multiplier: scales ``channels``, ``neck_channels`` and ``head_channels`` (rounded to multiples of 8,
            at least 8); 1.0 is the published model.
        gradient_checkpointing: recompute each stage in the backward pass instead of storing its activations
            (training only; saves memory, costs time). BatchNorm running statistics are then updated twice per
            step (once in the recomputation), which changes only their effective momentum.
        layout: activation memory layout, one of ``("auto", "channels_last", "channels_first")``. ``"auto"`` runs
            NHWC when no gradients are recorded (oneDNN's NHWC forward convolutions are faster) and NCHW while they
            are (its NHWC weight gradients of the large 3x3 convs are several times slower). Speed only, never the
            function.
        backbone_init: ``"he_fan_out"``: backbone convolutions drawn from N(0, sqrt(2 / fan_out)), what the
            published code intends; ``"pytorch"``: PyTorch's default initialisation, what the released code ends up
            with (its backbone init call is a no-op on tensors). The neck and heads are initialised alike in both.
        single_output: return the finest level alone, one tensor, instead of the tuple of levels: the one ``pred``
            of a bundle's metadata, which tools that read a single output (model-zoo's ``verify_net_in_out``,
            viewers, exporters) take. The parameters are the same either way; :meth:`with_single_output` gives the
            other form of one network.

    Raises:
        ValueError: for ``spatial_dims != 2``, non-positive sizes, per-stage tuples not of length 4, a stage width
            that is not a multiple of its attention reduction, unknown head strides, a drop-path rate outside
            [0, 1], a non-positive width multiplier or an unknown ``layout``.

    Example::

        net = HTC(2, in_channels=1, out_channels=19)
        quarter, half = net(torch.rand(2, 1, 608, 480))  # (2, 19, 152, 120), (2, 19, 304, 240)
    """

    __constants__ = ["single_output"]  # TorchScript compiles only the branch of forward that this network takes

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int] = (64, 128, 320, 512),
        attention_reductions: Sequence[int] = (8, 4, 2, 1),
        ffn_ratios: Sequence[int] = (8, 8, 4, 4),
        neck_channels: int = 256,
        head_channels: int = 256,
        heads: Sequence[int] = (4, 2),
        drop_path_rate: float = 0.1,
        width_multiplier: float = 1.0,
        gradient_checkpointing: bool = False,
        layout: str = "auto",
        backbone_init: str = "he_fan_out",
        single_output: bool = False,
    ) -> None:
        super().__init__()
        self.single_output = _check_bool("single_output", single_output)
        if backbone_init not in BACKBONE_INITS:
            raise ValueError(f"backbone_init must be one of {BACKBONE_INITS}, got {backbone_init!r}.")
        self.backbone_init = backbone_init
        if spatial_dims != 2:
            raise ValueError(f"HTC supports spatial_dims=2 only, got {spatial_dims}.")
        (in_channels, out_channels, neck_channels, head_channels) = _positive_ints(
            "in_channels, out_channels, neck_channels and head_channels",
            (in_channels, out_channels, neck_channels, head_channels),
        )
        channels = _positive_ints("channels", channels, 4)
        attention_reductions = _positive_ints("attention_reductions", attention_reductions, 4)
        ffn_ratios = _positive_ints("ffn_ratios", ffn_ratios, 4)
        heads = tuple(heads)
        if len(heads) == 0 or len(set(heads)) != len(heads) or any(h not in _HEAD_STRIDES for h in heads):
            raise ValueError(f"heads must be a non-empty subset of the strides {_HEAD_STRIDES}, got {heads!r}.")
        if not 0.0 <= drop_path_rate <= 1.0:
            raise ValueError(f"drop_path_rate must be in [0, 1], got {drop_path_rate}.")
        if not (
            isinstance(width_multiplier, (int, float)) and width_multiplier > 0 and math.isfinite(width_multiplier)
        ):
            raise ValueError(f"width_multiplier must be a positive number, got {width_multiplier!r}.")
        if width_multiplier != 1.0:
            channels = tuple(_scale(c, width_multiplier) for c in channels)
            neck_channels = _scale(neck_channels, width_multiplier)
            head_channels = _scale(head_channels, width_multiplier)
        for c, r in zip(channels, attention_reductions, strict=True):
            if c % r != 0:
                raise ValueError(f"each stage width must be a multiple of its attention reduction, got {c} and {r}.")

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.channels = channels
        self.heads = tuple(sorted(heads, reverse=True))  # coarsest first
        self.gradient_checkpointing = bool(gradient_checkpointing)
        self.layout = check_layout(layout)

        rates = [drop_path_rate * i / 3 for i in range(4)]
        widths_in = (in_channels,) + channels[:-1]
        self.stages = nn.ModuleList(
            [
                _HybridStage(cin, c, r, f, p)
                for cin, c, r, f, p in zip(widths_in, channels, attention_reductions, ffn_ratios, rates, strict=True)
            ]
        )
        self.neck = _FPNNeck(channels[1:], neck_channels)
        conv = Conv[Conv.CONV, 2]
        relu = ("relu", {"inplace": True})
        self.head_quarter: nn.Module | None = None
        self.head_half: nn.Module | None = None
        if 4 in self.heads:
            self.head_quarter = nn.Sequential(
                Convolution(2, neck_channels, head_channels, kernel_size=3, adn_ordering="A", act=relu, norm=None),
                conv(head_channels, out_channels, 1),
            )
        if 2 in self.heads:
            self.head_half = nn.Sequential(
                Convolution(
                    2,
                    neck_channels,
                    neck_channels,
                    strides=2,
                    kernel_size=4,
                    padding=1,
                    output_padding=0,
                    is_transposed=True,
                    bias=False,
                    adn_ordering="NA",
                    act=relu,
                    norm="batch",
                ),
                Convolution(2, neck_channels, head_channels, kernel_size=3, adn_ordering="A", act=relu, norm=None),
                conv(head_channels, out_channels, 1),
            )
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        """Backbone convs N(0, sqrt(2 / fan_out)) (He fan-out, or PyTorch's default with ``backbone_init="pytorch"``),
        neck Xavier-uniform, heads N(0, 0.001); biases 0.

        The He init is what the released code writes, not what it runs: it passes weight tensors to mmcv's
        ``normal_init``, which expects modules, so the released backbone keeps PyTorch's default init.
        """
        backbone = self.stages.modules() if self.backbone_init == "he_fan_out" else ()
        for m in backbone:
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for m in self.neck.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for head in (self.head_quarter, self.head_half):
            if head is None:
                continue
            for m in head.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.normal_(m.weight, 0.0, 0.001)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError("HTC expects a (B, C, W, H) batch, got " + str(x.dim()) + " dimensions.")
        if x.shape[1] != self.in_channels:
            raise ValueError("HTC expects " + str(self.in_channels) + " input channels, got " + str(x.shape[1]) + ".")
        if x.shape[2] % 16 != 0 or x.shape[3] % 16 != 0 or x.shape[2] < 16 or x.shape[3] < 16:
            raise ValueError(
                "HTC needs spatial sizes that are positive multiples of 16 (four stride-2 stages), got "
                + str(list(x.shape[2:]))
                + "; resize or pad the image first."
            )

    @torch.jit.unused
    def _checkpointed(self, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return checkpoint(stage, x, use_reentrant=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The neck output at stride 4, ``(B, neck_channels, W/4, H/4)``."""
        if not torch.jit.is_tracing():
            self._check_input(x)
        nhwc = self.layout == "channels_last" or (
            self.layout == "auto" and (not torch.is_grad_enabled() or torch.jit.is_tracing())
        )
        x = to_layout(x, nhwc)
        feats: list[torch.Tensor] = []
        for i, stage in enumerate(self.stages):
            if self.gradient_checkpointing and self.training and not torch.jit.is_scripting():
                x = self._checkpointed(stage, x)
            else:
                x = stage(x)
            if i > 0:
                feats.append(x)
        return self.neck(feats)

    def fuse(self) -> HTC:
        """An independent inference copy (eval mode, no gradients) with every BatchNorm folded into a conv.

        The norms after convolutions (conv blocks, the 1/2 head's transposed conv) are folded into them; the two
        pre-norms of each transformer block are folded into the 1x1 convs that read them (attention input, FFN
        input). Outputs equal this network's eval-mode outputs up to float rounding.
        """
        fused = fuse_modules(copy.deepcopy(self).eval())  # the transformer blocks fold their own pre-norms
        if fused.layout != "channels_first":  # no gradients in the fused copy: NHWC weights, no per-call reorder
            fused.to(memory_format=torch.channels_last)
        for p in fused.parameters():
            p.requires_grad_(False)
        return fused.eval()

    def with_single_output(self, single_output: bool) -> HTC:
        """This network with ``single_output`` set, sharing its parameters and buffers: weights loaded into one are
        in both, and ``train()``/``eval()`` on one switch the shared layers (a bundle's ``network_def`` is the
        one-tensor form model-zoo checks, its ``network`` this view with every level)."""
        view = copy.copy(self)  # a shallow copy: the same submodules, parameters and buffers
        view.single_output = _check_bool("single_output", single_output)
        return view

    def forward(self, x: torch.Tensor):
        """Heatmaps, coarsest first: ``(quarter, half)`` (or the 1-tuple of the one head built); with
        ``single_output`` the finest level alone, a tensor."""
        y = self.features(x)
        if self.head_quarter is None:
            levels = (self.head_half(y).contiguous(),)
        elif self.head_half is None:
            levels = (self.head_quarter(y).contiguous(),)
        else:
            levels = (self.head_quarter(y).contiguous(), self.head_half(y).contiguous())
        if self.single_output:
            return levels[-1]
        return levels


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):  # a string "false" from a command line would read as True
        raise ValueError(f"{name} must be true or false, got {value!r}.")
    return value


def _scale(c: int, multiplier: float) -> int:
    return max(8, int(round(c * multiplier / 8)) * 8)
