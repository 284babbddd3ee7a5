"""The report's cascade section: the shipped ceph bundles' records, coarse only against the cascade, with the
training record of their weights and the end-to-end inference benchmark."""

from __future__ import annotations

from benchmarks.report.accuracy import HAMEDAN_COLUMNS, mre_sd, protocol
from benchmarks.report.records import cases, summary
from benchmarks.report.tables import (
    Column,
    command,
    duration,
    load,
    provenance,
    rates,
    table,
    without_threads,
)
from benchmarks.report.template import block

# (evaluation, what the row is) of the shipped suites' ISBI 2015 table, in order
CASCADE_ROWS = (
    ("isbi2015_mean_coarse", "coarse only"),
    ("isbi2015_mean_cascade", "cascade"),
    ("isbi2015_senior_cascade", "cascade, senior ground truth"),
    ("gu2net_grid_cascade", "cascade, GU2Net grid"),
)


def cascade_section(results: dict) -> list[str]:
    """Coarse-only against the cascade for the shipped ceph bundles; only the parts whose result files exist."""
    shipped, training = results["shipped"], results["training"]
    speed = cases(results["speed"], "cascade", "test_cascade_end_to_end")
    if not (shipped or training or speed):
        return []
    lines = block("cascade") + _cascade_accuracy(shipped, training) + _cascade_hamedan(shipped)
    return lines + _cascade_training(shipped, training) + _cascade_speed(speed)


def _shipped_suites(shipped: dict) -> list[tuple[str, dict]]:
    return sorted(shipped.items(), key=lambda kv: (not kv[0].startswith("htc"), kv[0]))


def _bundle_of(suite: str, records: dict) -> str:
    return next(iter(records.values()), {}).get("bundle", suite.removesuffix("_shipped"))


def _training_seconds(bundle: str, records: dict, training: dict) -> tuple[float | None, float | None, str]:
    """Coarse and refiner training wall seconds of a bundle's shipped weights, and where they come from: the
    lead's ``training_<bundle>.json``, else the run folders recorded with the evaluations."""
    if bundle in training:
        t = training[bundle]
        return t["coarse_seconds"], t["refiner_seconds"], f"`benchmarks/results/training_{bundle}.json`"
    runs = next(iter(records.values()), {}).get("training", {})
    coarse = runs.get("coarse_run", {}).get("wall_seconds")
    refiner = runs.get("refiner_run", {}).get("wall_seconds")
    if coarse is None and refiner is None:
        return None, None, "not recorded"
    return coarse, refiner, "run folders: first start to last checkpoint, pauses included"


def _total(*seconds) -> float | None:
    return None if any(s is None for s in seconds) else sum(seconds)


ACCURACY_COLUMNS = (
    Column("bundle", "`{bundle}`"),
    Column("evaluation", "{what} (`{evaluation}`)"),
    Column("protocol", protocol),
    Column("MRE (SD)", mre_sd),
    Column("SDR % at 2 / 2.5 / 3 / 4 mm", lambda r: rates(summary(r)["sdr"])),
    Column("training wall time", "{trained}"),
)


