"""ISBI 2015 task-2 measurements: hand-computed cases, classes, undefined inputs, and invariance properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_landmarks.analysis import MEASUREMENTS, cephalometric_measurements, cephalometry, classify
from monai_landmarks.analysis.cephalometry import ANS, A, B, N, S

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)
ATAN_3_4 = math.degrees(math.atan(3 / 4))  # 36.8699: the small angle of a 3-4-5 triangle

# the ISBI 2015 training mean shape (stored pixels, 0.2 mm), rounded: a right-facing face, y down
FACE = np.array(
    [[403, 519], [695, 484], [639, 609], [300, 606], [692, 756], [678, 925], [676, 990], [646, 1020], [667, 1010],
     [366, 867], [710, 844], [718, 850], [778, 804], [766, 905], [748, 745], [722, 1006], [487, 714], [700, 722],
     [335, 663]], dtype=np.float64,
)  # fmt: skip


def _face(**points) -> np.ndarray:
    face = FACE.copy()
    for index, xy in points.items():
        face[getattr(cephalometry, index)] = xy  # a landmark by its short name, e.g. GO
    return face


def _values(landmarks, spacing=1.0) -> dict:
    return {k: m.value for k, m in cephalometric_measurements(landmarks, spacing).items()}


def test_sna_snb_anb_on_right_and_3_4_5_triangles():
    # N->S = (-1, 0); N->A straight down: 90; N->B = (-30, 40): cos = 0.6, 53.13
    m = cephalometric_measurements(_face(S=(0, 0), N=(80, 0), A=(80, 50), B=(50, 40)), 1.0)
    assert m["SNA"].value == pytest.approx(90.0)
    assert m["SNB"].value == pytest.approx(90 - ATAN_3_4)
    assert m["ANB"].value == pytest.approx(ATAN_3_4)
    assert (m["SNA"].class_id, m["SNB"].class_id, m["ANB"].class_id) == (2, 2, 2)
    assert m["ANB"].class_label == "skeletal class II"
    assert m["SNB"].landmarks == (S, N, B)


def test_fma_fhi():
    m = cephalometric_measurements(_face(S=(0, 0), N=(80, 0), GO=(0, 60), GN=(40, 90), ME=(80, 80)), 1.0)
    assert m["FMA"].value == pytest.approx(ATAN_3_4)  # S->N = (1, 0), Go->Gn = (40, 30)
    assert m["FHI"].value == pytest.approx(60 / 80)  # |S-Go| / |N-Me|; 0.75 is the inclusive upper bound
    assert m["FHI"].class_id == 1 and m["FHI"].unit == "ratio"
    assert cephalometric_measurements(_face(S=(0, 0), N=(80, 0), GO=(0, 60), ME=(80, 100)))["FHI"].class_id == 3


def test_odi_signed_palatal_plane():
    # Me->Go = (-1, 0), B->A = (-30, -40): 53.13; FH = (1, 0), PNS->ANS = (40, 30) tilts down: +36.87
    # (S, N, Me keep the face right-facing: the signs are anatomical)
    down = _face(S=(-100, 0), N=(80, 0), GO=(0, 80), ME=(80, 80), B=(90, 90), A=(60, 50), PO=(-10, 25), OR=(60, 25),
                 PNS=(10, 45), ANS=(50, 75))  # fmt: skip
    assert _values(down)["ODI"] == pytest.approx(90.0)
    up = down.copy()
    up[ANS] = (50, 15)  # tilted up: the palatal term counts negative
    assert _values(up)["ODI"] == pytest.approx(90 - 2 * ATAN_3_4)


def test_apdi_terms():
    # Or->Po = (-1, 0), N->Pog = (-30, 40): facial angle 53.13; A->B = (0, 50): 36.87, B not behind: +; PP || FH: 0
    face = _face(S=(-100, 0), N=(80, 0), ME=(70, 120), POG=(50, 40), A=(70, 50), B=(70, 100), PO=(-10, 25),
                 OR=(60, 25), PNS=(10, 45), ANS=(50, 45))  # fmt: skip
    assert _values(face)["APDI"] == pytest.approx(90.0)
    behind = face.copy()
    behind[B] = (40, 90)  # A->B = (-30, 40), parallel to the facial plane: 0
    assert _values(behind)["APDI"] == pytest.approx(90 - ATAN_3_4)
    behind[B] = (30, 80)  # A->B = (-40, 30): 16.26 from the facial plane, B behind it: negative
    assert _values(behind)["APDI"] == pytest.approx(90 - ATAN_3_4 - (90 - 2 * ATAN_3_4))


@pytest.mark.parametrize(
    ("upper", "lower", "spacing", "value", "cls"),
    [
        ((103.6, 54.8), (100, 50), 0.5, 3.0, 1),  # 6 px at 0.5 mm: normal
        ((103, 54), (100, 50), 1.0, 5.0, 4),  # large overjet
        ((97, 54), (100, 50), 1.0, -5.0, 3),  # upper incisor behind the lower one: cross bite
        ((100, 50), (100, 50), 1.0, 0.0, 2),  # edge to edge
        ((100.6, 50.8), (100, 50), 1.0, 1.0, 3),  # 0-2 mm: the challenge's program counts it class 3
    ],
)
def test_modified_wits(upper, lower, spacing, value, cls):
    m = cephalometric_measurements(_face(U1=upper, L1=lower, PO=(0, 25), OR=(60, 25)), spacing)["MW"]
    assert m.value == pytest.approx(value) and m.class_id == cls and m.unit == "mm"


def test_mw_needs_spacing():
    for spacing in (None, float("nan")):
        m = cephalometric_measurements(FACE, spacing)
        assert m["MW"].value is None and "spacing" in m["MW"].reason and m["MW"].class_id is None
        assert m["SNA"].value is not None  # the angles need no spacing


@pytest.mark.parametrize(
    ("name", "value", "cls"),
    [
        ("ANB", 3.2, 1), ("ANB", 3.19, 3), ("ANB", 5.71, 2), ("SNB", 74.59, 2), ("SNB", 78.71, 3),
        ("SNA", 79.39, 3), ("SNA", 83.21, 2), ("ODI", 68.39, 3), ("ODI", 80.51, 2), ("APDI", 77.59, 2),
        ("APDI", 85.21, 3), ("FHI", 0.649, 3), ("FHI", 0.751, 2), ("FMA", 26.79, 3), ("FMA", 31.41, 2),
        ("MW", 2.0, 1), ("MW", 4.5, 1), ("MW", 4.51, 4), ("MW", -0.1, 3),
    ],
)  # fmt: skip
def test_thresholds(name, value, cls):
    assert classify(name, value)[0] == cls


def test_missing_landmark_only_undefines_what_uses_it():
    face = FACE.copy()
    face[A] = np.nan
    m = cephalometric_measurements(face, 0.2)
    undefined = {k for k, v in m.items() if v.value is None}
    assert undefined == {"ANB", "SNA", "ODI", "APDI"}
    assert m["SNA"].reason == "missing landmark(s): 4 (subspinale)" and m["SNA"].class_id is None


def test_coincident_points_are_undefined_not_a_number():
    m = cephalometric_measurements(_face(S=FACE[N]), 0.2)
    assert m["SNA"].value is None and "coincident" in m["SNA"].reason
    assert cephalometric_measurements(_face(ME=FACE[N]), 0.2)["FHI"].value is None
    collinear = _face(S=(0, 500), N=(100, 500), ME=(200, 500))
    assert "facing direction undefined" in cephalometric_measurements(collinear)["ODI"].reason


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"expected \(19, 2\)"):
        cephalometric_measurements(np.zeros((18, 2)))
    with pytest.raises(ValueError, match="positive"):
        cephalometric_measurements(FACE, 0.0)
    with pytest.raises(ValueError, match="unknown cephalometric measurement 'XYZ'; known: ANB"):
        classify("XYZ", 1.0)


def _rotate(points, degrees, centre=(500.0, 700.0)):
    t = math.radians(degrees)
    r = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return (points - centre) @ r.T + centre


def _close(a: dict, b: dict, tol=1e-7):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=tol), k


def test_mirrored_image_gives_the_same_values():
    mirrored = FACE.copy()
    mirrored[:, 0] = 966 - mirrored[:, 0]  # facing left
    _close(_values(mirrored, 0.2), _values(FACE, 0.2))


jitter = st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30)), min_size=19, max_size=19)


@FAST
@given(jitter, st.floats(-180, 180), st.floats(0.2, 5.0), st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
       st.booleans())  # fmt: skip
def test_invariance(shift, degrees, scale, offset, mirror):
    """Translation, rotation, mirroring and uniform scale (with the spacing divided by the scale) change nothing."""
    face = FACE + np.asarray(shift)
    moved = _rotate(face, degrees) * scale + np.asarray(offset)
    if mirror:
        moved[:, 0] = -moved[:, 0]
    _close(_values(moved, 0.2 / scale), _values(face, 0.2), tol=1e-6)


@FAST
@given(jitter, st.floats(0.05, 2.0))
def test_lengths_scale_with_spacing(shift, factor):
    face = FACE + np.asarray(shift)
    base, scaled = _values(face, 0.1), _values(face, 0.1 * factor)
    assert scaled["MW"] == pytest.approx(base["MW"] * factor, abs=1e-9)
    _close({k: scaled[k] for k in MEASUREMENTS if k != "MW"}, {k: base[k] for k in MEASUREMENTS if k != "MW"})


def test_anisotropic_spacing_measures_angles_in_mm():
    # S->N along x, N->A at 45 degrees in mm when y pixels are twice as tall as x pixels
    m = cephalometric_measurements(_face(S=(0, 0), N=(100, 0), A=(50, 25)), (0.1, 0.2))
    assert m["SNA"].value == pytest.approx(45.0)
