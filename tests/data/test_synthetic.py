import numpy as np
import pytest

from monai_landmarks.data import load_datalist, read_metadata
from monai_landmarks.data.synthetic import PHANTOM_KINDS, generate_phantom_dataset, landmark_names, render_phantom

COUNTS = {"head": 19, "hand": 37}


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_shape_range_and_names(kind):
    image, landmarks = render_phantom(kind, np.random.default_rng(0), (96, 120))
    assert image.shape == (96, 120) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert landmarks.shape == (COUNTS[kind], 2) == (len(landmark_names(kind)), 2)
    assert (landmarks >= -0.5).all() and (landmarks < np.array([96, 120]) - 0.5).all()


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_deterministic_by_seed_and_varied_across_seeds(kind):
    a = render_phantom(kind, np.random.default_rng(7))
    b = render_phantom(kind, np.random.default_rng(7))
    c = render_phantom(kind, np.random.default_rng(8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # shapes vary: landmarks move by several pixels between seeds
    assert np.linalg.norm(a[1] - c[1], axis=1).mean() > 2.0


def _patch(image, point, r=5):
    x, y = np.round(point).astype(int)
    return image[x - r : x + r + 1, y - r : y + r + 1]


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_landmarks_sit_on_the_same_structure_in_every_phantom(kind):
    """Patches around a landmark look alike across seeds; around random points they do not."""
    size = (240, 300)
    renders = [render_phantom(kind, np.random.default_rng(s), size) for s in (1, 2)]

    def similarity(points_a, points_b):
        scores = []
        for pa, pb in zip(points_a, points_b, strict=True):
            a, b = _patch(renders[0][0], pa), _patch(renders[1][0], pb)
            if a.shape != b.shape or a.shape != (11, 11) or a.std() < 1e-3 or b.std() < 1e-3:
                continue
            scores.append(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        return float(np.mean(scores))

    tied = similarity(renders[0][1], renders[1][1])
    rng = np.random.default_rng(0)
    random_points = rng.uniform(10, np.array(size) - 10, (2, COUNTS[kind], 2))
    untied = similarity(random_points[0], random_points[1])
    assert tied > 0.5, tied
    assert tied > untied + 0.3, (tied, untied)


def test_unknown_kind_and_bad_size():
    with pytest.raises(ValueError, match=r"valid kinds: \('head', 'hand'\)"):
        render_phantom("chest", np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least 16"):
        render_phantom("head", np.random.default_rng(0), (8, 8))


def test_dataset_round_trip(tmp_path):
    root = generate_phantom_dataset(tmp_path / "ph", "hand", num_train=3, num_val=1, num_test=1, seed=3)
    meta = read_metadata(root)
    assert meta["num_landmarks"] == 37 and meta["synthetic"] and meta["wrist_normalisation"]["pair"] == [0, 4]
    items = load_datalist(root)
    assert [i["split"] for i in items] == ["train"] * 3 + ["val", "test"]
    _, first = render_phantom("hand", np.random.default_rng(3))
    assert np.allclose(items[0]["landmarks"][0], first, atol=1e-3)
    head = generate_phantom_dataset(tmp_path / "head", "head", 1, 0, 0, size=(96, 120))
    assert read_metadata(head)["pixel_spacing_mm"] == pytest.approx(2.0)
