"""The eight cephalometric measurements of the ISBI 2015 challenge's task 2, and their classes.

Wang et al., "A benchmark for comparison of dental radiography analysis algorithms", Medical Image Analysis 31
(2016): task 2 classifies each cephalogram by eight measurements from the 19 challenge landmarks (the order of
``isbi2015_ceph/dataset.json``: 0 sella S, 1 nasion N, 2 orbitale Or, 3 porion Po, 4 subspinale A, 5 supramentale B,
6 pogonion Pog, 7 menton Me, 8 gnathion Gn, 9 gonion Go, 10 lower incisal incision L1, 11 upper incisal incision U1,
16 posterior nasal spine PNS, 17 anterior nasal spine ANS). The formulas, sign rules and thresholds follow the
challenge's classification program as published in the public port ``LucasL-3/Cephalometric-AI``
(``yolo-webapp/analysis.py``), whose thresholds are those of the paper's table (class 1 = normal, boundaries
inclusive):

========  ==============================================================  ===========  ====================
name      definition                                                      class 1      class 2 / 3 / 4
========  ==============================================================  ===========  ====================
ANB       SNA - SNB (signed)                                              3.2-5.7 deg  >5.7 / <3.2
SNB       angle S-N-B                                                     74.6-78.7    <74.6 / >78.7
SNA       angle S-N-A                                                     79.4-83.2    >83.2 / <79.4
ODI       angle(Me->Go, B->A) + signed angle(Po->Or, PNS->ANS)            68.4-80.5    >80.5 / <68.4
APDI      angle(Or->Po, N->Pog) + signed angle(N->Pog, A->B)              77.6-85.2    <77.6 / >85.2
          + signed angle(Po->Or, PNS->ANS)
FHI       |S-Go| / |N-Me| (posterior / anterior face height)              0.65-0.75    >0.75 / <0.65
FMA       angle(S->N, Go->Gn)                                             26.8-31.4    >31.4 / <26.8
MW        |U1-L1| in mm, negative when U1 lies behind L1                  2-4.5 mm     =0 / other <2 / >4.5
========  ==============================================================  ===========  ====================

Signed angles: the palatal plane term is positive when PNS->ANS tilts down (anteriorly) from Frankfort horizontal;
the AB term is negative when B lies behind A. Where sources disagree we follow the challenge's program:

- "FMA" is, in the challenge, the angle between S-N and Go-Gn (clinically FMA is Frankfort to Go-Me); its
  thresholds were set for the challenge's definition.
- MW: the paper's table names 2-4.5 mm normal, 0 mm edge to edge, < 0 anterior cross bite, > 4.5 large overjet and
  leaves 0-2 mm open; the program puts 0-2 mm into class 3 with the cross bites. We do the same.

Ours, documented: the program works on integer pixels of right-facing images (signs from image x); here points are
float pixels converted to mm with the spacing (so anisotropic pixels give true angles), a face looking left is
mirrored first (facing from S->N->Me: the cross product of S->N and N->Me is positive on a right-facing, y-down
image), and the MW sign is taken along Frankfort horizontal (Po->Or) instead of image x (the same on upright images,
and rotation invariant). Every value is then invariant to translation, rotation, uniform scale (MW scales with the
spacing) and mirroring. Without a spacing, angles and FHI are computed in pixels (square pixels assumed) and MW is
None with the reason.
"""

from __future__ import annotations

import numpy as np

from .records import Measurement, as_points, as_spacing, missing_reason, to_mm

__all__ = [
    "CLASS_LABELS",
    "ISBI_LANDMARKS",
    "LINES",
    "MEASUREMENTS",
    "THRESHOLDS",
    "cephalometric_measurements",
    "classify",
]

