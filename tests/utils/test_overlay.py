import numpy as np
import pytest

from monai_landmarks.utils.overlay import TRUTH, draw_landmarks, save_overlay


def test_landmark_lands_on_its_row_and_column():
    image = np.zeros((20, 10))  # (W, H)
    picture = draw_landmarks(image, [[5.0, 2.0], [np.nan, np.nan]], radius=1)
    assert picture.shape == (10, 20, 3)
    assert tuple(picture[2, 5]) == TRUTH  # row y = 2, column x = 5
    assert tuple(picture[5, 2]) != TRUTH


def test_prediction_and_line_are_red():
    picture = draw_landmarks(np.zeros((30, 30)), [[5.0, 5.0]], predicted=[[20.0, 5.0]], radius=1)
    assert picture[5, 12, 0] > 200 and picture[5, 12, 1] < 100  # on the line between truth and prediction


def test_save_is_atomic_and_rejects_3d(tmp_path):
    out = save_overlay(tmp_path / "o.png", np.random.rand(1, 16, 12), [[1.0, 1.0]])
    assert out.is_file() and [p.name for p in tmp_path.iterdir()] == ["o.png"]
    with pytest.raises(ValueError, match="2D image"):
        save_overlay(tmp_path / "bad.png", np.zeros((2, 4, 4)))
    assert not (tmp_path / "bad.png").exists()
