"""The per-domain MRE means of a universal model's validation: the arithmetic one reported, the geometric one
that ranks models the same whatever unit each domain is measured in."""

import pytest

from monai_landmarks.handlers import mean_metric


def test_mean_metric_arithmetic_and_geometric():
    from ignite.engine import Engine
    from ignite.metrics import Metric

    class Constant(Metric):
        def __init__(self, value):
            self.value = value
            super().__init__()

        def reset(self):
            pass

        def update(self, output):
            pass

        def compute(self):
            return self.value

    metrics = {"val_mre_ceph": Constant(1.0), "val_mre_spine": Constant(16.0), "val_sdr_2_ceph": Constant(90.0)}
    engine = Engine(lambda e, b: None)
    mean_metric(metrics).attach(engine, "arithmetic")
    mean_metric(metrics, kind="geometric").attach(engine, "geometric")
    engine.run([0])
    assert engine.state.metrics["arithmetic"] == pytest.approx(8.5)
    assert engine.state.metrics["geometric"] == pytest.approx(4.0)  # sqrt(1 * 16): the SDR is not averaged
    with pytest.raises(ValueError, match=r"kind must be one of \('arithmetic', 'geometric'\)"):
        mean_metric(metrics, kind="harmonic")
