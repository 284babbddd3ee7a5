"""Pictures of landmarks on images: ground truth in green, predictions in red with a line to their truth.

Images come in the package layout ``(W, H)`` (or ``(1, W, H)``); the picture is a row-major ``(H, W, 3)``
RGB array, ready to save.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from monai_landmarks.utils.io import atomic_path

__all__ = ["draw_landmarks", "save_overlay"]

TRUTH = (60, 220, 60)
PREDICTION = (235, 50, 50)


def _gray_picture(image) -> np.ndarray:
    """``(W, H)`` intensities -> ``(H, W)`` uint8 with a 1-99 percentile stretch (robust to bright markers)."""
    array = torch.as_tensor(image).detach().cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
    array = np.squeeze(array.astype(np.float64))
    if array.ndim != 2:
        raise ValueError(f"expected a 2D image (W, H) or (1, W, H), got shape {np.shape(image)}.")
    lo, hi = np.percentile(array, (1, 99))
    scaled = np.clip((array - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    return (scaled.T * 255).round().astype(np.uint8)


def _points(landmarks) -> np.ndarray:
    if landmarks is None:
        return np.zeros((0, 2))
    p = torch.as_tensor(landmarks).detach().cpu().numpy() if torch.is_tensor(landmarks) else np.asarray(landmarks)
    return p.astype(np.float64).reshape(-1, 2)


def _cross(draw: ImageDraw.ImageDraw, x: float, y: float, r: int, colour) -> None:
    draw.line([(x - r, y), (x + r, y)], fill=colour, width=1)
    draw.line([(x, y - r), (x, y + r)], fill=colour, width=1)


def draw_landmarks(image, landmarks=None, predicted=None, radius: int | None = None) -> np.ndarray:
    """Draw landmarks on an image and return the ``(H, W, 3)`` uint8 picture.

    Args:
        image: ``(W, H)`` or ``(1, W, H)`` intensities in any range.
        landmarks: ground truth ``(K, 2)`` or ``(1, K, 2)`` (x, y) pixel-centre coordinates, drawn as green
            crosses; NaN landmarks are skipped.
        predicted: predictions of the same layout, drawn as red dots joined to their ground truth.
        radius: marker size in pixels; default about 1% of the image size (at least 2).
    """
    gray = _gray_picture(image)
    picture = Image.fromarray(np.stack([gray] * 3, axis=-1))
    draw = ImageDraw.Draw(picture)
    r = radius if radius is not None else max(2, round(min(gray.shape) / 100))
    truth, pred = _points(landmarks), _points(predicted)
    for k, (x, y) in enumerate(pred):
        if np.isnan([x, y]).any():
            continue
        if k < len(truth) and not np.isnan(truth[k]).any():
            draw.line([(x, y), tuple(truth[k])], fill=PREDICTION, width=1)
        draw.ellipse([(x - r, y - r), (x + r, y + r)], outline=PREDICTION, fill=PREDICTION)
    for x, y in truth:
        if not np.isnan([x, y]).any():
            _cross(draw, x, y, r + 1, TRUTH)
    return np.asarray(picture)


def save_overlay(path, image, landmarks=None, predicted=None, radius: int | None = None) -> Path:
    """Draw with :func:`draw_landmarks` and write a PNG atomically; returns the path."""
    path = Path(path)
    picture = draw_landmarks(image, landmarks, predicted, radius)
    with atomic_path(path) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")
    return path
