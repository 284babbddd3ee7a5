"""A progress bar that a bundle config attaches like any handler and a ``progress`` setting turns off.

Ignite's :class:`~ignite.handlers.ProgressBar` (tqdm, on stderr) over the iterations of an engine run: the images of
an evaluation or an inference. Bundles list it with ``"enabled": "@progress"``; the command line's ``--quiet``
sets ``progress`` to false.
"""

from __future__ import annotations

from monai.utils import optional_import

IgniteProgressBar, _ = optional_import("ignite.handlers", name="ProgressBar")

__all__ = ["RunProgress"]


class RunProgress:
    """Attach a tqdm progress bar to an engine, unless disabled.

    Args:
        desc: the bar's label, for example ``"evaluate"``.
        enabled: False attaches nothing (a quiet run, a log file that should hold no bars).
        persist: keep the finished bar on screen.
    """

    def __init__(self, desc: str = "", enabled: bool = True, persist: bool = True) -> None:
        if isinstance(enabled, str):  # "--progress false" on a command line arrives as text
            enabled = enabled.strip().lower() not in ("false", "0", "no", "off")
        self.desc, self.enabled, self.persist = desc, bool(enabled), persist
        self.bar = None  #: the attached Ignite bar, if any

    def attach(self, engine) -> None:
        if self.enabled:
            self.bar = _Bar(desc=self.desc, persist=self.persist)
            if engine.state.epoch_length is None:  # an iterable dataset (it skips images that fail): count its items
                self.bar.total = _num_items(getattr(getattr(engine, "data_loader", None), "dataset", None))
            self.bar.attach(engine)


def _num_items(dataset) -> int | None:
    try:
        return len(dataset.data)
    except (AttributeError, TypeError):
        return None


class _Bar(IgniteProgressBar):
    """Ignite's bar, with a total for an engine whose data has no length."""

    total: int | None = None

    def _reset(self, pbar_total: int | None) -> None:
        super()._reset(pbar_total if pbar_total is not None else self.total)
