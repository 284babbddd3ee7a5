"""The Python API (``monai_landmarks.LandmarkPredictor``): the README's example as it stands, the same records as
``predict`` writes, files, arrays and MetaTensors alike, batches that go on past a bad image, nothing written unless
asked, and the universal bundle's domains by name."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.transforms import LoadImage
from PIL import Image

import monai_landmarks
from monai_landmarks.cli import main
from monai_landmarks.data.image_reader import SITKReader
from tests.bundles.test_export import _bundle

ROOT = Path(__file__).resolve().parents[1]
HTC = ROOT / "bundles" / "htc_ceph"
TINY = {"width_multiplier": 0.25, "image_size": [32, 48]}
TINY_CLI = ["--set", "width_multiplier=0.25", "--set", "image_size=[32,48]", "--quiet", "--device", "cpu"]


def _png(path: Path, seed: int = 0) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (60, 44), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Random weights of a tiny htc_ceph, and a predictor of them (coarse only: the shipped refiner is for 0.2 mm
    cephalograms, and slow here)."""
    folder = tmp_path_factory.mktemp("tiny")
    parser = ConfigParser()
    parser.read_config(str(HTC / "configs" / "inference.json"))
    parser.update(TINY)
    torch.manual_seed(0)
    torch.save(parser.get_parsed_content("network_def").state_dict(), folder / "w.pt")
    predictor = monai_landmarks.LandmarkPredictor(HTC, folder / "w.pt", "cpu", refine=False, settings=TINY)
    return folder / "w.pt", predictor


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_result_is_the_record_predict_writes(tiny, tmp_path):
    weights, predictor = tiny
    image = _png(tmp_path / "a.png")
    before = _files(tmp_path)
    result = predictor(image, spacing=0.1)
    assert _files(tmp_path) == before  # nothing written
    assert result.landmarks.shape == (19, 2) and result.names[0] == "sella" and result.confidence.shape == (19,)
    np.testing.assert_allclose(result.landmarks_mm, result.landmarks * 0.1)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert result.cascade["cascade"] == "off" and result.cascade["weights"]["model"]["sha256"] == sha
    assert result.cascade["spacing_source"] == "--spacing" and result.cascade["spacing_mm"] == [0.1, 0.1]
    assert list(result.measurements) == ["ANB", "SNB", "SNA", "ODI", "APDI", "FHI", "FMA", "MW"]
    # the command is built on the same call: its JSON is the result's record
    out = tmp_path / "pred"
    argv = ["predict", str(HTC), str(image), "--weights", str(weights), "--out", str(out), "--no-refine", *TINY_CLI]
    assert main([*argv, "--spacing", "0.1"]) == 0
    assert json.loads((out / "a.png.json").read_text()) == json.loads(json.dumps(result.record))
    assert (out / "measurements.csv").is_file()
    # no spacing: pixels only
    assert predictor(image).landmarks_mm is None


def test_arrays_and_metatensors_give_the_landmarks_of_the_file(tiny, tmp_path):
    _, predictor = tiny
    image = _png(tmp_path / "a.png", seed=3)
    from_file = predictor(image)
    rows_columns = np.asarray(Image.open(image))  # (H, W), as PIL reads it
    from_array = predictor(rows_columns)
    np.testing.assert_allclose(from_array.landmarks, from_file.landmarks, atol=1e-4)
    assert from_array.image == "<array 0>" and from_array.record["image_size"] == [44, 60]
    loaded = LoadImage(reader=SITKReader(), ensure_channel_first=True)(str(image))
    np.testing.assert_allclose(predictor(loaded).landmarks, from_file.landmarks, atol=1e-4)


