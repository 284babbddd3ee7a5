"""The result files of a folder, read as records: what the report renders and nothing else (no benchmark runs)."""

from __future__ import annotations

import json
from pathlib import Path


def load_results(results_dir: Path) -> dict:
    """The result files of a folder: ``{"speed": {module: pytest-benchmark JSON}, "accuracy": {evaluation:
    record}, "shipped": {suite: {evaluation: record}}, "anatomies": {suite: {evaluation: record}}, "training":
    {bundle: training record}, "measurements": {suite: record}}``; the shipped suites' records (the cascade) are
    kept apart, since both bundles' suites share evaluation names; shipped coarse-only suites of other anatomies
    (spine, chest) and the task-2 measurement records have sections of their own."""
    from benchmarks.accuracy import load_training
    from benchmarks.suites import CASCADE_SUITES

    out: dict = {"speed": {}, "accuracy": {}, "shipped": {}, "anatomies": {}, "training": {}, "measurements": {}}
    for path in sorted(Path(results_dir).glob("speed_*.json")):  # speed_<module>[-<part>].json
        module = path.stem.removeprefix("speed_").split("-")[0]
        merged = out["speed"].setdefault(module, {"benchmarks": []})
        merged["benchmarks"] += json.loads(path.read_text())["benchmarks"]
    for path in sorted(Path(results_dir).glob("accuracy_*.json")):
        rec = json.loads(path.read_text())
        if "measurements" in rec:  # ISBI 2015 task 2 (benchmarks/clinical.py), its own section
            out["measurements"][rec["suite"]] = rec
        elif rec.get("shipped"):
            kind = "shipped" if rec["suite"] in CASCADE_SUITES else "anatomies"
            out[kind].setdefault(rec["suite"], {})[rec["evaluation"]] = rec
        else:
            out["accuracy"][rec["evaluation"]] = rec
    for path in sorted(Path(results_dir).glob("training_*.json")):  # training_<bundle>.json
        out["training"][path.stem.removeprefix("training_")] = load_training(path)
    return out


def cases(speed: dict, module: str, prefix: str) -> list[dict]:
    """The ``extra_info`` records of one speed module's benchmarks whose test name starts with ``prefix``."""
    return [b["extra_info"] for b in speed.get(module, {}).get("benchmarks", []) if b["name"].startswith(prefix)]


def summary(rec: dict) -> dict:
    """MRE, SD and SDR of an accuracy record: the bundle's metrics.json, or the derived protocol's own summary."""
    if "summary" in rec:
        return rec["summary"]
    m = rec["metrics"]
    return {"mre": m["mre"], "sd": m["sd"], "sdr": m["sdr"], "count": m["count"]}
