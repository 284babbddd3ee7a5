"""End-to-end CPU inference of the ceph bundles: coarse-only against the coarse-to-fine cascade, seconds per image.

Run (on an otherwise idle machine; a few minutes on 2 cores)::

    python -m benchmarks speed --only cascade        # writes benchmarks/results/speed_cascade.json
    # the same as: pytest benchmarks/bench_cascade.py --benchmark-enable -p no:cacheprovider -s -q \\
    #     --benchmark-json=benchmarks/results/speed_cascade.json

What is timed is ``monai-landmarks predict``'s path (``monai_landmarks/cli.py``): the bundle's
``configs/inference.json`` through ``monai.bundle.ConfigWorkflow``, built once per case; each round runs its
evaluator over a folder of 967 x 1200 PNGs: read the PNG, resize, the coarse network under the bundle's
``FlipTestInferer``, decode, map to image pixels, then (cascade only) 19 patches at the refiner's pixel size, the
refiner and its decoder, and finally the JSON and overlay picture the command writes per image (and the weights
loaded once per run, as the command does). Seconds per image = round time / images. Coarse-only
(``refiner_path ""``) and cascade take turns within every round (the order alternating), so their ratio shares
the machine's load. Target: at most 1 s per image with 2 threads.

Weights: the bundle's ``models/model.pt`` and ``models/refiner.pt`` when both exist, otherwise random weights of
the same architecture (the coarse network of ``inference.json``, the refiner of ``configs/refine.json``); the
record says which (weights do not change the amount of work). Images: the first ``BENCH_CASCADE_IMAGES``
(default 4) ISBI 2015 test1 images under ``MONAI_LANDMARKS_DATASETS`` (default ``../shared/datasets``), or PNGs
of smooth random noise of the same size when that dataset is absent. ``BENCH_CASCADE_ROUNDS`` (default 5) timed
rounds after one warm-up round.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.provenance import ROOT, load_average, record  # noqa: E402
from monai_landmarks.engines import read_refiner  # noqa: E402

SEED = 0
BUNDLES = ("htc_ceph", "gu2net_ceph")
THREADS = (1, 2)
ROUNDS = int(os.environ.get("BENCH_CASCADE_ROUNDS", "5"))
IMAGES = int(os.environ.get("BENCH_CASCADE_IMAGES", "4"))
DATASETS = Path(os.environ.get("MONAI_LANDMARKS_DATASETS", ROOT.parent / "shared" / "datasets"))
IMAGE_SIZE_WH = (967, 1200)  # ISBI 2015 as stored in the dataset folder
TARGET_SECONDS, TARGET_THREADS = 1.0, 2


# ----------------------------------------------------------------------------------------------- inputs


def _noise_png(path: Path, rng: np.random.Generator) -> None:
    """A 967 x 1200 gray PNG of smooth random noise (a coarse random grid, bicubically enlarged)."""
    w, h = IMAGE_SIZE_WH
    coarse = Image.fromarray(rng.integers(0, 256, (h // 16, w // 16), dtype=np.uint8))
    coarse.resize((w, h), Image.Resampling.BICUBIC).save(path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[list[str], str]:
    """The image files of every case, and where they come from."""
    dataset = DATASETS / "isbi2015_ceph"
    if (dataset / "dataset.json").is_file():
        from monai_landmarks.data import load_datalist

        files = [item["image"] for item in load_datalist(dataset, "test1")[:IMAGES]]
        return files, f"ISBI 2015 test1, first {len(files)} images ({dataset.name}, 967 x 1200 PNG)"
    folder = tmp_path_factory.mktemp("cascade_images")
    rng = np.random.default_rng(SEED)
    for i in range(IMAGES):
        _noise_png(folder / f"noise{i:02d}.png", rng)
    return sorted(str(p) for p in folder.iterdir()), f"{IMAGES} PNGs of smooth random noise, 967 x 1200"


def _random_weights(bundle: str, folder: Path) -> tuple[Path, Path]:
    """Seeded random weights of the bundle's coarse network and refiner (self-describing, as refine.json saves)."""
    configs = ROOT / "bundles" / bundle / "configs"
    torch.manual_seed(SEED)
    coarse = ConfigParser()
    coarse.read_config(str(configs / "inference.json"))
    torch.save(coarse.get_parsed_content("network_def").state_dict(), folder / "model.pt")
    refine = ConfigParser()
    refine.read_config([str(configs / "train.json"), str(configs / "refine.json")])
    refine.update({"dataset_dir": str(folder)})  # never read: only the refiner's settings are parsed
    spec = refine.get_parsed_content("refiner_spec")
    spec.save(refine.get_parsed_content("network_def").state_dict(), folder / "refiner.pt")
    return folder / "model.pt", folder / "refiner.pt"


