"""The network of the best validation score, saved whenever it improves; its score survives a resume.

:class:`SaveBestModel` keeps the network of the best validation score (lowest MRE by default) in
``model.pt``. Unlike a key-metric ``CheckpointSaver``, its best score is part of the training checkpoint, so a
resumed run never overwrites a better model with a worse one.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from monai.utils import min_version, optional_import

from monai_landmarks.utils.dist import is_main_process
from monai_landmarks.utils.io import atomic_torch_save

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")

__all__ = ["SaveBestModel"]


class SaveBestModel:
    """Save the network's weights to ``path`` whenever the evaluator's ``metric_name`` improves.

    Attach it to the evaluator; put it in the trainer's checkpoint ``save_dict`` (it has ``state_dict``) so the
    best score survives a resume.

    Args:
        path: where the best weights go (a plain ``state_dict``, as the model zoo's ``models/model.pt``).
        network: the network to save (a DDP wrapper is unwrapped).
        metric_name: the evaluator metric to watch.
        mode: ``"min"`` (errors such as MRE) or ``"max"`` (rates such as SDR).
        writer: ``writer(state_dict, path)`` writes the file, default a plain ``state_dict``; the cascade's refiner
            passes its ``RefinerSpec.save``, so the file records the settings the weights only work with.
    """

    def __init__(
        self, path, network: torch.nn.Module, metric_name: str, mode: str = "min", writer=atomic_torch_save
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be one of ('min', 'max'), got {mode!r}.")
        self.path = Path(path)
        self.network = network
        self.metric_name = metric_name
        self.mode = mode
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1
        self.writer = writer

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def _better(self, value: float) -> bool:
        return value < self.best if self.mode == "min" else value > self.best

    def __call__(self, engine) -> None:
        if self.metric_name not in engine.state.metrics:
            raise KeyError(
                f"SaveBestModel watches metric {self.metric_name!r}, but the evaluator computed "
                f"{sorted(engine.state.metrics)}."
            )
        value = float(engine.state.metrics[self.metric_name])
        if math.isnan(value) or not self._better(value):
            return
        self.best = value
        self.best_epoch = int(engine.state.epoch)  # MONAI evaluators run with the trainer's epoch
        network = getattr(self.network, "module", self.network)
        if is_main_process():
            state = network.state_dict()
            self.writer(state, self.path)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
