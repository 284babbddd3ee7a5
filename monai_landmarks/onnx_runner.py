"""Run an exported landmark cascade with numpy and onnxruntime only (no torch, no MONAI, no other package module).

Export a bundle, then detect landmarks anywhere onnxruntime runs::

    monai-landmarks export bundles/gu2net_ceph --format onnx_landmarks --out gu2net_onnx
    python -m monai_landmarks.onnx_runner gu2net_onnx bundles/gu2net_ceph/sample_images/head0002.png

or from Python (``image`` as numpy, PIL or OpenCV read it: rows first)::

    from monai_landmarks.onnx_runner import OnnxLandmarkDetector
    detector = OnnxLandmarkDetector("gu2net_onnx")
    points, confidence = detector(image)  # (K, 2) (x, y) in the image's pixels, (K,)

This file imports nothing else of the package, so it can be copied alone next to the two ``.onnx`` files. It does
what ``monai-landmarks predict`` does, step for step, reading every setting from the models' metadata: gray by
BT.601 luma, a bilinear resize to the coarse input size (``align_corners=False``, no anti-aliasing, as MONAI's
``Resize``), z-score normalisation (whole image, population std) of the resized and of the full image, the coarse
model (its decoding, and its flip test, are inside the ONNX graph), the map back to the image's pixels, then per
landmark a patch of the full image at the refiner's pixel size (an integer box mean first when the image is at
least twice as fine, then bilinear sampling with zeros outside), the refiner, and its patch points mapped back.
Landmarks agree with ``predict``'s within 0.05 px (``tests/bundles/test_onnx_landmarks.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

__all__ = ["OnnxLandmarkDetector", "bilinear_resize", "box_downsample", "sample_patches", "zscore"]

COARSE_FILE, REFINER_FILE = "coarse.onnx", "refiner.onnx"
LUMA = np.asarray([0.299, 0.587, 0.114], dtype=np.float32)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Rows-first ``(H, W)`` or ``(H, W, C)`` -> ``(H, W)``: BT.601 luma of colour (alpha dropped), as the bundles'
    reader does; gray stored in identical channels is kept exactly, integers are rounded back to their type."""
    a = np.asarray(image)
    if a.ndim == 2:
        return a
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected a 2D image (H, W) or (H, W, C) with 1 to 4 channels, got shape {a.shape}.")
    if a.shape[2] in (1, 2):
        return a[..., 0]
    rgb = a[..., :3]
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 0] == rgb[..., 2]).all():
        return rgb[..., 0]
    gray = rgb.astype(np.float32) @ LUMA
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        gray = np.clip(np.rint(gray), info.min, info.max).astype(a.dtype)
    return gray


def _linear_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights of a 1D linear resize as ``torch.nn.functional.interpolate(align_corners=False)``."""
    scale = np.float32(n_in) / np.float32(n_out)
    centres = np.arange(n_out, dtype=np.float32) + np.float32(0.5)
    # scale * centre - 0.5 rounded once, as torch's fused multiply-add does (float32 in, exact in float64)
    src = (np.float64(scale) * centres.astype(np.float64) - 0.5).astype(np.float32)
    src = np.maximum(src, np.float32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    w1 = np.clip(src - i0.astype(np.float32), 0, 1).astype(np.float32)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, w1


def bilinear_resize(image: np.ndarray, size) -> np.ndarray:
    """``(W, H)`` float image -> ``size`` by bilinear interpolation, as MONAI's ``Resize`` (no anti-aliasing)."""
    image = np.asarray(image, dtype=np.float32)
    if tuple(image.shape) == tuple(size):
        return image
    x0, x1, wx = _linear_weights(image.shape[0], int(size[0]))
    y0, y1, wy = _linear_weights(image.shape[1], int(size[1]))
    wy, vy = wy[None, :], np.float32(1) - wy[None, :]
    rows0 = image[x0][:, y0] * vy + image[x0][:, y1] * wy
    rows1 = image[x1][:, y0] * vy + image[x1][:, y1] * wy
    return (rows0 * (np.float32(1) - wx)[:, None] + rows1 * wx[:, None]).astype(np.float32)


