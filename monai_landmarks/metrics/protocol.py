"""The unit protocol radial errors are reported in: one value object for metrics, handlers and reports.

A bundle builds one :class:`ErrorProtocol` (usually from its dataset's ``dataset.json``, see
:func:`monai_landmarks.data.datalists.error_protocol`) and hands the same object to every metric, handler and
report writer, so none of them can fall back to a default the dataset does not use (a wrist width of 50 mm
for a dataset measured at 40 mm, for example).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from monai.utils import StrEnum, look_up_option

from monai_landmarks.utils.spacing import Spacing

__all__ = ["WRIST_PAIR", "WRIST_WIDTH_MM", "ErrorProtocol", "ErrorUnit"]

#: the hand protocol's defaults (GU2Net): landmarks 0 and 4 span the wrist, taken as 50 mm wide
WRIST_PAIR = (0, 4)
WRIST_WIDTH_MM = 50.0


class ErrorUnit(StrEnum):
    """The unit radial errors are reported in.

    - ``mm``: millimetres from a calibrated pixel spacing (per image or constant).
    - ``px``: pixels of the image the coordinates refer to.
    - ``wrist``: millimetres under the hand protocol, where the ground-truth distance between two landmarks
      (the wrist width) is taken as a fixed length (see :func:`monai_landmarks.utils.coords.wrist_scale`).
    """

    MM = "mm"
    PX = "px"
    WRIST = "wrist"


def _spacing(spacing, unit: ErrorUnit) -> tuple[float, float] | None:
    if spacing is None:
        return None
    if unit != ErrorUnit.MM:
        raise ValueError(f"spacing is only used with unit='mm', got unit={unit.value!r}.")
    checked = Spacing.of(spacing, "ErrorProtocol", name="spacing")
    return checked.x, checked.y


@dataclass(frozen=True)
class ErrorProtocol:
    """How radial errors are measured.

    Args:
        unit: ``"mm"``, ``"px"`` or ``"wrist"`` (an :class:`ErrorUnit`).
        spacing: constant mm per pixel (scalar or ``(sx, sy)``) for ``unit="mm"`` where a sample carries none.
        wrist_pair: 0-based indices of the two landmarks spanning the wrist width (``unit="wrist"``; GU2Net
            uses (0, 4), Payer et al. (1, 5)).
        wrist_width_mm: the length the ground-truth wrist width is taken as (``unit="wrist"``).

    Raises:
        ValueError: for an unknown unit, a spacing with a unit other than mm, a non-positive spacing or wrist
            width, or a wrist pair that is not two different non-negative indices.
    """

    unit: ErrorUnit | str = ErrorUnit.MM
    spacing: float | Sequence[float] | None = None
    wrist_pair: Sequence[int] = WRIST_PAIR
    wrist_width_mm: float = WRIST_WIDTH_MM

    def __post_init__(self) -> None:
        unit = look_up_option(self.unit, ErrorUnit)
        pair = tuple(self.wrist_pair)
        if len(pair) != 2 or pair[0] == pair[1] or min(pair) < 0:
            raise ValueError(f"wrist_pair must be two different non-negative landmark indices, got {pair}.")
        width = float(self.wrist_width_mm)
        if not (math.isfinite(width) and width > 0):
            raise ValueError(f"wrist_width_mm must be positive and finite, got {self.wrist_width_mm}.")
        object.__setattr__(self, "unit", unit)
        object.__setattr__(self, "spacing", _spacing(self.spacing, unit))
        object.__setattr__(self, "wrist_pair", (int(pair[0]), int(pair[1])))
        object.__setattr__(self, "wrist_width_mm", width)

    @classmethod
    def of_data(
        cls, calibrated: bool, wrist_pair: Sequence[int] | None = None, wrist_width_mm: float = WRIST_WIDTH_MM
    ) -> ErrorProtocol:
        """The protocol of a dataset: millimetres when its spacing is calibrated, else wrist-normalised millimetres
        when a wrist pair is known (hand data), else pixels."""
        if calibrated:
            return cls(ErrorUnit.MM)
        if wrist_pair is not None:
            return cls(ErrorUnit.WRIST, wrist_pair=wrist_pair, wrist_width_mm=wrist_width_mm)
        return cls(ErrorUnit.PX)

    def to_config(self) -> dict:
        """The protocol as a bundle config entry (``_target_`` and arguments), for configs written as JSON."""
        fields = {"wrist_pair": list(self.wrist_pair), "wrist_width_mm": self.wrist_width_mm}
        return {"_target_": "monai_landmarks.metrics.ErrorProtocol", **self.to_dict(), **fields}

    def to_dict(self) -> dict:
        """The protocol as a report records it: the wrist fields only for ``unit="wrist"``."""
        record: dict = {"unit": self.unit.value, "spacing": None if self.spacing is None else list(self.spacing)}
        if self.unit == ErrorUnit.WRIST:
            record.update(wrist_pair=list(self.wrist_pair), wrist_width_mm=self.wrist_width_mm)
        return record
