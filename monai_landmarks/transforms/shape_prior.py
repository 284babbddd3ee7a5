"""A statistical shape prior for decoded landmarks: a point distribution model fitted robustly to a prediction.

Heatmap decoding treats each landmark alone. Where landmarks look alike (the 17 vertebrae of a spine), a few land
on the wrong structure, and then a vertebra's corners can cross, which leaves a Cobb angle undefined. The prior
(Cootes et al., "Active shape models", CVIU 61, 1995) replaces a prediction by the nearest plausible shape:

1. Fit: the training shapes are aligned by generalised Procrustes analysis (similarity: scale, rotation, shift),
   and the principal modes of the aligned shapes are kept (``num_modes``).
2. Project: a prediction is aligned to the model, its mode coefficients are found by weighted least squares and
   clamped to ``clamp`` standard deviations, and the result is mapped back. The weights are Tukey's biweight of
   each point's residual (scale: 1.4826 x the median residual), re-estimated ``iterations`` times, so the few
   points on a wrong vertebra stop pulling the fit.

The output is the model's shape in the prediction's frame (image pixels): every landmark replaced (``replace="all"``,
the classic active shape model: always a plausible shape, but each point only as precise as the model), or only the
outliers, the points whose final weight is below 0.5 (``replace="outliers"``: inliers keep their sub-pixel decoding,
but a shape can stay implausible). On the spine's validation images "all" left every spine's Cobb angles defined and
"outliers" 28 of 47 (bundles/gu2net_spine/docs/README.md). The model is a
small self-describing file (``save``/``load``), built from a dataset's training split with the validation images
held out (``monai-landmarks shape-prior``), and used by the :class:`ShapePriord` step of a bundle's
postprocessing, which records the file that ran in the sample's ``Keys.CASCADE`` record.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from monai_landmarks.utils.keys import Keys

__all__ = ["FORMAT", "ShapeModel", "ShapePriord"]

FORMAT = "monai_landmarks.shape_model"
_VERSION = 1


def _align(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> tuple[complex, np.ndarray, np.ndarray]:
    """``(c, source centre, target centre)`` of the similarity ``z -> c (z - cs) + ct`` taking source onto target
    in weighted least squares (points as complex numbers: ``c`` holds scale and rotation)."""
    w = weights / weights.sum()
    cs, ct = w @ source, w @ target
    zs = (source[:, 0] - cs[0]) + 1j * (source[:, 1] - cs[1])
    zt = (target[:, 0] - ct[0]) + 1j * (target[:, 1] - ct[1])
    return complex((w * np.conj(zs) * zt).sum() / (w * np.abs(zs) ** 2).sum()), cs, ct


def _apply(c: complex, cs: np.ndarray, ct: np.ndarray, points: np.ndarray) -> np.ndarray:
    z = c * ((points[:, 0] - cs[0]) + 1j * (points[:, 1] - cs[1]))
    return np.stack([z.real + ct[0], z.imag + ct[1]], axis=1)


def _unit(shape: np.ndarray) -> np.ndarray:
    centred = shape - shape.mean(axis=0)
    return centred / np.sqrt((centred**2).sum())


@dataclass(frozen=True)
class ShapeModel:
    """A point distribution model of ``K`` landmarks: unit-size mean shape, principal modes and their variances.

    Args:
        mean: ``(K, 2)`` mean of the aligned training shapes (centred, unit Frobenius norm).
        modes: ``(M, 2K)`` orthonormal principal directions, ``x0, y0, x1, y1, ...``.
        variances: ``(M,)`` variance of the aligned training shapes along each mode.
        clamp: mode coefficients are clamped to ``+-clamp`` standard deviations.
        tukey: Tukey biweight constant in units of the robust residual scale.
        iterations: reweighting rounds of :meth:`project`.
        provenance: what the model was fitted on (dataset, split, image count), kept in the file.
    """

    mean: np.ndarray
    modes: np.ndarray
    variances: np.ndarray
    clamp: float = 3.0
    tukey: float = 3.0
    iterations: int = 10
    provenance: dict = field(default_factory=dict)

    @property
    def num_landmarks(self) -> int:
        return len(self.mean)

    @classmethod
    def fit(cls, shapes: Sequence[np.ndarray], num_modes: int, **settings) -> ShapeModel:
        """Fit to ``(K, 2)`` training shapes (generalised Procrustes, then PCA); shapes with a NaN are left out."""
        stack = np.stack([np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in shapes])
        stack = stack[np.isfinite(stack).all(axis=(1, 2))]
        k = stack.shape[1]
        if not 0 < num_modes < len(stack):
            raise ValueError(f"num_modes must be in 1..{len(stack) - 1} for {len(stack)} complete shapes, "
                             f"got {num_modes}.")  # fmt: skip
        ones = np.ones(k)
        mean = _unit(stack[0])
        for _ in range(10):  # converges in a few rounds
            aligned = np.stack([_apply(*_align(s, mean, ones), s) for s in stack])
            mean = _unit(aligned.mean(axis=0))
        aligned = np.stack([_apply(*_align(s, mean, ones), s) for s in stack])
        _, singular, directions = np.linalg.svd((aligned - mean).reshape(len(stack), -1), full_matrices=False)
        variances = singular[:num_modes] ** 2 / len(stack)
        return cls(mean, directions[:num_modes], variances, **settings)

    def project(self, points) -> tuple[np.ndarray, np.ndarray]:
        """The plausible shape nearest ``(K, 2)`` points (image pixels), and each point's final biweight in [0, 1].

        Raises:
            ValueError: points of another count, or not all finite.
        """
        y = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if y.shape != self.mean.shape:
            raise ValueError(f"the shape model has {self.num_landmarks} landmarks, the prediction {len(y)}.")
        if not np.isfinite(y).all():
            raise ValueError("the shape model needs every landmark; the prediction has a NaN or infinite one.")
        limit = self.clamp * np.sqrt(self.variances)
        ridge = np.diag(1e-3 / self.variances)  # keeps the solve defined when many weights reach 0
        weights, shape = np.ones(len(y)), self.mean
        for _ in range(self.iterations):
            c, cs, ct = _align(shape, y, weights)
            in_model = _apply(1 / c, ct, cs, y)  # the prediction in the model's frame
            w2 = np.repeat(weights, 2)
            weighted = self.modes * w2
            rhs = weighted @ (in_model - self.mean).reshape(-1)
            b = np.clip(np.linalg.solve(weighted @ self.modes.T + ridge * w2.mean(), rhs), -limit, limit)
            shape = self.mean + (b @ self.modes).reshape(-1, 2)
            fitted = _apply(*_align(shape, y, weights), shape)
            residual = np.linalg.norm(fitted - y, axis=1)
            u = residual / (self.tukey * 1.4826 * np.median(residual) + 1e-9)
            weights = np.where(u < 1, (1 - u**2) ** 2, 0.0) + 1e-3
        return fitted, np.clip(weights - 1e-3, 0.0, 1.0)

    def save(self, path) -> None:
        """Write the model to a new file (an existing one is refused: shipped files are never replaced)."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path}: exists; refused to replace it. Choose another path or move it away.")
        payload = {
            "format": FORMAT,
            "version": _VERSION,
            "mean": torch.from_numpy(self.mean),
            "modes": torch.from_numpy(self.modes),
            "variances": torch.from_numpy(self.variances),
            "settings": {"clamp": self.clamp, "tukey": self.tukey, "iterations": self.iterations},
            "provenance": dict(self.provenance),
        }
        with open(path, "xb") as f:
            torch.save(payload, f)

    @classmethod
    def load(cls, path) -> ShapeModel:
        """Read a file written by :meth:`save`; anything else is refused, naming the file."""
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # an unpicklable or truncated file: say which
            raise ValueError(f"{path}: not a readable shape model ({type(e).__name__}: {e}).") from e
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"{path}: not a shape model file (no format {FORMAT!r}); build one with "
                             "`monai-landmarks shape-prior`.")  # fmt: skip
        if payload.get("version") != _VERSION:
            raise ValueError(f"{path}: shape model version {payload.get('version')!r}, this code reads {_VERSION}.")
        mean, modes = payload["mean"].numpy(), payload["modes"].numpy()
        if mean.ndim != 2 or mean.shape[1] != 2 or modes.shape[1:] != (mean.size,):
            shapes = f"mean {tuple(mean.shape)}, modes {tuple(modes.shape)}"
            raise ValueError(f"{path}: inconsistent shape model ({shapes}).")
        return cls(mean, modes, payload["variances"].numpy(), **payload["settings"], provenance=payload["provenance"])


