"""The report's Accuracy section: the CPU-scale suites' records beside the published figures."""

from __future__ import annotations

from benchmarks.report.published import (
    HTC_PARAMETERS,
    OUR_DATA,
    PUBLISHED_GU2NET_GRID,
    PUBLISHED_HAND,
    PUBLISHED_HTC,
    PUBLISHED_ISBI_TEST1,
)
from benchmarks.report.records import summary
from benchmarks.report.tables import Column, command, error_rates, load, number, provenance, rates, table
from benchmarks.report.template import block

HAMEDAN_RADII = (5, 10, 15, 20)


def protocol(rec: dict) -> str:
    """The record's protocol, and how our copy of its dataset differs from the published one."""
    data = OUR_DATA.get(rec.get("dataset", ""))
    return f"{rec['protocol']}; {data}" if data else rec["protocol"]


def mre_sd(rec: dict) -> str:
    s = summary(rec)
    return f"{s['mre']:.2f} ({s['sd']:.2f})"


def pairs(rec: dict) -> int:
    return sum(1 for row in rec["errors"] for e in row if e == e)  # NaN: landmark not annotated


ISBI_COLUMNS = (
    Column("model", "{model}"),
    Column("protocol", "{protocol}"),
    Column("MRE (SD)", "{mre_sd}"),
    Column("SDR `<=`", "{sdr}"),
    Column("SDR `<`", "{strict_sdr}"),
)


def _published_isbi(row: dict) -> dict:
    mre_sd = f"{row['mre']} ({row['sd']})"
    return {**row, "model": f"{row['model']} (published, {row['note']})", "mre_sd": mre_sd, "sdr": rates(row["sdr"]),
            "strict_sdr": "-"}  # fmt: skip


def _measured_isbi(rec: dict, name: str) -> dict:
    return {"model": f"HTC `{name}` (measured, CPU-scale)", "protocol": protocol(rec), "mre_sd": mre_sd(rec),
            "sdr": rates(summary(rec)["sdr"]), "strict_sdr": rates(rec.get("strict_sdr", {}))}  # fmt: skip


def accuracy_section(acc: dict) -> list[str]:
    if not acc:
        return block("accuracy_none")
    lines = block("accuracy")
    suites: dict[str, list[dict]] = {}
    for rec in acc.values():
        suites.setdefault(rec["suite"], []).append(rec)
    for suite, records in sorted(suites.items(), key=lambda kv: not kv[0].startswith("isbi")):
        lines += _suite_intro(suite, records[0])
        lines += _isbi_table(acc) + _cross_table(acc) if suite.startswith("isbi") else _hand_table(acc)
    lines += _published_htc() + block("evaluation_commands")
    for name, rec in acc.items():
        if "summary" in rec:  # a protocol computed from another evaluation's predictions
            lines.append(f"- `{name}`: computed from the `isbi2015_mean` predictions (`gu2net_grid_errors`)")
        else:
            cmd = command(rec["eval_command"])
            lines.append(f"- `{name}` ({rec['eval_wall_seconds']} s, load {load(rec)}): `{cmd}`")
    any_rec = next(iter(acc.values()))
    device = provenance(any_rec).replace(" torch threads)", " torch threads in the collecting process)")
    threads = any_rec.get("training", {}).get("threads", "?")
    return lines + [""] + block("accuracy_device", device=device, threads=threads)


def _suite_intro(suite: str, rec: dict) -> list[str]:
    training = rec.get("training", {})
    return block(
        "suite",
        suite=suite,
        label=rec["label"],
        training_command=command(training.get("command")),
        threads=training.get("threads", "?"),
        reused=" (as here: the run was found finished and reused)" if training.get("ran_now") is False else "",
        epochs=training.get("epochs_done", "?"),
        wall=number(training.get("wall_seconds"), 0),
        load=number(rec.get("load_average_1min"), 2),
        best=_best_validation(training),
    )


def _best_validation(training: dict) -> str:
    history = training.get("validation_history") or []
    if not history:
        return "validation history not found"
    best = min(history, key=lambda r: float(r["val_mre"]))
    return f"epoch {best['epoch']}, validation MRE {float(best['val_mre']):.2f} on the held-out validation images"


def _isbi_table(acc: dict) -> list[str]:
    rows = [_published_isbi(row) for row in PUBLISHED_ISBI_TEST1]
    rows += [_measured_isbi(acc[n], n) for n in ("isbi2015_mean", "isbi2015_senior") if n in acc]
    rows.append({**PUBLISHED_GU2NET_GRID, "mre_sd": PUBLISHED_GU2NET_GRID["mre"], "sdr": "-", "strict_sdr": "-"})
    if "gu2net_grid" in acc:
        rows.append(_measured_isbi(acc["gu2net_grid"], "gu2net_grid"))
    return block("isbi") + table(ISBI_COLUMNS, rows) + [""] + block("isbi_after")


#: the Hamedan tables' columns after the first (the model, or the bundle)
HAMEDAN_COLUMNS = (
    Column("protocol", "{protocol}"),
    Column("MRE px (SD)", mre_sd),
    Column(f"SDR % at {' / '.join(map(str, HAMEDAN_RADII))} px", lambda r: error_rates(r["errors"], HAMEDAN_RADII)),
    Column("pairs", pairs),
)


def _cross_table(acc: dict) -> list[str]:
    rec = acc.get("hamedan_px")
    if rec is None:
        return []
    columns = (Column("model", lambda r: "HTC (measured, CPU-scale)"), *HAMEDAN_COLUMNS)
    return block("hamedan") + table(columns, [rec]) + [""]


def _hand_table(acc: dict) -> list[str]:
    rec = acc.get("dha_wrist")
    if rec is None:
        return []
    measured = {"model": "HTC (measured, CPU-scale)", "protocol": rec["protocol"], "mre_sd": mre_sd(rec),
                "sdr": error_rates(rec["errors"], (2, 4, 10))}  # fmt: skip
    columns = (*ISBI_COLUMNS[:3], Column("SDR % at 2 / 4 / 10 mm", "{sdr}"))
    return block("hand") + table(columns, [PUBLISHED_HAND, measured]) + [""]


PUBLISHED_HTC_COLUMNS = (
    Column("model (published)", "{model}"),
    Column("params", "{params}"),
    Column("MRE (SD)", "{mre}"),
    Column("SDR", "{sdr}"),
)


def _published_htc() -> list[str]:
    lines = block("published_htc")
    for title, rows in PUBLISHED_HTC:
        lines += [f"{title}:", "", *table(PUBLISHED_HTC_COLUMNS, rows), ""]
    return lines


def htc_parameters_section() -> list[str]:
    columns = (Column("HTC", "{what}"), Column("parameters", "{count}"), Column("source", "{source}"))
    return block("htc_parameters") + table(columns, HTC_PARAMETERS) + [""]
