"""The radial error metric gathers its buffer across ranks: two gloo ranks on CPU equal one process.

The ranks are forked where the platform allows it (about 0.2 s here, against about 10 s for freshly spawned
interpreters, which import torch and MONAI again); they only run a few tiny CPU ops and gloo collectives.
"""

from __future__ import annotations

import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from monai_landmarks.metrics import ErrorProtocol, RadialErrorMetric

NAN = float("nan")
# rank 0 holds two images, rank 1 one (uneven, so the gather pads and trims); one missing GT, one missing prediction
GT = [
    [[[10, 10], [20, 20], [30, 10]], [[5, 5], [NAN, NAN], [5, 30]]],
    [[[0, 0], [8, 8], [30, 40]]],
]
PRED = [
    [[[13, 14], [20, 22], [30, 10]], [[11, 13], [6, 6], [5, 27]]],
    [[[-1, 0], [NAN, NAN], [30, 41]]],
]
SPACING = [[[0.125, 0.125], [0.25, 0.25]], [[1.0, 1.0]]]


def _feed(metric: RadialErrorMetric, part: int) -> None:
    metric(torch.tensor(PRED[part]), torch.tensor(GT[part]), spacing=torch.tensor(SPACING[part]))


def _worker(rank: int, world_size: int, init_file: str, results: str) -> None:
    os.environ["LOCAL_RANK"] = str(rank)  # Ignite's distributed helpers, used by the gather, ask for it
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        metric = RadialErrorMetric(ErrorProtocol("mm"))
        _feed(metric, rank)
        torch.save({"report": metric.aggregate(), "buffer": metric.get_buffer()}, f"{results}.{rank}")
    finally:
        dist.destroy_process_group()


def test_two_ranks_equal_one_process(tmp_path):
    single = RadialErrorMetric(ErrorProtocol("mm"))
    _feed(single, 0)
    _feed(single, 1)
    expected = single.aggregate()
    assert expected["failures"] == 1 and expected["count"] == 8  # the data exercise both special cases

    results = str(tmp_path / "result")
    start_method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(
        _worker, args=(2, str(tmp_path / "init"), results), nprocs=2, join=True, start_method=start_method
    )
    for rank in range(2):
        out = torch.load(f"{results}.{rank}", weights_only=False)
        torch.testing.assert_close(out["buffer"], single.get_buffer(), equal_nan=True)
        report = out["report"]
        for key in ("count", "failures", "mre", "sd"):
            assert report[key] == expected[key] or (math.isnan(report[key]) and math.isnan(expected[key])), key
        assert report["sdr"] == pytest.approx(expected["sdr"])
        for key in ("mre_per_landmark", "sd_per_landmark", "count_per_landmark"):
            torch.testing.assert_close(report[key], expected[key], equal_nan=True)
        for r, values in expected["sdr_per_landmark"].items():
            torch.testing.assert_close(report["sdr_per_landmark"][r], values, equal_nan=True)
