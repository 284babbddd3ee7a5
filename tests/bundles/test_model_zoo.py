"""The checks of model-zoo's ``ci/verify_bundle.py`` that apply offline, run on every bundle.

Directory (LICENSE, metadata, README, inference config, large-file list), version and changelog, README sections
of the zoo's template, the sample images inference reads by default, the network's input/output shapes against
the metadata (``verify_net_in_out`` with the zoo's arguments) and TorchScript export in the zoo's default
(scripting) mode. Large files listed in ``large_files.yml`` are checked for size and hash where present; once a
bundle lists trained weights its ``eval_metrics`` must hold measured values.
"""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ckpt_export, verify_net_in_out

from monai_landmarks.data import image_files
from monai_landmarks.data.image_reader import read_image

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted(p.name for p in (ROOT / "bundles").iterdir() if (p / "configs").is_dir())
SECTIONS = ("Commands", "Data", "Performance", "System configuration", "Limitations", "Citation")


def _large_files(bundle: Path) -> list[dict]:
    yaml = pytest.importorskip("yaml")
    listed = yaml.safe_load((bundle / "large_files.yml").read_text())
    assert isinstance(listed, dict) and isinstance(listed.get("large_files"), list), "large_files: a list"
    return listed["large_files"]


@pytest.mark.parametrize("name", BUNDLES)
def test_directory_version_readme_and_samples(name):
    bundle = ROOT / "bundles" / name
    for f in ("LICENSE", "configs/metadata.json", "configs/inference.json", "docs/README.md", "large_files.yml"):
        assert (bundle / f).is_file(), f
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    assert meta["version"] in meta["changelog"]
    headings = [line[3:] for line in (bundle / "docs" / "README.md").read_text().splitlines() if line.startswith("## ")]
    for section in SECTIONS:
        assert any(h.startswith(section) for h in headings), f"README has no '{section}' section: {headings}"
    samples = image_files(bundle / "sample_images")
    assert len(samples) == 3 and all(read_image(f)[0].ndim == 2 for f in samples)


def _check_entry(bundle: Path, entry: dict) -> None:
    """One large file: the zoo's keys, and the size and hash of the file where it is present."""
    assert {"path", "url", "hash_val", "hash_type"} <= set(entry), entry
    path = bundle / entry["path"]
    if not path.is_file():
        return  # to be downloaded; the zoo fetches it from the url
    if "size" in entry:
        assert path.stat().st_size == int(entry["size"]), f"{entry['path']}: size {path.stat().st_size}"
    digest = hashlib.new(entry["hash_type"], path.read_bytes()).hexdigest()
    assert digest == entry["hash_val"], f"{entry['path']}: {entry['hash_type']} {digest} != {entry['hash_val']}"


