"""Synthetic X-ray phantoms: procedurally drawn lateral cephalograms (19 landmarks), hand radiographs (37),
AP spine films (68: :mod:`.phantoms.spine`) and PA chest films (166: :mod:`.phantoms.chest`).

They are the embedded default data of the bundles and tests, so nothing needs a download, and a network can
learn them: every landmark is a feature of the drawn anatomy, never a free point.

* Head (ISBI 2015 names and order), facing right. Sella is the centre of the sella turcica's cup; nasion
  the junction of the frontal and nasal bones; orbitale the lowest point of the orbit's rim; porion the top
  of the ear canal's ring; A and B points the deepest points of the concave fronts of the maxilla (ANS to
  prosthion) and the mandible (infradentale to pogonion); pogonion, gnathion and menton the front,
  front-bottom and bottom of the chin's arc; gonion the midpoint of the rounded jaw angle (on its bisector);
  the incisal landmarks the incisor tips; the lip, subnasale and soft-tissue pogonion landmarks the extreme
  points and the corner of the face profile; PNS and ANS the tips of the palate; articulare the crossing of
  the ramus' posterior border with the lower edge of the cranial base (clivus).
* Hand: a left hand, dorsal view, fingers up, thumb on the right, in the layout of the 37-point Digital
  Hand Atlas annotation (Payer et al. 2016): 0 ulnar styloid tip, 1 triquetrum, 2 and 3 the two sides of the
  distal radio-ulnar joint, 4 radial styloid tip, 5 scaphoid distal pole, 6-12 carpal bone centres, 13-17
  the carpometacarpal joints (little to thumb), then per finger (thumb, index, middle, ring, little) the
  joint gaps (MCP, PIP, DIP; thumb MCP, IP) and the tip of the distal phalanx. Landmarks 0 and 4 are the
  wrist-width pair of the hand protocol (:data:`WRIST_PAIR`).

How it is drawn: anatomy is built in a canonical frame in millimetres (head: a 192 x 240 mm film; hand:
200 x 250 mm) from random proportions, then posed on the image by a random similarity transform (scale,
rotation, shift), so the anatomy scales with the image size. Bones are signed-distance shapes (tapered
capsules, ellipses, polygons, shells) with a bright cortical rim; soft tissue is the union of its shapes
with a smooth edge. Attenuations add up as in a projection; then come the film response, blur, scatter fog
and heel effect, gamma and contrast, and signal-dependent noise. Everything is vectorised numpy on small
windows round each shape, and deterministic given the ``numpy.random.Generator``.

Coordinates follow ``utils.coords``: landmark ``(x, y)`` sits at array index ``[x, y]`` of the ``(W, H)``
image, pixel-centre convention.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from monai_landmarks.utils.coords import inside_image

__all__ = [
    "DEFAULT_SIZES",
    "GENERATOR_VERSION",
    "HAND_LANDMARK_NAMES",
    "HEAD_LANDMARK_NAMES",
    "HEAD_SPACING_MM",
    "PHANTOM_KINDS",
    "WRIST_PAIR",
    "WRIST_WIDTH_MM",
    "generate_phantom_dataset",
    "landmark_names",
    "render_phantom",
]

PHANTOM_KINDS = ("head", "hand", "spine", "chest")
DEFAULT_SIZES = {"head": (192, 240), "hand": (160, 200)}  # spine, chest: below
GENERATOR_VERSION = 2  # bump when phantoms change: cached datasets of another version are redrawn
#: mm per pixel of a head phantom at its default size: a 192 x 240 mm field of view, as a cephalogram's
#: (ISBI 2015 films are 193.5 x 240 mm). At other sizes the spacing scales with the image.
HEAD_SPACING_MM = 1.0
#: Hand phantoms have no calibrated spacing; like the Digital Hand Atlas they are measured by a 50 mm wrist
#: width between landmarks 0 (ulnar styloid tip) and 4 (radial styloid tip).
WRIST_PAIR = (0, 4)
WRIST_WIDTH_MM = 50.0

HEAD_LANDMARK_NAMES = (
    "sella", "nasion", "orbitale", "porion", "subspinale", "supramentale", "pogonion", "menton", "gnathion",
    "gonion", "lower incisal incision", "upper incisal incision", "upper lip", "lower lip", "subnasale",
    "soft tissue pogonion", "posterior nasal spine", "anterior nasal spine", "articulare",
)  # fmt: skip
_FINGERS = ("thumb", "index", "middle", "ring", "little")
HAND_LANDMARK_NAMES = (
    "ulnar styloid tip", "triquetrum", "ulnar head radial edge", "radius ulnar corner", "radial styloid tip",
    "scaphoid distal pole", "pisiform", "lunate", "scaphoid waist", "hamate", "capitate", "trapezoid",
    "trapezium", "little cmc", "ring cmc", "middle cmc", "index cmc", "thumb cmc",
    "thumb mcp", "thumb ip", "thumb tip",
    "index mcp", "index pip", "index dip", "index tip",
    "middle mcp", "middle pip", "middle dip", "middle tip",
    "ring mcp", "ring pip", "ring dip", "ring tip",
    "little mcp", "little pip", "little dip", "little tip",
)  # fmt: skip

_FIELD_MM = {"head": (192.0, 240.0), "hand": (200.0, 250.0)}
_MIN_SIZE = 16
_MARGIN_MM = 2.0  # landmarks keep at least this far from the image border
_SOFT_RAMP_MM = 9.0  # soft tissue thickens over this distance from the skin line


def _check_kind(kind: str) -> str:
    if kind not in PHANTOM_KINDS:
        raise ValueError(f"unknown phantom kind {kind!r}; valid kinds: {PHANTOM_KINDS}.")
    return kind


def landmark_names(kind: str) -> tuple[str, ...]:
    """Landmark names of a phantom kind, in landmark order (head: ISBI 2015's 19; hand: 37; spine: AASCE's
    68; chest: JSRT's 166)."""
    kind = _check_kind(kind)
    if kind in _MODULES:
        return _MODULES[kind].LANDMARK_NAMES
    return {"head": HEAD_LANDMARK_NAMES, "hand": HAND_LANDMARK_NAMES}[kind]


# --------------------------------------------------------------------------------------------------------
# plane geometry (canonical millimetres: x right, y down; angles in degrees, clockwise on screen)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _dir(degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    return np.array([np.cos(a), np.sin(a)])


def _angle(v) -> float:
    return float(np.rad2deg(np.arctan2(v[1], v[0])))


def _rotate(v, degrees: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _forward(d) -> np.ndarray:
    """The unit normal of direction ``d`` that points to +x (anterior on the head)."""
    n = np.array([-d[1], d[0]])
    return n if n[0] >= 0 else -n


def _arc(centre, radius, start: float, stop: float, step: float = 10.0) -> np.ndarray:
    """Points on a circle (or an ellipse, with ``radius = (rx, ry)``) from angle ``start`` to ``stop``."""
    a = np.deg2rad(np.linspace(start, stop, max(2, math.ceil(abs(stop - start) / step) + 1)))
    return np.asarray(centre) + np.asarray(radius) * np.stack([np.cos(a), np.sin(a)], axis=1)


def _fillet(corner, d1, d2, radius: float, n: int = 9) -> np.ndarray:
    """Arc of ``radius`` rounding the corner between the edges leaving ``corner`` along ``d1`` and ``d2``.

    Runs from the tangent point on the ``d1`` edge to the one on the ``d2`` edge; with odd ``n`` the middle
    point lies on the angle's bisector.
    """
    half = np.arccos(np.clip(np.dot(d1, d2), -1, 1)) / 2
    bisector = _unit(d1 + d2)
    centre = corner + bisector * radius / np.sin(half)
    a1, a2 = (np.deg2rad(_angle(corner + d * radius / np.tan(half) - centre)) for d in (d1, d2))
    sweep = (a2 - a1 + np.pi) % (2 * np.pi) - np.pi  # the short way round
    a = a1 + sweep * np.linspace(0, 1, n)
    return centre + radius * np.stack([np.cos(a), np.sin(a)], axis=1)


def _box(centre, half_width: float, half_height: float, angle: float, chamfer: float) -> np.ndarray:
    """A rectangle with chamfered corners (a vertebral body), as polygon vertices."""
    w, h, c = half_width, half_height, chamfer
    corners = [(-w + c, -h), (w - c, -h), (w, -h + c), (w, h - c), (w - c, h), (-w + c, h), (-w, h - c), (-w, -h + c)]
    return np.asarray(centre) + np.array([_rotate(p, angle) for p in corners])


# --------------------------------------------------------------------------------------------------------
# signed distances on pixel grids (positive inside); gx is (w, 1), gy is (1, h)


def _sd_capsule(gx, gy, a, b, radii) -> np.ndarray:
    """Tapered capsule from ``a`` to ``b``; ``radii`` is ``((t, r), ...)`` along the axis, t in [0, 1]."""
    d = b - a
    t = np.clip(((gx - a[0]) * d[0] + (gy - a[1]) * d[1]) / max(float(d @ d), 1e-9), 0.0, 1.0)
    ts, rs = zip(*radii, strict=True)
    return np.interp(t, ts, rs) - np.hypot(gx - a[0] - t * d[0], gy - a[1] - t * d[1])


def _sd_ellipse(gx, gy, centre, radii, angle: float) -> np.ndarray:
    """First-order signed distance to an ellipse rotated by ``angle`` radians (exact on the outline)."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = gx - centre[0], gy - centre[1]
    u, v = (dx * c + dy * s) / radii[0], (-dx * s + dy * c) / radii[1]
    rho = np.hypot(u, v)
    grad = np.hypot(u / radii[0], v / radii[1]) / np.maximum(rho, 1e-6)
    return (1.0 - rho) / np.maximum(grad, 1.0 / max(radii))


def _sd_polygon(gx, gy, vertices, band: float) -> np.ndarray:
    """Signed distance to a simple polygon (even-odd rule), exact within ``band`` pixels of its outline.

    ``gx`` and ``gy`` are consecutive pixel coordinates. Each edge only touches the pixels it can affect
    (its band, and the rows it spans for the inside test), so the cost grows with the outline's length
    rather than with edges times area.
    """
    x0, y0, w, h = float(gx[0, 0]), float(gy[0, 0]), gx.shape[0], gy.shape[1]
    d2 = np.full((w, h), band * band, dtype=np.float32)
    inside = np.zeros((w, h), dtype=bool)

    def index(v, origin, n):
        return min(max(math.ceil(v - origin), 0), n)

    for (ax, ay), (bx, by) in zip(vertices.tolist(), np.roll(vertices, -1, axis=0).tolist(), strict=True):
        ex, ey = bx - ax, by - ay
        i0, i1 = index(min(ax, bx) - band, x0, w), index(max(ax, bx) + band, x0, w)
        j0, j1 = index(min(ay, by) - band, y0, h), index(max(ay, by) + band, y0, h)
        if i1 > i0 and j1 > j0:
            wx, wy = gx[i0:i1] - ax, gy[:, j0:j1] - ay
            t = np.clip((wx * ex + wy * ey) / max(ex * ex + ey * ey, 1e-12), 0.0, 1.0)
            block = d2[i0:i1, j0:j1]
            np.minimum(block, (wx - t * ex) ** 2 + (wy - t * ey) ** 2, out=block)
        # rows whose centre lies in [min(ay, by), max(ay, by)) cross this edge, left of it flips inside
        j0, j1, i1 = index(min(ay, by), y0, h), index(max(ay, by), y0, h), index(max(ax, bx), x0, w)
        if ey != 0 and j1 > j0 and i1 > 0:
            inside[:i1, j0:j1] ^= gx[:i1] < ax + (gy[:, j0:j1] - ay) * (ex / ey)
    d = np.sqrt(d2)
    return np.where(inside, d, -d)


def _sd_polyline(gx, gy, points, radius: float) -> np.ndarray:
    d = np.full(np.broadcast_shapes(gx.shape, gy.shape), -np.inf)
    for a, b in zip(points[:-1], points[1:], strict=True):
        d = np.maximum(d, _sd_capsule(gx, gy, a, b, ((0, radius), (1, radius))))
    return d


def _bone_profile(sd, cortex: float, marrow: float) -> np.ndarray:
    """Projected density of a bone: 1 on a cortical rim ``cortex`` pixels wide, ``marrow`` inside.

    Edges ramp over one pixel, so shapes are anti-aliased at any size.
    """
    edge = np.clip(sd + 0.5, 0.0, 1.0)
    inner = np.clip(sd - cortex + 0.5, 0.0, 1.0)
    return edge - (1.0 - marrow) * inner


class _Pose:
    """Similarity map from the canonical millimetre frame to image pixels."""

    def __init__(self, size, field, scale: float, angle: float, shift_mm) -> None:
        self.unit = min(size[0] / field[0], size[1] / field[1])  # pixels per canonical mm
        self.scale = self.unit * scale  # pixels per mm of this anatomy
        self.angle = np.deg2rad(angle)
        c, s = np.cos(self.angle), np.sin(self.angle)
        self.linear = self.scale * np.array([[c, -s], [s, c]])
        self.field_centre = np.asarray(field) / 2 - 0.5 / self.unit  # canonical mm at the image centre
        self.image_centre = (np.asarray(size, dtype=np.float64) - 1) / 2 + self.unit * np.asarray(shift_mm)

    def __call__(self, points) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.field_centre) @ self.linear.T + self.image_centre

    def canonical(self, gx, gy) -> tuple[np.ndarray, np.ndarray]:
        """Canonical mm of pixel grids ``gx`` ``(w, 1)`` and ``gy`` ``(1, h)`` (the inverse map)."""
        inv = np.linalg.inv(self.linear)
        dx, dy = gx - self.image_centre[0], gy - self.image_centre[1]
        c = self.field_centre
        return inv[0, 0] * dx + inv[0, 1] * dy + c[0], inv[1, 0] * dx + inv[1, 1] * dy + c[1]


class _Film:
    """Accumulates projected bone attenuation and the union of soft tissue; shapes are in canonical mm."""

    def __init__(self, size, pose: _Pose) -> None:
        self.size = (int(size[0]), int(size[1]))
        self.pose = pose
        self.bone = np.zeros(self.size, dtype=np.float32)
        self.soft = np.full(self.size, -np.inf, dtype=np.float32)  # signed distance (px) to the skin
        self._gx = np.arange(self.size[0], dtype=np.float32)[:, None]
        self._gy = np.arange(self.size[1], dtype=np.float32)[None, :]

    def _shape(self, points_mm, margin_mm: float, sd_fn: Callable):
        """``(sx, sy, sd)``: ``sd_fn(gx, gy, points_px)`` on the window round the shape; None off the film."""
        px = self.pose(np.atleast_2d(points_mm))
        margin = margin_mm * self.pose.scale + 2
        lo = np.maximum(np.floor(px.min(axis=0) - margin).astype(int), 0)
        hi = np.minimum(np.ceil(px.max(axis=0) + margin + 1).astype(int), self.size)
        if (hi <= lo).any():
            return None
        sx, sy = slice(lo[0], hi[0]), slice(lo[1], hi[1])
        return sx, sy, sd_fn(self._gx[sx], self._gy[:, sy], px)

    def _add(self, shape, soft: bool, density: float, cortex: float, marrow: float) -> None:
        if shape is None:
            return
        sx, sy, sd = shape
        if soft:
            np.maximum(self.soft[sx, sy], sd, out=self.soft[sx, sy])
        else:
            self.bone[sx, sy] += density * _bone_profile(sd, cortex * self.pose.scale, marrow)

    def capsule(self, a, b, radii, density=1.0, cortex=1.0, marrow=0.5, soft=False) -> None:
        """Tapered capsule; ``radii`` as for :func:`_sd_capsule`, in mm."""
        px_radii = [(t, r * self.pose.scale) for t, r in radii]
        rmax = max(r for _, r in radii)
        shape = self._shape([a, b], rmax, lambda gx, gy, p: _sd_capsule(gx, gy, p[0], p[1], px_radii))
        self._add(shape, soft, density, cortex, marrow)

    def ellipse(self, centre, radii, angle=0.0, density=1.0, cortex=1.0, marrow=0.5, soft=False) -> None:
        r, a = (radii[0] * self.pose.scale, radii[1] * self.pose.scale), np.deg2rad(angle) + self.pose.angle
        shape = self._shape([centre], max(radii), lambda gx, gy, p: _sd_ellipse(gx, gy, p[0], r, a))
        self._add(shape, soft, density, cortex, marrow)

    def polygon(self, vertices, density=1.0, cortex=1.0, marrow=0.5, soft=False) -> None:
        band = ((_SOFT_RAMP_MM if soft else cortex + 1.0) * self.pose.scale) + 2.0  # where the profile varies
        shape = self._shape(vertices, 0.0, lambda gx, gy, p: _sd_polygon(gx, gy, p, band))
        self._add(shape, soft, density, cortex, marrow)

    def polyline(self, points, radius, density=1.0, cortex=1.0, marrow=0.5) -> None:
        r = radius * self.pose.scale
        shape = self._shape(points, radius, lambda gx, gy, p: _sd_polyline(gx, gy, p, r))
        self._add(shape, False, density, cortex, marrow)

    def shell(self, centre, radii, thickness, density=1.0, cortex=1.0, marrow=0.5, fill=0.0, weight=None) -> None:
        """Elliptic shell (a skull vault, a rim) of ``thickness`` round ``radii``, with ``fill`` density inside.

        ``weight(x_mm, y_mm)``, a function of canonical coordinates, scales the density (where the vault
        gives way to the face).
        """
        k = self.pose.scale
        r = (radii[0] * k, radii[1] * k)
        shape = self._shape(
            [centre], max(radii) + thickness, lambda g, h, p: _sd_ellipse(g, h, p[0], r, self.pose.angle)
        )
        if shape is None:
            return
        sx, sy, sd = shape
        density = density * _bone_profile(thickness * k / 2 - np.abs(sd), cortex * k, marrow)
        if fill:
            density = density + fill * np.clip(sd + 0.5, 0, 1)
        if weight is not None:
            density = density * weight(*self.pose.canonical(self._gx[sx], self._gy[:, sy]))
        self.bone[sx, sy] += density


# --------------------------------------------------------------------------------------------------------
# head: a lateral cephalogram facing right (+x anterior, +y inferior)

# Mean positions (canonical mm) of the structures the head is built from, near the ISBI 2015 mean shape.
_HEAD = {
    "nasion": (139.8, 98.4), "sella": (81.0, 104.0), "orbitale": (128.0, 122.0), "porion": (60.0, 121.0),
    "pns": (97.5, 143.3), "ans": (140.3, 145.0), "uit": (144.0, 170.9), "lit": (142.2, 169.9),
    "chin": (128.7, 199.4), "gonial corner": (72.0, 175.0), "occlusal molar": (100.0, 165.5),
}  # fmt: skip
_HEAD_ORDER = ("sella", "nasion", "orbitale", "porion", "a", "b", "pog", "me", "gn", "go", "lit", "uit", "ul",
               "ll", "sn", "soft pog", "pns", "ans", "ar")  # fmt: skip


def _head_cranium(rng: np.random.Generator) -> dict:
    """Vault, nasion, and the facial proportions that place everything else relative to nasion."""
    n, u = rng.normal, rng.uniform
    h = {"vault": np.array([70.0, 80.0]) + n(0, 1.5, 2), "vault radii": np.array([69.0, 73.0]) * (1 + n(0, 0.03, 2))}
    h["vault thickness"] = 6.0 * u(0.85, 1.2)
    # nasion: on the outer surface of the frontal bone, where the nasal bone leaves it
    h["nasion"] = h["vault"] + (h["vault radii"] + h["vault thickness"] / 2) * _dir(14 + n(0, 2))
    h["proportions"] = np.array([u(0.94, 1.06), u(0.92, 1.08)])  # facial depth and height
    for name, sd in (("sella", 2.0), ("orbitale", 1.5), ("porion", 2.0), ("pns", 1.5), ("ans", 1.2)):
        h[name] = _place(h, name, sd, rng)
    h["sella radius"] = 5.0 * u(0.85, 1.2)
    h["orbit radii"] = np.array([13.0, 15.0]) * u(0.9, 1.1)
    h["meatus radius"] = 4.2 * u(0.85, 1.15)
    h["nasal angle"] = 63 + n(0, 5)
    h["airway"] = u(0.7, 1.3)
    return h


def _place(h: dict, name: str, sd: float, rng: np.random.Generator) -> np.ndarray:
    """A structure's mean position relative to nasion, scaled by the facial proportions, plus jitter."""
    offset = np.asarray(_HEAD[name]) - _HEAD["nasion"]
    return h["nasion"] + h["proportions"] * offset + rng.normal(0, sd, 2)


def _head_teeth(h: dict, rng: np.random.Generator) -> None:
    n, u = rng.normal, rng.uniform
    h["uit"] = _place(h, "uit", 1.5, rng)
    h["lit"] = h["uit"] + np.array([-u(1.0, 4.0), -u(0.0, 3.0)])  # behind and above: overjet, overbite
    h["upper incisor dir"], h["upper incisor length"] = _dir(65 + n(0, 4)), 23.0 * u(0.92, 1.08)  # apex -> tip
    h["lower incisor dir"], h["lower incisor length"] = _dir(-56 + n(0, 4)), 21.0 * u(0.92, 1.08)
    # prosthion / infradentale: the alveolar crests on the labial side of the incisor necks
    h["prosthion"] = h["uit"] - 10.0 * h["upper incisor dir"] + 2.8 * _forward(h["upper incisor dir"])
    h["infradentale"] = h["lit"] - 9.5 * h["lower incisor dir"] + 2.2 * _forward(h["lower incisor dir"])
    # A point: the deepest vertex of the concave front of the maxilla between ANS and prosthion
    chord = _unit(h["prosthion"] - h["ans"])
    h["a"] = (h["ans"] + h["prosthion"]) / 2 + u(2.0, 4.0) * np.array([-chord[1], chord[0]])
    h["occlusal incisor"] = (h["uit"] + h["lit"]) / 2
    h["occlusal molar"] = _place(h, "occlusal molar", 1.5, rng)
    h["bite sides"] = [np.zeros(2), n(0, 1.2, 2) + (-1.5, 0.0)]  # left and right teeth project apart


def _head_mandible(h: dict, rng: np.random.Generator) -> None:
    n, u = rng.normal, rng.uniform
    # chin: an arc whose front, front-bottom and bottom are pogonion, gnathion and menton
    h["chin"] = h["lit"] + h["proportions"] * np.subtract(_HEAD["chin"], _HEAD["lit"]) + n(0, 1.5, 2)
    rc = h["chin radius"] = 6.0 * u(0.85, 1.2)
    h["pog"], h["gn"], h["me"] = h["chin"] + (rc, 0.0), h["chin"] + rc * _dir(45), h["chin"] + (0.0, rc)
    # B point: the deepest vertex of the concavity between infradentale and pogonion
    b = h["pog"] + 0.45 * (h["infradentale"] - h["pog"]) - (u(2.0, 4.5), 0.0)
    h["b"] = np.array([min(b[0], h["pog"][0] - 0.5), b[1]])
    # the lower border runs from the gonial corner tangent to the chin; the ramus rises at the gonial angle
    k = h["gonial corner"] = _place(h, "gonial corner", 2.0, rng)
    to_k = k - h["chin"]
    h["chin tangent"] = (_angle(to_k) - np.rad2deg(np.arccos(rc / np.linalg.norm(to_k)))) % 360
    h["mp dir"] = _unit(h["chin"] + rc * _dir(h["chin tangent"]) - k)
    h["ramus dir"] = _rotate(h["mp dir"], -(125 + n(0, 5)))  # gonial corner -> condyle
    # gonion: the midpoint of the rounded angle, on the bisector of the ramus and the mandibular plane
    h["gonial arc"] = _fillet(k, h["ramus dir"], h["mp dir"], 7.0 * u(0.8, 1.2), 9)
    h["go"] = h["gonial arc"][4]
    # articulare: the ramus' posterior border crosses the lower (anterior) edge of the clivus. It is placed on
    # the border, and the clivus (from behind the sella down towards basion) is aimed so that its edge
    # passes through it: the edges cross at a shallow angle, and aiming keeps the crossing where it belongs.
    h["ar"] = k + (41.0 * h["proportions"][1] + n(0, 2.0)) * h["ramus dir"]
    h["ramus length"] = float(np.dot(h["ar"] - k, h["ramus dir"])) + u(2.5, 4.5)
    h["clivus start"] = h["sella"] + (-(h["sella radius"] + 2.0), 0.6 * h["sella radius"])
    h["clivus radius"] = 5.0 * u(0.9, 1.1)
    to_ar = h["ar"] - h["clivus start"]
    reach = float(np.linalg.norm(to_ar))
    clivus = _angle(to_ar) + np.rad2deg(np.arcsin(min(h["clivus radius"] / reach, 1.0)))
    h["clivus dir"] = _dir(clivus)
    h["clivus length"] = max(46.0 * h["proportions"][1], reach + 10.0)
    h["valid"] = bool(reach > 2 * h["clivus radius"] and 100 < clivus < 145)


def _head_soft_tissue(h: dict, rng: np.random.Generator) -> None:
    n = rng.normal
    h["sn"] = h["ans"] + (10.0, 5.0) + n(0, 1.0, 2)
    h["ul"] = h["uit"] + (11.6, -9.6) + n(0, 1.2, 2)
    h["ll"] = h["lit"] + (10.9, 12.0) + n(0, 1.2, 2)
    h["soft pog"] = h["pog"] + (9.7, 2.7) + n(0, 1.2, 2)
    h["pronasale"] = h["sn"] + (13.0, -13.0) + n(0, 1.5, 2)


def _head_anatomy(rng: np.random.Generator) -> dict:
    """Random proportions -> the head's structures (canonical mm), with the landmarks constructed on them."""
    h = _head_cranium(rng)
    _head_teeth(h, rng)
    _head_mandible(h, rng)
    _head_soft_tissue(h, rng)
    return h


def _draw_skull(film: _Film, h: dict) -> None:
    n, s, rs = h["nasion"], h["sella"], h["sella radius"]
    slope = (n[1] - s[1]) / (n[0] - s[0])

    def above_base(x, y):  # 1 above the cranial base (the S-N line, bending down behind the sella), 0 below
        base = np.where(x >= s[0], s[1] + (x - s[0]) * slope, s[1] + (s[0] - x))
        return np.clip(1.0 - (y - base) / 12.0, 0.0, 1.0)

    film.shell(h["vault"], h["vault radii"], h["vault thickness"], 0.9, 1.8, 0.45, fill=0.12, weight=above_base)
    nasal = _dir(h["nasal angle"])
    film.capsule(n + 0.8 * nasal, n + 22 * nasal, ((0, 2.0), (1, 0.7)), 0.7, 0.8, 0.6)  # nasal bone
    film.polyline(_arc(s, rs, -20, 200, 15), 0.9, density=0.9, cortex=0.6, marrow=1.0)  # the sella cup
    film.capsule(s + rs * _dir(200), s + (-rs - 0.5, -rs - 4.0), ((0, 1.0), (1, 0.8)), 0.9, 0.6, 1.0)  # dorsum
    film.capsule(s + (rs + 2.5, -rs), s + (0.3 * rs, -rs - 0.3), ((0, 1.2), (1, 0.6)), 0.8, 0.6, 1.0)  # clinoid
    film.capsule(s + (rs + 2.5, -rs), n + (-12.0, 5.0), ((0, 1.0), (1, 0.8)), 0.6, 0.6, 1.0)  # cranial base
    film.ellipse(s + (2.0, rs + 7.5), (11.0, 6.5), density=0.4, cortex=1.2, marrow=0.5)  # sphenoid body
    start, r = h["clivus start"], h["clivus radius"]
    film.capsule(start, start + h["clivus length"] * h["clivus dir"], ((0, r), (1, r)), 0.4, 1.5, 0.5)
    orbit = h["orbitale"] - (0.0, h["orbit radii"][1])
    film.shell(orbit, h["orbit radii"], 1.6, density=0.3, cortex=0.8, marrow=1.0, fill=0.06)
    po, re = h["porion"], h["meatus radius"]
    film.ellipse(po + (-6.0, 11.0), (12.0, 9.0), density=0.35, cortex=1.2, marrow=0.7)  # mastoid
    film.ellipse(po + (0.0, re), (re, re), density=-0.3, cortex=0.0, marrow=1.0)  # ear canal: air
    film.shell(po + (0.0, re), (re, re), 1.4, density=0.65, cortex=0.7, marrow=1.0)


def _draw_teeth(film: _Film, h: dict, back, down) -> None:
    # incisors: tapered capsules whose extreme tips are the incisal landmarks, enamel on the crowns
    for tip, d, length, w in (
        (h["uit"], h["upper incisor dir"], h["upper incisor length"], 1.0),
        (h["lit"], h["lower incisor dir"], h["lower incisor length"], 0.85),
    ):
        end = tip - 0.6 * d
        tooth = ((0, 0.8), (0.55, 3.3 * w), (0.62, 3.5 * w), (1, 0.6))
        film.capsule(end - length * d, end, tooth, 1.0, 0.8, 0.65)
        film.capsule(end - 0.42 * length * d, end, ((0, 3.4 * w), (0.15, 3.5 * w), (1, 0.6)), 0.5, 0.6, 1.0)
    # premolars and molars of both sides (slightly apart, as the two sides project) with their roots
    angle = _angle(back)
    for shift in h["bite sides"]:
        for distance, half, roots in ((14.0, 3.4, 1), (21.0, 3.4, 1), (29.5, 5.0, 2), (39.5, 4.8, 2)):
            for jaw in (-1, 1):  # upper, lower
                crown = h["occlusal incisor"] + shift + distance * back + jaw * 3.7 * down
                film.ellipse(crown, (half, 3.5), angle, density=0.75, cortex=0.9, marrow=0.8)
                for i in range(roots):
                    root = crown + (i - (roots - 1) / 2) * 4.0 * back + jaw * 2.0 * down
                    film.capsule(root, root + jaw * 12.0 * down, ((0, 1.8), (1, 0.7)), 0.4, 0.6, 0.8)


def _draw_jaws(film: _Film, h: dict) -> None:
    back = _unit(h["occlusal molar"] - h["occlusal incisor"])  # along the occlusal plane, backwards
    down = _rotate(back, -90.0)
    molar = h["occlusal molar"]
    # maxilla: the alveolar process under the palate with a cortical front (ANS - A point - prosthion),
    # the palate, and the zygomatic buttress above the molars
    maxilla = [h["ans"], h["a"], h["prosthion"], molar - 5.0 * down, molar + 9.0 * back - 7.0 * down, h["pns"],
               (h["pns"] + h["ans"]) / 2 + (0.0, -1.0)]  # fmt: skip
    film.polygon(np.array(maxilla), density=0.3, cortex=0.8, marrow=0.6)
    film.polyline(np.array([h["ans"], h["a"], h["prosthion"]]), 0.9, density=0.5, cortex=0.9, marrow=1.0)
    film.polyline(_arc(molar + (2.0, -26.0), (8.0, 10.0), 10, 170, 20), 1.0, density=0.3, cortex=1.0, marrow=1.0)
    palate = _unit(h["ans"] - h["pns"])  # a spindle whose tips are PNS and ANS
    spindle = ((0, 0.4), (0.15, 2.0), (0.6, 2.6), (0.92, 1.1), (1, 0.4))
    film.capsule(h["pns"] + 0.4 * palate, h["ans"] - 0.4 * palate, spindle, 0.8, 1.0, 0.7)
    # mandible: one outline from the condyle down the ramus, round the angle and the chin, back along the
    # alveolar crest and up the ramus' front to the coronoid process
    k, up, top = h["gonial corner"], h["ramus dir"], h["ramus length"]
    fwd = _forward(up)

    def ramus(a, b):  # a mm up the posterior border, b mm forward of it
        return k + a * up + b * fwd

    condyle = [ramus(top + a, b) for a, b in ((0, 0), (2.5, -0.6), (4.8, 1.0), (5.6, 3.8), (4.8, 6.5), (2.5, 8.0))]
    notch_and_coronoid = [ramus(top + a, b) for a, b in ((-3, 7.5), (-10, 13), (-8, 20), (-3.5, 26), (-2.5, 28.5),
                                                        (-5, 30), (-14, 28))]  # fmt: skip
    crest = [ramus(0.45 * top, 29.0), molar + 6.0 * back + 2.0 * down, molar + 5.0 * down, h["infradentale"]]
    chin = _arc(h["chin"], h["chin radius"], -35.0, h["chin tangent"], 15.0)
    outline = [*condyle, *notch_and_coronoid, *crest, h["b"], *chin, *h["gonial arc"][::-1]]
    film.polygon(np.array(outline), density=0.5, cortex=1.8, marrow=0.4)
    _draw_teeth(film, h, back, down)


def _draw_neck_and_face(film: _Film, h: dict) -> None:
    # cervical vertebrae (C2 with its dens) and the hyoid, behind and below the jaw
    k = h["gonial corner"]
    shift = (k - _HEAD["gonial corner"]) * 0.5
    for i, centre in enumerate(((38.0, 166.0), (35.0, 189.0), (32.0, 212.0), (29.0, 235.0))):
        c = np.asarray(centre) + shift
        film.polygon(_box(c, 7.5, 6.0 if i else 8.0, -8.0, 2.5), density=0.55, cortex=1.4, marrow=0.5)
        if i == 0:
            film.capsule(c + (1.0, -6.0), c + (3.0, -20.0), ((0, 4.0), (0.8, 3.2), (1, 2.5)), 0.5, 1.2, 0.5)
    film.ellipse(h["me"] + (-30.0, 14.0), (5.0, 2.5), -10.0, density=0.45, cortex=0.8, marrow=0.6)
    # pharyngeal airway: a darker band from behind the palate down between the jaw and the spine
    airway = [h["pns"] + (-12.0, -6.0), h["pns"] + (-22.0, 4.0), k + (-13.0, -12.0), k + (-14.0, 20.0), k + (-12, 70)]
    film.polyline(np.array(airway), 4.0 * h["airway"], density=-0.12, cortex=0.0, marrow=1.0)
    # soft tissue: the scalp round the vault, then the face profile through the soft-tissue landmarks, whose
    # neighbours lie behind them (lips, chin: most anterior points) or in front (subnasale: a corner)
    film.ellipse(h["vault"], h["vault radii"] + h["vault thickness"] / 2 + 6.0, soft=True)
    n, sn, ul, ll, sp, prn, me = h["nasion"], h["sn"], h["ul"], h["ll"], h["soft pog"], h["pronasale"], h["me"]
    stomion, soft_b = (ul + ll) / 2 + (-6.0, 0.0), h["b"] + (9.0, 1.0)
    profile = [
        n + (-5.0, -40.0), n + (6.5, 1.0), n + (14.0, 18.0), prn + (-1.5, -4.0), prn, prn + (-3.0, 4.0), sn,
        ul + (-1.5, -4.5), ul, ul + (-2.0, 4.0), stomion, ll + (-2.0, -4.0), ll, ll + (-2.5, 4.5), soft_b,
        sp + (-1.0, -5.0), sp, sp + (-3.0, 6.0), me + (2.0, 9.0), me + (-22.0, 13.0), me + (-32.0, 18.0),
        me + (-30.0, 80.0), (-40.0, 330.0), (-40.0, 40.0),
    ]  # fmt: skip
    film.polygon(np.array(profile), soft=True)


def _head(rng: np.random.Generator, size) -> tuple[np.ndarray, bool, _Pose, Callable]:
    h = _head_anatomy(rng)
    pose = _Pose(size, _FIELD_MM["head"], rng.uniform(0.93, 1.05), rng.uniform(-5, 5), rng.normal(0, 3, 2))

    def draw(film: _Film) -> None:
        _draw_skull(film, h)
        _draw_jaws(film, h)
        _draw_neck_and_face(film, h)

    return np.stack([h[k] for k in _HEAD_ORDER]), h["valid"], pose, draw


# --------------------------------------------------------------------------------------------------------
# hand: a left hand, dorsal view, fingers up, thumb on the right (as in the Digital Hand Atlas)

# Mean chains (canonical mm): the carpometacarpal joint, the finger's joints, then its tip.
_CHAINS = {
    "thumb": ((117.7, 190.8), (144.0, 150.3), (157.1, 121.0), (168.5, 100.0)),
    "index": ((103.8, 185.5), (114.0, 112.8), (120.8, 70.5), (124.8, 45.5), (126.2, 26.5)),
    "middle": ((89.8, 184.5), (89.3, 111.5), (90.8, 63.3), (90.3, 32.0), (88.5, 11.3)),
    "ring": ((77.6, 184.8), (68.3, 120.5), (63.9, 75.8), (60.9, 46.5), (59.6, 25.5)),
    "little": ((69.8, 187.8), (49.3, 132.0), (38.3, 99.8), (32.4, 81.0), (29.2, 62.8)),
}
_SPREAD = {"thumb": 10.0, "index": 4.0, "middle": 0.0, "ring": -3.5, "little": -7.0}  # degrees per unit spread
_FINGER_WIDTH = {"thumb": 1.2, "index": 1.0, "middle": 1.05, "ring": 0.95, "little": 0.85}
# corners of the radius and ulna that are landmarks (canonical mm)
_WRIST = {
    "ulnar styloid": (59.5, 230.0), "ulnar head": (75.0, 233.0), "radius corner": (79.0, 232.5),
    "radial styloid": (108.0, 226.5),
}  # fmt: skip
# carpal bones: the proximal row sits on the radius and ulna, (centre, radii, angle); the distal row sits
# under the carpometacarpal joints, (the rays it carries, radii, angle from the ray), so those joints'
# landmarks lie between carpal and metacarpal.
_PROXIMAL_CARPALS = {
    "triquetrum": ((64.0, 217.5), (7.0, 6.0), -20.0), "pisiform": ((69.0, 212.5), (4.5, 4.2), 0.0),
    "lunate": ((81.0, 220.0), (7.5, 6.5), 0.0), "scaphoid": ((96.0, 218.0), (12.0, 6.0), -14.0),
}  # fmt: skip
_DISTAL_CARPALS = {
    "hamate": (("little", "ring"), (7.0, 10.5)), "capitate": (("middle",), (6.0, 11.5)),
    "trapezoid": (("index",), (5.0, 7.0)), "trapezium": (("thumb",), (6.5, 8.0)),
}  # fmt: skip


def _hand_chains(rng: np.random.Generator) -> dict:
    """Each ray's joints: random palm and finger lengths, spread, and slight bends at the joints."""
    n, u = rng.normal, rng.uniform
    finger_len, palm_len, spread = u(0.93, 1.07), u(0.93, 1.07), u(-0.7, 1.0)
    chains = {}
    for name, mean in _CHAINS.items():
        mean = np.asarray(mean)
        joints = [mean[0] + n(0, 1.2, 2)]
        turn = n(0, 4.0 if name == "thumb" else 1.5)  # the whole ray about its carpometacarpal joint
        abduct_at = 0 if name == "thumb" else 1  # the thumb spreads at its base, the fingers at the MCP joint
        for i, step in enumerate(mean[1:] - mean[:-1]):
            if i == abduct_at:
                turn += spread * _SPREAD[name] + n(0, 2.5)
            elif i > abduct_at:
                turn += n(0, 2.0)
            joints.append(joints[-1] + _rotate(step, turn) * (palm_len if i == 0 else finger_len) * n(1, 0.03))
        chains[name] = np.stack(joints)
    return chains


def _hand_anatomy(rng: np.random.Generator) -> dict:
    n, u = rng.normal, rng.uniform
    chains, width = _hand_chains(rng), u(0.9, 1.1)
    shift = n(0, 1.5, 2)  # the wrist relative to the palm
    wrist = {k: np.asarray(v) + shift + n(0, 1.0, 2) for k, v in _WRIST.items()}
    wrist["ulnar head"][0] = min(wrist["ulnar head"][0], wrist["radius corner"][0] - 2.5)  # keep the joint open
    carpals, size = {}, u(0.92, 1.08)
    for name, (centre, radii, angle) in _PROXIMAL_CARPALS.items():
        carpals[name] = (np.asarray(centre) + shift + n(0, 1.0, 2), np.asarray(radii) * size, angle + n(0, 5))
    for name, (rays, radii) in _DISTAL_CARPALS.items():
        radii = np.asarray(radii) * size
        joint = np.mean([chains[r][0] for r in rays], axis=0)
        ray = _unit(chains[rays[0]][1] - chains[rays[0]][0])
        carpals[name] = (joint - (radii[1] + 0.9) * ray, radii, _angle(ray) + 90 + n(0, 4))
    return {"chains": chains, "wrist": wrist, "carpals": carpals, "width": width}


def _draw_hand_soft_tissue(film: _Film, hand: dict) -> None:
    chains, wrist = hand["chains"], hand["wrist"]
    little, ring, middle, index, thumb = (chains[f] for f in ("little", "ring", "middle", "index", "thumb"))
    rs, us = wrist["radial styloid"], wrist["ulnar styloid"]
    palm = [
        little[1] + (-8.0, 6.0), ring[1] + (-2.0, -9.0), middle[1] + (0.0, -10.0), index[1] + (4.0, -9.0),
        index[1] + (10.0, 4.0), (thumb[1] + index[1]) / 2 + (-2.0, 12.0), thumb[0] + (14.0, 6.0), rs + (10.0, -6.0),
        rs + (12.0, 60.0), us + (-14.0, 60.0), us + (-11.0, -6.0), little[0] + (-22.0, -18.0),
    ]  # fmt: skip
    film.polygon(np.array(palm), soft=True)
    for name, joints in chains.items():  # a sleeve round each finger, 3.5 mm beyond the bone's tip
        r = 8.0 * _FINGER_WIDTH[name] * hand["width"]
        tip = joints[-1] - (r - 3.5) * _unit(joints[-1] - joints[-2])
        sleeve = [joints[0] + (4.0, -6.0)] if name == "thumb" else []
        sleeve = np.vstack([*sleeve, joints[1:-1], tip])
        for a, b in zip(sleeve[:-1], sleeve[1:], strict=True):
            film.capsule(a, b, ((0, r), (1, r)), soft=True)


def _draw_hand(film: _Film, hand: dict) -> None:
    _draw_hand_soft_tissue(film, hand)
    # radius and ulna: polygons whose corners are the wrist landmarks
    rs, rc = hand["wrist"]["radial styloid"], hand["wrist"]["radius corner"]
    us, uh = hand["wrist"]["ulnar styloid"], hand["wrist"]["ulnar head"]
    radius = [rc, (rc + rs) / 2 + (0.0, 2.0), rs, rs + (3.5, 12.0), rs + (3.0, 70.0), rc + (-1.0, 70.0), rc + (-1, 10)]
    film.polygon(np.array(radius), density=0.75, cortex=1.6, marrow=0.45)
    ulna = [
        uh,
        uh + (-6.0, -2.5),
        us + (5.0, 2.0),
        us,
        us + (-2.0, 7.0),
        us + (2.5, 70.0),
        uh + (-1.5, 70.0),
        uh + (1, 6),
    ]
    film.polygon(np.array(ulna), density=0.7, cortex=1.5, marrow=0.45)
    for centre, radii, angle in hand["carpals"].values():
        film.ellipse(centre, radii, angle, density=0.6, cortex=1.1, marrow=0.5)
    # metacarpals and phalanges: tubes with flared ends; the joint landmarks sit in the gaps between them
    for name, joints in hand["chains"].items():
        w = _FINGER_WIDTH[name] * hand["width"]
        gap = 1.8 * w
        for i, (p, q) in enumerate(zip(joints[:-1], joints[1:], strict=True)):
            d = _unit(q - p)
            if i == len(joints) - 2:  # distal phalanx: its tuft's extreme point is the tip landmark
                base, shaft, head = 3.6 * w, 2.0 * w, 2.4 * w
                a, b = p + (gap / 2 + base) * d, q - head * d
            else:
                base, shaft, head = (4.6 * w, 3.0 * w, 4.8 * w) if i == 0 else (4.4 * w, 2.9 * w, 4.0 * w)
                a, b = p + (gap / 2 + base) * d, q - (gap / 2 + head) * d
            profile = ((0, base), (0.25, shaft), (0.75, shaft), (1, head))
            film.capsule(a, b, profile, density=0.85, cortex=1.1, marrow=0.45)


def _hand(rng: np.random.Generator, size) -> tuple[np.ndarray, bool, _Pose, Callable]:
    hand = _hand_anatomy(rng)
    pose = _Pose(size, _FIELD_MM["hand"], rng.uniform(0.86, 0.97), rng.uniform(-8, 8), rng.normal(0, 4, 2))
    w, c, chains = hand["wrist"], hand["carpals"], hand["chains"]
    scaphoid, scaphoid_radii, scaphoid_angle = c["scaphoid"]
    wrist_points = [
        w["ulnar styloid"], c["triquetrum"][0], w["ulnar head"], w["radius corner"], w["radial styloid"],
        scaphoid + scaphoid_radii[0] * _dir(scaphoid_angle), c["pisiform"][0], c["lunate"][0], scaphoid,
        c["hamate"][0], c["capitate"][0], c["trapezoid"][0], c["trapezium"][0],
    ]  # fmt: skip
    carpometacarpal = [chains[f][0] for f in ("little", "ring", "middle", "index", "thumb")]
    fingers = [p for f in _FINGERS for p in chains[f][1:]]
    return np.stack(wrist_points + carpometacarpal + fingers), True, pose, lambda film: _draw_hand(film, hand)


# --------------------------------------------------------------------------------------------------------
# film response and appearance


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with mirrored borders (a sum of shifted copies: the kernel is short)."""
    radius = min(math.ceil(3 * sigma), *(n - 1 for n in image.shape))
    if sigma <= 0.05 or radius < 1:
        return image
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    kernel /= kernel.sum()
    w, h = image.shape
    padded = np.pad(image, ((radius, radius), (0, 0)), mode="symmetric")
    image = sum(k * padded[i : i + w] for i, k in enumerate(kernel))
    padded = np.pad(image, ((0, 0), (radius, radius)), mode="symmetric")
    return sum(k * padded[:, i : i + h] for i, k in enumerate(kernel))


def _expose(rng: np.random.Generator, film: _Film, kind: str, noise: bool) -> np.ndarray:
    """Film response, blur, scatter fog and heel effect, gamma and window, then quantum and read noise."""
    u = rng.uniform
    soft = (0.3 if kind == "head" else 0.4) * np.sqrt(np.clip(film.soft / (_SOFT_RAMP_MM * film.pose.scale), 0, 1))
    image = 1.0 - np.exp(-u(1.0, 1.4) * (np.maximum(film.bone, 0) + soft))
    image = _blur(image, u(0.4, 0.9) * film.pose.unit)
    gx = np.linspace(-1, 1, film.size[0], dtype=np.float32)[:, None]
    gy = np.linspace(-1, 1, film.size[1], dtype=np.float32)[None, :]
    fog = u(0.03, 0.1) + u(-0.04, 0.04) * gx + u(-0.04, 0.04) * gy + u(0, 0.04) * (1 - gx**2) * (1 - gy**2)
    image = fog + (1 - fog) * image * (1 + u(-0.08, 0.08) * gy)
    image = np.clip(image, 0, 1) ** u(0.75, 1.3)
    low, high = u(0.0, 0.04), u(0.92, 1.05)
    image = (image - low) / (high - low)
    quantum, read = u(0.01, 0.035), u(0.003, 0.012)  # drawn either way, so noise=False changes nothing else
    if noise:
        sd = np.sqrt(quantum**2 * np.clip(image, 0, 1) + read**2)
        image = image + sd * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(image, 0, 1).astype(np.float32)


def _as_generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}.")


def _check_size(kind: str, size) -> tuple[int, int]:
    if size is None:
        return DEFAULT_SIZES[kind]
    try:
        w, h = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (W, H), two integers, got {size!r}.") from None
    if min(w, h) < _MIN_SIZE:
        raise ValueError(f"size must be (W, H) with both at least {_MIN_SIZE} pixels, got {tuple(size)}.")
    return w, h


def render_phantom(kind: str, rng, size: Sequence[int] | None = None, noise: bool = True):
    """Draw one phantom radiograph and its landmarks.

    Args:
        kind: ``"head"`` (a lateral cephalogram with the 19 ISBI 2015 landmarks), ``"hand"`` (a hand
            radiograph with 37 landmarks; 0 and 4 are the ulnar and radial styloid tips, the wrist-width pair),
            ``"spine"`` (an AP spine film, the 68 vertebral body corners T1-L5, TL, TR, BL, BR per vertebra)
            or ``"chest"`` (a PA chest film, 166 points on five ordered contours: lungs, heart, clavicles).
        rng: a ``numpy.random.Generator`` (or an int seed); the only source of randomness.
        size: image size ``(W, H)``, at least 16 each; default :data:`DEFAULT_SIZES`. The anatomy scales with
            the image: a head fills a 192 x 240 mm field of view at any size.
        noise: add detector noise. Everything else is the same with or without it, for the same ``rng`` state.

    Returns:
        ``(image, landmarks)``: a ``(W, H)`` float32 image in [0, 1] (array index ``[x, y]``) and ``(K, 2)``
        float32 ``(x, y)`` pixel-centre coordinates, all at least 2 mm inside the image.

    Raises:
        ValueError: unknown ``kind`` (the message lists the valid kinds) or a bad ``size``.
        TypeError: ``rng`` is neither a generator nor an int.
    """
    kind = _check_kind(kind)
    build = _MODULES[kind].build if kind in _MODULES else {"head": _head, "hand": _hand}[kind]
    size = _check_size(kind, size)
    rng = _as_generator(rng)
    margin = _MARGIN_MM * min(size[0] / _FIELD_MM[kind][0], size[1] / _FIELD_MM[kind][1])
    for _ in range(100):  # redraw the rare anatomy or pose that breaks a construction or leaves the film
        anatomy, valid, pose, draw = build(rng, size)
        points = pose(anatomy).astype(np.float32)
        if valid and inside_image(points - margin, size).all() and inside_image(points + margin, size).all():
            film = _Film(size, pose)
            draw(film)
            return _expose(rng, film, kind, noise), points
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
    progress: bool = False,
) -> Path:
    """Write a phantom dataset with splits ``train``, ``val`` and ``test`` in the dataset format.

    Images are 8-bit PNG (spine: JPEG, as the AASCE films); image ``i`` (counting through the splits in that
    order) is ``render_phantom(kind, numpy.random.default_rng([seed, i]), size)``, so the first images of a
    dataset do not depend on how many follow. Spine images vary in size round ``size`` (one size per image:
    ``phantoms.spine.vary_size(numpy.random.default_rng([seed, i, 1]), size)``), about 1:2.7 like the real
    films, so an aspect-keeping resize has work to do. Head phantoms get ``pixel_spacing_mm`` =
    :data:`HEAD_SPACING_MM` at the default size (scaled with ``size``), chest phantoms 0.7 mm at 512 x 512
    (JSRT's) scaled the same way; spine phantoms have no spacing (pixels). Hand phantoms have no spacing and
    record the wrist-width
    normalisation (landmarks 0 and 4, 50 mm) as ``wrist_normalisation`` (what
    :func:`~.datalists.error_protocol` reads) and as ``wrist_pair`` / ``wrist_width_mm``.

    Args:
        root: the dataset folder to create.
        kind: one of :data:`PHANTOM_KINDS`.
        num_train, num_val, num_test: images per split (non-negative integers; a split with none is absent).
        size: image size ``(W, H)``; default :data:`DEFAULT_SIZES`.
        seed: the dataset's seed.
        overwrite: replace an existing dataset folder.
        progress: show a progress bar (the command line's, unless ``--quiet``).

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: unknown ``kind``, bad ``size`` or counts; :class:`~.dataset_format.DatasetError` (a
            ``ValueError``) when ``root`` exists and ``overwrite`` is false, or no image is requested.
    """
    from monai_landmarks.data.dataset_format import write_dataset  # the format module imports this package

    kind, size = _check_kind(kind), _check_size(kind, size)
    counts = {"train": num_train, "val": num_val, "test": num_test}
    for split, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"num_{split} must be a non-negative integer, got {count!r}.")
    splits = [split for split, count in counts.items() for _ in range(count)]

    def samples():
        for index, split in enumerate(splits):
            image_size = _image_size(kind, seed, index, size)
            image, points = render_phantom(kind, np.random.default_rng([seed, index]), image_size)
            image = np.rint(image * 255).astype(np.uint8)
            yield {"image_id": f"{kind}{index:04d}", "split": split, "image": image, "landmarks": points}

    extra = {"synthetic": True, "kind": kind, "seed": int(seed), "generator_version": GENERATOR_VERSION}
    spacing = None
    if kind in ("head", "chest"):  # canonical fields are in mm: the spacing is 1 / (pixels per mm)
        field = _FIELD_MM[kind]
        spacing = round(1.0 / min(size[0] / field[0], size[1] / field[1]), 6)
    if kind == "chest":
        extra["landmark_groups"] = {name: list(ends) for name, ends in _chest.LANDMARK_GROUPS.items()}
    elif kind == "hand":
        extra["wrist_normalisation"] = {"pair": list(WRIST_PAIR), "width_mm": WRIST_WIDTH_MM}
        extra.update(wrist_pair=list(WRIST_PAIR), wrist_width_mm=WRIST_WIDTH_MM)
    return write_dataset(
        root,
        f"synthetic_{kind}",
        samples(),
        landmark_names=list(landmark_names(kind)),
        pixel_spacing_mm=spacing,
        extra_metadata=extra,
        overwrite=overwrite,
        progress=progress,
        total=len(splits),
        image_format=getattr(_MODULES.get(kind), "IMAGE_FORMAT", "png"),
    )


def _image_size(kind: str, seed: int, index: int, size: tuple[int, int]) -> tuple[int, int]:
    """Image ``index``'s size: ``size``, or for kinds that vary it (spine) one drawn from its own stream."""
    vary = getattr(_MODULES.get(kind), "vary_size", None)
    return size if vary is None else vary(np.random.default_rng([seed, index, 1]), size)


# spine and chest live in their own modules, built on the drawing helpers above (imported last for that)
from monai_landmarks.data.phantoms import chest as _chest  # noqa: E402
from monai_landmarks.data.phantoms import spine as _spine  # noqa: E402

_MODULES = {"spine": _spine, "chest": _chest}
for _kind, _module in _MODULES.items():
    DEFAULT_SIZES[_kind] = _module.DEFAULT_SIZE
    _FIELD_MM[_kind] = _module.FIELD_MM
