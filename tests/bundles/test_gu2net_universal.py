"""The universal GU2Net bundle on tiny synthetic head and hand phantoms: train, resume, evaluate per domain, infer
with a chosen domain, metadata and export; and its real-data profile on small copies of the three real datasets
(cephalograms, spine, chest: one tiny training step, per-domain evaluation and inference)."""

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import dataset_path  # tests/conftest.py: skips when the shared datasets are absent
from monai.bundle import ConfigParser, ckpt_export, verify_metadata, verify_net_in_out
from monai.bundle.scripts import run
from PIL import Image

from monai_landmarks.cli import main
from monai_landmarks.data import generate_phantom_dataset

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "gu2net_universal" / "configs"
SCHEMA = ROOT.parent / "shared" / "monai" / "meta_schema_20240725.json"
CHANNELS = [8, 16, 16, 32, 32]  # tiny, to keep the test quick
SMALL = {"image_sizes": [[64, 80], [64, 80]], "channels": CHANNELS, "num_workers": 0}


def _config(*names):
    paths = [str(CONFIGS / n) for n in names]
    return paths[0] if len(paths) == 1 else paths


@pytest.fixture(scope="module")
def domains(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return [str(generate_phantom_dataset(folder / k, k, 4, 2, 2, size=(96, 120))) for k in ("head", "hand")]


def test_metadata_and_network():
    if SCHEMA.is_file():
        verify_metadata(meta_file=_config("metadata.json"), filepath=str(SCHEMA))
    verify_net_in_out(net_id="network_def", meta_file=_config("metadata.json"), config_file=_config("inference.json"),
                      device="cpu", n=2, **{"network_def#channels": CHANNELS})  # fmt: skip


def test_train_resume_evaluate_infer_export(domains, tmp_path, capsys):
    root = tmp_path / "run"
    common = {"bundle_root": str(root), "domain_roots": domains, **SMALL}
    run("training", config_file=_config("train.json", "synthetic.json"), max_epochs=1, **common)
    names = ["synthetic_head", "synthetic_hand"]
    for name, unit, k in zip(names, ("mm", "wrist"), (19, 37), strict=True):
        report = json.loads((root / "eval" / "validation" / name / "metrics.json").read_text())
        assert report["num_images"] == 2 and report["protocol"]["unit"] == unit and len(report["per_landmark"]) == k
    with open(root / "eval" / "validation_metrics.csv") as f:
        row = next(csv.DictReader(f))
    per_domain = [float(row[f"val_mre_{n}"]) for n in names]
    assert float(row["val_mre"]) == pytest.approx(sum(per_domain) / 2, abs=1e-3)  # model selection: mean over domains

    run("training", config_file=_config("train.json", "synthetic.json"), max_epochs=2, **common)
    with open(root / "eval" / "validation_metrics.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2]

    # the run folder is a bundle: its own configs evaluate, predict and export with no overrides
    run_configs = root / "configs"
    run("evaluating", config_file=[str(run_configs / "train.json"), str(run_configs / "evaluate.json")])
    for name in names:
        assert json.loads((root / "eval" / "test" / name / "metrics.json").read_text())["num_images"] == 2

    hand_images = sorted(str(p) for p in (Path(domains[1]) / "images").glob("*.png"))[:1]
    inference = str(run_configs / "inference.json")
    run("run", config_file=inference, input_files=hand_images, output_dir=str(root / "pred"), domain=1)
    record = json.loads((root / "pred" / f"{Path(hand_images[0]).name}.json").read_text())
    assert len(record["landmarks"]) == 37 and record["landmarks"][0]["name"] == "ulnar styloid tip"

    # the package's predict serves any domain with --set domain=D (its weights check takes the whole network)
    assert main(["predict", str(root), *hand_images, "--out", str(root / "pred_cli"), "--set", "domain=1",
                 "--quiet"]) == 0  # fmt: skip
    cli_record = json.loads((root / "pred_cli" / f"{Path(hand_images[0]).name}.json").read_text())
    assert [p["x"] for p in cli_record["landmarks"]] == pytest.approx([p["x"] for p in record["landmarks"]], abs=1e-3)
    assert main(["predict", str(root), *hand_images, "--out", str(root / "pred_bad"), "--set", "domain=2"]) == 1
    assert "domain must be an int" in capsys.readouterr().err

    # export in the zoo's default (script) mode: domain 0; equal to eager mode
    ts = root / "models" / "model.ts"
    ckpt_export(net_id="network_def", filepath=str(ts), ckpt_file=str(root / "models" / "model.pt"),
                meta_file=str(run_configs / "metadata.json"), config_file=inference)  # fmt: skip
    parser = ConfigParser()
    parser.read_config(inference)
    eager = parser.get_parsed_content("network_def")
    eager.load_state_dict(torch.load(root / "models" / "model.pt"))
    x = torch.rand(1, 1, 64, 80)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(ts))(x), eager.eval()(x, 0), atol=1e-5)
    for folder in ("pred", "pred_cli"):
        shutil.rmtree(root / folder)


