"""Synthetic X-ray phantoms: procedurally drawn head-like (19 landmarks) and hand-like (37) radiographs.

They are the embedded default data of every bundle and test, so nothing needs a download. Each landmark is a
vertex of the geometry that is drawn (a corner of the jaw, the tip of a tooth, a joint gap between two bones),
so a network can learn it from visible structure. Shape varies by seed (global pose and size, per-structure
proportions, jaw angle, finger spread), and so does appearance (exposure, gamma, blur, noise, a background
gradient). Everything is deterministic given the seed.

Geometry is drawn at 4x resolution and box-averaged down, so edges are anti-aliased and a landmark's sub-pixel
position matches the drawing to about 1/8 pixel (coordinates follow ``utils.coords``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from monai_landmarks.data.dataset_format import write_dataset
from monai_landmarks.utils.coords import inside_image, rescale

__all__ = ["DEFAULT_SIZES", "PHANTOM_KINDS", "generate_phantom_dataset", "landmark_names", "render_phantom"]

PHANTOM_KINDS = ("head", "hand")
DEFAULT_SIZES = {"head": (192, 240), "hand": (160, 200)}
_SUPERSAMPLE = 4

HEAD_NAMES = (
    "sella", "nasion", "orbitale", "porion", "subspinale", "supramentale", "pogonion", "menton", "gnathion",
    "gonion", "lower incisal incision", "upper incisal incision", "upper lip", "lower lip", "subnasale",
    "soft tissue pogonion", "posterior nasal spine", "anterior nasal spine", "articulare",
)  # fmt: skip
_FINGERS = ("thumb", "index", "middle", "ring", "little")
_WRIST = (
    "radius styloid", "scaphoid", "lunate", "capitate", "ulna styloid", "hamate", "trapezium", "triquetrum",
    "radius shaft", "ulna shaft", "pisiform", "trapezoid", "distal radius centre",
)  # fmt: skip
_JOINTS = {"thumb": ("base", "mcp", "ip", "tip")}
HAND_NAMES = _WRIST + tuple(
    f"{finger} {joint}" for finger in _FINGERS for joint in _JOINTS.get(finger, ("base", "mcp", "pip", "dip", "tip"))
)

# Intensities of the drawn tissue classes, before exposure changes.
_SOFT, _BONE, _CORTEX = 0.28, 0.55, 0.85


def landmark_names(kind: str) -> tuple[str, ...]:
    """Landmark names of a phantom kind, in landmark order."""
    return {"head": HEAD_NAMES, "hand": HAND_NAMES}[_check_kind(kind)]


def _check_kind(kind: str) -> str:
    if kind not in PHANTOM_KINDS:
        raise ValueError(f"unknown phantom kind {kind!r}; valid kinds: {PHANTOM_KINDS}.")
    return kind


class _Canvas:
    """Draws in unit coordinates (u right, v down, both in [0, 1] of the image) at 4x supersampling."""

    def __init__(self, size: Sequence[int], pose: np.ndarray) -> None:
        self.size = (int(size[0]), int(size[1]))
        self.pose = pose  # 2x3 map from unit coordinates to pixels of the final image
        self.image = Image.new("F", tuple(s * _SUPERSAMPLE for s in self.size), 0.0)
        self.draw = ImageDraw.Draw(self.image)

    def pixels(self, points) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return p @ self.pose[:, :2].T + self.pose[:, 2]

    def _fine(self, points) -> list[tuple[float, float]]:
        return [tuple(q) for q in rescale(self.pixels(points), _SUPERSAMPLE).tolist()]

    def _width(self, width: float) -> int:
        return max(1, round(width * np.linalg.norm(self.pose[:, 0]) * _SUPERSAMPLE))

    def polygon(self, points, value: float) -> None:
        self.draw.polygon(self._fine(points), fill=value)

    def polyline(self, points, width: float, value: float) -> None:
        fine, w = self._fine(points), self._width(width)
        self.draw.line(fine, fill=value, width=w, joint="curve")
        for x, y in (fine[0], fine[-1]):  # round caps
            self.draw.ellipse([x - w / 2, y - w / 2, x + w / 2, y + w / 2], fill=value)

    def ellipse(self, centre, radii, value: float, outline: float | None = None, width: float = 0.0) -> None:
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        ring = np.stack([centre[0] + radii[0] * np.cos(t), centre[1] + radii[1] * np.sin(t)], axis=1)
        self.polygon(ring, value)
        if outline is not None:
            self.polyline(np.vstack([ring, ring[:1]]), width, outline)

    def result(self) -> np.ndarray:
        """The drawing box-averaged to the final size, as a ``(W, H)`` array."""
        fine = np.asarray(self.image, dtype=np.float32)  # (H*4, W*4)
        h, w = self.size[1], self.size[0]
        return fine.reshape(h, _SUPERSAMPLE, w, _SUPERSAMPLE).mean(axis=(1, 3)).T


def _pose(rng: np.random.Generator, size: Sequence[int], scale: float, rotation: float) -> np.ndarray:
    """Unit square -> pixels: scale about the image centre, rotate, shift a little."""
    w, h = size
    s = rng.uniform(1 - scale, 1 + scale)
    a = rng.uniform(-rotation, rotation)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    linear = rot @ np.diag([w * s, h * s]) * 0.94  # a margin, so anatomy rarely leaves the film
    centre = np.array([w / 2 - 0.5, h / 2 - 0.5]) + rng.uniform(-0.04, 0.04, 2) * np.array([w, h])
    return np.hstack([linear, (centre - linear @ np.array([0.5, 0.5]))[:, None]])


def _jitter(rng, points: dict, amount: float) -> dict:
    return {k: np.asarray(v, dtype=np.float64) + rng.normal(0, amount, 2) for k, v in points.items()}


def _head(rng: np.random.Generator, size: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    c = _Canvas(size, _pose(rng, size, scale=0.08, rotation=0.12))
    jaw = rng.uniform(-0.03, 0.03)  # longer or shorter lower face
    p = _jitter(
        rng,
        {
            "sella": (0.42, 0.36), "nasion": (0.74, 0.30), "orbitale": (0.66, 0.41), "porion": (0.24, 0.44),
            "pns": (0.50, 0.57), "ans": (0.79, 0.55), "a": (0.77, 0.61), "uit": (0.80, 0.71 + jaw / 2),
            "lit": (0.785, 0.70 + jaw / 2), "b": (0.74, 0.80 + jaw), "pog": (0.76, 0.87 + jaw),
            "gn": (0.73, 0.91 + jaw), "me": (0.67, 0.925 + jaw), "go": (0.31, 0.78 + jaw / 2),
            "ar": (0.31, 0.52), "sn": (0.87, 0.59), "ul": (0.89, 0.67 + jaw / 2), "ll": (0.88, 0.76 + jaw),
            "spog": (0.85, 0.89 + jaw),
        },
        0.008,
    )  # fmt: skip
    # soft tissue of head and face, bounded by the profile through the soft-tissue landmarks
    profile = [(0.80, 0.04), (0.86, 0.28), p["sn"], p["ul"], (0.86, 0.72 + jaw / 2), p["ll"], p["spog"]]
    c.polygon([(0.05, 0.10), (0.45, 0.02), *profile, (0.78, 0.98), (0.30, 0.99), (0.06, 0.70)], _SOFT)
    c.ellipse((0.45, 0.33), (0.36, 0.29), _BONE, outline=_CORTEX, width=0.02)  # cranium
    c.ellipse((0.45, 0.33), (0.32, 0.25), _SOFT + 0.08)  # brain case, less dense than bone
    c.polyline([(0.70, 0.18), p["nasion"], (0.80, 0.42)], 0.016, _CORTEX)  # frontal bone and nasal bone
    c.ellipse(p["sella"], (0.035, 0.028), _SOFT, outline=_CORTEX, width=0.008)  # sella turcica
    c.ellipse(p["orbitale"] - (0, 0.05), (0.055, 0.05), _SOFT + 0.1, outline=_CORTEX, width=0.008)  # orbit
    c.ellipse(p["porion"] + (0, 0.02), (0.02, 0.02), 0.05, outline=_CORTEX, width=0.006)  # ear canal
    c.polygon([p["pns"], p["ans"], p["a"], (0.70, 0.65), (0.52, 0.62)], _BONE)  # maxilla
    c.polyline([p["pns"], p["ans"]], 0.012, _CORTEX)  # palate
    c.polyline([p["a"] + (0, 0.02), p["uit"]], 0.022, 0.95)  # upper incisor
    c.polyline([p["b"] - (0.01, 0.0), p["lit"]], 0.022, 0.95)  # lower incisor
    c.polyline([p["ar"] - (0.01, 0.06), p["ar"], p["go"], p["me"], p["gn"], p["pog"], p["b"]], 0.03, _CORTEX)
    c.polygon([p["go"], p["me"], p["gn"], p["pog"], p["b"], (0.60, 0.78)], _BONE)  # mandible body
    image = c.result()
    order = ("sella", "nasion", "orbitale", "porion", "a", "b", "pog", "me", "gn", "go", "lit", "uit", "ul",
             "ll", "sn", "spog", "pns", "ans", "ar")  # fmt: skip
    # orbitale is the lowest point of the orbit, porion the top of the ear canal
    anchors = {**p, "orbitale": p["orbitale"], "porion": p["porion"]}
    return image, c.pixels([anchors[k] for k in order]).astype(np.float32)


def _hand(rng: np.random.Generator, size: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    c = _Canvas(size, _pose(rng, size, scale=0.08, rotation=0.15))
    wrist_y = rng.uniform(0.74, 0.78)
    wrist = _jitter(
        rng,
        {
            "radius styloid": (0.36, wrist_y), "scaphoid": (0.41, wrist_y - 0.05), "lunate": (0.50, wrist_y - 0.04),
            "capitate": (0.50, wrist_y - 0.11), "ulna styloid": (0.64, wrist_y + 0.01),
            "hamate": (0.58, wrist_y - 0.11),
            "trapezium": (0.38, wrist_y - 0.11), "triquetrum": (0.59, wrist_y - 0.05),
            "radius shaft": (0.42, 0.97), "ulna shaft": (0.60, 0.97), "pisiform": (0.63, wrist_y - 0.06),
            "trapezoid": (0.44, wrist_y - 0.13), "distal radius centre": (0.405, wrist_y + 0.02),
        },
        0.006,
    )  # fmt: skip
    bases = {"thumb": (0.36, wrist_y - 0.17), "index": (0.44, wrist_y - 0.19), "middle": (0.51, wrist_y - 0.19),
             "ring": (0.57, wrist_y - 0.18), "little": (0.63, wrist_y - 0.16)}  # fmt: skip
    angles = {"thumb": -0.75, "index": -0.12, "middle": 0.0, "ring": 0.1, "little": 0.22}
    lengths = {"thumb": (0.13, 0.10, 0.08), "index": (0.17, 0.10, 0.06, 0.05),
               "middle": (0.18, 0.11, 0.07, 0.05), "ring": (0.17, 0.10, 0.065, 0.05),
               "little": (0.14, 0.08, 0.05, 0.045)}  # fmt: skip
    spread = rng.uniform(0.7, 1.3)
    size_scale = rng.uniform(0.9, 1.1)
    fingers = {}
    for name in _FINGERS:
        a = angles[name] * spread + rng.normal(0, 0.03)
        direction = np.array([np.sin(a), -np.cos(a)])
        joints = [np.asarray(bases[name]) + rng.normal(0, 0.005, 2)]
        for length in lengths[name]:
            joints.append(joints[-1] + direction * length * size_scale * rng.uniform(0.93, 1.07))
        fingers[name] = joints
    # soft tissue: forearm, palm and a sleeve around each finger
    c.polygon([(0.30, 1.0), wrist["radius styloid"] - (0.03, 0), (0.30, wrist_y - 0.20), (0.68, wrist_y - 0.18),
               wrist["ulna styloid"] + (0.03, 0), (0.70, 1.0)], _SOFT)  # fmt: skip
    for joints in fingers.values():
        c.polyline(joints, 0.075, _SOFT)
    c.polyline([wrist["radius shaft"], wrist["radius styloid"] + (0.03, -0.01)], 0.075, _BONE)  # radius
    c.polyline([wrist["ulna shaft"], wrist["ulna styloid"] - (0.01, 0.0)], 0.045, _BONE)  # ulna
    c.polyline([wrist["radius styloid"], wrist["radius styloid"] + (0.08, 0.0)], 0.012, _CORTEX)
    c.polyline([wrist["ulna styloid"], wrist["ulna styloid"] - (0.03, 0.0)], 0.01, _CORTEX)
    for name in _WRIST[1:4] + _WRIST[5:8] + _WRIST[10:12]:
        c.ellipse(wrist[name], (0.026, 0.022), _BONE, outline=_CORTEX, width=0.006)  # carpal bones
    for joints in fingers.values():  # bones with joint gaps between them
        for start, end in zip(joints[:-1], joints[1:], strict=True):
            gap = (end - start) * 0.08
            c.polyline([start + gap, end - gap], 0.03, _CORTEX)
            c.polyline([start + gap * 1.5, end - gap * 1.5], 0.012, _BONE)
    points = [wrist[n] for n in _WRIST] + [j for name in _FINGERS for j in fingers[name]]
    return c.result(), c.pixels(points).astype(np.float32)


def _appearance(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Exposure, a background gradient, blur and noise: what differs between radiographs of one anatomy."""
    w, h = image.shape
    ramp = np.linspace(-1, 1, w)[:, None] * rng.uniform(-0.06, 0.06) + np.linspace(-1, 1, h)[None] * rng.uniform(
        -0.06, 0.06
    )
    x = 0.06 + image * rng.uniform(0.8, 1.1) + ramp
    x = _blur(x, rng.uniform(0.4, 1.0))
    x = np.clip(x, 0, 1) ** rng.uniform(0.75, 1.35)
    x = x + rng.normal(0, rng.uniform(0.01, 0.04), x.shape)
    return np.clip(x, 0, 1).astype(np.float32)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        padded = np.pad(x, [(r, r) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        x = sum(k[i] * np.take(padded, np.arange(i, i + x.shape[axis]), axis=axis) for i in range(2 * r + 1))
    return x


def render_phantom(kind: str, rng: np.random.Generator, size: Sequence[int] | None = None):
    """Draw one phantom radiograph.

    Args:
        kind: ``"head"`` (19 cephalometric landmarks, ISBI 2015 order) or ``"hand"`` (37 landmarks; 0 and 4 are
            the radius and ulna styloid tips, the wrist-width pair).
        rng: the random generator (``np.random.default_rng(seed)``).
        size: image size ``(W, H)``; default :data:`DEFAULT_SIZES`.

    Returns:
        ``(image, landmarks)``: a ``(W, H)`` float32 image in [0, 1] and ``(K, 2)`` float32 pixel coordinates.
    """
    draw = {"head": _head, "hand": _hand}[_check_kind(kind)]
    size = tuple(size) if size is not None else DEFAULT_SIZES[kind]
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f"size must be (W, H) with both at least 16 pixels, got {size}.")
    for _ in range(100):  # redraw the rare pose that pushes a landmark off the image
        image, landmarks = draw(rng, size)
        if inside_image(landmarks, size).all():
            return _appearance(rng, image), landmarks
    raise RuntimeError(f"could not draw a {kind} phantom with every landmark inside a {size} image.")


def generate_phantom_dataset(
    root,
    kind: str = "head",
    num_train: int = 96,
    num_val: int = 16,
    num_test: int = 16,
    size: Sequence[int] | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a phantom dataset (splits ``train``, ``val``, ``test``) in the dataset format; returns its folder.

    The head phantoms get a nominal spacing that makes their field of view cephalogram-sized (240 mm high);
    the hand phantoms have none and record the wrist-width normalisation (landmarks 0 and 4, 50 mm).
    """
    kind = _check_kind(kind)
    size = tuple(size) if size is not None else DEFAULT_SIZES[kind]
    rng = np.random.default_rng(seed)
    splits = [("train", num_train), ("val", num_val), ("test", num_test)]

    def samples():
        index = 0
        for split, count in splits:
            for _ in range(count):
                image, landmarks = render_phantom(kind, rng, size)
                index += 1
                yield {"image_id": f"{kind}{index:04d}", "split": split, "image": image, "landmarks": landmarks}

    extra = {"synthetic": True, "kind": kind, "seed": seed, "generator_version": 1}
    spacing = None
    if kind == "head":
        spacing = round(240.0 / size[1], 6)
    else:
        extra["wrist_normalisation"] = {"pair": [0, 4], "width_mm": 50.0}
    return write_dataset(
        root, f"synthetic_{kind}", samples(), landmark_names=list(landmark_names(kind)),
        pixel_spacing_mm=spacing, extra_metadata=extra, overwrite=overwrite,
    )  # fmt: skip
