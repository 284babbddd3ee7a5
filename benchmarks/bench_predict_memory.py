"""Peak memory of ``monai-landmarks predict`` over 20 and 200 images: it must not grow with the folder.

Run (not part of the test suite; about a minute on two cores)::

    pytest benchmarks/bench_predict_memory.py --benchmark-enable -s

Each case runs the command in a fresh subprocess (htc_ceph at a quarter width, 64 x 80 input, random weights,
CPU, one thread) on a folder of 128 x 160 gray PNGs and reads the child's peak resident set size
(``ru_maxrss``). Not a timed test: the figure is the ratio of the peaks, recorded in ``extra_info`` with
the seed, commit, versions and device.
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
from pathlib import Path

import monai
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "htc_ceph"
SEED = 0
COUNTS = (20, 200)
SETTINGS = ["--set", "width_multiplier=0.25", "--set", "image_size=[64,80]", "--device", "cpu", "--quiet"]
_PEAKS: dict[int, float] = {}

# the child runs the command and prints its own peak RSS in MiB (Linux reports ru_maxrss in KiB)
CHILD = """
import resource, sys, torch
torch.set_num_threads(1)
from monai_landmarks.cli import main
code = main(sys.argv[1:])
print("PEAK_MIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
sys.exit(code)
"""


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict_memory")
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "inference.json"))
    parser["width_multiplier"] = 0.25
    torch.manual_seed(SEED)
    torch.save(parser.get_parsed_content("network_def").state_dict(), folder / "weights.pt")
    rng = np.random.default_rng(SEED)
    for n in COUNTS:
        images = folder / f"images_{n}"
        images.mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (160, 128), dtype=np.uint8)).save(images / f"img{i:03d}.png")
    return folder


def _peak_mib(inputs: Path, n: int) -> float:
    out = inputs / f"pred_{n}"
    argv = ["predict", str(BUNDLE), str(inputs / f"images_{n}"), "--weights", str(inputs / "weights.pt"),
            "--out", str(out), *SETTINGS]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list(out.glob("*.json"))) == n
    return float(done.stdout.split("PEAK_MIB")[-1])


@pytest.mark.parametrize("n", COUNTS)
def test_predict_peak_memory(benchmark, inputs, n):
    peak = benchmark.pedantic(_peak_mib, args=(inputs, n), rounds=1, iterations=1)
    _PEAKS[n] = peak
    benchmark.extra_info.update(
        images=n, peak_rss_mib=round(peak, 1), seed=SEED, commit=_commit(), torch=torch.__version__,
        monai=monai.__version__, python=platform.python_version(), device="cpu, 1 thread", machine=platform.machine(),
        self_peak_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )  # fmt: skip
    if len(_PEAKS) == len(COUNTS):
        ratio = _PEAKS[COUNTS[-1]] / _PEAKS[COUNTS[0]]
        benchmark.extra_info["ratio_to_20_images"] = round(ratio, 3)
        print(json.dumps({"peak_rss_mib": _PEAKS, "ratio_200_to_20": round(ratio, 3)}))
        assert ratio < 1.1, f"peak RSS grows with the number of images: {_PEAKS}"
