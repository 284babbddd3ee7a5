"""The one Markdown table writer of the report, and the cell formats its sections share.

A table is its columns, declared once: a header and how a row (a record, or a dict made from one) gives the cell,
either a format string over the row's keys (``"{mode}"``, ``"{images_per_s_best:.3f}"``) or a function of the row.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.provenance import ROOT


@dataclass(frozen=True)
class Column:
    header: str
    cell: str | Callable[[Any], str]  # a format string over the row's keys, or a function of the row

    def render(self, row) -> str:
        return self.cell.format_map(row) if isinstance(self.cell, str) else str(self.cell(row))


def table(columns: Iterable[Column], rows: Iterable) -> list[str]:
    """Markdown lines: the header, the rule and one line per row."""
    columns = list(columns)
    lines = ["| " + " | ".join(c.header for c in columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(c.render(row) for c in columns) + " |" for row in rows]


# ----------------------------------------------------------------------------------------------- cells


def number(value, digits: int = 2) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):  # None, or "unknown" where a record could not read the load
        return "-"


def load(info: Mapping) -> str:
    """The 1-minute load average of a record: start -> end where both were taken."""
    start = info.get("load_average_1min_at_start")
    end = info.get("load_average_1min_at_end", info.get("load_average_1min"))
    return f"{number(start)} -> {number(end)}" if start is not None else number(end)


def duration(seconds) -> str:
    if seconds is None:
        return "-"
    minutes = float(seconds) / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def rates(sdr: Mapping, radii=("2", "2.5", "3", "4")) -> str:
    """SDR percentages of a summary (``{"2": 84.5, ...}``) at ``radii``, ``-`` where a radius is absent."""
    return " / ".join(f"{sdr[r]:.1f}" if r in sdr else "-" for r in radii)


def error_rates(errors, radii) -> str:
    """SDR at ``radii`` of a record's stored errors, by the metric's own rule (ties within rounding count)."""
    from monai_landmarks.metrics.landmark_error import landmark_error_report

    sdr = landmark_error_report(np.asarray(errors, dtype=np.float64), radii=radii)["sdr"]
    return " / ".join(f"{sdr[float(r)]:.1f}" for r in radii)


def command(cmd: str | None) -> str:
    """A recorded command as one would type it from the repository root (relative paths, double quotes)."""
    if not cmd:
        return "-"
    words = [_relative(w) for w in shlex.split(cmd)]
    return " ".join(f'"{w}"' if not w or any(c in w for c in " '[]$") else w for w in words)


def _relative(word: str) -> str:
    """A path of the checkout a record was made in (any worktree, not only this one), relative to its root."""
    word = word.replace(str(ROOT) + "/", "")
    # The record names the machine it was made on: its shared/ sits beside that checkout, wherever this one is.
    word = re.sub(r"^/\S*?/shared/", "../shared/", word)
    return re.sub(r"^/\S*?/((runs|bundles)/)", r"\1", word)


def provenance(info: Mapping) -> str:
    commit = info.get("git_commit", info.get("commit", "unknown"))
    return (
        f"Device: {info.get('device', 'unknown')}; torch {info.get('torch')}, MONAI {info.get('monai')}; "
        f"commit {commit}; seed {info.get('seed')}."
    )


def without_threads(line: str) -> str:
    """A provenance line without the torch threads of the process that wrote it (rows give their own)."""
    return re.sub(r", \d+ torch threads\)", ")", line)