ISBI_LANDMARKS = (
    "sella", "nasion", "orbitale", "porion", "subspinale", "supramentale", "pogonion", "menton", "gnathion",
    "gonion", "lower incisal incision", "upper incisal incision", "upper lip", "lower lip", "subnasale",
    "soft tissue pogonion", "posterior nasal spine", "anterior nasal spine", "articulare",
)  # fmt: skip
S, N, OR, PO, A, B, POG, ME, GN, GO, L1, U1 = range(12)
PNS, ANS = 16, 17
FACING = (S, N, ME)

MEASUREMENTS = ("ANB", "SNB", "SNA", "ODI", "APDI", "FHI", "FMA", "MW")
UNITS = {"FHI": "ratio", "MW": "mm"}

#: (low, high, class below low, class above high); inside [low, high] is class 1
THRESHOLDS = {
    "ANB": (3.2, 5.7, 3, 2),
    "SNB": (74.6, 78.7, 2, 3),
    "SNA": (79.4, 83.2, 3, 2),
    "ODI": (68.4, 80.5, 3, 2),
    "APDI": (77.6, 85.2, 2, 3),
    "FHI": (0.65, 0.75, 3, 2),
    "FMA": (26.8, 31.4, 3, 2),
}
CLASS_LABELS = {
    "ANB": {1: "skeletal class I", 2: "skeletal class II", 3: "skeletal class III"},
    "SNB": {1: "normal mandible", 2: "retrognathic mandible", 3: "prognathic mandible"},
    "SNA": {1: "normal maxilla", 2: "prognathic maxilla", 3: "retrognathic maxilla"},
    "ODI": {1: "normal overbite", 2: "deep bite tendency", 3: "open bite tendency"},
    "APDI": {1: "normal", 2: "class II tendency", 3: "class III tendency"},
    "FHI": {1: "normal face height", 2: "short face", 3: "long face"},
    "FMA": {1: "normal mandibular plane angle", 2: "high angle", 3: "low angle"},
    "MW": {1: "normal overjet", 2: "edge to edge", 3: "anterior cross bite", 4: "large overjet"},
}

#: the landmark pairs (lines) each measurement is read from, as an overlay draws them
LINES = {
    "ANB": ((S, N), (N, A), (N, B)),
    "SNB": ((S, N), (N, B)),
    "SNA": ((S, N), (N, A)),
    "ODI": ((ME, GO), (B, A), (PO, OR), (PNS, ANS)),
    "APDI": ((OR, PO), (N, POG), (A, B), (PNS, ANS)),
    "FHI": ((S, GO), (N, ME)),
    "FMA": ((S, N), (GO, GN)),
    "MW": ((L1, U1),),
}


class _Undefined(Exception):
    """A measurement that cannot be computed; the message is the reason."""


def classify(name: str, value: float | None) -> tuple[int | None, str | None]:
    """``(class number, label)`` of a value by the challenge's thresholds; ``(None, None)`` for no value.

    Raises:
        ValueError: an unknown measurement name (the message lists the known ones).
    """
    if name not in CLASS_LABELS:
        raise ValueError(f"unknown cephalometric measurement {name!r}; known: {', '.join(MEASUREMENTS)}.")
    if value is None:
        return None, None
    if name == "MW":
        cls = 4 if value > 4.5 else 1 if value >= 2 else 2 if value == 0 else 3
    else:
        low, high, below, above = THRESHOLDS[name]
        cls = below if value < low else above if value > high else 1
    return cls, CLASS_LABELS[name][cls]


def _angle(u: np.ndarray, v: np.ndarray, what: str) -> float:
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        raise _Undefined(f"{what}: coincident points, the angle is undefined")
    return float(np.degrees(np.arccos(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))))


def _cross(u: np.ndarray, v: np.ndarray) -> float:
    return float(u[0] * v[1] - u[1] * v[0])


def _facing(p: np.ndarray) -> float:
    """+1 for a right-facing (y-down) face, -1 for a mirrored one, from S->N->Me."""
    c = _cross(p[N] - p[S], p[ME] - p[N])
    if c == 0:
        raise _Undefined("facing direction undefined: sella, nasion and menton are collinear")
    return 1.0 if c > 0 else -1.0


