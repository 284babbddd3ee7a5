"""Tests of the converters, each on tiny files written here in the source's original layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from monai_landmarks.data.converters import (
    convert_csv,
    convert_dha,
    convert_isbi2015,
    convert_labelme,
    convert_shenzhen,
    downsample_image,
    split_by_order,
)
from monai_landmarks.data.dataset_format import DatasetError, load_datalist, read_metadata
from monai_landmarks.utils.keys import Keys

W, H = 41, 31  # odd on purpose: downsampling by 2 drops the last column and row


def gradient(w: int = W, h: int = H) -> np.ndarray:
    """A (W, H) uint8 image whose value encodes its position."""
    x, y = np.meshgrid(np.arange(w), np.arange(h), indexing="ij")
    return (3 * x + 2 * y).astype(np.uint8)


def points_for(seed: int, k: int, w: int = W, h: int = H) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, [w - 1, h - 1], size=(k, 2)).astype(float)


def by_id(root: Path, **kwargs) -> dict:
    return {item[Keys.IMAGE_ID]: item for item in load_datalist(root, **kwargs)}


def png_array(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img).T  # (W, H)


def test_downsample_image_box_mean():
    image = np.arange(5 * 3, dtype=np.uint8).reshape(5, 3)
    out = downsample_image(image, 2)
    assert out.shape == (2, 1) and out.dtype == np.uint8
    assert out[1, 0] == np.rint(image[2:4, 0:2].mean())
    with pytest.raises(ValueError, match="positive integer"):
        downsample_image(image, 0)


def test_split_by_order():
    ids = ["c", "a", "d", "b", "e"]
    assert split_by_order(ids, {"train": 2, "val": 1, "test": None}) == {
        "a": "train", "b": "train", "c": "val", "d": "test", "e": "test",
    }  # fmt: skip
    with pytest.raises(ValueError, match="need 9 images"):
        split_by_order(ids, {"train": 9})
    with pytest.raises(ValueError, match="only the last split"):
        split_by_order(ids, {"train": None, "test": 1})


# ---------------------------------------------------------------------------------------------- ISBI 2015

ISBI_IDS = {"TrainingData": ["001", "002"], "Test1Data": ["151"]}


def make_isbi(root: Path, annotators=("senior", "junior")) -> dict:
    """RawImage/<split>/<id>.bmp (gray in three channels) and AnnotationsByMD/400_<a>/<id>.txt."""
    truth = {}
    for folder, ids in ISBI_IDS.items():
        (root / "RawImage" / folder).mkdir(parents=True, exist_ok=True)
        for image_id in ids:
            gray = gradient().T
            Image.fromarray(np.dstack([gray] * 3)).save(root / "RawImage" / folder / f"{image_id}.bmp")
            for a, annotator in enumerate(annotators):
                pts = points_for(int(image_id) * 10 + a, 19)
                truth[image_id, annotator] = pts
                lines = [f"{int(x)},{int(y)}" for x, y in pts] + ["3", "1", "2"]  # trailing class labels ignored
                path = root / "AnnotationsByMD" / f"400_{annotator}" / f"{image_id}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("\n".join(lines) + "\n")
    return truth


def test_isbi2015_mean_ground_truth(tmp_path):
    truth = make_isbi(tmp_path / "src")
    root = convert_isbi2015(tmp_path / "src", tmp_path / "out")
    items = by_id(root)
    assert sorted(items) == ["001", "002", "151"] and items["151"][Keys.SPLIT] == "test1"
    mean = (truth["002", "senior"] + truth["002", "junior"]) / 2
    np.testing.assert_allclose(items["002"][Keys.LANDMARKS][0], mean)
    np.testing.assert_allclose(by_id(root, ground_truth="junior")["002"][Keys.LANDMARKS][0], truth["002", "junior"])
    np.testing.assert_allclose(items["001"][Keys.SPACING], [0.1, 0.1])
    np.testing.assert_array_equal(png_array(items["001"][Keys.IMAGE]), gradient())
    meta = read_metadata(root)
    assert meta["num_landmarks"] == 19 and meta["landmark_names"][0] == "Sella"
    assert meta["original_size_wh"] == [W, H] and meta["annotators"] == ["senior", "junior"]


def test_isbi2015_downsample_and_senior_only(tmp_path):
    truth = make_isbi(tmp_path / "src", annotators=("senior",))
    root = convert_isbi2015(tmp_path / "src", tmp_path / "out", ground_truth="senior", downsample=2, splits=["train"])
    items = by_id(root)
    assert sorted(items) == ["001", "002"]
    np.testing.assert_allclose(items["001"][Keys.LANDMARKS][0], (truth["001", "senior"] + 0.5) / 2 - 0.5, atol=1e-4)
    np.testing.assert_allclose(items["001"][Keys.SPACING], [0.2, 0.2])
    image = png_array(items["001"][Keys.IMAGE])
    assert image.shape == (20, 15)
    assert image[3, 4] == np.rint(gradient()[6:8, 8:10].mean())
    assert read_metadata(root)["csv_columns"][-2:] == ["x_senior", "y_senior"]
    with pytest.raises(DatasetError, match="400_junior: annotation folder not found"):
        convert_isbi2015(tmp_path / "src", tmp_path / "out2")


@pytest.mark.parametrize(
    "edit, error, message",
    [
        (lambda p: p.unlink(), DatasetError, r"002.txt: annotation file not found"),
        (lambda p: p.write_text("1,2\n" * 18), DatasetError, r"002.txt: 18 lines, expected at least 19"),
        (
            lambda p: p.write_text("1,2\n" * 4 + "1;2\n" + "1,2\n" * 14),
            DatasetError,
            r"002.txt, line 5: expected 'x,y'",
        ),
        (lambda p: p.write_text("1,2\n" * 6 + "1,z\n" + "1,2\n" * 12), DatasetError, r"002.txt, line 7: 'z' is not a"),
    ],
)
def test_isbi2015_bad_annotations(tmp_path, edit, error, message):
    make_isbi(tmp_path / "src")
    edit(tmp_path / "src/AnnotationsByMD/400_junior/002.txt")
    with pytest.raises(error, match=message):
        convert_isbi2015(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_isbi2015_failure_while_writing_leaves_nothing(tmp_path):
    make_isbi(tmp_path / "src")
    path = tmp_path / "src/AnnotationsByMD/400_senior/151.txt"  # the third image: written after the first two
    path.write_text(path.read_text().replace(path.read_text().split("\n")[0], "900,5", 1))
    with pytest.raises(DatasetError, match=r"sample '151' .*outside"):
        convert_isbi2015(tmp_path / "src", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_isbi2015_bad_arguments(tmp_path):
    make_isbi(tmp_path / "src")
    with pytest.raises(ValueError, match=r"ground_truth must be one of \['mean', 'senior', 'junior'\]"):
        convert_isbi2015(tmp_path / "src", tmp_path / "out", ground_truth="challenge")
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'test1', 'test2'\]"):
        convert_isbi2015(tmp_path / "src", tmp_path / "out", splits=["val"])
    with pytest.raises(DatasetError, match="Test2Data: folder not found for requested split 'test2'"):
        convert_isbi2015(tmp_path / "src", tmp_path / "out", splits=["test2"])
    with pytest.raises(DatasetError, match=r"no \.bmp images"):
        convert_isbi2015(tmp_path / "empty", tmp_path / "out")


# -------------------------------------------------------------------------------------- Digital Hand Atlas


def make_dha(root: Path) -> dict:
    """images/<id>.mha (3D, one slice, like Payer's) and setup/all.csv (no header: id, 37 x,y pairs)."""
    (root / "images").mkdir(parents=True)
    (root / "setup").mkdir()
    truth = {i: points_for(int(i), 37) for i in ("3142", "5000", "5001", "9999")}
    for image_id in ("3142", "5000", "5001"):  # 9999 has a row but no image, as most rows of the public CSV
        image = sitk.GetImageFromArray(gradient().T[None])
        image.SetSpacing((0.108, 0.108, 0.108))
        sitk.WriteImage(image, str(root / "images" / f"{image_id}.mha"))
    rows = [",".join([i, *(f"{v:g}" for v in p.ravel())]) for i, p in truth.items()]
    (root / "setup/all.csv").write_text("\n".join(rows) + "\n")
    return truth


def test_dha(tmp_path):
    truth = make_dha(tmp_path / "src")
    root = convert_dha(
        tmp_path / "src/setup/all.csv", tmp_path / "src/images", tmp_path / "out", splits={"5001": "test"}
    )
    items = by_id(root)
    assert sorted(items) == ["5000", "5001"] and items["5001"][Keys.SPLIT] == "test"  # 3142 dropped by default
    np.testing.assert_allclose(items["5000"][Keys.LANDMARKS][0], truth["5000"])
    assert np.isnan(items["5000"][Keys.SPACING]).all()
    np.testing.assert_array_equal(png_array(items["5000"][Keys.IMAGE]), gradient())
    meta = read_metadata(root)
    assert meta["pixel_spacing_mm"] is None and meta["num_landmarks"] == 37
    assert meta["wrist_normalisation"] == {"pair": [0, 4], "width_mm": 50.0}
    width = np.linalg.norm(truth["5000"][0] - truth["5000"][4])
    assert meta["wrist_width_original_px"]["5000"] == pytest.approx(width, abs=1e-3)
    assert meta["excluded_ids"] == ["3142"]


def test_dha_downsample_and_missing_rows(tmp_path):
    truth = make_dha(tmp_path / "src")
    csv_file, images = tmp_path / "src/setup/all.csv", tmp_path / "src/images"
    root = convert_dha(csv_file, images, tmp_path / "out", exclude=(), downsample=2, wrist_pair=(1, 5))
    items = by_id(root)
    assert sorted(items) == ["3142", "5000", "5001"]
    np.testing.assert_allclose(items["3142"][Keys.LANDMARKS][0], (truth["3142"] + 0.5) / 2 - 0.5, atol=1e-4)
    lines = csv_file.read_text().splitlines()
    csv_file.write_text("\n".join(ln for ln in lines if not ln.startswith("5001")) + "\n")
    with pytest.raises(DatasetError, match=r"no landmark row for image\(s\) \['5001'\]"):
        convert_dha(csv_file, images, tmp_path / "out2")
    assert sorted(by_id(convert_dha(csv_file, images, tmp_path / "out2", on_missing="skip"))) == ["5000"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ln: ln.rsplit(",", 1)[0], r"all.csv, line 2: 74 cells, expected an image id and 37 x,y pairs"),
        (lambda ln: ln.replace(",", ",x", 1), r"all.csv, line 2, column 2: 'x\d+' is not a number"),
    ],
)
def test_dha_bad_csv(tmp_path, edit, message):
    make_dha(tmp_path / "src")
    csv_file = tmp_path / "src/setup/all.csv"
    lines = csv_file.read_text().splitlines()
    csv_file.write_text("\n".join([lines[0], edit(lines[1]), *lines[2:]]) + "\n")
    with pytest.raises(DatasetError, match=message):
        convert_dha(csv_file, tmp_path / "src/images", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_dha_bad_arguments(tmp_path):
    make_dha(tmp_path / "src")
    args = (tmp_path / "src/setup/all.csv", tmp_path / "src/images", tmp_path / "out")
    with pytest.raises(ValueError, match="wrist_pair"):
        convert_dha(*args, wrist_pair=(4, 4))
    with pytest.raises(ValueError, match="wrist_width_mm must be positive"):
        convert_dha(*args, wrist_width_mm=0)
    with pytest.raises(ValueError, match=r"on_missing must be one of \['error', 'skip'\]"):
        convert_dha(*args, on_missing="ignore")
    csv_file = args[0]
    csv_file.write_text(csv_file.read_text() + csv_file.read_text().splitlines()[1] + "\n")
    with pytest.raises(DatasetError, match=r"line 5: image '5000' appears twice"):
        convert_dha(*args)


# ------------------------------------------------------------------------------------------------- Shenzhen

CHEST_IDS = ("CHNCXR_0001_0", "CHNCXR_0002_0", "CHNCXR_0003_0")


def make_shenzhen(root: Path) -> dict:
    """pngs/<name>.png and labels/<name>.txt: a count line, then 'rx ry' ratio lines, as GU2Net reads them."""
    (root / "pngs").mkdir(parents=True)
    (root / "labels").mkdir()
    ratios = {}
    for n, name in enumerate(CHEST_IDS):
        Image.fromarray(gradient().T).save(root / "pngs" / f"{name}.png")
        ratios[name] = np.random.default_rng(n).uniform(0.05, 0.95, size=(6, 2))
        lines = ["6", *(f"{rx:.6f} {ry:.6f}" for rx, ry in ratios[name])]
        (root / "labels" / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return ratios


def test_shenzhen_conventions(tmp_path):
    ratios = make_shenzhen(tmp_path / "src")
    splits = split_by_order(CHEST_IDS, {"train": 1, "val": 1, "test": None})
    root = convert_shenzhen(tmp_path / "src/pngs", tmp_path / "src/labels", tmp_path / "out", splits=splits)
    items = by_id(root)
    assert [items[i][Keys.SPLIT] for i in CHEST_IDS] == ["train", "val", "test"]
    expected = ratios[CHEST_IDS[0]] * [W, H] - 0.5
    np.testing.assert_allclose(items[CHEST_IDS[0]][Keys.LANDMARKS][0], expected, atol=1e-4)
    gu2net = convert_shenzhen(tmp_path / "src/pngs", tmp_path / "src/labels", tmp_path / "g", convention="gu2net")
    np.testing.assert_allclose(by_id(gu2net)[CHEST_IDS[0]][Keys.LANDMARKS][0], expected + 0.5, atol=1e-4)
    assert read_metadata(root)["pixel_spacing_mm"] is None


@pytest.mark.parametrize(
    "content, message",
    [
        ("5\n" + "0.5 0.5\n" * 5, r"0001_0.txt, line 1: 5 landmarks, expected 6"),
        ("six\n", r"0001_0.txt, line 1: expected the number of landmarks"),
        ("6\n" + "0.5 0.5\n" * 3, r"0001_0.txt: 3 coordinate lines, expected 6"),
        ("6\n0.5 0.5\n0.5\n" + "0.5 0.5\n" * 4, r"0001_0.txt, line 3: expected two numbers"),
        ("6\n0.5 0.5\n0.5 a\n" + "0.5 0.5\n" * 4, r"0001_0.txt, line 3: 'a' is not a number"),
    ],
)
def test_shenzhen_bad_labels(tmp_path, content, message):
    make_shenzhen(tmp_path / "src")
    (tmp_path / "src/labels" / f"{CHEST_IDS[0]}.txt").write_text(content)
    with pytest.raises(DatasetError, match=message):
        convert_shenzhen(tmp_path / "src/pngs", tmp_path / "src/labels", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_shenzhen_missing_label(tmp_path):
    make_shenzhen(tmp_path / "src")
    (tmp_path / "src/labels" / f"{CHEST_IDS[1]}.txt").unlink()
    args = (tmp_path / "src/pngs", tmp_path / "src/labels")
    with pytest.raises(DatasetError, match=r"no label file for image\(s\) \['CHNCXR_0002_0'\]"):
        convert_shenzhen(*args, tmp_path / "out")
    assert len(load_datalist(convert_shenzhen(*args, tmp_path / "out", on_missing="skip"))) == 2
    with pytest.raises(ValueError, match=r"convention must be one of \['corner', 'gu2net'\]"):
        convert_shenzhen(*args, tmp_path / "out2", convention="centre")


# -------------------------------------------------------------------------------------------------- labelme


def labelme_doc(points: dict, image_path: str, w: int = W, h: int = H) -> dict:
    shapes = [{"label": k, "points": [list(v)], "shape_type": "point"} for k, v in points.items()]
    shapes.append({"label": "outline", "points": [[1, 1], [2, 2], [3, 1]], "shape_type": "polygon"})  # ignored
    return {"version": "5.0.1", "shapes": shapes, "imagePath": image_path, "imageData": None,
            "imageHeight": h, "imageWidth": w}  # fmt: skip


def make_labelme(root: Path) -> dict:
    root.mkdir(parents=True)
    truth = {}
    for n, image_id in enumerate(("001", "002")):
        Image.fromarray(gradient().T).save(root / f"{image_id}.png")
        labels = {f"l{i}": tuple(points_for(n, 10)[i - 1] + 0.5) for i in range(1, 11)}
        if image_id == "002":
            del labels["l10"]  # not annotated
        truth[image_id] = labels
        (root / f"{image_id}.json").write_text(json.dumps(labelme_doc(labels, f"{image_id}.png")))
    return truth


def test_labelme(tmp_path):
    truth = make_labelme(tmp_path / "src")
    root = convert_labelme(tmp_path / "src", tmp_path / "out", name="toy", pixel_spacing_mm=0.1, downsample=1)
    items = by_id(root)
    meta = read_metadata(root)
    assert meta["landmark_names"] == [f"l{i}" for i in range(1, 11)]  # natural order: l2 before l10
    points = items["001"][Keys.LANDMARKS][0]
    np.testing.assert_allclose(points[1], np.asarray(truth["001"]["l2"]) - 0.5)  # corner origin -> pixel centres
    assert np.isnan(items["002"][Keys.LANDMARKS][0, 9]).all()
    np.testing.assert_allclose(items["001"][Keys.SPACING], [0.1, 0.1])
    half = by_id(convert_labelme(tmp_path / "src", tmp_path / "half", name="toy", pixel_spacing_mm=0.1, downsample=2))
    u = np.asarray(truth["001"]["l2"])
    np.testing.assert_allclose(half["001"][Keys.LANDMARKS][0, 1], u / 2 - 0.5, atol=1e-4)  # hamedan_ceph's rule
    np.testing.assert_allclose(half["001"][Keys.SPACING], [0.2, 0.2])
    order = [f"l{i}" for i in range(10, 0, -1)]
    reverse = convert_labelme([tmp_path / "src/001.json"], tmp_path / "rev", name="rev", label_map=order)
    np.testing.assert_allclose(by_id(reverse)["001"][Keys.LANDMARKS][0, 8], points[1])


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda d: d["shapes"].append(dict(d["shapes"][0])),
            r"002.json: shape \d+ \(label 'l1'\): label appears twice",
        ),
        (lambda d: d.update(imageWidth=W + 1), r"002.json: imageWidth x imageHeight 42 x 31 differ"),
        (lambda d: d.update(imagePath="gone.png"), r"002.json: image .*gone.png not found"),
        (lambda d: d["shapes"][0].update(points=[[1, 2, 3]]), r"needs 'points': \[\[x, y\]\]"),
        (lambda d: d["shapes"][0].update(label="l99"), r"label\(s\) \['l99'\] not in label_map"),
    ],
)
def test_labelme_errors(tmp_path, edit, message):
    make_labelme(tmp_path / "src")
    path = tmp_path / "src/002.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    label_map = [f"l{i}" for i in range(1, 11)]
    with pytest.raises(DatasetError, match=message):
        convert_labelme(tmp_path / "src", tmp_path / "out", name="toy", label_map=label_map)
    assert not (tmp_path / "out").exists()


