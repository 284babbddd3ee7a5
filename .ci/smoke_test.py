"""Smoke test of an installed monai-landmarks (wheel or sdist), run from outside the checkout by .ci/package_check.

    python smoke_test.py REPO_ROOT LABEL

Checks the installed copy (not the checkout) is imported, its metadata (version, license, typing marker, the
command), and runs the command-line predict with a shipped bundle on its sample images.
"""

import json
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

repo, label = Path(sys.argv[1]).resolve(), sys.argv[2]

import monai  # noqa: E402
import torch  # noqa: E402

import monai_landmarks  # noqa: E402
from monai_landmarks.networks import HTC  # noqa: E402

package = Path(monai_landmarks.__file__).resolve().parent
assert repo not in package.parents, f"{package}: the checkout was imported, not the installed {label}"
dist = metadata.distribution("monai-landmarks")
assert monai_landmarks.__version__ == dist.version, (monai_landmarks.__version__, dist.version)
assert dist.metadata["License-Expression"] == "Apache-2.0", dist.metadata["License-Expression"]
assert any(f.name == "LICENSE" for f in dist.files), "no LICENSE in the installed distribution"
assert (package / "py.typed").is_file(), "no py.typed marker"
with torch.no_grad():
    one = HTC(2, 1, 3, width_multiplier=0.125, single_output=True).eval()(torch.rand(1, 1, 32, 32))
assert one.shape == (1, 3, 16, 16), one.shape

bundle = repo / "bundles" / "gu2net_ceph"
with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "pred"
    cmd = ["monai-landmarks", "predict", str(bundle), str(bundle / "sample_images"), "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    records = sorted(out.glob("head*.png.json"))  # one <file name>.json per image
    results = [json.loads(p.read_text()) for p in records]
    assert len(results) == 3 and all(len(r["landmarks"]) == 19 for r in results), [p.name for p in records]
print(
    f"{label}: monai-landmarks {dist.version} (MONAI {monai.__version__}, torch {torch.__version__}) from {package}: "
    f"imports, metadata, py.typed, predict on {len(results)} sample images: ok"
)