class ShapePriord(MapTransform):
    """Replace decoded landmarks (``(1, K, 2)``, image pixels) by the nearest shape of a :class:`ShapeModel`.

    ``model_path`` None, or a file that is absent and that no ``large_files.yml`` lists (a training run's folder),
    leaves the landmarks as decoded, with a warning when a path was given; a listed file that is absent, damaged
    (size, sha256) or not a shape model is an error naming it. The file is read once. ``replace``: ``"all"`` or
    ``"outliers"``, as in the module's text. What ran is added to the sample's ``cascade_key`` record as
    ``"shape_prior": {"path", "sha256", "listed_in", "replace", "applied"}`` (None when off), so predict's JSON,
    summary and log and the evaluation report name it. A prediction with a missing landmark is left as it is
    (``"applied": False``), with a warning naming the image.
    """

    def __init__(
        self,
        keys: KeysCollection = Keys.PRED_LANDMARKS,
        model_path: str | Path | None = None,
        replace: str = "all",
        cascade_key: Hashable = Keys.CASCADE,
        image_key: Hashable = Keys.IMAGE,
        allow_missing_keys: bool = False,
    ) -> None:
        from monai_landmarks.bundle.large_files import listed_entry, verify_weights_file

        super().__init__(keys, allow_missing_keys)
        if replace not in ("all", "outliers"):
            raise ValueError(f"ShapePriord: replace must be 'all' or 'outliers', got {replace!r}.")
        self.replace, self.cascade_key, self.image_key = replace, cascade_key, image_key
        self.model, self.weights = None, None
        if model_path is None:
            return
        if not Path(model_path).is_file() and listed_entry(model_path) is None:
            logging.getLogger(__name__).warning(f"{model_path}: no shape prior file; landmarks as decoded.")
            return
        self.weights = verify_weights_file(model_path)  # a listed but missing or damaged file raises here
        self.model = ShapeModel.load(model_path)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            ran = dict(d.get(self.cascade_key) or {"cascade": "off", "refiner": None})
            applied = None if self.model is None else self._fit(d, key)
            ran["shape_prior"] = (
                None if applied is None else {**self.weights, "replace": self.replace, "applied": applied}
            )
            d[self.cascade_key] = ran
        return d

    def _fit(self, d: dict, key: Hashable) -> bool:
        landmarks = torch.as_tensor(d[key])
        points = landmarks.detach().cpu().double().reshape(-1, 2).numpy()
        if not np.isfinite(points).all():
            name = (getattr(d.get(self.image_key), "meta", None) or {}).get("filename_or_obj", "image")
            logging.getLogger(__name__).warning(f"{name}: a landmark is missing; shape prior skipped.")
            return False
        try:
            fitted, weights = self.model.project(points)
        except ValueError as e:
            raise ValueError(f"{self.weights['path']}: {e}") from e
        if self.replace == "outliers":
            fitted = np.where((weights < 0.5)[:, None], fitted, points)
        d[key] = torch.as_tensor(fitted, dtype=landmarks.dtype).reshape(landmarks.shape)
        return True
