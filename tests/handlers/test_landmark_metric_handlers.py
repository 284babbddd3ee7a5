"""Ignite handlers of the landmark metrics on a tiny engine that replays fixed batches."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from ignite.engine import Engine
from monai.handlers import from_engine

from monai_landmarks.handlers import LandmarkMetricHandler, MeanRadialError, SuccessDetectionRate
from monai_landmarks.metrics import ErrorProtocol, RadialErrorMetric
from monai_landmarks.utils.keys import Keys

NAN = float("nan")
# two iterations; pixel errors 5 2 0 | 10 - 3 and then 1 4 1 (see tests/metrics/test_radial_error.py)
BATCHES = [
    {
        "y_pred": torch.tensor([[[13, 14], [20, 22], [30, 10]], [[11, 13], [6, 6], [5, 27]]], dtype=torch.float32),
        "y": torch.tensor([[[10, 10], [20, 20], [30, 10]], [[5, 5], [NAN, NAN], [5, 30]]]),
        "spacing": torch.tensor([[0.125, 0.125], [0.25, 0.25]], dtype=torch.float64),
    },
    {
        "y_pred": torch.tensor([[[-1, 0], [8, 12], [30, 41]]], dtype=torch.float32),
        "y": torch.tensor([[[0, 0], [8, 8], [30, 40]]], dtype=torch.float32),
        "spacing": torch.tensor([[1.0, 1.0]], dtype=torch.float64),
    },
]
PX_MRE = 26 / 8
MM_ERRORS = [0.625, 0.25, 0.0, 2.5, 0.75, 1.0, 4.0, 1.0]


def _run(handlers: dict, batches=BATCHES, max_epochs: int = 1) -> Engine:
    engine = Engine(lambda engine, batch: batch)
    for name, handler in handlers.items():
        handler.attach(engine, name)
    engine.run(batches, max_epochs=max_epochs)
    return engine


def test_dict_output_with_per_image_spacing():
    engine = _run({"mre": MeanRadialError(ErrorProtocol("mm")), "sdr2": SuccessDetectionRate(2.0, ErrorProtocol("mm"))})
    assert engine.state.metrics["mre"] == pytest.approx(sum(MM_ERRORS) / 8)
    assert engine.state.metrics["sdr2"] == pytest.approx(75.0)
    details = engine.state.metric_details["mre"]
    assert details.shape == (3, 3) and torch.isnan(details[1, 1])


def test_tuple_outputs():
    engine = _run(
        {
            "mre_px": MeanRadialError(ErrorProtocol("px"), output_transform=lambda o: (o["y_pred"], o["y"])),
            "mre_mm": MeanRadialError(
                ErrorProtocol("mm"), output_transform=lambda o: (o["y_pred"], o["y"], o["spacing"])
            ),
            "mre_const": MeanRadialError(
                ErrorProtocol("mm", spacing=0.5), output_transform=lambda o: (o["y_pred"], o["y"])
            ),
            "sdr3_strict": SuccessDetectionRate(
                3.0, ErrorProtocol("px"), strict=True, output_transform=lambda o: (o["y_pred"], o["y"])
            ),
        }
    )
    assert engine.state.metrics["mre_px"] == pytest.approx(PX_MRE)
    assert engine.state.metrics["mre_mm"] == pytest.approx(sum(MM_ERRORS) / 8)
    assert engine.state.metrics["mre_const"] == pytest.approx(0.5 * PX_MRE)
    assert engine.state.metrics["sdr3_strict"] == pytest.approx(50.0)


def test_wrist_unit():
    engine = _run({"mre": MeanRadialError(ErrorProtocol("wrist", wrist_pair=(0, 2)), save_details=False)})
    assert engine.state.metrics["mre"] == pytest.approx(49.5 / 8)
    assert "mre" not in getattr(engine.state, "metric_details", {})


def test_decollated_output_through_from_engine():
    """A decollating evaluator's output: a list of per-image dicts with (1, K, 2) landmarks and (2,) spacing."""
    decollated = [
        [
            {
                Keys.PRED_LANDMARKS: b["y_pred"][i : i + 1],
                Keys.LANDMARKS: b["y"][i : i + 1],
                Keys.SPACING: b["spacing"][i],
            }
            for i in range(len(b["y"]))
        ]
        for b in BATCHES
    ]
    transform = from_engine([Keys.PRED_LANDMARKS, Keys.LANDMARKS, Keys.SPACING])
    engine = _run({"mre": MeanRadialError(ErrorProtocol("mm"), output_transform=transform)}, batches=decollated)
    assert engine.state.metrics["mre"] == pytest.approx(sum(MM_ERRORS) / 8)


def test_each_epoch_starts_afresh():
    engine = _run({"mre": MeanRadialError(ErrorProtocol("px"))}, max_epochs=2)
    assert engine.state.epoch == 2
    assert engine.state.metrics["mre"] == pytest.approx(PX_MRE)
    assert engine.state.metric_details["mre"].shape == (3, 3)


def test_generic_handler_returns_the_report():
    engine = _run({"report": LandmarkMetricHandler(RadialErrorMetric(ErrorProtocol("px")))})
    # Ignite stores a mapping result under its name and under each of its keys
    assert engine.state.metrics["report"]["mre"] == pytest.approx(PX_MRE)
    assert engine.state.metrics["count"] == 8


@pytest.mark.parametrize(
    "output, match",
    [
        ((BATCHES[0]["y_pred"],), "length 1"),
        ((BATCHES[0]["y_pred"], BATCHES[0]["y"], None, None), "length 4"),
        ({"pred": BATCHES[0]["y_pred"], "y": BATCHES[0]["y"]}, "'y_pred' and 'y'"),
        (BATCHES[0]["y_pred"], "got Tensor"),
    ],
)
def test_bad_output_raises(output, match):
    with pytest.raises(ValueError, match=match):
        _run({"mre": MeanRadialError(ErrorProtocol("px"), output_transform=lambda o: output)})


def test_metrics_import_without_ignite():
    code = "import sys; sys.modules['ignite'] = None; import monai_landmarks.metrics, monai_landmarks.losses"
    subprocess.run([sys.executable, "-c", code], check=True)
