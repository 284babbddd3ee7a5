"""Hand radiograph phantom: a left hand, dorsal view, fingers up, thumb on the right, 37 landmarks.

The layout is that of the 37-point Digital Hand Atlas annotation (Payer et al. 2016): 0 ulnar styloid tip,
1 triquetrum, 2 and 3 the two sides of the distal radio-ulnar joint, 4 radial styloid tip, 5 scaphoid distal
pole, 6-12 carpal bone centres, 13-17 the carpometacarpal joints (little to thumb), then per finger (thumb,
index, middle, ring, little) the joint gaps (MCP, PIP, DIP; thumb MCP, IP) and the tip of the distal phalanx.

There is no calibrated spacing; like the Digital Hand Atlas, errors are measured by a 50 mm wrist width
between landmarks 0 and 4 (:data:`WRIST_PAIR`, :data:`WRIST_WIDTH_MM`). The canonical film is 200 x 250 mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from .film import Film
from .geometry import PoseSpread, angle_of, direction, rotate, unit
from .kind import Parts, PhantomKind

T = TypeVar("T")

LANDMARK_NAMES = (
    "ulnar styloid tip", "triquetrum", "ulnar head radial edge", "radius ulnar corner", "radial styloid tip",
    "scaphoid distal pole", "pisiform", "lunate", "scaphoid waist", "hamate", "capitate", "trapezoid",
    "trapezium", "little cmc", "ring cmc", "middle cmc", "index cmc", "thumb cmc",
    "thumb mcp", "thumb ip", "thumb tip",
    "index mcp", "index pip", "index dip", "index tip",
    "middle mcp", "middle pip", "middle dip", "middle tip",
    "ring mcp", "ring pip", "ring dip", "ring tip",
    "little mcp", "little pip", "little dip", "little tip",
)  # fmt: skip
FIELD_MM = (200.0, 250.0)
WRIST_PAIR = (0, 4)  #: the wrist-width landmarks: ulnar and radial styloid tips
WRIST_WIDTH_MM = 50.0


@dataclass(frozen=True)
class Fingers(Parts, Generic[T]):
    """One value per ray, thumb to little finger (the landmark order)."""

    thumb: T
    index: T
    middle: T
    ring: T
    little: T


@dataclass(frozen=True)
class Wrist(Parts):
    """The corners of the radius and ulna that are landmarks (canonical mm)."""

    ulnar_styloid: np.ndarray
    ulnar_head: np.ndarray
    radius_corner: np.ndarray
    radial_styloid: np.ndarray


@dataclass(frozen=True)
class Carpal:
    """An elliptic carpal bone: centre and radii in mm, angle in degrees."""

    centre: np.ndarray
    radii: np.ndarray
    angle: float


@dataclass(frozen=True)
class ProximalRow(Parts, Generic[T]):
    triquetrum: T
    pisiform: T
    lunate: T
    scaphoid: T


@dataclass(frozen=True)
class DistalRow(Parts, Generic[T]):
    hamate: T
    capitate: T
    trapezoid: T
    trapezium: T


@dataclass(frozen=True)
class Hand:
    chains: Fingers[np.ndarray]  # each ray's joints: the carpometacarpal joint, the finger's joints, its tip
    wrist: Wrist
    proximal: ProximalRow[Carpal]
    distal: DistalRow[Carpal]
    width: float  # of the bones, relative

    valid = True

    def landmarks(self) -> np.ndarray:
        """The 37 landmarks in Digital Hand Atlas order (canonical mm)."""
        w, p, d, chains = self.wrist, self.proximal, self.distal, self.chains
        scaphoid = p.scaphoid
        wrist_points = [
            w.ulnar_styloid, p.triquetrum.centre, w.ulnar_head, w.radius_corner, w.radial_styloid,
            scaphoid.centre + scaphoid.radii[0] * direction(scaphoid.angle), p.pisiform.centre, p.lunate.centre,
            scaphoid.centre, d.hamate.centre, d.capitate.centre, d.trapezoid.centre, d.trapezium.centre,
        ]  # fmt: skip
        carpometacarpal = [c[0] for c in (chains.little, chains.ring, chains.middle, chains.index, chains.thumb)]
        fingers = [point for joints in chains for point in joints[1:]]
        return np.stack(wrist_points + carpometacarpal + fingers)

    def draw(self, film: Film) -> None:
        _draw_soft_tissue(film, self)
        _draw_bones(film, self)


@dataclass(frozen=True)
class _Ray:
    """The mean shape of one ray: its chain (canonical mm: the carpometacarpal joint, the finger's joints,
    then its tip), its turn in degrees per unit of the hand's spread, and its relative width."""

    chain: tuple
    spread: float
    width: float


