"""Write ``benchmarks/README.md`` (and its PNG figures) from the result files in ``benchmarks/results``.

Every measured number comes from a result file written by ``python -m benchmarks speed`` or ``accuracy``; the
published numbers are quoted from the papers as collected in ``../shared/REFERENCE.md`` section 4. A section
whose result file is missing says so instead of showing a table.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.clinical import measurements_section
from benchmarks.provenance import FIGURES_DIR, ROOT
from benchmarks.report_anatomies import anatomies_section

# the timing of the original GU2Net code on this kind of machine (2 threads, batch 2, 512 x 416, fp32)
GU2NET_ORIGINAL_QUOTED = {"train": 0.19, "infer": 0.75}
GU2NET_BAR = 1.5

# (model, protocol, MRE, SD, {radius: SDR}, note); quoted as published, never measured here. A literature row's
# protocol is as unverified as its number, so it asserts no resolution or ground-truth convention.
LITERATURE_PROTOCOL = "test1 as the paper reports it (resolution, images and ground truth not verified here)"
PUBLISHED_ISBI_TEST1 = [
    ("SCN with learnable heatmaps (landmarker 0.4 example), 512 x 512 input",
     "original resolution, mean-of-annotators ground truth", "1.20", "-",
     {"2": 84.5, "2.5": 90.2, "3": 93.5, "4": 97.2}, "REFERENCE 4"),
    ("AFPF (Chen 2019)", LITERATURE_PROTOCOL, "about 1.17", "-", {}, "unverified, from the literature"),
    ("attention-guided (Zhong 2019)", LITERATURE_PROTOCOL, "about 1.12", "-", {}, "unverified, from the literature"),
]  # fmt: skip
# how our copy of a dataset differs from the one the published rows used (REFERENCE 4, the dataset.json notes)
OUR_DATA = {
    "isbi2015_ceph": "our images: the 'cepha400' JPEG copy (quality about 75) of the challenge BMPs, 2x "
    "box-downsampled to 967 x 1200 at 0.2 mm/px",
}
PUBLISHED_GU2NET_GRID = ("GU2Net, own head table", "about 1.54", "test1+test2 pooled (250 images)", "unverified")
PUBLISHED_HTC = [
    ("HTC paper Table 1, XCAT head (13 landmarks), SDR 2 / 2.5 / 3 / 4 mm", [
        ("HRNet-W48", "65.3M", "3.91 (6.22)", "36.4 / 48.5 / 58.6 / 73.0"),
        ("FARNet", "79.0M", "3.51 (3.57)", "35.6 / 46.5 / 56.2 / 71.3"),
        ("GU2Net", "2.74M", "5.96 (15.36)", "38.7 / 48.4 / 56.4 / 66.7"),
        ("HTC + multiresolution", "16.2M (paper)", "2.88 (2.51)", "46.8 / 59.0 / 68.0 / 79.7"),
    ]),
    ("HTC paper Table 1, ISBI 2023 (29 landmarks), SDR 2 / 2.5 / 3 / 4 mm", [
        ("HRNet-W48", "65.3M", "1.26 (1.49)", "83.9 / 88.9 / 92.3 / 96.0"),
        ("FARNet", "79.0M", "1.10 (1.33)", "87.6 / 91.9 / 94.5 / 96.9"),
        ("GU2Net", "2.74M", "1.78 (5.10)", "82.0 / 86.3 / 88.9 / 92.3"),
        ("HTC + multiresolution", "16.2M (paper)", "1.08 (1.37)", "88.1 / 92.2 / 94.5 / 96.7"),
    ]),
    ("HTC paper Table 2, hand (wrist-width mm), SDR 2 / 4 / 10 mm", [
        ("Payer SCN 2019", "-", "0.66 (0.74)", "94.99 / 99.27 / 99.99"),
        ("GU2Net (retrained)", "-", "0.63 (1.36)", "96.01 / 99.39 / 99.98"),
        ("HTC", "-", "0.56 (0.58)", "96.84 / 99.63 / 100"),
    ]),
]  # fmt: skip
# HTC's parameters, XCAT head (K = 13): (what, count, where it comes from)
HTC_PARAMETERS = [
    ("paper, Table 1", "16.2M", "as published; no natural part of the released code gives it"),
    ("released code, registered", "24,613,426", "REFERENCE section 3 (the released code, run)"),
    ("released code, used by its forward pass", "21,887,026",
     "the rest is never called: an `nn.MultiheadAttention` per stage (1,544,192), the patch-embedding BatchNorms "
     "(2,048) and two FPN output convs whose results are discarded (1,180,160)"),
    ("ours, `htc` (`HTC(2, 3, 13)`)", "21,887,026", "`tests/networks/test_htc.py`: the used parameters, no dead ones"),
    ("ours, `htc_original` (our test restatement, not the released code)", "23,067,186",
     "`tests/networks/_reference_htc.py`: the used parameters plus the two discarded FPN output convs, evaluated "
     "as the released code evaluates them so the speed baseline costs what the original costs"),
]  # fmt: skip


# ----------------------------------------------------------------------------------------------- loading


def load_results(results_dir: Path) -> dict:
    """The result files of a folder: ``{"speed": {module: pytest-benchmark JSON}, "accuracy": {evaluation:
    record}, "shipped": {suite: {evaluation: record}}, "anatomies": {suite: {evaluation: record}}, "training":
    {bundle: training record}, "measurements": {suite: record}}``; the shipped suites' records (the cascade) are
    kept apart, since both bundles' suites share evaluation names; shipped coarse-only suites of other anatomies
    (spine, chest) and the task-2 measurement records have sections of their own."""
    from benchmarks.accuracy import CASCADE_SUITES, load_training

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


def _benchmarks(speed: dict, module: str, prefix: str) -> list[dict]:
    return [b for b in speed.get(module, {}).get("benchmarks", []) if b["name"].startswith(prefix)]


def _f(value, digits: int = 2) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):  # None, or "unknown" where a record could not read the load
        return "-"


def _load(info: dict) -> str:
    start = info.get("load_average_1min_at_start")
    end = info.get("load_average_1min_at_end", info.get("load_average_1min"))
    return f"{_f(start)} -> {_f(end)}" if start is not None else _f(end)


def _command(cmd: str | None) -> str:
    """A recorded command as one would type it from the repository root (relative paths, double quotes)."""
    if not cmd:
        return "-"
    words = [_relative(w) for w in shlex.split(cmd)]
    return " ".join(f'"{w}"' if not w or any(c in w for c in " '[]$") else w for w in words)


def _relative(word: str) -> str:
    """A path of the checkout a record was made in (any worktree, not only this one), relative to its root."""
    word = word.replace(str(ROOT) + "/", "").replace(str(ROOT.parent / "shared"), "../shared")
    return re.sub(r"^/\S*?/(runs/)", r"\1", word)


def _provenance_line(info: dict) -> str:
    commit = info.get("git_commit", info.get("commit", "unknown"))
    return (
        f"Device: {info.get('device', 'unknown')}; torch {info.get('torch')}, MONAI {info.get('monai')}; "
        f"commit {commit}; seed {info.get('seed')}."
    )


# ----------------------------------------------------------------------------------------------- accuracy


def _summary(rec: dict) -> dict:
    """MRE, SD and SDR of a record: the bundle's metrics.json, or the derived protocol's own summary."""
    if "summary" in rec:
        return rec["summary"]
    m = rec["metrics"]
    return {"mre": m["mre"], "sd": m["sd"], "sdr": m["sdr"], "count": m["count"]}


def _sdr_cells(sdr: dict, radii=("2", "2.5", "3", "4")) -> str:
    return " / ".join(f"{sdr[r]:.1f}" if r in sdr else "-" for r in radii)


def _protocol(rec: dict) -> str:
    """The record's protocol, and how our copy of its dataset differs from the published one."""
    data = OUR_DATA.get(rec.get("dataset", ""))
    return f"{rec['protocol']}; {data}" if data else rec["protocol"]


