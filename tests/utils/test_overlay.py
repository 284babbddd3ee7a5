import numpy as np
import pytest
import torch
from PIL import Image

from monai_landmarks.utils.overlay import PREDICTION, TRUTH, draw_landmarks, save_overlay


def test_landmark_lands_on_its_row_and_column():
    image = np.zeros((20, 10))  # (W, H)
    picture = draw_landmarks(image, [[5.0, 2.0]], radius=1)
    assert picture.shape == (10, 20, 3) and picture.dtype == np.uint8
    assert tuple(picture[2, 5]) == TRUTH  # row y = 2, column x = 5
    assert tuple(picture[5, 2]) != TRUTH


def test_pixel_centre_rounding_and_channel_first_tensor_input():
    image = torch.zeros(1, 20, 10)  # (1, W, H), as LoadImage gives
    picture = draw_landmarks(image, torch.tensor([[[5.4, 2.5]]]), radius=1)  # (1, K, 2)
    assert tuple(picture[3, 5]) == TRUTH  # 5.4 is in pixel 5, 2.5 on the border of pixels 2 and 3 -> 3


def test_nan_landmarks_are_skipped():
    image = np.zeros((20, 20))
    picture = draw_landmarks(image, [[np.nan, np.nan], [10.0, 10.0]], predicted=[[4.0, 4.0], [np.nan, np.nan]])
    assert (picture == TRUTH).all(-1).any()  # the present truth is drawn
    assert tuple(picture[4, 4]) == PREDICTION  # a prediction without its truth: a dot, no line
    assert not (picture == PREDICTION).all(-1)[8:, 8:].any()  # nothing drawn for the missing prediction


def test_prediction_is_red_with_a_line_to_its_truth():
    picture = draw_landmarks(np.zeros((30, 30)), [[5.0, 5.0]], predicted=[[20.0, 5.0]], radius=1)
    assert tuple(picture[5, 12]) == PREDICTION  # on the line between truth and prediction
    assert tuple(picture[5, 20]) == PREDICTION and tuple(picture[5, 5]) == TRUTH


def test_percentile_stretch_ignores_outliers():
    image = np.tile(np.linspace(0, 1, 50)[:, None], (1, 40))
    image[0, 0] = 1e6  # one hot pixel must not flatten the rest
    gray = draw_landmarks(image)[..., 0]
    assert gray[10].std() > 50 and gray[10, 49] == 255 and gray[10, 0] == 0  # row 10 runs along x
    flat = draw_landmarks(np.full((8, 8), 3.0))
    assert (flat == flat[0, 0]).all()  # a flat image does not divide by zero


def test_names_and_scale():
    image = np.zeros((16, 12))
    labelled = draw_landmarks(image, [[3.0, 3.0]], names=["sella"], radius=1, scale=4)
    assert labelled.shape == (48, 64, 3)
    assert tuple(labelled[14, 14]) == TRUTH  # (3 + 0.5) * 4 - 0.5 = 13.5, rounded half up to pixel 14
    plain = draw_landmarks(image, [[3.0, 3.0]], radius=1, scale=4)
    assert (labelled != plain).any()  # the label was written


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image": np.zeros((2, 4, 4))}, "2D image"),
        ({"image": np.zeros((4, 4)), "landmarks": np.zeros((3,))}, "landmarks"),
        ({"image": np.zeros((4, 4)), "landmarks": np.zeros((2, 2)), "predicted": np.zeros((3, 2))}, "predicted"),
        ({"image": np.zeros((4, 4)), "landmarks": np.zeros((2, 2)), "names": ["a"]}, "names"),
        ({"image": np.zeros((4, 4)), "scale": 0}, "scale"),
    ],
)
def test_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        draw_landmarks(**kwargs)


def test_save_writes_a_png(tmp_path):
    out = save_overlay(tmp_path / "o.png", np.random.rand(1, 16, 12), [[1.0, 1.0]], predicted=[[3.0, 4.0]])
    assert out == tmp_path / "o.png" and [p.name for p in tmp_path.iterdir()] == ["o.png"]
    with Image.open(out) as saved:
        assert saved.format == "PNG" and saved.size == (16, 12) and saved.mode == "RGB"
    with pytest.raises(ValueError, match="2D image"):
        save_overlay(tmp_path / "bad.png", np.zeros((2, 4, 4)))
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = save_overlay(tmp_path / "o.png", np.zeros((8, 8)), [[1.0, 1.0]])
    before = target.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG half a picture")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_overlay(target, np.ones((8, 8)), [[5.0, 5.0]])
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]


def test_legend_panel_keeps_the_image_and_lists_the_lines():
    image = np.zeros((30, 20), dtype=np.float32)  # W=30, H=20
    plain = draw_landmarks(image, predicted=[[5.0, 5.0]], names=["0"])
    with_legend = draw_landmarks(image, predicted=[[5.0, 5.0]], names=["0"], legend=[f"{k} landmark" for k in range(6)])
    assert with_legend.shape[1] > plain.shape[1] and with_legend.shape[0] > plain.shape[0]  # 6 lines > 20 rows
    np.testing.assert_array_equal(with_legend[:20, :30], plain)  # the image keeps its pixels and place
    panel = with_legend[:, 30:]
    rows_with_text = np.flatnonzero((panel != panel[0, -1]).any(axis=(1, 2)))
    assert rows_with_text.max() > 20  # text goes on below the image's height
    with pytest.raises(ValueError, match="sequence of lines"):
        draw_landmarks(image, legend="0 sella")
