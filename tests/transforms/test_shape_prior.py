"""The shape prior (monai_landmarks/transforms/shape_prior.py): fit, robust projection, its file, the bundle step."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from monai_landmarks.cli import main
from monai_landmarks.transforms import ShapeModel, ShapePriord
from monai_landmarks.utils.keys import Keys

K = 24


def _similar(points: np.ndarray, scale: float, angle: float, shift) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return scale * points @ np.array([[c, s], [-s, c]]) + np.asarray(shift)


def _shapes(n: int = 60, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """A base shape (points on a curve) and n copies, each bent by two modes and moved by a random similarity."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, K)
    base = np.stack([40 * np.sin(3 * t), 300 * t], axis=1)
    bend, stretch = np.stack([np.sin(np.pi * t), 0 * t], 1), np.stack([0 * t, t - 0.5], 1)
    shapes = []
    for _ in range(n):
        shape = base + rng.normal(0, 15) * bend + rng.normal(0, 20) * stretch + rng.normal(0, 0.3, base.shape)
        shapes.append(_similar(shape, rng.uniform(0.8, 1.3), rng.uniform(-0.3, 0.3), rng.uniform(-50, 50, 2)))
    return base, shapes


@pytest.fixture(scope="module")
def model() -> ShapeModel:
    return ShapeModel.fit(_shapes()[1], num_modes=4)


def test_projection_replaces_the_points_on_a_wrong_place_and_keeps_the_shape(model):
    truth = _shapes(1, seed=7)[1][0]
    noisy = truth.copy()
    noisy[[3, 11, 18]] += [[120, 0], [-90, 60], [0, -150]]  # three points on the wrong structure
    fitted, weights = model.project(noisy)
    assert np.linalg.norm(fitted - truth, axis=1).max() < 3.0
    assert (weights[[3, 11, 18]] < 0.5).all() and (np.delete(weights, [3, 11, 18]) > 0.5).all()


def test_projection_commutes_with_a_similarity(model):
    shape = _shapes(1, seed=3)[1][0]
    shape[5] += [80, 40]
    moved = model.project(_similar(shape, 1.7, 0.4, [200, -30]))[0]
    assert np.allclose(moved, _similar(model.project(shape)[0], 1.7, 0.4, [200, -30]), atol=1e-6)


def test_fit_leaves_out_incomplete_shapes_and_checks_the_mode_count():
    shapes = _shapes(10)[1]
    shapes[0][2] = np.nan
    assert ShapeModel.fit(shapes, 3).modes.shape == (3, 2 * K)
    with pytest.raises(ValueError, match="num_modes must be in 1..8 for 9 complete shapes"):
        ShapeModel.fit(shapes, 9)


def test_projection_refuses_another_count_or_a_missing_point(model):
    with pytest.raises(ValueError, match="24 landmarks, the prediction 23"):
        model.project(np.zeros((23, 2)))
    points = _shapes(1)[1][0]
    points[0, 0] = np.nan
    with pytest.raises(ValueError, match="needs every landmark"):
        model.project(points)


def test_file_round_trip_never_replaces_a_file_and_refuses_other_files(model, tmp_path):
    path = tmp_path / "shape_prior.pt"
    model.save(path)
    loaded = ShapeModel.load(path)
    assert np.array_equal(loaded.mean, model.mean) and np.array_equal(loaded.modes, model.modes)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="refused to replace it"):
        model.save(path)
    assert path.read_bytes() == before
    other = tmp_path / "weights.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ValueError, match=rf"{other}: not a shape model file"):
        ShapeModel.load(other)
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.pt: not a readable shape model"):
        ShapeModel.load(tmp_path / "junk.pt")


def _sample(points: np.ndarray) -> dict:
    return {Keys.PRED_LANDMARKS: torch.as_tensor(points, dtype=torch.float32)[None]}


