"""Handlers for a universal model validated on several domains in one evaluator.

Each domain keeps its own unit protocol (mm for cephalograms, wrist-normalised mm for hands, pixels where there
is no spacing), so its metrics and report are computed apart, over its own samples (``domain=`` filter).
``val_mre`` is the arithmetic mean of the per-domain MREs, each in its own unit; with domains in different units
(mm and pixels) the larger numbers dominate it, so a bundle can select its model by the geometric mean instead
(:func:`mean_metric` with ``kind="geometric"``), whose ranking does not depend on the units: a change of unit
multiplies it by a constant, and a 10 % lower error lowers it by the same factor whichever domain it is in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from monai.handlers import from_engine
from monai.utils import min_version, optional_import

from monai_landmarks.handlers.evaluation_report import LandmarkReportWriter
from monai_landmarks.handlers.landmark_metrics import MeanRadialError, SuccessDetectionRate
from monai_landmarks.metrics import ErrorProtocol
from monai_landmarks.utils.keys import Keys

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")
MetricsLambda, _ = optional_import("ignite.metrics", "0.4.4", min_version, "MetricsLambda")

__all__ = [
    "MEAN_KINDS",
    "DomainReportWriter",
    "SetSamplerEpoch",
    "domain_metrics",
    "domain_report_writers",
    "mean_metric",
]

_KEYS = [Keys.PRED_LANDMARKS, Keys.LANDMARKS, Keys.SPACING]
#: the means :func:`mean_metric` takes
MEAN_KINDS = ("arithmetic", "geometric")


def domain_metrics(names: Sequence[str], protocols: Sequence[ErrorProtocol], radius: float = 2.0) -> dict:
    """``val_mre_<name>`` and ``val_sdr_<radius>_<name>`` handlers of every domain, in its own protocol.

    Args:
        names: one name per domain (index = domain).
        protocols: one unit protocol per domain, as :func:`~monai_landmarks.data.datalists.error_protocol` gives.
        radius: the SDR radius, in each domain's unit.
    """
    metrics = {}
    for domain, (name, protocol) in enumerate(zip(names, protocols, strict=True)):
        kwargs = {"protocol": protocol, "output_transform": from_engine(_KEYS), "domain": domain}
        metrics[f"val_mre_{name}"] = MeanRadialError(**kwargs)
        metrics[f"val_sdr_{radius:g}_{name}"] = SuccessDetectionRate(radius, **kwargs)
    return metrics


def _arithmetic(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _geometric(values: Sequence[float]) -> float:
    return math.prod(values) ** (1.0 / len(values))


def mean_metric(metrics: dict, prefix: str = "val_mre_", kind: str = "arithmetic"):
    """An Ignite metric: the mean of the metrics whose name starts with ``prefix`` (the per-domain MREs).

    Args:
        metrics: named Ignite metrics, as :func:`domain_metrics` gives.
        prefix: the names to average.
        kind: ``"arithmetic"`` or ``"geometric"`` (unit-free ranking over domains in different units).

    Raises:
        ValueError: if no metric has the prefix, or ``kind`` is not one of :data:`MEAN_KINDS`.
    """
    if kind not in MEAN_KINDS:
        raise ValueError(f"mean_metric: kind must be one of {MEAN_KINDS}, got {kind!r}.")
    parts = [m for name, m in metrics.items() if name.startswith(prefix)]
    if not parts:
        raise ValueError(f"no metric named {prefix}* among {sorted(metrics)}.")
    mean = _geometric if kind == "geometric" else _arithmetic
    return MetricsLambda(lambda *values: mean([float(v) for v in values]), *parts)


def domain_report_writers(
    output_dir,
    names: Sequence[str],
    protocols: Sequence[ErrorProtocol],
    landmark_names: Sequence | None = None,
    **kwargs,
) -> list[LandmarkReportWriter]:
    """One :class:`LandmarkReportWriter` per domain, writing to ``<output_dir>/<name>``.

    Args:
        landmark_names: one list of names (or None) per domain.
        kwargs: passed to every writer (``num_overlays``, ``radii``, ...).
    """
    landmark_names = landmark_names or [None] * len(names)
    return [
        LandmarkReportWriter(f"{output_dir}/{name}", protocol=protocol, landmark_names=lm, domain=domain, **kwargs)
        for domain, (name, protocol, lm) in enumerate(zip(names, protocols, landmark_names, strict=True))
    ]


class DomainReportWriter:
    """One evaluation report per domain, each in its own protocol, in ``<output_dir>/<domain name>``.

    A handler that attaches one :class:`LandmarkReportWriter` per domain (see :func:`domain_report_writers`),
    so a bundle lists it as one ``_target_`` block.

    Args:
        output_dir: the parent folder of the reports.
        names: one name per domain (index = domain).
        protocols: one :class:`~monai_landmarks.metrics.ErrorProtocol` per domain.
        landmark_names: one list of names (or None) per domain.
        kwargs: passed to every writer (``num_overlays``, ``radii``, ...).
    """

    def __init__(
        self,
        output_dir,
        names: Sequence[str],
        protocols: Sequence[ErrorProtocol],
        landmark_names: Sequence | None = None,
        **kwargs,
    ) -> None:
        self.writers = domain_report_writers(output_dir, names, protocols, landmark_names, **kwargs)

    def attach(self, engine) -> None:
        for writer in self.writers:
            writer.attach(engine)


class SetSamplerEpoch:
    """Tell a sampler the epoch when each epoch starts, so its order depends on the epoch (and survives resume).

    MONAI's workflows do this for ``DistributedSampler`` only; :class:`~monai_landmarks.data.DomainBatchSampler`
    needs it too.
    """

    def __init__(self, sampler) -> None:
        self.sampler = sampler

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine) -> None:
        self.sampler.set_epoch(engine.state.epoch)
