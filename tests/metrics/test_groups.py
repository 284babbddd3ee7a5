import numpy as np
import pytest

from monai_landmarks.metrics.groups import group_errors, landmark_groups, mean_squared_error, vertebra_groups


def test_group_errors_mean_sd_count_skip_missing():
    errors = np.array([[1.0, 3.0, 10.0, np.nan], [2.0, 2.0, 20.0, 4.0]])
    out = group_errors(errors, {"a": (0, 2), "b": (2, 4)})
    assert out["a"] == {"mre": 2.0, "sd": pytest.approx(np.std([1, 3, 2, 2], ddof=1)), "count": 4}
    assert out["b"]["mre"] == pytest.approx(34 / 3) and out["b"]["count"] == 3


def test_group_with_nothing_counted_is_none():
    assert group_errors(np.full((2, 2), np.nan), {"a": (0, 2)})["a"] == {"mre": None, "sd": None, "count": 0}


def test_landmark_groups_are_checked():
    assert landmark_groups({"num_landmarks": 4, "landmark_groups": {"x": [0, 4]}}) == {"x": (0, 4)}
    assert landmark_groups({"num_landmarks": 4}) == {}
    with pytest.raises(ValueError, match="landmark group 'x'"):
        landmark_groups({"num_landmarks": 4, "landmark_groups": {"x": [2, 5]}})


def test_vertebra_groups_from_names():
    names = [f"{v} {c}" for v in ("T1", "T2") for c in ("top-left", "top-right", "bottom-left", "bottom-right")]
    assert vertebra_groups(names) == {"T1": (0, 4), "T2": (4, 8)}
    with pytest.raises(ValueError, match="not next to"):
        vertebra_groups(["T1 a", "T2 a", "T1 b"])


def test_mean_squared_error_in_another_frame():
    # 0.7 mm and 1.4 mm at 0.7 mm/px of a 512 image are 2 and 4 px of its 1024 resize: (4 + 16) / 2
    assert mean_squared_error([[0.7, 1.4, np.nan]], scale=2 / 0.7) == pytest.approx(10.0)
    assert mean_squared_error([[np.nan]]) is None