def test_step_replaces_all_or_only_the_outliers_and_records_the_file(model, tmp_path):
    path = tmp_path / "shape_prior.pt"
    model.save(path)
    truth = _shapes(1, seed=7)[1][0]
    noisy = truth + np.random.default_rng(1).normal(0, 0.5, truth.shape)
    noisy[11] += [-90, 60]
    full = ShapePriord(model_path=path)(_sample(noisy))
    kept = ShapePriord(model_path=path, replace="outliers")(_sample(noisy))
    out_full, out_kept = full[Keys.PRED_LANDMARKS][0].numpy(), kept[Keys.PRED_LANDMARKS][0].numpy()
    assert np.linalg.norm(out_full[11] - truth[11]) < 3 and np.linalg.norm(out_kept[11] - truth[11]) < 3
    changed = ~np.isclose(out_kept, noisy.astype(np.float32)).all(axis=1)
    assert np.array_equal(changed, model.project(noisy)[1] < 0.5)  # the outliers replaced, the rest as decoded
    assert changed[11] and changed.sum() <= K // 4
    assert not np.isclose(out_full, noisy.astype(np.float32)).all(axis=1)[~changed].all()
    record = full[Keys.CASCADE]["shape_prior"]
    assert record["path"] == str(path) and len(record["sha256"]) == 64 and record["applied"] is True
    assert record["replace"] == "all" and kept[Keys.CASCADE]["shape_prior"]["replace"] == "outliers"


def test_step_off_absent_or_missing_point_leaves_landmarks_and_says_so(model, tmp_path, caplog):
    points = _shapes(1)[1][0]
    off = ShapePriord(model_path=None)(_sample(points))
    assert off[Keys.CASCADE]["shape_prior"] is None
    with caplog.at_level(logging.WARNING):
        absent = ShapePriord(model_path=tmp_path / "none.pt")(_sample(points))
    assert "none.pt: no shape prior file" in caplog.text and absent[Keys.CASCADE]["shape_prior"] is None
    assert np.array_equal(absent[Keys.PRED_LANDMARKS][0].numpy(), points.astype(np.float32))
    path = tmp_path / "shape_prior.pt"
    model.save(path)
    points[4] = np.nan
    with caplog.at_level(logging.WARNING):
        skipped = ShapePriord(model_path=path)(_sample(points))
    assert "a landmark is missing; shape prior skipped" in caplog.text
    assert skipped[Keys.CASCADE]["shape_prior"]["applied"] is False
    with pytest.raises(ValueError, match="replace must be 'all' or 'outliers'"):
        ShapePriord(model_path=path, replace="some")


def test_step_refuses_a_listed_file_that_is_missing_or_damaged(model, tmp_path):
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / "shape_prior.pt"
    model.save(path)
    listing = tmp_path / "large_files.yml"
    listing.write_text(f'large_files:\n  - path: "models/shape_prior.pt"\n    hash_val: "{"0" * 64}"\n')
    with pytest.raises(ValueError, match="does not match"):
        ShapePriord(model_path=path)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="shape_prior.pt: weights file not found"):
        ShapePriord(model_path=path)


def test_cli_fits_on_the_training_images_without_the_validation_ones(tmp_path, capsys):
    data = tmp_path / "spine"
    assert main(["synth", str(data), "--kind", "spine", "--num-train", "12", "--num-val", "0", "--num-test", "2",
                 "--overlays", "0", "--quiet"]) == 0  # fmt: skip
    out = tmp_path / "shape_prior.pt"
    assert main(["shape-prior", str(data), str(out), "--num-val", "4", "--modes", "3"]) == 0
    assert "fitted on 8 complete shapes of 8 training images (4 held out" in capsys.readouterr().out
    model = ShapeModel.load(out)
    assert model.num_landmarks == 68 and len(model.provenance["held_out_for_validation"]) == 4
    before = out.read_bytes()
    assert main(["shape-prior", str(data), str(out)]) == 1
    assert "refused to replace it" in capsys.readouterr().err and out.read_bytes() == before
