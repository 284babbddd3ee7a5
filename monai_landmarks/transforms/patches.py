"""Landmark patches: for each of ``K`` landmarks, a patch of fixed physical size around a given position, and
the exact map between patch pixels and image pixels.

Geometry (the coordinate contract of ``utils.coords`` holds inside a patch too)
    Patch ``k`` is a ``P x P`` image (``P = patch_size``) in the package layout (axis 0 = x). Its pixel ``p``
    (pixel-centre coordinates) samples the image at ``u = M_k p`` with the 3 x 3 affine
    ``M_k = [[A_k, c_k - A_k q], [0, 0, 1]]``, ``q = ((P - 1) / 2, (P - 1) / 2)`` the patch centre and
    ``A_k = step * R(angle_k) / zoom_k``: ``step`` image pixels per patch pixel (patch spacing / image spacing,
    per axis), a rotation and a zoom (training augmentation; 0 and 1 at inference). So the patch centre sits
    exactly on ``c_k``, and ``patch_to_image`` / ``image_to_patch`` are exact inverses of each other.

Resolution
    Patches are sampled bilinearly. When a patch pixel spans two or more image pixels (an image finer than the
    patch spacing, such as the original ISBI 2015 images at 0.1 mm for patches at 0.2 mm), the image is first
    reduced by the integer factor ``f = floor(step)`` with an ``f x f`` box mean, which is how the 0.2 mm
    dataset copy was made from the originals; the rest of the step is bilinear. The box mean maps
    ``u -> (u + 0.5) / f - 0.5`` (``coords.rescale``) and drops a trailing row or column that does not fill a
    block; ``M_k`` includes that map, so it always refers to the pixels of the image given.

Outside the image
    Patch pixels that fall outside the image read zero (the mean of an intensity-normalised image): a patch
    around a landmark near the border, or around a coarse estimate off the image, is padded, never shifted.

The cascade's chain, the same in the refiner's validation and at inference
    patches (:func:`extract_patches`; :class:`LandmarkPatchesd` in a sample) -> refiner -> :func:`decode_patches`
    (:class:`DecodePatchesd` in a sample) -> image pixels. :class:`RefineLandmarksd` is the inference step: it runs
    the chain through :class:`~monai_landmarks.engines.PatchRefinement` on the coarse landmarks.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import convert_to_tensor

from ..codecs.decoders import decode_softmax
from ..data.spacing import image_spacing_and_source, is_assumed
from ..utils import coords
from ..utils.keys import Keys

__all__ = [
    "REFINER_RADIUS",
    "DecodePatchesd",
    "LandmarkPatchesd",
    "PatchesToImaged",
    "RefineLandmarksd",
    "box_downsample",
    "decode_patches",
    "extract_patches",
    "image_to_patch",
    "patch_matrices",
    "patch_to_image",
    "sample_patches",
]


def patch_matrices(
    centres: torch.Tensor,
    patch_size: int,
    step: float | Sequence[float] = 1.0,
    angles: torch.Tensor | None = None,
    zooms: torch.Tensor | None = None,
) -> torch.Tensor:
    """Patch -> image affines ``(K, 3, 3)`` (float64) of patches centred on ``centres`` ``(K, 2)``.

    Args:
        centres: patch centres in image pixels.
        patch_size: ``P``, patch pixels per side.
        step: image pixels per patch pixel, a scalar or per axis ``(x, y)``.
        angles: ``(K,)`` rotations in radians (counter-clockwise in the x-y plane), default 0.
        zooms: ``(K,)`` zooms (> 1 magnifies: the patch covers less of the image), default 1.
    """
    c = torch.as_tensor(centres, dtype=torch.float64).reshape(-1, 2)
    k = c.shape[0]
    angles = torch.zeros(k, dtype=torch.float64) if angles is None else torch.as_tensor(angles, dtype=torch.float64)
    zooms = torch.ones(k, dtype=torch.float64) if zooms is None else torch.as_tensor(zooms, dtype=torch.float64)
    cos, sin = torch.cos(angles), torch.sin(angles)
    rotation = torch.stack((torch.stack((cos, -sin), -1), torch.stack((sin, cos), -1)), -2)  # (K, 2, 2)
    scale = torch.as_tensor(step, dtype=torch.float64).expand(2)
    a = scale[:, None] * rotation / zooms[:, None, None]
    q = torch.full((2,), (patch_size - 1) / 2, dtype=torch.float64)
    m = torch.zeros(k, 3, 3, dtype=torch.float64)
    m[:, :2, :2] = a
    m[:, :2, 2] = c - a @ q
    m[:, 2, 2] = 1.0
    return m


def patch_to_image(points: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Map ``(..., K, 2)`` points, landmark ``k`` in patch ``k``'s pixels, to image pixels (NaN stays NaN).

    ``matrices`` are ``(K, 3, 3)``, or batched like the points (``(B, K, 3, 3)`` for ``(B, K, 2)``).
    """
    p = torch.as_tensor(points)
    m = torch.as_tensor(matrices, dtype=torch.float64, device=p.device)
    out = (m[..., :2, :2] @ p.to(torch.float64).unsqueeze(-1)).squeeze(-1) + m[..., :2, 2]
    return out.to(p.dtype)


