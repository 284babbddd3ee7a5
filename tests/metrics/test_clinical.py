"""Classification success rate, confusion matrices, SMAPE and MAE of clinical measurements."""

import numpy as np
import pytest

from monai_landmarks.analysis import Measurement, cephalometric_measurements
from monai_landmarks.metrics import cephalometric_report, cobb_report, smape
from tests.analysis.test_cephalometry import FACE, _face
from tests.analysis.test_cobb import C_TILTS, spine


def test_smape_by_hand():
    # image 1: |1|+|2|+|0| / (21+12+10) ; image 2: identical -> 0
    value = smape([[11, 7, 5], [3, 2, 1]], [[10, 5, 5], [3, 2, 1]])
    assert value == pytest.approx(100 * (3 / 43) / 2)
    assert smape([[0, 0, 0]], [[0, 0, 0]]) == 0.0
    with pytest.raises(ValueError, match="finite and >= 0"):
        smape([[-1, 0, 0]], [[0, 0, 0]])
    with pytest.raises(ValueError, match="equal"):
        smape([[1, 2, 3]], [[1, 2]])


def test_cephalometric_report_counts_classes_and_skips_undefined():
    truth = [cephalometric_measurements(FACE, 0.2) for _ in range(3)]
    shifted = _face(A=FACE[4] + (60, 0))  # A moved forward: SNA from class 1 (82.5) to 2
    missing = FACE.copy()
    missing[4] = np.nan
    predicted = [cephalometric_measurements(p, 0.2) for p in (FACE, shifted, missing)]
    report = cephalometric_report(predicted, truth)
    sna = report["measurements"]["SNA"]
    assert sna["count"] == 2 and sna["skipped"] == 1
    assert sna["skip_reasons"] == {"prediction: missing landmark(s): 4 (subspinale)": 1}
    true_cls, moved_cls = truth[0]["SNA"].class_id, predicted[1]["SNA"].class_id
    assert true_cls != moved_cls and sna["success_rate"] == pytest.approx(50.0)
    expected = np.zeros((3, 3), int)
    expected[true_cls - 1, true_cls - 1] += 1
    expected[true_cls - 1, moved_cls - 1] += 1
    assert sna["confusion"] == expected.tolist()
    assert sna["mae"] == pytest.approx(abs(predicted[1]["SNA"].value - truth[0]["SNA"].value) / 2)
    assert report["measurements"]["FHI"]["success_rate"] == 100.0 and report["measurements"]["MW"]["count"] == 3
    assert len(report["measurements"]["MW"]["confusion"]) == 4


def test_cobb_report_skips_undefined_and_scores_the_rest():
    from monai_landmarks.analysis import cobb_angles

    good = cobb_angles(spine(C_TILTS, half_height=4), 1200)  # mt 24, pt 0, tl 8
    broken = spine(C_TILTS)
    broken[[60, 61]] = broken[[61, 60]]
    report = cobb_report([good, cobb_angles(broken, 1200)], [[20, 2, 8], [30, 10, 5]], ["a", "b"])
    assert report["count"] == 1
    assert report["skipped"] == [{"image_id": "b", "reason": "L4: corners not in top-left, top-right, "
                                  "bottom-left, bottom-right order"}]  # fmt: skip
    assert report["smape"] == pytest.approx(100 * (4 + 2 + 0) / (44 + 2 + 16))
    assert report["mae"] == pytest.approx({"mt": 4.0, "pt": 2.0, "tl": 0.0})
    with pytest.raises(ValueError, match=r"expected \(2, 3\) true angles"):
        cobb_report([good, good], [[1, 2, 3]])
    undefined = {"mt": Measurement("mt", None, "deg", (), "x"), "pt": None, "tl": None}
    assert cobb_report([undefined], [[1, 2, 3]])["smape"] is None
