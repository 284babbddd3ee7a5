"""The coarse-to-fine cascade: a coarse model's landmarks, refined on full-resolution patches.

    coarse network on the resized image -> decode -> original-image pixels      (the bundle's evaluator)
    -> a patch per landmark at the refiner's pixel size -> refiner -> decode -> original-image pixels
                                                                               (:class:`RefineLandmarksd`)

The patches are resampled to the refiner's training pixel size from the image's own spacing (see
:func:`image_spacing`), so the cascade runs on images of any resolution: the original ISBI 2015 images at
0.1 mm and the 0.2 mm dataset copy give the same landmarks.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import convert_to_tensor

from ..codecs.decoders import decode_softmax
from ..data.spacing import HEADER_SPACING_SUFFIXES, Spacing, is_assumed, resolve_spacing
from ..transforms.patches import extract_patches, patch_to_image
from ..utils import coords
from ..utils.keys import Keys

__all__ = [
    "HEADER_SPACING_SUFFIXES",
    "PatchRefinement",
    "RefineLandmarksd",
    "image_spacing",
    "image_spacing_and_source",
    "load_refiner",
    "refinement_from_file",
    "refiner_meta",
]

#: what a refiner weights file records beside its weights
REFINER_META = ("num_landmarks", "patch_size", "patch_spacing_mm", "features")


def image_spacing_and_source(image, override=None, default=None, dataset=None) -> tuple[torch.Tensor, str]:
    """Millimetres per pixel ``(2,)`` of an image and where they came from: ``override`` (``--spacing``) when set,
    else the dataset's or the header's, else ``default`` (the bundle's training data spacing, source
    ``"assumed: bundle default (... mm)"``), by :func:`monai_landmarks.data.spacing.resolve_spacing`.

    Raises:
        ValueError: when the spacing chosen is not positive and finite, or none is known (the message names the file).
    """
    meta = getattr(image, "meta", None) or {}
    spacing = resolve_spacing(override, dataset, meta, default=default)
    if spacing is None:
        name = str(meta.get("filename_or_obj", "image"))
        raise ValueError(f"{name}: unknown pixel spacing; give it with --spacing (mm per pixel).")
    return spacing.as_tensor(), spacing.source


def image_spacing(image, override=None, default=None, dataset=None) -> torch.Tensor:
    """The spacing of :func:`image_spacing_and_source` alone."""
    return image_spacing_and_source(image, override, default, dataset)[0]


def load_refiner(path, network: torch.nn.Module, patch_size=None, patch_spacing_mm=None, map_location="cpu"):
    """Load refiner weights into ``network``; errors name the file and what differs.

    A file written with the patch settings it was trained with (``SaveBestModel(meta=...)``) is checked against
    ``patch_size`` and ``patch_spacing_mm``: a refiner sees the world at one scale, and patches of another size
    or pixel size would be read wrongly without any error.

    Raises:
        FileNotFoundError, ValueError: missing file, not weights, another network or landmark count, or other
            patch settings.
    """
    from ..handlers.checkpoint import _state_dict_in, check_weights

    path = Path(path)
    check_weights(path, network)
    obj = torch.load(path, map_location=map_location, weights_only=True)
    meta = obj.get("meta") or {} if isinstance(obj, Mapping) else {}
    for name, wanted in (("patch_size", patch_size), ("patch_spacing_mm", patch_spacing_mm)):
        trained = meta.get(name)
        if wanted is not None and trained is not None and not np.isclose(float(trained), float(wanted)):
            raise ValueError(f"{path}: the refiner was trained with {name} = {trained}, the config asks for {wanted}.")
    network.load_state_dict(_state_dict_in(obj, path))
    return network.eval()


def refiner_meta(path) -> dict:
    """The settings a refiner weights file was trained with (``SaveBestModel(meta=...)``), checked for the keys the
    cascade needs; the message names the file."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors alike
        raise ValueError(f"{path}: not a readable PyTorch weights file ({type(e).__name__}).") from e
    meta = obj.get("meta") if isinstance(obj, Mapping) else None
    missing = [k for k in REFINER_META if not isinstance(meta, Mapping) or k not in meta]
    if missing:
        raise ValueError(f"{path}: not refiner weights with their patch settings (missing {missing} in 'meta').")
    return dict(meta)


