"""The coarse-to-fine cascade: a coarse model's landmarks, refined on full-resolution patches.

    coarse network on the resized image -> decode -> original-image pixels      (the bundle's evaluator)
    -> a patch per landmark at the refiner's pixel size -> refiner -> decode -> original-image pixels
                                                   (:class:`~monai_landmarks.transforms.RefineLandmarksd`)

The patches are resampled to the refiner's training pixel size from the image's own spacing (see
:func:`~monai_landmarks.data.spacing.image_spacing`), so the cascade runs on images of any resolution: the
original ISBI 2015 images at 0.1 mm and the 0.2 mm dataset copy give the same landmarks. The refiner and its
patch settings come from one self-describing weights file (:mod:`.refiner_file`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from monai.utils import convert_to_tensor

from ..transforms.patches import REFINER_RADIUS, decode_patches, extract_patches
from ..utils import coords
from .refiner_file import read_refiner

__all__ = ["PatchRefinement"]


class PatchRefinement:
    """Refine landmarks of one image with a patch refiner.

    Args:
        network: a :class:`~monai_landmarks.networks.LandmarkRefiner` (in eval mode).
        patch_size: the refiner's training patch size, in its pixels.
        patch_spacing_mm: the refiner's training pixel size.
        radius: window of the refiner's decoder (:func:`~monai_landmarks.transforms.patches.decode_patches`), in
            patch pixels.
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
        radius: int = REFINER_RADIUS,
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

    @classmethod
    def from_file(
        cls,
        path,
        num_landmarks: int,
        radius: int = REFINER_RADIUS,
        iterations: int = 1,
        device=None,
        shifts_mm: Sequence = (),
        required: bool = False,
    ) -> PatchRefinement | None:
        """The bundle's refinement step built from a self-describing refiner weights file (the refiner and its
        patch settings), or None for coarse landmarks only: when ``path`` is None or empty (coarse-only chosen), or
        when no file is there and none is declared.

        A refiner is declared when ``required`` is true (the user named the file) or the bundle's
        ``large_files.yml`` lists it (a shipped bundle): then a missing file is an error, never a silent fall-back
        to coarse landmarks. The file must be a refiner for the bundle's ``num_landmarks``.

        Raises:
            FileNotFoundError: a declared refiner that is not there.
            ValueError: a path that is not a regular file, a file that is not refiner weights (or does not match
                ``large_files.yml``), or a refiner for another number of landmarks (each message names the file).
        """
        from ..bundle.large_files import listed_entry

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
        file = read_refiner(path)
        file.spec.check(path, num_landmarks=num_landmarks)
        network = file.load_into(file.spec.network()).to(device or "cpu")
        spec = file.spec
        refinement = cls(network, spec.patch_size, spec.patch_spacing_mm, radius, iterations, device, shifts_mm)
        refinement.weights = file.weights
        return refinement

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
                points_found, conf = decode_patches(logits.float().cpu(), matrices, self.radius)
                found.append(points_found)
                confidence.append(conf)
            points = torch.stack(found).mean(0)
        return points.to(torch.float32), torch.stack(confidence).mean(0)
