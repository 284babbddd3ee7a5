"""The report's section on ISBI 2015 task 2: the measurement records of ``benchmarks/clinical.py``."""

from __future__ import annotations

from benchmarks.report.tables import Column, command, provenance, table
from benchmarks.report.template import block


def _cell(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _value(m: dict) -> str:
    """A measurement's MAE with its unit (ratios to three digits)."""
    return _cell(m["mae"], 3 if m["unit"] == "ratio" else 2)


def _unit(m: dict) -> str:
    return {"deg": " deg", "mm": " mm"}.get(m["unit"] or "", "")


COLUMNS = (
    Column("measurement", "{name}"),
    Column("success rate %, mean GT / senior GT", lambda r: f"{_cell(r['mean']['success_rate'])} / "
           f"{_cell(r['senior']['success_rate'])}"),
    Column("MAE, mean GT / senior GT", lambda r: f"{_value(r['mean'])} / {_value(r['senior'])}{_unit(r['mean'])}"),
    Column("junior vs senior annotator: success rate %, MAE", lambda r: f"{_cell(r['human']['success_rate'])}, "
           f"{_value(r['human'])}{_unit(r['mean'])}"),
    Column("skipped", lambda r: f"{r['mean']['skipped']} / {r['senior']['skipped']}"),
)  # fmt: skip


def _suite_table(suite: str, rec: dict) -> list[str]:
    reports = rec["measurements"]
    rows = [
        {"name": name, "mean": mean, "senior": reports["senior"]["measurements"][name],
         "human": reports["junior_vs_senior"]["measurements"][name]}
        for name, mean in reports["mean"]["measurements"].items()
    ]  # fmt: skip
    lines = [f"### `{rec['bundle']}` (suite `{suite}`)", "", *table(COLUMNS, rows)]
    lines.append(
        f"| **mean of the eight** | **{_cell(reports['mean']['mean_success_rate'])}** / "
        f"**{_cell(reports['senior']['mean_success_rate'])}** | | "
        f"{_cell(reports['junior_vs_senior']['mean_success_rate'])} | |"
    )
    confusion = [f"{n} `{m['confusion']}`" for n, m in reports["senior"]["measurements"].items()]
    return lines + [""] + block("measurements_confusion") + ["; ".join(confusion) + ".", ""]


def measurements_section(records: dict) -> list[str]:
    """The section for ``{suite: measurement record}``; empty when there are none."""
    if not records:
        return []
    from benchmarks.clinical import PUBLISHED_TASK2

    published = "; ".join(f"{who}: {what} ({where})" for who, what, where in PUBLISHED_TASK2)
    lines = block("measurements", published=published)
    for suite, rec in sorted(records.items()):
        lines += _suite_table(suite, rec)
        lines += [f"Evaluation ({rec['eval_wall_seconds']} s): `{command(rec['eval_command'])}`. {provenance(rec)}", ""]
    return lines
