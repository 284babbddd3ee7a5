"""Blocks of the landmark networks: separable convs, BatchNorm folding, bilinear-pooling attention, layouts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

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
    fuse_convolution,
    fuse_modules,
    fuse_separable,
    to_layout,
)


def _randomise_norms(module: nn.Module, seed: int = 0) -> None:
    """Non-trivial running statistics and affine parameters, so that folding is really exercised."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) - 0.5)


class TestDomainSeparableConv:
    def test_forward_per_domain_and_view(self):
        torch.manual_seed(0)
        block = DomainSeparableConv(2, 4, 6, num_domains=3).eval()
        _randomise_norms(block)
        x = torch.randn(2, 4, 9, 7)
        outs = [block(x, d) for d in range(3)]
        assert all(o.shape == (2, 6, 9, 7) for o in outs)
        assert not torch.allclose(outs[0], outs[1])  # depthwise kernels and norms differ per domain
        for d in range(3):
            torch.testing.assert_close(block.domain_view(d)(x), outs[d], rtol=0, atol=0)

    def test_parameters_per_domain_and_shared(self):
        block = DomainSeparableConv(2, 4, 6, num_domains=3)
        # 3 x (depthwise 4*9+4, BN 2*6) + shared pointwise 4*6+6
        assert sum(p.numel() for p in block.parameters()) == 3 * (40 + 12) + 30
        view = block.domain_view(1)
        assert view[1] is block.pointwise and view[0] is block.depthwise[1] and view[2] is block.norm[1]

    def test_fuse_equals_eval(self):
        torch.manual_seed(1)
        block = DomainSeparableConv(2, 5, 3, num_domains=2)
        _randomise_norms(block)
        block.train()
        fused = fuse_separable(block.domain_view(1))
        assert block.training  # folding does not switch the original to eval
        assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
        x = torch.randn(2, 5, 8, 8)
        block.eval()
        torch.testing.assert_close(fused(x), block(x, 1), rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"in_channels": 0}, "in_channels"),
            ({"out_channels": -1}, "out_channels"),
            ({"num_domains": 0}, "num_domains"),
            ({"kernel_size": 2}, "odd"),
        ],
    )
    def test_illegal_arguments(self, kwargs, match):
        args = {"spatial_dims": 2, "in_channels": 4, "out_channels": 4, **kwargs}
        with pytest.raises(ValueError, match=match):
            DomainSeparableConv(**args)

    def test_illegal_domain_view(self):
        with pytest.raises(ValueError, match="domain"):
            DomainSeparableConv(2, 4, 4, num_domains=2).domain_view(2)


class TestConcatSeparableConv:
    @pytest.mark.parametrize("train", [True, False])
    def test_equals_concatenation(self, train):
        torch.manual_seed(2)
        block = DomainSeparableConv(2, 6, 4)
        _randomise_norms(block)
        block.train(train)
        view = block.domain_view(0)
        concat = ConcatSeparableConv(view, split=2)
        a = torch.randn(2, 2, 7, 5, requires_grad=True)
        b = torch.randn(2, 4, 7, 5, requires_grad=True)
        expected = view(torch.cat([a, b], dim=1))
        got = concat(a, b)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        grads_expected = torch.autograd.grad(expected.square().sum(), [a, b, block.pointwise.weight])
        grads_got = torch.autograd.grad(got.square().sum(), [a, b, block.pointwise.weight])
        for g1, g2 in zip(grads_got, grads_expected, strict=True):
            torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-4)

    @pytest.mark.parametrize("split", [0, 6, -1])
    def test_illegal_split(self, split):
        with pytest.raises(ValueError, match="split"):
            ConcatSeparableConv(DomainSeparableConv(2, 6, 4).domain_view(0), split)


