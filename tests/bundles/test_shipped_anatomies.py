"""The weights the spine and chest bundles ship: they load (sha256 checked against large_files.yml on the way),
predict their sample phantoms out of the box, and on a few test1 images their error lies in the range the docs
state. The sha256 and size of every shipped file are also checked in ``test_model_zoo.py``."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import dataset_path  # tests/conftest.py: skips when the shared datasets are absent

from monai_landmarks.cli import main
from monai_landmarks.data import load_datalist

ROOT = Path(__file__).resolve().parents[2]
# bundle: (dataset, landmarks, spacing of the stored images or None for pixels, docs' test1 MRE key, lowest ratio
# of a four-image MRE to it: the spine's errors are heavy-tailed, SD 84 px over a mean of 75)
SHIPPED = {
    "gu2net_chest": ("jsrt_chest", 166, 0.7, "test1_mre_mm", 0.5),
    "gu2net_spine": ("aasce_spine", 68, None, "test1_mre_px", 0.25),
}
SHIPPED = {b: v for b, v in SHIPPED.items() if (ROOT / "bundles" / b / "models" / "model.pt").is_file()}


def _landmarks(folder: Path, name: str) -> np.ndarray:
    record = json.loads((folder / f"{name}.json").read_text())
    return np.array([[p["x"], p["y"]] for p in record["landmarks"]], dtype=np.float64)


@pytest.mark.parametrize("bundle", SHIPPED)
def test_shipped_bundle_predicts_its_samples_out_of_the_box(bundle, tmp_path):
    samples = ROOT / "bundles" / bundle / "sample_images"
    out = tmp_path / "out"
    assert main(["predict", str(ROOT / "bundles" / bundle), str(samples), "--out", str(out), "--quiet",
                 "--device", "cpu"]) == 0  # fmt: skip
    summary = json.loads((out / "predict_summary.json").read_text())
    assert summary["cascade"] == "off" and summary["weights"]["model"]["path"].endswith("models/model.pt")
    for f in samples.iterdir():
        points = _landmarks(out, f.name)
        assert points.shape == (SHIPPED[bundle][1], 2) and np.isfinite(points).all()


def _test1_mre(bundle: Path, dataset: str, count: int, spacing, tmp_path: Path, *options: str) -> float:
    """``predict`` with ``bundle`` on the first four test1 images of ``dataset``: their MRE (mm with a spacing)."""
    items = load_datalist(dataset_path(dataset), split="test1")[:4]
    images = tmp_path / "images"
    images.mkdir()
    for item in items:
        (images / Path(item["image"]).name).symlink_to(item["image"])
    out = tmp_path / "out"
    extra = ["--spacing", str(spacing)] if spacing else []
    assert main(["predict", str(bundle), str(images), "--out", str(out), "--quiet", "--device", "cpu",
                 *options, *extra]) == 0  # fmt: skip
    errors = []
    for item in items:
        points = _landmarks(out, Path(item["image"]).name)
        assert points.shape == (count, 2)
        errors.append(np.linalg.norm(points - item["landmarks"][0], axis=-1))
    return float(np.nanmean(errors)) * (spacing or 1.0)


def _documented(bundle: Path, key: str) -> float:
    return json.loads((bundle / "configs" / "metadata.json").read_text())["eval_metrics"][key]


@pytest.mark.datasets
@pytest.mark.parametrize("bundle", SHIPPED)
def test_shipped_bundle_on_a_few_test1_images_matches_its_docs(bundle, tmp_path):
    dataset, count, spacing, key, lowest = SHIPPED[bundle]
    mre = _test1_mre(ROOT / "bundles" / bundle, dataset, count, spacing, tmp_path)
    documented = _documented(ROOT / "bundles" / bundle, key)
    # four images vary around the test1 figure: never twice it, and not implausibly better
    assert lowest * documented <= mre <= 2.0 * documented, (mre, documented)


UNIVERSAL = ROOT / "bundles" / "gu2net_universal"
# domain name: (landmarks, spacing or None, its test1 MRE key in metadata.json)
UNIVERSAL_DOMAINS = {
    "isbi2015_ceph": (19, 0.2, "test1_mre_ceph_mm"),
    "aasce_spine": (68, None, "test1_mre_spine_px"),
    "jsrt_chest": (166, 0.7, "test1_mre_chest_mm"),
}


@pytest.mark.datasets
@pytest.mark.skipif(not (UNIVERSAL / "models" / "model.pt").is_file(), reason="gu2net_universal ships no weights")
@pytest.mark.parametrize("domain", UNIVERSAL_DOMAINS)
def test_shipped_universal_on_a_few_test1_images_of_each_domain_matches_its_docs(domain, tmp_path):
    count, spacing, key = UNIVERSAL_DOMAINS[domain]
    mre = _test1_mre(UNIVERSAL, domain, count, spacing, tmp_path, "--domain", domain)
    documented = _documented(UNIVERSAL, key)
    assert 0.2 * documented <= mre <= 2.5 * documented, (mre, documented)
