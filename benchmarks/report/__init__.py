"""Write ``benchmarks/README.md`` (and its PNG figures) from the result files in ``benchmarks/results``.

The report renders records and runs nothing: every measured number comes from a result file written by
``python -m benchmarks speed`` or ``accuracy`` (:mod:`.records`); the published numbers are quoted from the papers
as collected in ``../shared/REFERENCE.md`` section 4 (:mod:`.published`). The prose is in
``benchmarks/README.template.md`` (:mod:`.template`), every table is written by :func:`.tables.table` from
columns declared once beside its section (:mod:`.accuracy`, :mod:`.cascade`, :mod:`.anatomies`,
:mod:`.measurements`, :mod:`.speed`), and a section whose result file is missing says so instead of showing a table.

Why a template rather than generated blocks between markers in the README: the README is generated whole (a
section shows only when its records exist, the suite introduction repeats per suite, the tests render reports of
fake records into other folders), so its output stays a function of the records alone, and the prose still has
one file to be edited in.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.report.accuracy import accuracy_section
from benchmarks.report.anatomies import anatomies_section
from benchmarks.report.cascade import cascade_section
from benchmarks.report.figures import overlay_lines, write_figures
from benchmarks.report.measurements import measurements_section
from benchmarks.report.records import load_results
from benchmarks.report.speed import heatmaps_section, networks_section, pipeline_section
from benchmarks.report.tables import command
from benchmarks.report.template import block

__all__ = ["command", "load_results", "render", "write_report"]


def render(results: dict, figure_lines: list[str]) -> str:
    cascade = cascade_section(results)
    lines = block("header", cascade="[Cascade](#coarse-to-fine-cascade) · " if cascade else "")
    lines += accuracy_section(results["accuracy"]) + figure_lines + overlay_lines(results["accuracy"]) + cascade
    lines += anatomies_section(results.get("anatomies", {})) + measurements_section(results.get("measurements", {}))
    speed = results["speed"]
    lines += networks_section(speed) + heatmaps_section(speed) + pipeline_section(speed)
    return "\n".join(lines).rstrip() + "\n"


def write_report(results_dir: Path, output: Path, figures: bool = True) -> str:
    results = load_results(results_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure_lines = write_figures(results, output.parent / "figures") if figures else []
    text = render(results, figure_lines)
    output.write_text(text)
    return text
