"""Lateral cephalogram phantom: a head facing right (+x anterior, +y inferior), 19 ISBI 2015 landmarks.

Sella is the centre of the sella turcica's cup; nasion the junction of the frontal and nasal bones;
orbitale the lowest point of the orbit's rim; porion the top of the ear canal's ring; A and B points the
deepest points of the concave fronts of the maxilla (ANS to prosthion) and the mandible (infradentale to
pogonion); pogonion, gnathion and menton the front, front-bottom and bottom of the chin's arc; gonion the
midpoint of the rounded jaw angle (on its bisector); the incisal landmarks the incisor tips; the lip,
subnasale and soft-tissue pogonion landmarks the extreme points and the corner of the face profile; PNS and
ANS the tips of the palate; articulare the crossing of the ramus' posterior border with the lower edge of
the cranial base (clivus).

The canonical film is 192 x 240 mm, a cephalogram's field of view (ISBI 2015 films are 193.5 x 240 mm), so
the default 192 x 240 image has 1 mm pixels (:data:`SPACING_MM`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .film import Film
from .geometry import PoseSpread, angle_of, arc, box, direction, fillet, forward, rotate, unit
from .kind import PhantomKind

LANDMARK_NAMES = (
    "sella", "nasion", "orbitale", "porion", "subspinale", "supramentale", "pogonion", "menton", "gnathion",
    "gonion", "lower incisal incision", "upper incisal incision", "upper lip", "lower lip", "subnasale",
    "soft tissue pogonion", "posterior nasal spine", "anterior nasal spine", "articulare",
)  # fmt: skip
FIELD_MM = (192.0, 240.0)
SPACING_MM = 1.0  #: mm per pixel at the default size; at other sizes it scales with the image


@dataclass(frozen=True)
class _Means:
    """Mean positions (canonical mm) of the structures the head is built from, near the ISBI 2015 mean shape."""

    nasion: tuple = (139.8, 98.4)
    sella: tuple = (81.0, 104.0)
    orbitale: tuple = (128.0, 122.0)
    porion: tuple = (60.0, 121.0)
    pns: tuple = (97.5, 143.3)
    ans: tuple = (140.3, 145.0)
    uit: tuple = (144.0, 170.9)
    lit: tuple = (142.2, 169.9)
    chin: tuple = (128.7, 199.4)
    gonial_corner: tuple = (72.0, 175.0)
    occlusal_molar: tuple = (100.0, 165.5)


MEANS = _Means()


@dataclass(frozen=True)
class Cranium:
    """The vault, the cranial base points, and the facial proportions that place the face relative to nasion."""

    vault: np.ndarray  # centre of the vault's ellipse
    vault_radii: np.ndarray
    vault_thickness: float
    nasion: np.ndarray  # on the frontal bone's outer surface, where the nasal bone leaves it
    proportions: np.ndarray  # facial depth and height
    sella: np.ndarray
    orbitale: np.ndarray
    porion: np.ndarray
    pns: np.ndarray
    ans: np.ndarray
    sella_radius: float
    orbit_radii: np.ndarray
    meatus_radius: float
    nasal_angle: float
    airway: float  # width factor of the pharyngeal airway


@dataclass(frozen=True)
class Teeth:
    uit: np.ndarray  # upper incisor tip
    lit: np.ndarray  # lower incisor tip
    upper_incisor_dir: np.ndarray  # apex -> tip
    upper_incisor_length: float
    lower_incisor_dir: np.ndarray
    lower_incisor_length: float
    prosthion: np.ndarray  # alveolar crests on the labial side of the incisor necks
    infradentale: np.ndarray
    a: np.ndarray  # A point
    occlusal_incisor: np.ndarray
    occlusal_molar: np.ndarray
    bite_sides: tuple  # shifts of the left and right teeth, which project apart


@dataclass(frozen=True)
class Mandible:
    chin: np.ndarray  # centre of the chin's arc
    chin_radius: float
    pog: np.ndarray
    gn: np.ndarray
    me: np.ndarray
    b: np.ndarray  # B point
    gonial_corner: np.ndarray  # where the ramus and the mandibular plane would meet
    chin_tangent: float  # degrees: where the lower border touches the chin's arc
    mp_dir: np.ndarray  # along the mandibular plane, gonial corner -> chin
    ramus_dir: np.ndarray  # gonial corner -> condyle
    gonial_arc: np.ndarray  # the rounded angle; its middle point is gonion
    go: np.ndarray
    ar: np.ndarray  # articulare, on the ramus' posterior border
    ramus_length: float


@dataclass(frozen=True)
class Clivus:
    """The lower edge of the cranial base, a capsule aimed so that its edge passes through articulare."""

    start: np.ndarray
    radius: float
    dir: np.ndarray
    length: float
    valid: bool  # the aim worked: the crossing is where it belongs


@dataclass(frozen=True)
class SoftTissue:
    sn: np.ndarray  # subnasale
    ul: np.ndarray  # upper lip
    ll: np.ndarray  # lower lip
    soft_pog: np.ndarray
    pronasale: np.ndarray


@dataclass(frozen=True)
class Head:
    cranium: Cranium
    teeth: Teeth
    mandible: Mandible
    clivus: Clivus
    soft: SoftTissue

    @property
    def valid(self) -> bool:
        return self.clivus.valid

    def landmarks(self) -> np.ndarray:
        """The 19 landmarks in ISBI 2015 order (canonical mm)."""
        c, t, m, s = self.cranium, self.teeth, self.mandible, self.soft
        return np.stack([c.sella, c.nasion, c.orbitale, c.porion, t.a, m.b, m.pog, m.me, m.gn, m.go, t.lit, t.uit,
                         s.ul, s.ll, s.sn, s.soft_pog, c.pns, c.ans, m.ar])  # fmt: skip

    def draw(self, film: Film) -> None:
        _draw_skull(film, self.cranium, self.clivus)
        _draw_jaws(film, self)
        _draw_neck_and_face(film, self)


def _place(nasion, proportions, mean, sd: float, rng: np.random.Generator) -> np.ndarray:
    """A structure's mean position relative to nasion, scaled by the facial proportions, plus jitter."""
    offset = np.asarray(mean) - MEANS.nasion
    return nasion + proportions * offset + rng.normal(0, sd, 2)