def refinement_from_file(
    path,
    num_landmarks: int,
    radius: int = 5,
    iterations: int = 1,
    device=None,
    shifts_mm: Sequence = (),
    required: bool = False,
) -> PatchRefinement | None:
    """The bundle's refinement step built from a self-describing refiner weights file, or None for coarse landmarks
    only: when ``path`` is None or empty (coarse-only chosen), or when no file is there and none is declared.

    A refiner is declared when ``required`` is true (the user named the file) or the bundle's ``large_files.yml``
    lists it (a shipped bundle): then a missing file is an error, never a silent fall-back to coarse landmarks.
    The file carries the refiner's patch size, pixel size and widths (``meta``), so the bundle configs never
    repeat them and a run folder with other refiner weights needs no config change.

    Raises:
        FileNotFoundError: a declared refiner that is not there.
        ValueError: a path that is not a regular file, a file that is not refiner weights (or does not match
            ``large_files.yml``), or a refiner for another number of landmarks.
    """
    from ..bundle.large_files import listed_entry, verify_weights_file

    if path is None or str(path) == "":
        return None
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ValueError(f"{path}: the refiner weights path is not a regular file.")
    if not path.exists():
        declared = listed_entry(path)
        if not (required or declared):
            return None
        why = f"listed in {declared[0]}" if declared else "named by refiner_path"
        raise FileNotFoundError(
            f"{path}: refiner weights not found ({why}). Restore the file, or choose coarse landmarks only "
            "(--no-refine, or refiner_path null)."
        )
    from ..networks.nets.refiner import LandmarkRefiner

    meta = refiner_meta(path)
    if int(meta["num_landmarks"]) != int(num_landmarks):
        raise ValueError(f"{path}: a refiner for {meta['num_landmarks']} landmarks; the bundle has {num_landmarks}.")
    network = LandmarkRefiner(num_landmarks=int(num_landmarks), features=meta["features"])
    network = load_refiner(path, network, meta["patch_size"], meta["patch_spacing_mm"]).to(device or "cpu")
    refinement = PatchRefinement(
        network, meta["patch_size"], meta["patch_spacing_mm"], radius, iterations, device, shifts_mm
    )
    refinement.weights = verify_weights_file(path)  # checked in load_refiner; the hash is cached
    return refinement


class PatchRefinement:
    """Refine landmarks of one image with a patch refiner.

    Args:
        network: a :class:`~monai_landmarks.networks.LandmarkRefiner` (in eval mode).
        patch_size: the refiner's training patch size, in its pixels.
        patch_spacing_mm: the refiner's training pixel size.
        radius: window of the ``"softmax"`` decoder, in patch pixels.
        iterations: refinement passes; each later pass re-centres the patches on the previous result.
        device: where the refiner runs (default: its parameters').
        shifts_mm: test-time augmentation: the refiner also runs on patches centred this far (mm, ``(dx, dy)``
            each) from the estimate, and the positions it finds are averaged. The refiner was trained on shifted
            patches, so each shift is another look at the same landmark.
    """

    def __init__(
        self,
        network: torch.nn.Module,
        patch_size: int = 128,
        patch_spacing_mm: float = 0.2,
        radius: int = 5,
        iterations: int = 1,
        device=None,
        shifts_mm: Sequence[Sequence[float]] = (),
    ) -> None:
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"refine iterations must be an integer of at least 1, got {iterations!r}.")
        self.network, self.patch_size, self.patch_spacing_mm = network, int(patch_size), float(patch_spacing_mm)
        self.radius, self.iterations = int(radius), int(iterations)
        self.device = device if device is not None else next(network.parameters()).device
        self.shifts_mm = torch.cat([torch.zeros(1, 2), torch.as_tensor(shifts_mm, dtype=torch.float64).reshape(-1, 2)])
        self.weights: dict | None = None  #: the refiner file that ran (path, sha256), when built from one

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, centres: torch.Tensor, spacing) -> tuple[torch.Tensor, torch.Tensor]:
        """``(C, W, H)`` intensity-normalised image, ``(1, K, 2)`` coarse landmarks in its pixels, ``(2,)`` mm per
        pixel -> refined ``(1, K, 2)`` landmarks in the same pixels and ``(1, K)`` confidence.

        Raises:
            ValueError: if a coarse landmark is NaN or infinite (named by index).
        """
        image = convert_to_tensor(image, track_meta=False)
        points = coords.as_landmarks(convert_to_tensor(centres, track_meta=False)).to(torch.float64)
        step = self.patch_spacing_mm / torch.as_tensor(spacing, dtype=torch.float64)
        self.network.eval()
        spacing = torch.as_tensor(spacing, dtype=torch.float64).expand(2)
        for _ in range(self.iterations):
            found, confidence = [], []
            for shift in self.shifts_mm:
                patches, matrices = extract_patches(image, points + shift / spacing, self.patch_size, step)
                logits = self.network(patches[:, 0][None].to(self.device))
                local, conf = decode_softmax(logits.float().cpu(), radius=self.radius)
                found.append(patch_to_image(local.to(torch.float64), matrices))
                confidence.append(conf)
            points = torch.stack(found).mean(0)
        return points.to(torch.float32), torch.stack(confidence).mean(0)


def _check_spacing_setting(value, name: str) -> None:
    """A configured spacing: None, or one or two positive finite numbers (mm per pixel)."""
    if value is not None:
        Spacing.of(value, name, where="RefineLandmarksd", name=name)


class RefineLandmarksd(MapTransform):
    """Post-processing step of the cascade: refine the decoded coarse landmarks of each sample.

    Args:
        keys: ``(1, K, 2)`` coarse landmarks in the pixels of ``image_key``'s image (after ``InvertLandmarksd``);
            replaced by the refined ones. The coarse ones are kept at ``coarse_key``.
        refinement: a :class:`PatchRefinement`, or None to pass the coarse landmarks through (a bundle without
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
        refinement: PatchRefinement | None = None,
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
