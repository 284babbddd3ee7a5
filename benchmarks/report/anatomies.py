"""The report's section on the spine and chest bundles: the shipped coarse models on their test1, overall and
per structure, rendered from the ``accuracy_<suite>_<evaluation>.json`` records of the coarse-only shipped suites
(``gu2net_chest_shipped``, ``gu2net_spine_shipped``), and the Cobb angles of those that score them."""

from __future__ import annotations

import numpy as np

from benchmarks.report.tables import Column, command, table
from benchmarks.report.template import block
from monai_landmarks.metrics.landmark_error import landmark_error_report

# SDR radii per unit: mm as the ceph tables; pixels of the original spine images (median 870 x 2370)
RADII = {"mm": (2.0, 2.5, 3.0, 4.0), "px": (10.0, 20.0, 30.0, 50.0)}


def _overall(rec: dict) -> dict:
    """Pooled MRE, sample SD, SDR (``<=``) and pair count of the record's errors, in the record's unit."""
    radii = RADII.get(rec["unit"], RADII["mm"])
    report = landmark_error_report(np.asarray(rec["errors"], dtype=np.float64), radii=radii, ddof=1)
    sdr = " / ".join(f"{v:.1f}" for v in report["sdr"].values())
    mse = rec.get("mse", {}).get("value")
    return {
        **rec,
        "mre_sd": f"{report['mre']:.2f} {rec['unit']} ({report['sd']:.2f})",
        "sdr": f"{sdr} ({' / '.join(f'{r:g}' for r in radii)} {rec['unit']})",
        "count": report["count"],
        "mse": f"{mse:.1f} px^2" if mse is not None else "-",
    }


OVERALL_COLUMNS = (
    Column("bundle", "`{bundle}`"),
    Column("evaluation", "`{evaluation}`"),
    Column("protocol", "{protocol}"),
    Column("MRE (SD)", "{mre_sd}"),
    Column("SDR % (radii)", "{sdr}"),
    Column("pairs", "{count}"),
    Column("MSE (frame)", "{mse}"),
)


def _cell(value) -> str:
    return "-" if value is None else f"{value:.2f}"


GROUP_COLUMNS = (
    Column("structure", "{name}"),
    Column("MRE (SD)", lambda g: f"{_cell(g['mre'])} ({_cell(g['sd'])})"),
    Column("points", "{count}"),
)


def _group_rows(rec: dict) -> list[str]:
    groups = rec.get("groups") or {}
    if not groups:
        return []
    rows = [{"name": name, **g} for name, g in groups.items()]
    title = f"`{rec['bundle']}` `{rec['evaluation']}` per structure ({rec['unit']}):"
    return ["", title, "", *table(GROUP_COLUMNS, rows)]


COBB_COLUMNS = (
    Column("bundle", "`{bundle}`"),
    Column("evaluation", "`{evaluation}`"),
    Column("SMAPE %", lambda r: _cell(r["cobb"]["smape"])),
    Column("MAE mt / pt / tl (deg)", lambda r: " / ".join(_cell(v) for v in r["cobb"]["mae"].values())),
    Column("images scored (skipped)", lambda r: f"{r['cobb']['count']} ({len(r['cobb']['skipped'])})"),
    Column("ground-truth corners: SMAPE %, images", lambda r: f"{r['cobb_from_true_corners']['smape']:.3f}, "
           f"{r['cobb_from_true_corners']['count']}"),
)  # fmt: skip


def _cobb_rows(records: list[dict]) -> list[str]:
    scored = [rec for rec in records if rec.get("cobb")]
    return block("anatomies_cobb") + table(COBB_COLUMNS, scored) if scored else []


def anatomies_section(anatomies: dict) -> list[str]:
    """Spine and chest: one overall table, then each bundle's per-structure table and its command."""
    records = [rec for _, evals in sorted(anatomies.items()) for _, rec in sorted(evals.items())]
    if not records:
        return []
    lines = block("anatomies") + table(OVERALL_COLUMNS, [_overall(rec) for rec in records])
    lines += _cobb_rows(records)
    for rec in records:
        lines += _group_rows(rec)
    lines += ["", "Evaluation commands:", ""]
    for rec in records:
        lines.append(f"- `{rec['suite']}` ({rec['eval_wall_seconds']} s): `{command(rec['eval_command'])}`")
    return lines + [""]
