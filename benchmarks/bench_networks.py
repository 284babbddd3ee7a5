"""Speed and memory of GU2Net and HTC (a benchmark, not a test: nothing here asserts a speed).

Run (CPU, about 15 minutes on 2 cores; ``-s`` prints one summary line per case)::

    pytest benchmarks/bench_networks.py --benchmark-enable -p no:cacheprovider -s

GPU variants (fp32, bf16 autocast, channels-last, ``torch.compile``) carry the ``gpu`` marker, which the
project's pytest options deselect by default; on a CUDA machine add ``-m gpu`` (they skip without CUDA).
``BENCH_ROUNDS`` (default 3) sets the timed rounds of the cheaper cases; ``BENCH_SKIP_LARGE=1`` skips HTC at
1024 x 1216.

What is measured, per case (``benchmark.extra_info``): images/s from the best and from the mean round (batch /
seconds per step), peak memory, forward GFLOPs per image, and the record's provenance (seed, git commit, torch and
MONAI versions, device, threads, batch, input size). A training step is forward, loss, backward and an optimizer
step; inference is a forward under ``torch.no_grad()`` in eval mode.

Peak memory on CPU: tracemalloc does not see torch's allocator, so the resident-set high-water mark is used, in a
fresh Python process per case (in one long process, heap pages freed by earlier cases are reused without growing
the resident set): the case is built, freed heap pages are handed back (``gc.collect()``, glibc ``malloc_trim(0)``),
the mark is reset (``/proc/self/clear_refs``) and two steps run; ``peak_mem_mb`` is the high-water mark minus the
resident set before the steps (activations, gradients, optimizer state, workspace; not the weights). Where the reset
is not possible, ``ru_maxrss`` growth is reported instead (a lower bound).

Baselines: ``*_original`` cases run independent, op-by-op restatements of the published implementations
(``tests/networks/_reference_*.py``: NCHW, BatchNorm as separate ops, concatenations, the original's interpolations)
with the same weights; they are our test oracles, not the released code (``htc_original`` keeps the two FPN convs
whose results the original discards, so its parameter count is neither the released code's nor ours);
``test_gu2net_speedup_interleaved`` alternates original and ours round by round, so that the ratio is measured under
the same machine load.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "networks"))  # the original-style reference models

from _reference_gu2net import ReferenceGU2Net  # noqa: E402
from _reference_gu2net import load_from as load_gu2net_reference  # noqa: E402
from _reference_htc import ReferenceHTC  # noqa: E402
from _reference_htc import load_from as load_htc_reference  # noqa: E402

from monai_landmarks.networks import HTC, GU2Net  # noqa: E402

sys.path.insert(0, str(ROOT))
from benchmarks.provenance import record  # noqa: E402

SEED = 0
BATCH = 2
THREADS = 2
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SKIP_LARGE = os.environ.get("BENCH_SKIP_LARGE", "0") == "1"

# (axis0, axis1) = (W, H) in MONAI's channel-first layout; landmarks and channels as published
GU2NET_SIZE = (416, 512)  # ISBI 2015 head, GU2Net config "size: [416, 512]  # width x height"
HTC_SIZES = {"xcat": ((608, 480), 13), "isbi2023": ((1024, 1216), 29)}


# ----------------------------------------------------------------------------------------------- provenance


def _provenance(device: torch.device, size: tuple[int, int], in_channels: int, batch: int = BATCH) -> dict:
    return record(
        SEED,
        device=str(device),
        threads=torch.get_num_threads(),
        batch_size=batch,
        input_shape=[batch, in_channels, *size],
        load_average_1min_at_end=os.getloadavg()[0],  # our 2 threads alone give ~2; more = shared cores
    )


# ----------------------------------------------------------------------------------------------- memory


def _proc_status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _PeakRSS:
    """Resident-set high-water mark of a code region, in MiB above the resident set at its start."""

    def __enter__(self) -> _PeakRSS:
        self.method = "VmHWM reset via /proc/self/clear_refs, after gc + malloc_trim"
        gc.collect()
        _malloc_trim()  # hand freed heap pages back, so that reuse of them counts as growth again
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.start_kb = _proc_status_kb("VmRSS")
        except OSError:
            self.start_kb = None
        if self.start_kb is None:
            self.method = "ru_maxrss growth (lower bound)"
            self.start_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *exc) -> None:
        if self.method.startswith("VmHWM"):
            end_kb = _proc_status_kb("VmHWM") or self.start_kb
        else:
            end_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.peak_mb = max(0, end_kb - self.start_kb) / 1024


# ----------------------------------------------------------------------------------------------- workloads


def _gflops_per_image(forward: Callable[[torch.Tensor], object], x: torch.Tensor) -> float:
    """Forward FLOPs of one image (a multiply-add is 2 FLOPs), counted by torch.utils.flop_counter."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        forward(x[:1])
    return counter.get_total_flops() / 1e9


