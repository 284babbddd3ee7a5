"""Tests of the dataset format: write_dataset, read_metadata, load_datalist and their validation."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from conftest import dataset_path  # tests/conftest.py: skips when the shared datasets are absent
from PIL import Image

from monai_landmarks.data.dataset_format import (
    DatasetError,
    OutsideImageWarning,
    load_datalist,
    read_metadata,
    write_dataset,
)
from monai_landmarks.utils.keys import Keys

W, H, K = 40, 30, 4


def make_sample(i: int, split: str = "train", **extra) -> dict:
    rng = np.random.default_rng(i)
    image = np.zeros((W, H), np.uint8)
    image[5, 2] = 255  # x = 5, y = 2
    points = rng.uniform(0, [W - 1, H - 1], size=(K, 2))
    return {"image_id": f"{i:03d}", "split": split, "image": image, "landmarks": points, **extra}


def write_toy(root: Path, n: int = 3, **kwargs) -> Path:
    samples = [make_sample(i, "train" if i <= 2 else "test1") for i in range(1, n + 1)]
    return write_dataset(root, "toy", samples, **kwargs)


def rewrite_csv(root: Path, edit) -> None:
    path = root / "landmarks.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def rewrite_json(root: Path, **changes) -> None:
    path = root / "dataset.json"
    meta = json.loads(path.read_text())
    meta.update(changes)
    for key in [k for k, v in changes.items() if v is ...]:
        del meta[key]
    path.write_text(json.dumps(meta))


def set_cell(line: str, column: int, value: str) -> str:
    cells = line.split(",")
    cells[column] = value
    return ",".join(cells)


# ------------------------------------------------------------------------------------------ round trip


def test_write_then_load_round_trip(tmp_path):
    samples = [make_sample(i, "train" if i < 3 else "test1") for i in (3, 1, 2, 10)]
    samples[0]["landmarks"][1] = np.nan  # a missing landmark
    root = write_dataset(tmp_path / "ds", "toy", samples, landmark_names=list("abcd"), pixel_spacing_mm=0.25)
    assert root == tmp_path / "ds"
    items = load_datalist(root)
    assert [it[Keys.IMAGE_ID] for it in items] == ["001", "002", "003", "010"]  # sorted, read as text
    by_id = {s["image_id"]: s for s in samples}
    for item in items:
        assert set(item) == {Keys.IMAGE, Keys.LANDMARKS, Keys.SPACING, Keys.SPLIT, Keys.DOMAIN, Keys.IMAGE_ID}
        assert Path(item[Keys.IMAGE]).is_absolute() and Path(item[Keys.IMAGE]).is_file()
        assert item[Keys.LANDMARKS].dtype == np.float32 and item[Keys.LANDMARKS].shape == (1, K, 2)
        np.testing.assert_allclose(item[Keys.LANDMARKS][0], by_id[item[Keys.IMAGE_ID]]["landmarks"], atol=1e-4)
        np.testing.assert_array_equal(item[Keys.SPACING], [0.25, 0.25])
        assert item[Keys.SPACING].dtype == np.float64 and item[Keys.DOMAIN] == 0
    assert np.isnan(items[2][Keys.LANDMARKS][0, 1]).all()
    meta = read_metadata(root)
    assert meta["num_landmarks"] == K and meta["landmark_names"] == list("abcd")
    assert meta["stored_size_wh"] == [W, H] and meta["splits"] == {"test1": 2, "train": 2}


def test_png_orientation_and_dtypes(tmp_path):
    wide = make_sample(1)
    u16 = make_sample(2)
    u16["image"] = (np.arange(W * H, dtype=np.uint16).reshape(W, H) * 50).astype(np.uint16)
    flt = make_sample(3)
    flt["image"] = np.full((W, H), 0.5)
    root = write_dataset(tmp_path / "ds", "toy", [wide, u16, flt])
    with Image.open(root / "images/001.png") as img:  # PNG rows are y: pixel (x=5, y=2) is bright
        assert img.size == (W, H) and img.mode == "L" and img.getpixel((5, 2)) == 255
    with Image.open(root / "images/002.png") as img:
        np.testing.assert_array_equal(np.asarray(img).T, u16["image"])
    with Image.open(root / "images/003.png") as img:
        assert np.asarray(img).max() == 128


def test_channel_first_image_and_loading_with_sitk_reader(tmp_path):
    from monai.transforms import LoadImaged

    sample = make_sample(1)
    sample["image"] = torch.as_tensor(sample["image"])[None]  # (1, W, H), as LoadImage gives
    sample["landmarks"] = np.array([[5.0, 2.0]] * K)
    item = load_datalist(write_dataset(tmp_path / "ds", "toy", [sample]), domain=np.int64(1))[0]
    out = LoadImaged(Keys.IMAGE, reader="monai_landmarks.data.image_reader.SITKReader", ensure_channel_first=True)(item)
    assert tuple(out[Keys.IMAGE].shape) == (1, W, H) and out[Keys.DOMAIN] == 1
    x, y = out[Keys.LANDMARKS][0, 0].astype(int)
    assert out[Keys.IMAGE][0, x, y] == out[Keys.IMAGE].max() == 255  # the landmark sits on the bright pixel


def test_image_paths_are_copied_or_converted(tmp_path):
    gray = np.zeros((H, W), np.uint8)
    gray[2, 5] = 200
    Image.fromarray(gray).save(tmp_path / "src.png")
    sitk.WriteImage(sitk.GetImageFromArray(gray), str(tmp_path / "src.mha"))
    samples = [make_sample(1, image=tmp_path / "src.png"), make_sample(2, image=str(tmp_path / "src.mha"))]
    root = write_dataset(tmp_path / "ds", "toy", samples)
    assert (root / "images/001.png").read_bytes() == (tmp_path / "src.png").read_bytes()
    with Image.open(root / "images/002.png") as img:
        np.testing.assert_array_equal(np.asarray(img), gray)


def test_per_image_sizes_annotators_and_columns(tmp_path):
    a, b = make_sample(1), make_sample(2)
    b["image"] = np.zeros((W + 2, H), np.uint8)
    for s in (a, b):
        s["annotators"] = {"senior": s["landmarks"] + 0.5, "junior": s["landmarks"] - 0.5}
        s["columns"] = {"n_annotators": [2] * K}
    root = write_dataset(tmp_path / "ds", "toy", [a, b], pixel_spacing_mm=[0.1, 0.2])
    meta = read_metadata(root)
    assert meta["stored_size_wh"] == {"001": [W, H], "002": [W + 2, H]}
    header = (root / "landmarks.csv").read_text().splitlines()[0]
    assert header == "image_id,split,file,landmark,x,y,x_senior,y_senior,x_junior,y_junior,n_annotators"
    senior = load_datalist(root, ground_truth="senior")
    np.testing.assert_allclose(senior[0][Keys.LANDMARKS][0], a["landmarks"] + 0.5, atol=1e-4)
    assert senior[1][Keys.SPACING].tolist() == [0.1, 0.2]  # float64: the decimals of dataset.json
    with pytest.raises(DatasetError, match=r"choose one of \['mean', 'senior', 'junior'\]"):
        load_datalist(root, ground_truth="resident")


def test_split_selection_and_domain(tmp_path):
    root = write_toy(tmp_path / "ds", n=4)
    assert [it[Keys.SPLIT] for it in load_datalist(root, split="train")] == ["train", "train"]
    assert len(load_datalist(root, split=["train", "test1"])) == 4
    assert {it[Keys.DOMAIN] for it in load_datalist(root, domain=2)} == {2}
    with pytest.raises(
        DatasetError, match=r"split\(s\) \['test2'\] not in the dataset; available: \['test1', 'train'\]"
    ):
        load_datalist(root, split="test2")
    with pytest.raises(DatasetError, match="domain"):
        load_datalist(root, domain=-1)


# ------------------------------------------------------------------------------------------- atomicity


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_failure_on_third_sample_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    samples = [make_sample(1), make_sample(2), make_sample(3)]
    samples[2]["landmarks"] = samples[2]["landmarks"][:3]  # wrong landmark count
    with pytest.raises(DatasetError, match=r"sample '003' landmarks: expected 4 landmarks, got 3"):
        write_dataset(out / "ds", "toy", samples)
    assert leftovers(out) == []


def test_generator_error_leaves_nothing_and_keeps_old_dataset(tmp_path):
    root = write_toy(tmp_path / "ds")
    before = (root / "landmarks.csv").read_bytes()

    def failing():
        yield make_sample(1)
        yield make_sample(2)
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        write_dataset(root, "toy", failing(), overwrite=True)
    assert leftovers(tmp_path) == ["ds"] and (root / "landmarks.csv").read_bytes() == before


def test_overwrite_rules(tmp_path):
    root = write_toy(tmp_path / "ds")
    with pytest.raises(DatasetError, match="not empty; pass overwrite=True"):
        write_toy(root)
    write_dataset(root, "toy2", [make_sample(7)], overwrite=True)
    assert read_metadata(root)["name"] == "toy2" and len(load_datalist(root)) == 1
    assert leftovers(tmp_path) == ["ds"]
    other = tmp_path / "home"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="only replaces a dataset folder"):
        write_toy(other, overwrite=True)
    assert (other / "notes.txt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(load_datalist(write_toy(empty))) == 3


BAD_SAMPLES = {
    "bad id": (lambda s: s.update(image_id="../x"), "image_id must be a string of letters"),
    "int id": (lambda s: s.update(image_id=1), "image_id must be a string"),
    "missing key": (lambda s: s.pop("split"), r"missing key\(s\) \['split'\]"),
    "3-D image": (lambda s: s.update(image=np.zeros((W, H, 3), np.uint8)), "2-D"),
    "float range": (lambda s: s.update(image=np.full((W, H), 2.0)), r"in \[0, 1\]"),
    "int32 image": (lambda s: s.update(image=np.zeros((W, H), np.int32)), "dtype int32 not supported"),
    "missing file": (lambda s: s.update(image="/nonexistent/x.png"), "not found"),
    "outside": (lambda s: s["landmarks"].__setitem__((0, 0), W), "landmark 0 at .* lies outside"),
    "half NaN": (lambda s: s["landmarks"].__setitem__((0, 0), np.nan), "one NaN coordinate"),
    "inf": (lambda s: s["landmarks"].__setitem__((0, 0), np.inf), "finite"),
    "bad shape": (lambda s: s.update(landmarks=np.zeros((K, 3))), r"shape \(K, 2\)"),
    "annotator name": (lambda s: s.update(annotators={"x_1": s["landmarks"]}), "annotator name"),
}


@pytest.mark.parametrize("case", sorted(BAD_SAMPLES))
def test_write_rejects_bad_samples(tmp_path, case):
    edit, message = BAD_SAMPLES[case]
    samples = [make_sample(1), make_sample(2)]
    edit(samples[1])
    with pytest.raises(DatasetError, match=message):
        write_dataset(tmp_path / "ds", "toy", samples)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pixel_spacing_mm": 0}, "positive"),
        ({"pixel_spacing_mm": [0.1, -0.1]}, "positive"),
        ({"extra_metadata": {"name": "x"}}, "clash"),
        ({"extra_metadata": {"when": object()}}, "JSON-serialisable"),
        ({"landmark_names": list("abc")}, "expected 3 landmarks"),
    ],
)
def test_write_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(DatasetError, match=message):
        write_toy(tmp_path / "ds", **kwargs)
    assert leftovers(tmp_path) == []


def test_write_jpeg_stores_8_bit_jpeg_files_that_load(tmp_path):
    root = write_toy(tmp_path / "ds", image_format="jpeg")
    items = load_datalist(root)
    assert [Path(i["image"]).suffix for i in items] == [".jpg"] * 3
    with Image.open(items[0]["image"]) as img:
        assert img.format == "JPEG" and img.mode == "L" and img.size == (W, H)
    copied = write_dataset(tmp_path / "copy", "toy", [{**make_sample(1), "image": items[0]["image"]}],
                           image_format="jpeg")  # fmt: skip
    assert (copied / "images" / "001.jpg").read_bytes() == Path(items[0]["image"]).read_bytes()  # kept as is


@pytest.mark.parametrize(
    "kwargs, sample, message",
    [
        ({"image_format": "gif"}, {}, r"image_format must be one of \['jpeg', 'png'\], got 'gif'"),
        ({"image_format": "jpeg"}, {"image": np.zeros((W, H), np.uint16)}, r"sample '001'.*JPEG stores 8-bit"),
    ],
)
def test_write_jpeg_refuses_what_it_cannot_store(tmp_path, kwargs, sample, message):
    with pytest.raises(DatasetError, match=message):
        write_dataset(tmp_path / "ds", "toy", [{**make_sample(1), **sample}], **kwargs)
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


def test_write_rejects_duplicates_and_mixed_annotators(tmp_path):
    with pytest.raises(DatasetError, match="duplicate image_id"):
        write_dataset(tmp_path / "ds", "toy", [make_sample(1), make_sample(1)])
    mixed = [make_sample(1, annotators={"a": np.zeros((K, 2))}), make_sample(2)]
    with pytest.raises(DatasetError, match="annotators"):
        write_dataset(tmp_path / "ds", "toy", mixed)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------ validation

CSV_EDITS = {  # line 0 is the header, line 1 the first landmark row of image 001
    "missing column": (lambda ls: [",".join(ln.split(",")[:5]) for ln in ls], r"missing column\(s\) \['y'\]"),
    "not a number": (lambda ls: [ls[0], set_cell(ls[1], 4, "abc"), *ls[2:]], r"line 2: 'x' = 'abc' is not a number"),
    "nan text": (lambda ls: [ls[0], set_cell(ls[1], 4, "nan"), *ls[2:]], "leave both x and y empty"),
    "half empty": (lambda ls: [ls[0], set_cell(ls[1], 4, ""), *ls[2:]], "'x' is empty but the other"),
    "count": (lambda ls: [ls[0], *ls[2:]], r"image '001' has 3 landmark rows, expected num_landmarks = 4 .*\[0\]"),
    "duplicate row": (lambda ls: [*ls, ls[1]], r"duplicate row for image '001', landmark 0 \(first on line 2\)"),
    "other file": (lambda ls: [ls[0], set_cell(ls[1], 2, "images/002.png"), *ls[2:]], "one file per image id"),
    "other split": (
        lambda ls: [ls[0], set_cell(ls[1], 1, "test1"), *ls[2:]],
        "image .001. is in split .train. here, .test1. on line 2",
    ),
    "escape": (lambda ls: [ls[0], *(set_cell(ln, 2, "../x.png") for ln in ls[1:5]), *ls[5:]], "outside the dataset"),
    "absolute": (lambda ls: [ls[0], *(set_cell(ln, 2, "/etc/x.png") for ln in ls[1:5]), *ls[5:]], "must be a path rel"),
    "index": (lambda ls: [ls[0], set_cell(ls[1], 3, "9"), *ls[2:]], r"landmark index 9 outside \[0, 3\]"),
    "not index": (lambda ls: [ls[0], set_cell(ls[1], 3, "1.5"), *ls[2:]], "not an integer index"),
    "cells": (lambda ls: [ls[0], ls[1] + ",1", *ls[2:]], "line 2: 7 cells, the header has 6"),
    "empty": (lambda ls: ls[:1], "no landmark rows"),
}


@pytest.mark.parametrize("case", sorted(CSV_EDITS))
def test_load_rejects_bad_csv(tmp_path, case):
    root = write_toy(tmp_path / "ds")
    edit, message = CSV_EDITS[case]
    rewrite_csv(root, edit)
    with pytest.raises(DatasetError, match=message) as info:
        load_datalist(root)
    assert "landmarks.csv" in str(info.value) or "image '001'" in str(info.value)


def test_landmark_outside_its_image_loads_as_missing_with_a_warning(tmp_path):
    root = write_toy(tmp_path / "ds")
    rewrite_csv(root, lambda ls: [ls[0], set_cell(ls[1], 4, str(W)), *ls[2:]])
    with pytest.warns(OutsideImageWarning, match=rf"image '001' .*001.png\): landmark 0 at \({W}, .*\) lies outside"):
        items = load_datalist(root)
    points = items[0][Keys.LANDMARKS][0]
    assert len(items) == 3 and np.isnan(points[0]).all() and not np.isnan(points[1:]).any()
    with pytest.raises(DatasetError, match="landmark 0 at .* lies outside"):
        load_datalist(root, strict_bounds=True)


@pytest.mark.parametrize("x", [-1.0, -0.75, W - 0.25, W - 0.01])
def test_landmark_within_half_a_pixel_of_the_edge_is_inside(tmp_path, x):
    root = write_toy(tmp_path / "ds")
    rewrite_csv(root, lambda ls: [ls[0], set_cell(ls[1], 4, str(x)), *ls[2:]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideImageWarning)
        points = load_datalist(root, strict_bounds=True)[0][Keys.LANDMARKS][0]
    assert points[0, 0] == pytest.approx(x)


def test_empty_coordinates_are_missing_landmarks(tmp_path):
    root = write_toy(tmp_path / "ds")
    rewrite_csv(root, lambda ls: [ls[0], set_cell(set_cell(ls[1], 4, ""), 5, ""), *ls[2:]])
    points = load_datalist(root)[0][Keys.LANDMARKS][0]
    assert np.isnan(points[0]).all() and not np.isnan(points[1:]).any()


def test_bom_is_accepted_and_non_utf8_is_refused(tmp_path):
    root = write_toy(tmp_path / "ds")
    path = root / "landmarks.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(load_datalist(root)) == 3
    path.write_bytes(path.read_bytes().replace(b"train", "tr\xe4in".encode("latin-1"), 1))
    with pytest.raises(DatasetError, match="landmarks.csv: not UTF-8 text"):
        load_datalist(root)


JSON_EDITS = {
    "no name": ({"name": ...}, r"missing required key\(s\) \['name'\]"),
    "K bool": ({"num_landmarks": True}, "positive integer"),
    "K mismatch": ({"num_landmarks": 5}, "expected num_landmarks = 5"),
    "zero spacing": ({"pixel_spacing_mm": 0}, "positive and finite"),
    "negative spacing": ({"pixel_spacing_mm": [0.1, -1]}, "positive and finite"),
    "per-image spacing": ({"pixel_spacing_mm": {"001": 0.1}}, "no entry for image '002'"),
    "names": ({"landmark_names": ["a"]}, "list of 4 strings"),
}


@pytest.mark.parametrize("case", sorted(JSON_EDITS))
def test_load_rejects_bad_metadata(tmp_path, case):
    root = write_toy(tmp_path / "ds")
    changes, message = JSON_EDITS[case]
    rewrite_json(root, **changes)
    with pytest.raises(DatasetError, match=message):
        load_datalist(root)


def test_metadata_file_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"dataset.json: file not found"):
        read_metadata(tmp_path)
    (tmp_path / "dataset.json").write_text('{"name": "x",\n "num_landmarks": }')
    with pytest.raises(DatasetError, match="invalid JSON at line 2"):
        read_metadata(tmp_path)
    (tmp_path / "dataset.json").write_text('{"name": "x", "num_landmarks": 3}')
    assert read_metadata(tmp_path)["pixel_spacing_mm"] is None


def test_image_problems(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (W, H), dtype=np.uint8)  # so the PNG has a long body
    samples = [make_sample(i, "train" if i <= 2 else "test1", image=noise) for i in (1, 2, 3)]
    root = write_dataset(tmp_path / "ds", "toy", samples)
    png = root / "images/002.png"
    data = png.read_bytes()
    png.write_bytes(data[: len(data) // 2])  # truncated: the header still reads, the pixels do not
    assert len(load_datalist(root)) == 3
    with pytest.raises(DatasetError, match=r"image '002': .*002.png: cannot read pixel data"):
        load_datalist(root, verify_images=True)
    png.write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match=r"image '002': .*002.png: not a readable image"):
        load_datalist(root)
    png.unlink()
    with pytest.raises(DatasetError, match=r"image '002': file .*002.png not found \(landmarks.csv line 6\)"):
        load_datalist(root)
    assert len(load_datalist(root, split="test1")) == 1  # only the selected images are opened


# ------------------------------------------------------------------------------------------ real data


@pytest.mark.datasets
def test_real_isbi2015():
    root = dataset_path("isbi2015_ceph")
    items = load_datalist(root)
    assert len(items) == 300 and items[0][Keys.IMAGE_ID] == "001"
    assert [len(load_datalist(root, split=s)) for s in ("train", "test1")] == [150, 150]
    assert items[0][Keys.LANDMARKS].shape == (1, 19, 2)
    np.testing.assert_allclose(items[0][Keys.SPACING], [0.2, 0.2])
    senior, junior = (load_datalist(root, split="test1", ground_truth=g) for g in ("senior", "junior"))
    mean = (senior[0][Keys.LANDMARKS] + junior[0][Keys.LANDMARKS]) / 2
    np.testing.assert_allclose(mean, load_datalist(root, split="test1")[0][Keys.LANDMARKS], atol=2e-3)


@pytest.mark.datasets
def test_real_dha_hand_sample():
    root = dataset_path("dha_hand_sample")
    items = load_datalist(root)
    assert len(items) == 7 and items[0][Keys.LANDMARKS].shape == (1, 37, 2)
    assert np.isnan(items[0][Keys.SPACING]).all()


def test_overwrite_removes_only_what_earlier_writes_made(tmp_path):
    """A dataset with 3 images overwritten by one with 1: its own 2 extra images go, other files stay, also in a
    folder written before the manifest existed, and a manifest edited to name other files removes none of them."""
    root = write_toy(tmp_path / "ds")
    (tmp_path / "outside.txt").write_text("keep")
    (root / "images" / "mine.png").write_bytes(b"keep")
    manifest = root / ".written_by_write_dataset"
    manifest.write_text(manifest.read_text() + "../outside.txt\nimages/mine.png.bak\nnotes\n")
    write_dataset(root, "toy2", [make_sample(1)], overwrite=True)
    assert sorted(p.name for p in (root / "images").iterdir()) == ["001.png", "mine.png"]
    assert (tmp_path / "outside.txt").read_text() == "keep" and len(load_datalist(root)) == 1
    manifest.unlink()  # as a folder written by an older version
    (root / "notes.txt").write_text("keep")
    write_dataset(root, "toy3", [make_sample(2)], overwrite=True)
    assert sorted(p.name for p in (root / "images").iterdir()) == ["002.png", "mine.png"]
    assert (root / "notes.txt").read_text() == "keep" and read_metadata(root)["name"] == "toy3"
