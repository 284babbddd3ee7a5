"""model-zoo's own CI on every bundle that ships weights: its requirement step and ``ci/verify_bundle.py`` in min and
full (CPU) mode, run unchanged from a copy of model-zoo's ``ci/`` at a pinned commit.

The copy lives in ``.model-zoo/`` (git-ignored), laid by ``.ci/model_zoo_ci MODEL_ZOO_GIT_DIR SCHEMA_JSON``; without
it these tests skip, saying so (CI machines reach PyPI only, not model-zoo's repository). Each bundle is copied into a
model-zoo layout (``models/<bundle>``, an empty ``models/model_info.json``: a new bundle version) with the metadata
schema as ``eval/schema.json``, where model-zoo's ``prepare_schema.py`` would have downloaded it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
COPY = ROOT / ".model-zoo"
MODEL_ZOO_COMMIT = "dfae206df112837d817e78d3727c9f32b3b52e82"  # as in .ci/model_zoo_ci
SHIPPED = sorted(p.parent.parent.name for p in (ROOT / "bundles").glob("*/models/model.pt"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    if not (COPY / "ci" / "verify_bundle.py").is_file():
        pytest.skip(f"{COPY}: no copy of model-zoo's ci/; lay one with .ci/model_zoo_ci (needs a model-zoo clone)")
    commit = (COPY / "COMMIT").read_text().strip()
    assert commit == MODEL_ZOO_COMMIT, f"{COPY} holds model-zoo {commit}, this test pins {MODEL_ZOO_COMMIT}"
    root = tmp_path_factory.mktemp("model-zoo")
    shutil.copytree(COPY / "ci", root / "ci")
    (root / "models").mkdir()
    (root / "models" / "model_info.json").write_text("{}")
    return root


def _zoo_run(zoo: Path, *args: str) -> str:
    """``python ci/<script> args`` from the model-zoo root, as its CI runs them, on this checkout's package."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, *args], cwd=zoo, env=env, capture_output=True, text=True, timeout=1800)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{output[-4000:]}"
    return output


def test_the_bundles_with_weights_are_the_ones_checked():
    assert {"htc_ceph", "gu2net_ceph"} <= set(SHIPPED), SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_model_zoo_requirements_and_verify_bundle_min_and_full(name, zoo):
    bundle = zoo / "models" / name
    shutil.copytree(ROOT / "bundles" / name, bundle, ignore=shutil.ignore_patterns("predictions", "eval"))
    (bundle / "eval").mkdir()
    shutil.copyfile(COPY / "meta_schema_20240725.json", bundle / "eval" / "schema.json")

    # the requirement step: what it would pip install is what this environment has (monai-landmarks included)
    listed = _zoo_run(zoo, "ci/get_bundle_requirements.py", "--b", name, "-p", "models").strip()
    requirements = [Requirement(line) for line in (zoo / listed).read_text().split()]
    assert "monai-landmarks" in {r.name for r in requirements}
    for req in requirements:
        have = metadata.version(req.name)
        assert req.specifier.contains(have, prereleases=True), f"{name}: {req} asked, {have} installed"

    out = _zoo_run(zoo, "ci/verify_bundle.py", "-b", name, "-p", "models", "-m", "min")
    assert "metadata format is verified correctly." in out
    out = _zoo_run(zoo, "ci/verify_bundle.py", "-b", name, "-p", "models", "-m", "full")
    for step in ("directory is verified correctly.", "data shape is verified correctly.",
                 "export weights into TorchScript module successfully."):  # fmt: skip
        assert step in out, f"{name}: no '{step}' in\n{out[-3000:]}"
    assert (bundle / "models" / "verify_model.ts").is_file()