def test_labelme_invalid_json(tmp_path):
    make_labelme(tmp_path / "src")
    (tmp_path / "src/002.json").write_text("{not json")
    with pytest.raises(DatasetError, match="002.json: not a valid UTF-8 JSON file"):
        convert_labelme(tmp_path / "src", tmp_path / "out", name="toy")


# ------------------------------------------------------------------------------------------------------ CSV


def make_images(root: Path, names=("a.png", "b.png")) -> None:
    root.mkdir(parents=True)
    for name in names:
        Image.fromarray(gradient().T).save(root / name)


def test_csv_long_and_wide(tmp_path):
    make_images(tmp_path / "img")
    long = tmp_path / "long.csv"
    long.write_text("file,idx,x,y,split\na.png,0,1.5,2.5,train\na.png,2,3,4,train\nb.png,1,5,6,test\nb.png,0,,,test\n")
    cols = {"image": "file", "landmark": "idx"}
    root = convert_csv(long, tmp_path / "img", tmp_path / "out", name="toy", columns=cols, offset=-0.5)
    items = by_id(root)
    assert items["a"][Keys.SPLIT] == "train" and items["b"][Keys.SPLIT] == "test"
    np.testing.assert_allclose(items["a"][Keys.LANDMARKS][0], [[1, 2], [np.nan, np.nan], [2.5, 3.5]])
    np.testing.assert_allclose(items["b"][Keys.LANDMARKS][0, 1], [4.5, 5.5])
    wide = tmp_path / "wide.csv"
    wide.write_text("image,x0,y0,x1,y1\na.png,1,2,3,4\nb.png,5,6,,\n")
    root = convert_csv(wide, tmp_path / "img", tmp_path / "wide", name="toy", layout="wide", downsample=2)
    items = by_id(root)
    assert items["a"][Keys.SPLIT] == "train"
    np.testing.assert_allclose(items["a"][Keys.LANDMARKS][0], ([[1, 2], [3, 4]] + np.float32(0.5)) / 2 - 0.5)
    assert np.isnan(items["b"][Keys.LANDMARKS][0, 1]).all()


