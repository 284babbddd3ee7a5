"""Radial error, MRE, SD and SDR of landmark predictions, accumulated over batches like MONAI's metrics.

The formulas live in :func:`landmark_error_report`, which takes a table of radial errors (one row per image,
one column per landmark) and is shared by the metric classes and by offline evaluation reports.

Conventions (see REFERENCE section 1):
    - The radial error of one landmark is the Euclidean distance between prediction and ground truth
      (:func:`monai_landmarks.utils.coords.distance`), in millimetres or pixels.
    - A landmark whose ground truth is missing (NaN) is skipped: it is not counted anywhere.
    - A landmark whose prediction is missing (NaN) but whose ground truth is present is a failure: its
      error is ``+inf``. It counts in ``count``, fails every SDR radius and makes MRE and SD infinite, so a
      detector cannot improve its score by declining to answer.
    - SDR@r is the percentage of counted pairs with error ``<= r`` (GU2Net, landmarker). HTC, through
      MMPose's PCK, uses ``< r``: pass ``strict=True`` for that. An error equal to ``r`` in exact arithmetic
      is a tie under either rule, though binary floats land it a few ulps either side (an offset of (18, 24) px
      at 0.1 mm/px comes out as 3.0000000000000004 mm): errors within :data:`RADIUS_RTOL` of ``r`` count as
      equal to it.
    - SD is the population standard deviation (``ddof=0``, numpy's default, as GU2Net and landmarker
      report it); pass ``ddof=1`` for the sample standard deviation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric
from monai.utils import convert_to_tensor

from monai_landmarks.metrics.protocol import ErrorProtocol, ErrorUnit
from monai_landmarks.utils.coords import SPATIAL_DIMS, distance, missing_mask, wrist_scale

__all__ = [
    "DEFAULT_RADII",
    "ErrorProtocol",
    "RADIUS_RTOL",
    "ErrorUnit",
    "MeanRadialErrorMetric",
    "RadialErrorMetric",
    "SuccessDetectionRateMetric",
    "landmark_error_report",
]

DEFAULT_RADII = (2.0, 2.5, 3.0, 4.0)
#: Relative distance from a radius within which an error is a tie with it. Float64 arithmetic moves an exact tie
#: by about 1e-16 of the radius, float32 spacings or errors by about 1e-7; a millionth is 2 nm at 2 mm.
RADIUS_RTOL = 1e-6


def _check_radii(radii: Sequence[float]) -> tuple[float, ...]:
    radii = tuple(float(r) for r in radii)
    if not radii or not all(np.isfinite(r) and r > 0 for r in radii):
        raise ValueError(f"radii must be a non-empty sequence of positive finite numbers, got {radii}.")
    return radii


def landmark_error_report(
    errors, radii: Sequence[float] = DEFAULT_RADII, strict: bool = False, ddof: int = 0
) -> dict[str, Any]:
    """Summarise a table of radial errors: MRE, SD, SDR, pooled and per landmark.

    Args:
        errors: ``(N, K)`` radial errors (torch or numpy), one row per image and one column per landmark;
            NaN marks a pair to skip (missing ground truth), ``+inf`` a failed prediction.
        radii: SDR radii, in the unit of ``errors``.
        strict: count a pair as detected when its error is ``< r`` (HTC/MMPose) instead of ``<= r``.
        ddof: delta degrees of freedom of the SD: 0 for the population SD, 1 for the sample SD.

    Returns:
        A dict with

        - ``mre`` (float): mean radial error over all counted pairs,
        - ``sd`` (float): standard deviation over the same pairs,
        - ``sdr`` (dict float -> float): percentage of counted pairs within each radius,
        - ``count`` (int): number of counted pairs (ground truth present),
        - ``failures`` (int): counted pairs whose prediction was missing (infinite error),
        - ``mre_per_landmark``, ``sd_per_landmark`` (``(K,)`` float64 tensors),
        - ``sdr_per_landmark`` (dict float -> ``(K,)`` tensor), ``count_per_landmark`` (``(K,)`` int64 tensor).

        Statistics of an empty pool are NaN; MRE and SD are ``inf`` when the pool contains a failure.

    Raises:
        ValueError: if ``errors`` is not two-dimensional, holds negative values or ``-inf``, or ``radii`` is
            empty or not positive.
    """
    radii = _check_radii(radii)
    if ddof < 0:
        raise ValueError(f"ddof must be >= 0, got {ddof}.")
    e = convert_to_tensor(errors, dtype=torch.float64, device="cpu", track_meta=False).detach()
    if e.ndim != 2:
        raise ValueError(f"errors: expected a (N, K) table of radial errors, got shape {tuple(e.shape)}.")
    if (e < 0).any():
        raise ValueError("errors: radial errors must be >= 0 (NaN for skipped pairs, +inf for failures).")

    counted = ~torch.isnan(e)
    failed = torch.isinf(e)
    report: dict[str, Any] = {
        "mre": _mean(e, counted).item(),
        "sd": _std(e, counted, ddof).item(),
        "sdr": {r: _rate(e, counted, r, strict).item() for r in radii},
        "count": int(counted.sum()),
        "failures": int(failed.sum()),
        "mre_per_landmark": _mean(e, counted, dim=0),
        "sd_per_landmark": _std(e, counted, ddof, dim=0),
        "sdr_per_landmark": {r: _rate(e, counted, r, strict, dim=0) for r in radii},
        "count_per_landmark": counted.sum(dim=0),
    }
    return report


def _sum(x: torch.Tensor, dim: int | None) -> torch.Tensor:
    return x.sum() if dim is None else x.sum(dim=dim)


def _mean(e: torch.Tensor, counted: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    n = _sum(counted, dim)
    return torch.where(n > 0, _sum(torch.where(counted, e, 0.0), dim) / n.clamp(min=1), torch.nan)


def _std(e: torch.Tensor, counted: torch.Tensor, ddof: int, dim: int | None = None) -> torch.Tensor:
    n = _sum(counted, dim)
    finite = counted & ~torch.isinf(e)
    mean = _mean(e, finite, dim)
    centred = e - (mean if dim is None else mean.unsqueeze(dim))
    sd = torch.sqrt(_sum(torch.where(finite, centred**2, 0.0), dim) / (n - ddof).clamp(min=1))
    # a failure makes the spread unbounded; too few pairs leave it undefined
    sd = torch.where(_sum(counted & torch.isinf(e), dim) > 0, torch.inf, sd)
    return torch.where(n > ddof, sd, torch.nan)


def _rate(e: torch.Tensor, counted: torch.Tensor, radius: float, strict: bool, dim: int | None = None) -> torch.Tensor:
    hits = _sum(counted & _within(e, radius, strict), dim)
    n = _sum(counted, dim)
    return torch.where(n > 0, 100.0 * hits.double() / n.clamp(min=1), torch.nan)


def _within(e: torch.Tensor, radius: float, strict: bool) -> torch.Tensor:
    """``e <= radius`` (``e < radius`` when ``strict``), ties within :data:`RADIUS_RTOL` counted as equal."""
    if strict:
        return e < radius * (1.0 - RADIUS_RTOL)
    return e <= radius * (1.0 + RADIUS_RTOL)


def _as_batch(points, name: str) -> torch.Tensor:
    """``(B, K, 2)``, ``(B, 1, K, 2)`` or a list of ``(1, K, 2)`` / ``(K, 2)`` -> float ``(B, K, 2)``."""
    if isinstance(points, (list, tuple)):
        if not points:
            raise ValueError(f"{name}: got an empty list of landmarks.")
        items = [convert_to_tensor(p, track_meta=False) for p in points]
        items = [p.squeeze(0) if p.ndim == 3 and p.shape[0] == 1 else p for p in items]
        if any(p.ndim != 2 for p in items):
            raise ValueError(f"{name}: list items must be (1, K, 2) or (K, 2), got {[tuple(p.shape) for p in items]}.")
        points = torch.stack(items)
    t = convert_to_tensor(points, track_meta=False)
    if t.ndim == 4 and t.shape[1] == 1:
        t = t.squeeze(1)  # a collated batch of (1, K, 2) samples
    if t.ndim != 3 or t.shape[-1] != SPATIAL_DIMS:
        raise ValueError(
            f"{name}: expected landmarks of shape (B, K, 2), (B, 1, K, 2) or a list of (1, K, 2), got {tuple(t.shape)}."
        )
    if not torch.is_floating_point(t):
        t = t.to(torch.float32)
    return t


def _as_spacing(spacing, batch_size: int) -> torch.Tensor:
    """Per-image spacing ``(B, 2)`` (or ``(B, 1, 2)``, or a list of ``(2,)``) -> float64 ``(B, 2)``."""
    if isinstance(spacing, (list, tuple)) and len(spacing) > 0 and not isinstance(spacing[0], (int, float)):
        spacing = torch.stack(
            [convert_to_tensor(s, dtype=torch.float64, device="cpu", track_meta=False).reshape(-1) for s in spacing]
        )
    s = convert_to_tensor(spacing, dtype=torch.float64, device="cpu", track_meta=False)
    if s.ndim == 3 and s.shape[1] == 1:
        s = s.squeeze(1)
    if s.shape != (batch_size, SPATIAL_DIMS):
        raise ValueError(
            f"spacing: expected per-image spacing of shape (B, 2) = ({batch_size}, 2) in mm per pixel (x, y), "
            f"got {tuple(s.shape)}; give a constant spacing to the metric's constructor instead."
        )
    known = ~torch.isnan(s)
    if (s[known] <= 0).any() or torch.isinf(s).any():
        raise ValueError(f"spacing: must be positive and finite (NaN when unknown), got {s.tolist()}.")
    return s


class RadialErrorMetric(CumulativeIterationMetric):
    """Radial errors of landmark predictions, buffered per (image, landmark) and summarised on ``aggregate``.

    Each call adds a ``(B, K)`` block of radial errors to a :class:`monai.metrics.Cumulative` buffer, which
    gathers across ranks under ``torch.distributed``; :meth:`aggregate` returns the dict of
    :func:`landmark_error_report` (MRE, SD, SDR at ``radii``, counts, per-landmark results).

    Units:
        - ``"mm"``: each image's errors are scaled by its spacing (mm per pixel, per axis, so anisotropic
          pixels are measured correctly). The spacing of a call (``spacing=(B, 2)``) wins; where it is absent
          or NaN for an image, the protocol's constant ``spacing`` is used; if neither is known the
          call raises (use ``unit="px"`` for uncalibrated data).
        - ``"px"``: errors in pixels of the coordinates' image; spacings are ignored.
        - ``"wrist"``: errors in mm when the ground-truth distance between ``wrist_pair`` is taken as
          ``wrist_width_mm`` (the hand protocol; GU2Net uses (0, 4), Payer et al. (1, 5)); spacings are
          ignored, and a batch whose ground truth lacks the pair raises rather than dropping the image.

    See the module docstring for how missing ground truth (skipped) and missing predictions (failures) count.

    Args:
        protocol: the unit protocol (:class:`~monai_landmarks.metrics.protocol.ErrorProtocol`: unit, constant
            spacing, wrist pair and width); a bundle builds one and passes it everywhere.
        radii: SDR radii, in the unit of the errors.
        strict: SDR counts ``error < r`` instead of ``error <= r``.
        ddof: 0 for the population SD (default), 1 for the sample SD.

    Example::

        metric = RadialErrorMetric(ErrorProtocol("mm"))
        for batch in loader:
            metric(pred_landmarks, batch["landmarks"], spacing=batch["spacing"])
        report = metric.aggregate()  # {"mre": ..., "sd": ..., "sdr": {2.0: ..., ...}, ...}
        metric.reset()
    """

    def __init__(
        self, protocol: ErrorProtocol, radii: Sequence[float] = DEFAULT_RADII, strict: bool = False, ddof: int = 0
    ) -> None:
        super().__init__()
        if not isinstance(protocol, ErrorProtocol):
            raise TypeError(f"protocol must be an ErrorProtocol, got {type(protocol).__name__}.")
        self.protocol = protocol
        self.unit = protocol.unit
        self.spacing = None if protocol.spacing is None else torch.tensor(protocol.spacing, dtype=torch.float64)
        self.wrist_pair = protocol.wrist_pair
        self.wrist_width_mm = protocol.wrist_width_mm
        self.radii = _check_radii(radii)
        if ddof < 0:
            raise ValueError(f"ddof must be >= 0, got {ddof}.")
        self.strict = strict
        self.ddof = ddof

    def __call__(self, y_pred, y=None, spacing=None):  # type: ignore[override]
        """Buffer the radial errors of one batch and return them, ``(B, K)`` float64.

        Args:
            y_pred: predicted landmarks ``(B, K, 2)`` (or ``(B, 1, K, 2)``, or a list of ``(1, K, 2)``).
            y: ground truth of the same shape, NaN where missing.
            spacing: per-image mm per pixel ``(B, 2)``, NaN rows where unknown; used with ``unit="mm"``.
        """
        if y is None:
            raise ValueError("y: the ground-truth landmarks are required.")
        y_pred, y = _as_batch(y_pred, "y_pred"), _as_batch(y, "y")
        return super().__call__(y_pred, y, spacing=spacing)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor, spacing=None) -> torch.Tensor:  # type: ignore[override]
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred and y must have the same shape, got {tuple(y_pred.shape)} and {tuple(y.shape)}.")
        err = distance(y_pred, y, self._mm_per_pixel(y, spacing))
        err = torch.where(missing_mask(y_pred), torch.inf, err)
        return torch.where(missing_mask(y), torch.nan, err)

    def _mm_per_pixel(self, y: torch.Tensor, spacing) -> torch.Tensor | None:
        """Scale broadcastable to ``(B, K, 2)`` turning pixel offsets into the metric's unit."""
        if self.unit == ErrorUnit.PX:
            return None
        if self.unit == ErrorUnit.WRIST:
            return self._wrist_scale(y)
        batch = y.shape[0]
        s = (
            _as_spacing(spacing, batch)
            if spacing is not None
            else torch.full((batch, SPATIAL_DIMS), torch.nan, dtype=torch.float64)
        )
        unknown = torch.isnan(s).any(dim=1)
        if unknown.any():
            if self.spacing is None:
                raise ValueError(
                    f"unit='mm' but the pixel spacing of batch item(s) {unknown.nonzero().flatten().tolist()} is "
                    "unknown: pass spacing=(B, 2) with the batch, give a constant spacing to the metric, or use "
                    "unit='px'."
                )
            s[unknown] = self.spacing
        return s.unsqueeze(1).to(y.device)

    def _wrist_scale(self, y: torch.Tensor) -> torch.Tensor:
        if max(self.wrist_pair) >= y.shape[1]:
            raise ValueError(f"wrist_pair {self.wrist_pair} is out of range for {y.shape[1]} landmarks.")
        scale = wrist_scale(y, self.wrist_pair, self.wrist_width_mm)
        if torch.isnan(scale).any():
            bad = torch.isnan(scale).nonzero().flatten().tolist()
            raise ValueError(
                f"unit='wrist' needs ground-truth landmarks {self.wrist_pair} present and distinct, but batch "
                f"item(s) {bad} lack them."
            )
        return scale[:, None, None]

    def aggregate(self) -> dict[str, Any]:  # type: ignore[override]
        """The :func:`landmark_error_report` of every buffered error, gathered across ranks."""
        return landmark_error_report(self._errors(), radii=self.radii, strict=self.strict, ddof=self.ddof)

    def _errors(self) -> torch.Tensor:
        errors = self.get_buffer()
        if not isinstance(errors, torch.Tensor):
            raise ValueError(f"{self.__class__.__name__}: nothing to aggregate, call the metric on a batch first.")
        return errors