def _measured_row(rec: dict, name: str) -> str:
    s = _summary(rec)
    return (
        f"| {name} (measured, CPU-scale) | {_protocol(rec)} | {s['mre']:.2f} ({s['sd']:.2f}) | "
        f"{_sdr_cells(s['sdr'])} | {_sdr_cells(rec.get('strict_sdr', {}))} |"
    )


def accuracy_section(acc: dict) -> list[str]:
    lines = ["## Accuracy", ""]
    if not acc:
        return lines + ["No accuracy results recorded yet: run `python -m benchmarks accuracy`.", ""]
    lines += [
        "Every measured row below is labelled CPU-scale: a reduced model, resolution and schedule that trains on two "
        "shared CPU cores, not the bundle's full-size real-data settings (which are not a published configuration "
        "either: the HTC paper has none for ISBI 2015, see `bundles/htc_ceph/docs/README.md`), so it is expected to "
        "be well behind the published figures. Published rows are quoted as published; a literature row's protocol "
        "is only what its paper reports, as unverified as its numbers.",
        "",
    ]
    suites: dict[str, list[dict]] = {}
    for rec in acc.values():
        suites.setdefault(rec["suite"], []).append(rec)
    for suite, records in sorted(suites.items(), key=lambda kv: not kv[0].startswith("isbi")):
        lines += _suite_intro(suite, records[0])
        if suite.startswith("isbi"):
            lines += _isbi_table(acc) + _cross_table(acc)
        else:
            lines += _hand_table(acc)
    lines += _published_htc() + ["### Evaluation commands", ""]
    for name, rec in acc.items():
        if "summary" in rec:  # a protocol computed from another evaluation's predictions
            lines.append(f"- `{name}`: computed from the `isbi2015_mean` predictions (`gu2net_grid_errors`)")
        else:
            cmd = _command(rec["eval_command"])
            lines.append(f"- `{name}` ({rec['eval_wall_seconds']} s, load {_load(rec)}): `{cmd}`")
    any_rec = next(iter(acc.values()))
    threads = any_rec.get("training", {}).get("threads", "?")
    device = _provenance_line(any_rec).replace(" torch threads)", " torch threads in the collecting process)")
    lines += ["", f"{device} Bundle runs: {threads} torch thread (`OMP_NUM_THREADS`).", ""]
    return lines


def _suite_intro(suite: str, rec: dict) -> list[str]:
    training = rec.get("training", {})
    return [
        f"### Suite `{suite}`",
        "",
        f"**{rec['label']}.**",
        "",
        f"Command of the whole suite: `python -m benchmarks accuracy --suite {suite}`. It trains with "
        f"`{_command(training.get('command'))}` ({training.get('threads', '?')} torch threads), unless that run folder "
        "already holds the last epoch's checkpoint"
        + (" (as here: the run was found finished and reused)" if training.get("ran_now") is False else "")
        + ", then runs the evaluations and collects the bundle's `metrics.json` and `per_image.csv`.",
        "",
        f"Training took {training.get('epochs_done', '?')} epochs in {_f(training.get('wall_seconds'), 0)} s wall "
        "(from the run's files: TensorBoard start to last checkpoint; 1-minute load average "
        f"{_f(rec.get('load_average_1min'), 2)} when this evaluation was recorded, 2 being our own two threads); "
        f"the checkpoint evaluated is the one of the best validation MRE ({_best_validation(training)}).",
        "",
    ]


