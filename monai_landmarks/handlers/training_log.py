"""What a training run shows while it runs: loss and learning rate (console, progress bar, TensorBoard) and one
validation picture per validation in TensorBoard.

MONAI's ``from_engine(["loss"], first=True)`` returns a 1-tuple on a non-decollating trainer, which
``StatsHandler`` and ``TensorBoardStatsHandler`` skip as "non-scalar"; :class:`LossAndLearningRate` returns
the dict of scalars both handlers (and Ignite's progress bar) log by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from monai.utils import min_version, optional_import

from monai_landmarks.handlers.engine_output import engine_samples
from monai_landmarks.utils.dist import is_main_process
from monai_landmarks.utils.keys import Keys

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")
ProgressBar, _ = optional_import("ignite.handlers", "0.4.4", min_version, "ProgressBar")
SummaryWriter, _ = optional_import("torch.utils.tensorboard", name="SummaryWriter")

__all__ = ["LossAndLearningRate", "TrainingProgressBar", "ValidationOverlayTensorBoard"]


class LossAndLearningRate:
    """``output_transform`` of the training loggers: ``{"train_loss": loss, "lr": learning rate}``.

    Args:
        optimizer: the trained optimizer; its first parameter group's learning rate is reported.
        loss_key: the key of the loss in the trainer's output (a dict, or a decollated list of dicts).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, loss_key: str = "loss") -> None:
        self.optimizer = optimizer
        self.loss_key = loss_key

    def __call__(self, output) -> dict[str, float]:
        first = output if isinstance(output, Mapping) else output[0]
        loss = first[self.loss_key]
        value = loss.item() if isinstance(loss, torch.Tensor) else float(loss)
        return {"train_loss": value, "lr": float(self.optimizer.param_groups[0]["lr"])}


class TrainingProgressBar(ProgressBar):
    """Ignite's progress bar showing the loss and learning rate of each iteration.

    Args:
        output_transform: what to show, usually :class:`LossAndLearningRate`.
        kwargs: passed to :class:`ignite.handlers.ProgressBar`.
    """

    def __init__(self, output_transform, **kwargs) -> None:
        super().__init__(**kwargs)
        self.output_transform = output_transform

    def attach(self, engine, metric_names=None, output_transform=None, **kwargs) -> None:  # type: ignore[override]
        super().attach(engine, metric_names, output_transform or self.output_transform, **kwargs)


class ValidationOverlayTensorBoard:
    """Write one picture per validation to TensorBoard: the first validation image with its ground truth
    (green) and prediction (red), in original-image pixels, tagged ``val_overlay`` at the trainer's epoch.

    Args:
        log_dir: the TensorBoard folder (the training's).
        trainer: the trainer whose epoch is the picture's step; None to count validations.
        pred_key, label_key: sample keys of the prediction and the ground truth.
    """

    def __init__(
        self, log_dir, trainer=None, pred_key: str = Keys.PRED_LANDMARKS, label_key: str = Keys.LANDMARKS
    ) -> None:
        self.log_dir = str(log_dir)
        self.trainer = trainer
        self.keys = (pred_key, label_key)
        self.sample: dict | None = None
        self.count = 0
        self.writer = None

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._keep_first)
        engine.add_event_handler(Events.COMPLETED, self.write)

    def _reset(self, engine=None) -> None:
        self.sample = None

    def _keep_first(self, engine) -> None:
        if self.sample is None:
            samples = engine_samples(engine)
            self.sample = samples[0] if samples else None

    def write(self, engine=None) -> None:
        self.count += 1
        if self.sample is None or not is_main_process():
            return
        from monai_landmarks.handlers.evaluation_report import _file_of, _load_gray
        from monai_landmarks.utils.overlay import draw_landmarks

        file = _file_of(self.sample)
        if not file or not Path(file).is_file():
            return
        pred_key, label_key = self.keys
        picture = draw_landmarks(
            _load_gray(file),
            torch.as_tensor(self.sample[label_key]).reshape(-1, 2).cpu().numpy(),
            predicted=torch.as_tensor(self.sample[pred_key]).reshape(-1, 2).cpu().numpy(),
        )
        step = self.trainer.state.epoch if self.trainer is not None else self.count
        if self.writer is None:
            self.writer = SummaryWriter(log_dir=self.log_dir)
        self.writer.add_image("val_overlay", picture, global_step=step, dataformats="HWC")
        self.writer.flush()
