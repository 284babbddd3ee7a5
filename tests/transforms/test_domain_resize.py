"""Per-domain transforms of the universal model: each sample is resized (plainly or keeping its aspect ratio) and
augmented with its own domain's settings; blobs drawn at the landmarks stay on them, and inversion brings both back.

The blob helpers are those of ``test_spatial.py`` (a non-square 48 x 40 image with sub-pixel blobs).
"""

import copy

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose
from test_spatial import POINTS, SIZE, blob_errors, check_round_trip, sample

from monai_landmarks.transforms import DomainRandLandmarkAffined, DomainResized, InvertLandmarksd
from monai_landmarks.utils.coords import rescale
from monai_landmarks.utils.keys import Keys


def _sample(domain, size=(40, 30)):
    points = torch.tensor([[[10.0, 5.0], [30.0, 20.0]]])
    return {"image": MetaTensor(torch.rand(1, *size)), "landmarks": points, "domain": domain}


def _blobs(domain) -> dict:
    return {**sample(), Keys.DOMAIN: domain}


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


# domain 0: plain resize to a non-square size; domains 1 and 2: fit inside a square / a tall size, then pad
SIZES = [(36, 50), (64, 64), (40, 48)]
KEEP = [False, True, True]
FITTED = [(36, 50), (64, 53), (40, 33)]  # 48 x 40 fitted: plain keeps the target, keep_aspect scales both axes alike


@pytest.mark.parametrize("domain", range(3))
def test_blobs_stay_on_landmarks_for_both_kinds_and_come_back(domain):
    resize = DomainResized(Keys.IMAGE, spatial_sizes=SIZES, keep_aspect=KEEP)
    out = check_round_trip(resize, _blobs(domain))  # forward and MONAI inverse: blobs on the landmarks (0.5 px)
    assert tuple(out[Keys.IMAGE].shape[1:]) == SIZES[domain]
    fitted = FITTED[domain]
    pad = [(t - f) // 2 for t, f in zip(SIZES[domain], fitted, strict=True)]
    expected = rescale(torch.as_tensor(POINTS), [f / n for f, n in zip(fitted, SIZE, strict=True)]) + torch.tensor(pad)
    np.testing.assert_allclose(out[Keys.LANDMARKS][0].numpy(), expected.numpy(), atol=1e-4)
    if KEEP[domain]:
        assert any(p > 0 for p in pad)  # the aspect-keeping kind really padded
    # a prediction at the blobs, taken back to the original image by InvertLandmarksd, lands on the drawn points
    out[Keys.PRED_LANDMARKS] = out[Keys.LANDMARKS].clone()
    back = InvertLandmarksd(keys=Keys.PRED_LANDMARKS)(out)
    np.testing.assert_allclose(back[Keys.PRED_LANDMARKS][0].numpy(), POINTS, atol=1e-3)
    assert blob_errors(sample()[Keys.IMAGE], back[Keys.PRED_LANDMARKS]).max() < 0.5


def test_a_tall_image_keeps_its_aspect_ratio():
    """A spine-like image (1:2.7) fitted into 192 x 512: one scale for both axes, padded left and right."""
    image = MetaTensor(torch.rand(1, 100, 270))
    resize = DomainResized(Keys.IMAGE, spatial_sizes=[(64, 64), (192, 512)], keep_aspect=[False, True])
    out = resize({Keys.IMAGE: image, Keys.LANDMARKS: torch.tensor([[[49.5, 134.5]]]), Keys.DOMAIN: 1})
    assert tuple(out[Keys.IMAGE].shape[1:]) == (192, 512)
    assert resize.resizers[1].fitted_size((100, 270)) == (190, 512)
    # the image centre stays the centre; left and right get one padded column each
    np.testing.assert_allclose(out[Keys.LANDMARKS][0, 0].numpy(), [95.5, 255.5], atol=0.02)
    assert float(out[Keys.IMAGE][0, 0].abs().max()) == 0.0 and float(out[Keys.IMAGE][0, -1].abs().max()) == 0.0


def test_a_domain_without_a_size_is_named():
    with pytest.raises(ValueError, match="domain 2, but spatial_sizes gives 2"):
        DomainResized("image", spatial_sizes=[(20, 15), (80, 60)])(_sample(2))
    with pytest.raises(ValueError, match="one"):
        DomainResized("image", spatial_sizes=[])


@pytest.mark.parametrize(
    "keep_aspect, message",
    [([True], "one true/false per domain"), ([False, "yes"], "one true/false per domain")],
)
def test_keep_aspect_needs_one_flag_per_domain(keep_aspect, message):
    with pytest.raises(ValueError, match=message):
        DomainResized("image", spatial_sizes=[(20, 15), (80, 60)], keep_aspect=keep_aspect)


def _domain_affine(**kwargs):
    # domain 0 never moves (zero ranges, no scaling); domain 1 rotates and shifts
    args = {"prob": 1.0, "rotate_ranges": [0.0, 0.3], "translate_ranges": [[0, 0], [4, 4]], **kwargs}
    return DomainRandLandmarkAffined(Keys.IMAGE, **args)


def test_domain_affine_uses_each_domains_ranges_and_inverts():
    affine = _domain_affine().set_random_state(seed=0)
    still = check_round_trip(affine, _blobs(0))
    np.testing.assert_allclose(still[Keys.LANDMARKS][0].numpy(), POINTS, atol=1e-4)
    moved = [check_round_trip(affine, _blobs(1))[Keys.LANDMARKS][0].numpy() for _ in range(3)]
    assert all(np.abs(m - POINTS).max() > 0.3 for m in moved)  # the blobs moved, and the landmarks with them
    with pytest.raises(ValueError, match="domain 2, but rotate_ranges gives 2"):
        affine(_blobs(2))


def test_domain_affine_is_seeded_through_compose():
    def draws(seed):
        pipeline = Compose([_domain_affine()]).set_random_state(seed=seed)
        return [pipeline(_blobs(d))[Keys.LANDMARKS].numpy() for d in (1, 0, 1)]

    first, again, other = draws(3), draws(3), draws(4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.allclose(first[0], other[0])


def test_domain_affine_needs_one_range_per_domain():
    with pytest.raises(ValueError, match="one entry per domain"):
        DomainRandLandmarkAffined(Keys.IMAGE, rotate_ranges=[0.1, 0.2], translate_ranges=[[1, 1]])
    with pytest.raises(ValueError, match="one entry per domain"):
        DomainRandLandmarkAffined(Keys.IMAGE, rotate_ranges=[], translate_ranges=[])


def test_domain_affine_inverse_replays_the_domains_own_record():
    affine = _domain_affine().set_random_state(seed=1)
    out = affine(_blobs(1))
    back = affine.inverse(copy.deepcopy(out))
    np.testing.assert_allclose(back[Keys.LANDMARKS][0].numpy(), POINTS, atol=1e-3)
    assert back[Keys.IMAGE].applied_operations == []
