"""The cascade's refiner weights file: the refiner's weights and the settings they only work with, in one file.

    {"model": state_dict, "meta": {"num_landmarks": K, "patch_size": P, "patch_spacing_mm": s, "features": [...]}}

A refiner sees the world at one scale: patches of another size or pixel size would be read wrongly without any
error. So the file says what the refiner was trained with, and the cascade takes its patch settings from there
(the bundle configs never repeat them; a run folder with other refiner weights needs no config change).

:class:`RefinerSpec` is that record and writes the file (:meth:`RefinerSpec.save`, the refiner training's
``SaveBestModel`` writer in ``configs/refine.json``); :func:`read_refiner` reads it once and checks it (the sha256
its bundle's ``large_files.yml`` lists, every setting, finite weights), and :meth:`RefinerSpec.check` compares it
with what the caller expects (the bundle's landmark count). Every message names the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from ..networks.nets.refiner import LandmarkRefiner
from ..utils.io import atomic_torch_save

__all__ = ["RefinerFile", "RefinerSpec", "load_refiner", "read_refiner"]


def _positive_int(value, name: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an integer of at least {least}, got {value!r}.")
    return value


@dataclass(frozen=True)
class RefinerSpec:
    """What a patch refiner was trained with, recorded beside its weights (``meta``).

    Args:
        num_landmarks: ``K``: one patch, and one output channel, per landmark.
        patch_size: ``P``, patch pixels per side.
        patch_spacing_mm: mm per patch pixel; patches of any image are resampled to it.
        features: the refiner's six BasicUNet widths (:class:`~monai_landmarks.networks.LandmarkRefiner`).
    """

    num_landmarks: int
    patch_size: int
    patch_spacing_mm: float
    features: Sequence[int]

    def __post_init__(self) -> None:
        _positive_int(self.num_landmarks, "num_landmarks")
        _positive_int(self.patch_size, "patch_size", least=2)
        spacing = self.patch_spacing_mm
        if isinstance(spacing, bool) or not isinstance(spacing, (int, float)) or not (0 < spacing < math.inf):
            raise ValueError(f"patch_spacing_mm must be a positive number (mm per patch pixel), got {spacing!r}.")
        features = tuple(self.features) if isinstance(self.features, Sequence) else ()
        if len(features) != 6 or not all(isinstance(f, int) and not isinstance(f, bool) and f > 0 for f in features):
            raise ValueError(f"features must be six positive integers (BasicUNet widths), got {self.features!r}.")
        object.__setattr__(self, "patch_spacing_mm", float(spacing))
        object.__setattr__(self, "features", features)

    @classmethod
    def from_meta(cls, meta, path) -> RefinerSpec:
        """The spec a weights file at ``path`` records; ValueError naming the file when a setting is missing or bad."""
        missing = [f.name for f in fields(cls) if not isinstance(meta, Mapping) or f.name not in meta]
        if missing:
            raise ValueError(f"{path}: not refiner weights with their patch settings (missing {missing} in 'meta').")
        try:
            return cls(**{f.name: meta[f.name] for f in fields(cls)})
        except ValueError as e:
            raise ValueError(f"{path}: unusable refiner settings in 'meta': {e}") from e

    def meta(self) -> dict:
        """The settings as the file records them (plain JSON types)."""
        return asdict(self) | {"features": list(self.features)}

    def network(self) -> LandmarkRefiner:
        """A refiner network of these settings (untrained)."""
        return LandmarkRefiner(num_landmarks=self.num_landmarks, features=self.features)

    def save(self, state_dict: Mapping, path) -> None:
        """Write ``state_dict`` with these settings to ``path`` (atomically), as :func:`read_refiner` reads it."""
        atomic_torch_save({"model": dict(state_dict), "meta": self.meta()}, path)

    def check(self, path, source: str = "the bundle", **expected) -> None:
        """Refuse a refiner trained with other settings than ``expected`` (``name=value``; None expects nothing)
        by ``source`` (named in the message).

        Raises:
            ValueError: naming the file, the setting, the value trained with and the one expected.
        """
        for name, wanted in expected.items():
            if wanted is None:
                continue
            trained = getattr(self, name)
            same = tuple(trained) == tuple(wanted) if name == "features" else math.isclose(trained, float(wanted))
            if not same:
                raise ValueError(f"{path}: the refiner was trained with {name} = {trained}; {source} expects {wanted}.")


@dataclass(frozen=True)
class RefinerFile:
    """A refiner weights file, read and checked: its spec, its weights and which file it is (path, sha256)."""

    path: Path
    spec: RefinerSpec
    state: Mapping
    weights: dict  #: ``{"path", "sha256", "listed_in"}``, for the outputs that say which refiner ran

    def load_into(self, network: torch.nn.Module) -> torch.nn.Module:
        """Load the weights into ``network`` (in eval mode); ValueError naming the file when they do not fit."""
        try:
            getattr(network, "module", network).load_state_dict(self.state)
        except RuntimeError as e:
            details = " ".join(str(e).split())[:400]
            raise ValueError(
                f"{self.path}: the refiner weights do not fit the network {type(network).__name__} ({details})."
            ) from e
        return network.eval()


def read_refiner(path) -> RefinerFile:
    """Read a refiner weights file once and check it.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that does not match its ``large_files.yml``, is not a PyTorch file, has no usable
            settings (plain weights, a coarse model's), no weights, or NaN or infinite weights.
    """
    from ..bundle.large_files import verify_weights_file

    path = Path(path)
    weights = verify_weights_file(path)  # size and sha256 of a listed file; the hash is cached
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors alike
        raise ValueError(f"{path}: not a readable PyTorch weights file ({type(e).__name__}).") from e
    spec = RefinerSpec.from_meta(obj.get("meta") if isinstance(obj, Mapping) else None, path)
    state = obj.get("model")
    if not isinstance(state, Mapping) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path}: refiner settings but no weights (a state_dict under 'model').")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(
            f"{path}: {len(bad)} refiner parameter tensor(s) hold NaN or infinite values (e.g. {bad[0]!r}); "
            "the training diverged or the file is damaged."
        )
    return RefinerFile(path, spec, state, weights)


def load_refiner(path, network: torch.nn.Module, patch_size=None, patch_spacing_mm=None) -> torch.nn.Module:
    """Load refiner weights into a network of your own, refusing a file trained with other patch settings than
    ``patch_size`` and ``patch_spacing_mm`` (None: not checked) or weights that do not fit ``network``."""
    file = read_refiner(path)
    file.spec.check(file.path, "the caller", patch_size=patch_size, patch_spacing_mm=patch_spacing_mm)
    return file.load_into(network)
