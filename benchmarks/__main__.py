"""``python -m benchmarks``: run the speed and accuracy suites and write the report. Usage::

python -m benchmarks speed [--only heatmaps pipeline networks cascade]   # pytest-benchmark JSON in benchmarks/results
python -m benchmarks accuracy [--suite isbi2015_cpu_scale] [--checkpoint model.pt]
python -m benchmarks accuracy --suite htc_ceph_shipped [--checkpoint model.pt --refiner refiner.pt]
python -m benchmarks report                                       # benchmarks/README.md and figures
python -m benchmarks all                                          # all three, in that order
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.provenance import RESULTS_DIR, ROOT

SPEED_MODULES = {
    "heatmaps": "benchmarks/bench_heatmaps.py",
    "pipeline": "benchmarks/bench_pipeline.py",
    "networks": "benchmarks/bench_networks.py",
    "cascade": "benchmarks/bench_cascade.py",
}
# options that name one suite's weights or runs: only with a single --suite
ONE_SUITE_OPTIONS = ("checkpoint", "refiner", "coarse_run", "refiner_run")
DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where result JSON files are")

    speed = sub.add_parser("speed", parents=[common], help="pytest-benchmark suites; JSON into the results dir")
    _speed_args(speed)
    accuracy = sub.add_parser("accuracy", parents=[common], help="train or load a bundle, evaluate it by protocol")
    _accuracy_args(accuracy)
    report = sub.add_parser("report", parents=[common], help="write benchmarks/README.md and figures from results")
    _report_args(report)
    everything = sub.add_parser("all", parents=[common], help="speed, accuracy, then report")
    _speed_args(everything)
    _accuracy_args(everything)
    _report_args(everything)
    return parser


def _speed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", nargs="+", choices=list(SPEED_MODULES), default=list(SPEED_MODULES))
    p.add_argument("-k", dest="keyword", default=None, help="pytest -k expression to select cases")
    p.add_argument("--tag", default=None, help="write speed_<module>-<tag>.json (parts of a module, merged by report)")


def _accuracy_args(p: argparse.ArgumentParser) -> None:
    from benchmarks.accuracy import SUITES

    p.add_argument("--suite", nargs="+", choices=list(SUITES), default=["isbi2015_cpu_scale"])
    p.add_argument("--checkpoint", type=Path, default=None, help="evaluate these weights instead of training "
                   "(shipped suites: instead of bundles/<b>/models/model.pt)")  # fmt: skip
    p.add_argument("--refiner", type=Path, default=None, help="shipped suites: refiner weights instead of "
                   "bundles/<b>/models/refiner.pt")  # fmt: skip
    p.add_argument("--coarse-run", type=Path, default=None, help="shipped suites: the coarse model's run folder "
                   "(epochs and wall time are read from it)")  # fmt: skip
    p.add_argument("--refiner-run", type=Path, default=None, help="shipped suites: the refiner's run folder")
    p.add_argument("--datasets-dir", type=Path, default=DEFAULT_DATASETS)
    p.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "benchmarks")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the bundle runs (robust on shared cores)")


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "README.md")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG plots (no matplotlib needed)")


def speed_command(module: str, results_dir: Path, keyword: str | None = None, tag: str | None = None) -> list[str]:
    name = Path(module).stem.removeprefix("bench_") + (f"-{tag}" if tag else "")
    cmd = [sys.executable, "-m", "pytest", module, "--benchmark-enable", "-p", "no:cacheprovider", "-s", "-q"]
    cmd += [f"--benchmark-json={results_dir / f'speed_{name}.json'}"]
    return cmd + (["-k", keyword] if keyword else [])


def run_speed(args: argparse.Namespace) -> int:
    args.results_dir.mkdir(parents=True, exist_ok=True)
    status = 0
    for name in args.only:
        cmd = speed_command(SPEED_MODULES[name], args.results_dir, args.keyword, args.tag)
        print("[benchmarks] " + " ".join(cmd), flush=True)
        status |= subprocess.run(cmd, cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)}).returncode
    return status


def run_accuracy(args: argparse.Namespace) -> int:
    from benchmarks.accuracy import run_suite

    for suite in args.suite:
        written = run_suite(
            suite, args.datasets_dir, args.runs_dir, args.checkpoint, args.threads, args.results_dir,
            refiner=args.refiner, coarse_run=args.coarse_run, refiner_run=args.refiner_run,
        )  # fmt: skip
        for path in written:
            print(f"[benchmarks] wrote {path}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from benchmarks.report import write_report

    write_report(args.results_dir, args.output, figures=not args.no_figures)
    print(f"[benchmarks] wrote {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    given = [f"--{o.replace('_', '-')}" for o in ONE_SUITE_OPTIONS if getattr(args, o, None) is not None]
    if given and len(getattr(args, "suite", [])) > 1:
        parser.error(f"{', '.join(given)} name one suite's weights or runs: give a single --suite")
    if args.command == "speed":
        return run_speed(args)
    if args.command == "accuracy":
        return run_accuracy(args)
    if args.command == "report":
        return run_report(args)
    return run_speed(args) | run_accuracy(args) | run_report(args)


if __name__ == "__main__":
    sys.exit(main())