# the real-data profile: ceph (mm), spine (px, aspect kept), chest (mm), in this order
REAL = ("isbi2015_ceph", "aasce_spine", "jsrt_chest")
REAL_SMALL = {"image_sizes": [[64, 80], [48, 128], [64, 64]], "channels": CHANNELS, "global_channels": [8, 8, 8],
              "num_workers": 0, "batch_size": 2, "num_val": [2, 2, 2]}  # fmt: skip


def _small_copy(source: Path, target: Path, num_train: int = 5, num_test: int = 2) -> Path:
    """The first ``num_train`` train and ``num_test`` test1 images of a dataset folder, copied with their rows."""
    with open(source / "landmarks.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    keep = {}
    for split, count in (("train", num_train), ("test1", num_test)):
        ids = list(dict.fromkeys(r["image_id"] for r in rows if r["split"] == split))[:count]
        keep.update(dict.fromkeys(ids, split))
    rows = [r for r in rows if r["image_id"] in keep]
    (target / "images").mkdir(parents=True)
    for file in {r["file"] for r in rows}:
        shutil.copy(source / file, target / file)
    with open(target / "landmarks.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    meta = json.loads((source / "dataset.json").read_text())
    meta["splits"] = {"train": num_train, "test1": num_test}
    if "image_ids" in meta:
        meta["image_ids"] = list(keep)
    (target / "dataset.json").write_text(json.dumps(meta))
    return target


@pytest.mark.datasets
def test_real_data_profile_trains_evaluates_and_predicts_every_domain(tmp_path):
    dirs = [str(_small_copy(dataset_path(name), tmp_path / "data" / name)) for name in REAL]
    root = tmp_path / "run"
    # dataset_dirs as the training command gives them; nothing else of the real profile is changed but its size
    common = {"bundle_root": str(root), "dataset_dirs": dirs, **REAL_SMALL}
    run("training", config_file=_config("train.json"), max_epochs=1, val_interval=1, **common)

    units = {"isbi2015_ceph": "mm", "aasce_spine": "px", "jsrt_chest": "mm"}
    counts = {"isbi2015_ceph": 19, "aasce_spine": 68, "jsrt_chest": 166}
    for name in REAL:
        report = json.loads((root / "eval" / "validation" / name / "metrics.json").read_text())
        assert report["num_images"] == 2 and report["protocol"]["unit"] == units[name]
        assert len(report["per_landmark"]) == counts[name]
    with open(root / "eval" / "validation_metrics.csv") as f:
        row = next(csv.DictReader(f))
    per_domain = [float(row[f"val_mre_{n}"]) for n in REAL]
    # model selection: the geometric mean (unit-free ranking); the arithmetic mean is reported beside it
    assert float(row["val_gmean_mre"]) == pytest.approx(math.prod(per_domain) ** (1 / 3), rel=1e-4)
    assert float(row["val_mre"]) == pytest.approx(sum(per_domain) / 3, rel=1e-4)
    network = torch.load(root / "models" / "model.pt")
    assert network["global_in.1.weight"].shape[0] == 4  # per-domain global width (8 // 2), the spine's

    run_configs = root / "configs"
    run("evaluating", config_file=[str(run_configs / "train.json"), str(run_configs / "evaluate.json")])
    for name in REAL:
        assert json.loads((root / "eval" / "test" / name / "metrics.json").read_text())["num_images"] == 2

    # predict any domain with the run folder's inference config: original-image pixels, the dataset's names
    for domain in range(len(REAL)):
        image = sorted((Path(dirs[domain]) / "images").iterdir())[0]
        out = root / f"pred_{domain}"
        run("run", config_file=str(run_configs / "inference.json"), input_files=[str(image)], output_dir=str(out),
            domain=domain)  # fmt: skip
        record = json.loads((out / f"{image.name}.json").read_text())
        names = json.loads((Path(dirs[domain]) / "dataset.json").read_text())["landmark_names"]
        assert [p["name"] for p in record["landmarks"]] == names
        xy = np.array([[p["x"], p["y"]] for p in record["landmarks"]], dtype=float)
        # inside the network's input frame mapped back to the image (the spine's is padded left and right, and an
        # untrained network may answer in the padding): half the frame around the image centre, in image pixels
        size = np.array(Image.open(image).size, dtype=float)
        frame = np.array(REAL_SMALL["image_sizes"][domain], dtype=float)
        half = frame / (frame / size).min() / 2 if domain == 1 else size / 2
        assert np.isfinite(xy).all() and (np.abs(xy - (size - 1) / 2) <= half + 1e-3).all()
