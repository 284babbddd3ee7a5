"""Model weights checked before they load: the right network, finite values, the hash ``large_files.yml`` lists.

:func:`check_weights` tells a checkpoint of another network apart from a corrupt file before loading it, refuses
NaN or infinite weights, and checks a file its bundle's ``large_files.yml`` lists against its sha256;
:func:`load_weights` (and the bundles' :class:`WeightsLoader` handler) load through it and say which file ran.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from monai.utils import min_version, optional_import

Events, _ = optional_import("ignite.engine", "0.4.4", min_version, "Events")

__all__ = ["WeightsLoader", "check_weights", "load_weights"]


def _state_dict_in(obj, path: Path) -> Mapping:
    """The network weights in a loaded file: a plain ``state_dict`` or one stored under ``"model"``."""
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        keys = sorted(map(str, obj))[:6] if isinstance(obj, Mapping) else type(obj).__name__
        raise ValueError(
            f"{path}: not a network state_dict (found {keys}); pass the weights file, e.g. models/model.pt."
        )
    return obj


def _check_finite(state: Mapping, path: Path) -> None:
    """NaN or infinite weights make every heatmap NaN, and every landmark null: refuse them at load."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(
            f"{path}: {len(bad)} parameter tensor(s) hold NaN or infinite values (e.g. {bad[0]!r}); "
            "the training diverged or the file is damaged. Use an earlier checkpoint."
        )


def _read_weights(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors alike: the file is not usable weights
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"{path}: not a readable PyTorch weights file ({type(e).__name__}: {first}).") from e


def check_weights(path, network: torch.nn.Module) -> Mapping:
    """Check that the weights file ``path`` loads into ``network`` (same parameter names and shapes).

    A file listed in its bundle's ``large_files.yml`` is first checked against its size and sha256
    (:func:`~monai_landmarks.bundle.large_files.verify_weights_file`).

    Returns:
        The file's state_dict (on the CPU).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that does not match ``large_files.yml``, not a PyTorch weights file, weights of another
            network or of other settings (the message names the file and the first differences), or NaN or
            infinite weights.
    """
    from monai_landmarks.bundle.large_files import verify_weights_file

    path = Path(path)
    verify_weights_file(path)
    obj = _read_weights(path)
    state = _state_dict_in(obj, path)
    expected = getattr(network, "module", network).state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or reshaped):
        _check_finite(state, path)
        return state
    name = type(getattr(network, "module", network)).__name__
    if isinstance(obj, Mapping) and isinstance(obj.get("meta"), Mapping) and "patch_size" in obj["meta"]:
        raise ValueError(
            f"{path}: the cascade's patch refiner weights (refiner.pt), not weights of the network {name}; pass the "
            "coarse model's weights (models/model.pt)."
        )
    details = []
    if missing:
        details.append(f"{len(missing)} missing (e.g. {missing[0]!r})")
    if unexpected:
        details.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]!r})")
    if reshaped:
        k = reshaped[0]
        details.append(
            f"{len(reshaped)} of another shape (e.g. {k!r}: {tuple(state[k].shape)} in the file, "
            f"{tuple(expected[k].shape)} in the network)"
        )
    raise ValueError(
        f"{path}: weights do not fit the network {name}: "
        f"{'; '.join(details)} parameters. Is it a checkpoint of another network, or trained with other "
        "settings (num_landmarks, width_multiplier)?"
    )


def load_weights(path, network: torch.nn.Module) -> dict:
    """Load the weights file ``path`` into ``network`` after :func:`check_weights`; says which file ran.

    Every door that loads a bundle's model weights goes through here (the bundles' :class:`WeightsLoader`,
    ``predict``, ``export``, the MONAI Label app), so each one checks ``large_files.yml`` and reports the same.

    Returns:
        ``{"path": str, "sha256": hex, "listed_in": large_files.yml or None}``.
    """
    from monai_landmarks.bundle.large_files import verify_weights_file

    state = check_weights(path, network)
    getattr(network, "module", network).load_state_dict(state)  # copied onto the parameters' device
    return verify_weights_file(path)  # the hash is cached: not read again


class WeightsLoader:
    """Load checked model weights when the engine starts (in place of MONAI's ``CheckpointLoader`` in the bundles'
    inference and evaluation configs), and record which file ran in ``engine.state.weights["model"]``.

    Args:
        load_path: the weights file (a state_dict, as ``models/model.pt``).
        network: the network to load into.
        map_location: accepted for ``CheckpointLoader``'s arguments; the weights go to the network's device.
        name: the key in ``engine.state.weights``.
    """

    def __init__(self, load_path, network: torch.nn.Module, map_location=None, name: str = "model") -> None:
        self.load_path, self.network, self.map_location, self.name = Path(load_path), network, map_location, name
        self.logger = logging.getLogger(__name__)
        self.loaded: dict | None = None

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine) -> None:
        self.loaded = load_weights(self.load_path, self.network)
        weights = dict(getattr(engine.state, "weights", None) or {})
        weights[self.name] = self.loaded
        engine.state.weights = weights
        self.logger.info(f"{self.name} weights: {self.loaded['path']} (sha256 {self.loaded['sha256']})")
