"""`multi_gpu_train.json` under torchrun: two CPU processes on gloo, checked against a single process.

What must agree: every sample is trained on once per epoch (the ranks split each step's batches), the
validation report covers every validation image once (gathered across ranks, none repeated), and the MRE the
distributed run reports equals the MRE a single process measures with the saved weights on the same images.
The head run starts from a fresh run folder, as the documented command does: both ranks ask for the phantoms,
one generates them and the other waits and reuses them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle.scripts import run

from monai_landmarks.data import generate_phantom_dataset

ROOT = Path(__file__).resolve().parents[2]
TINY = [8, 16, 16, 32, 32]
# the synthetic profile's phantom_dataset call, with a small set: generated into the fresh run folder by the ranks
FRESH_PHANTOMS = (
    "$monai_landmarks.data.datalists.phantom_dataset('head', cache_dir=@synthetic_dir, num_train=8, num_val=4, "
    "num_test=2, size=[64, 80])"
)
BUNDLES = {
    "gu2net_ceph": {"data_root": FRESH_PHANTOMS, "channels": TINY, "image_size": [64, 80]},
    "gu2net_universal": {"domain_roots": None, "channels": TINY, "image_sizes": [[64, 80], [64, 80]]},
}


# the synthetic profile of each bundle, under the config file run
PROFILE = ["train.json", "synthetic.json"]


def _configs(name, *files):
    return [str(ROOT / "bundles" / name / "configs" / f) for f in (*PROFILE, *files)]


def _cli_value(value) -> str:
    return json.dumps(value) if isinstance(value, list) else str(value)


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return {k: str(generate_phantom_dataset(folder / k, k, 8, 4, 2, size=(64, 80))) for k in ("head", "hand")}


@pytest.mark.parametrize("name", BUNDLES)
def test_two_gloo_ranks_match_one_process(name, phantoms, tmp_path):
    overrides = dict(BUNDLES[name])
    if "domain_roots" in overrides:
        overrides["domain_roots"] = [phantoms["head"], phantoms["hand"]]
    overrides.update(bundle_root=str(tmp_path / "run"), max_epochs=1, batch_size=2, num_workers=0)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "monai.bundle", "run", "training", "--config_file", json.dumps(_configs(name,
           "multi_gpu_train.json"))]  # fmt: skip
    for key, value in overrides.items():
        cmd += [f"--{key}", _cli_value(value)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    if name == "gu2net_ceph":  # generated once, by one rank, and its lock released
        data = tmp_path / "run" / "data"
        assert sorted(p.name for p in data.iterdir()) == ["synthetic_head_seed0"], sorted(data.iterdir())

    models = tmp_path / "run" / "models"
    checkpoint = torch.load(models / "checkpoint_epoch=1.pt", weights_only=False)
    num_train = 8 * (2 if name == "gu2net_universal" else 1)
    assert checkpoint["trainer"]["iteration"] == num_train // (2 * 2)  # each step: one batch of 2 on each rank

    reports = sorted((tmp_path / "run" / "eval" / "validation").rglob("metrics.json"))
    assert reports and all(json.loads(r.read_text())["num_images"] == 4 for r in reports)

    # the saved weights, evaluated by a single process on the same validation images, give the same errors
    single = {k: v for k, v in overrides.items() if k not in ("max_epochs", "batch_size")}
    split = {"eval_splits": ["val", "val"], "eval_name": "val"} if "domain_roots" in single else {"eval_split": "val"}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the ranks ran (OMP_NUM_THREADS=1): other thread counts round convolutions otherwise
    try:
        run("evaluating", config_file=_configs(name, "evaluate.json"), **single, **split)
    finally:
        torch.set_num_threads(threads)
    again = sorted((tmp_path / "run" / "eval" / "val").rglob("metrics.json"))
    assert len(again) == len(reports)
    for a, b in zip(reports, again, strict=True):
        assert json.loads(b.read_text())["mre"] == pytest.approx(json.loads(a.read_text())["mre"], rel=1e-5)
