"""The prediction writer: spacing precedence (--spacing, dataset, header for physical formats, with the DICOM tag
recorded), the run's long CSV, and overlays with numbers and a legend."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from monai.transforms import LoadImage
from PIL import Image

from monai_landmarks.data.image_reader import SITKReader
from monai_landmarks.handlers import LandmarkPredictionWriter
from monai_landmarks.handlers.prediction_table import CSV_COLUMNS
from tests.analysis.test_cephalometry import FACE as CEPH_FACE

NAMES = ["sella", "nasion", "orbitale"]
POINTS = torch.tensor([[[10.0, 5.0], [20.0, 8.0], [30.5, 12.25]]])


def _sample(path, **extra):
    image = LoadImage(reader=SITKReader(), ensure_channel_first=True)(str(path))
    return {"image": image, "pred_landmarks": POINTS, "confidence": torch.tensor([[0.9, 0.5, 0.1]]), **extra}


def _mha(path, spacing):
    img = sitk.GetImageFromArray(np.random.default_rng(0).integers(0, 255, (24, 40), dtype=np.uint8))
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


def _png(path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 40), dtype=np.uint8)).save(path)
    return path


def test_header_spacing_of_physical_formats_and_its_source(tmp_path):
    writer = LandmarkPredictionWriter(tmp_path / "out", NAMES, overlay=False)
    record = json.loads(writer.write(_sample(_mha(tmp_path / "a.mha", (0.5, 0.25)))).read_text())
    assert record["spacing_mm"] == [0.5, 0.25] and record["spacing_source"] == "header"
    assert record["landmarks"][2]["x_mm"] == pytest.approx(15.25) and record["landmarks"][2]["y_mm"] == 3.0625


def test_png_header_is_not_millimetres(tmp_path):
    writer = LandmarkPredictionWriter(tmp_path / "out", NAMES, overlay=False)
    record = json.loads(writer.write(_sample(_png(tmp_path / "a.png"))).read_text())
    assert record["spacing_mm"] is None and record["spacing_source"] is None
    assert "x_mm" not in record["landmarks"][0]


def test_override_then_dataset_then_header(tmp_path):
    path = _mha(tmp_path / "a.mha", (0.5, 0.25))
    record = json.loads(
        LandmarkPredictionWriter(tmp_path / "o1", NAMES, spacing=0.1, overlay=False).write(_sample(path)).read_text()
    )
    assert record["spacing_mm"] == [0.1, 0.1] and record["spacing_source"] == "--spacing"
    sample = _sample(path, spacing=torch.tensor([0.2, 0.3], dtype=torch.float64))
    record = json.loads(LandmarkPredictionWriter(tmp_path / "o2", NAMES, overlay=False).write(sample).read_text())
    assert record["spacing_mm"] == [0.2, 0.3] and record["spacing_source"] == "dataset"
    sample = _sample(path, spacing=torch.tensor([float("nan")] * 2))  # a dataset without spacing: the header's
    record = json.loads(LandmarkPredictionWriter(tmp_path / "o3", NAMES, overlay=False).write(sample).read_text())
    assert record["spacing_source"] == "header"


def test_dicom_tag_is_recorded(tmp_path):
    pytest.importorskip("pydicom")
    from tests.dicom_files import write_dicom

    pixels = (np.arange(24 * 40).reshape(24, 40) % 700).astype(np.uint16)
    path = write_dicom(tmp_path / "xray", pixels, {"ImagerPixelSpacing": [0.2, 0.1]})  # row \ column
    record = json.loads(LandmarkPredictionWriter(tmp_path / "out", NAMES).write(_sample(path)).read_text())
    assert record["spacing_mm"] == [0.1, 0.2]
    assert record["spacing_source"] == "header: ImagerPixelSpacing (0018,1164)"
    assert record["landmarks"][1]["x_mm"] == pytest.approx(2.0) and record["landmarks"][1]["y_mm"] == 1.6


def test_one_long_csv_for_the_run_and_a_new_one_for_the_next(tmp_path):
    out = tmp_path / "out"
    writer = LandmarkPredictionWriter(out, NAMES, spacing=0.5, overlay=False)
    for name in ("a", "b"):
        writer.write(_sample(_png(tmp_path / f"{name}.png")))
    writer.finish()
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 6
    assert [r["image_id"] for r in rows] == ["a.png"] * 3 + ["b.png"] * 3
    assert rows[5]["name"] == "orbitale" and rows[5]["landmark"] == "2"
    assert float(rows[5]["x"]) == 30.5 and float(rows[5]["y_mm"]) == 6.125
    assert float(rows[5]["confidence"]) == pytest.approx(0.1)
    assert rows[0]["spacing_source"] == "--spacing"
    before = (out / "predictions.csv").read_bytes()
    second = LandmarkPredictionWriter(out, NAMES, overlay=False)  # a second run
    second.write(_sample(tmp_path / "a.png"))
    assert second.finish() and json.loads((out / "predict_summary.json").read_text())["table"] == "predictions_2.csv"
    assert (out / "predictions.csv").read_bytes() == before  # the first run's table is left alone
    with open(out / "predictions_2.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and rows[0]["x_mm"] == "" and rows[0]["spacing_source"] == ""


def test_overlay_has_numbers_and_a_legend(tmp_path):
    path = _png(tmp_path / "a.png")
    LandmarkPredictionWriter(tmp_path / "out", NAMES, table=False).write(_sample(path))
    picture = np.asarray(Image.open(tmp_path / "out" / "a.png.png"))
    assert picture.shape[1] > 40 + 40 and picture.shape[0] >= 3 * 11  # a legend panel beside the image
    panel = picture[:, 40:]
    assert (panel != (24, 24, 24)).any(axis=-1).sum() > 50  # legend text drawn on the dark panel
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_a_killed_run_s_files_may_be_replaced_and_no_one_else_s(tmp_path):
    out = tmp_path / "out"
    first = LandmarkPredictionWriter(out, NAMES, overlay=False)
    first.write(_sample(_png(tmp_path / "a.png")))
    first.lock.release()  # killed before its summary
    assert not (out / "predict_summary.json").exists()
    (out / "c.png.json").write_text("mine")
    second = LandmarkPredictionWriter(out, NAMES, overlay=False)
    assert second.write(_sample(tmp_path / "a.png")) == out / "a.png.json"  # the killed run's file, from the journal
    with pytest.raises(FileExistsError, match="c.png.json: exists and was not written by a predict run"):
        second.write(_sample(_png(tmp_path / "c.png")))
    assert (out / "c.png.json").read_text() == "mine"


def test_a_failed_overlay_takes_its_json_and_rows_with_it(tmp_path, monkeypatch):
    import errno

    out = tmp_path / "out"
    write_overlay = LandmarkPredictionWriter._write_overlay

    def full_disk(path, file, record):
        if path.name == "b.png.png":
            raise OSError(errno.ENOSPC, "No space left on device")
        write_overlay(path, file, record)

    monkeypatch.setattr(LandmarkPredictionWriter, "_write_overlay", staticmethod(full_disk))
    writer = LandmarkPredictionWriter(out, NAMES)
    writer.write(_sample(_png(tmp_path / "a.png")))
    with pytest.raises(OSError, match="No space left"):
        writer.write(_sample(_png(tmp_path / "b.png")))
    summary = json.loads(writer.finish(complete=False).read_text())
    assert [o["json"] for o in summary["outputs"]] == ["a.png.json"] and not (out / "b.png.json").exists()
    with open(out / "predictions.csv", newline="") as f:
        assert {r["image_id"] for r in csv.DictReader(f)} == {"a.png"}


def test_landmarks_off_the_image_are_flagged_with_confidence_zero():
    from monai_landmarks.handlers import prediction_record

    points = torch.tensor([[-0.6, 5.0], [39.5, 23.5], [5.0, 23.6], [float("nan"), float("nan")]])
    record = prediction_record(points, torch.full((4,), 0.8), [0.1, 0.1], image_size=(40, 24))
    assert [lm["outside_image"] for lm in record["landmarks"]] == [True, False, True, False]
    assert [lm["confidence"] for lm in record["landmarks"]] == pytest.approx([0.0, 0.8, 0.0, 0.8])
    assert record["landmarks"][0]["x"] == pytest.approx(-0.6)  # the position is kept for the reviewer
    assert record["num_outside_image"] == 2 and record["image_size"] == [40, 24]


def test_an_assumed_spacing_is_recorded_but_gives_no_millimetres():
    from monai_landmarks.handlers import prediction_record

    record = prediction_record(POINTS, spacing=0.2, spacing_source="assumed: bundle default (0.2 mm)")
    assert record["spacing_mm"] == [0.2, 0.2] and record["spacing_source"] == "assumed: bundle default (0.2 mm)"
    assert all("x_mm" not in lm for lm in record["landmarks"])


def test_measurements_of_the_bundle_analysis_go_into_the_record():
    from monai_landmarks.analysis import MEASUREMENTS
    from monai_landmarks.handlers import prediction_record

    rng = np.random.default_rng(0)
    points = rng.uniform(100, 900, (19, 2))
    plain = prediction_record(points, image_size=(1000, 1000))
    assert "measurements" not in plain  # a bundle without an analysis writes none
    record = prediction_record(points, spacing=0.1, image_size=(1000, 1000), analysis="cephalometry",
                               spacing_source="--spacing")  # fmt: skip
    assert [m["name"] for m in record["measurements"]] == list(MEASUREMENTS)
    assert all(m["value"] is not None for m in record["measurements"])
    # gonion (9) off the image: the measurements that use it have no value and say why, the others keep theirs
    points[9] = (-50.0, 500.0)
    off = {
        m["name"]: m
        for m in prediction_record(
            points, spacing=0.1, image_size=(1000, 1000), analysis="cephalometry", spacing_source="--spacing"
        )["measurements"]
    }
    assert off["FMA"]["value"] is None and "9 (gonion)" in off["FMA"]["reason"]
    assert off["SNA"]["value"] is not None
    # an assumed spacing gives no millimetres: MW has no value
    assumed = prediction_record(points, spacing=0.2, image_size=(1000, 1000), analysis="cephalometry",
                                spacing_source="assumed: bundle default (0.2 mm)")  # fmt: skip
    assert next(m for m in assumed["measurements"] if m["name"] == "MW")["value"] is None


def test_an_unknown_analysis_is_refused_by_the_writer(tmp_path):
    with pytest.raises(ValueError, match="unknown analysis 'ceph'"):
        LandmarkPredictionWriter(tmp_path / "out", NAMES, analysis="ceph")


FACE = CEPH_FACE / 2  # the ISBI 2015 mean shape at half size: every measurement is defined on it


def _face_sample(path, points=FACE):
    image = LoadImage(reader=SITKReader(), ensure_channel_first=True)(str(path))
    return {"image": image, "pred_landmarks": torch.as_tensor(points, dtype=torch.float32)[None]}


def _big_png(path, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 80, (520, 440), dtype=np.uint8)).save(path)
    return path


def test_measurements_csv_has_a_row_per_image_and_measurement_and_is_journaled(tmp_path):
    from monai_landmarks.analysis import MEASUREMENTS
    from monai_landmarks.handlers.prediction_table import MEASUREMENT_COLUMNS

    out = tmp_path / "out"
    writer = LandmarkPredictionWriter(out, overlay=False, spacing=0.1, analysis="cephalometry")
    a = json.loads(writer.write(_face_sample(_big_png(tmp_path / "a.png"))).read_text())
    missing = FACE.copy()
    missing[9] = np.nan  # gonion: FMA, FHI and ODI have no value, and say why
    writer.write(_face_sample(_big_png(tmp_path / "b.png", 1), missing))
    summary = json.loads(writer.finish().read_text())
    assert summary["measurements_table"] == "measurements.csv" and summary["table"] == "predictions.csv"
    with open(out / "measurements.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == MEASUREMENT_COLUMNS
        rows = list(reader)
    expected = [(i, m) for i in ("a.png", "b.png") for m in MEASUREMENTS]
    assert [(r["image_id"], r["measurement"]) for r in rows] == expected
    by_name = {m["name"]: m for m in a["measurements"]}
    for row in rows[:8]:  # the JSON's values, units, classes and landmarks
        m = by_name[row["measurement"]]
        assert float(row["value"]) == pytest.approx(m["value"]) and row["unit"] == m["unit"] and row["reason"] == ""
        assert row["class"] == str(m["class"]) and row["class_label"] == m["class_label"]
        assert row["landmarks"] == " ".join(map(str, m["landmarks"]))
    fma = rows[8 + MEASUREMENTS.index("FMA")]
    assert fma["value"] == "" and fma["class"] == "" and "9 (gonion)" in fma["reason"]
    journal = [json.loads(line).get("file") for line in (out / "predict_journal.jsonl").read_text().splitlines()]
    assert "measurements.csv" in journal and "predictions.csv" in journal
    # the next run gets its own table; the first run's is kept
    again = LandmarkPredictionWriter(out, overlay=False, analysis="cephalometry")
    again.write(_face_sample(tmp_path / "a.png"))
    assert json.loads(again.finish().read_text())["measurements_table"] == "measurements_2.csv"
    assert len((out / "measurements.csv").read_text().splitlines()) == 17


def test_a_bundle_without_an_analysis_writes_no_measurements_csv(tmp_path):
    writer = LandmarkPredictionWriter(tmp_path / "out", NAMES, overlay=False)
    writer.write(_sample(_png(tmp_path / "a.png")))
    assert "measurements_table" not in json.loads(writer.finish().read_text())
    assert sorted(p.name for p in (tmp_path / "out").glob("*.csv")) == ["predictions.csv"]
    with pytest.raises(ValueError, match="declares no clinical analysis"):
        LandmarkPredictionWriter(tmp_path / "o2", NAMES, draw_measurements=True)


def test_draw_measurements_draws_each_measurements_lines(tmp_path):
    from monai_landmarks.utils.overlay import MEASUREMENT

    pictures = {}
    for draw in (False, True):
        writer = LandmarkPredictionWriter(tmp_path / f"out{draw}", analysis="cephalometry", draw_measurements=draw)
        writer.write(_face_sample(_big_png(tmp_path / "a.png")))
        writer.finish()
        pictures[draw] = np.asarray(Image.open(tmp_path / f"out{draw}" / "a.png.png").convert("RGB"))
    drawn = (pictures[True][:520, :440] == MEASUREMENT).all(axis=-1)
    assert not (pictures[False][:520, :440] == MEASUREMENT).all(axis=-1).any()
    # the middle of S-N (sella 0 to nasion 1) is on a measurement line; far from every landmark nothing is
    sn = ((FACE[0] + FACE[1]) / 2).round().astype(int)
    assert drawn[sn[1] - 1 : sn[1] + 2, sn[0]].any() and not drawn[20:60, 20:60].any()
    assert pictures[True].shape[1] > pictures[False].shape[1]  # the legend lists the values too
