"""Render one phantom of a registered anatomy: draw its anatomy and pose until every landmark is on the film,
draw it, expose it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monai_landmarks.utils.coords import inside_image

from . import phantom_kind
from .film import Film, expose

MIN_SIZE = 16
MARGIN_MM = 2.0  # landmarks keep at least this far from the image border


def _as_generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}.")


def check_size(size, default: tuple[int, int]) -> tuple[int, int]:
    """``size`` as ``(W, H)`` integers of at least :data:`MIN_SIZE`, or ``default`` when None."""
    if size is None:
        return default
    try:
        w, h = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (W, H), two integers, got {size!r}.") from None
    if min(w, h) < MIN_SIZE:
        raise ValueError(f"size must be (W, H) with both at least {MIN_SIZE} pixels, got {tuple(size)}.")
    return w, h


def render_phantom(kind: str, rng, size: Sequence[int] | None = None, noise: bool = True):
    """Draw one phantom radiograph and its landmarks.

    Args:
        kind: ``"head"`` (a lateral cephalogram with the 19 ISBI 2015 landmarks), ``"hand"`` (a hand
            radiograph with 37 landmarks; 0 and 4 are the ulnar and radial styloid tips, the wrist-width pair),
            ``"spine"`` (an AP spine film, the 68 vertebral body corners T1-L5, TL, TR, BL, BR per vertebra)
            or ``"chest"`` (a PA chest film, 166 points on five ordered contours: lungs, heart, clavicles);
            any name of :data:`~monai_landmarks.data.phantoms.PHANTOM_KINDS`.
        rng: a ``numpy.random.Generator`` (or an int seed); the only source of randomness.
        size: image size ``(W, H)``, at least 16 each; default the kind's ``default_size``. The anatomy scales
            with the image: a head fills a 192 x 240 mm field of view at any size.
        noise: add detector noise. Everything else is the same with or without it, for the same ``rng`` state.

    Returns:
        ``(image, landmarks)``: a ``(W, H)`` float32 image in [0, 1] (array index ``[x, y]``) and ``(K, 2)``
        float32 ``(x, y)`` pixel-centre coordinates, all at least 2 mm inside the image.

    Raises:
        ValueError: unknown ``kind`` (the message lists the valid kinds) or a bad ``size``.
        TypeError: ``rng`` is neither a generator nor an int.
    """
    spec = phantom_kind(kind)
    size = check_size(size, spec.default_size)
    rng = _as_generator(rng)
    field = spec.field_mm
    margin = MARGIN_MM * min(size[0] / field[0], size[1] / field[1])
    for _ in range(100):  # redraw the rare anatomy or pose that breaks a construction or leaves the film
        anatomy = spec.anatomy(rng)
        pose = spec.pose.draw(rng, size, field)
        points = pose(anatomy.landmarks()).astype(np.float32)
        if anatomy.valid and inside_image(points - margin, size).all() and inside_image(points + margin, size).all():
            film = Film(size, pose)
            anatomy.draw(film)
            return expose(rng, film, spec.soft_tissue, noise), points
    raise RuntimeError(f"could not draw a {kind} phantom with every landmark inside a {size} image.")


__all__ = ["MARGIN_MM", "MIN_SIZE", "check_size", "render_phantom"]
