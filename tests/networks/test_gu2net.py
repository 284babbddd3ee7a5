"""GU2Net: published parameter counts, the original's function, shapes, gradients, export, layouts, fusion."""

from __future__ import annotations

import io
import json
import warnings

import pytest
import torch
from _reference_gu2net import ReferenceGU2Net, load_from
from torch import nn

from monai_landmarks.networks import GU2Net, GU2NetDomain

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")

SMALL = {"channels": (4, 8, 8, 16, 16), "global_channels": 8}
SIZES = [(64, 48), (48, 64), (50, 37), (33, 65), (16, 16), (17, 31)]  # (axis0, axis1); odd ones included


def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _small(out_channels=(5, 3), in_channels=1, seed=0, **kwargs) -> GU2Net:
    torch.manual_seed(seed)
    net = GU2Net(2, in_channels, out_channels, **{**SMALL, **kwargs})
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():  # non-trivial running statistics, so that eval mode and folding are exercised
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return net


class TestPublishedSize:
    def test_one_domain_19_landmarks(self):
        assert _count(GU2Net(2, 1, 19)) == 2_742_694  # the published count, exactly

    def test_three_domains(self):
        assert _count(GU2Net(2, 1, (19, 37, 6))) == 4_381_052

    @pytest.mark.parametrize("layout", ["auto", "channels_last", "channels_first"])
    def test_layout_does_not_change_the_count(self, layout):
        assert _count(GU2Net(2, 1, 19, layout=layout)) == 2_742_694


class TestSameFunctionAsOriginal:
    """Our network computes the original's function (independent op-by-op restatement in _reference_gu2net)."""

    @pytest.mark.parametrize("layout", ["auto", "channels_last", "channels_first"])
    @pytest.mark.parametrize("size", [(64, 48), (50, 37), (17, 31)])
    def test_equal_outputs(self, layout, size):
        net = _small(in_channels=(1, 3), layout=layout)
        ref = load_from(ReferenceGU2Net((1, 3), (5, 3), **{"channels": SMALL["channels"], "global_channels": 8}), net)
        for domain, cin in ((0, 1), (1, 3)):
            x = torch.randn(2, cin, *size)
            net.eval(), ref.eval()
            with torch.no_grad():
                torch.testing.assert_close(net(x, domain), ref(x, domain), rtol=0, atol=1e-6)
            torch.testing.assert_close(net(x, domain), ref(x, domain), rtol=0, atol=1e-6)  # with gradients on
            net.train(), ref.train()  # batch statistics of tiny maps amplify float reordering a little
            torch.testing.assert_close(net(x, domain), ref(x, domain), rtol=0, atol=2e-4)

    @pytest.mark.parametrize("size", [(64, 48), (50, 37)])
    def test_equal_in_float64(self, size):
        """In double precision the two agree to rounding (1e-12): the same function, not merely a close one."""
        net = _small(in_channels=(1, 3)).double()
        ref = load_from(ReferenceGU2Net((1, 3), (5, 3), channels=SMALL["channels"], global_channels=8).double(), net)
        for domain, cin in ((0, 1), (1, 3)):
            x = torch.randn(2, cin, *size, dtype=torch.float64)
            for train in (False, True):
                net.train(train), ref.train(train)
                torch.testing.assert_close(net(x, domain), ref(x, domain), rtol=0, atol=1e-12)


class TestShapes:
    @pytest.mark.parametrize("size", SIZES)
    def test_output_shape_and_range(self, size):
        net = _small().eval()
        for domain, k in enumerate((5, 3)):
            y = net(torch.randn(2, 1, *size), domain)
            assert y.shape == (2, k, *size)
            assert y.is_contiguous()
            assert torch.isfinite(y).all() and (y >= 0).all() and (y <= 1).all()

    def test_returns_tensor_in_train_and_eval(self):
        net = _small()
        x = torch.randn(2, 1, 32, 32)
        assert isinstance(net.train()(x), torch.Tensor) and isinstance(net.eval()(x), torch.Tensor)


class TestGradients:
    def test_every_parameter_gets_a_gradient_and_domains_are_isolated(self):
        net = _small(out_channels=(5, 3, 2)).train()
        x = torch.randn(2, 1, 32, 48)
        touched_by = []
        for domain in range(3):
            net.zero_grad(set_to_none=True)
            y = net(x, domain)
            assert torch.isfinite(y).all()
            y.square().mean().backward()
            touched_by.append({n for n, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0})
            for n, p in net.named_parameters():
                if p.grad is not None:
                    assert torch.isfinite(p.grad).all(), n
        names = {n for n, _ in net.named_parameters()}
        assert set().union(*touched_by) == names  # every parameter is used by some domain
        shared = set.intersection(*touched_by)
        assert shared and all(".pointwise." in n for n in shared)  # only the pointwise convs are shared
        assert touched_by[0].isdisjoint(touched_by[1] - shared)


