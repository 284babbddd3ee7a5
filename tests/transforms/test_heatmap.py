import pytest
import torch
from monai.data import MetaTensor, list_data_collate
from monai.transforms import Compose

from monai_landmarks.codecs import GaussianHeatmapCodec
from monai_landmarks.transforms.heatmap import DecodeHeatmapsd, GenerateHeatmapsd
from monai_landmarks.utils.keys import Keys

HTC = ((4, 2.0), (2, 2.0))


def sample(size=(64, 48), seed=0, margin=12):
    g = torch.Generator().manual_seed(seed)
    points = torch.rand(1, 3, 2, generator=g) * torch.tensor([size[0] - 2.0 * margin, size[1] - 2.0 * margin]) + margin
    points[0, 2] = float("nan")
    return {Keys.IMAGE: MetaTensor(torch.rand(1, *size, generator=g)), Keys.LANDMARKS: points}


def test_one_level_writes_a_one_element_tuple_sized_from_the_image():
    d = GenerateHeatmapsd(levels=((1, 3.0),))(sample())
    (heatmap,) = d[Keys.HEATMAPS]
    assert heatmap.shape == (3, 64, 48) and type(heatmap) is torch.Tensor
    assert d[Keys.WEIGHTS].tolist() == [1.0, 1.0, 0.0]
    expected, _ = GaussianHeatmapCodec((64, 48), sigma=3.0).encode(d[Keys.LANDMARKS])
    torch.testing.assert_close(heatmap, expected)


def test_one_level_as_a_plain_tensor():
    d = GenerateHeatmapsd(levels=((2, 2.0),), as_tuple=False)(sample())
    assert Keys.HEATMAPS not in d and d[Keys.HEATMAP].shape == (3, 32, 24)
    out = DecodeHeatmapsd(keys=Keys.HEATMAP, levels=((2, 2.0),))(d)
    assert (out[Keys.PRED_LANDMARKS][0, :2] - d[Keys.LANDMARKS][0, :2]).abs().max() < 0.05


def test_levels_write_a_tuple_coarsest_first():
    d = GenerateHeatmapsd(spatial_size=(64, 48), levels=HTC)(sample())
    assert isinstance(d[Keys.HEATMAPS], tuple)
    assert [h.shape for h in d[Keys.HEATMAPS]] == [(3, 16, 12), (3, 32, 24)]


def test_generate_then_decode_round_trip_on_sample_and_batch():
    transforms = Compose([GenerateHeatmapsd(levels=HTC), DecodeHeatmapsd(keys=Keys.HEATMAPS, levels=HTC)])
    d = transforms(sample())
    truth = d[Keys.LANDMARKS]
    assert d[Keys.PRED_LANDMARKS].shape == (1, 3, 2) and d[Keys.CONFIDENCE].shape == (1, 3)
    assert (d[Keys.PRED_LANDMARKS][0, :2] - truth[0, :2]).abs().max() < 0.05
    assert d[Keys.CONFIDENCE][0, 2] == 0 and (d[Keys.CONFIDENCE][0, :2] > 0.9).all()

    # A collated batch (the tuple of levels becomes a list of (B, K, w, h)) decodes the same way. Soft-argmax
    # narrows its window near the border, so keep the points 7 coarse pixels (28 image pixels) inside.
    batch = list_data_collate([GenerateHeatmapsd(levels=HTC)(sample((96, 80), s, margin=28)) for s in range(2)])
    batch[Keys.PRED] = batch[Keys.HEATMAPS]
    out = DecodeHeatmapsd(levels=HTC, decoder="soft_argmax")(batch)
    assert out[Keys.PRED_LANDMARKS].shape == (2, 3, 2) and out[Keys.CONFIDENCE].shape == (2, 3)
    assert (out[Keys.PRED_LANDMARKS][:, :2] - batch[Keys.LANDMARKS][:, 0, :2]).abs().max() < 0.05


def test_single_level_prediction_tensor_and_custom_keys():
    d = GenerateHeatmapsd(spatial_size=(64, 48), levels=((2, 2.0),), heatmap_key="target", weights_key=None)(sample())
    assert "target" in d and Keys.WEIGHTS not in d
    out = DecodeHeatmapsd(
        keys="target", levels=((2, 2.0),), decoder="argmax", landmarks_key="points", confidence_key=None
    )(d)
    assert out["points"].shape == (1, 3, 2) and Keys.CONFIDENCE not in out
    assert (out["points"][0, :2] - d[Keys.LANDMARKS][0, :2]).abs().max() <= 1.0


def test_several_landmark_keys():
    d = sample()
    d["other"] = d[Keys.LANDMARKS] + 1
    out = GenerateHeatmapsd(
        keys=(Keys.LANDMARKS, "other"),
        levels=((1, 2.0),),
        heatmap_key=("a", "b"),
        weights_key=("wa", "wb"),
        as_tuple=False,
    )(d)
    assert out["a"].shape == out["b"].shape == (3, 64, 48) and not torch.equal(out["a"], out["b"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"spatial_size": "image"}, "auto"),
        ({"levels": ((2, 2.0), (4, 2.0))}, "coarsest first"),
        ({"as_tuple": False}, "single level"),
        ({"keys": ("a", "b"), "heatmap_key": "h"}, "heatmap_key"),
        ({"keys": ("a", "b"), "heatmap_key": ("h", "i"), "weights_key": "w"}, "weights_key"),
    ],
)
def test_generate_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GenerateHeatmapsd(**kwargs)


def test_generate_rejects_bad_samples():
    d = sample()
    with pytest.raises(ValueError, match="lacks"):
        GenerateHeatmapsd(levels=HTC)({Keys.LANDMARKS: d[Keys.LANDMARKS]})
    with pytest.raises(ValueError, match=r"\(C, W, H\)"):
        GenerateHeatmapsd(levels=HTC)({**d, Keys.IMAGE: torch.zeros(64, 48)})
    with pytest.raises(ValueError, match="landmarks"):
        GenerateHeatmapsd(levels=HTC)({**d, Keys.LANDMARKS: torch.zeros(3, 3)})


def test_decode_rejects_level_mismatch():
    with pytest.raises(ValueError, match="2 levels"):
        DecodeHeatmapsd(levels=HTC)({Keys.PRED: torch.zeros(3, 16, 12)})
    with pytest.raises(ValueError, match="confidence_key"):
        DecodeHeatmapsd(keys=("a", "b"), landmarks_key=("x", "y"), confidence_key="c")