def zscore(image: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` over the whole image (population std; 1 when it is 0), as ``NormalizeIntensity``."""
    x = np.asarray(image, dtype=np.float32)
    mean, std = float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
    return ((x - np.float32(mean)) / np.float32(std if std != 0 else 1.0)).astype(np.float32)


def box_downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """``(W, H)`` -> ``(W // f, H // f)`` by an ``f x f`` box mean (a trailing row or column is dropped)."""
    if factor == 1:
        return image
    w, h = image.shape[0] // factor, image.shape[1] // factor
    blocks = image[: w * factor, : h * factor].reshape(w, factor, h, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def sample_patches(image: np.ndarray, origins: np.ndarray, step: np.ndarray, patch_size: int) -> np.ndarray:
    """Bilinear patches ``(K, P, P)`` of a ``(W, H)`` image: patch pixel ``p`` samples ``origin_k + step * p``.

    Zeros outside the image, as ``grid_sample(padding_mode="zeros", align_corners=True)``; the sample positions go
    through the same float32 normalised grid as there.
    """
    w, h = image.shape
    p = np.arange(patch_size, dtype=np.float64)
    ux = origins[:, 0, None] + step[0] * p  # (K, P) along x
    uy = origins[:, 1, None] + step[1] * p
    gx = (2 * ux / max(w - 1, 1) - 1).astype(np.float32)
    gy = (2 * uy / max(h - 1, 1) - 1).astype(np.float32)
    ix = (gx + np.float32(1)) / np.float32(2) * np.float32(w - 1)
    iy = (gy + np.float32(1)) / np.float32(2) * np.float32(h - 1)
    x0, y0 = np.floor(ix), np.floor(iy)
    tx, ty = ix - x0, iy - y0  # float32 weights of the upper neighbours
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    out = np.zeros((len(origins), patch_size, patch_size), dtype=np.float32)
    for dx, wx in ((0, np.float32(1) - tx), (1, tx)):
        for dy, wy in ((0, np.float32(1) - ty), (1, ty)):
            xi, yi = x0 + dx, y0 + dy
            inside = ((xi >= 0) & (xi < w))[:, :, None] & ((yi >= 0) & (yi < h))[:, None, :]
            values = image[np.clip(xi, 0, w - 1)[:, :, None], np.clip(yi, 0, h - 1)[:, None, :]]
            out += np.where(inside, values, np.float32(0)) * (wx[:, :, None] * wy[:, None, :])
    return out


def _metadata(session) -> dict:
    return {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}


class OnnxLandmarkDetector:
    """The exported cascade of a bundle: ``coarse.onnx`` and, when it is there, ``refiner.onnx``.

    Args:
        folder: the export folder (``monai-landmarks export <bundle> --format onnx_landmarks --out <folder>``).
        refine: use the refiner (default: when ``refiner.onnx`` is in the folder); False gives coarse landmarks.
        providers: onnxruntime execution providers (default CPU).

    Raises:
        FileNotFoundError: no ``coarse.onnx`` in ``folder``, or ``refine=True`` without ``refiner.onnx``.
        ValueError: the two models come from different bundles.
    """

    def __init__(self, folder, refine: bool | None = None, providers=None) -> None:
        import onnxruntime as ort

        folder = Path(folder)
        providers = providers or ["CPUExecutionProvider"]
        if not (folder / COARSE_FILE).is_file():
            raise FileNotFoundError(f"{folder / COARSE_FILE}: not found; export with --format onnx_landmarks.")
        self.coarse = ort.InferenceSession(str(folder / COARSE_FILE), providers=providers)
        self.coarse_meta = _metadata(self.coarse)
        self.refiner, self.refiner_meta = None, None
        has_refiner = (folder / REFINER_FILE).is_file()
        if refine and not has_refiner:
            raise FileNotFoundError(f"{folder / REFINER_FILE}: not found; refine=False for coarse landmarks only.")
        if has_refiner and refine is not False:
            self.refiner = ort.InferenceSession(str(folder / REFINER_FILE), providers=providers)
            self.refiner_meta = _metadata(self.refiner)
            if self.refiner_meta["landmark_names"] != self.coarse_meta["landmark_names"]:
                raise ValueError(f"{folder}: the refiner's landmarks differ from the coarse model's.")
        self.landmark_names = list(self.coarse_meta["landmark_names"])

    def coarse_landmarks(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(W, H)`` float image -> coarse ``(K, 2)`` landmarks in its pixels (float64) and ``(K,)`` confidence."""
        size = self.coarse_meta["preprocessing"]["resize"]["size"]
        small = zscore(bilinear_resize(image, size))
        points, confidence = self.coarse.run(None, {"image": small[None, None]})
        scale = np.asarray(image.shape, dtype=np.float64) / np.asarray(size, dtype=np.float64)
        return (points[0].astype(np.float64) + 0.5) * scale - 0.5, confidence[0]

    def refine(self, image: np.ndarray, points: np.ndarray, spacing) -> tuple[np.ndarray, np.ndarray]:
        """z-scored ``(W, H)`` image, ``(K, 2)`` landmarks, ``(2,)`` mm per pixel -> refined landmarks, confidence."""
        meta = self.refiner_meta
        size, spacing = int(meta["patch_size"]), np.broadcast_to(np.asarray(spacing, dtype=np.float64), (2,))
        step = float(meta["patch_spacing_mm"]) / spacing
        factor = max(1, math.floor(float(step.min()) + 1e-6))
        reduced = box_downsample(image, factor)
        shifts = np.concatenate([np.zeros((1, 2)), np.asarray(meta["shifts_mm"], dtype=np.float64).reshape(-1, 2)])
        half = (size - 1) / 2
        for _ in range(int(meta["iterations"])):
            found, confidence = [], []
            for shift in shifts:
                centres = (points + shift / spacing + 0.5) / factor - 0.5  # in the reduced image's pixels
                origins = centres - step / factor * half
                patches = sample_patches(reduced, origins, step / factor, size)
                local, conf = self.refiner.run(None, {"patches": patches[None]})
                in_reduced = origins + step / factor * local[0].astype(np.float64)
                found.append(factor * in_reduced + (factor - 1) / 2)
                confidence.append(conf[0])
            points = np.mean(found, axis=0)
        return points, np.mean(confidence, axis=0).astype(np.float32)

    def __call__(self, image: np.ndarray, spacing=None) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks ``(K, 2)`` as ``(x, y)`` = (column, row) in ``image``'s pixels, and ``(K,)`` confidence.

        Args:
            image: rows first, ``(H, W)`` or colour ``(H, W, C)``, any numeric type (as numpy, PIL or OpenCV read
                it).
            spacing: mm per pixel (one number or ``(x, y)``) for the refiner's patches; default the bundle's
                training data spacing (what ``predict`` assumes for a PNG without ``--spacing``).
        """
        image = np.ascontiguousarray(to_gray(image).T, dtype=np.float32)  # the package layout: axis 0 = x
        if not np.isfinite(image).all():
            raise ValueError("the image holds NaN or infinite values.")
        points, confidence = self.coarse_landmarks(image)
        if self.refiner is not None:
            spacing = self.refiner_meta["default_spacing_mm"] if spacing is None else spacing
            if not (np.isfinite(spacing).all() and (np.asarray(spacing) > 0).all()):
                raise ValueError(f"spacing must be positive, finite mm per pixel, got {spacing!r}.")
            points, confidence = self.refine(zscore(image), points, spacing)
        return points.astype(np.float32), confidence


def _read(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path)
    try:
        from PIL import Image
    except ImportError as e:
        raise ValueError(f"reading {path.suffix} files needs Pillow; pass a .npy array instead.") from e
    with Image.open(path) as im:
        return np.asarray(im)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Landmarks of images with an exported cascade (numpy + onnxruntime).")
    parser.add_argument("folder", help="export folder (coarse.onnx, refiner.onnx)")
    parser.add_argument("images", nargs="+", help="image files (.npy; PNG, JPEG, ... with Pillow)")
    parser.add_argument("--spacing", type=float, help="mm per pixel (default: the bundle's training data)")
    parser.add_argument("--no-refine", action="store_true", help="coarse landmarks only")
    args = parser.parse_args(argv)
    try:
        detector = OnnxLandmarkDetector(args.folder, refine=False if args.no_refine else None)
        for name in args.images:
            _print_landmarks(detector, name, args.spacing)
    except (OSError, ValueError) as e:  # a message naming the file, not a stack trace
        print(f"onnx_runner: {e}", file=sys.stderr)
        return 1
    return 0


def _print_landmarks(detector: OnnxLandmarkDetector, name: str, spacing) -> None:
    try:
        image = _read(Path(name))
        points, confidence = detector(image, spacing)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from e
    landmarks = [
        {"name": n, "x": float(p[0]), "y": float(p[1]), "confidence": float(c)}
        for n, p, c in zip(detector.landmark_names, points, confidence, strict=True)
    ]
    print(json.dumps({"image": name, "landmarks": landmarks}))


if __name__ == "__main__":
    raise SystemExit(main())