def _cranium(rng: np.random.Generator) -> Cranium:
    n, u = rng.normal, rng.uniform
    vault, vault_radii = np.array([70.0, 80.0]) + n(0, 1.5, 2), np.array([69.0, 73.0]) * (1 + n(0, 0.03, 2))
    thickness = 6.0 * u(0.85, 1.2)
    nasion = vault + (vault_radii + thickness / 2) * direction(14 + n(0, 2))
    proportions = np.array([u(0.94, 1.06), u(0.92, 1.08)])
    m = MEANS
    sella, orbitale, porion, pns, ans = (
        _place(nasion, proportions, mean, sd, rng)
        for mean, sd in ((m.sella, 2.0), (m.orbitale, 1.5), (m.porion, 2.0), (m.pns, 1.5), (m.ans, 1.2))
    )
    return Cranium(
        vault, vault_radii, thickness, nasion, proportions, sella, orbitale, porion, pns, ans,
        sella_radius=5.0 * u(0.85, 1.2), orbit_radii=np.array([13.0, 15.0]) * u(0.9, 1.1),
        meatus_radius=4.2 * u(0.85, 1.15), nasal_angle=63 + n(0, 5), airway=u(0.7, 1.3),
    )  # fmt: skip


def _teeth(c: Cranium, rng: np.random.Generator) -> Teeth:
    n, u = rng.normal, rng.uniform
    uit = _place(c.nasion, c.proportions, MEANS.uit, 1.5, rng)
    lit = uit + np.array([-u(1.0, 4.0), -u(0.0, 3.0)])  # behind and above: overjet, overbite
    upper_dir, upper_length = direction(65 + n(0, 4)), 23.0 * u(0.92, 1.08)
    lower_dir, lower_length = direction(-56 + n(0, 4)), 21.0 * u(0.92, 1.08)
    prosthion = uit - 10.0 * upper_dir + 2.8 * forward(upper_dir)
    infradentale = lit - 9.5 * lower_dir + 2.2 * forward(lower_dir)
    # A point: the deepest vertex of the concave front of the maxilla between ANS and prosthion
    chord = unit(prosthion - c.ans)
    a = (c.ans + prosthion) / 2 + u(2.0, 4.0) * np.array([-chord[1], chord[0]])
    occlusal_molar = _place(c.nasion, c.proportions, MEANS.occlusal_molar, 1.5, rng)
    bite_sides = (np.zeros(2), n(0, 1.2, 2) + (-1.5, 0.0))
    return Teeth(uit, lit, upper_dir, upper_length, lower_dir, lower_length, prosthion, infradentale, a,
                 (uit + lit) / 2, occlusal_molar, bite_sides)  # fmt: skip


