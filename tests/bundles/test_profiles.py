"""The ``published`` and ``ours`` profiles of the ceph bundles: override files whose switches reach the parts they
set (the released code's settings against our improvements, see each bundle's README)."""

import json
from pathlib import Path

import pytest
from monai.bundle import ConfigParser

ROOT = Path(__file__).resolve().parents[2]
PROFILED = ("htc_ceph", "gu2net_ceph")


def _configs(name):
    return ROOT / "bundles" / name / "configs"


def _parser(name, *files, tmp_path):
    parser = ConfigParser()
    parser.read_config([str(_configs(name) / f) for f in files])
    parser["bundle_root"] = str(tmp_path)
    return parser


@pytest.mark.parametrize("name", PROFILED)
def test_profiles_switch_the_same_keys_and_ours_is_the_default(name):
    train = json.loads((_configs(name) / "train.json").read_text())
    published = json.loads((_configs(name) / "published.json").read_text())
    ours = json.loads((_configs(name) / "ours.json").read_text())
    for key, value in ours.items():
        assert train[key] == value, f"ours.json {key}: {value!r}, train.json has {train[key]!r}"
    for key in published:
        assert key in train, f"published.json {key} is not a train.json key"
        # a list of transforms is not restated: its "ours" value is train.json's
        assert key in ours or isinstance(train[key], list), f"published.json {key} has no 'ours' value"


def test_htc_published_profile_reaches_network_codec_schedule_and_augmentation(tmp_path):
    parser = _parser("htc_ceph", "train.json", "published.json", tmp_path=tmp_path)
    parser["width_multiplier"] = 0.25
    assert parser.get_parsed_content("network_def").backbone_init == "pytorch"
    assert all(c.round_targets for c in parser.get_parsed_content("codec").codecs)
    assert parser.get_parsed_content("warmup_epochs") == 50
    affine = parser.get_parsed_content("train#random_transforms")[1]
    assert affine.rand_affine_grid.translate_range == pytest.approx((38.4, 48.0))  # 15 % of train.json's 256 x 320
    assert (affine.sampling, affine.rotate_prob, affine.prob) == ("truncated_normal", 0.6, 1.0)
    ours = _parser("htc_ceph", "train.json", "ours.json", tmp_path=tmp_path)
    ours["width_multiplier"] = 0.25
    assert ours.get_parsed_content("network_def").backbone_init == "he_fan_out"
    assert not any(c.round_targets for c in ours.get_parsed_content("codec").codecs)
    assert ours.get_parsed_content("train#random_transforms")[1].sampling == "uniform"


def test_gu2net_published_profile_resizes_with_anti_aliasing_in_training_and_inference(tmp_path):
    for files in (("train.json", "published.json"), ("inference.json", "published.json")):  # one file for both
        parser = _parser("gu2net_ceph", *files, tmp_path=tmp_path)
        key = "load_transforms" if files[0] == "train.json" else "preprocessing#transforms"
        resize = [t for t in parser.get(key) if t["_target_"].endswith("LandmarkResized")][0]
        assert parser.get_parsed_content(key)[parser.get(key).index(resize)].resizer.anti_aliasing
    published = _parser("gu2net_ceph", "train.json", "published.json", tmp_path=tmp_path)
    assert published.get_parsed_content("train#random_transforms") == []
    assert (
        len(_parser("gu2net_ceph", "train.json", tmp_path=tmp_path).get_parsed_content("train#random_transforms")) == 4
    )
