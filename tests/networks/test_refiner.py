"""The patch refiner: shapes, per-landmark channels, gradients everywhere, clear errors."""

import pytest
import torch

from monai_landmarks.networks import LandmarkRefiner

SMALL = (4, 4, 8, 8, 8, 4)


def test_output_is_one_heatmap_per_patch():
    net = LandmarkRefiner(num_landmarks=3, features=SMALL)
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 3, 32, 32)
    assert torch.isfinite(out).all()


def test_patch_k_gets_output_channel_k():
    net = LandmarkRefiner(num_landmarks=3, features=SMALL).eval()
    x = torch.randn(1, 3, 32, 32)
    full = net.unet(x.reshape(3, 1, 32, 32))  # every landmark's head on every patch
    assert torch.allclose(net(x)[0], torch.stack([full[k, k] for k in range(3)]), atol=1e-6)


def test_every_parameter_gets_a_gradient():
    net = LandmarkRefiner(num_landmarks=2, features=SMALL)
    net(torch.randn(2, 2, 32, 32)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


@pytest.mark.parametrize("shape", [(1, 4, 16, 16), (3, 16, 16)])
def test_wrong_input_is_named(shape):
    with pytest.raises(ValueError, match=r"one patch per landmark"):
        LandmarkRefiner(num_landmarks=3, features=SMALL)(torch.zeros(shape))


@pytest.mark.parametrize("kwargs", [{"spatial_dims": 3}, {"num_landmarks": 0}])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        LandmarkRefiner(**kwargs)
