"""The MONAI Label app serves each domain of a universal bundle as a model of its own (issue 20): names
``<bundle>_<short name>``, each task with its domain's landmark names, pre-processing and network head, and the
landmarks ``predict --domain`` gives. The universal bundle ships no weights yet: a tiny one with seed-0 random
weights stands in (as ``tests/bundles/test_export.py`` does). Runs in the ``monailabel`` environment only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("monailabel")

from monai_landmarks import LandmarkPredictor  # noqa: E402
from monai_landmarks.apps.monailabel.app import LandmarkApp, served_models  # noqa: E402
from monai_landmarks.apps.monailabel.infer import LandmarkInferTask  # noqa: E402
from tests.bundles.test_export import _bundle  # noqa: E402

pytestmark = pytest.mark.monailabel

ROOT = Path(__file__).resolve().parents[2]
TINY = {"channels": [8, 16, 16, 32, 32], "image_sizes": [[64, 80], [64, 80], [64, 80]]}
DOMAINS = (("ceph", 19, "Sella"), ("spine", 68, "T1 top-left"), ("chest", 166, "right lung 0"))


@pytest.fixture(scope="module")
def universal(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("universal")
    bundle, _ = _bundle("gu2net_universal", tmp, TINY)
    image = tmp / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 70), dtype=np.uint8)).save(image)
    return bundle, image


def test_a_universal_bundle_is_served_as_one_model_per_domain(universal):
    bundle, _ = universal
    ceph = ROOT / "bundles" / "gu2net_ceph"
    models = served_models({"gu2net_universal": bundle, "gu2net_ceph": ceph})
    assert models == {
        "gu2net_universal_ceph": (bundle, 0),
        "gu2net_universal_spine": (bundle, 1),
        "gu2net_universal_chest": (bundle, 2),
        "gu2net_ceph": (ceph, None),
    }
    with pytest.raises(ValueError, match="serves a model named 'gu2net_universal_ceph'"):
        served_models({"gu2net_universal": bundle, "gu2net_universal_ceph": ceph})


@pytest.mark.parametrize("domain", range(3))
def test_each_domain_task_answers_as_predict_does_for_its_domain(universal, domain):
    bundle, image = universal
    short, count, first = DOMAINS[domain]
    task = LandmarkInferTask(str(bundle), {}, domain=domain)
    assert task.info()["landmarks"][0] == first and len(task.labels) == count
    _, result = task({"image": str(image), "device": "cpu"})
    points = np.array([[lm["x"], lm["y"]] for lm in result["landmarks"]])
    assert points.shape == (count, 2) and result["landmarks"][0]["name"] == first
    expected = LandmarkPredictor(bundle, device="cpu", domain=short)(image)
    np.testing.assert_allclose(points, expected.landmarks, atol=1e-3)


def test_the_app_offers_every_domain_model(universal, tmp_path):
    bundle, image = universal
    studies = tmp_path / "studies"
    studies.mkdir()
    Image.open(image).save(studies / "x.png")
    app = LandmarkApp(str(tmp_path / "app"), str(studies), {"bundles": str(bundle)})
    assert sorted(app.info()["models"]) == ["gu2net_universal_ceph", "gu2net_universal_chest", "gu2net_universal_spine"]
    assert app.info()["models"]["gu2net_universal_spine"]["landmarks"][0] == "T1 top-left"
