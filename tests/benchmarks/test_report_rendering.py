"""The report's parts: the table writer, the prose template, and rendering the committed records (which must
reproduce the committed ``benchmarks/README.md`` without running anything)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the benchmarks package lives beside the library, not inside it

from benchmarks.report import template, write_report  # noqa: E402
from benchmarks.report.tables import Column, table  # noqa: E402


def test_table_declares_columns_once():
    columns = (Column("mode", "{mode}"), Column("rate", "{rate:.2f}"), Column("twice", lambda r: 2 * r["rate"]))
    assert table(columns, [{"mode": "train", "rate": 0.5}, {"mode": "infer", "rate": 1.25}]) == [
        "| mode | rate | twice |",
        "|---|---|---|",
        "| train | 0.50 | 1.0 |",
        "| infer | 1.25 | 2.5 |",
    ]
    assert table(columns, []) == ["| mode | rate | twice |", "|---|---|---|"]


def _template(tmp_path, monkeypatch, text: str) -> None:
    path = tmp_path / "README.template.md"
    path.write_text(text)
    monkeypatch.setattr(template, "TEMPLATE", path)


def test_template_blocks_join_wrapped_paragraphs_and_fill_slots(tmp_path, monkeypatch):
    _template(tmp_path, monkeypatch, "a comment {ignored}\n<!-- block: one -->\n## Title {n}\n\nA paragraph\nwrapped "
              "over {n}\nlines.\n\n- an item\n  continued\n- another\n![a](b.png)\n![c](d.png)\n<!-- block: two -->\n"
              "Two.\n")  # fmt: skip
    assert template.block("one", n=3) == [
        "## Title 3", "", "A paragraph wrapped over 3 lines.", "", "- an item continued", "- another", "![a](b.png)",
        "![c](d.png)", "",
    ]  # fmt: skip
    assert template.block("two") == ["Two.", ""]
    with pytest.raises(KeyError, match="slot 'n' not given"):
        template.block("one")
    with pytest.raises(KeyError, match="no block 'three'"):
        template.block("three")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_committed_records_render_the_committed_readme_and_run_nothing(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the report started a process: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr("benchmarks.accuracy.run_suite", refuse)
    results = ROOT / "benchmarks" / "results"
    before = _digests(results)
    text = write_report(results, tmp_path / "README.md", figures=False)
    figures = "![SDR curves](figures/sdr_curve.png)\n\n![per-landmark error](figures/per_landmark_error.png)\n\n"
    committed = (ROOT / "benchmarks" / "README.md").read_text()
    assert figures in committed  # the lines write_figures adds
    assert text == committed.replace(figures, "", 1)
    assert _digests(results) == before