def _mandible(c: Cranium, t: Teeth, rng: np.random.Generator) -> Mandible:
    n, u = rng.normal, rng.uniform
    # chin: an arc whose front, front-bottom and bottom are pogonion, gnathion and menton
    chin = t.lit + c.proportions * np.subtract(MEANS.chin, MEANS.lit) + n(0, 1.5, 2)
    rc = 6.0 * u(0.85, 1.2)
    pog, gn, me = chin + (rc, 0.0), chin + rc * direction(45), chin + (0.0, rc)
    # B point: the deepest vertex of the concavity between infradentale and pogonion
    b = pog + 0.45 * (t.infradentale - pog) - (u(2.0, 4.5), 0.0)
    b = np.array([min(b[0], pog[0] - 0.5), b[1]])
    # the lower border runs from the gonial corner tangent to the chin; the ramus rises at the gonial angle
    k = _place(c.nasion, c.proportions, MEANS.gonial_corner, 2.0, rng)
    to_k = k - chin
    chin_tangent = (angle_of(to_k) - np.rad2deg(np.arccos(rc / np.linalg.norm(to_k)))) % 360
    mp_dir = unit(chin + rc * direction(chin_tangent) - k)
    ramus_dir = rotate(mp_dir, -(125 + n(0, 5)))
    # gonion: the midpoint of the rounded angle, on the bisector of the ramus and the mandibular plane
    gonial_arc = fillet(k, ramus_dir, mp_dir, 7.0 * u(0.8, 1.2), 9)
    # articulare: on the ramus' posterior border, where the clivus' edge will cross it (see _clivus)
    ar = k + (41.0 * c.proportions[1] + n(0, 2.0)) * ramus_dir
    ramus_length = float(np.dot(ar - k, ramus_dir)) + u(2.5, 4.5)
    return Mandible(chin, rc, pog, gn, me, b, k, chin_tangent, mp_dir, ramus_dir, gonial_arc, gonial_arc[4], ar,
                    ramus_length)  # fmt: skip


def _clivus(c: Cranium, m: Mandible, rng: np.random.Generator) -> Clivus:
    """From behind the sella down towards basion, aimed so that its lower edge passes through articulare: the
    edges cross at a shallow angle, and aiming keeps the crossing where it belongs."""
    start = c.sella + (-(c.sella_radius + 2.0), 0.6 * c.sella_radius)
    radius = 5.0 * rng.uniform(0.9, 1.1)
    to_ar = m.ar - start
    reach = float(np.linalg.norm(to_ar))
    aim = angle_of(to_ar) + np.rad2deg(np.arcsin(min(radius / reach, 1.0)))
    length = max(46.0 * c.proportions[1], reach + 10.0)
    return Clivus(start, radius, direction(aim), length, bool(reach > 2 * radius and 100 < aim < 145))


def _soft_tissue(c: Cranium, t: Teeth, m: Mandible, rng: np.random.Generator) -> SoftTissue:
    n = rng.normal
    sn = c.ans + (10.0, 5.0) + n(0, 1.0, 2)
    ul = t.uit + (11.6, -9.6) + n(0, 1.2, 2)
    ll = t.lit + (10.9, 12.0) + n(0, 1.2, 2)
    soft_pog = m.pog + (9.7, 2.7) + n(0, 1.2, 2)
    return SoftTissue(sn, ul, ll, soft_pog, pronasale=sn + (13.0, -13.0) + n(0, 1.5, 2))


def head_anatomy(rng: np.random.Generator) -> Head:
    """Random proportions -> the head's structures (canonical mm), with the landmarks constructed on them."""
    cranium = _cranium(rng)
    teeth = _teeth(cranium, rng)
    mandible = _mandible(cranium, teeth, rng)
    clivus = _clivus(cranium, mandible, rng)
    return Head(cranium, teeth, mandible, clivus, _soft_tissue(cranium, teeth, mandible, rng))


