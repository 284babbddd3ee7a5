"""The report's section on the spine and chest bundles: the shipped coarse models on their test1, overall and
per structure, rendered from the ``accuracy_<suite>_<evaluation>.json`` records of the coarse-only shipped suites
(``gu2net_chest_shipped``, ``gu2net_spine_shipped``), and the Cobb angles of those that score them."""

from __future__ import annotations

import numpy as np

# SDR radii per unit: mm as the ceph tables; pixels of the original spine images (median 870 x 2370)
RADII = {"mm": (2.0, 2.5, 3.0, 4.0), "px": (10.0, 20.0, 30.0, 50.0)}


def _overall(errors: list[list[float]], radii: tuple[float, ...]) -> tuple[float, float, list[float], int]:
    e = np.asarray(errors, dtype=np.float64).ravel()
    e = e[~np.isnan(e)]
    sdr = [100.0 * float(np.mean(e <= r)) for r in radii]
    return float(e.mean()), float(e.std(ddof=1)), sdr, int(e.size)


def _overall_rows(records: list[dict]) -> list[str]:
    lines = [
        "| bundle | evaluation | protocol | MRE (SD) | SDR % (radii) | pairs | MSE (frame) |",
        "|---|---|---|---|---|---|---|",
    ]
    for rec in records:
        unit = rec["unit"]
        radii = RADII.get(unit, RADII["mm"])
        mre, sd, sdr, n = _overall(rec["errors"], radii)
        cells = " / ".join(f"{v:.1f}" for v in sdr) + f" ({' / '.join(f'{r:g}' for r in radii)} {unit})"
        mse = rec.get("mse", {}).get("value")
        mse_cell = f"{mse:.1f} px^2" if mse is not None else "-"
        lines.append(
            f"| `{rec['bundle']}` | `{rec['evaluation']}` | {rec['protocol']} | {mre:.2f} {unit} ({sd:.2f}) | "
            f"{cells} | {n} | {mse_cell} |"
        )
    return lines


def _group_rows(rec: dict) -> list[str]:
    groups = rec.get("groups") or {}
    if not groups:
        return []
    unit = rec["unit"]
    title = f"`{rec['bundle']}` `{rec['evaluation']}` per structure ({unit}):"
    lines = ["", title, "", "| structure | MRE (SD) | points |", "|---|---|---|"]
    for name, g in groups.items():
        mre = "-" if g["mre"] is None else f"{g['mre']:.2f}"
        sd = "-" if g["sd"] is None else f"{g['sd']:.2f}"
        lines.append(f"| {name} | {mre} ({sd}) | {g['count']} |")
    return lines


def _cobb_rows(records: list[dict]) -> list[str]:
    scored = [rec for rec in records if rec.get("cobb")]
    if not scored:
        return []
    lines = ["", "Cobb angles from the predicted corners (`monai_landmarks/analysis/cobb.py`) against the released "
             "`cobb_angles.csv`, and for scale from the ground-truth corners:", "",
             "| bundle | evaluation | SMAPE % | MAE mt / pt / tl (deg) | images scored (skipped) | "
             "ground-truth corners: SMAPE %, images |", "|---|---|---|---|---|---|"]  # fmt: skip
    for rec in scored:
        cobb, truth = rec["cobb"], rec["cobb_from_true_corners"]
        smape = "-" if cobb["smape"] is None else f"{cobb['smape']:.2f}"
        mae = " / ".join("-" if v is None else f"{v:.2f}" for v in cobb["mae"].values())
        lines.append(f"| `{rec['bundle']}` | `{rec['evaluation']}` | {smape} | {mae} | {cobb['count']} "
                     f"({len(cobb['skipped'])}) | {truth['smape']:.3f}, {truth['count']} |")  # fmt: skip
    return lines


def anatomies_section(anatomies: dict, command=str) -> list[str]:
    """Spine and chest: one overall table, then each bundle's per-structure table and its command (``command``
    formats a recorded command line for the page)."""
    records = [rec for _, evals in sorted(anatomies.items()) for _, rec in sorted(evals.items())]
    if not records:
        return []
    lines = [
        "## Spine and chest",
        "",
        "The coarse models the spine and chest bundles ship, evaluated once on their test1 by "
        "`python -m benchmarks accuracy --suite gu2net_chest_shipped gu2net_spine_shipped` (nothing is trained by "
        "the benchmark). Errors over all (image, landmark) pairs; SDR with `<=`. The chest MSE is the mean squared "
        "point error in pixels of the 1024 x 1024 frame, the form Gaggion et al. publish (HybridGNet 220.7 px^2 on "
        "their JSRT + Padchest split, not ours).",
        "",
    ]
    lines += _overall_rows(records)
    lines += _cobb_rows(records)
    for rec in records:
        lines += _group_rows(rec)
    lines += ["", "Evaluation commands:", ""]
    for rec in records:
        lines.append(f"- `{rec['suite']}` ({rec['eval_wall_seconds']} s): `{command(rec['eval_command'])}`")
    return lines + [""]
