"""Run a bundle's training with tiny settings, in this process or as a script, and record what it did.

As a script (the crash test runs it in a subprocess and kills it)::

    python _training.py OUT_JSON SETTINGS_JSON [PAUSE_EPOCH PAUSE_ITERATION]

With a pause point the run writes ``OUT_JSON + ".paused"`` after that iteration of that epoch and sleeps,
so the test can SIGKILL it mid-epoch at a known place.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import torch
from ignite.engine import Events
from monai.bundle import ConfigWorkflow

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
# 64 x 80 images, a quarter-width HTC, batches of 2: about a second per epoch on one CPU thread
TINY = {"image_size": [64, 80], "num_workers": 0, "network_def#width_multiplier": 0.25, "batch_size": 2}


def digest(tensor) -> str:
    return hashlib.sha1(torch.as_tensor(tensor).detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:12]


def train(bundle_root, data_root, epochs: int, seed: int = 0, bundle: str = "htc_ceph", hook=None) -> dict:
    """Train (or resume) ``bundle`` on ``data_root``; returns the batches seen and the resumed checkpoint.

    ``hook(engine)`` runs after every iteration (to pause or crash the run).
    """
    overrides = {**TINY, "bundle_root": str(bundle_root), "data_root": str(data_root)}
    overrides.update(max_epochs=epochs, seed=seed)
    configs = [str(BUNDLES / bundle / "configs" / f) for f in ("train.json", "synthetic.json")]
    workflow = ConfigWorkflow(config_file=configs, workflow_type="train", **overrides)
    workflow.initialize()
    trainer = workflow.parser.get_parsed_content("train#trainer")
    seen: list[dict] = []

    def record(engine):
        batch = engine.state.batch
        seen.append({"epoch": engine.state.epoch, "ids": list(batch["image_id"]), "image": digest(batch["image"])})
        if hook is not None:
            hook(engine)

    trainer.add_event_handler(Events.ITERATION_COMPLETED, record)
    workflow.run()
    resumed = workflow.parser.get_parsed_content("train#resume").resumed_from
    return {"batches": seen, "resumed_from": None if resumed is None else Path(resumed).name}


def outcome(bundle_root) -> dict:
    """What a finished run leaves: digests of the final and best weights, and the validation metrics table."""
    models = Path(bundle_root) / "models"
    checkpoints = sorted(models.glob("checkpoint_epoch=*.pt"))
    final = torch.load(checkpoints[-1], map_location="cpu", weights_only=False)["network"]
    best = torch.load(models / "model.pt", map_location="cpu")
    return {
        "checkpoint": checkpoints[-1].name,
        "final": {k: digest(v) for k, v in final.items()},
        "best": {k: digest(v) for k, v in best.items()},
        "metrics": (Path(bundle_root) / "eval" / "validation_metrics.csv").read_text(),
    }


def _pause_at(marker: Path, epoch: int, iteration: int):
    def hook(engine):
        in_epoch = (engine.state.iteration - 1) % engine.state.epoch_length + 1
        if engine.state.epoch == epoch and in_epoch == iteration:
            marker.write_text(f"{epoch} {iteration}\n")
            time.sleep(600)  # the test kills the process here

    return hook


def main(argv: list[str]) -> None:
    out, settings = Path(argv[0]), json.loads(argv[1])
    hook = _pause_at(Path(f"{out}.paused"), int(argv[2]), int(argv[3])) if len(argv) > 3 else None
    torch.set_num_threads(1)
    result = train(**settings, hook=hook)
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
