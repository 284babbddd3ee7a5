"""The ONNX cascade (``export --format onnx_landmarks``) and its numpy + onnxruntime runner.

Each numpy step of ``monai_landmarks.onnx_runner`` is checked against the torch / MONAI step it reproduces; the
decoders are checked to export with dynamic sizes; the runner's landmarks are checked against ``predict``'s on the
shipped sample images (slow) and on ISBI 2015 images (datasets).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import dataset_path, linked_images  # tests/conftest.py: skips when the shared datasets are absent
from PIL import Image

from monai_landmarks import onnx_runner
from monai_landmarks.cli import main

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("gu2net_ceph", "htc_ceph")
TOLERANCE_PX = 0.05


class _Decode(torch.nn.Module):
    def __init__(self, name: str) -> None:
        super().__init__()
        from monai_landmarks.codecs import decoder_function

        self.fn = decoder_function(name)

    def forward(self, heatmaps):
        return self.fn(heatmaps, stride=2)


@pytest.mark.parametrize("name", ["argmax", "argmax_shift", "dark", "soft_argmax", "softmax"])
def test_every_decoder_exports_with_dynamic_sizes(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(_Decode(name), (torch.rand(1, 3, 40, 48),), str(path), dynamo=False, opset_version=17,
                          input_names=["h"], dynamic_axes={"h": {0: "b", 1: "k", 2: "w", 3: "h"}})  # fmt: skip
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(0)
    for shape in ((1, 3, 40, 48), (2, 4, 57, 33)):
        x = torch.rand(*shape, generator=g)
        x[0, 0, 0, 5] = x[0, 1, -1, -1] = x[-1, 2, 20, 0] = 3.0  # peaks on the borders: the windows are clipped
        got = session.run(None, {"h": x.numpy()})
        expected = _Decode(name)(x)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a, b.numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", [(256, 320), (97, 130), (600, 41)])
def test_bilinear_resize_and_zscore_equal_monai(size):
    from monai.transforms import NormalizeIntensity, Resize

    image = np.random.default_rng(1).integers(0, 256, (301, 377)).astype(np.float32)
    expected = NormalizeIntensity()(Resize(size, mode="bilinear")(torch.as_tensor(image)[None]))[0].numpy()
    got = onnx_runner.zscore(onnx_runner.bilinear_resize(image, size))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("spacing", [0.2, 0.1, 0.07])
def test_patches_equal_extract_patches(spacing):
    """Box mean (factor 1, 2 and 2 + bilinear), bilinear sampling and zero padding near the borders."""
    from monai_landmarks.transforms.patches import extract_patches

    image = np.random.default_rng(2).normal(size=(211, 173)).astype(np.float32)
    centres = np.array([[3.2, 4.7], [100.5, 80.25], [209.0, 170.9], [-5.0, 60.0]])
    step = 0.2 / spacing
    expected, matrices = extract_patches(torch.as_tensor(image)[None], torch.as_tensor(centres), 16, step)
    factor = max(1, int(np.floor(step + 1e-6)))
    origins = (centres + 0.5) / factor - 0.5 - step / factor * 7.5
    got = onnx_runner.sample_patches(onnx_runner.box_downsample(image, factor), origins, np.full(2, step / factor), 16)
    # float32 rounding of the sample positions (torch's vectorised grid_sample orders its operations otherwise)
    np.testing.assert_allclose(got, expected[:, 0].numpy(), rtol=0, atol=2e-4)
    np.testing.assert_allclose(factor * origins + (factor - 1) / 2, matrices[:, :2, 2].numpy(), atol=1e-9)


def test_gray_equals_the_reader():
    from monai_landmarks.data.image_reader import rgb_to_gray

    rgb = np.random.default_rng(3).integers(0, 256, (5, 7, 3)).astype(np.uint8)
    np.testing.assert_array_equal(onnx_runner.to_gray(rgb), rgb_to_gray(rgb))
    gray = np.repeat(rgb[..., :1], 3, axis=2)
    np.testing.assert_array_equal(onnx_runner.to_gray(gray), rgb[..., 0])


def test_tiny_bundle_exports_names_axes_and_metadata(tmp_path):
    """A random-weight tiny HTC bundle (flip test, two levels): the graph equals the torch module at other batch
    sizes and image sizes, and the metadata say what the runner needs."""
    from test_export import _bundle

    from monai_landmarks.bundle.large_files import file_sha256
    from monai_landmarks.bundle.onnx_landmarks import CoarseLandmarks, export_landmarks_onnx

    bundle, net = _bundle("htc_ceph", tmp_path)
    weights = bundle / "models" / "model.pt"
    files = export_landmarks_onnx(bundle, weights, tmp_path / "onnx")
    assert [f.name for f in files] == ["coarse.onnx"]  # no refiner weights in the copy
    session = ort.InferenceSession(str(files[0]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["landmarks", "confidence"]
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
    assert meta["input_size"] == [64, 80] and meta["strides"] == [4, 2] and meta["flip_test"] is True
    assert meta["weights_sha256"] == file_sha256(weights) and len(meta["landmark_names"]) == 19
    assert meta["bundle_version"] == json.loads((bundle / "configs" / "metadata.json").read_text())["version"]
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    net = net.with_single_output(False)  # network_def gives model-zoo one level; predict decodes both
    module = CoarseLandmarks(net.eval(), parser.get_parsed_content("codec"), parser.get_parsed_content("inferer"))
    for shape in ((1, 1, 64, 80), (2, 1, 96, 64)):
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(shape[0]))
        points, confidence = session.run(None, {"image": x.numpy()})
        with torch.no_grad():
            expected = module(x)
        assert points.shape == (shape[0], 19, 2)
        np.testing.assert_allclose(points, expected[0].numpy(), rtol=0, atol=1e-3)
        np.testing.assert_allclose(confidence, expected[1].numpy(), rtol=0, atol=1e-4)
    with pytest.raises(FileExistsError, match="coarse.onnx: exists"):
        export_landmarks_onnx(bundle, weights, tmp_path / "onnx")


def test_a_preprocessing_the_runner_cannot_reproduce_is_refused(tmp_path):
    from test_export import _bundle

    from monai_landmarks.bundle.onnx_landmarks import export_landmarks_onnx

    bundle, _ = _bundle("gu2net_ceph", tmp_path)
    with pytest.raises(ValueError, match="LandmarkResized: .*anti-aliasing"):
        export_landmarks_onnx(bundle, bundle / "models" / "model.pt", tmp_path / "onnx",
                              {"resize_anti_aliasing": True})  # fmt: skip
    assert not (tmp_path / "onnx" / "coarse.onnx").exists()


def test_runner_bad_input_names_the_problem(tmp_path, capsys):
    assert onnx_runner.main([str(tmp_path / "nothing"), "x.png"]) == 1
    assert "nothing/coarse.onnx: not found" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"expected a 2D image .* got shape \(2, 3, 4, 5\)"):
        onnx_runner.to_gray(np.zeros((2, 3, 4, 5)))


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """Both shipped bundles exported through the command line, once."""
    folders = {}
    for bundle in SHIPPED:
        folder = tmp_path_factory.mktemp("onnx") / bundle
        assert main(["export", str(ROOT / "bundles" / bundle), "--format", "onnx_landmarks", "--out", str(folder)]) == 0
        folders[bundle] = folder
    return folders


def _predicted(bundle: str, images: Path, out: Path, spacing: str | None = None) -> dict[str, np.ndarray]:
    extra = ["--spacing", spacing] if spacing else []
    assert main(["predict", str(ROOT / "bundles" / bundle), str(images), "--out", str(out), "--quiet",
                 "--device", "cpu", *extra]) == 0  # fmt: skip
    points = {}
    for f in images.iterdir():
        record = json.loads((out / f"{f.name}.json").read_text())
        points[f.name] = np.array([[p["x"], p["y"]] for p in record["landmarks"]])
    return points


@pytest.mark.slow
@pytest.mark.parametrize("bundle", SHIPPED)
def test_runner_reproduces_predict_on_the_sample_images(bundle, exported, tmp_path):
    images = ROOT / "bundles" / bundle / "sample_images"
    expected = _predicted(bundle, images, tmp_path / "out")
    detector = onnx_runner.OnnxLandmarkDetector(exported[bundle])
    for name, points in expected.items():
        got, confidence = detector(np.asarray(Image.open(images / name)))
        assert got.shape == (19, 2) and confidence.shape == (19,)
        assert np.abs(got - points).max() <= TOLERANCE_PX, (name, np.abs(got - points).max())  # measured: 1.2e-4
    with pytest.raises(ValueError, match="spacing must be positive"):
        detector(np.asarray(Image.open(images / name)), spacing=-0.1)


@pytest.mark.slow
def test_runner_imports_neither_torch_nor_monai(exported, tmp_path):
    """The runner as a user without torch runs it: torch and monai blocked, the command line on a .npy array."""
    image = ROOT / "bundles" / "gu2net_ceph" / "sample_images" / "head0002.png"
    np.save(tmp_path / "x.npy", np.asarray(Image.open(image)))
    block = "import sys; sys.modules.update(torch=None, monai=None); import runpy; sys.argv = sys.argv[1:]; "
    block += "runpy.run_path(sys.argv[0], run_name='__main__')"
    runner = ROOT / "monai_landmarks" / "onnx_runner.py"
    command = [sys.executable, "-c", block, str(runner), str(exported["gu2net_ceph"]), str(tmp_path / "x.npy")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.splitlines()[0])
    got = np.array([[p["x"], p["y"]] for p in record["landmarks"]])
    expected, _ = onnx_runner.OnnxLandmarkDetector(exported["gu2net_ceph"])(np.asarray(Image.open(image)))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


@pytest.mark.slow
@pytest.mark.datasets
@pytest.mark.parametrize("bundle", SHIPPED)
def test_runner_reproduces_predict_on_isbi_images(bundle, exported, tmp_path):
    from monai_landmarks.data import load_datalist

    root = dataset_path("isbi2015_ceph")
    items = load_datalist(root, split="test1")[:4]
    images = linked_images(items, tmp_path / "images")
    expected = _predicted(bundle, images, tmp_path / "out", spacing="0.2")
    detector = onnx_runner.OnnxLandmarkDetector(exported[bundle])
    for name, points in expected.items():
        got, _ = detector(np.asarray(Image.open(images / name)), spacing=0.2)
        assert np.abs(got - points).max() <= TOLERANCE_PX, (name, np.abs(got - points).max())