def test_a_batch_goes_on_past_a_bad_image_and_can_write_predicts_files(tiny, tmp_path):
    _, predictor = tiny
    good = [_png(tmp_path / f"{n}.png", seed=i) for i, n in enumerate("ab")]
    (bad := tmp_path / "bad.png").write_bytes(b"not a png")
    batch = predictor.predict([good[0], bad, good[1]])
    assert [Path(r.image).name for r in batch] == ["a.png", "b.png"]
    assert len(batch.failures) == 1 and batch.failures[0]["image"] == str(bad)
    np.testing.assert_allclose(batch[0].landmarks, predictor(good[0]).landmarks)
    written = predictor.predict(good, spacing=0.1, out=tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["a.png.json", "a.png.png", "b.png.json", "b.png.png", "measurements.csv", "predict_journal.jsonl",
                     "predict_summary.json", "predictions.csv"]  # fmt: skip
    assert json.loads((tmp_path / "out" / "b.png.json").read_text()) == json.loads(json.dumps(written[1].record))
    with pytest.raises(ValueError, match=r"bad.png: .*"):
        predictor(bad)


def test_bad_arguments_are_refused_with_the_reason(tiny, tmp_path):
    _, predictor = tiny
    with pytest.raises(ValueError, match=r"2D grayscale array .* got shape \(8, 8, 3\)"):
        predictor(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        predictor(np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="spacing must be one or two positive numbers"):
        predictor(_png(tmp_path / "a.png"), spacing=0)
    with pytest.raises(ValueError, match="give a list of images"):
        predictor.predict(str(tmp_path / "a.png"))
    with pytest.raises(FileNotFoundError, match="not a bundle folder"):
        monai_landmarks.LandmarkPredictor(tmp_path)
    with pytest.raises(ValueError, match="not a universal bundle"):
        monai_landmarks.LandmarkPredictor(HTC, tiny[0], "cpu", domain="spine", refine=False, settings=TINY)


UNIVERSAL_TINY = {"channels": [8, 16, 16, 32, 32], "image_sizes": [[64, 80], [64, 80], [64, 80]]}


def test_the_universal_bundle_serves_each_domain_by_name(tmp_path, capsys):
    bundle, net = _bundle("gu2net_universal", tmp_path, UNIVERSAL_TINY)
    image = _png(tmp_path / "x.png")
    for domain, count, first in (
        ("isbi2015_ceph", 19, "Sella"),
        ("spine", 68, "T1 top-left"),
        (2, 166, "right lung 0"),
    ):
        result = monai_landmarks.LandmarkPredictor(bundle, device="cpu", domain=domain)(image)
        assert result.landmarks.shape == (count, 2) and result.names[0] == first
    with pytest.raises(ValueError, match=r"unknown domain 'hand'; .* 0 \(isbi2015_ceph\), 1 \(aasce_spine\), 2"):
        monai_landmarks.LandmarkPredictor(bundle, device="cpu", domain="hand")
    # the command: --domain by name, a wrong one refused listing the valid ones, --set domain contradicting it
    argv = ["predict", str(bundle), str(image), "--quiet", "--device", "cpu"]
    assert main([*argv, "--out", str(tmp_path / "spine"), "--domain", "aasce_spine"]) == 0
    assert len(json.loads((tmp_path / "spine" / "x.png.json").read_text())["landmarks"]) == 68
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "none"), "--domain", "knee"]) == 1
    err = capsys.readouterr().err
    assert "unknown domain 'knee'" in err and "1 (aasce_spine)" in err and "Traceback" not in err
    assert main([*argv, "--out", str(tmp_path / "none"), "--domain", "1", "--set", "domain=2"]) == 1
    assert "contradict" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "none"), "--domain", "spine", "--draw-measurements"]) == 1
    assert "declares no clinical analysis" in capsys.readouterr().err and not (tmp_path / "none").exists()


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- python-api-example[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert found, "README.md: the Python API example block is missing"
    return found.group(1)


def test_the_readme_example_runs_as_it_stands(monkeypatch):
    """The shipped gu2net_ceph bundle (cascade on) on its sample image, from the repository root, as a user would."""
    code = _readme_example()
    assert len([line for line in code.splitlines() if line.strip()]) == 5
    monkeypatch.chdir(ROOT)
    before = _files(ROOT / "bundles" / "gu2net_ceph")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the documented example itself
    assert _files(ROOT / "bundles" / "gu2net_ceph") == before  # nothing written
    first, second = printed.getvalue().splitlines()[-2:]
    assert first.startswith("sella [") and "'cascade': 'on'" in first and "refiner.pt" in first
    assert "'name': 'ANB'" in second and "'unit': 'deg'" in second
