"""What every benchmark record carries: seed, commit, versions, device and the machine's load."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
FIGURES_DIR = ROOT / "benchmarks" / "figures"


def git_commit() -> str:
    """Short commit hash, with ``+dirty`` when tracked files differ from it; ``unknown`` without git."""
    git = {"cwd": ROOT, "capture_output": True, "text": True, "timeout": 10}
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], **git)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], **git)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float:
    """1-minute load average; on 2 cores our own 2 threads give about 2, more means shared cores."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def record(seed: int, device: str = "cpu", **extra) -> dict:
    """The provenance fields of one record (imports torch and MONAI lazily: the report needs neither)."""
    import monai
    import torch

    if device.startswith("cuda"):
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = f"{cpu_name()} ({os.cpu_count()} logical CPUs, {torch.get_num_threads()} torch threads)"
    return {
        "seed": seed,
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "monai": monai.__version__,
        "python": platform.python_version(),
        "device": device_name,
        "load_average_1min": load_average(),
        **extra,
    }