_RAYS = Fingers(
    thumb=_Ray(((117.7, 190.8), (144.0, 150.3), (157.1, 121.0), (168.5, 100.0)), 10.0, 1.2),
    index=_Ray(((103.8, 185.5), (114.0, 112.8), (120.8, 70.5), (124.8, 45.5), (126.2, 26.5)), 4.0, 1.0),
    middle=_Ray(((89.8, 184.5), (89.3, 111.5), (90.8, 63.3), (90.3, 32.0), (88.5, 11.3)), 0.0, 1.05),
    ring=_Ray(((77.6, 184.8), (68.3, 120.5), (63.9, 75.8), (60.9, 46.5), (59.6, 25.5)), -3.5, 0.95),
    little=_Ray(((69.8, 187.8), (49.3, 132.0), (38.3, 99.8), (32.4, 81.0), (29.2, 62.8)), -7.0, 0.85),
)
_WRIST = Wrist(ulnar_styloid=(59.5, 230.0), ulnar_head=(75.0, 233.0), radius_corner=(79.0, 232.5),
               radial_styloid=(108.0, 226.5))  # fmt: skip
# The proximal carpal row sits on the radius and ulna; the distal row sits under the carpometacarpal joints
# of the rays it carries (given as radii, the rest is constructed), so those joints' landmarks lie between
# carpal and metacarpal.
_PROXIMAL = ProximalRow(
    triquetrum=Carpal((64.0, 217.5), (7.0, 6.0), -20.0), pisiform=Carpal((69.0, 212.5), (4.5, 4.2), 0.0),
    lunate=Carpal((81.0, 220.0), (7.5, 6.5), 0.0), scaphoid=Carpal((96.0, 218.0), (12.0, 6.0), -14.0),
)  # fmt: skip
_DISTAL_RADII = DistalRow(hamate=(7.0, 10.5), capitate=(6.0, 11.5), trapezoid=(5.0, 7.0), trapezium=(6.5, 8.0))


def _chain(ray: _Ray, thumb: bool, lengths, spread: float, rng: np.random.Generator) -> np.ndarray:
    """One ray's joints: its mean turned about its carpometacarpal joint, spread, and bent slightly at the joints;
    ``lengths`` scale the palm and the finger."""
    n = rng.normal
    palm_len, finger_len = lengths
    mean = np.asarray(ray.chain)
    joints = [mean[0] + n(0, 1.2, 2)]
    turn = n(0, 4.0 if thumb else 1.5)  # the whole ray about its carpometacarpal joint
    abduct_at = 0 if thumb else 1  # the thumb spreads at its base, the fingers at the MCP joint
    for i, step in enumerate(mean[1:] - mean[:-1]):
        if i == abduct_at:
            turn += spread * ray.spread + n(0, 2.5)
        elif i > abduct_at:
            turn += n(0, 2.0)
        joints.append(joints[-1] + rotate(step, turn) * (palm_len if i == 0 else finger_len) * n(1, 0.03))
    return np.stack(joints)


def _chains(rng: np.random.Generator) -> Fingers[np.ndarray]:
    """Each ray's joints: random palm and finger lengths, spread, and slight bends at the joints."""
    u = rng.uniform
    finger_len, palm_len, spread = u(0.93, 1.07), u(0.93, 1.07), u(-0.7, 1.0)
    lengths = (palm_len, finger_len)
    return Fingers(*(_chain(ray, ray is _RAYS.thumb, lengths, spread, rng) for ray in _RAYS))


def _distal_carpal(rays, radii, size: float, rng: np.random.Generator) -> Carpal:
    """A distal carpal bone under the carpometacarpal joints of ``rays``, across the first ray's axis."""
    radii = np.asarray(radii) * size
    joint = np.mean([r[0] for r in rays], axis=0)
    ray = unit(rays[0][1] - rays[0][0])
    return Carpal(joint - (radii[1] + 0.9) * ray, radii, angle_of(ray) + 90 + rng.normal(0, 4))


def hand_anatomy(rng: np.random.Generator) -> Hand:
    """Random proportions -> the hand's bones (canonical mm), with the landmarks constructed on them."""
    n, u = rng.normal, rng.uniform
    chains, width = _chains(rng), u(0.9, 1.1)
    shift = n(0, 1.5, 2)  # the wrist relative to the palm
    wrist = Wrist(*(np.asarray(mean) + shift + n(0, 1.0, 2) for mean in _WRIST))
    wrist.ulnar_head[0] = min(wrist.ulnar_head[0], wrist.radius_corner[0] - 2.5)  # keep the joint open
    size = u(0.92, 1.08)
    proximal = ProximalRow(*(Carpal(np.asarray(c.centre) + shift + n(0, 1.0, 2), np.asarray(c.radii) * size,
                                    c.angle + n(0, 5)) for c in _PROXIMAL))  # fmt: skip
    rays = DistalRow(hamate=(chains.little, chains.ring), capitate=(chains.middle,), trapezoid=(chains.index,),
                     trapezium=(chains.thumb,))  # fmt: skip
    distal = DistalRow(*(_distal_carpal(r, radii, size, rng) for r, radii in zip(rays, _DISTAL_RADII, strict=True)))
    return Hand(chains, wrist, proximal, distal, width)


