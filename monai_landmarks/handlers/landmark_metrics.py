"""Ignite handlers for the landmark metrics, thin wrappers like ``monai/handlers/regression_metrics.py``.

``output_transform`` turns ``engine.state.output`` into one of

- ``(y_pred, y)``: predicted and ground-truth landmarks, ``(B, K, 2)`` (or ``(B, 1, K, 2)``, or lists of
  ``(1, K, 2)`` as a decollating evaluator gives them);
- ``(y_pred, y, spacing)``: plus the per-image pixel spacing ``(B, 2)`` (or a list of ``(2,)``), NaN when
  unknown; this is how spacing reaches a ``unit="mm"`` metric;
- a dict with keys ``"y_pred"``, ``"y"`` and optionally ``"spacing"``.

For example, with a decollating MONAI evaluator whose post-processing writes ``Keys.PRED_LANDMARKS``::

    from monai.handlers import from_engine
    keys = from_engine([Keys.PRED_LANDMARKS, Keys.LANDMARKS, Keys.SPACING])
    MeanRadialError(ErrorProtocol("mm"), output_transform=keys)

MONAI's ``IgniteMetricHandler`` passes only ``(y_pred, y)`` to its metric, and Ignite would unroll lists of
more than two items, so these handlers read the output themselves (:meth:`LandmarkMetricHandler.update`).
With ``save_details=True`` the ``(N, K)`` radial errors land in ``engine.state.metric_details[name]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from monai.handlers import IgniteMetricHandler
from monai.utils import IgniteInfo, min_version, optional_import

from monai_landmarks.handlers.engine_output import engine_samples
from monai_landmarks.metrics import (
    ErrorProtocol,
    MeanRadialErrorMetric,
    RadialErrorMetric,
    SuccessDetectionRateMetric,
)

if TYPE_CHECKING:
    from ignite.engine import Engine
    from ignite.metrics.metric import reinit__is_reduced
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")
    reinit__is_reduced, _ = optional_import(
        "ignite.metrics.metric", IgniteInfo.OPT_IMPORT_VERSION, min_version, "reinit__is_reduced", as_type="decorator"
    )

__all__ = ["LandmarkMetricHandler", "MeanRadialError", "SuccessDetectionRate"]


class LandmarkMetricHandler(IgniteMetricHandler):
    """Runs a :class:`~monai_landmarks.metrics.RadialErrorMetric` (or subclass) on an Ignite engine.

    Args:
        metric_fn: the metric; its ``aggregate`` result becomes ``engine.state.metrics[name]``.
        output_transform: maps ``engine.state.output`` to ``(y_pred, y)``, ``(y_pred, y, spacing)`` or a dict
            with ``"y_pred"``, ``"y"`` and optionally ``"spacing"`` (see the module docstring).
        save_details: store the ``(N, K)`` radial errors in ``engine.state.metric_details[name]``.
        domain: count only the samples of this domain (a universal model's per-domain metric); None for all.
    """

    def __init__(
        self,
        metric_fn: RadialErrorMetric,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
        domain: int | None = None,
    ) -> None:
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
        self.domain = domain

    def iteration_completed(self, engine: Engine) -> None:
        # Ignite would reject a mapping without every required key and unroll lists of per-image items.
        # A decollating evaluator keeps batch keys (ground truth, spacing) apart from its output: rejoin them.
        output = engine.state.output
        decollated = isinstance(output, list) and all(isinstance(o, Mapping) for o in output)
        if self.domain is not None and not decollated:
            raise ValueError("a per-domain landmark metric needs a decollating evaluator (decollate=True).")
        if decollated:
            output = engine_samples(engine, domain=self.domain)
            if not output:  # a batch of another domain
                return
        self.update(self._output_transform(output))

    @reinit__is_reduced
    def update(self, output: Sequence[Any] | Mapping[str, Any]) -> None:
        """Add one batch: ``(y_pred, y)``, ``(y_pred, y, spacing)`` or ``{"y_pred", "y"[, "spacing"]}``.

        Raises:
            ValueError: for any other form of ``output``.
        """
        if isinstance(output, Mapping):
            if "y_pred" not in output or "y" not in output:
                raise ValueError(
                    f"output dict must have keys 'y_pred' and 'y' (and optionally 'spacing'), got {list(output)}."
                )
            y_pred, y, spacing = output["y_pred"], output["y"], output.get("spacing")
        elif isinstance(output, Sequence) and len(output) in (2, 3):
            y_pred, y, spacing = (*output, None)[:3]
        else:
            raise ValueError(
                "output must be (y_pred, y), (y_pred, y, spacing) or a dict with 'y_pred', 'y' and optionally "
                f"'spacing', got {type(output).__name__}"
                + (f" of length {len(output)}." if isinstance(output, Sequence) else ".")
            )
        self.metric_fn(y_pred, y, spacing=spacing)


class MeanRadialError(LandmarkMetricHandler):
    """Mean radial error over all (image, landmark) pairs of an epoch; see :class:`MeanRadialErrorMetric`.

    Args:
        protocol: the unit protocol (:class:`~monai_landmarks.metrics.ErrorProtocol`).
        output_transform: see :class:`LandmarkMetricHandler`.
        save_details: store the ``(N, K)`` radial errors in ``engine.state.metric_details``.
        domain: count only the samples of this domain; None for all.
    """

    def __init__(
        self,
        protocol: ErrorProtocol,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
        domain: int | None = None,
    ) -> None:
        super().__init__(MeanRadialErrorMetric(protocol), output_transform, save_details, domain)


class SuccessDetectionRate(LandmarkMetricHandler):
    """Percentage of (image, landmark) pairs with a radial error within ``radius``; see
    :class:`SuccessDetectionRateMetric`.

    Args:
        radius: the detection radius, in the protocol's unit.
        protocol, output_transform, save_details, domain: as :class:`MeanRadialError`.
        strict: count ``error < radius`` (HTC/MMPose) instead of ``error <= radius``.
    """

    def __init__(
        self,
        radius: float,
        protocol: ErrorProtocol,
        strict: bool = False,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
        domain: int | None = None,
    ) -> None:
        metric_fn = SuccessDetectionRateMetric(radius, protocol, strict=strict)
        super().__init__(metric_fn, output_transform, save_details, domain)