class TestEvalAndLayouts:
    def test_eval_is_deterministic(self):
        net = _small().eval()
        x = torch.randn(2, 1, 40, 24)
        assert torch.equal(net(x, 1), net(x, 1))

    def test_channels_last_input(self):
        net = _small().eval()
        x = torch.randn(2, 3, 32, 48)
        net3 = _small(in_channels=3).eval()
        torch.testing.assert_close(net3(x.contiguous(memory_format=torch.channels_last)), net3(x), rtol=0, atol=1e-6)
        x1 = torch.randn(2, 1, 32, 48)
        torch.testing.assert_close(net(x1.contiguous(memory_format=torch.channels_last)), net(x1), rtol=0, atol=1e-6)

    @pytest.mark.parametrize("train", [False, True])
    def test_layouts_agree(self, train):
        nets = [_small(layout=layout) for layout in ("auto", "channels_last", "channels_first")]
        for n in nets[1:]:
            n.load_state_dict(nets[0].state_dict())
        x = torch.randn(2, 1, 48, 32)
        outs = [n.train(train)(x, 0) for n in nets]
        for o in outs[1:]:
            torch.testing.assert_close(o, outs[0], rtol=0, atol=2e-4 if train else 1e-6)

    def test_bf16_autocast_runs(self):
        net = _small().eval()
        x = torch.randn(2, 1, 32, 32)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = net(x, 0)
        assert y.shape == (2, 5, 32, 32) and torch.isfinite(y).all()
        torch.testing.assert_close(y.float(), net(x, 0), rtol=0, atol=0.05)


class TestDomainViewAndExport:
    def test_view_shares_parameters(self):
        net = _small()
        view = net.for_domain(1)
        assert isinstance(view, GU2NetDomain)
        ids = {id(p) for p in net.parameters()}
        assert all(id(p) in ids for p in view.parameters())
        x = torch.randn(1, 1, 32, 32)
        net.eval()
        torch.testing.assert_close(view(x), net(x, 1), rtol=0, atol=0)

    @pytest.mark.parametrize("layout", ["auto", "channels_first"])
    def test_script_and_trace_round_trip(self, layout):
        net = _small(layout=layout).eval()
        view = net.for_domain(1)
        x = torch.randn(2, 1, 48, 32)
        expected = view(x)
        scripted = torch.jit.script(view)
        traced = torch.jit.trace(view, x)
        for module in (scripted, traced):
            buffer = io.BytesIO()
            torch.jit.save(module, buffer)
            buffer.seek(0)
            loaded = torch.jit.load(buffer)
            torch.testing.assert_close(loaded(x), expected, rtol=0, atol=1e-6)
        x2 = torch.randn(1, 1, 32, 64)  # another multiple of 16: the trace generalises
        torch.testing.assert_close(traced(x2), view(x2), rtol=0, atol=1e-6)
        x3 = torch.randn(1, 1, 33, 50)  # odd size: scripted handles it like eager
        torch.testing.assert_close(scripted(x3), view(x3), rtol=0, atol=1e-6)

    def test_fuse_equals_eval(self):
        net = _small(in_channels=(1, 2)).train()
        for domain, cin in ((0, 1), (1, 2)):
            fused = net.for_domain(domain, fuse=True)
            assert net.training  # the network itself is untouched
            assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in fused.modules())
            assert not any(p.requires_grad for p in fused.parameters())
            ids = {id(p) for p in net.parameters()}
            assert not any(id(p) in ids for p in fused.parameters())  # an independent copy
            for size in ((48, 32), (33, 50)):
                x = torch.randn(2, cin, *size)
                with torch.no_grad():
                    torch.testing.assert_close(fused(x), net.eval()(x, domain), rtol=0, atol=1e-5)
                net.train()
            scripted = torch.jit.script(fused)
            x = torch.randn(1, cin, 32, 32)
            torch.testing.assert_close(scripted(x), fused(x), rtol=0, atol=1e-6)

    @pytest.mark.parametrize("use_trace", [False, True])
    def test_monai_ckpt_export(self, tmp_path, use_trace):
        from monai.bundle import ckpt_export

        net = _small().eval()
        view = net.for_domain(1)
        torch.save(view.state_dict(), tmp_path / "model.pt")
        config = {
            "gu2net": {
                "_target_": "monai_landmarks.networks.nets.GU2Net",
                "spatial_dims": 2,
                "in_channels": 1,
                "out_channels": [5, 3],
                "channels": list(SMALL["channels"]),
                "global_channels": SMALL["global_channels"],
            },
            "network_def": "$@gu2net.for_domain(1)",
        }
        (tmp_path / "inference.json").write_text(json.dumps(config))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ckpt_export(
                net_id="network_def",
                filepath=str(tmp_path / "model.ts"),
                ckpt_file=str(tmp_path / "model.pt"),
                meta_file=str(tmp_path / "no_metadata.json"),
                config_file=str(tmp_path / "inference.json"),
                use_trace=use_trace,
                input_shape=[1, 1, 32, 48],
            )
        exported = torch.jit.load(str(tmp_path / "model.ts"))
        x = torch.randn(2, 1, 32, 48)
        torch.testing.assert_close(exported(x), view(x), rtol=0, atol=1e-6)