def _draw_skull(film: Film, c: Cranium, clivus: Clivus) -> None:
    n, s, rs = c.nasion, c.sella, c.sella_radius
    slope = (n[1] - s[1]) / (n[0] - s[0])

    def above_base(x, y):  # 1 above the cranial base (the S-N line, bending down behind the sella), 0 below
        base = np.where(x >= s[0], s[1] + (x - s[0]) * slope, s[1] + (s[0] - x))
        return np.clip(1.0 - (y - base) / 12.0, 0.0, 1.0)

    film.shell(c.vault, c.vault_radii, c.vault_thickness, 0.9, 1.8, 0.45, fill=0.12, weight=above_base)
    nasal = direction(c.nasal_angle)
    film.capsule(n + 0.8 * nasal, n + 22 * nasal, ((0, 2.0), (1, 0.7)), 0.7, 0.8, 0.6)  # nasal bone
    film.polyline(arc(s, rs, -20, 200, 15), 0.9, density=0.9, cortex=0.6, marrow=1.0)  # the sella cup
    film.capsule(s + rs * direction(200), s + (-rs - 0.5, -rs - 4.0), ((0, 1.0), (1, 0.8)), 0.9, 0.6, 1.0)  # dorsum
    film.capsule(s + (rs + 2.5, -rs), s + (0.3 * rs, -rs - 0.3), ((0, 1.2), (1, 0.6)), 0.8, 0.6, 1.0)  # clinoid
    film.capsule(s + (rs + 2.5, -rs), n + (-12.0, 5.0), ((0, 1.0), (1, 0.8)), 0.6, 0.6, 1.0)  # cranial base
    film.ellipse(s + (2.0, rs + 7.5), (11.0, 6.5), density=0.4, cortex=1.2, marrow=0.5)  # sphenoid body
    start, r = clivus.start, clivus.radius
    film.capsule(start, start + clivus.length * clivus.dir, ((0, r), (1, r)), 0.4, 1.5, 0.5)
    orbit = c.orbitale - (0.0, c.orbit_radii[1])
    film.shell(orbit, c.orbit_radii, 1.6, density=0.3, cortex=0.8, marrow=1.0, fill=0.06)
    po, re = c.porion, c.meatus_radius
    film.ellipse(po + (-6.0, 11.0), (12.0, 9.0), density=0.35, cortex=1.2, marrow=0.7)  # mastoid
    film.ellipse(po + (0.0, re), (re, re), density=-0.3, cortex=0.0, marrow=1.0)  # ear canal: air
    film.shell(po + (0.0, re), (re, re), 1.4, density=0.65, cortex=0.7, marrow=1.0)


def _draw_teeth(film: Film, t: Teeth, back, down) -> None:
    # incisors: tapered capsules whose extreme tips are the incisal landmarks, enamel on the crowns
    for tip, d, length, w in (
        (t.uit, t.upper_incisor_dir, t.upper_incisor_length, 1.0),
        (t.lit, t.lower_incisor_dir, t.lower_incisor_length, 0.85),
    ):
        end = tip - 0.6 * d
        tooth = ((0, 0.8), (0.55, 3.3 * w), (0.62, 3.5 * w), (1, 0.6))
        film.capsule(end - length * d, end, tooth, 1.0, 0.8, 0.65)
        film.capsule(end - 0.42 * length * d, end, ((0, 3.4 * w), (0.15, 3.5 * w), (1, 0.6)), 0.5, 0.6, 1.0)
    # premolars and molars of both sides (slightly apart, as the two sides project) with their roots
    angle = angle_of(back)
    for shift in t.bite_sides:
        for distance, half, roots in ((14.0, 3.4, 1), (21.0, 3.4, 1), (29.5, 5.0, 2), (39.5, 4.8, 2)):
            for jaw in (-1, 1):  # upper, lower
                crown = t.occlusal_incisor + shift + distance * back + jaw * 3.7 * down
                film.ellipse(crown, (half, 3.5), angle, density=0.75, cortex=0.9, marrow=0.8)
                for i in range(roots):
                    root = crown + (i - (roots - 1) / 2) * 4.0 * back + jaw * 2.0 * down
                    film.capsule(root, root + jaw * 12.0 * down, ((0, 1.8), (1, 0.7)), 0.4, 0.6, 0.8)