def _cascade_accuracy(shipped: dict, training: dict) -> list[str]:
    if not any(ev in records for records in shipped.values() for ev, _ in CASCADE_ROWS):
        return []
    rows, deltas = [], []
    for suite, records in _shipped_suites(shipped):
        coarse_s, refiner_s, _ = _training_seconds(_bundle_of(suite, records), records, training)
        for ev, what in CASCADE_ROWS:
            if ev in records:
                rec = records[ev]
                trained = duration(_total(coarse_s, refiner_s) if rec.get("cascade") else coarse_s)
                rows.append({**rec, "what": what, "evaluation": ev, "trained": trained})
        deltas += _refinement_delta(records)
    lines = block("cascade_accuracy") + table(ACCURACY_COLUMNS, rows)
    lines += ["", *deltas, ""] if deltas else [""]
    lines += ["Evaluation commands:", ""]
    order = [ev for ev, _ in CASCADE_ROWS] + ["hamedan_px_cascade"]
    for suite, records in _shipped_suites(shipped):
        for ev, rec in sorted(records.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
            if "summary" in rec:
                lines.append(f"- `{suite}` `{ev}`: computed from the `{rec.get('derived_from')}` predictions")
            else:
                cmd = command(rec["eval_command"])
                lines.append(f"- `{suite}` `{ev}` ({rec['eval_wall_seconds']} s, load {load(rec)}): `{cmd}`")
    overlays = [path for _, records in _shipped_suites(shipped) for rec in records.values() for path in
                rec.get("overlays", [])]  # fmt: skip
    if overlays:
        lines += ["", "Overlays (not committed, see above): " + ", ".join(f"`{p}`" for p in overlays) + "."]
    any_rec = next(rec for _, records in _shipped_suites(shipped) for rec in records.values())
    device = without_threads(provenance(any_rec))
    lines += ["", f"{device} Bundle runs: {any_rec.get('threads', '?')} torch thread(s) (`OMP_NUM_THREADS`).", ""]
    return lines


def _refinement_delta(records: dict) -> list[str]:
    """What the refiner changes on the same images, mean-of-annotators ground truth."""
    coarse, cascade = records.get("isbi2015_mean_coarse"), records.get("isbi2015_mean_cascade")
    if coarse is None or cascade is None:
        return []
    a, b = summary(coarse), summary(cascade)
    same = coarse.get("image_ids") == cascade.get("image_ids")
    return [
        f"- `{cascade['bundle']}`: the refiner takes the MRE from {a['mre']:.2f} to {b['mre']:.2f} mm "
        f"({b['mre'] - a['mre']:+.2f}) and SDR at 2 mm from {a['sdr'].get('2', float('nan')):.1f} to "
        f"{b['sdr'].get('2', float('nan')):.1f} %" + (" (same images)." if same else " (NOT the same images).")
    ]


def _cascade_hamedan(shipped: dict) -> list[str]:
    rows = [records["hamedan_px_cascade"] for _, records in _shipped_suites(shipped) if "hamedan_px_cascade" in records]
    if not rows:
        return []
    columns = (Column("bundle", "`{bundle}`"), *HAMEDAN_COLUMNS)
    return block("cascade_hamedan") + table(columns, rows) + [""]


TRAINING_COLUMNS = (
    Column("bundle", "`{bundle}`"),
    Column("coarse model", lambda r: duration(r["coarse"])),
    Column("refiner", lambda r: duration(r["refiner"])),
    Column("coarse + refiner", lambda r: duration(_total(r["coarse"], r["refiner"]))),
    Column("torch threads", lambda r: r["record"].get("threads", "-")),
    Column("load 1 min", lambda r: r["record"].get("load", "-")),
    Column("source", "{source}"),
)


def _cascade_training(shipped: dict, training: dict) -> list[str]:
    bundles = sorted({_bundle_of(suite, records) for suite, records in shipped.items()} | set(training))
    if not bundles:
        return []
    rows, commands = [], []
    for bundle in sorted(bundles, key=lambda b: (not b.startswith("htc"), b)):
        coarse_s, refiner_s, source = _training_seconds(bundle, shipped.get(f"{bundle}_shipped", {}), training)
        t = training.get(bundle, {})
        rows.append({"bundle": bundle, "coarse": coarse_s, "refiner": refiner_s, "source": source, "record": t})
        commands += [f"- `{bundle}`: `{command(cmd)}`" for cmd in t.get("commands", [])]
    lines = block("cascade_training") + table(TRAINING_COLUMNS, rows)
    if commands:
        lines += ["", "Training commands:", "", *commands]
    return lines + [""]


def _speed_verdict(i: dict) -> str:
    target, threads = i["target_seconds_per_image"], i["target_threads"]
    if i["threads"] != threads:
        return "-"
    return f"<= {target:g} s: {'met' if i['seconds_per_image']['cascade']['median'] <= target else 'NOT met'}"


def _seconds(kind: str):
    return lambda i: f"{i['seconds_per_image'][kind]['median']:.3f} ({i['seconds_per_image'][kind]['best']:.3f})"


SPEED_COLUMNS = (
    Column("bundle", "`{bundle}`"),
    Column("torch threads", "{threads}"),
    Column("images", "{images}"),
    Column("coarse only s/image", _seconds("coarse")),
    Column("cascade s/image", _seconds("cascade")),
    Column("cascade / coarse", "{cascade_over_coarse_median:.2f}x"),
    Column("target", _speed_verdict),
    Column("weights", "{weights}"),
    Column("load 1 min", load),
)


def _cascade_speed(speed: list[dict]) -> list[str]:
    if not speed:
        return []
    first = speed[0]
    rows = sorted(speed, key=lambda i: (i["bundle"] != "htc_ceph", i["threads"]))
    lines = block("cascade_speed", target=f"{first['target_seconds_per_image']:g}", threads=first["target_threads"])
    lines += table(SPEED_COLUMNS, rows)
    return lines + ["", f"Images: {first['image_source']}.", "", without_threads(provenance(first)), ""]
