"""The bundle declaration (``"analysis"`` in ``configs/inference.json``) and ``analyse``."""

import json
from pathlib import Path

import numpy as np
import pytest

from monai_landmarks.analysis import AnalysisKind, analyse, bundle_analysis, measurement_lines
from tests.analysis.test_cephalometry import FACE
from tests.analysis.test_cobb import C_TILTS, spine

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("bundle", "kind"),
    [("htc_ceph", AnalysisKind.CEPHALOMETRY), ("gu2net_ceph", AnalysisKind.CEPHALOMETRY), ("htc_hand", None),
     ("gu2net_universal", None)],
)  # fmt: skip
def test_shipped_bundles_declare_their_analysis(bundle, kind):
    assert bundle_analysis(ROOT / "bundles" / bundle) is kind


def test_analyse_dispatches_and_none_gives_nothing():
    ceph = analyse("cephalometry", FACE, 0.2)
    assert list(ceph) == ["ANB", "SNB", "SNA", "ODI", "APDI", "FHI", "FMA", "MW"]
    assert ceph["MW"].to_dict()["unit"] == "mm" and json.dumps({k: m.to_dict() for k, m in ceph.items()})
    cobb = analyse(AnalysisKind.COBB, spine(C_TILTS, half_height=4), None, image_size=(800, 1200))
    assert cobb["mt"].value == pytest.approx(24.0) and cobb["mt"].details["half_rule"].startswith("image half")
    assert analyse(None, np.zeros((5, 2))) == {}


def test_unknown_analysis_is_refused_naming_the_file(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "inference.json").write_text(json.dumps({"analysis": "cobbs"}))
    with pytest.raises(ValueError, match=r"inference.json: 'analysis': unknown analysis 'cobbs'; valid: 'cephal"):
        bundle_analysis(tmp_path)
    (tmp_path / "configs" / "inference.json").write_text("{not json")
    with pytest.raises(ValueError, match="inference.json: not valid JSON"):
        bundle_analysis(tmp_path)
    with pytest.raises(ValueError, match="unknown analysis 'ceph'"):
        analyse("ceph", FACE)
    with pytest.raises(ValueError, match=r"expected \(68, 2\)"):
        analyse("cobb", FACE)


def _angle(start, end) -> float:
    return float(np.degrees(np.arctan2(end[1] - start[1], end[0] - start[0])))


def test_measurement_lines_are_the_lines_each_value_is_read_from():
    ceph = [m.to_dict() for m in analyse("cephalometry", FACE, 0.2).values()]
    lines = measurement_lines("cephalometry", ceph, FACE)
    sna = [(a, b) for a, b, name in lines if name == "SNA"]
    assert len(sna) == 2 and np.allclose(sna[0], (FACE[0], FACE[1])) and np.allclose(sna[1], (FACE[1], FACE[4]))
    undefined = [dict(m, value=None) if m["name"] == "MW" else m for m in ceph]
    assert "MW" not in {name for *_, name in measurement_lines("cephalometry", undefined, FACE)}
    # Cobb: the two end vertebrae's lines; the angle between them is the Cobb angle
    corners = spine(C_TILTS, half_height=4)
    cobb = analyse("cobb", corners, None, image_size=(800, 1200))
    (a0, a1, _), (b0, b1, _) = [line for line in measurement_lines("cobb", [cobb["mt"].to_dict()], corners)]
    assert abs(_angle(a0, a1) - _angle(b0, b1)) == pytest.approx(cobb["mt"].value)
    assert measurement_lines(None, ceph, FACE) == []