def _palatal_term(p: np.ndarray, face: float) -> float:
    """Angle of the palatal plane to Frankfort horizontal, negative when PNS->ANS tilts up anteriorly."""
    fh, pp = p[OR] - p[PO], p[ANS] - p[PNS]
    angle = _angle(fh, pp, "Frankfort and palatal planes")
    return -angle if face * _cross(fh, pp) < 0 else angle


def _sna(p, spacing):
    return _angle(p[S] - p[N], p[A] - p[N], "S-N-A")


def _snb(p, spacing):
    return _angle(p[S] - p[N], p[B] - p[N], "S-N-B")


def _anb(p, spacing):
    return _sna(p, spacing) - _snb(p, spacing)


def _odi(p, spacing):
    return _angle(p[GO] - p[ME], p[A] - p[B], "A-B and mandibular planes") + _palatal_term(p, _facing(p))


def _apdi(p, spacing):
    face = _facing(p)
    facial = p[POG] - p[N]
    ab_term = _angle(facial, p[B] - p[A], "facial and A-B planes")
    if face * _cross(facial, p[B] - p[A]) > 0:
        ab_term = -ab_term
    return _angle(p[PO] - p[OR], facial, "Frankfort and facial planes") + ab_term + _palatal_term(p, face)


def _fhi(p, spacing):
    anterior = np.linalg.norm(p[ME] - p[N])
    if anterior == 0:
        raise _Undefined("nasion and menton coincide: anterior face height is 0")
    return float(np.linalg.norm(p[GO] - p[S]) / anterior)


def _fma(p, spacing):
    return _angle(p[N] - p[S], p[GN] - p[GO], "S-N and Go-Gn")


def _mw(p, spacing):
    if spacing is None:
        raise _Undefined("needs the pixel spacing (mm per pixel), which is unknown for this image")
    overjet = p[U1] - p[L1]
    distance = float(np.linalg.norm(overjet))
    return -distance if np.dot(overjet, p[OR] - p[PO]) < 0 else distance


_FORMULAS = {
    "ANB": (_anb, (S, N, A, B)),
    "SNB": (_snb, (S, N, B)),
    "SNA": (_sna, (S, N, A)),
    "ODI": (_odi, (ME, GO, B, A, PO, OR, PNS, ANS) + FACING),
    "APDI": (_apdi, (OR, PO, N, POG, A, B, PNS, ANS) + FACING[::2]),
    "FHI": (_fhi, (S, GO, N, ME)),
    "FMA": (_fma, (S, N, GO, GN)),
    "MW": (_mw, (L1, U1, PO, OR)),
}


def cephalometric_measurements(landmarks, spacing=None) -> dict[str, Measurement]:
    """The eight ISBI 2015 measurements of one cephalogram, in the challenge's order.

    Args:
        landmarks: ``(19, 2)`` (or ``(1, 19, 2)``) x, y in pixels of the original image, NaN for a missing one.
        spacing: mm per pixel (one number or ``(x, y)``), or None / NaN when unknown (MW is then None).

    Returns:
        ``{name: Measurement}`` for ANB, SNB, SNA, ODI, APDI, FHI, FMA, MW; a value None with the reason when it
        cannot be computed.

    Raises:
        ValueError: landmarks not ``(19, 2)``, or a spacing that is not positive.
    """
    points = as_points(landmarks, len(ISBI_LANDMARKS), "cephalometric landmarks")
    mm = as_spacing(spacing)
    p = to_mm(points, mm)
    out = {}
    for name in MEASUREMENTS:
        formula, used = _FORMULAS[name]
        unit = UNITS.get(name, "deg")
        reason = missing_reason(points, used, ISBI_LANDMARKS)
        value = None
        if reason is None:
            try:
                value = formula(p, mm)
            except _Undefined as e:
                reason = str(e)
        cls, label = classify(name, value)
        out[name] = Measurement(name, value, unit, tuple(used), reason, cls, label)
    return out