def _rates(errors: list[list[float]], radii) -> str:
    """SDR with ``<=`` by the metric's own rule (ties within rounding count), NaN errors skipped."""
    from monai_landmarks.metrics.landmark_error import landmark_error_report

    sdr = landmark_error_report(np.asarray(errors, dtype=np.float64), radii=radii)["sdr"]
    return " / ".join(f"{sdr[float(r)]:.1f}" for r in radii)


def _hand_table(acc: dict) -> list[str]:
    rec = acc.get("dha_wrist")
    if rec is None:
        return []
    s = _summary(rec)
    return [
        "#### Hand, wrist-width millimetres",
        "",
        "Errors in mm normalised so that the wrist width (landmarks 0 and 4, GU2Net's pair) is 50 mm. Only 7 "
        "hands are here, and 5 of them trained the model: this row exercises the protocol end to end; it is not "
        "an accuracy claim. The published row used the full atlas.",
        "",
        "| model | protocol | MRE (SD) | SDR % at 2 / 4 / 10 mm |",
        "|---|---|---|---|",
        "| HTC (published, HTC paper Table 2) | Digital Hand Atlas, wrist-width mm | 0.56 (0.58) | "
        "96.84 / 99.63 / 100 |",
        f"| HTC (measured, CPU-scale) | {rec['protocol']} | {s['mre']:.2f} ({s['sd']:.2f}) | "
        f"{_rates(rec['errors'], (2, 4, 10))} |",
        "",
    ]


def _best_validation(training: dict) -> str:
    history = training.get("validation_history") or []
    if not history:
        return "validation history not found"
    best = min(history, key=lambda r: float(r["val_mre"]))
    return f"epoch {best['epoch']}, validation MRE {float(best['val_mre']):.2f} on the held-out validation images"


def _isbi_table(acc: dict) -> list[str]:
    lines = [
        "#### ISBI 2015, test1 (150 images, 19 landmarks)",
        "",
        "MRE mm (SD); SDR % at 2 / 2.5 / 3 / 4 mm with `<=` (ours also with `<`, as HTC's MMPose code counts).",
        "",
        "| model | protocol | MRE (SD) | SDR `<=` | SDR `<` |",
        "|---|---|---|---|---|",
    ]
    for model, protocol, mre, sd, sdr, note in PUBLISHED_ISBI_TEST1:
        lines.append(f"| {model} (published, {note}) | {protocol} | {mre} ({sd}) | {_sdr_cells(sdr)} | - |")
    for name in ("isbi2015_mean", "isbi2015_senior"):
        if name in acc:
            lines.append(_measured_row(acc[name], f"HTC `{name}`"))
    model, mre, pool, note = PUBLISHED_GU2NET_GRID
    lines.append(f"| {model} (published, {note}) | GU2Net resized grid, {pool} | {mre} | - | - |")
    if "gu2net_grid" in acc:
        lines.append(_measured_row(acc["gu2net_grid"], "HTC `gu2net_grid`"))
    lines += [
        "",
        "The resized-grid rows are not comparable with the original-resolution rows (REFERENCE section 1): a 0.47 mm "
        "grid with rounded labels and predictions.",
        "",
    ]
    return lines


def _cross_table(acc: dict) -> list[str]:
    rec = acc.get("hamedan_px")
    if rec is None:
        return []
    s = _summary(rec)
    flat = [e for row in rec["errors"] for e in row if e == e]  # NaN: landmark not annotated
    radii = (5, 10, 15, 20)
    rates = _rates(rec["errors"], radii)
    return [
        "#### Cross-dataset: trained on ISBI 2015, evaluated on Hamedan",
        "",
        "No published counterpart. Pixels of the stored Hamedan images (670 x 835; their spacing is unknown, so no mm "
        "calibration is claimed). For scale: the dataset's own note gives a mean inter-observer distance of 11.98 "
        "original px, i.e. about 6.0 stored px (`hamedan_ceph/dataset.json`, not measured here). SDR radii in "
        "stored pixels, from the per-pair errors, with `<=`.",
        "",
        f"| model | protocol | MRE px (SD) | SDR % at {' / '.join(map(str, radii))} px | pairs |",
        "|---|---|---|---|---|",
        f"| HTC (measured, CPU-scale) | {rec['protocol']} | {s['mre']:.2f} ({s['sd']:.2f}) | {rates} | {len(flat)} |",
        "",
    ]


def _published_htc() -> list[str]:
    lines = [
        "### Published HTC-paper tables (for reference; no measured counterpart here)",
        "",
        "XCAT, ISBI 2023 and the full hand atlas are not in `../shared/datasets`, and the published configurations "
        "need a GPU. Quoted as published (MRE mm (SD) / SDR %); the paper's 16.2M for HTC is not what its released "
        "code builds (see [HTC's parameters](#htcs-parameters)).",
        "",
    ]
    for title, rows in PUBLISHED_HTC:
        lines += [f"{title}:", "", "| model (published) | params | MRE (SD) | SDR |", "|---|---|---|---|"]
        lines += [f"| {m} | {p} | {mre} | {sdr} |" for m, p, mre, sdr in rows]
        lines.append("")
    return lines