def _draw_soft_tissue(film: Film, hand: Hand) -> None:
    chains, wrist = hand.chains, hand.wrist
    little, ring, middle, index, thumb = chains.little, chains.ring, chains.middle, chains.index, chains.thumb
    rs, us = wrist.radial_styloid, wrist.ulnar_styloid
    palm = [
        little[1] + (-8.0, 6.0), ring[1] + (-2.0, -9.0), middle[1] + (0.0, -10.0), index[1] + (4.0, -9.0),
        index[1] + (10.0, 4.0), (thumb[1] + index[1]) / 2 + (-2.0, 12.0), thumb[0] + (14.0, 6.0), rs + (10.0, -6.0),
        rs + (12.0, 60.0), us + (-14.0, 60.0), us + (-11.0, -6.0), little[0] + (-22.0, -18.0),
    ]  # fmt: skip
    film.polygon(np.array(palm), soft=True)
    for joints, ray in zip(chains, _RAYS, strict=True):
        r = 8.0 * ray.width * hand.width  # a sleeve round each finger, 3.5 mm beyond the bone's tip
        tip = joints[-1] - (r - 3.5) * unit(joints[-1] - joints[-2])
        sleeve = [joints[0] + (4.0, -6.0)] if joints is thumb else []
        sleeve = np.vstack([*sleeve, joints[1:-1], tip])
        for a, b in zip(sleeve[:-1], sleeve[1:], strict=True):
            film.capsule(a, b, ((0, r), (1, r)), soft=True)


def _draw_bones(film: Film, hand: Hand) -> None:
    # radius and ulna: polygons whose corners are the wrist landmarks
    rs, rc = hand.wrist.radial_styloid, hand.wrist.radius_corner
    us, uh = hand.wrist.ulnar_styloid, hand.wrist.ulnar_head
    radius = [rc, (rc + rs) / 2 + (0.0, 2.0), rs, rs + (3.5, 12.0), rs + (3.0, 70.0), rc + (-1.0, 70.0), rc + (-1, 10)]
    film.polygon(np.array(radius), density=0.75, cortex=1.6, marrow=0.45)
    ulna = [uh, uh + (-6.0, -2.5), us + (5.0, 2.0), us, us + (-2.0, 7.0), us + (2.5, 70.0), uh + (-1.5, 70.0),
            uh + (1, 6)]  # fmt: skip
    film.polygon(np.array(ulna), density=0.7, cortex=1.5, marrow=0.45)
    for carpal in (*hand.proximal, *hand.distal):
        film.ellipse(carpal.centre, carpal.radii, carpal.angle, density=0.6, cortex=1.1, marrow=0.5)
    # metacarpals and phalanges: tubes with flared ends; the joint landmarks sit in the gaps between them
    for joints, ray in zip(hand.chains, _RAYS, strict=True):
        w = ray.width * hand.width
        gap = 1.8 * w
        for i, (p, q) in enumerate(zip(joints[:-1], joints[1:], strict=True)):
            d = unit(q - p)
            if i == len(joints) - 2:  # distal phalanx: its tuft's extreme point is the tip landmark
                base, shaft, head = 3.6 * w, 2.0 * w, 2.4 * w
                a, b = p + (gap / 2 + base) * d, q - head * d
            else:
                base, shaft, head = (4.6 * w, 3.0 * w, 4.8 * w) if i == 0 else (4.4 * w, 2.9 * w, 4.0 * w)
                a, b = p + (gap / 2 + base) * d, q - (gap / 2 + head) * d
            profile = ((0, base), (0.25, shaft), (0.75, shaft), (1, head))
            film.capsule(a, b, profile, density=0.85, cortex=1.1, marrow=0.45)


KIND = PhantomKind(
    "hand", LANDMARK_NAMES, FIELD_MM, default_size=(160, 200), anatomy=hand_anatomy,
    pose=PoseSpread(scale=(0.86, 0.97), rotation=8.0, shift_mm=4.0),
    metadata={"wrist_normalisation": {"pair": list(WRIST_PAIR), "width_mm": WRIST_WIDTH_MM},
              "wrist_pair": list(WRIST_PAIR), "wrist_width_mm": WRIST_WIDTH_MM},
)  # fmt: skip
