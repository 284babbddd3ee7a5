"""Pictures of landmarks on images: ground truth as green crosses, predictions as red dots joined to their truth,
and, when given, measurement lines (cyan, each labelled with its measurement's name).

Images come in the package layout ``(W, H)`` (or ``(1, W, H)``, numpy or torch); the picture is a row-major
``(H, W, 3)`` uint8 RGB array, ready to save, so a landmark ``(x, y)`` lands on row ``y``, column ``x``.
Intensities are windowed by a 1-99 percentile stretch, which keeps a few very bright or dark pixels (markers,
burnt-in text, padding) from flattening the anatomy. A legend, when given, is a dark panel to the right of the
image (the picture grows; the image's pixels keep their place).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from monai_landmarks.utils.coords import as_landmarks, rescale
from monai_landmarks.utils.io import atomic_path

__all__ = ["MEASUREMENT", "PREDICTION", "TRUTH", "add_legend", "draw_landmarks", "save_overlay"]

TRUTH = (60, 220, 60)
PREDICTION = (235, 50, 50)
MEASUREMENT = (60, 200, 235)
_LABEL = (255, 230, 80)
_PANEL = (24, 24, 24)
_LINE_HEIGHT, _MARGIN = 12, 4


def _gray_picture(image) -> np.ndarray:
    """``(W, H)`` or ``(1, W, H)`` intensities -> ``(H, W)`` uint8 after a 1-99 percentile stretch."""
    array = image.detach().cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected a 2D image of shape (W, H) or (1, W, H), got shape {tuple(array.shape)}.")
    array = array.astype(np.float64)
    finite = np.isfinite(array)
    if not finite.any():
        return np.zeros(array.shape[::-1], dtype=np.uint8)
    lo, hi = np.percentile(array[finite], (1, 99))
    if hi <= lo:  # a flat image: show it mid-gray rather than dividing by zero
        lo, hi = lo - 1.0, lo + 1.0
    scaled = np.clip((np.where(finite, array, lo) - lo) / (hi - lo), 0, 1)
    return np.ascontiguousarray((scaled.T * 255).round().astype(np.uint8))


def _points(points, name: str, num: int | None = None) -> np.ndarray | None:
    if points is None:
        return None
    return as_landmarks(points, num, name=name)[0].numpy().astype(np.float64)


def _pixel(x: float, y: float) -> tuple[int, int]:
    # pixel i covers [i - 0.5, i + 0.5): round half up, not to even
    return math.floor(x + 0.5), math.floor(y + 0.5)


def draw_landmarks(
    image,
    landmarks=None,
    predicted=None,
    names: Sequence[str] | None = None,
    radius: int | None = None,
    scale: int = 1,
    legend: Sequence[str] | None = None,
    lines: Sequence[tuple] | None = None,
) -> np.ndarray:
    """Draw landmarks on an image and return the ``(H, W, 3)`` uint8 picture.

    Args:
        image: ``(W, H)`` or ``(1, W, H)`` intensities in any range (numpy or torch).
        landmarks: ground truth ``(K, 2)`` or ``(1, K, 2)`` (x, y) pixel-centre coordinates of ``image``,
            drawn as green crosses. NaN (missing) landmarks are skipped.
        predicted: predictions in the same layout, drawn as red dots with a red line from their ground truth.
        names: one label per landmark, written beside it (for indices: ``[str(k) for k in range(K)]``).
        radius: half-size of the ground-truth crosses in output pixels (prediction dots are about 0.6 of it);
            default about 0.6% of the picture, at least 2.
        scale: integer upsampling of the picture (nearest neighbour), so small images stay readable.
        legend: lines of text (for example ``"3 porion"``) shown in a panel right of the image; see :func:`add_legend`.
        lines: ``(start, end, label)`` segments in the same pixel coordinates (a measurement's lines:
            :func:`monai_landmarks.analysis.measurement_lines`), drawn under the landmarks, each label written once
            at the middle of its first segment; a segment with a NaN end is skipped.

    Returns:
        The picture, ``(H * scale, W * scale, 3)`` uint8, wider (and taller if need be) with a legend.

    Raises:
        ValueError: a bad image or landmark shape, ``predicted`` with a different landmark count than
            ``landmarks``, a wrong number of ``names``, or ``scale`` < 1.
    """
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}.")
    gray = _gray_picture(image)
    truth = _points(landmarks, "landmarks")
    pred = _points(predicted, "predicted", None if truth is None else len(truth))
    count = len(truth) if truth is not None else len(pred) if pred is not None else 0
    if names is not None and (isinstance(names, str) or len(names) != count):
        raise ValueError(f"names must be a sequence of {count} labels (one per landmark), got {names!r}.")
    picture = Image.fromarray(np.repeat(gray[..., None], 3, axis=-1))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
        truth = None if truth is None else rescale(torch.as_tensor(truth), scale).numpy()
        pred = None if pred is None else rescale(torch.as_tensor(pred), scale).numpy()
    r = radius if radius is not None else max(2, round(min(picture.size) / 160))
    dot = max(1, round(0.6 * r))
    draw = ImageDraw.Draw(picture)
    _draw_lines(draw, lines or (), scale)
    present_truth = np.zeros(count, bool) if truth is None else ~np.isnan(truth).any(axis=1)
    present_pred = np.zeros(count, bool) if pred is None else ~np.isnan(pred).any(axis=1)
    for k in np.flatnonzero(present_pred):
        x, y = _pixel(*pred[k])
        if present_truth[k]:
            draw.line([_pixel(*truth[k]), (x, y)], fill=PREDICTION, width=1)
        draw.ellipse([(x - dot, y - dot), (x + dot, y + dot)], fill=PREDICTION)
    for k in np.flatnonzero(present_truth):
        x, y = _pixel(*truth[k])
        draw.line([(x - r - 1, y), (x + r + 1, y)], fill=TRUTH, width=1)
        draw.line([(x, y - r - 1), (x, y + r + 1)], fill=TRUTH, width=1)
    if names is not None:
        for k in range(count):
            at = truth[k] if present_truth[k] else pred[k] if present_pred[k] else None
            if at is not None:
                x, y = _pixel(*at)
                draw.text((x + r + 2, y - r - 8), str(names[k]), fill=_LABEL)
    return add_legend(np.asarray(picture), legend) if legend else np.asarray(picture)


def _draw_lines(draw: ImageDraw.ImageDraw, lines: Sequence[tuple], scale: int) -> None:
    labelled = set()
    for start, end, label in lines:
        ends = rescale(torch.as_tensor(np.asarray([start, end], dtype=np.float64).reshape(2, 2)), scale).numpy()
        if not np.isfinite(ends).all():
            continue
        a, b = _pixel(*ends[0]), _pixel(*ends[1])
        draw.line([a, b], fill=MEASUREMENT, width=1)
        if label not in labelled:
            labelled.add(label)
            draw.text(((a[0] + b[0]) // 2 + 2, (a[1] + b[1]) // 2 + 2), str(label), fill=MEASUREMENT)


def add_legend(picture: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """``(H, W, 3)`` picture -> the picture with a dark panel of ``lines`` at its right, one line per entry.

    The panel is as wide as the longest line; the result is as tall as the picture or the list, whichever is
    taller (the added area is the panel colour). Pixels of ``picture`` keep their place.
    """
    if isinstance(lines, str):
        raise ValueError("legend must be a sequence of lines, not one string.")
    height, width = picture.shape[:2]
    font = ImageFont.load_default()
    line_h = max(_LINE_HEIGHT, *(font.getbbox(str(line))[3] + 2 for line in lines)) if lines else _LINE_HEIGHT
    panel_w = 2 * _MARGIN + math.ceil(max((font.getlength(str(line)) for line in lines), default=0))
    out_h = max(height, 2 * _MARGIN + line_h * len(lines))
    canvas = Image.new("RGB", (width + panel_w, out_h), _PANEL)
    canvas.paste(Image.fromarray(picture), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((width + _MARGIN, _MARGIN + i * line_h), str(line), fill=_LABEL, font=font)
    return np.asarray(canvas)


def save_overlay(
    path,
    image,
    landmarks=None,
    predicted=None,
    names: Sequence[str] | None = None,
    radius: int | None = None,
    scale: int = 1,
    legend: Sequence[str] | None = None,
    lines: Sequence[tuple] | None = None,
) -> Path:
    """Draw with :func:`draw_landmarks` and write the picture as a PNG, atomically; returns the path.

    The PNG is written to a temporary file beside ``path`` and renamed over it, so a crash never leaves a
    half-written picture; on any error nothing is left behind.
    """
    path = Path(path)
    picture = draw_landmarks(image, landmarks, predicted, names, radius, scale, legend, lines)
    with atomic_path(path) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")
    return path
