"""The report's PNG figures (matplotlib) and the lines that show them; the committed synthetic overlays."""

from __future__ import annotations

from pathlib import Path

from benchmarks.provenance import FIGURES_DIR
from benchmarks.report.records import cases
from benchmarks.report.template import block
from monai_landmarks.metrics.benchmark_protocols import sdr_curve

CURVE_POINTS = 201  # radii from 0 to the axis' end


def _sdr_curve(ax, errors: list[list[float]], label: str, max_radius: float) -> None:
    radii = [max_radius * i / (CURVE_POINTS - 1) for i in range(CURVE_POINTS)]
    ax.plot(radii, sdr_curve(errors, radii), label=label)


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
    sweeps = cases(speed, "networks", "test_batch_sweep")
    if not sweeps:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for i in sweeps:
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


def overlay_lines(acc: dict) -> list[str]:
    """Committed example overlays are of synthetic phantoms; those of dataset images are only listed by path."""
    synthetic = sorted(FIGURES_DIR.glob("overlay_synthetic_*.png"))
    lines = [f"![{p.stem}]({p.relative_to(FIGURES_DIR.parent).as_posix()})" for p in synthetic]
    if lines:
        lines = block("overlays_synthetic") + lines + [""]
    local = [path for rec in acc.values() for path in rec.get("overlays", [])]
    if local:
        lines += block("overlays_local", paths=", ".join(f"`{p}`" for p in local))
    return lines
