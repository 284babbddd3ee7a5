"""What a handler needs to know under ``torch.distributed``: which process writes files, and all rows."""

from __future__ import annotations

import torch.distributed as dist

__all__ = ["gather_lists", "handlers_for_rank", "is_main_process"]


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    """True outside distributed runs and on rank 0: the one process that writes shared files."""
    return not _active() or dist.get_rank() == 0


def gather_lists(items: list) -> list:
    """Concatenate every rank's list (picklable items), in rank order; the list itself when not distributed."""
    if not _active():
        return items
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, items)
    return [item for part in parts for item in part]


def handlers_for_rank(handlers: list) -> list:
    """Every handler on the main process; on the other ranks all but the loggers and the progress bar (MONAI's
    stats handlers, Ignite's ``ProgressBar``), which would print once per rank."""
    if is_main_process():
        return list(handlers)
    from ignite.handlers import ProgressBar
    from monai.handlers import StatsHandler, TensorBoardHandler

    return [h for h in handlers if not isinstance(h, (StatsHandler, TensorBoardHandler, ProgressBar))]
