"""The bundles' training data pipeline against the rate their network consumes it (a benchmark, not a test).

Run (a few minutes on 2 cores)::

    pytest benchmarks/bench_pipeline.py --benchmark-enable -p no:cacheprovider -s

Everything comes from the bundle's own ``configs/train.json`` through ``monai.bundle.ConfigParser``, so the
preprocessing measured here is the one training uses: ``train#dataset`` (load, resize, normalise, random affine
and intensity augmentation, multiresolution heatmap targets) and ``network``, ``loss``, ``optimizer`` and
``train#prepare_batch`` for the training step. Each round draws one batch of ``batch_size`` samples through the
dataset (timing each transform), then runs one training step on that batch, so the two rates share the machine's
load; ``pipeline / network`` below 1 means a single loader process (the bundles' ``num_workers`` is 0) cannot
keep the network fed. Data: ``BENCH_DATASET_DIR`` (default ``../shared/datasets/isbi2015_ceph``), or synthetic
phantoms when that folder does not exist.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import list_data_collate
from monai.utils import set_determinism

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.provenance import ROOT, load_average, record  # noqa: E402

SEED = 0
THREADS = 2
ROUNDS = int(os.environ.get("BENCH_PIPELINE_ROUNDS", "6"))
DATASET_DIR = Path(os.environ.get("BENCH_DATASET_DIR", ROOT.parent / "shared" / "datasets" / "isbi2015_ceph"))

# case -> (bundle, config overrides); "cpu_scale" is the accuracy suite's CPU-scale training configuration
CASES = {
    "htc_ceph_cpu_scale": ("htc_ceph", {"image_size": [256, 320], "width_multiplier": 0.25}),
    "htc_ceph_published": ("htc_ceph", {}),
    "gu2net_ceph_published": ("gu2net_ceph", {}),
}


def _parser(bundle: str, overrides: dict, bundle_root: Path) -> ConfigParser:
    dataset_dir = str(DATASET_DIR) if (DATASET_DIR / "dataset.json").is_file() else None
    configs = ROOT / "bundles" / bundle / "configs"
    parser = ConfigParser()  # phantoms (the synthetic profile under the overrides) where the dataset is absent
    parser.read_config([str(configs / "train.json")] + ([] if dataset_dir else [str(configs / "synthetic.json")]))
    parser.update({"bundle_root": str(bundle_root), "dataset_dir": dataset_dir, **overrides})
    parser.get_parsed_content("imports")
    return parser


def _stage_names(parser: ConfigParser) -> list[str]:
    """The stage of each transform of ``train#preprocessing``: load, augment or targets."""
    counts = [len(parser.get("load_transforms")), len(parser.get("train#random_transforms"))]
    total = len(parser.get_parsed_content("train#preprocessing").transforms)
    return ["load"] * counts[0] + ["augment"] * counts[1] + ["targets"] * (total - sum(counts))


class _TimedPipeline:
    """Applies the dataset's transforms one by one, adding each one's time to its stage."""

    def __init__(self, dataset, stages: list[str]) -> None:
        self.dataset, self.stages = dataset, stages
        self.transforms = dataset.transform.transforms
        self.seconds = {s: 0.0 for s in stages}
        self.count = 0

    def sample(self, index: int) -> dict:
        data = dict(self.dataset.data[index])
        self.count += 1
        for stage, transform in zip(self.stages, self.transforms, strict=True):
            t0 = time.perf_counter()
            data = transform(data)
            self.seconds[stage] += time.perf_counter() - t0
        return data


def _train_step(parser: ConfigParser):
    network, loss_fn = parser.get_parsed_content("network"), parser.get_parsed_content("loss")
    optimizer, prepare = parser.get_parsed_content("optimizer"), parser.get_parsed_content("train#prepare_batch")
    device = parser.get_parsed_content("device")
    network.train()

    def step(batch: dict) -> None:
        image, targets, args, kwargs = prepare(batch, device)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(network(image, *args, **kwargs), targets)
        loss.backward()
        optimizer.step()

    return step, network


@pytest.mark.parametrize("case", list(CASES))
def test_pipeline_vs_network(benchmark, case, tmp_path):
    torch.set_num_threads(THREADS)
    set_determinism(seed=SEED)
    bundle, overrides = CASES[case]
    parser = _parser(bundle, overrides, tmp_path)
    dataset = parser.get_parsed_content("train#dataset")
    dataset.transform.set_random_state(seed=SEED)
    pipeline = _TimedPipeline(dataset, _stage_names(parser))
    step, network = _train_step(parser)
    batch_size = int(parser.get_parsed_content("batch_size"))
    data_s: list[float] = []
    net_s: list[float] = []
    order = torch.randperm(len(dataset.data), generator=torch.Generator().manual_seed(SEED)).tolist()
    load_start = load_average()

    def one_round() -> None:
        start = len(data_s) * batch_size
        t0 = time.perf_counter()
        samples = [pipeline.sample(order[(start + i) % len(order)]) for i in range(batch_size)]
        t1 = time.perf_counter()
        step(list_data_collate(samples))
        t2 = time.perf_counter()
        data_s.append(t1 - t0)
        net_s.append(t2 - t1)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    data_s, net_s = data_s[1:] or data_s, net_s[1:] or net_s  # drop the warm-up round
    data_rate = batch_size / statistics.median(data_s)
    net_rate = batch_size / statistics.median(net_s)
    image_size = list(parser.get_parsed_content("image_size"))
    benchmark.extra_info.update(
        record(
            SEED,
            bundle=bundle,
            case=case,
            overrides=overrides,
            dataset_dir=parser.get("dataset_dir") or "synthetic phantoms",
            batch_size=batch_size,
            input_size=image_size,
            width_multiplier=parser.get_parsed_content("width_multiplier")
            if "width_multiplier" in parser.get()
            else None,
            parameters=sum(p.numel() for p in network.parameters()),
            load_average_1min_at_start=load_start,
            pipeline_samples_per_s=data_rate,
            network_images_per_s=net_rate,
            pipeline_over_network=data_rate / net_rate,
            serial_images_per_s=batch_size / (statistics.median(data_s) + statistics.median(net_s)),
            stage_ms_per_sample={k: 1e3 * v / pipeline.count for k, v in pipeline.seconds.items()},
            pipeline_seconds_per_batch=[round(v, 4) for v in data_s],
            network_seconds_per_step=[round(v, 4) for v in net_s],
        )
    )
    info = benchmark.extra_info
    print(
        f"\n[bench] {case} {image_size}: pipeline {data_rate:.2f} samples/s, network {net_rate:.2f} images/s "
        f"(ratio {data_rate / net_rate:.2f}), stages ms/sample {info['stage_ms_per_sample']}, "
        f"load {load_start:.2f} -> {info['load_average_1min']:.2f}"
    )