def image_to_patch(points: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`patch_to_image`: ``(..., K, 2)`` image pixels -> patch ``k``'s pixels."""
    return patch_to_image(points, torch.linalg.inv(torch.as_tensor(matrices, dtype=torch.float64)))


def box_downsample(image: torch.Tensor, factor: int) -> torch.Tensor:
    """``(C, W, H)`` -> ``(C, W // f, H // f)`` by an ``f x f`` box mean (the dataset converters' reduction)."""
    if factor == 1:
        return image
    return F.avg_pool2d(image[None].float(), kernel_size=factor, stride=factor)[0]


def sample_patches(image: torch.Tensor, matrices: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Bilinear samples ``(K, C, P, P)`` of a ``(C, W, H)`` image at the patch grids of ``matrices``; zeros outside."""
    c, w, h = image.shape
    k = matrices.shape[0]
    grid = torch.arange(patch_size, dtype=torch.float64, device=image.device)
    px, py = torch.meshgrid(grid, grid, indexing="ij")
    p = torch.stack((px, py), -1).reshape(-1, 1, 2).expand(-1, k, -1)  # (P*P, K, 2)
    u = patch_to_image(p, matrices.to(image.device)).transpose(0, 1)  # (K, P*P, 2)
    # grid_sample indexes (N, C, H_in, W_in) with grid (x=last axis, y=second last) in [-1, 1] at pixel centres
    # (align_corners=True); our last axis is y, so the grid is (y, x) normalised by (H - 1, W - 1).
    ny = 2 * u[..., 1] / max(h - 1, 1) - 1
    nx = 2 * u[..., 0] / max(w - 1, 1) - 1
    g = torch.stack((ny, nx), -1).reshape(1, k * patch_size, patch_size, 2).to(torch.float32)
    out = F.grid_sample(image[None].float(), g, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out[0].reshape(c, k, patch_size, patch_size).transpose(0, 1)


def extract_patches(
    image: torch.Tensor,
    centres: torch.Tensor,
    patch_size: int,
    step: float | Sequence[float] = 1.0,
    angles: torch.Tensor | None = None,
    zooms: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Patches ``(K, C, P, P)`` around ``centres`` ``(1, K, 2)`` or ``(K, 2)`` of a ``(C, W, H)`` image, and their
    patch -> image affines ``(K, 3, 3)`` in the given image's pixels (see the module docstring on resolution).

    Raises:
        ValueError: if a centre is NaN or infinite, or ``step`` is not positive.
    """
    image = convert_to_tensor(image, track_meta=False)
    c = torch.as_tensor(centres, dtype=torch.float64).reshape(-1, 2)
    if not torch.isfinite(c).all():
        bad = sorted({int(i) for i in torch.nonzero(~torch.isfinite(c).all(-1)).flatten()})
        raise ValueError(f"patch centres of landmarks {bad} are NaN or infinite; every landmark needs a position.")
    steps = torch.as_tensor(step, dtype=torch.float64).expand(2)
    if not bool((steps > 0).all()):
        raise ValueError(f"step must be positive image pixels per patch pixel, got {step}.")
    factor = max(1, math.floor(float(steps.min()) + 1e-6))
    reduced = box_downsample(image, factor)
    m = patch_matrices(coords.rescale(c, 1.0 / factor), patch_size, steps / factor, angles, zooms)
    patches = sample_patches(reduced, m, patch_size)
    to_image = torch.tensor([[factor, 0, (factor - 1) / 2], [0, factor, (factor - 1) / 2], [0, 0, 1]], dtype=m.dtype)
    return patches, to_image @ m


#: window of the refiner's decoder, in patch pixels (3, 5 or 8 changed the ceph bundles' MRE by under 0.01 mm)
REFINER_RADIUS = 5


def decode_patches(
    logits: torch.Tensor, matrices: torch.Tensor, radius: int = REFINER_RADIUS
) -> tuple[torch.Tensor, torch.Tensor]:
    """Landmarks in image pixels from a refiner's ``(..., K, P, P)`` logits, landmark ``k`` in patch ``k``: the
    ``"softmax"`` decoder (the refiner is trained with a spatial softmax, ``HeatmapLoss("softmax_ce")``), then
    the patch -> image affines ``matrices`` of :func:`extract_patches`.

    Returns:
        ``(..., K, 2)`` float64 image pixels and ``(..., K)`` confidence (the probability mass in the window).
    """
    local, confidence = decode_softmax(logits, radius=radius)
    return patch_to_image(local.to(torch.float64), matrices), confidence


class LandmarkPatchesd(RandomizableTransform, MapTransform):
    """Replace an image by the stack of its ``K`` landmark patches: ``(C, W, H)`` -> ``(K, P, P)``.

    Channel ``k`` of the output is the patch around landmark ``k`` (gray images; the refiner's input), so a
    heatmap network sees landmark identity as the channel index. The patch -> image affines go to
    ``matrix_key`` and, when ``landmark_key`` is in the sample, its landmarks mapped into their own patches go to
    ``patch_landmark_key`` (the targets of a refiner).

    Args:
        keys: the image key(s); every key gets the same patches.
        centre_key: ``(1, K, 2)`` patch centres in image pixels: the truth in training, a coarse estimate at
            inference.
        patch_size: ``P``.
        patch_spacing_mm: mm per patch pixel; None samples at the image's own pixel size.
        spacing_key: the sample's ``(2,)`` mm per image pixel (needed when ``patch_spacing_mm`` is set).
        jitter_mm: standard deviation of a Gaussian shift of each centre (training: the coarse model's errors).
        jitter_clip_mm: largest shift length.
        rotate_range: rotations drawn from ``[-r, r]`` radians, per patch.
        scale_range: zooms drawn from ``[1 - s, 1 + s]``, per patch.
        fixed_seed: draw each sample's randomness from this seed and the sample's image id, so a validation set
            gets the same shifts every epoch.
        landmark_key, patch_landmark_key, matrix_key, id_key: keys read and written.
    """

    def __init__(
        self,
        keys: KeysCollection = Keys.IMAGE,
        centre_key: Hashable = Keys.LANDMARKS,
        patch_size: int = 128,
        patch_spacing_mm: float | None = None,
        spacing_key: Hashable = Keys.SPACING,
        jitter_mm: float = 0.0,
        jitter_clip_mm: float = math.inf,
        rotate_range: float = 0.0,
        scale_range: float = 0.0,
        fixed_seed: int | None = None,
        landmark_key: Hashable = Keys.LANDMARKS,
        patch_landmark_key: Hashable = Keys.PATCH_LANDMARKS,
        matrix_key: Hashable = Keys.PATCH_MATRIX,
        id_key: Hashable = Keys.IMAGE_ID,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=1.0)
        if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 2:
            raise ValueError(f"patch_size must be an integer >= 2, got {patch_size!r}.")
        if patch_spacing_mm is not None and not patch_spacing_mm > 0:
            raise ValueError(f"patch_spacing_mm must be positive or None, got {patch_spacing_mm!r}.")
        for name, value in (("jitter_mm", jitter_mm), ("rotate_range", rotate_range), ("scale_range", scale_range)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}.")
        if scale_range >= 1:
            raise ValueError(f"scale_range must be below 1, got {scale_range!r}.")
        self.centre_key, self.patch_size, self.patch_spacing_mm = centre_key, patch_size, patch_spacing_mm
        self.spacing_key, self.jitter_mm, self.jitter_clip_mm = spacing_key, float(jitter_mm), float(jitter_clip_mm)
        self.rotate_range, self.scale_range, self.fixed_seed = float(rotate_range), float(scale_range), fixed_seed
        self.landmark_key, self.patch_landmark_key = landmark_key, patch_landmark_key
        self.matrix_key, self.id_key = matrix_key, id_key

    def _image_spacing(self, d: Mapping) -> torch.Tensor:
        spacing = torch.as_tensor(np.asarray(d.get(self.spacing_key, np.nan), dtype=np.float64)).reshape(-1)
        spacing = spacing.expand(2)
        if not bool(torch.isfinite(spacing).all()) or not bool((spacing > 0).all()):
            raise ValueError(
                f"{d.get(self.id_key, 'sample')}: patches of {self.patch_spacing_mm} mm need the image's pixel "
                f"spacing at {self.spacing_key!r}, got {spacing.tolist()}."
            )
        return spacing

    def _draw(self, k: int, spacing: torch.Tensor, d: Mapping) -> tuple[torch.Tensor, ...]:
        if self.fixed_seed is not None:
            key = str(d.get(self.id_key, "")).encode()
            self.R = np.random.RandomState((self.fixed_seed + zlib.crc32(key)) % 2**32)
        shift = self.R.normal(0.0, self.jitter_mm, size=(k, 2)) if self.jitter_mm else np.zeros((k, 2))
        length = np.linalg.norm(shift, axis=1, keepdims=True)
        shift = shift * np.minimum(1.0, self.jitter_clip_mm / np.maximum(length, 1e-12))
        angles = self.R.uniform(-self.rotate_range, self.rotate_range, size=k) if self.rotate_range else np.zeros(k)
        zooms = self.R.uniform(1 - self.scale_range, 1 + self.scale_range, size=k) if self.scale_range else np.ones(k)
        shift_px = torch.as_tensor(shift) / spacing
        return shift_px, torch.as_tensor(angles), torch.as_tensor(zooms)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        centres = convert_to_tensor(d[self.centre_key], track_meta=False)
        centres = coords.as_landmarks(centres, name=str(self.centre_key))[0].to(torch.float64)
        k = centres.shape[0]
        spacing = self._image_spacing(d) if self.patch_spacing_mm else torch.ones(2, dtype=torch.float64)
        step = self.patch_spacing_mm / spacing if self.patch_spacing_mm else torch.ones(2, dtype=torch.float64)
        shift, angles, zooms = self._draw(k, spacing, d)
        # a missing training landmark gets a patch at the image centre and no target (its weight is 0)
        fallback = torch.tensor([(n - 1) / 2 for n in self._first_image(d).shape[1:]], dtype=torch.float64)
        centres = torch.where(torch.isnan(centres), fallback, centres) + shift
        matrices = None
        for key in self.key_iterator(d):
            patches, matrices = extract_patches(d[key], centres, self.patch_size, step, angles, zooms)
            d[key] = patches[:, 0]  # (K, P, P): gray image, one landmark per channel
        if matrices is None:
            return d
        d[self.matrix_key] = matrices
        if self.landmark_key in d:
            truth = coords.as_landmarks(convert_to_tensor(d[self.landmark_key], track_meta=False))
            d[self.patch_landmark_key] = image_to_patch(truth, matrices).to(torch.float32)
        return d

    def _first_image(self, d: Mapping) -> torch.Tensor:
        for key in self.key_iterator(d):
            return d[key]
        raise KeyError(f"none of the image keys {list(self.keys)} is in the sample.")


class PatchesToImaged(MapTransform):
    """Map landmarks decoded in patch pixels (landmark ``k`` in patch ``k``) back to image pixels.

    Args:
        keys: ``(1, K, 2)`` (or batched ``(B, K, 2)`` with ``(B, K, 3, 3)`` matrices) points in patch pixels.
        matrix_key: the patch -> image affines written by :class:`LandmarkPatchesd`.
    """

    def __init__(
        self, keys: KeysCollection = Keys.PRED_LANDMARKS, matrix_key: Hashable = Keys.PATCH_MATRIX,
        allow_missing_keys: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(keys, allow_missing_keys)
        self.matrix_key = matrix_key

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        m = torch.as_tensor(d[self.matrix_key])
        for key in self.key_iterator(d):
            d[key] = patch_to_image(convert_to_tensor(d[key], track_meta=False), m)
        return d


class DecodePatchesd(MapTransform):
    """The refiner's logits of a sample's patches -> its landmarks in image pixels (:func:`decode_patches`), as
    the cascade decodes them (the refiner's validation).

    Args:
        keys: ``(K, P, P)`` logits, patch ``k`` around landmark ``k``.
        matrix_key: the patch -> image affines written by :class:`LandmarkPatchesd`.
        landmarks_key: where the ``(1, K, 2)`` landmarks go.
        confidence_key: where the ``(1, K)`` confidence goes.
        radius: the decoder's window, in patch pixels.
    """

    def __init__(
        self,
        keys: KeysCollection = Keys.PRED,
        matrix_key: Hashable = Keys.PATCH_MATRIX,
        landmarks_key: Hashable = Keys.PRED_LANDMARKS,
        confidence_key: Hashable = Keys.CONFIDENCE,
        radius: int = REFINER_RADIUS,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.matrix_key, self.landmarks_key, self.confidence_key = matrix_key, landmarks_key, confidence_key
        self.radius = int(radius)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            logits = convert_to_tensor(d[key], track_meta=False)
            points, d[self.confidence_key] = decode_patches(logits[None], d[self.matrix_key], self.radius)
            d[self.landmarks_key] = points.to(torch.float32)
        return d


def _check_spacing_setting(value, name: str) -> None:
    """A configured spacing: None, or one or two positive finite numbers (mm per pixel)."""
    if value is None:
        return
    try:
        array = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        array = np.array([])
    if array.size not in (1, 2) or not (np.isfinite(array).all() and (array > 0).all()):
        raise ValueError(f"RefineLandmarksd: {name} must be one or two positive numbers (mm per pixel), got {value!r}.")


class RefineLandmarksd(MapTransform):
    """Post-processing step of the cascade: refine the decoded coarse landmarks of each sample.

    Args:
        keys: ``(1, K, 2)`` coarse landmarks in the pixels of ``image_key``'s image (after ``InvertLandmarksd``);
            replaced by the refined ones. The coarse ones are kept at ``coarse_key``.
        refinement: a :class:`~monai_landmarks.engines.PatchRefinement` (``refinement(image, landmarks,
            spacing) -> (landmarks, confidence)``), or None to pass the coarse landmarks through (a bundle without
            refiner weights).
        image_key: the full-resolution, intensity-normalised image.
        spacing: mm per pixel of the input images (``--spacing``), overriding everything else.
        default_spacing: mm per pixel when nothing else tells (the bundle's training data).
        spacing_key: the sample's dataset spacing (evaluation), used before the image header.
        confidence_key: where the refiner's confidence goes.
        cascade_key: where the sample records what ran (``{"cascade": "on" | "off", "refiner": {path, sha256} |
            None, "spacing_mm", "spacing_source"}``), for the outputs. A spacing assumed from ``default_spacing`` is
            logged as a warning (once per transform).
    """

    def __init__(
        self,
        keys: KeysCollection = Keys.PRED_LANDMARKS,
        refinement=None,
        image_key: Hashable = "image_full",
        spacing: float | Sequence[float] | None = None,
        default_spacing: float | Sequence[float] | None = None,
        spacing_key: Hashable = Keys.SPACING,
        coarse_key: Hashable = Keys.COARSE_LANDMARKS,
        confidence_key: Hashable = Keys.CONFIDENCE,
        cascade_key: Hashable = Keys.CASCADE,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.refinement, self.image_key, self.spacing = refinement, image_key, spacing
        self.default_spacing, self.coarse_key, self.confidence_key = default_spacing, coarse_key, confidence_key
        self.spacing_key, self.cascade_key = spacing_key, cascade_key
        self._warned = False
        for name, value in (("spacing (pixel_spacing_mm)", spacing), ("default_spacing", default_spacing)):
            _check_spacing_setting(value, name)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[self.coarse_key] = d[key]
            if self.refinement is None:
                d[self.cascade_key] = {"cascade": "off", "refiner": None, "spacing_mm": None, "spacing_source": None}
                continue
            image = d[self.image_key]
            dataset_spacing = d.get(self.spacing_key)
            spacing, source = image_spacing_and_source(image, self.spacing, self.default_spacing, dataset_spacing)
            name = str((getattr(image, "meta", None) or {}).get("filename_or_obj", "image"))
            if is_assumed(source) and not self._warned:
                self._warned = True
                logging.getLogger(__name__).warning(
                    f"{name}: no pixel spacing known (no --spacing, dataset or header spacing): the refiner uses "
                    f"the bundle default, spacing_source '{source}', and no millimetres are written. Give --spacing "
                    "if you know it (warned once per run)."
                )
            try:
                d[key], d[self.confidence_key] = self.refinement(image, d[key], spacing)
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from e
            d[self.cascade_key] = {
                "cascade": "on",
                "refiner": getattr(self.refinement, "weights", None),
                "spacing_mm": [float(v) for v in spacing],
                "spacing_source": source,
            }
        return d