def _model(model_name: str, variant: str, out_channels: int, device: torch.device):
    """(module, forward) of one variant: ours, ours fused for inference, or the original-style reference."""
    torch.manual_seed(SEED)
    if model_name == "gu2net":
        net = GU2Net(2, 1, out_channels).to(device)
        if variant == "gu2net_original":
            ref = load_gu2net_reference(ReferenceGU2Net(1, (out_channels,)), net).to(device)
            return ref, (lambda x: ref(x, 0))
        if variant == "gu2net_fused":
            fused = net.eval().for_domain(0, fuse=True)
            return fused, fused
        return net, (lambda x: net(x, 0))
    net = HTC(2, 3, out_channels).to(device)
    if variant == "htc_original":
        ref = load_htc_reference(ReferenceHTC(3, out_channels), net).to(device)
        return ref, ref
    if variant == "htc_fused":
        fused = net.eval().fuse()
        return fused, fused
    return net, net


def _data(model_name: str, size, out_channels: int, device: torch.device, batch: int = BATCH):
    """(input batch, loss function, optimizer factory, in_channels), as in the published training setups."""
    g = torch.Generator().manual_seed(SEED)
    if model_name == "gu2net":
        x = torch.randn(batch, 1, *size, generator=g).to(device)
        target = torch.rand(batch, out_channels, *size, generator=g).to(device)

        def loss_fn(out):
            return F.binary_cross_entropy(out.float(), target, reduction="sum")  # as published

        return x, loss_fn, (lambda params: torch.optim.Adam(params, lr=1e-4, weight_decay=1e-4)), 1
    x = torch.randn(batch, 3, *size, generator=g).to(device)
    quarter_t = torch.rand(batch, out_channels, size[0] // 4, size[1] // 4, generator=g).to(device)
    half_t = torch.rand(batch, out_channels, size[0] // 2, size[1] // 2, generator=g).to(device)

    def loss_fn(out):  # MSE per head, weighted as published
        return 1000 * F.mse_loss(out[0].float(), quarter_t) + 3000 * F.mse_loss(out[1].float(), half_t)

    return x, loss_fn, (lambda params: torch.optim.AdamW(params, lr=3e-4, weight_decay=0.01)), 3


def _make_step(module, forward, x, loss_fn, make_optimizer, mode: str, autocast_dtype=None):
    device_type = x.device.type

    def autocast():
        return torch.autocast(device_type, dtype=autocast_dtype, enabled=autocast_dtype is not None)

    if mode == "train":
        module.train()
        opt = make_optimizer([p for p in module.parameters() if p.requires_grad])

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast():
                out = forward(x)
            loss = loss_fn(out)  # outside autocast: binary_cross_entropy refuses autocast on CUDA
            loss.backward()
            opt.step()
    else:
        module.eval()

        def step():
            with torch.no_grad(), autocast():
                forward(x)

    if device_type == "cuda":
        inner = step

        def step():  # noqa: F811
            inner()
            torch.cuda.synchronize()

    return step


def _summary(benchmark, name: str) -> None:
    info = benchmark.extra_info
    print(
        f"\n[bench] {name}: {info['images_per_s_best']:.3f} img/s (best), {info['images_per_s_mean']:.3f} (mean), "
        f"peak {info['peak_mem_mb']:.0f} MiB, {info['gflops_per_image']:.1f} GFLOP/img fwd, "
        f"load {info.get('load_average_1min_at_start', float('nan')):.2f} -> {info['load_average_1min_at_end']:.2f}"
    )


def _fill_timing(benchmark, seconds: list[float], batch: int = BATCH) -> None:
    benchmark.extra_info["seconds_per_step"] = [round(s, 4) for s in seconds]
    benchmark.extra_info["images_per_s_best"] = batch / min(seconds)
    benchmark.extra_info["images_per_s_mean"] = batch / statistics.fmean(seconds)
    benchmark.extra_info["images_per_s_median"] = batch / statistics.median(seconds)


def _interleaved(benchmark, steps: dict, rounds: int) -> dict[object, list[float]]:
    """Seconds of each step per round, the steps taking turns within every round so that they share the load."""
    times: dict[object, list[float]] = {k: [] for k in steps}
    benchmark.extra_info["load_average_1min_at_start"] = os.getloadavg()[0]

    def one_round():
        for key, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[key].append(time.perf_counter() - t0)

    benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=1)
    return times


def _probe_main(model_name: str, variant: str, mode: str, size_key: str) -> dict:
    """In a fresh process: build one case, then the resident-set growth of two steps (the first one warms up)."""
    torch.set_num_threads(THREADS)
    device = torch.device("cpu")
    size, out_channels = _size(model_name, size_key)
    module, forward = _model(model_name, variant, out_channels, device)
    x, loss_fn, make_opt, _ = _data(model_name, size, out_channels, device)
    step = _make_step(module, forward, x, loss_fn, make_opt, mode)
    with _PeakRSS() as mem:
        step()
        step()
    return {"peak_mb": mem.peak_mb, "method": mem.method + ", fresh process, two steps"}


def _memory_probe(model_name: str, variant: str, mode: str, size_key: str) -> dict:
    """Peak memory of a case measured in a fresh Python process (no heap left over from earlier cases)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--probe", model_name, variant, mode, size_key]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"peak_mb": float("nan"), "method": f"probe failed: {out.stderr.strip()[-300:]}"}


# ----------------------------------------------------------------------------------------------- CPU cases

CPU_CASES = [
    # (model, variant, mode, size key)
    ("gu2net", "gu2net_original", "train", "head"),
    ("gu2net", "gu2net", "train", "head"),
    ("gu2net", "gu2net_original", "infer", "head"),
    ("gu2net", "gu2net", "infer", "head"),
    ("gu2net", "gu2net_fused", "infer", "head"),
    ("htc", "htc_original", "train", "xcat"),
    ("htc", "htc", "train", "xcat"),
    ("htc", "htc_original", "infer", "xcat"),
    ("htc", "htc", "infer", "xcat"),
    ("htc", "htc_fused", "infer", "xcat"),
    ("htc", "htc", "train", "isbi2023"),
    ("htc", "htc", "infer", "isbi2023"),
    ("htc", "htc_fused", "infer", "isbi2023"),
]


def _size(model_name: str, key: str):
    if model_name == "gu2net":
        return GU2NET_SIZE, 19
    return HTC_SIZES[key]


@pytest.mark.parametrize("model_name, variant, mode, size_key", CPU_CASES, ids=["-".join(c) for c in CPU_CASES])
def test_cpu(benchmark, model_name, variant, mode, size_key):
    if SKIP_LARGE and size_key == "isbi2023":
        pytest.skip("BENCH_SKIP_LARGE=1")
    torch.set_num_threads(THREADS)
    device = torch.device("cpu")
    size, out_channels = _size(model_name, size_key)
    module, forward = _model(model_name, variant, out_channels, device)
    x, loss_fn, make_opt, in_channels = _data(model_name, size, out_channels, device)
    step = _make_step(module, forward, x, loss_fn, make_opt, mode)
    benchmark.extra_info["load_average_1min_at_start"] = os.getloadavg()[0]
    rounds = 2 if size_key == "isbi2023" else ROUNDS
    seconds: list[float] = []

    def timed():
        t0 = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - t0)

    benchmark.pedantic(timed, rounds=rounds, iterations=1, warmup_rounds=1)
    seconds = seconds[1:] or seconds  # drop the warm-up round (all of it when pytest-benchmark is disabled)
    mem = _memory_probe(model_name, variant, mode, size_key)
    benchmark.extra_info.update(_provenance(device, size, in_channels))
    benchmark.extra_info.update(
        {
            "model": variant,
            "mode": mode,
            "layout": getattr(module, "layout", "nchw (original)"),
            "peak_mem_mb": mem["peak_mb"],
            "peak_mem_method": mem["method"],
            "gflops_per_image": _gflops_per_image(forward, x),
            "parameters": sum(p.numel() for p in module.parameters()),
        }
    )
    _fill_timing(benchmark, seconds)
    _summary(benchmark, f"{variant} {mode} {size}")


@pytest.mark.parametrize("mode", ["train", "infer", "infer_fused"])
def test_gu2net_speedup_interleaved(benchmark, mode):
    """Original-style and ours alternate round by round (same weights, same input): the ratio under equal load."""
    torch.set_num_threads(THREADS)
    device = torch.device("cpu")
    ours_variant = "gu2net_fused" if mode == "infer_fused" else "gu2net"
    base_mode = "train" if mode == "train" else "infer"
    steps = {}
    x, loss_fn, make_opt, _ = _data("gu2net", GU2NET_SIZE, 19, device)
    for variant in ("gu2net_original", ours_variant):
        module, forward = _model("gu2net", variant, 19, device)
        steps[variant] = _make_step(module, forward, x, loss_fn, make_opt, base_mode)
    times = _interleaved(benchmark, steps, rounds=max(ROUNDS, 4))
    base, ours = (v[1:] or v for v in times.values())
    benchmark.extra_info.update(_provenance(device, GU2NET_SIZE, 1))
    benchmark.extra_info.update(
        {
            "mode": mode,
            "original_images_per_s_best": BATCH / min(base),
            "ours_images_per_s_best": BATCH / min(ours),
            "original_images_per_s_median": BATCH / statistics.median(base),
            "ours_images_per_s_median": BATCH / statistics.median(ours),
            "speedup_best": min(base) / min(ours),
            "speedup_median": statistics.median(base) / statistics.median(ours),
            "speedup_per_round": [round(b / o, 3) for b, o in zip(base, ours, strict=True)],
        }
    )
    info = benchmark.extra_info
    print(
        f"\n[bench] gu2net {mode} interleaved: original {info['original_images_per_s_best']:.3f} img/s, ours "
        f"{info['ours_images_per_s_best']:.3f} img/s (best rounds); speed-up {info['speedup_best']:.2f}x best, "
        f"{info['speedup_median']:.2f}x median, per round {info['speedup_per_round']}, "
        f"load {info['load_average_1min_at_start']:.2f} -> {info['load_average_1min_at_end']:.2f}"
    )


SWEEP_BATCHES = {"train": (1, 2, 4), "infer": (1, 2, 4, 8)}
SWEEP_CASES = [("gu2net", "gu2net", "head"), ("htc", "htc", "xcat")]


@pytest.mark.parametrize("mode", ["train", "infer"])
@pytest.mark.parametrize("model_name, variant, size_key", SWEEP_CASES, ids=[c[1] for c in SWEEP_CASES])
def test_batch_sweep(benchmark, model_name, variant, size_key, mode):
    """Throughput by batch size; the batch sizes alternate round by round so that they share the machine's load."""
    torch.set_num_threads(THREADS)
    device = torch.device("cpu")
    size, out_channels = _size(model_name, size_key)
    module, forward = _model(model_name, variant, out_channels, device)
    steps = {}
    for batch in SWEEP_BATCHES[mode]:
        x, loss_fn, make_opt, in_channels = _data(model_name, size, out_channels, device, batch=batch)
        steps[batch] = _make_step(module, forward, x, loss_fn, make_opt, mode)
    times = _interleaved(benchmark, steps, rounds=2)
    benchmark.extra_info.update(_provenance(device, size, in_channels, batch=max(steps)))
    benchmark.extra_info.update(
        {
            "model": variant,
            "mode": mode,
            "batch_sizes": list(steps),
            "images_per_s_best": {str(b): b / min(t[1:] or t) for b, t in times.items()},
            "seconds_per_step": {str(b): [round(v, 4) for v in t] for b, t in times.items()},
        }
    )
    rates = ", ".join(f"b{b} {r:.3f}" for b, r in benchmark.extra_info["images_per_s_best"].items())
    print(f"\n[bench] {variant} {mode} {size} by batch (img/s, best): {rates}")


# ----------------------------------------------------------------------------------------------- GPU cases

GPU_VARIANTS = ["fp32", "bf16_autocast", "channels_last", "compile"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("variant", GPU_VARIANTS)
@pytest.mark.parametrize("mode", ["train", "infer"])
@pytest.mark.parametrize("model_name, size_key", [("gu2net", "head"), ("htc", "xcat"), ("htc", "isbi2023")])
def test_gpu(benchmark, model_name, size_key, mode, variant):
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    size, out_channels = _size(model_name, size_key)
    layout = "channels_last" if variant == "channels_last" else "channels_first"
    torch.manual_seed(SEED)
    if model_name == "gu2net":
        module = GU2Net(2, 1, 19, layout=layout).for_domain(0).to(device)
    else:
        module = HTC(2, 3, out_channels, layout=layout).to(device)
    forward = torch.compile(module) if variant == "compile" else module
    x, loss_fn, make_opt, in_channels = _data(model_name, size, out_channels, device)
    dtype = torch.bfloat16 if variant == "bf16_autocast" else None
    step = _make_step(module, forward, x, loss_fn, make_opt, mode, autocast_dtype=dtype)
    seconds: list[float] = []

    def timed():
        t0 = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - t0)

    torch.cuda.reset_peak_memory_stats(device)
    benchmark.pedantic(timed, rounds=max(ROUNDS, 10), iterations=1, warmup_rounds=3)
    seconds = seconds[3:] or seconds
    gflops = _gflops_per_image(module, x)
    benchmark.extra_info.update(_provenance(device, size, in_channels))
    benchmark.extra_info.update(
        {
            "model": model_name,
            "mode": mode,
            "variant": variant,
            "peak_mem_mb": torch.cuda.max_memory_allocated(device) / 2**20,
            "peak_mem_method": "torch.cuda.max_memory_allocated",
            "gflops_per_image": gflops,
        }
    )
    _fill_timing(benchmark, seconds)
    # achieved forward(+backward ~ 2x forward) FLOP rate, to relate to the device's peak
    factor = 3.0 if mode == "train" else 1.0
    benchmark.extra_info["achieved_tflops"] = factor * gflops * benchmark.extra_info["images_per_s_best"] / 1e3
    _summary(benchmark, f"{model_name} {mode} {variant} {size}")


# ----------------------------------------------------------------------------------------------- report


def report(json_path: str) -> str:
    """The report's network sections for one ``--benchmark-json`` file of this module, rendered as
    ``python -m benchmarks report`` renders them (``python benchmarks/bench_networks.py FILE``)."""
    from benchmarks.report.speed import networks_section

    return "\n".join(networks_section({"networks": json.loads(Path(json_path).read_text())}))


if __name__ == "__main__":
    if sys.argv[1] == "--probe":
        print(json.dumps(_probe_main(*sys.argv[2:6])))
    else:
        print(report(sys.argv[1]))