class TestFolding:
    @pytest.mark.parametrize("transposed", [False, True])
    @pytest.mark.parametrize("bias", [False, True])
    def test_fold_batch_norm(self, transposed, bias):
        torch.manual_seed(3)
        conv = (
            nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1, bias=bias)
            if transposed
            else nn.Conv2d(3, 5, 3, padding=2, dilation=2, bias=bias)
        )
        norm = nn.BatchNorm2d(5, eps=0.1)  # a large eps, so that forgetting it would show
        _randomise_norms(norm)
        conv.train()
        norm.train()
        fused = fold_batch_norm(conv, norm)
        assert conv.training and norm.training  # inputs untouched
        x = torch.randn(2, 3, 8, 6)
        expected = norm.eval()(conv(x))
        torch.testing.assert_close(fused(x), expected, rtol=1e-5, atol=1e-5)
        assert not fused.weight.requires_grad

    def test_fold_keeps_channels_last_weight(self):
        conv = nn.Conv2d(3, 5, 3).to(memory_format=torch.channels_last)
        fused = fold_batch_norm(conv, nn.BatchNorm2d(5))
        assert fused.weight.is_contiguous(memory_format=torch.channels_last)

    def test_fold_preceding_batch_norm(self):
        torch.manual_seed(4)
        norm = nn.BatchNorm2d(6, eps=0.1)
        _randomise_norms(norm)
        conv = nn.Conv2d(6, 4, 1)
        fused = fold_preceding_batch_norm(norm, conv)
        x = torch.randn(2, 6, 5, 5)
        torch.testing.assert_close(fused(x), conv(norm.eval()(x)), rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize(
        "conv, norm, match",
        [
            (nn.Linear(3, 3), nn.BatchNorm2d(3), "convolution"),
            (nn.Conv2d(3, 4, 1), nn.LayerNorm(4), "batch norm"),
            (nn.Conv2d(3, 4, 1), nn.BatchNorm2d(5), "features"),
            (nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, track_running_stats=False), "running"),
        ],
    )
    def test_fold_batch_norm_illegal(self, conv, norm, match):
        with pytest.raises(ValueError, match=match):
            fold_batch_norm(conv, norm)

    @pytest.mark.parametrize(
        "conv, match",
        [(nn.Conv2d(3, 4, 3), "1x1"), (nn.Conv2d(3, 4, 1, padding=1), "unpadded"), (nn.Conv2d(4, 4, 1), "features")],
    )
    def test_fold_preceding_illegal(self, conv, match):
        with pytest.raises(ValueError, match=match):
            fold_preceding_batch_norm(nn.BatchNorm2d(3), conv)


