"""The MONAI Label app checks a bundle's weights as predict does (issue 22): a model.pt that no longer matches the
bundle's large_files.yml is refused, naming the file, instead of being served. Runs in the ``monailabel``
environment only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

pytest.importorskip("monailabel")

from monai_landmarks.apps.monailabel.infer import LandmarkInferTask, LandmarkServerError  # noqa: E402

pytestmark = pytest.mark.monailabel

ROOT = Path(__file__).resolve().parents[2]


def _bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "htc_ceph"
    for name in ("configs", "models"):
        shutil.copytree(ROOT / "bundles" / "htc_ceph" / name, bundle / name)
    shutil.copyfile(ROOT / "bundles" / "htc_ceph" / "large_files.yml", bundle / "large_files.yml")
    return bundle


def test_weights_that_match_large_files_are_served(tmp_path):
    task = LandmarkInferTask(str(_bundle(tmp_path)), {})
    network = task._get_network("cpu", {})
    with torch.no_grad():  # both levels, though the bundle's network_def is model-zoo's one-tensor form
        levels = network.eval()(torch.rand(1, 1, 64, 80))
    assert isinstance(levels, tuple) and len(levels) == 2


def test_weights_with_flipped_bytes_are_refused(tmp_path):
    bundle = _bundle(tmp_path)
    weights = bundle / "models" / "model.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    task = LandmarkInferTask(str(bundle), {})
    # the server answers it with HTTP 500 and this reason (LandmarkServerError)
    with pytest.raises(LandmarkServerError, match=r"model.pt: sha256 [0-9a-f]{64} does not match .*large_files.yml"):
        task._get_network("cpu", {})