class MeanRadialErrorMetric(RadialErrorMetric):
    """:class:`RadialErrorMetric` whose ``aggregate`` returns only the pooled MRE, a scalar tensor.

    The per-image, per-landmark errors stay available through ``get_buffer()``.
    """

    def aggregate(self) -> torch.Tensor:  # type: ignore[override]
        return torch.tensor(super().aggregate()["mre"], dtype=torch.float64)


class SuccessDetectionRateMetric(RadialErrorMetric):
    """:class:`RadialErrorMetric` whose ``aggregate`` returns the SDR (percent) at one ``radius``.

    Args:
        radius: the detection radius, in the metric's unit.
        protocol: the unit protocol, as for :class:`RadialErrorMetric`.
        kwargs: the other arguments of :class:`RadialErrorMetric` (``radii`` excepted).
    """

    def __init__(self, radius: float, protocol: ErrorProtocol, **kwargs: Any) -> None:
        if "radii" in kwargs:
            raise ValueError("SuccessDetectionRateMetric takes one radius, not radii.")
        super().__init__(protocol, radii=(radius,), **kwargs)

    def aggregate(self) -> torch.Tensor:  # type: ignore[override]
        return torch.tensor(super().aggregate()["sdr"][self.radii[0]], dtype=torch.float64)
