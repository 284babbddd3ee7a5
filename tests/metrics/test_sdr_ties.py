"""SDR ties: an error equal to the radius in exact arithmetic counts under ``<=`` and not under ``<``.

The errors are exactly 2, 2.5, 3 and 4 mm at 0.1 and 0.2 mm/px, along x, along y and as a 3-4-5 diagonal, once
through the metric and once through the real data path: the spacing read from a ``dataset.json``, collated by a
MONAI DataLoader and measured by the Ignite handler and the report writer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from monai.data import DataLoader
from monai.handlers import from_engine

from monai_landmarks.data.dataset_format import load_datalist, write_dataset
from monai_landmarks.handlers import SuccessDetectionRate
from monai_landmarks.handlers.evaluation_report import LandmarkReportWriter
from monai_landmarks.metrics import DEFAULT_RADII, ErrorProtocol, RadialErrorMetric, landmark_error_report
from monai_landmarks.utils.keys import Keys

RADII = (2.0, 2.5, 3.0, 4.0)
SPACINGS = (0.1, 0.2)
GT = [[10.0, 12.0], [20.25, 5.5], [5.75, 30.0]]  # binary-exact pixel centres, as the dataset converters write
DIRECTIONS = [(5, 0), (0, 5), (3, 4)]  # fifths of the length: along x, along y, the 3-4-5 diagonal
# one image per radius, each landmark exactly that radius away: 3 errors of each of 2, 2.5, 3, 4 mm
EXPECTED_LE = {2.0: 25.0, 2.5: 50.0, 3.0: 75.0, 4.0: 100.0}
EXPECTED_LT = {2.0: 0.0, 2.5: 25.0, 3.0: 50.0, 4.0: 75.0}


def offsets_px(radius_mm: float, spacing: float) -> np.ndarray:
    """Pixel offsets of length ``radius_mm`` at ``spacing``: whole or half pixels, exact in binary."""
    half_pixels = round(radius_mm / spacing * 2)
    return np.asarray(DIRECTIONS) * half_pixels / 10


def predictions(spacing: float) -> np.ndarray:
    """``(4, K, 2)`` predictions, image ``i`` off by ``RADII[i]`` mm at every landmark."""
    return np.stack([np.asarray(GT) + offsets_px(r, spacing) for r in RADII]).astype(np.float32)


def test_offsets_are_exact_ties():
    # in half pixels the offsets are integers whose length is exactly radius / spacing (integer arithmetic)
    for spacing in SPACINGS:
        for r in RADII:
            halves = offsets_px(r, spacing) * 2
            assert (halves == np.round(halves)).all()
            lengths_sq = (halves.astype(np.int64) ** 2).sum(axis=1)
            assert (lengths_sq == round(r * 2 / spacing) ** 2).all() and round(r * 2 / spacing) * spacing / 2 == r


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("strict, expected", [(False, EXPECTED_LE), (True, EXPECTED_LT)])
def test_metric_counts_ties(spacing, strict, expected):
    gt = torch.tensor([GT] * len(RADII), dtype=torch.float32)
    per_image = torch.full((len(RADII), 2), spacing, dtype=torch.float64)
    for metric in (RadialErrorMetric(ErrorProtocol("mm", spacing=spacing)), RadialErrorMetric(ErrorProtocol("mm"))):
        metric(torch.from_numpy(predictions(spacing)), gt, spacing=None if metric.spacing is not None else per_image)
        errors = metric.get_buffer()
        assert landmark_error_report(errors, radii=RADII, strict=strict)["sdr"] == expected


def test_float32_errors_still_tie():
    # errors measured with a float32 spacing land a few 1e-8 above the radius
    f32 = [20 * float(np.float32(0.1)), 10 * float(np.float32(0.2)), 30 * float(np.float32(0.1))]
    errors = torch.tensor([f32], dtype=torch.float64)
    assert (errors > torch.tensor([2.0, 2.0, 3.0], dtype=torch.float64)).all()
    assert landmark_error_report(errors, radii=(2.0, 3.0))["sdr"] == {2.0: 200 / 3, 3.0: 100.0}
    assert landmark_error_report(errors, radii=(2.0, 3.0), strict=True)["sdr"] == {2.0: 0.0, 3.0: 200 / 3}


def test_clear_misses_and_hits_stay():
    # a micrometre either side of the radius is not a tie
    errors = torch.tensor([[2.0 - 1e-3, 2.0 + 1e-3]], dtype=torch.float64)
    assert landmark_error_report(errors, radii=(2.0,))["sdr"] == {2.0: 50.0}
    assert landmark_error_report(errors, radii=(2.0,), strict=True)["sdr"] == {2.0: 50.0}


def write_tie_dataset(root, spacing: float):
    samples = [
        {"image_id": f"{i:03d}", "split": "test1", "image": np.zeros((48, 48), np.uint8), "landmarks": np.asarray(GT)}
        for i in range(len(RADII))
    ]
    return write_dataset(root, "ties", samples, pixel_spacing_mm=spacing)


@pytest.mark.parametrize("spacing", SPACINGS)
def test_dataset_spacing_is_the_decimal(tmp_path, spacing):
    items = load_datalist(write_tie_dataset(tmp_path / "ds", spacing))
    assert json.loads((tmp_path / "ds" / "dataset.json").read_text())["pixel_spacing_mm"] == spacing
    for item in items:
        assert item[Keys.SPACING].dtype == np.float64
        assert item[Keys.SPACING].tolist() == [spacing, spacing]


@pytest.mark.parametrize("spacing", SPACINGS)
def test_ties_through_the_data_path(tmp_path, spacing):
    items = load_datalist(write_tie_dataset(tmp_path / "ds", spacing))
    for item, pred in zip(items, predictions(spacing), strict=True):
        item[Keys.PRED_LANDMARKS] = pred[None]
    loader = DataLoader(items, batch_size=3, shuffle=False, num_workers=0)  # MONAI's collate, as the bundles
    engine = Engine(lambda engine, batch: batch)  # the evaluator's output: the batch with its predictions
    keys = from_engine([Keys.PRED_LANDMARKS, Keys.LANDMARKS, Keys.SPACING])
    for r in DEFAULT_RADII:
        SuccessDetectionRate(r, ErrorProtocol("mm"), output_transform=keys).attach(engine, f"sdr_{r:g}")
        SuccessDetectionRate(r, ErrorProtocol("mm"), strict=True, output_transform=keys).attach(engine, f"strict_{r:g}")
    writer = LandmarkReportWriter(tmp_path / "report", ErrorProtocol("mm"), num_overlays=0)
    writer.attach(engine)
    engine.run(loader)

    assert {r: engine.state.metrics[f"sdr_{r:g}"] for r in RADII} == EXPECTED_LE
    assert {r: engine.state.metrics[f"strict_{r:g}"] for r in RADII} == EXPECTED_LT
    written = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert written["count"] == 12
    assert written["sdr"] == {f"{r:g}": v for r, v in EXPECTED_LE.items()}
