"""AASCE Cobb angles: hand-built spines for each branch of the challenge's rules, undefined inputs, invariance, and
the released angles of ``aasce_spine`` reproduced from its ground-truth corners."""

import csv
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_landmarks.analysis import COBB_ANGLES, cobb_angles
from tests.conftest import dataset_path

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)
S_TILTS = [0, 5, 10, 15, 20, 10, 0, -10, -20, -10, 0, 5, 10, 15, 5, 0, 0]
C_TILTS = [-10, -8, -6, -4, -2, 0, 2, 4, 6, 8, 10, 12, 14, 12, 10, 8, 6]


def spine(tilts, bulge=40.0, waves=0.5, half_width=30.0, half_height=20.0) -> np.ndarray:
    """(68, 2) corners of 17 rectangles 60 px apart, tilted by ``tilts`` degrees, centres on a sine of ``waves``."""
    corners = []
    for i, tilt in enumerate(tilts):
        t = math.radians(tilt)
        centre = np.array([300 + 5 * i + bulge * math.sin(2 * math.pi * waves * i / 16), 100 + 60 * i])
        u, v = np.array([math.cos(t), math.sin(t)]), np.array([-math.sin(t), math.cos(t)])
        for sx, sy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):  # TL, TR, BL, BR
            corners.append(centre + sx * half_width * u + sy * half_height * v)
    return np.array(corners)


def _angles(m) -> dict:
    return {k: m[k].value for k in COBB_ANGLES}


def test_straight_spine_is_zero():
    # vertebrae square to the spine's 5-in-60 slope: the edge midpoints lie on one straight line
    m = cobb_angles(spine([-math.degrees(math.atan(5 / 60))] * 17, bulge=0), image_height=1200)
    assert _angles(m) == pytest.approx({"mt": 0, "pt": 0, "tl": 0}, abs=1e-6)
    assert m["mt"].details["s_shape"] is False


def test_single_curve():
    m = cobb_angles(spine(C_TILTS, half_height=4), image_height=1200)  # thin: the centre line follows the bulge
    assert m["mt"].details["s_shape"] is False
    assert _angles(m) == pytest.approx({"mt": 24.0, "pt": 0.0, "tl": 8.0})  # 14 - (-10); T1 to T1; L1 (14) to L5 (6)
    assert m["mt"].details["end_vertebrae"] == ["T1", "L1"]
    assert m["tl"].details["end_vertebrae"] == ["L1", "L5"]
    assert m["mt"].details["apex"] in [f"T{i}" for i in range(2, 13)]
    assert m["mt"].landmarks == tuple(range(4)) + tuple(range(48, 52))


@pytest.mark.parametrize(
    ("height", "pt", "tl", "tl_ends", "rule"),
    [
        (2000, 20.0, 35.0, ["T9", "L2"], "image half"),  # main curve in the upper half
        (900, 20.0, 0.0, ["T1", "T1"], "image half"),  # lower half: both others lie above it
        (None, 20.0, 35.0, ["T9", "L2"], "spine middle"),
    ],
)
def test_double_curve_half_rule(height, pt, tl, tl_ends, rule):
    m = cobb_angles(spine(S_TILTS, waves=1.0), image_height=height)
    assert m["mt"].details["s_shape"] is True
    assert m["mt"].value == pytest.approx(40.0) and m["mt"].details["end_vertebrae"] == ["T5", "T9"]
    assert m["pt"].value == pytest.approx(pt) and m["pt"].details["end_vertebrae"] == ["T1", "T5"]
    assert m["tl"].value == pytest.approx(tl) and m["tl"].details["end_vertebrae"] == tl_ends
    assert m["tl"].details["half_rule"].startswith(rule)


def test_missing_corner_gives_no_angles():
    corners = spine(C_TILTS)
    corners[16] = np.nan  # T5 top-left
    m = cobb_angles(corners, 1200)
    assert all(v.value is None for v in m.values())
    assert m["pt"].reason == "missing corner(s): T5 top-left"


def test_corners_out_of_order_give_no_angles():
    corners = spine(C_TILTS)
    corners[[60, 61]] = corners[[61, 60]]  # L4: top-left and top-right swapped
    m = cobb_angles(corners, 1200)
    assert all(v.value is None for v in m.values())
    assert m["mt"].reason == "L4: corners not in top-left, top-right, bottom-left, bottom-right order"
    corners = spine(C_TILTS)
    corners[5] = corners[4]  # T2 top-right on its top-left: coincident, no direction
    assert cobb_angles(corners, 1200)["mt"].reason.startswith("T2: corners not in")


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"expected \(68, 2\)"):
        cobb_angles(np.zeros((67, 2)))
    with pytest.raises(ValueError, match="image_height must be a positive number"):
        cobb_angles(spine(C_TILTS), image_height=0)


tilts = st.lists(st.floats(-35, 35), min_size=17, max_size=17)


@FAST
@given(tilts, st.floats(0, 80), st.floats(0.25, 4.0), st.floats(-500, 500), st.booleans())
def test_invariance(angles, bulge, scale, shift, mirror):
    """Uniform scale (image height with it), horizontal shifts and mirroring (corners relabelled) change nothing."""
    corners = spine(angles, bulge=bulge, waves=1.0)
    base = cobb_angles(corners, 1200)
    moved = corners * scale + np.array([shift, 0.0])
    if mirror:
        moved[:, 0] = -moved[:, 0]
        moved = moved.reshape(17, 4, 2)[:, [1, 0, 3, 2]].reshape(68, 2)  # left and right swap names
    other = cobb_angles(moved, 1200 * scale)
    assert _angles(other) == pytest.approx(_angles(base), abs=1e-9)
    differences = np.sort(np.abs(np.subtract.outer(angles, angles))[np.triu_indices(17, 1)])
    if np.diff(differences).min() > 1e-6:  # no two pairs equally tilted: the picked vertebrae are unique
        picked = [other[k].details["end_vertebrae"] for k in COBB_ANGLES]
        assert picked == [base[k].details["end_vertebrae"] for k in COBB_ANGLES]


@pytest.mark.datasets
def test_ground_truth_corners_reproduce_released_angles():
    """>= 90 % of the 532 images within 1 degree of ``cobb_angles.csv`` on all three angles (measured: 522, 98.1 %).

    The others: 8 images whose corners are out of order (``annotation_odd``: None, never a number) and 2 whose
    released main angle exceeds 90 degrees (93.8, 91.1), which the challenge's clipped cosine cannot produce.
    """
    from PIL import Image

    from monai_landmarks.data import load_datalist

    root = dataset_path("aasce_spine")
    released = {r["image_id"]: r for r in csv.DictReader((root / "cobb_angles.csv").open())}
    within, undefined, off = 0, [], []
    items = load_datalist(root, check_bounds=False)
    for item in items:
        with Image.open(item["image"]) as image:
            height = image.size[1]
        m = cobb_angles(np.asarray(item["landmarks"], dtype=np.float64), height)
        if m["mt"].value is None:
            undefined.append(item["image_id"])
            continue
        error = max(abs(m[k].value - float(released[item["image_id"]][k])) for k in COBB_ANGLES)
        (off.append((item["image_id"], error)) if error > 1 else None)
        within += error <= 1
    assert len(items) == 532
    assert within / len(items) >= 0.9, (within, undefined, off)
    odd = {line.split(":")[0] for line in json.loads((root / "dataset.json").read_text())["annotation_odd"]}
    assert set(undefined) <= odd