@pytest.mark.parametrize(
    "content, layout, message",
    [
        ("image,x,y\na.png,1,2\n", "long", r"long.csv: missing column\(s\) \['landmark'\]"),
        ("image,landmark,x,y\na.png,0,1,zz\n", "long", r"long.csv, line 2: 'zz' is not a number"),
        ("image,landmark,x,y\na.png,0,1,2\na.png,0,1,2\n", "long", r"line 3: duplicate row for image 'a.png'"),
        ("image,landmark,x,y\nc.png,0,1,2\n", "long", r"line 2: image .*c.png not found"),
        ("image,landmark,x,y\na.png,x,1,2\n", "long", r"line 2: landmark 'x' is not an integer index"),
        ("image,x0,y0\na.png,1,2\na.png,1,2\n", "wide", r"line 3: image 'a.png' repeated"),
        ("image,x,y\na.png,1,2\n", "wide", r"no 'x0', 'y0' columns"),
        ("image,landmark,x,y,split\na.png,0,1,2,train\na.png,1,1,2,test\n", "long", r"line 3: split 'test' differs"),
    ],
)
def test_csv_errors(tmp_path, content, layout, message):
    make_images(tmp_path / "img")
    (tmp_path / "long.csv").write_text(content)
    with pytest.raises(DatasetError, match=message):
        convert_csv(tmp_path / "long.csv", tmp_path / "img", tmp_path / "out", name="toy", layout=layout)
    assert not (tmp_path / "out").exists()


def test_csv_bad_arguments(tmp_path):
    make_images(tmp_path / "img")
    (tmp_path / "t.csv").write_text("image,landmark,x,y\na.png,0,1,2\n")
    with pytest.raises(ValueError, match=r"layout must be one of \['long', 'wide'\]"):
        convert_csv(tmp_path / "t.csv", tmp_path / "img", tmp_path / "out", name="toy", layout="tall")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['row'\]"):
        convert_csv(tmp_path / "t.csv", tmp_path / "img", tmp_path / "out", name="toy", columns={"row": "r"})
