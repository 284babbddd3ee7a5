"""The trained weights the ceph bundles ship: they load, run out of the box, and are as accurate as the docs say.

The sha256 and size of every shipped file are checked against ``large_files.yml`` in ``test_model_zoo.py``.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import dataset_path, linked_images  # tests/conftest.py: skips when the shared datasets are absent
from PIL import Image

from monai_landmarks.cli import main
from monai_landmarks.data import load_datalist

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("htc_ceph", "gu2net_ceph")


def _landmarks(folder: Path, name: str) -> np.ndarray:
    """The predicted landmarks of the input file ``name`` (predict writes ``<file name>.json``)."""
    record = json.loads((folder / f"{name}.json").read_text())
    return np.array([[p["x"], p["y"]] for p in record["landmarks"]], dtype=np.float64)


def _documented_mre(bundle: str) -> float:
    """The test1 MRE (mean-of-annotators, cascade) that the bundle's metadata states."""
    meta = json.loads((ROOT / "bundles" / bundle / "configs" / "metadata.json").read_text())
    return float(meta["eval_metrics"]["test1_mre_mm"])


@pytest.mark.parametrize("bundle", SHIPPED)
def test_shipped_bundle_predicts_out_of_the_box(bundle, tmp_path):
    models = ROOT / "bundles" / bundle / "models"
    assert (models / "model.pt").is_file() and (models / "refiner.pt").is_file()
    out = tmp_path / "out"
    assert main(["predict", str(ROOT / "bundles" / bundle), str(ROOT / "bundles" / bundle / "sample_images"),
                 "--out", str(out), "--quiet", "--device", "cpu"]) == 0  # fmt: skip
    names = [f.name for f in (ROOT / "bundles" / bundle / "sample_images").iterdir()]
    points = [_landmarks(out, n) for n in names]
    assert len(points) >= 3
    assert all(p.shape == (19, 2) and np.isfinite(p).all() for p in points)
    # the ceph bundles declare the cephalometric analysis: each JSON holds the eight ISBI 2015 measurements
    measured = [json.loads((out / f"{n}.json").read_text())["measurements"] for n in names]
    assert all([m["name"] for m in ms] == ["ANB", "SNB", "SNA", "ODI", "APDI", "FHI", "FMA", "MW"] for ms in measured)


@pytest.mark.datasets
@pytest.mark.parametrize("bundle", SHIPPED)
def test_shipped_bundle_on_isbi_test1_matches_its_docs(bundle, tmp_path):
    root = dataset_path("isbi2015_ceph")
    items = load_datalist(root, split="test1")[:6]
    images = linked_images(items, tmp_path / "images")
    out = tmp_path / "out"
    assert main(["predict", str(ROOT / "bundles" / bundle), str(images), "--out", str(out), "--spacing", "0.2",
                 "--quiet", "--device", "cpu"]) == 0  # fmt: skip
    errors = [np.linalg.norm(_landmarks(out, Path(i["image"]).name) - i["landmarks"][0], axis=-1) * 0.2 for i in items]
    mre = float(np.mean(errors))
    # six images vary around the 150-image figure: within half of it either way, and never a gross failure
    assert 0.5 * _documented_mre(bundle) <= mre <= 1.5 * _documented_mre(bundle), mre
    assert max(float(np.max(e)) for e in errors) < 15.0


@pytest.mark.datasets
@pytest.mark.parametrize("bundle", SHIPPED)
def test_same_landmarks_on_an_image_and_its_2x_copy(bundle, tmp_path):
    """The original ISBI images are 0.1 mm/px: a 2x upsampled copy of the 0.2 mm image stands in for one."""
    root = dataset_path("isbi2015_ceph")
    item = load_datalist(root, split="test1")[0]
    stored = Image.open(item["image"])
    fine = stored.resize((stored.width * 2, stored.height * 2), Image.BILINEAR)
    for name, image in (("stored", stored), ("fine", fine)):
        folder = tmp_path / name
        folder.mkdir()
        image.save(folder / "x.png")
    spacing = {"stored": "0.2", "fine": "0.1"}
    mm = {}
    for name in ("stored", "fine"):
        out = tmp_path / f"out_{name}"
        assert main(["predict", str(ROOT / "bundles" / bundle), str(tmp_path / name), "--out", str(out),
                     "--spacing", spacing[name], "--quiet", "--device", "cpu"]) == 0  # fmt: skip
        record = json.loads((out / "x.png.json").read_text())
        mm[name] = np.array([[p["x_mm"], p["y_mm"]] for p in record["landmarks"]])
    # pixel centres: u_fine = 2 u + 0.5, i.e. 0.05 mm apart in mm of the pixel index
    offset = np.linalg.norm(mm["stored"] - (mm["fine"] - 0.05), axis=-1)
    assert offset.max() <= 0.3, offset.round(3)  # measured: at most 0.08 mm for htc_ceph on image 151


def test_docs_state_the_figure_the_metadata_holds():
    for bundle in SHIPPED:
        text = (ROOT / "bundles" / bundle / "docs" / "README.md").read_text()
        value = _documented_mre(bundle)
        assert re.search(rf"\b{value:.2f} mm", text), f"{bundle}: docs do not state test1 MRE {value:.2f} mm"