def test_scripting_the_universal_network_gives_its_domain_0():
    """``torch.jit.script(net)`` (MONAI ckpt_export's default) scripts domain 0, sharing the weights."""
    net = _small().eval()
    x = torch.randn(1, 1, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(net)(x), net(x, 0), rtol=0, atol=1e-6)


ILLEGAL_ARGUMENTS = [
    ({"spatial_dims": 3}, "spatial_dims"),
    ({"out_channels": ()}, "out_channels"),
    ({"out_channels": 0}, "out_channels"),
    ({"out_channels": (19, -1)}, "out_channels"),
    ({"in_channels": (1, 1)}, "in_channels"),
    ({"in_channels": 0}, "in_channels"),
    ({"channels": (4, 8, 8, 16)}, "5 local-net widths"),
    ({"channels": (4, 8, 0, 16, 16)}, "channels"),
    ({"global_channels": 1}, "global_channels"),
    ({"global_channels": (8, 8)}, "one int per domain"),
    ({"global_channels": (8, 1, 8)}, "at least 2"),
    ({"dilations": ()}, "dilations"),
    ({"dilations": (1, 0)}, "dilations"),
    ({"global_stride": 0}, "global_stride"),
    ({"layout": "nhwc"}, "layout"),
]


@pytest.mark.parametrize("kwargs, match", ILLEGAL_ARGUMENTS)
def test_illegal_arguments(kwargs, match):
    args = {"spatial_dims": 2, "in_channels": 1, "out_channels": (5, 3, 2), **SMALL, **kwargs}
    with pytest.raises(ValueError, match=match):
        GU2Net(**args)


@pytest.mark.parametrize(
    "x, domain, match",
    [
        (torch.zeros(1, 1, 32, 32), 2, "domain"),
        (torch.zeros(1, 1, 32, 32), -1, "domain"),
        (torch.zeros(1, 1, 32, 32), True, "domain"),
        (torch.zeros(1, 2, 32, 32), 0, "input channels"),
        (torch.zeros(1, 1, 15, 32), 0, "at least 16"),
        (torch.zeros(1, 32, 32), 0, "dimensions"),
    ],
)
def test_illegal_inputs(x, domain, match):
    net = _small()
    with pytest.raises(ValueError, match=match):
        net(x, domain)


@pytest.mark.slow
def test_published_configuration_forward():
    """The published model at the published head size (W, H) = (416, 512), both spatial orders."""
    net = GU2Net(2, 1, (19, 37, 6)).eval()
    with torch.no_grad():
        for size, domain, k in (((416, 512), 0, 19), ((512, 416), 1, 37), ((368, 512), 1, 37)):
            y = net(torch.randn(1, 1, *size), domain)
            assert y.shape == (1, k, *size) and torch.isfinite(y).all()


def _global_parameters(net, domain):
    parts = (net.global_in, net.global_in_local, net.global_body, net.global_out)
    return sum(p.numel() for part in parts for p in part[domain].parameters())


def test_each_domain_may_have_its_own_global_width():
    """A width per domain gives each domain the global net a single-domain GU2Net of that width has."""
    net = GU2Net(2, 1, (5, 3), channels=SMALL["channels"], global_channels=(8, 4))
    assert net.global_channels == (8, 4)
    for domain, (k, g) in enumerate(((5, 8), (3, 4))):
        single = GU2Net(2, 1, k, channels=SMALL["channels"], global_channels=g)
        assert _global_parameters(net, domain) == _global_parameters(single, 0)
        assert net.global_body[domain][0].conv.out_channels == g
        with torch.no_grad():
            assert net.eval()(torch.rand(1, 1, 32, 48), domain).shape == (1, k, 32, 48)
    assert GU2Net(2, 1, (5, 3), channels=SMALL["channels"], global_channels=6).global_channels == (6, 6)
