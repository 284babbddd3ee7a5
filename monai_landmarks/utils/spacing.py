"""The pixel spacing of an image as one value: :class:`Spacing`, millimetres per pixel with where they came from.

The order is the package's ``(x, y)``: column, then row (DICOM stores ``row \\ column``, see
:mod:`monai_landmarks.data.dicom`). The ``source`` is ``"--spacing"`` (the user), ``"dataset"`` (``dataset.json``),
``"header"`` or ``"header: <DICOM tag>"`` (the image file), a caller's name (``"request"``,
``"bundle pixel_spacing_mm"``), or ``"assumed: bundle default (0.2 mm)"`` for a default. An unknown spacing is
``None``, never a Spacing. Which source wins is :func:`monai_landmarks.data.spacing.resolve_spacing`'s rule; every
spacing given to the package, from a flag, a config, a dataset, a header or a request, is checked here.
"""

from __future__ import annotations

import argparse
import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["ASSUMED", "Spacing", "assumed_source", "is_assumed", "spacing_flag"]

ASSUMED = "assumed: "  #: how a source that is a default, not a property of the image, begins


def assumed_source(spacing) -> str:
    """``"assumed: bundle default (0.2 mm)"`` (or ``(0.2 x 0.25 mm)``) for a default spacing."""
    x, y = _pair(spacing) or (math.nan, math.nan)
    return f"{ASSUMED}bundle default ({x:g} mm)" if x == y else f"{ASSUMED}bundle default ({x:g} x {y:g} mm)"


def is_assumed(source: str | None) -> bool:
    """True for a spacing source that is a default rather than the user's, the dataset's or the header's."""
    return isinstance(source, str) and source.startswith(ASSUMED)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_empty(value) -> bool:
    try:
        return np.size(value) == 0
    except ValueError:  # ragged sequences
        return False


def _pair(value) -> tuple[float, float] | None:
    """One or two real numbers (a scalar, a sequence, an array or a tensor) as ``(x, y)``; None for anything else
    (text, booleans, three numbers)."""
    if isinstance(value, (list, tuple)) and not all(_is_number(v) for v in value):
        return None  # [True, 0.1], ["0.1", "0.1"], nested lists
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):  # ragged sequences
        return None
    if array.dtype.kind not in "iuf" or array.size not in (1, 2):
        return None
    x, y = np.broadcast_to(array.astype(np.float64).reshape(-1), (2,))
    return float(x), float(y)


@dataclass(frozen=True)
class Spacing:
    """Millimetres per pixel ``(x, y)`` of an image and where they came from.

    Build one with :meth:`of` (a value given as one number or a pair) or :meth:`assume` (a default); both check it.

    Raises:
        ValueError: a spacing that is not positive and finite (the message names ``source``).
    """

    x: float
    y: float
    source: str | None  #: None where a caller did not say (a record written from bare numbers)

    def __post_init__(self) -> None:
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in (self.x, self.y)):
            where = self.source or "spacing"
            raise ValueError(f"{where}: pixel spacing must be positive and finite, got {[self.x, self.y]}.")

    @classmethod
    def of(cls, value, source: str | None, where: str | None = None, name: str = "pixel spacing") -> Spacing:
        """The spacing ``value`` (one number for square pixels, or ``(x, y)``) from ``source``.

        Args:
            value: mm per pixel: a number, a pair, an array or a tensor of one or two numbers.
            source: where it came from (recorded in the outputs).
            where: what the error message names (a file, a flag, a setting); ``source`` when None.
            name: what the value is called in the message (``"default_spacing"``, ``"spacing_mm"``).

        Raises:
            ValueError: not one or two numbers, or not positive and finite; the message names ``where``.
        """
        where = where or source
        said = f"{where}: {name}" if where else name
        pair = _pair(value)
        if pair is None:
            raise ValueError(f"{said} must be one or two positive numbers (sx, sy) in mm per pixel, got {value!r}.")
        if not all(math.isfinite(v) and v > 0 for v in pair):
            named = f" ({source})" if source and source != where else ""
            raise ValueError(f"{said} must be positive and finite, got {list(pair)}{named}.")
        return cls(pair[0], pair[1], source)

    @classmethod
    def known(cls, value, source: str | None, where: str | None = None) -> Spacing | None:
        """As :meth:`of`, but None for an unknown spacing: None, empty, or not finite (NaN is the datalists' and
        the headers' mark for unknown)."""
        if value is None or _is_empty(value):
            return None
        pair = _pair(value)
        if pair is not None and not all(map(math.isfinite, pair)):
            return None
        return cls.of(value, source, where)

    @classmethod
    def assume(cls, value, where: str | None = None) -> Spacing:
        """A default spacing (the bundle's training data), recorded as ``"assumed: bundle default (... mm)"``."""
        spacing = cls.of(value, "bundle default", where)
        return cls(spacing.x, spacing.y, assumed_source(value))

    @property
    def assumed(self) -> bool:
        """True when this spacing is a default rather than the image's, the dataset's or the user's."""
        return is_assumed(self.source)

    def as_list(self) -> list[float]:
        """``[x, y]``, as the outputs record ``spacing_mm``."""
        return [self.x, self.y]

    def as_array(self) -> np.ndarray:
        """``(2,)`` float64 (float32 would move SDR ties: 0.2 becomes 0.20000000298)."""
        return np.array([self.x, self.y], dtype=np.float64)

    def as_tensor(self) -> torch.Tensor:
        """``(2,)`` float64 tensor."""
        return torch.tensor([self.x, self.y], dtype=torch.float64)


def spacing_flag(text: str) -> float:
    """``argparse`` type of a ``--spacing`` flag: one number of millimetres per pixel, checked as every spacing is."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    try:
        return Spacing.of(value, "--spacing").x
    except ValueError:
        raise argparse.ArgumentTypeError(f"spacing must be a positive number of mm per pixel, got {text}") from None
