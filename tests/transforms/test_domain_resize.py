import pytest
import torch
from monai.data import MetaTensor

from monai_landmarks.transforms import DomainResized, InvertLandmarksd


def _sample(domain, size=(40, 30)):
    points = torch.tensor([[[10.0, 5.0], [30.0, 20.0]]])
    return {"image": MetaTensor(torch.rand(1, *size)), "landmarks": points, "domain": domain}


def test_each_domain_gets_its_own_size_and_inverts_exactly():
    resize = DomainResized("image", spatial_sizes=[(20, 15), (80, 60)])
    for domain, size, scale in ((0, (20, 15), 0.5), (1, (80, 60), 2.0)):
        out = resize(_sample(domain))
        assert tuple(out["image"].shape[1:]) == size
        # pixel-centre rule: u -> (u + 0.5) * scale - 0.5
        expected = (torch.tensor([[[10.0, 5.0], [30.0, 20.0]]]) + 0.5) * scale - 0.5
        assert torch.allclose(out["landmarks"].float(), expected, atol=1e-5)
        back = InvertLandmarksd(keys="landmarks")(out)
        assert torch.allclose(back["landmarks"].float(), _sample(domain)["landmarks"], atol=1e-4)


def test_a_domain_without_a_size_is_named():
    with pytest.raises(ValueError, match="domain 2, but spatial_sizes gives 2"):
        DomainResized("image", spatial_sizes=[(20, 15), (80, 60)])(_sample(2))
    with pytest.raises(ValueError, match="one"):
        DomainResized("image", spatial_sizes=[])