def _draw_jaws(film: Film, head: Head) -> None:
    c, t, m = head.cranium, head.teeth, head.mandible
    back = unit(t.occlusal_molar - t.occlusal_incisor)  # along the occlusal plane, backwards
    down = rotate(back, -90.0)
    molar = t.occlusal_molar
    # maxilla: the alveolar process under the palate with a cortical front (ANS - A point - prosthion),
    # the palate, and the zygomatic buttress above the molars
    maxilla = [c.ans, t.a, t.prosthion, molar - 5.0 * down, molar + 9.0 * back - 7.0 * down, c.pns,
               (c.pns + c.ans) / 2 + (0.0, -1.0)]  # fmt: skip
    film.polygon(np.array(maxilla), density=0.3, cortex=0.8, marrow=0.6)
    film.polyline(np.array([c.ans, t.a, t.prosthion]), 0.9, density=0.5, cortex=0.9, marrow=1.0)
    film.polyline(arc(molar + (2.0, -26.0), (8.0, 10.0), 10, 170, 20), 1.0, density=0.3, cortex=1.0, marrow=1.0)
    palate = unit(c.ans - c.pns)  # a spindle whose tips are PNS and ANS
    spindle = ((0, 0.4), (0.15, 2.0), (0.6, 2.6), (0.92, 1.1), (1, 0.4))
    film.capsule(c.pns + 0.4 * palate, c.ans - 0.4 * palate, spindle, 0.8, 1.0, 0.7)
    # mandible: one outline from the condyle down the ramus, round the angle and the chin, back along the
    # alveolar crest and up the ramus' front to the coronoid process
    k, up, top = m.gonial_corner, m.ramus_dir, m.ramus_length
    fwd = forward(up)

    def ramus(a, b):  # a mm up the posterior border, b mm forward of it
        return k + a * up + b * fwd

    condyle = [ramus(top + a, b) for a, b in ((0, 0), (2.5, -0.6), (4.8, 1.0), (5.6, 3.8), (4.8, 6.5), (2.5, 8.0))]
    notch_and_coronoid = [ramus(top + a, b) for a, b in ((-3, 7.5), (-10, 13), (-8, 20), (-3.5, 26), (-2.5, 28.5),
                                                        (-5, 30), (-14, 28))]  # fmt: skip
    crest = [ramus(0.45 * top, 29.0), molar + 6.0 * back + 2.0 * down, molar + 5.0 * down, t.infradentale]
    chin = arc(m.chin, m.chin_radius, -35.0, m.chin_tangent, 15.0)
    outline = [*condyle, *notch_and_coronoid, *crest, m.b, *chin, *m.gonial_arc[::-1]]
    film.polygon(np.array(outline), density=0.5, cortex=1.8, marrow=0.4)
    _draw_teeth(film, t, back, down)


def _draw_neck_and_face(film: Film, head: Head) -> None:
    c, m, soft = head.cranium, head.mandible, head.soft
    # cervical vertebrae (C2 with its dens) and the hyoid, behind and below the jaw
    k = m.gonial_corner
    shift = (k - MEANS.gonial_corner) * 0.5
    for i, centre in enumerate(((38.0, 166.0), (35.0, 189.0), (32.0, 212.0), (29.0, 235.0))):
        v = np.asarray(centre) + shift
        film.polygon(box(v, 7.5, 6.0 if i else 8.0, -8.0, 2.5), density=0.55, cortex=1.4, marrow=0.5)
        if i == 0:
            film.capsule(v + (1.0, -6.0), v + (3.0, -20.0), ((0, 4.0), (0.8, 3.2), (1, 2.5)), 0.5, 1.2, 0.5)
    film.ellipse(m.me + (-30.0, 14.0), (5.0, 2.5), -10.0, density=0.45, cortex=0.8, marrow=0.6)
    # pharyngeal airway: a darker band from behind the palate down between the jaw and the spine
    airway = [c.pns + (-12.0, -6.0), c.pns + (-22.0, 4.0), k + (-13.0, -12.0), k + (-14.0, 20.0), k + (-12, 70)]
    film.polyline(np.array(airway), 4.0 * c.airway, density=-0.12, cortex=0.0, marrow=1.0)
    # soft tissue: the scalp round the vault, then the face profile through the soft-tissue landmarks, whose
    # neighbours lie behind them (lips, chin: most anterior points) or in front (subnasale: a corner)
    film.ellipse(c.vault, c.vault_radii + c.vault_thickness / 2 + 6.0, soft=True)
    n, sn, ul, ll, sp, prn, me = c.nasion, soft.sn, soft.ul, soft.ll, soft.soft_pog, soft.pronasale, m.me
    stomion, soft_b = (ul + ll) / 2 + (-6.0, 0.0), m.b + (9.0, 1.0)
    profile = [
        n + (-5.0, -40.0), n + (6.5, 1.0), n + (14.0, 18.0), prn + (-1.5, -4.0), prn, prn + (-3.0, 4.0), sn,
        ul + (-1.5, -4.5), ul, ul + (-2.0, 4.0), stomion, ll + (-2.0, -4.0), ll, ll + (-2.5, 4.5), soft_b,
        sp + (-1.0, -5.0), sp, sp + (-3.0, 6.0), me + (2.0, 9.0), me + (-22.0, 13.0), me + (-32.0, 18.0),
        me + (-30.0, 80.0), (-40.0, 330.0), (-40.0, 40.0),
    ]  # fmt: skip
    film.polygon(np.array(profile), soft=True)


KIND = PhantomKind(
    "head", LANDMARK_NAMES, FIELD_MM, default_size=(192, 240), anatomy=head_anatomy,
    pose=PoseSpread(scale=(0.93, 1.05), rotation=5.0, shift_mm=3.0), soft_tissue=0.3, calibrated=True,
)  # fmt: skip
