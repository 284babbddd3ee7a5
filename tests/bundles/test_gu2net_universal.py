"""The universal GU2Net bundle on tiny synthetic head and hand phantoms: train, resume, evaluate per domain, infer
with a chosen domain, metadata and export."""

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ckpt_export, verify_metadata, verify_net_in_out
from monai.bundle.scripts import run

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


def test_train_resume_evaluate_infer_export(domains, tmp_path):
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
    shutil.rmtree(root / "pred")