def htc_parameters_section() -> list[str]:
    lines = [
        "### HTC's parameters",
        "",
        "XCAT head configuration (3 input channels, K = 13). The `params` column above counts what each module "
        "registers.",
        "",
        "| HTC | parameters | source |",
        "|---|---|---|",
    ]
    lines += [f"| {what} | {count} | {source} |" for what, count, source in HTC_PARAMETERS]
    return lines + [""]


# ----------------------------------------------------------------------------------------------- speed


def networks_section(speed: dict) -> list[str]:
    lines = ["## Network throughput (CPU)", ""]
    cases = _benchmarks(speed, "networks", "test_cpu[")
    if not cases:
        return lines + ["No network results recorded yet: run `python -m benchmarks speed --only networks`.", ""]
    lines += [
        "Command: `python -m benchmarks speed --only networks` (pytest-benchmark, `benchmarks/bench_networks.py`). "
        "Batch 2, fp32, 2 torch threads; a training step is forward, loss, backward and optimizer step. Images/s "
        "from the best round (mean round in brackets); peak memory is the resident-set growth of two steps in a "
        "fresh process (activations, gradients, optimizer state; not the weights); GFLOP = forward FLOPs of one "
        "image (a multiply-add is 2). `*_original` rows run op-by-op restatements of the published code with the "
        "same weights; `vs original` is the ratio of best rounds taken in this run, but not interleaved (see the "
        "interleaved GU2Net table for the ratio that counts). The cores were shared with other engineers' work: "
        "load averages are given per row, and absolute rates are pessimistic.",
        "",
        "| model | input (B, C, W, H) | mode | images/s best (mean) | peak mem MiB | GFLOP/img fwd | params | "
        "vs original | load 1 min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    best = {}
    for b in cases:
        i = b["extra_info"]
        best[(i["model"], tuple(i["input_shape"]), i["mode"])] = i["images_per_s_best"]
    for b in cases:
        i = b["extra_info"]
        base = best.get((i["model"].split("_")[0] + "_original", tuple(i["input_shape"]), i["mode"]))
        ratio = "-" if base is None or i["model"].endswith("_original") else f"{i['images_per_s_best'] / base:.2f}x"
        lines.append(
            f"| {i['model']} | {tuple(i['input_shape'])} | {i['mode']} | {i['images_per_s_best']:.3f} "
            f"({i['images_per_s_mean']:.3f}) | {i['peak_mem_mb']:.0f} | {i['gflops_per_image']:.1f} | "
            f"{i['parameters'] / 1e6:.2f}M | {ratio} | {_load(i)} |"
        )
    lines += [
        "",
        "`htc_original` is our own restatement of the released HTC (the test oracle), not the released code: its "
        "23.07M are the 21.89M the released code uses plus the two FPN output convs whose results it discards "
        "(see [HTC's parameters](#htcs-parameters)).",
        "",
        _provenance_line(cases[0]["extra_info"]),
        "",
    ]
    return lines + htc_parameters_section() + gu2net_section(speed) + sweep_section(speed) + gpu_section()


def gu2net_section(speed: dict) -> list[str]:
    pairs = _benchmarks(speed, "networks", "test_gu2net_speedup_interleaved")
    lines = ["### GU2Net against the original (speed bar: at least 1.5x)", ""]
    if not pairs:
        return lines + ["Not recorded yet.", ""]
    lines += [
        "Original-style and ours alternate round by round in one process (same weights, same input, 2 threads, "
        "batch 2, 512 x 416, fp32), so the ratio is taken under the same load. The issue's bar: ours at least "
        f"{GU2NET_BAR}x the original's {GU2NET_ORIGINAL_QUOTED['train']} train / "
        f"{GU2NET_ORIGINAL_QUOTED['infer']} infer images/s (quoted for this kind of machine).",
        "",
        "| mode | original img/s best (median) | ours img/s best (median) | speed-up best (median) | per round | "
        "ours / quoted original | load 1 min |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in pairs:
        i = b["extra_info"]
        quoted = GU2NET_ORIGINAL_QUOTED["train" if i["mode"] == "train" else "infer"]
        lines.append(
            f"| {i['mode']} | {i['original_images_per_s_best']:.3f} ({i['original_images_per_s_median']:.3f}) | "
            f"{i['ours_images_per_s_best']:.3f} ({i['ours_images_per_s_median']:.3f}) | {i['speedup_best']:.2f}x "
            f"({i['speedup_median']:.2f}x) | {i['speedup_per_round']} | "
            f"{i['ours_images_per_s_best'] / quoted:.2f}x | {_load(i)} |"
        )
    verdicts = []
    for b in pairs:
        i = b["extra_info"]
        met = i["speedup_median"] >= GU2NET_BAR
        verdicts.append(
            f"{i['mode']} at load {_load(i)}: {i['speedup_median']:.2f}x median ({'met' if met else 'NOT met'})"
        )
    lines += [
        "",
        "Bar against the interleaved original, one verdict per recorded run: " + "; ".join(verdicts) + ". "
        "Where runs disagree, the one at the lower load (closest to an unshared machine) is the better estimate; "
        "absolute rates fall with load for both networks.",
        "",
        "How (from the `GU2Net` docstring, `monai_landmarks/networks/nets/gu2net.py`): the local net runs "
        "channels-last (NHWC), where oneDNN runs the depthwise 3x3 and pointwise 1x1 convolutions 2-3x faster "
        "than NCHW, while the global net's dense 3x3 convolutions stay NCHW while gradients are recorded; the "
        "decoder's first conv reads `[skip, upsampled]` without materialising the concatenation; the global "
        "sigmoid is applied before the nearest upsampling and the x0.25 downsampling is a strided view; "
        "`for_domain(d, fuse=True)` (`infer_fused`) folds every BatchNorm into its convolution for inference. "
        "Same parameter count (2,742,694) and the same function.",
        "",
    ]
    return lines


def sweep_section(speed: dict) -> list[str]:
    sweeps = _benchmarks(speed, "networks", "test_batch_sweep")
    if not sweeps:
        return []
    lines = [
        "### Throughput by batch size",
        "",
        "Batch sizes alternate round by round (ratios between them share the load). Images/s, best round.",
        "",
        "| model | mode | input (W, H) | " + " | ".join(f"batch {b}" for b in (1, 2, 4, 8)) + " | load 1 min |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in sweeps:
        i = b["extra_info"]
        rates = i["images_per_s_best"]
        cells = " | ".join(_f(rates.get(str(n)), 3) for n in (1, 2, 4, 8))
        lines.append(f"| {i['model']} | {i['mode']} | {tuple(i['input_shape'][2:])} | {cells} | {_load(i)} |")
    lines += ["", "![throughput by batch size](figures/throughput_by_batch.png)", ""]
    return lines


def gpu_section() -> list[str]:
    return [
        "### GPU",
        "",
        "No GPU was lent to this session, so there are no GPU figures yet. `bench_networks.py` has the GPU cases "
        "(fp32, bf16 autocast, channels-last, `torch.compile`, marker `gpu`): on a CUDA machine run "
        "`pytest benchmarks/bench_networks.py -m gpu --benchmark-enable --benchmark-json "
        "benchmarks/results/speed_networks_gpu.json`; each record carries the device name and the achieved "
        "TFLOP/s to set against the device's peak.",
        "",
    ]


def heatmaps_section(speed: dict) -> list[str]:
    lines = ["## Heatmap targets and decoding", ""]
    pairs = _benchmarks(speed, "heatmaps", "test_interleaved_ratios")
    if pairs:
        lines += [
            "Command: `python -m benchmarks speed --only heatmaps`. Ours (`GenerateHeatmapsd`) against MONAI's "
            "`GenerateHeatmapd` and against merely allocating and zeroing the output (`torch.zeros`), on the "
            "same sub-pixel points, one sample, sigma 2 px, window 4 sigmas. The three alternate round by round "
            "(fast ones averaged over 5 calls per round), so the ratios share the machine's load. Targets (issue "
            "2): at least 100x MONAI at 304 x 256 (K=37) and 512 x 416 (K=19); within 2x of allocate+zero at "
            "1216 x 1024.",
            "",
            "| case | K | size (W x H) | ours ms median | MONAI ms median | MONAI / ours median (min) | "
            "ours / zeros median (min) | target | load 1 min |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for b in pairs:
            i = b["extra_info"]
            large = i["size"][0] > 1000
            if large:
                met = i["ours_over_zeros_median"] <= 2
                target = f"<= 2x zeros: {'met' if met else 'NOT met'}"
            else:
                met = i["monai_over_ours_median"] >= 100
                target = f">= 100x: {'met' if met else 'NOT met'}"
            lines.append(
                f"| {i['case']} | {i['K']} | {i['size'][0]} x {i['size'][1]} | {1e3 * i['seconds_median']['ours']:.2f} "
                f"| {1e3 * i['seconds_median']['monai']:.1f} | {i['monai_over_ours_median']:.0f}x "
                f"({i['monai_over_ours_min']:.0f}x) | {i['ours_over_zeros_median']:.2f} "
                f"({i['ours_over_zeros_min']:.2f}) | {target} | {_load(i)} |"
            )
        lines += ["", _provenance_line(pairs[0]["extra_info"]), ""]
    else:
        lines += ["No interleaved heatmap results recorded yet: run `python -m benchmarks speed --only heatmaps`.", ""]
    lines += [
        "Per-operation timings, the decoders against a bare `argmax` (a 4 x 37 x 304 x 256 batch) and the "
        "placement accuracy of both renderers (how far each rendered Gaussian lies from the sub-pixel point) are in "
        "[HEATMAPS.md](HEATMAPS.md), written by the same run.",
        "",
    ]
    return lines


def pipeline_section(speed: dict) -> list[str]:
    lines = ["## Data pipeline against the network", ""]
    cases = _benchmarks(speed, "pipeline", "test_pipeline_vs_network")
    if not cases:
        return lines + ["Not recorded yet: run `python -m benchmarks speed --only pipeline`.", ""]
    lines += [
        "Command: `python -m benchmarks speed --only pipeline` (`benchmarks/bench_pipeline.py`). The bundle's own "
        "`train#dataset` (parsed from its `configs/train.json` with `ConfigParser`) on ISBI 2015 training images: "
        "load and resize the 967 x 1200 PNG, normalise, random affine and intensity augmentation, multiresolution "
        "targets; against the training step of the bundle's `network`, `loss` and `optimizer` at its batch size. "
        "Each round draws one batch, then trains on it (medians over the rounds). A pipeline/network ratio "
        "above 1 means one loader process keeps up; the bundles load in the training process (`num_workers` 0), "
        "so the serial rate is what training gets. The `*_published` cases are the bundles' full-size real-data "
        "settings; for `htc_ceph` these are our own ISBI 2015 settings, not a published configuration.",
        "",
        "| case | input (W, H) | batch | params | pipeline samples/s | network images/s | pipeline / network | "
        "serial images/s | ms per sample: load / augment / targets | load 1 min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b in cases:
        i = b["extra_info"]
        st = i["stage_ms_per_sample"]
        lines.append(
            f"| {i['case']} | {tuple(i['input_size'])} | {i['batch_size']} | {i['parameters'] / 1e6:.2f}M | "
            f"{i['pipeline_samples_per_s']:.2f} | {i['network_images_per_s']:.2f} | {i['pipeline_over_network']:.2f} "
            f"| {i['serial_images_per_s']:.2f} | {st.get('load', 0):.0f} / {st.get('augment', 0):.0f} / "
            f"{st.get('targets', 0):.0f} | {_load(i)} |"
        )
    ratios = [b["extra_info"]["pipeline_over_network"] for b in cases]
    verdict = (
        f"On this CPU one loader process produces samples {min(ratios):.0f} to {max(ratios):.0f} times faster than "
        "the network trains on them: data loading is not the bottleneck here."
        if min(ratios) > 1
        else "At least one case is loader-bound: the pipeline is slower than the network (raise `num_workers`)."
    )
    lines += ["", verdict, "", _provenance_line(cases[0]["extra_info"]), ""]
    return lines


# ----------------------------------------------------------------------------------------------- cascade

# (evaluation, what the row is) of the shipped suites' ISBI 2015 table, in order
CASCADE_ROWS = (
    ("isbi2015_mean_coarse", "coarse only"),
    ("isbi2015_mean_cascade", "cascade"),
    ("isbi2015_senior_cascade", "cascade, senior ground truth"),
    ("gu2net_grid_cascade", "cascade, GU2Net grid"),
)


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    minutes = float(seconds) / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


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


def cascade_section(results: dict) -> list[str]:
    """Coarse-only against the cascade for the shipped ceph bundles; only the parts whose result files exist."""
    shipped, training = results["shipped"], results["training"]
    speed = _benchmarks(results["speed"], "cascade", "test_cascade_end_to_end")
    if not (shipped or training or speed):
        return []
    lines = [
        "## Coarse-to-fine cascade",
        "",
        "The weights the ceph bundles ship (`bundles/<bundle>/models/model.pt`, trained with the bundle's "
        "`configs/train.json` CPU recipe), alone (coarse only) and followed by their patch refiner "
        "(`models/refiner.pt`, trained with `configs/refine.json`): a patch per landmark is cut from the "
        "full-resolution image around the coarse landmark at the refiner's pixel size, refined and decoded "
        "(`monai_landmarks/engines/cascade.py`). Nothing is trained by the benchmark.",
        "",
    ]
    lines += _cascade_accuracy(shipped, training) + _cascade_hamedan(shipped)
    lines += _cascade_training(shipped, training) + _cascade_speed(speed)
    return lines


def _shipped_suites(shipped: dict) -> list[tuple[str, dict]]:
    return sorted(shipped.items(), key=lambda kv: (not kv[0].startswith("htc"), kv[0]))


def _cascade_accuracy(shipped: dict, training: dict) -> list[str]:
    if not any(ev in records for records in shipped.values() for ev, _ in CASCADE_ROWS):
        return []
    lines = [
        "### Accuracy: ISBI 2015 test1, coarse only against the cascade",
        "",
        "Commands: `python -m benchmarks accuracy --suite htc_ceph_shipped` and `... --suite gu2net_ceph_shipped` "
        "(the evaluations of each are listed below). MRE mm (SD); SDR % with `<=`. Training wall time: what the "
        "row's weights took to train, the coarse model for coarse-only rows, coarse model plus refiner for "
        "cascade rows (see the training table).",
        "",
        "| bundle | evaluation | protocol | MRE (SD) | SDR % at 2 / 2.5 / 3 / 4 mm | training wall time |",
        "|---|---|---|---|---|---|",
    ]
    deltas = []
    for suite, records in _shipped_suites(shipped):
        coarse_s, refiner_s, _ = _training_seconds(_bundle_of(suite, records), records, training)
        for ev, what in CASCADE_ROWS:
            rec = records.get(ev)
            if rec is None:
                continue
            s = _summary(rec)
            trained = _duration(_total(coarse_s, refiner_s) if rec.get("cascade") else coarse_s)
            lines.append(
                f"| `{rec['bundle']}` | {what} (`{ev}`) | {_protocol(rec)} | {s['mre']:.2f} ({s['sd']:.2f}) | "
                f"{_sdr_cells(s['sdr'])} | {trained} |"
            )
        deltas += _refinement_delta(records)
    lines += ["", *deltas, ""] if deltas else [""]
    lines += ["Evaluation commands:", ""]
    order = [ev for ev, _ in CASCADE_ROWS] + ["hamedan_px_cascade"]
    for suite, records in _shipped_suites(shipped):
        for ev, rec in sorted(records.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
            if "summary" in rec:
                lines.append(f"- `{suite}` `{ev}`: computed from the `{rec.get('derived_from')}` predictions")
            else:
                cmd = _command(rec["eval_command"])
                lines.append(f"- `{suite}` `{ev}` ({rec['eval_wall_seconds']} s, load {_load(rec)}): `{cmd}`")
    overlays = [path for _, records in _shipped_suites(shipped) for rec in records.values() for path in
                rec.get("overlays", [])]  # fmt: skip
    if overlays:
        lines += ["", "Overlays (not committed, see above): " + ", ".join(f"`{p}`" for p in overlays) + "."]
    any_rec = next(rec for _, records in _shipped_suites(shipped) for rec in records.values())
    device = _without_threads(_provenance_line(any_rec))
    lines += ["", f"{device} Bundle runs: {any_rec.get('threads', '?')} torch thread(s) (`OMP_NUM_THREADS`).", ""]
    return lines


def _without_threads(line: str) -> str:
    """A provenance line without the torch threads of the process that wrote it (rows give their own)."""
    return re.sub(r", \d+ torch threads\)", ")", line)


def _bundle_of(suite: str, records: dict) -> str:
    return next(iter(records.values()), {}).get("bundle", suite.removesuffix("_shipped"))


def _refinement_delta(records: dict) -> list[str]:
    """What the refiner changes on the same images, mean-of-annotators ground truth."""
    coarse, cascade = records.get("isbi2015_mean_coarse"), records.get("isbi2015_mean_cascade")
    if coarse is None or cascade is None:
        return []
    a, b = _summary(coarse), _summary(cascade)
    same = coarse.get("image_ids") == cascade.get("image_ids")
    return [
        f"- `{cascade['bundle']}`: the refiner takes the MRE from {a['mre']:.2f} to {b['mre']:.2f} mm "
        f"({b['mre'] - a['mre']:+.2f}) and SDR at 2 mm from {a['sdr'].get('2', float('nan')):.1f} to "
        f"{b['sdr'].get('2', float('nan')):.1f} %" + (" (same images)." if same else " (NOT the same images).")
    ]


def _cascade_hamedan(shipped: dict) -> list[str]:
    rows = [(suite, records["hamedan_px_cascade"]) for suite, records in _shipped_suites(shipped)
            if "hamedan_px_cascade" in records]  # fmt: skip
    if not rows:
        return []
    radii = (5, 10, 15, 20)
    lines = [
        "### Cross-dataset: the cascade on Hamedan, pixels",
        "",
        "No published counterpart; stored pixels of the Hamedan images (670 x 835, spacing unknown), SDR radii in "
        "stored pixels with `<=`. For scale: the dataset's note gives a mean inter-observer distance of about 6.0 "
        "stored px. The refiner cuts its patches as if the images were at the bundle's default spacing, as "
        "`monai-landmarks predict` does for a PNG without `--spacing`.",
        "",
        f"| bundle | protocol | MRE px (SD) | SDR % at {' / '.join(map(str, radii))} px | pairs |",
        "|---|---|---|---|---|",
    ]
    for _, rec in rows:
        s = _summary(rec)
        pairs = sum(1 for row in rec["errors"] for e in row if e == e)  # NaN: landmark not annotated
        lines.append(
            f"| `{rec['bundle']}` | {rec['protocol']} | {s['mre']:.2f} ({s['sd']:.2f}) | "
            f"{_rates(rec['errors'], radii)} | {pairs} |"
        )
    return lines + [""]


def _cascade_training(shipped: dict, training: dict) -> list[str]:
    bundles = sorted({_bundle_of(suite, records) for suite, records in shipped.items()} | set(training))
    if not bundles:
        return []
    lines = [
        "### Training wall time of the shipped weights",
        "",
        "| bundle | coarse model | refiner | coarse + refiner | torch threads | load 1 min | source |",
        "|---|---|---|---|---|---|---|",
    ]
    commands = []
    for bundle in sorted(bundles, key=lambda b: (not b.startswith("htc"), b)):
        records = shipped.get(f"{bundle}_shipped", {})
        coarse_s, refiner_s, source = _training_seconds(bundle, records, training)
        t = training.get(bundle, {})
        lines.append(
            f"| `{bundle}` | {_duration(coarse_s)} | {_duration(refiner_s)} | "
            f"{_duration(_total(coarse_s, refiner_s))} | {t.get('threads', '-')} | {t.get('load', '-')} | {source} |"
        )
        commands += [f"- `{bundle}`: `{_command(cmd)}`" for cmd in t.get("commands", [])]
    if commands:
        lines += ["", "Training commands:", "", *commands]
    return lines + [""]


def _cascade_speed(cases: list[dict]) -> list[str]:
    if not cases:
        return []
    first = cases[0]["extra_info"]
    target, target_threads = first["target_seconds_per_image"], first["target_threads"]
    lines = [
        "### End-to-end CPU inference: seconds per image",
        "",
        "Command: `python -m benchmarks speed --only cascade` (`benchmarks/bench_cascade.py`). The path of "
        "`monai-landmarks predict`: the bundle's `configs/inference.json` through `ConfigWorkflow`, built once; "
        "each round runs its evaluator over the images: read the 967 x 1200 PNG, resize, coarse network under "
        "the bundle's flip-test inferer, decode, then (cascade) 19 patches, refiner and decode, then the JSON and "
        "overlay picture the command writes. Seconds per image = round time / images, median over the rounds "
        "(best in brackets). Coarse only and cascade take turns within every round, so their ratio shares the "
        f"machine's load. Target: at most {target:g} s per image with {target_threads} threads.",
        "",
        "| bundle | torch threads | images | coarse only s/image | cascade s/image | cascade / coarse | target | "
        "weights | load 1 min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i in sorted((b["extra_info"] for b in cases), key=lambda i: (i["bundle"] != "htc_ceph", i["threads"])):
        coarse, cascade = i["seconds_per_image"]["coarse"], i["seconds_per_image"]["cascade"]
        verdict = "-"
        if i["threads"] == target_threads:
            verdict = f"<= {target:g} s: {'met' if cascade['median'] <= target else 'NOT met'}"
        lines.append(
            f"| `{i['bundle']}` | {i['threads']} | {i['images']} | {coarse['median']:.3f} ({coarse['best']:.3f}) | "
            f"{cascade['median']:.3f} ({cascade['best']:.3f}) | {i['cascade_over_coarse_median']:.2f}x | {verdict} | "
            f"{i['weights']} | {_load(i)} |"
        )
    lines += ["", f"Images: {first['image_source']}.", "", _without_threads(_provenance_line(first)), ""]
    return lines


# ----------------------------------------------------------------------------------------------- figures


def _sdr_curve(ax, errors: list[list[float]], label: str, max_radius: float) -> None:
    flat = sorted(e for row in errors for e in row if e == e)  # NaN: no ground truth
    radii = [max_radius * i / 200 for i in range(201)]
    n, j, rates = len(flat), 0, []
    for r in radii:
        while j < n and flat[j] <= r:
            j += 1
        rates.append(100 * j / n)
    ax.plot(radii, rates, label=label)


def write_figures(results: dict, figures_dir: Path) -> list[str]:
    """PNG plots; returns the Markdown lines that show them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures_dir.mkdir(parents=True, exist_ok=True)
    acc, lines = results["accuracy"], []
    mm = [n for n in ("isbi2015_mean", "isbi2015_senior", "gu2net_grid") if n in acc]
    if mm or "hamedan_px" in acc:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for n in mm:
            _sdr_curve(axes[0], acc[n]["errors"], n, 10.0)
        if "hamedan_px" in acc:
            _sdr_curve(axes[1], acc["hamedan_px"]["errors"], "hamedan_px (trained on ISBI 2015)", 30.0)
        for ax, unit in zip(axes, ("mm", "px"), strict=True):
            ax.set(xlabel=f"radius ({unit})", ylabel="success detection rate (%)", ylim=(0, 100))
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="lower right", fontsize=8)
        fig.suptitle("SDR curves, CPU-scale HTC (measured)")
        fig.tight_layout()
        fig.savefig(figures_dir / "sdr_curve.png", dpi=90)
        plt.close(fig)
        lines += ["![SDR curves](figures/sdr_curve.png)", ""]
    if "isbi2015_mean" in acc:
        _per_landmark_figure(plt, acc["isbi2015_mean"], figures_dir / "per_landmark_error.png")
        lines += ["![per-landmark error](figures/per_landmark_error.png)", ""]
    _sweep_figure(plt, results["speed"], figures_dir / "throughput_by_batch.png")
    return lines


def _per_landmark_figure(plt, rec: dict, path: Path) -> None:
    per = rec["metrics"]["per_landmark"]
    names = list(per)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar(range(len(names)), [per[n]["mre"] for n in names], yerr=[per[n]["sd"] for n in names], capsize=3)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set(ylabel="radial error, mm (mean +- SD)", title=f"Per-landmark error, {rec['evaluation']} (CPU-scale HTC)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _sweep_figure(plt, speed: dict, path: Path) -> None:
    sweeps = _benchmarks(speed, "networks", "test_batch_sweep")
    if not sweeps:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for b in sweeps:
        i = b["extra_info"]
        rates = i["images_per_s_best"]
        ax.plot([int(k) for k in rates], list(rates.values()), marker="o", label=f"{i['model']} {i['mode']}")
    ax.set(xlabel="batch size", ylabel="images/s (CPU, 2 threads)", xscale="log", title="Throughput by batch size")
    ax.set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


SYNTHETIC_OVERLAYS = sorted(FIGURES_DIR.glob("overlay_synthetic_*.png"))


def _overlay_lines(acc: dict) -> list[str]:
    """Committed example overlays are of synthetic phantoms; those of dataset images are only listed by path."""
    lines = [f"![{p.stem}]({p.relative_to(FIGURES_DIR.parent).as_posix()})" for p in SYNTHETIC_OVERLAYS]
    if lines:
        lines = ["Best and worst test phantom of the `htc_ceph` default run (green: truth, red: prediction):", "",
                 *lines, ""]  # fmt: skip
    local = [path for rec in acc.values() for path in rec.get("overlays", [])]
    if local:
        lines += ["Overlays of the dataset evaluations are written beside the runs and not committed (the datasets "
                  "carry no redistribution licence): " + ", ".join(f"`{p}`" for p in local) + ".", ""]  # fmt: skip
    return lines


# ----------------------------------------------------------------------------------------------- report


def render(results: dict, figure_lines: list[str]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m benchmarks report` from the result files in `benchmarks/results/` "
        f"({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC); do not edit by hand. `python -m benchmarks all` "
        "reruns everything on CPU. All timings were taken on 2 CPU cores shared with other engineers' test runs: "
        "each record carries the 1-minute load average (2 is our own two threads; more means sharing), and every "
        "comparison that matters is a ratio taken interleaved, round by round, in one run.",
        "",
    ]
    cascade = cascade_section(results)
    lines += _contents(bool(cascade))
    lines += accuracy_section(results["accuracy"]) + figure_lines + _overlay_lines(results["accuracy"]) + cascade
    lines += anatomies_section(results.get("anatomies", {}), _command)
    lines += measurements_section(results.get("measurements", {}), _provenance_line, _command)
    lines += networks_section(results["speed"]) + heatmaps_section(results["speed"])
    lines += pipeline_section(results["speed"])
    return "\n".join(lines).rstrip() + "\n"


def _contents(cascade: bool = False) -> list[str]:
    return [
        "Contents: [Accuracy](#accuracy) · "
        + ("[Cascade](#coarse-to-fine-cascade) · " if cascade else "")
        + "[Network throughput](#network-throughput-cpu) · "
        "[Heatmaps](#heatmap-targets-and-decoding) · [Data pipeline](#data-pipeline-against-the-network)",
        "",
    ]


def write_report(results_dir: Path, output: Path, figures: bool = True) -> str:
    results = load_results(results_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure_lines = write_figures(results, output.parent / "figures") if figures else []
    text = render(results, figure_lines)
    output.write_text(text)
    return text
