"""HTC: parameter counts, the original's function, the (quarter, half) output contract, export, layouts, fusion."""

from __future__ import annotations

import io

import pytest
import torch
from _reference_htc import ReferenceHTC, load_from
from torch import nn

from monai_landmarks.networks import HTC

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")

SMALL = {"channels": (8, 16, 24, 32), "neck_channels": 16, "head_channels": 16}


def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _small(in_channels=1, out_channels=5, seed=0, **kwargs) -> HTC:
    torch.manual_seed(seed)
    net = HTC(2, in_channels, out_channels, **{**SMALL, **kwargs})
    for head in (net.head_quarter, net.head_half):  # PyTorch's default init: O(1) outputs, so tolerances bite
        for m in [] if head is None else head.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.reset_parameters()
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():  # non-trivial statistics and affine maps, so that eval mode and folding are exercised
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return net


def _assert_close(got: torch.Tensor, expected: torch.Tensor, rel: float) -> None:
    """Close up to ``rel`` relative to the largest magnitude of ``expected`` (eval outputs with random running
    statistics reach hundreds, so a fixed absolute tolerance would be meaningless)."""
    torch.testing.assert_close(got, expected, rtol=rel, atol=rel * float(expected.abs().max()))


class TestPublishedSize:
    """Live parameters of the released configuration (the paper's "16.2M" is not reproduced: see HTC's docstring)."""

    @pytest.mark.parametrize(
        "in_channels, out_channels, expected",
        [(3, 13, 21_887_026), (3, 19, 21_890_110), (3, 29, 21_895_250), (1, 19, 21_888_958)],
    )
    def test_counts(self, in_channels, out_channels, expected):
        assert _count(HTC(2, in_channels, out_channels)) == expected

    def test_count_per_part(self):
        net = HTC(2, 3, 13)
        # the quarter head: 3x3 conv 256->256 + 1x1 conv 256->13; the half head adds a 4x4 deconv 256->256 and BN
        assert _count(net.head_quarter) == 256 * 256 * 9 + 256 + 256 * 13 + 13
        assert _count(net.head_half) == 256 * 256 * 16 + 2 * 256 + _count(net.head_quarter)
        assert _count(net.neck) == 9 * 256 * (128 + 320 + 512) + 3 * 256 + 256 * 256 * 9 + 256
        assert _count(HTC(2, 3, 13, heads=(4,))) == _count(net) - _count(net.head_half)

    def test_reference_adds_only_the_discarded_fpn_convs(self):
        # the benchmark's htc_original: the used parameters plus two 3x3 256->256 convs whose results are discarded
        assert _count(ReferenceHTC(3, 13)) == 21_887_026 + 2 * (256 * 256 * 9 + 256) == 23_067_186


class TestSameFunctionAsOriginal:
    @pytest.mark.parametrize("layout", ["auto", "channels_last", "channels_first"])
    def test_equal_outputs(self, layout):
        net = _small(in_channels=3, drop_path_rate=0.0, layout=layout)
        ref = load_from(ReferenceHTC(3, 5, SMALL["channels"], neck=16, head=16, drop_path_rate=0.0), net)
        x = torch.randn(2, 3, 64, 48)
        for train in (False, True):
            net.train(train), ref.train(train)
            for got, expected in zip(net(x), ref(x), strict=True):
                _assert_close(got, expected, 1e-4)

    def test_equal_in_float64(self):
        """In double precision the two agree to rounding: the same function, not merely a close one."""
        net = _small(in_channels=3, drop_path_rate=0.6).double()
        ref = load_from(ReferenceHTC(3, 5, SMALL["channels"], neck=16, head=16, drop_path_rate=0.6), net).double()
        x = torch.randn(4, 3, 64, 48, dtype=torch.float64)
        for train in (False, True):
            net.train(train), ref.train(train)
            torch.manual_seed(0)
            got = net(x)
            torch.manual_seed(0)
            for g, e in zip(got, ref(x), strict=True):
                _assert_close(g, e, 1e-12)

    def test_equal_outputs_with_drop_path(self):
        net = _small(in_channels=3, drop_path_rate=0.6).train()
        ref = load_from(ReferenceHTC(3, 5, SMALL["channels"], neck=16, head=16, drop_path_rate=0.6), net).train()
        x = torch.randn(4, 3, 32, 32)
        for seed in range(3):  # the same random draws in the same order: the same dropped samples
            torch.manual_seed(seed)
            got = net(x)
            torch.manual_seed(seed)
            expected = ref(x)
            for g, e in zip(got, expected, strict=True):
                _assert_close(g, e, 1e-4)


