"""Model-zoo style smoke tests of every bundle on tiny synthetic phantoms in a temporary folder (CPU)."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ckpt_export, verify_metadata, verify_net_in_out
from monai.bundle.scripts import run
from PIL import Image

from monai_landmarks.data import generate_phantom_dataset
from tests.dicom_files import write_dicom

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "monai" / "meta_schema_20240725.json"
# bundle -> (phantom kind, landmarks, unit of its errors)
BUNDLES = {"htc_ceph": ("head", 19, "mm"), "gu2net_ceph": ("head", 19, "mm"), "htc_hand": ("hand", 37, "wrist"),
           "gu2net_spine": ("spine", 68, "px"), "gu2net_chest": ("chest", 166, "mm")}  # fmt: skip
# Small and quick: tiny images, one epoch, on top of each bundle's synthetic profile (HTC at a quarter width).
SMALL = {"image_size": [64, 80], "num_workers": 0}
NET = {"htc_ceph": {"width_multiplier": 0.25}, "gu2net_ceph": {}, "htc_hand": {"width_multiplier": 0.25},
       "gu2net_spine": {}, "gu2net_chest": {}}  # fmt: skip
# phantom sizes: spine films are tall (and vary round this size, as JPEG files)
PHANTOM_SIZE = {"head": (96, 120), "hand": (96, 120), "spine": (48, 130), "chest": (96, 96)}
REQUIRED = ["LICENSE", "configs/metadata.json", "configs/train.json", "configs/evaluate.json",
            "configs/inference.json", "configs/synthetic.json", "configs/logging.conf", "docs/README.md",
            "docs/data_license.txt"]  # fmt: skip


def _configs(name, *files):
    paths = [str(ROOT / "bundles" / name / "configs" / f) for f in files]
    return paths[0] if len(paths) == 1 else paths


@pytest.fixture(scope="module")
def phantom_sets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    kinds = sorted({kind for kind, _, _ in BUNDLES.values()})
    return {kind: generate_phantom_dataset(folder / kind, kind, 4, 2, 2, size=PHANTOM_SIZE[kind]) for kind in kinds}


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_files_and_metadata(name, tmp_path):
    for f in REQUIRED:
        assert (ROOT / "bundles" / name / f).is_file(), f
    if not SCHEMA.is_file():
        pytest.skip(f"no offline copy of the metadata schema at {SCHEMA}")
    schema = tmp_path / SCHEMA.name
    shutil.copy(SCHEMA, schema)
    verify_metadata(meta_file=_configs(name, "metadata.json"), filepath=str(schema))


@pytest.mark.parametrize("name", BUNDLES)
def test_network_matches_metadata(name):
    verify_net_in_out(
        net_id="network_def", meta_file=_configs(name, "metadata.json"), config_file=_configs(name, "inference.json"),
        device="cpu", n=4, **{f"network_def#{k}": v for k, v in NET[name].items()},
    )  # fmt: skip


def _tensorboard_tags(folder) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: dict = {"scalars": set(), "images": set()}
    for events in Path(folder).glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"images": 0, "scalars": 0})
        accumulator.Reload()
        for kind in tags:
            tags[kind].update(accumulator.Tags()[kind])
    return tags


@pytest.mark.parametrize("name", BUNDLES)
def test_train_resume_evaluate_infer_export(name, phantom_sets, tmp_path):
    kind, num_landmarks, unit = BUNDLES[name]
    phantoms = phantom_sets[kind]
    root = tmp_path / "run"
    common = {"bundle_root": str(root), "data_root": str(phantoms), **SMALL}
    synthetic = _configs(name, "train.json", "synthetic.json")
    run("training", config_file=synthetic, max_epochs=1, **common)
    assert (root / "models" / "checkpoint_epoch=1.pt").is_file() and (root / "models" / "model.pt").is_file()
    report = json.loads((root / "eval" / "validation" / "metrics.json").read_text())
    assert report["num_images"] == 2 and report["protocol"]["unit"] == unit
    assert list((root / "eval" / "validation" / "overlays").glob("*.png"))
    # the training loss and learning rate reach TensorBoard, and one validation picture per validation
    tags = _tensorboard_tags(root / "eval" / "logs")
    assert {"train_loss", "lr", "val_mre"} <= tags["scalars"] and "val_overlay" in tags["images"]

    # a restart with more epochs continues from the checkpoint instead of starting over
    run("training", config_file=synthetic, max_epochs=2, **common)
    with open(root / "eval" / "validation_metrics.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2]
    assert [p.name for p in (root / "models").glob("checkpoint_*.pt")] == ["checkpoint_epoch=2.pt"]

    # the run folder is a bundle: its own configs evaluate, predict and export with no overrides
    run_configs = [str(root / "configs" / "train.json"), str(root / "configs" / "evaluate.json")]
    run("evaluating", config_file=run_configs)
    test_report = json.loads((root / "eval" / "test" / "metrics.json").read_text())
    assert test_report["num_images"] == 2 and len(test_report["per_landmark"]) == num_landmarks

    images = sorted(str(p) for p in (phantoms / "images").iterdir())[:2]  # PNG, or JPEG for the spine
    inference = str(root / "configs" / "inference.json")
    # the same phantom as a DICOM with Imager Pixel Spacing (row \\ column): millimetres from the header
    dicom = write_dicom(
        root / "xray.dcm", np.asarray(Image.open(images[0])).astype(np.uint16), {"ImagerPixelSpacing": [0.3, 0.2]}
    )
    run("run", config_file=inference, input_files=[*images, str(dicom)], output_dir=str(root / "pred"))
    record = json.loads((root / "pred" / f"{Path(images[0]).name}.json").read_text())
    assert len(record["landmarks"]) == num_landmarks and "confidence" in record["landmarks"][0]
    assert (root / "pred" / f"{Path(images[0]).name}.png").is_file()
    with open(root / "pred" / "predictions.csv", newline="") as f:  # the run's long table
        assert len(list(csv.DictReader(f))) == 3 * num_landmarks
    from_dicom = json.loads((root / "pred" / "xray.dcm.json").read_text())
    assert from_dicom["spacing_mm"] == [0.2, 0.3] and from_dicom["spacing_source"].endswith("(0018,1164)")
    for a, b in zip(record["landmarks"], from_dicom["landmarks"], strict=True):  # same pixels, same landmarks
        assert abs(a["x"] - b["x"]) < 1e-3 and abs(a["y"] - b["y"]) < 1e-3 and b["x_mm"] == b["x"] * 0.2

    ts = root / "models" / "model.ts"
    # the zoo's default (script) mode for both networks; GU2Net scripts as its domain 0
    ckpt_export(
        net_id="network_def", filepath=str(ts), ckpt_file=str(root / "models" / "model.pt"),
        meta_file=str(root / "configs" / "metadata.json"), config_file=inference,
    )  # fmt: skip
    extra = {"inference.json": ""}
    exported = torch.jit.load(str(ts), _extra_files=extra).eval()
    assert json.loads(extra["inference.json"])["image_size"] == SMALL["image_size"]
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(inference)
    eager = parser.get_parsed_content("network_def")
    eager.load_state_dict(torch.load(root / "models" / "model.pt"))
    eager.eval()
    x = torch.rand(1, 1, 64, 80)
    with torch.no_grad():
        a, b = exported(x), eager(x)
    for p, q in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
        assert torch.allclose(p, q, atol=1e-5)
