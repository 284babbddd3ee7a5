"""What one anatomy module tells the renderer and the dataset writer (:class:`PhantomKind`), what its typed
anatomy provides (:class:`Anatomy`), and :class:`Parts`, the base of its named groups of parts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Protocol

import numpy as np

from .film import Film
from .geometry import PoseSpread


class Anatomy(Protocol):
    """One drawn anatomy in canonical mm: its landmarks in order, whether the draw is usable, and its drawing."""

    @property
    def valid(self) -> bool: ...

    def landmarks(self) -> np.ndarray: ...

    def draw(self, film: Film) -> None: ...


@dataclass(frozen=True)
class PhantomKind:
    """One phantom anatomy: its landmarks, canonical film, random anatomy and pose, and how datasets store it."""

    name: str
    landmark_names: tuple[str, ...]
    field_mm: tuple[float, float]  # the canonical film in mm: the anatomy scales with the image
    default_size: tuple[int, int]
    anatomy: Callable[[np.random.Generator], Anatomy]
    pose: PoseSpread
    soft_tissue: float = 0.4  # soft-tissue attenuation at full thickness
    calibrated: bool = False  # the canonical film is true mm, so datasets record pixel_spacing_mm
    image_format: str = "png"
    vary_size: Callable[[np.random.Generator, tuple[int, int]], tuple[int, int]] | None = None  # per dataset image
    metadata: Mapping = field(default_factory=dict)  # extra dataset.json entries


class Parts:
    """Base of a dataclass of named parts (fingers, carpal bones, contours): iterates them in field order."""

    def __iter__(self) -> Iterator:
        return (getattr(self, f.name) for f in fields(self))