def _weights(bundle: str, folder: Path) -> tuple[Path, Path, str]:
    models = ROOT / "bundles" / bundle / "models"
    if (models / "model.pt").is_file() and (models / "refiner.pt").is_file():
        return models / "model.pt", models / "refiner.pt", f"shipped (bundles/{bundle}/models)"
    return (*_random_weights(bundle, folder), "random, same architecture (the bundle ships no weights here)")


# ----------------------------------------------------------------------------------------------- the command


def _evaluator(bundle: str, files: list[str], out: Path, ckpt: Path, refiner_path: str):
    """The evaluator ``monai-landmarks predict`` runs, built once (what the command does before the images)."""
    from monai_landmarks.handlers.weights_loader import check_weights

    bundle_root = ROOT / "bundles" / bundle
    overrides = {
        "bundle_root": str(bundle_root),
        "input_files": files,
        "output_dir": str(out),
        "ckpt_path": str(ckpt),
        "refiner_path": refiner_path,
        "device": "$torch.device('cpu')",
    }
    config = str(bundle_root / "configs" / "inference.json")
    workflow = ConfigWorkflow(config_file=config, workflow_type="infer", **overrides)
    workflow.initialize()
    check_weights(ckpt, workflow.parser.get_parsed_content("network"))
    return workflow.parser.get_parsed_content("evaluator"), workflow.parser.get_parsed_content("refinement")


def _landmarks(folder: Path) -> dict[str, np.ndarray]:
    return {
        p.stem: np.array([[lm["x"], lm["y"]] for lm in json.loads(p.read_text())["landmarks"]])
        for p in sorted(folder.glob("*.json"))
        if p.name != "predict_summary.json"  # what finished, written last by predict
    }


def _seconds(values: list[float], count: int) -> dict:
    return {"median": statistics.median(values) / count, "best": min(values) / count}


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("bundle", BUNDLES)
def test_cascade_end_to_end(benchmark, bundle, threads, inputs, tmp_path):
    torch.set_num_threads(threads)
    files, source = inputs
    ckpt, refiner, weights = _weights(bundle, tmp_path)
    runs = {}
    for kind, path in (("coarse", ""), ("cascade", str(refiner))):
        runs[kind], refinement = _evaluator(bundle, files, tmp_path / kind, ckpt, path)
        assert (refinement is None) == (kind == "coarse"), f"{kind}: the refiner is {refinement}"
    times: dict[str, list[float]] = {k: [] for k in runs}
    order = list(runs)

    def one_round() -> None:
        for kind in order:
            t0 = time.perf_counter()
            runs[kind].run()
            times[kind].append(time.perf_counter() - t0)
        order.reverse()  # neither always runs first

    one_round()  # warm-up: first-call allocations and lazy imports
    for kind in times:
        times[kind].clear()
    load_start = load_average()
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)

    coarse, cascade = _landmarks(tmp_path / "coarse"), _landmarks(tmp_path / "cascade")
    assert len(coarse) == len(cascade) == len(files), "one JSON per image from each run"
    assert any(not np.allclose(coarse[k], cascade[k]) for k in coarse), "the cascade gave the coarse landmarks"

    n = len(files)
    per_image = {kind: _seconds(values, n) for kind, values in times.items()}
    ratios = [b / a for a, b in zip(times["coarse"], times["cascade"], strict=True)]
    meta = read_refiner(refiner).spec.meta()
    benchmark.extra_info.update(
        record(
            SEED,
            threads=threads,
            bundle=bundle,
            images=n,
            image_source=source,
            weights=weights,
            refiner_meta=meta,
            load_average_1min_at_start=load_start,
            seconds_per_image=per_image,
            cascade_over_coarse_median=statistics.median(ratios),
            cascade_over_coarse_per_round=[round(r, 3) for r in ratios],
            seconds_per_round={k: [round(v, 4) for v in values] for k, values in times.items()},
            target_seconds_per_image=TARGET_SECONDS,
            target_threads=TARGET_THREADS,
        )
    )
    info = benchmark.extra_info
    print(
        f"\n[bench] {bundle}, {threads} thread(s), {n} images: coarse {per_image['coarse']['median']:.3f} s/image, "
        f"cascade {per_image['cascade']['median']:.3f} s/image (x{info['cascade_over_coarse_median']:.2f}), "
        f"load {load_start:.2f} -> {info['load_average_1min']:.2f}"
    )
