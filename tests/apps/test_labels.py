"""The landmarks label format of the MONAI Label app (no ``monailabel`` needed)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from monai_landmarks.apps.monailabel import MAIN_PY, make_app_dir
from monai_landmarks.apps.monailabel.labels import (
    LandmarkLabelError,
    bundle_domains,
    bundle_landmark_names,
    bundle_protocol,
    centroids,
    check_label_file,
    label_sample,
    parse_label,
    parse_spacing,
)
from monai_landmarks.metrics import ErrorProtocol
from monai_landmarks.utils.keys import Keys

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
NAMES = ["sella", "Nasion", "orbitale"]


def test_the_app_folder_is_a_data_folder_of_its_own(tmp_path):
    """``monailabel start_server --app`` writes bin/ lib/ logs/ model/ into the app folder: it is never the package."""
    import monai_landmarks.apps.monailabel as package

    assert not (Path(package.__file__).parent / "main.py").exists()
    folder = make_app_dir(tmp_path / "app")
    assert (folder / "main.py").read_text() == MAIN_PY and "LandmarkApp" in MAIN_PY
    (folder / "logs").mkdir()  # what MONAI Label adds
    assert make_app_dir(folder) == folder  # an app folder is reused as it is
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and not an app folder"):
        make_app_dir(foreign)
    (foreign / "main.py").write_text("print('my app')")
    with pytest.raises(ValueError, match="not empty and not an app folder"):
        make_app_dir(foreign)
    assert (foreign / "main.py").read_text() == "print('my app')"  # kept


def test_python_m_prints_the_app_folder(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "monai_landmarks.apps.monailabel"], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == tmp_path / "data" / "monai-landmarks" / "monailabel-app"
    assert (Path(done.stdout.strip()) / "main.py").is_file()
    (tmp_path / "file").write_text("x")
    done = subprocess.run([sys.executable, "-m", "monai_landmarks.apps.monailabel", str(tmp_path / "file")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1 and "not a folder" in done.stderr and not done.stdout


@pytest.mark.parametrize("bundle, count, first", [("htc_ceph", 19, "sella"), ("htc_hand", 37, None)])
def test_bundle_landmark_names_come_from_metadata(bundle, count, first):

    names = bundle_landmark_names(Path(__file__).resolve().parents[2] / "bundles" / bundle)
    assert len(names) == count == len(set(names))
    assert first is None or names[0] == first


def test_a_universal_bundle_names_its_domains_and_each_domain_its_landmarks(tmp_path):
    bundles = Path(__file__).resolve().parents[2] / "bundles"
    assert bundle_domains(bundles / "gu2net_universal") == ["isbi2015_ceph", "aasce_spine", "jsrt_chest"]
    assert bundle_domains(bundles / "gu2net_ceph") == []
    for domain, count, first in ((0, 19, "Sella"), (1, 68, "T1 top-left"), (2, 166, "right lung 0")):
        names = bundle_landmark_names(bundles / "gu2net_universal", domain)
        assert len(names) == count and names[0] == first
    with pytest.raises(LandmarkLabelError, match="no domain 3"):
        bundle_landmark_names(bundles / "gu2net_universal", 3)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "inference.json").write_text(json.dumps({"domain": 0, "num_landmarks": [3, 4]}))
    with pytest.raises(LandmarkLabelError, match="needs domain_names"):
        bundle_domains(tmp_path)
    assert bundle_landmark_names(tmp_path, 1) == ["0", "1", "2", "3"]  # a dataset without names: indices


def test_names_and_indices_fill_channel_order_and_leave_the_rest_missing():
    record = {"landmarks": [{"name": "nasion", "x": 3.0, "y": 4.5}, {"index": 0, "x": 1, "y": 2}], "spacing_mm": 0.1}
    points, spacing = parse_label(record, NAMES)
    np.testing.assert_allclose(points[:2], [[1, 2], [3, 4.5]])
    assert np.isnan(points[2]).all()
    assert spacing.dtype == np.float64 and spacing.tolist() == [0.1, 0.1]  # the decimal, so SDR ties hold


def test_inference_result_round_trips_as_a_label():
    points = np.array([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]])
    from monai_landmarks.handlers.prediction_writer import prediction_record

    record = prediction_record(points, np.ones(3), None, NAMES)
    record["centroids"] = {n: [str(x), str(y)] for n, (x, y) in zip(NAMES, points, strict=True)}
    parsed, spacing = parse_label(json.loads(json.dumps(record)), NAMES)
    np.testing.assert_allclose(parsed, points)
    assert np.isnan(spacing).all()


def test_centroids_skip_missing_landmarks():
    # the radiology localization form: [label value, i, j, k], label value = index + 1
    assert centroids([[1.0, 2.0], [math.nan, math.nan], [5.5, 6.0]], NAMES) == [
        {"sella": [1, 1.0, 2.0, 0]},
        {"orbitale": [3, 5.5, 6.0, 0]},
    ]


@pytest.mark.parametrize(
    "record, message",
    [
        ([1, 2], "expected a JSON object"),
        ({}, "'landmarks' must be a non-empty list"),
        ({"landmarks": []}, "'landmarks' must be a non-empty list"),
        ({"landmarks": [7]}, "expected an object"),
        ({"landmarks": [{"x": 1, "y": 2}]}, "needs a 'name' or an 'index'"),
        ({"landmarks": [{"name": "chin", "x": 1, "y": 2}]}, "unknown landmark name 'chin'"),
        ({"landmarks": [{"name": "", "x": 1, "y": 2}]}, "non-empty string"),
        ({"landmarks": [{"index": 3, "x": 1, "y": 2}]}, "'index' must be an integer >= 0 below 3"),
        ({"landmarks": [{"index": True, "x": 1, "y": 2}]}, "'index' must be an integer"),
        ({"landmarks": [{"index": 0, "x": 1, "y": 2}, {"name": "SELLA", "x": 1, "y": 2}]}, "given twice"),
        ({"landmarks": [{"index": 0, "x": "1", "y": 2}]}, "finite numbers"),
        ({"landmarks": [{"index": 0, "x": math.inf, "y": 2}]}, "finite numbers"),
        ({"landmarks": [{"index": 0, "x": 1}]}, "finite numbers"),
        ({"landmarks": [{"index": 0, "x": -3, "y": 2}]}, "outside the image"),
        ({"landmarks": [{"index": 0, "x": 1, "y": 2}], "spacing_mm": 0}, "spacing_mm must be a positive"),
        ({"landmarks": [{"index": 0, "x": 1, "y": 2}], "spacing_mm": [1, 2, 3]}, "spacing_mm must be a positive"),
    ],
)
def test_malformed_labels_raise_naming_the_input(record, message):
    with pytest.raises(LandmarkLabelError, match="label.json") as err:
        parse_label(record, NAMES, "label.json")
    assert message in str(err.value)


def test_parse_spacing_rejects_booleans():
    with pytest.raises(LandmarkLabelError):
        parse_spacing(True, "request")


def test_label_files(tmp_path):
    good = tmp_path / "head0001.json"
    good.write_text(json.dumps({"landmarks": [{"name": "orbitale", "x": 5, "y": 6}]}))
    check_label_file(good, [["a", "b"], NAMES])  # fits the second model
    with pytest.raises(LandmarkLabelError, match="unknown landmark name"):
        check_label_file(good, [["a", "b"]])
    sample = label_sample(tmp_path / "head0001.png", good, NAMES)
    assert sample[Keys.LANDMARKS].shape == (1, 3, 2) and sample[Keys.IMAGE_ID] == "head0001"
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe{")
    with pytest.raises(LandmarkLabelError, match="bad.json: not a landmarks JSON file"):
        check_label_file(bad, [NAMES])


@pytest.mark.parametrize(
    "bundle, spacing, expected",
    [
        ("htc_hand", None, ErrorProtocol("wrist", wrist_pair=(0, 4), wrist_width_mm=50.0)),  # the bundle's unit
        ("htc_hand", 0.1, ErrorProtocol("mm")),
        ("htc_ceph", None, ErrorProtocol("px")),
        ("htc_ceph", [0.1, 0.1], ErrorProtocol("mm")),
    ],
)
def test_bundle_protocol_of_datastore_labels(bundle, spacing, expected):
    """MONAI Label training selects its best model in the unit the bundle's train.json would use for this data."""
    from monai.bundle import ConfigParser

    config = ConfigParser()
    config.read_config(str(BUNDLES / bundle / "configs" / "train.json"))
    samples = [{Keys.SPACING: parse_spacing(spacing, "label")} for _ in range(2)]  # as label_sample gives them
    before = json.dumps(config.config, sort_keys=True, default=str)
    assert bundle_protocol(config, samples) == expected
    assert json.dumps(config.config, sort_keys=True, default=str) == before  # the task's config is left as it was
    # the protocol travels as a JSON config entry (the multi-GPU path writes overrides to a file)
    entry = json.loads(json.dumps(expected.to_config()))
    assert ConfigParser({"protocol": entry}).get_parsed_content("protocol") == expected
