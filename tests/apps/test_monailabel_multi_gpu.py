"""MONAI Label's multi-GPU train path (``torchrun`` over ``multi_gpu_train.json``): a second training request must
train again, not resume the first run's finished checkpoint and stop at once.

Forced on one CPU process (``force_multi_gpu``, gloo), which is the same command line MONAI Label builds for GPUs.
Runs in the ``monailabel`` environment only.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("monailabel")

from monai.bundle import ConfigParser  # noqa: E402
from monailabel.tasks.train.bundle import BundleTrainTask  # noqa: E402

from monai_landmarks.apps.monailabel.train import RESUME, LandmarkTrainTask  # noqa: E402
from monai_landmarks.data.dataset_format import load_datalist  # noqa: E402
from monai_landmarks.data.synthetic import generate_phantom_dataset  # noqa: E402

pytestmark = pytest.mark.monailabel

ROOT = Path(__file__).resolve().parents[2]
MODEL = "gu2net_ceph"
SETTINGS = {"image_size": [64, 80], "channels": [16, 32, 64, 128, 128]}


@pytest.fixture
def task(tmp_path, monkeypatch):
    data = generate_phantom_dataset(tmp_path / "data", "head", num_train=4, num_val=1, num_test=0, size=(96, 120))
    bundle = tmp_path / MODEL
    shutil.copytree(ROOT / "bundles" / MODEL / "configs", bundle / "configs")
    (bundle / "models").mkdir()
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # torchrun
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    task = LandmarkTrainTask(str(bundle), {}, SETTINGS)
    # the datastore's view: image files with landmarks JSON labels (the app's format)
    items = []
    for sample in load_datalist(data, split="train") + load_datalist(data, split="val"):
        label = tmp_path / "labels" / f"{sample['image_id']}.json"
        label.parent.mkdir(exist_ok=True)
        points = sample["landmarks"][0].tolist()
        label.write_text(json.dumps({"landmarks": [{"index": k, "x": x, "y": y} for k, (x, y) in enumerate(points)]}))
        items.append({"image": sample["image"], "label": str(label)})
    monkeypatch.setattr(BundleTrainTask, "_fetch_datalist", lambda self, request, datastore: items)
    return task


REQUEST = {"force_multi_gpu": True, "gpus": "0", "max_epochs": 1, "val_split": 0.2, "device": "cpu", "tracking": ""}


def test_the_bundle_alone_would_resume(task, monkeypatch):
    """The risk is real: the bundle's own trainer handlers include ResumeFromLatest; the app's merged ones do not."""
    commands = []
    monkeypatch.setattr(BundleTrainTask, "_run_command", lambda self, cmd, env: commands.append(cmd))
    task(dict(REQUEST), None)
    files = ast.literal_eval(commands[0][commands[0].index("--config_file") + 1])
    assert [Path(f).name for f in files] == ["monailabel_train.json", "multi_gpu_train.json"]
    bundle_only = ConfigParser()
    bundle_only.read_config(str(Path(task.bundle_path) / "configs" / "train.json"))
    assert RESUME in bundle_only["train#run_handlers"]
    merged = ConfigParser()
    merged.read_config(files)
    assert merged["run"] == bundle_only["run"]  # the bundle's one-line run
    assert RESUME not in merged["train#run_handlers"] and "@train#checkpoint_saver" in merged["train#run_handlers"]


def test_a_second_request_trains_again(task):
    checkpoint = Path(task.bundle_path) / "models" / "checkpoint_epoch=1.pt"
    report = Path(task.bundle_path) / "eval" / "validation" / "metrics.json"
    task(dict(REQUEST), None)
    assert checkpoint.is_file(), "the first multi-GPU request trained no epoch"
    assert report.is_file(), "the first multi-GPU request did not validate"  # the datalists reached it intact
    first = checkpoint.stat().st_mtime_ns, report.stat().st_mtime_ns
    task(dict(REQUEST), None)
    # an epoch ran and was validated again (a resumed finished run saves and validates nothing)
    assert checkpoint.stat().st_mtime_ns != first[0] and report.stat().st_mtime_ns != first[1]