class TestOutputs:
    @pytest.mark.parametrize("size", [(64, 48), (48, 64), (32, 96), (16, 16)])
    @pytest.mark.parametrize("train", [True, False])
    def test_tuple_quarter_then_half(self, size, train):
        net = _small().train(train)
        out = net(torch.randn(2, 1, *size))
        assert isinstance(out, tuple) and len(out) == 2
        quarter, half = out
        assert quarter.shape == (2, 5, size[0] // 4, size[1] // 4)
        assert half.shape == (2, 5, size[0] // 2, size[1] // 2)
        assert all(torch.isfinite(o).all() and o.is_contiguous() for o in out)

    @pytest.mark.parametrize("heads, strides", [((4,), (4,)), ((2,), (2,)), ((2, 4), (4, 2))])
    def test_head_selection(self, heads, strides):
        net = _small(heads=heads).eval()
        out = net(torch.randn(1, 1, 32, 32))
        assert tuple(32 // o.shape[2] for o in out) == strides

    def test_three_channel_input_and_width_multiplier(self):
        net = HTC(2, 3, 4, width_multiplier=0.125)
        assert net.channels == (8, 16, 40, 64)
        assert _count(net) < _count(HTC(2, 3, 4, width_multiplier=0.25))
        quarter, half = net.eval()(torch.randn(1, 3, 32, 32))
        assert quarter.shape == (1, 4, 8, 8) and half.shape == (1, 4, 16, 16)


class TestGradients:
    def test_every_parameter_gets_a_gradient(self):
        net = _small(drop_path_rate=0.0).train()
        quarter, half = net(torch.randn(2, 1, 32, 48))
        (quarter.square().mean() + half.square().mean()).backward()
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name

    def test_gradient_checkpointing_gives_the_same_gradients(self):
        plain = _small(drop_path_rate=0.0).train()
        ckpt = _small(drop_path_rate=0.0, gradient_checkpointing=True).train()
        ckpt.load_state_dict(plain.state_dict())
        x = torch.randn(2, 1, 32, 32)
        grads = []
        for net in (plain, ckpt):
            quarter, half = net(x)
            (quarter.square().mean() + 3 * half.square().mean()).backward()
            grads.append([p.grad for p in net.parameters()])
        for g1, g2 in zip(*grads, strict=True):
            torch.testing.assert_close(g2, g1, rtol=1e-4, atol=1e-6)

    def test_drop_path_is_stochastic_in_training_only(self):
        net = _small(drop_path_rate=0.9).train()
        x = torch.randn(4, 1, 32, 32)
        torch.manual_seed(1)
        a = net(x)[0]
        torch.manual_seed(2)
        b = net(x)[0]
        assert not torch.allclose(a, b)
        net.eval()
        assert torch.equal(net(x)[0], net(x)[0])


class TestLayoutsAndPrecision:
    def test_channels_last_input(self):
        net = _small(in_channels=3).eval()
        x = torch.randn(2, 3, 32, 48)
        for got, expected in zip(net(x.contiguous(memory_format=torch.channels_last)), net(x), strict=True):
            _assert_close(got, expected, 1e-4)

    def test_layouts_agree(self):
        nets = [_small(layout=layout).eval() for layout in ("auto", "channels_last", "channels_first")]
        x = torch.randn(2, 1, 32, 32)
        outs = [n(x) for n in nets]
        for out in outs[1:]:
            for got, expected in zip(out, outs[0], strict=True):
                _assert_close(got, expected, 1e-4)

    def test_bf16_autocast_runs(self):
        net = _small().eval()
        x = torch.randn(2, 1, 32, 32)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x)
        assert [o.shape for o in out] == [(2, 5, 8, 8), (2, 5, 16, 16)]
        assert all(torch.isfinite(o).all() for o in out)


class TestExportAndFusion:
    @pytest.mark.parametrize("heads", [(4, 2), (2,)])
    def test_script_and_trace_round_trip(self, heads):
        net = _small(heads=heads).eval()
        x = torch.randn(2, 1, 32, 48)
        expected = net(x)
        for module in (torch.jit.script(net), torch.jit.trace(net, x)):
            buffer = io.BytesIO()
            torch.jit.save(module, buffer)
            buffer.seek(0)
            got = torch.jit.load(buffer)(x)
            assert isinstance(got, tuple) and len(got) == len(expected)
            for g, e in zip(got, expected, strict=True):
                _assert_close(g, e, 1e-4)

    @pytest.mark.parametrize("heads", [(4, 2), (2,), (4,)])
    def test_single_output_is_the_finest_level_of_the_same_weights(self, heads):
        """model-zoo's one-tensor form and the tuple of levels share every parameter, in eager and scripted form."""
        net = _small(heads=heads).eval()
        one = net.with_single_output(True)
        assert not net.single_output and one.single_output and one.state_dict().keys() == net.state_dict().keys()
        x = torch.randn(1, 1, 32, 48)
        with torch.no_grad():
            levels, finest = net(x), one(x)
            assert isinstance(finest, torch.Tensor) and torch.equal(finest, levels[-1])
            scripted = torch.jit.script(one)(x)
        assert isinstance(scripted, torch.Tensor)
        _assert_close(scripted, finest, 1e-4)
        with torch.no_grad():  # weights loaded into one form are in the other; train/eval switch the shared layers
            for p in one.parameters():
                p.mul_(0.5)
        one.train()
        assert net.head_quarter is one.head_quarter and all(m.training for m in net.stages.modules())
        net.eval()
        with torch.no_grad():
            assert torch.equal(net(x)[-1], one(x))
            assert not torch.allclose(net(x)[-1], levels[-1])

    def test_fuse_equals_eval(self):
        net = _small(in_channels=3).train()
        fused = net.fuse()
        assert net.training and not fused.training
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in fused.modules())
        assert not any(p.requires_grad for p in fused.parameters())
        x = torch.randn(2, 3, 32, 48)
        with torch.no_grad():
            expected = net.eval()(x)
            for got, e in zip(fused(x), expected, strict=True):
                _assert_close(got, e, 1e-4)
            scripted = torch.jit.script(fused)
            for got, e in zip(scripted(x), expected, strict=True):
                _assert_close(got, e, 1e-4)

    def test_monai_convert_to_torchscript(self):
        from monai.networks.utils import convert_to_torchscript

        net = _small()
        x = torch.randn(1, 1, 32, 32)
        for use_trace in (False, True):
            convert_to_torchscript(net, verify=True, inputs=[x], use_trace=use_trace, device="cpu", atol=1e-6)


ILLEGAL_ARGUMENTS = [
    ({"spatial_dims": 3}, "spatial_dims"),
    ({"in_channels": 0}, "in_channels"),
    ({"out_channels": -2}, "out_channels"),
    ({"channels": (8, 16, 24)}, "4 values"),
    ({"channels": (8, 16, 0, 32)}, "channels"),
    ({"channels": (12, 16, 24, 32)}, "multiple of its attention reduction"),
    ({"attention_reductions": (8, 4, 2)}, "attention_reductions"),
    ({"ffn_ratios": (8, 8, 4, 0)}, "ffn_ratios"),
    ({"neck_channels": 0}, "neck_channels"),
    ({"heads": ()}, "heads"),
    ({"heads": (8,)}, "heads"),
    ({"heads": (4, 4)}, "heads"),
    ({"drop_path_rate": -0.1}, "drop_path_rate"),
    ({"width_multiplier": 0}, "width_multiplier"),
    ({"width_multiplier": float("inf")}, "width_multiplier"),
    ({"layout": "NHWC"}, "layout"),
    ({"single_output": "false"}, "single_output must be true or false"),
]


@pytest.mark.parametrize("kwargs, match", ILLEGAL_ARGUMENTS)
def test_illegal_arguments(kwargs, match):
    args = {"spatial_dims": 2, "in_channels": 1, "out_channels": 5, **SMALL, **kwargs}
    with pytest.raises(ValueError, match=match):
        HTC(**args)


@pytest.mark.parametrize(
    "x, match",
    [
        (torch.zeros(1, 1, 40, 32), "multiples of 16"),
        (torch.zeros(1, 1, 32, 8), "multiples of 16"),
        (torch.zeros(1, 3, 32, 32), "input channels"),
        (torch.zeros(1, 32, 32), "dimensions"),
    ],
)
def test_illegal_inputs(x, match):
    with pytest.raises(ValueError, match=match):
        _small()(x)


@pytest.mark.slow
def test_published_configuration_forward():
    """The published model at the XCAT size (W, H) = (608, 480), both spatial orders, and fused."""
    net = HTC(2, 3, 13).eval()
    with torch.no_grad():
        for size in ((608, 480), (480, 608)):
            quarter, half = net(torch.randn(1, 3, *size))
            assert quarter.shape == (1, 13, size[0] // 4, size[1] // 4)
            assert half.shape == (1, 13, size[0] // 2, size[1] // 2)
        x = torch.randn(1, 3, 608, 480)
        for got, expected in zip(net.fuse()(x), net(x), strict=True):
            _assert_close(got, expected, 1e-4)


def test_backbone_init_published_intent_or_released_default():
    """``he_fan_out`` draws backbone convs from N(0, sqrt(2 / fan_out)); ``pytorch`` keeps PyTorch's default
    (uniform, std 1 / sqrt(3 fan_in)), as the released code ends up doing."""
    torch.manual_seed(0)
    he = HTC(2, 1, 19, backbone_init="he_fan_out")
    torch.manual_seed(0)
    default = HTC(2, 1, 19, backbone_init="pytorch")
    for a, b in zip(he.stages.modules(), default.stages.modules(), strict=True):
        if isinstance(a, nn.Conv2d) and a.weight.numel() > 50_000:
            fan_out = a.kernel_size[0] * a.kernel_size[1] * a.out_channels // a.groups
            fan_in = b.weight[0].numel()
            assert a.weight.std().item() == pytest.approx((2.0 / fan_out) ** 0.5, rel=0.05)
            assert b.weight.std().item() == pytest.approx((3.0 * fan_in) ** -0.5, rel=0.05)
            break
    else:
        raise AssertionError("no large backbone convolution found")
    with pytest.raises(ValueError, match="backbone_init"):
        HTC(2, 1, 19, backbone_init="xavier")
