"""Synthetic X-ray phantoms, one module per anatomy: lateral cephalograms (:mod:`.head`, 19 landmarks), hand
radiographs (:mod:`.hand`, 37), AP spine films (:mod:`.spine`, 68) and PA chest films (:mod:`.chest`, 166).

They are the embedded default data of the bundles and tests, so nothing needs a download, and a network can
learn them: every landmark is a feature of the drawn anatomy, never a free point.

How it is drawn: each anatomy is built in a canonical frame in millimetres from random proportions, as a
typed dataclass whose fields are its structures, then posed on the image by a random similarity transform
(scale, rotation, shift; :mod:`.geometry`), so it scales with the image size. It draws itself on a
:class:`~.film.Film` from signed-distance shapes, and :func:`~.film.expose` turns the film into a
radiograph. Everything is deterministic given the ``numpy.random.Generator``; :func:`~.render.render_phantom`
draws one phantom.

A new anatomy is one new module here that defines a :class:`~.kind.PhantomKind` named ``KIND``, and its
name in :data:`ANATOMIES` (and in the command line's ``synth --kind`` choices, which ``tests/cli`` checks).
"""

from __future__ import annotations

from importlib import import_module

from .kind import PhantomKind

#: the anatomy modules of this package, in the order the kinds are listed
ANATOMIES = ("head", "hand", "spine", "chest")
KINDS: dict[str, PhantomKind] = {name: import_module(f"{__name__}.{name}").KIND for name in ANATOMIES}
PHANTOM_KINDS = tuple(KINDS)
GENERATOR_VERSION = 2  # bump when phantoms change: cached datasets of another version are redrawn


def phantom_kind(kind: str) -> PhantomKind:
    """The registered anatomy ``kind``; a ValueError lists the valid kinds."""
    if kind not in KINDS:
        raise ValueError(f"unknown phantom kind {kind!r}; valid kinds: {tuple(KINDS)}.")
    return KINDS[kind]


__all__ = ["ANATOMIES", "GENERATOR_VERSION", "KINDS", "PHANTOM_KINDS", "PhantomKind", "phantom_kind"]