def _has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class TestBlocksFuse:
    """Each block folds its own norms (``fuse()``); ``fuse_modules`` walks a network and asks each block."""

    def test_separable_view_and_concat_fuse(self):
        torch.manual_seed(3)
        block = DomainSeparableConv(2, 6, 4, num_domains=2)
        _randomise_norms(block)
        block.eval()
        view = block.domain_view(1)
        concat = ConcatSeparableConv(view, split=2)
        a, b = torch.randn(2, 2, 7, 5), torch.randn(2, 4, 7, 5)
        fused_view, fused_concat = view.fuse(), concat.fuse()
        assert not _has_batch_norm(fused_view) and not _has_batch_norm(fused_concat)
        assert _has_batch_norm(view) and _has_batch_norm(concat)  # the originals are left as they were
        with torch.no_grad():
            torch.testing.assert_close(fused_view(torch.cat([a, b], 1)), view(torch.cat([a, b], 1)), atol=1e-5, rtol=0)
            torch.testing.assert_close(fused_concat(a, b), concat(a, b), atol=1e-5, rtol=0)
            torch.testing.assert_close(fused_concat.fuse()(a, b), fused_concat(a, b), atol=0, rtol=0)  # idempotent

    def test_transformer_block_fuse(self):
        torch.manual_seed(4)
        block = BilinearTransformerBlock(2, 16, reduction=2, ffn_ratio=2)
        _randomise_norms(block)
        block.eval()
        fused = block.fuse()
        assert not _has_batch_norm(fused) and _has_batch_norm(block)
        x = torch.randn(2, 16, 6, 5)
        with torch.no_grad():
            torch.testing.assert_close(fused(x), block(x), atol=1e-5, rtol=1e-5)

    def test_fuse_convolution(self):
        from monai.networks.blocks import Convolution

        folds = Convolution(2, 3, 4, adn_ordering="NA", norm="batch", act="relu")
        no_norm = Convolution(2, 3, 4, adn_ordering="A", act="relu")
        norm_last = Convolution(2, 3, 4, adn_ordering="AN", norm="batch", act="relu")
        _randomise_norms(folds)
        folds.eval()
        assert fuse_convolution(no_norm) is no_norm and fuse_convolution(norm_last) is norm_last
        fused = fuse_convolution(folds)
        assert not _has_batch_norm(fused) and not fused.training
        x = torch.randn(2, 3, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(fused(x), folds(x), atol=1e-5, rtol=1e-5)

    def test_fuse_modules_walks_children(self):
        torch.manual_seed(5)
        net = nn.Sequential(
            DilatedResidualBlock(2, 3, 8),  # no fuse() of its own: walked, its MONAI Convolutions folded
            nn.Sequential(BilinearTransformerBlock(2, 8, reduction=2, ffn_ratio=2)),  # nested: found by the walk
            nn.Conv2d(8, 2, 1),
        )
        _randomise_norms(net)
        net.eval()
        x = torch.randn(2, 3, 8, 6)
        with torch.no_grad():
            expected = net(x)
            fused = fuse_modules(net)
            assert fused is net and not _has_batch_norm(fused)
            torch.testing.assert_close(fused(x), expected, atol=1e-5, rtol=1e-5)


def _naive_bilinear_pooling(att: BilinearPoolingAttention, x: torch.Tensor) -> torch.Tensor:
    """The formula of the paper on (B, M, N) tensors, with separate A, B, V weights and explicit einsums."""
    m = att.mid_channels
    b, c, w, h = x.shape
    qkv = F.conv2d(x, att.qkv.weight, att.qkv.bias).reshape(b, 3 * m, w * h)
    a, bb, v = qkv[:, :m], qkv[:, m : 2 * m], qkv[:, 2 * m :]
    g = torch.einsum("bin,bjn->bij", a, torch.softmax(bb, dim=2))  # A softmax_N(B)^T
    out = torch.einsum("bij,bjn->bin", g, torch.softmax(v, dim=1))  # G softmax_M(V)
    return F.conv2d(out.reshape(b, m, w, h), att.proj.weight, att.proj.bias)


class TestAttention:
    @pytest.mark.parametrize("reduction", [1, 2, 4])
    @pytest.mark.parametrize("channels_last", [False, True])
    def test_bilinear_pooling_formula(self, reduction, channels_last):
        torch.manual_seed(5)
        att = BilinearPoolingAttention(2, 8, reduction)
        x = torch.randn(2, 8, 6, 5)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(att(x), _naive_bilinear_pooling(att, x), rtol=1e-5, atol=1e-5)
        # the same parameters as three 1x1 convs A, B, V plus the output conv
        m = 8 // reduction
        assert sum(p.numel() for p in att.parameters()) == 3 * (8 * m + m) + (m * 8 + 8)

    def test_global_context_reaches_every_position(self):
        torch.manual_seed(6)
        att = BilinearPoolingAttention(2, 4, 1)
        x = torch.randn(1, 4, 8, 8, requires_grad=True)
        att(x)[0, :, 0, 0].sum().backward()
        assert (x.grad.abs().sum(dim=1) > 0).all()  # one output pixel depends on all input pixels

    def test_transformer_block_drop_path(self):
        torch.manual_seed(7)
        block = BilinearTransformerBlock(2, 8, reduction=2, ffn_ratio=2, drop_path=1.0)
        x = torch.randn(2, 8, 4, 4)
        block.train()
        torch.testing.assert_close(block(x), x)  # both residual branches dropped
        block.eval()
        assert not torch.allclose(block(x), x)

    @pytest.mark.parametrize(
        "cls, kwargs, match",
        [
            (BilinearPoolingAttention, {"spatial_dims": 3, "channels": 8}, "spatial_dims"),
            (BilinearPoolingAttention, {"spatial_dims": 2, "channels": 6, "reduction": 4}, "multiple"),
            (BilinearPoolingAttention, {"spatial_dims": 2, "channels": 0}, "channels"),
            (BilinearTransformerBlock, {"spatial_dims": 2, "channels": 8, "drop_path": 1.5}, "drop_path"),
            (BilinearTransformerBlock, {"spatial_dims": 2, "channels": 8, "ffn_ratio": 0}, "ffn_ratio"),
            (DilatedResidualBlock, {"spatial_dims": 2, "in_channels": 4, "out_channels": 4, "dilation": 0}, "dilation"),
        ],
    )
    def test_illegal_arguments(self, cls, kwargs, match):
        with pytest.raises(ValueError, match=match):
            cls(**kwargs)


def test_dilated_residual_block_formula():
    torch.manual_seed(8)
    block = DilatedResidualBlock(2, 3, 5).eval()
    _randomise_norms(block)
    assert all(m.bias is None for m in block.modules() if isinstance(m, nn.Conv2d))
    x = torch.randn(2, 3, 9, 9)
    c1, n1 = block.conv1.conv, block.conv1.adn.N
    c2, n2 = block.conv2.conv, block.conv2.adn.N
    main = n2(F.conv2d(F.relu(n1(F.conv2d(x, c1.weight, padding=1))), c2.weight, padding=2, dilation=2))
    expected = F.relu(main + F.conv2d(x, block.shortcut.weight, padding=1))
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


class TestLayout:
    def test_check_layout(self):
        for layout in LAYOUTS:
            assert check_layout(layout) == layout
        with pytest.raises(ValueError, match="channels_last"):
            check_layout("nhwc")

    @pytest.mark.parametrize("channels", [1, 3])
    def test_to_layout(self, channels):
        x = torch.randn(2, channels, 5, 4)
        y = to_layout(x, True)
        assert y.stride(1) == 1 and y.stride(3) == channels  # NHWC strides, one channel included
        torch.testing.assert_close(y, x, rtol=0, atol=0)
        z = to_layout(y, False)
        assert z.is_contiguous()
        torch.testing.assert_close(z, x, rtol=0, atol=0)