def test_large_file_check_catches_a_wrong_file(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.pt").write_bytes(b"weights")
    good = {"path": "models/model.pt", "url": "u", "hash_type": "sha256", "size": 7,
            "hash_val": hashlib.sha256(b"weights").hexdigest()}  # fmt: skip
    _check_entry(tmp_path, good)
    for bad in ({"size": 8}, {"hash_val": "0" * 64}):
        with pytest.raises(AssertionError):
            _check_entry(tmp_path, {**good, **bad})
    with pytest.raises(AssertionError):
        _check_entry(tmp_path, {"path": "models/model.pt"})


@pytest.mark.parametrize("name", BUNDLES)
def test_large_files_and_eval_metrics(name):
    bundle = ROOT / "bundles" / name
    entries = _large_files(bundle)
    for entry in entries:
        _check_entry(bundle, entry)
    if any(e["path"] == "models/model.pt" for e in entries):
        metrics = json.loads((bundle / "configs" / "metadata.json").read_text())["eval_metrics"]
        assert metrics and all(isinstance(v, (int, float)) for v in metrics.values()), metrics


@pytest.mark.parametrize("name", BUNDLES)
def test_network_shapes_as_the_zoo_checks_them(name):
    bundle = ROOT / "bundles" / name
    verify_net_in_out(
        net_id="network_def", meta_file=str(bundle / "configs" / "metadata.json"),
        config_file=str(bundle / "configs" / "inference.json"), bundle_root=str(bundle), device="cpu",
    )  # fmt: skip


@pytest.mark.parametrize("name", BUNDLES)
def test_torchscript_export_as_the_zoo_runs_it(name, tmp_path):
    """``ckpt_export`` with the zoo's arguments (script mode, the bundle's own config) on the shipped weights, or
    on the network's initial weights where none are shipped yet."""
    source = ROOT / "bundles" / name
    bundle = tmp_path / name
    shutil.copytree(source / "configs", bundle / "configs")
    (bundle / "models").mkdir()
    if (source / "models" / "model.pt").is_file():
        shutil.copy(source / "models" / "model.pt", bundle / "models" / "model.pt")
    else:
        parser = ConfigParser()
        parser.read_config(str(bundle / "configs" / "inference.json"))
        torch.save(parser.get_parsed_content("network_def").state_dict(), bundle / "models" / "model.pt")
    ckpt_export(
        net_id="network_def", filepath=str(bundle / "models" / "verify_model.ts"),
        ckpt_file=str(bundle / "models" / "model.pt"), meta_file=str(bundle / "configs" / "metadata.json"),
        config_file=str(bundle / "configs" / "inference.json"), bundle_root=str(bundle),
    )  # fmt: skip
    scripted = torch.jit.load(str(bundle / "models" / "verify_model.ts"))
    assert isinstance(scripted, torch.jit.ScriptModule)


@pytest.mark.parametrize("name", [n for n in BUNDLES if n.startswith("htc")])
def test_htc_network_def_is_the_finest_level_of_the_inference_network(name):
    """model-zoo runs ``network_def`` (one tensor); inference runs ``network``: every level, the same parameters."""
    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundles" / name / "configs" / "inference.json"))
    parser["device"] = "cpu"
    one, levels = parser.get_parsed_content("network_def"), parser.get_parsed_content("network")
    assert one.state_dict().keys() == levels.state_dict().keys()
    assert all(a is b for a, b in zip(one.parameters(), levels.parameters(), strict=True))
    x = torch.rand(1, 1, 64, 80)
    with torch.no_grad():
        finest, both = one.eval()(x), levels.eval()(x)
    assert isinstance(finest, torch.Tensor) and len(both) == 2 and torch.equal(finest, both[-1])


def test_model_zoo_names_and_landmark_names():
    """Each bundle has model-zoo's style of name (anatomy_modality[_network]_task), and a name for every landmark."""
    names = {}
    for name in BUNDLES:
        configs = ROOT / "bundles" / name / "configs"
        meta = json.loads((configs / "metadata.json").read_text())
        names[name] = zoo = meta["model_zoo_name"]
        assert zoo.endswith("_xray_" + name.split("_")[0] + "_landmarks") and zoo == zoo.lower(), zoo
        parser = ConfigParser()
        parser.read_config(str(configs / "inference.json"))
        domains = parser.get_parsed_content("domain_landmark_names") if "domain_landmark_names" in parser else None
        for landmarks in domains or [parser.get_parsed_content("landmark_names")]:
            assert isinstance(landmarks, list) and len(set(landmarks)) == len(landmarks) > 0, (name, landmarks)
            assert all(isinstance(n, str) and n for n in landmarks), name
        channel_def = meta["network_data_format"]["outputs"]["pred"]["channel_def"]
        assert len(channel_def) == meta["network_data_format"]["outputs"]["pred"]["num_channels"]
        if domains is None:
            assert list(channel_def.values()) == landmarks, f"{name}: metadata channel_def differs from inference"
    assert len(set(names.values())) == len(names), names
