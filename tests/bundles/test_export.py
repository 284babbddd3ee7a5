"""Exports of every bundle's network through MONAI's bundle exporters: TorchScript in ckpt_export's default
(scripting) mode, and ONNX through onnx_export checked with onnxruntime (skipped where ONNX is not installed)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser

from monai_landmarks.bundle.export import export_bundle

ROOT = Path(__file__).resolve().parents[2]
# tiny networks at 64 x 80 (every bundle's real-data inference.json otherwise)
TINY = {
    "htc_ceph": {"width_multiplier": 0.25, "image_size": [64, 80]},
    "gu2net_ceph": {"channels": [8, 16, 16, 32, 32], "image_size": [64, 80]},
}


def _bundle(name, tmp_path, settings=None) -> tuple[Path, torch.nn.Module]:
    """A copy of the bundle with the tiny settings (``settings``, else its ``TINY`` entry) in its inference.json and
    random weights in models/model.pt."""
    bundle = tmp_path / name
    shutil.copytree(ROOT / "bundles" / name / "configs", bundle / "configs")
    inference = json.loads((bundle / "configs" / "inference.json").read_text())
    inference.update(TINY[name] if settings is None else settings)
    (bundle / "configs" / "inference.json").write_text(json.dumps(inference))
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    torch.manual_seed(0)
    net = parser.get_parsed_content("network_def").eval()
    (bundle / "models").mkdir()
    torch.save(net.state_dict(), bundle / "models" / "model.pt")
    return bundle, net


def _outputs(y) -> list[np.ndarray]:
    return [t.detach().numpy() for t in (y if isinstance(y, (tuple, list)) else (y,))]


@pytest.mark.parametrize("name", TINY)
def test_torchscript_export_in_script_mode(name, tmp_path):
    bundle, net = _bundle(name, tmp_path)
    out = export_bundle(bundle, bundle / "models" / "model.pt", bundle / "models" / "model.ts")
    extra = {"inference.json": "", "metadata.json": ""}
    scripted = torch.jit.load(str(out), _extra_files=extra)
    assert json.loads(extra["inference.json"])["image_size"] == [64, 80] and json.loads(extra["metadata.json"])
    x = torch.rand(1, 1, 64, 80)
    with torch.no_grad():
        for a, b in zip(_outputs(scripted(x)), _outputs(net(x)), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(FileExistsError, match="model.ts: exists"):
        export_bundle(bundle, bundle / "models" / "model.pt", out)


@pytest.mark.parametrize("name", TINY)
def test_onnx_export_matches_torch(name, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    bundle, net = _bundle(name, tmp_path)
    out = export_bundle(bundle, bundle / "models" / "model.pt", tmp_path / "model.onnx", format="onnx")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.rand(1, 1, 64, 80)
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        expected = _outputs(net(x))
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_a_universal_network_exports_the_domain_asked_for(tmp_path):
    """``--set domain=1`` exports the spine domain (68 landmarks); scripting the whole network would give domain 0."""
    tiny = {"channels": [8, 16, 16, 32, 32], "image_sizes": [[64, 80], [64, 80], [64, 80]]}
    bundle, net = _bundle("gu2net_universal", tmp_path, tiny)
    weights = bundle / "models" / "model.pt"
    x = torch.rand(1, 1, 64, 80)
    for domain, landmarks in ((1, 68), (0, 19)):
        out = export_bundle(bundle, weights, tmp_path / f"domain{domain}.ts", overrides={"domain": domain})
        with torch.no_grad():
            got, expected = torch.jit.load(str(out))(x), net.for_domain(domain)(x)
        assert got.shape[1] == landmarks
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match=r"domain must be an int in \[0, 3\), got 5"):
        export_bundle(bundle, weights, tmp_path / "domain5.ts", overrides={"domain": 5})
    assert not (tmp_path / "domain5.ts").exists()
