"""A CSV with one row per validation run, kept across restarts of a training run."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from monai.utils import min_version, optional_import

from monai_landmarks.utils.dist import is_main_process
from monai_landmarks.utils.io import atomic_write_text

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")

__all__ = ["MetricsHistory", "lower_is_better"]


def lower_is_better(current: float, prev: float) -> bool:
    """``metric_cmp_fn`` for MONAI evaluators whose key metric is an error (MONAI starts ``prev`` at -1)."""
    return prev < 0 or current < prev


class MetricsHistory:
    """Append the evaluator's metrics, with the trainer's epoch, to a CSV file after every validation.

    The file is rewritten atomically with every row so far; rows of epochs at or after the current one are
    dropped first, so a resumed run continues the table instead of repeating epochs.

    Args:
        path: the CSV file.
    """

    def __init__(self, path) -> None:
        self.path = Path(path)

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def _rows(self, epoch: int) -> list[dict]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as f:
            return [r for r in csv.DictReader(f) if int(r["epoch"]) < epoch]

    def __call__(self, engine) -> None:
        if not is_main_process():
            return
        epoch = int(engine.state.epoch)
        row = {"epoch": epoch, **{k: f"{float(v):.6g}" for k, v in engine.state.metrics.items() if _scalar(v)}}
        rows = self._rows(epoch) + [row]
        names = list(dict.fromkeys(k for r in rows for k in r))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, out.getvalue())


def _scalar(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
