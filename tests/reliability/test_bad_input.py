"""One table of bad (and odd but valid) inputs, each fed to a real entry point.

Every row builds its input in ``tmp_path`` and calls a reader, the dataset format, a converter, a bundle's
datalists, the weights check or the command line. A bad input must raise the expected error (or exit with
the expected code) with a message that names the input (file path or image id) and the problem, and must
leave nothing half-written behind. Valid but unusual images (16-bit, RGBA, palette, 1 pixel, BOM CSV) must
load with the documented values.

Decided behaviour for the valid kinds (see ``monai_landmarks.data.image_reader``): 16-bit stays ``uint16``
(``float32`` through ``SITKReader``) with exact values; RGB(A) becomes gray by BT.601 luma
``0.299 R + 0.587 G + 0.114 B`` rounded, alpha dropped; a palette image is expanded to its colours first
(the same as PIL's ``convert("L")``); a 1 x 1 image is an image.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from monai.bundle import ConfigParser
from monai.bundle.scripts import run as run_bundle
from monai.transforms import LoadImage
from PIL import Image

from monai_landmarks.cli import main
from monai_landmarks.data import generate_phantom_dataset, load_datalist, read_metadata, write_dataset
from monai_landmarks.data.converters import convert_csv, convert_labelme
from monai_landmarks.data.datalists import training_datalists
from monai_landmarks.data.dataset_format import DatasetError
from monai_landmarks.data.image_reader import ImageReadError, SITKReader, read_image
from monai_landmarks.handlers.weights_loader import check_weights

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
TINY_PREDICT = ["--set", "width_multiplier=0.25", "--set", "image_size=[32,48]", "--quiet", "--device", "cpu"]
ACCEPTED = "accepted"  # a valid input: the call returns and ``check`` looks at the result


@dataclass
class Case:
    """What one row built: the call, what it must do, and what its message must name."""

    call: Callable
    expect: type | int | str  # an exception type, a CLI exit code, or ACCEPTED
    names: str = ""  # the input, as the message must name it
    problem: str = ""  # regex for the problem
    out: Path | None = None  # an output that must not exist afterwards
    check: Callable = field(default=lambda result: None)


# ---------------------------------------------------------------------------------------------- builders


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    """Save a ``(W, H[, C])`` array as PNG (PNG rows are y)."""
    Image.fromarray(np.ascontiguousarray(np.swapaxes(array, 0, 1)), mode).save(path)
    return path


def _gray(w=16, h=12, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (w, h), dtype=np.uint8)


def _dataset(tmp: Path, k: int = 2, n: int = 2, spacing=0.1) -> Path:
    samples = [
        {"image_id": f"img{i}", "split": "train", "image": _gray(seed=i), "landmarks": np.array([[2.0, 3.0]] * k)}
        for i in range(n)
    ]
    return write_dataset(tmp / "ds", "tiny", samples, pixel_spacing_mm=spacing)


def _edit_csv(root: Path, old: str, new: str, count: int = 1) -> Path:
    path = root / "landmarks.csv"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))
    return path


def _edit_json(root: Path, **changes) -> Path:
    path = root / "dataset.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return path


def _huge_png(path: Path, w=10_001, h=10_000) -> Path:
    """A PNG whose header says ``w x h`` (100 MP) but holds almost no pixel data: only a header read passes."""

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def _truncated(path: Path, suffix: str) -> Path:
    good = path.with_name(f"good{suffix}")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(good)
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def assert_equal(found, expected) -> None:
    assert found == expected, f"{found!r} != {expected!r}"


def _reads(path: Path, **kwargs) -> Callable:
    return lambda: read_image(path, **kwargs)


def _cli(*argv) -> Callable:
    return lambda: main([str(a) for a in argv])


def _predict(tmp: Path, *inputs, weights=None, extra=()) -> Callable:
    return _cli("predict", BUNDLES / "htc_ceph", *inputs, "--weights", weights or tmp / "w.pt",
                "--out", tmp / "pred", *TINY_PREDICT, *extra)  # fmt: skip


def _network(bundle: str, **settings) -> torch.nn.Module:
    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "configs" / "inference.json"))
    for key, value in settings.items():
        parser[key] = value
    return parser.get_parsed_content("network_def")


def _weights(path: Path, bundle="htc_ceph", **settings) -> Path:
    torch.save(_network(bundle, **settings).state_dict(), path)
    return path


def _csv_table(tmp: Path, header: str, row: str, encoding="utf-8") -> Path:
    (tmp / "src").mkdir(exist_ok=True)
    _png(tmp / "src" / "a.png", _gray())
    path = tmp / "table.csv"
    path.write_bytes(f"{header}\n{row}\n".encode(encoding))
    return path


def _labelme(tmp: Path, points: list, label="l0") -> Path:
    _png(tmp / "a.png", _gray())
    doc = {"imagePath": "a.png", "imageWidth": 16, "imageHeight": 12,
           "shapes": [{"label": label, "points": [p], "shape_type": "point"} for p in points]}  # fmt: skip
    path = tmp / "a.json"
    path.write_text(json.dumps(doc))
    return path


# ----------------------------------------------------------------------------------------- the table rows


def empty_image(tmp):
    (path := tmp / "empty.png").write_bytes(b"")
    return Case(_reads(path), ImageReadError, str(path), "not a readable image")


def truncated_png(tmp):
    path = _truncated(tmp / "cut.png", ".png")
    return Case(_reads(path), ImageReadError, str(path), "truncated or corrupt")


def truncated_jpeg(tmp):
    path = _truncated(tmp / "cut.jpg", ".jpg")
    return Case(_reads(path), ImageReadError, str(path), "truncated JPEG")


def corrupt_png(tmp):
    (path := tmp / "noise.png").write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(0).bytes(300))
    return Case(_reads(path), ImageReadError, str(path), "corrupt")


def text_file_as_image_in_load_image(tmp):
    (path := tmp / "notes.png").write_text("not an image")
    return Case(lambda: LoadImage(reader=SITKReader())(path), ImageReadError, str(path), "not a readable image")


def missing_image_file(tmp):
    path = tmp / "absent.png"
    return Case(_reads(path), ImageReadError, str(path), "not found")


def volume_not_2d(tmp):
    path = tmp / "volume.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 8, 8), np.uint8)), str(path))
    return Case(_reads(path), ImageReadError, str(path), r"expected a 2D image.*\(8, 8, 3\)")


def image_of_100_megapixels(tmp):
    path = _huge_png(tmp / "huge.png")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def header_only(_):  # decoding would have failed on the missing pixel data, or taken 100 MB
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert grown_mib < 50, f"peak memory grew by {grown_mib:.0f} MiB"

    case = Case(_reads(path), ImageReadError, str(path), r"100\.0 megapixels exceeds.*GiB of memory")
    case.check = header_only
    return case


def image_16_bit(tmp):
    values = (np.arange(12).reshape(4, 3) * 5000).astype(np.uint16)
    path = _png(tmp / "u16.png", values)

    def check(result):
        array, _ = result
        assert array.dtype == np.uint16 and np.array_equal(array, values)
        meta_array = LoadImage(reader=SITKReader(), image_only=True)(path)
        assert meta_array.dtype == torch.float32 and np.array_equal(meta_array.numpy(), values.astype(np.float32))

    return Case(_reads(path), ACCEPTED, check=check)


def image_rgba(tmp):
    rgba = np.zeros((4, 3, 4), np.uint8)
    rgba[..., :] = (200, 100, 50, 10)  # nearly transparent: alpha is dropped, not composited
    path = _png(tmp / "rgba.png", rgba, "RGBA")
    luma = round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)
    return Case(_reads(path), ACCEPTED, check=lambda r: np.testing.assert_array_equal(r[0], np.full((4, 3), luma)))


def image_palette(tmp):
    img = Image.new("P", (4, 3))
    img.putpalette([v for c in range(256) for v in (c, 255 - c, (7 * c) % 256)])
    img.putdata(list(range(0, 240, 20)))
    img.save(path := tmp / "palette.png")
    expected = np.asarray(img.convert("L")).T  # luma of the palette colours, not the indices

    def check(result):
        assert np.array_equal(result[0], expected) and not np.array_equal(result[0], np.asarray(img).T)

    return Case(_reads(path), ACCEPTED, check=check)


def image_of_one_pixel(tmp):
    path = _png(tmp / "one.png", np.array([[7]], np.uint8))
    return Case(_reads(path), ACCEPTED, check=lambda r: np.testing.assert_array_equal(r[0], [[7]]))


def csv_missing_landmark_column(tmp):
    root = _dataset(tmp)
    path = _edit_csv(root, ",y\n", ",why\n")
    return Case(lambda: load_datalist(root), DatasetError, str(path), r"missing column\(s\) \['y'\]")


def csv_extra_cells_in_a_row(tmp):
    root = _dataset(tmp)
    path = _edit_csv(root, "img0,train,images/img0.png,0,2,3", "img0,train,images/img0.png,0,2,3,9")
    return Case(lambda: load_datalist(root), DatasetError, f"{path}, line 2", "7 cells, the header has 6")


def csv_nan_coordinate(tmp):
    root = _dataset(tmp)
    path = _edit_csv(root, "images/img0.png,0,2,3", "images/img0.png,0,nan,3")
    return Case(lambda: load_datalist(root), DatasetError, f"{path}, line 2", "'x' = 'nan'.*leave both x and y empty")


def csv_infinite_coordinate(tmp):
    root = _dataset(tmp)
    path = _edit_csv(root, "images/img0.png,0,2,3", "images/img0.png,0,2,inf")
    return Case(lambda: load_datalist(root), DatasetError, f"{path}, line 2", "'y' = 'inf'")


def csv_negative_coordinate(tmp):
    root = _dataset(tmp)
    _edit_csv(root, "images/img1.png,1,2,3", "images/img1.png,1,-4,3")
    refuse = lambda: load_datalist(root, strict_bounds=True)  # noqa: E731
    return Case(refuse, DatasetError, "image 'img1'", r"landmark 1 at \(-4, 3\) lies outside")


def csv_coordinate_outside_the_image(tmp):
    root = _dataset(tmp)
    _edit_csv(root, "images/img1.png,0,2,3", "images/img1.png,0,2,12")
    refuse = lambda: load_datalist(root, strict_bounds=True)  # noqa: E731
    return Case(refuse, DatasetError, "image 'img1'", r"\(2, 12\) lies outside the 16 x 12")


def csv_duplicate_landmark_row(tmp):
    root = _dataset(tmp)
    path = _edit_csv(root, "img0,train,images/img0.png,1,", "img0,train,images/img0.png,0,")
    return Case(lambda: load_datalist(root), DatasetError, f"{path}, line 3", "duplicate row for image 'img0'")


def csv_not_utf8(tmp):
    root = _dataset(tmp)
    path = root / "landmarks.csv"
    path.write_bytes(path.read_bytes().replace(b"train", "tr\u00e4in".encode("latin-1")))
    return Case(lambda: load_datalist(root), DatasetError, str(path), "not UTF-8 text")


def csv_with_bom(tmp):
    root = _dataset(tmp)
    path = root / "landmarks.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    def check(items):
        assert [i["image_id"] for i in items] == ["img0", "img1"]
        assert items[0]["landmarks"].tolist() == [[[2.0, 3.0], [2.0, 3.0]]]

    return Case(lambda: load_datalist(root), ACCEPTED, check=check)


def file_path_escaping_the_dataset(tmp):
    root = _dataset(tmp)
    _png(tmp / "outside.png", _gray())
    path = _edit_csv(root, "images/img0.png", "../outside.png", 2)
    problem = "points outside the dataset folder; refused"
    return Case(lambda: load_datalist(root), DatasetError, f"{path}, line 2", problem)


def file_path_absolute(tmp):
    root = _dataset(tmp)
    outside = _png(tmp / "outside.png", _gray())
    path = _edit_csv(root, "images/img0.png", str(outside), 2)
    return Case(lambda: load_datalist(root), DatasetError, f"{path}, line 2", "must be a path relative")


def spacing_zero(tmp):
    root = _dataset(tmp)
    path = _edit_json(root, pixel_spacing_mm=0)
    return Case(lambda: read_metadata(root), DatasetError, str(path), "must be positive and finite")


def spacing_negative(tmp):
    root = _dataset(tmp)
    path = _edit_json(root, pixel_spacing_mm=[0.1, -0.1])
    return Case(lambda: load_datalist(root), DatasetError, str(path), "must be positive and finite")


def spacing_zero_when_writing(tmp):
    samples = [{"image_id": "a", "split": "train", "image": _gray(), "landmarks": [[1.0, 1.0]]}]
    call = lambda: write_dataset(tmp / "out", "x", samples, pixel_spacing_mm={"a": 0.0})  # noqa: E731
    return Case(call, DatasetError, "image a", "must be positive", out=tmp / "out")


def duplicate_image_id_when_writing(tmp):
    sample = {"image_id": "same", "split": "train", "image": _gray(), "landmarks": [[1.0, 1.0]]}
    call = lambda: write_dataset(tmp / "out", "x", [sample, dict(sample)])  # noqa: E731
    return Case(call, DatasetError, "'same'", "duplicate image_id", out=tmp / "out")


def nan_in_one_coordinate_when_writing(tmp):
    sample = {"image_id": "a", "split": "train", "image": _gray(), "landmarks": [[1.0, np.nan]]}
    call = lambda: write_dataset(tmp / "out", "x", [sample])  # noqa: E731
    return Case(call, DatasetError, "sample 'a'", "one NaN coordinate", out=tmp / "out")


def infinite_coordinate_when_writing(tmp):
    sample = {"image_id": "a", "split": "train", "image": _gray(), "landmarks": [[np.inf, 1.0]]}
    call = lambda: write_dataset(tmp / "out", "x", [sample])  # noqa: E731
    return Case(call, DatasetError, "sample 'a'", "finite or NaN", out=tmp / "out")


def truncated_image_in_a_dataset(tmp):
    root = _dataset(tmp)
    image = root / "images" / "img1.png"
    image.write_bytes(image.read_bytes()[:60])
    return Case(lambda: load_datalist(root, verify_images=True), DatasetError, f"image 'img1': {image}", "")


def wide_csv_extra_landmark_columns(tmp):
    path = _csv_table(tmp, "image,x0,y0,x1,y1,x2,y2", "a.png,1,1,2,2,3,3")
    call = lambda: convert_csv(path, tmp / "src", tmp / "out", "t", layout="wide", num_landmarks=2)  # noqa: E731
    return Case(call, DatasetError, str(path), r"extra landmark column\(s\) \['x2', 'y2'\]", out=tmp / "out")


def wide_csv_unpaired_landmark_column(tmp):
    path = _csv_table(tmp, "image,x0,y0,x1", "a.png,1,1,2")
    call = lambda: convert_csv(path, tmp / "src", tmp / "out", "t", layout="wide")  # noqa: E731
    return Case(call, DatasetError, str(path), "'x1' has no partner", out=tmp / "out")


def long_csv_not_utf8(tmp):
    path = _csv_table(tmp, "image,landmark,x,y", "a.png,0,1\xb72,1", encoding="latin-1")
    call = lambda: convert_csv(path, tmp / "src", tmp / "out", "t")  # noqa: E731
    return Case(call, DatasetError, str(path), "not UTF-8 text", out=tmp / "out")


def long_csv_duplicate_image_id(tmp):
    path = _csv_table(tmp, "image,landmark,x,y", "a.png,0,1,1\na.PNG,0,2,2")
    _png(tmp / "src" / "a.PNG", _gray())
    call = lambda: convert_csv(path, tmp / "src", tmp / "out", "t")  # noqa: E731
    return Case(call, DatasetError, str(path), "image id 'a' .* used twice", out=tmp / "out")


def labelme_nan_coordinate(tmp):
    path = _labelme(tmp, [["NaN", 3.0]])
    call = lambda: convert_labelme([path], tmp / "out", "t")  # noqa: E731
    return Case(call, DatasetError, str(path), "not a finite number", out=tmp / "out")


def bundle_landmark_count_mismatch(tmp):
    root = _dataset(tmp, k=5)
    call = lambda: training_datalists(root, num_landmarks=19)  # noqa: E731
    return Case(call, DatasetError, str(root / "dataset.json"), "num_landmarks = 5, the model expects 19")


def bundle_training_on_a_dataset_of_other_landmarks(tmp):
    root = _dataset(tmp, k=5)
    call = lambda: run_bundle(  # noqa: E731
        "training", config_file=str(BUNDLES / "htc_ceph" / "configs" / "train.json"),
        bundle_root=str(tmp / "run"), data_root=str(root), num_workers=0,
    )  # fmt: skip
    return Case(call, Exception, str(root / "dataset.json"), "num_landmarks = 5, the model expects 19", tmp / "run")


def checkpoint_of_another_network(tmp):
    _png(tmp / "a.png", _gray())
    other = _weights(tmp / "gu2net.pt", "gu2net_ceph")
    return Case(_predict(tmp, tmp / "a.png", weights=other), 1, str(other), "weights do not fit the network HTC",
                out=tmp / "pred")  # fmt: skip


def checkpoint_with_other_landmarks(tmp):
    _png(tmp / "a.png", _gray())
    hand = _weights(tmp / "hand.pt", "htc_hand", width_multiplier=0.25)
    return Case(_predict(tmp, tmp / "a.png", weights=hand), 1, str(hand), r"\(37, .*in the file, \(19, ",
                out=tmp / "pred")  # fmt: skip


def weights_file_corrupt(tmp):
    _png(tmp / "a.png", _gray())
    (bad := tmp / "bad.pt").write_bytes(b"PK\x03\x04 not really a zip")
    return Case(_predict(tmp, tmp / "a.png", weights=bad), 1, str(bad), "not a readable PyTorch weights file",
                out=tmp / "pred")  # fmt: skip


def training_checkpoint_as_weights(tmp):
    net = _network("htc_ceph", width_multiplier=0.25)
    torch.save({"network": net.state_dict(), "optimizer": {"state": {}}}, path := tmp / "checkpoint_epoch=3.pt")
    return Case(lambda: check_weights(path, net), ValueError, str(path), "not a network state_dict")


def predict_zero_spacing(tmp):
    _png(tmp / "a.png", _gray())
    return Case(_predict(tmp, tmp / "a.png", extra=["--spacing", "0"]), 2, "--spacing", "must be a positive",
                out=tmp / "pred")  # fmt: skip


def predict_negative_spacing(tmp):
    _png(tmp / "a.png", _gray())
    return Case(_predict(tmp, tmp / "a.png", extra=["--spacing=-0.1"]), 2, "--spacing", "must be a positive",
                out=tmp / "pred")  # fmt: skip


def predict_image_of_100_megapixels(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    path = _huge_png(tmp / "huge.png")
    return Case(_predict(tmp, path), 1, str(path), "megapixels exceeds", out=tmp / "pred")


def predict_corrupt_image(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    (tmp / "in").mkdir()
    (path := tmp / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    return Case(_predict(tmp, tmp / "in"), 1, str(path), "not a readable image", out=tmp / "pred")


def predict_empty_folder(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    (tmp / "in").mkdir()
    return Case(_predict(tmp, tmp / "in"), 1, str(tmp / "in"), "no image files found", out=tmp / "pred")


def predict_not_a_bundle(tmp):
    call = _cli("predict", tmp, tmp, "--out", tmp / "pred", "--quiet")
    return Case(call, 1, str(tmp), "not a bundle folder", out=tmp / "pred")


def convert_into_a_non_empty_folder(tmp):
    path = _labelme(tmp, [[1.0, 2.0]])
    (tmp / "out").mkdir()
    (tmp / "out" / "keep.txt").write_text("mine")
    return Case(_cli("convert", "labelme", path, tmp / "out"), 1, str(tmp / "out"), "not empty")


def synth_image_too_small(tmp):
    call = _cli("synth", tmp / "out", "--size", "0", "0", "--num-train", "1", "--num-val", "0", "--num-test", "0")
    return Case(call, 1, "(0, 0)", "at least 16 pixels", out=tmp / "out")


def cli_unknown_format(tmp):
    return Case(_cli("convert", "dicomdir", tmp, tmp / "out"), 2, "dicomdir", "invalid choice", out=tmp / "out")


# ---------------------------------------------------------------------------- round 2 (issue 14): data loss


def _tiny_training(models: Path, ids=("a", "b"), epochs: int = 1, restart: bool = False):
    """A two-batch Ignite trainer with the bundles' resume and checkpoint handlers; returns its ResumeFromLatest.

    ``data_loader`` and ``network`` stand in for a MONAI trainer's, which the run fingerprint reads.
    """
    from types import SimpleNamespace

    from ignite.engine import Engine

    from monai_landmarks.handlers import AtomicCheckpointSaver, ResumeFromLatest

    net = torch.nn.Linear(2, 1)
    engine = Engine(lambda engine, batch: None)
    data = [{"image": f"/data/{i}.png", "image_id": i, "landmarks": np.zeros((1, 3, 2))} for i in ids]
    engine.data_loader = SimpleNamespace(dataset=SimpleNamespace(data=data), batch_size=1)
    engine.network = net
    save = {"network": net, "trainer": engine}
    resume = ResumeFromLatest(models, save, **({"restart": True} if restart else {}))
    resume.attach(engine)
    AtomicCheckpointSaver(str(models), save, save_interval=1, n_saved=1).attach(engine)
    engine.run([0, 1], max_epochs=epochs)
    return resume


def _lock_holder(folder: Path, kill: bool = False) -> subprocess.Popen:
    """Another process that takes ``folder``'s lock and sleeps (or is SIGKILLed once it holds it)."""
    code = (
        "import sys, time; from monai_landmarks.utils.locks import FolderLock; "
        "FolderLock(sys.argv[1], 'training').acquire(); print('held', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    if kill:
        holder.kill()
        holder.wait(30)
    return holder


def predict_out_is_the_input_folder(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    (tmp / "in").mkdir()
    original = _png(tmp / "in" / "a.png", _gray()).read_bytes()

    def check(_):  # the X-ray is still the X-ray, and nothing was added beside it
        assert (tmp / "in" / "a.png").read_bytes() == original and sorted(os.listdir(tmp / "in")) == ["a.png"]

    call = _cli("predict", BUNDLES / "htc_ceph", tmp / "in", "--weights", tmp / "w.pt", "--out", tmp / "in",
                *TINY_PREDICT)  # fmt: skip
    return Case(call, 1, str(tmp / "in"), "is the input folder", check=check)


def predict_out_inside_an_input_folder(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    (tmp / "in").mkdir()
    _png(tmp / "in" / "a.png", _gray())
    call = _cli("predict", BUNDLES / "htc_ceph", tmp / "in", "--weights", tmp / "w.pt", "--out", tmp / "in" / "p",
                *TINY_PREDICT)  # fmt: skip
    return Case(call, 1, str(tmp / "in"), "inside the input folder", out=tmp / "in" / "p")


def predict_over_a_file_it_did_not_write(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _png(tmp / "a.png", _gray())
    (tmp / "pred").mkdir()
    (mine := tmp / "pred" / "a.png.json").write_text("my notes")
    return Case(_predict(tmp, tmp / "a.png"), 1, str(mine), "not written by a predict run",
                check=lambda _: assert_equal(mine.read_text(), "my notes"))  # fmt: skip


def predict_again_into_its_own_output(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _png(tmp / "a.png", _gray())
    assert _predict(tmp, tmp / "a.png")() == 0

    def check(_):
        summary = json.loads((tmp / "pred" / "predict_summary.json").read_text())
        assert summary["complete"] and [o["json"] for o in summary["outputs"]] == ["a.png.json"]

    return Case(_predict(tmp, tmp / "a.png"), 0, check=check)  # the run's own outputs may be replaced


def predict_names_with_dots(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    (tmp / "in").mkdir()
    names = [f"1.2.840.10008.{i}.png" for i in (1, 2, 3)]
    for name in names:
        _png(tmp / "in" / name, _gray())

    def check(_):
        written = sorted(p.name for p in (tmp / "pred").glob("*.json"))
        assert written == sorted([*(f"{n}.json" for n in names), "predict_summary.json"]), written
        assert {json.loads((tmp / "pred" / f"{n}.json").read_text())["image"] for n in names} == {
            str(tmp / "in" / n) for n in names
        }

    return Case(_predict(tmp, tmp / "in"), 0, check=check)


def predict_same_stem_two_formats(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    (tmp / "in").mkdir()
    _png(tmp / "in" / "x.png", _gray())
    sitk.WriteImage(sitk.GetImageFromArray(_gray(seed=1).T.copy()), str(tmp / "in" / "x.mha"))

    def check(_):
        assert sorted(p.name for p in (tmp / "pred").glob("x.*.json")) == ["x.mha.json", "x.png.json"]

    return Case(_predict(tmp, tmp / "in"), 0, check=check)


def predict_same_name_in_two_folders(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    for folder in ("in1", "in2"):
        (tmp / folder).mkdir()
        _png(tmp / folder / "a.png", _gray())
    return Case(_predict(tmp, tmp / "in1", tmp / "in2"), 1, str(tmp / "in2" / "a.png"), "same file name",
                out=tmp / "pred")  # fmt: skip


def image_id_escaping_on_read(tmp):
    root = _dataset(tmp)
    path = _edit_csv(root, "img0,", "../../../../x,", 2)
    return Case(lambda: load_datalist(root), DatasetError, f"{path}, line 2", r"'image_id' must be .*'\.\./\.\./")


def report_overlay_outside_its_folder(tmp):
    from monai_landmarks.handlers import LandmarkReportWriter
    from monai_landmarks.metrics import ErrorProtocol

    writer = LandmarkReportWriter(tmp / "report", ErrorProtocol("mm"), num_overlays=1)
    image = _png(tmp / "a.png", _gray())
    points = np.array([[2.0, 3.0]])
    writer.rows = [{"image_id": "../../escape", "file": str(image), "errors": np.zeros(1), "pred": points,
                    "label": points}]  # fmt: skip
    check = lambda _: assert_equal(list(tmp.rglob("escape*")), [])  # noqa: E731
    return Case(writer._overlays, ValueError, "'best_0_../../escape.png'", "outside this folder", check=check)


def report_keeps_other_pictures(tmp):
    from monai_landmarks.handlers import LandmarkReportWriter
    from monai_landmarks.metrics import ErrorProtocol

    (tmp / "report" / "overlays").mkdir(parents=True)
    (mine := tmp / "report" / "overlays" / "figure1.png").write_bytes(b"mine")
    writer = LandmarkReportWriter(tmp / "report", ErrorProtocol("mm"), num_overlays=1)
    points = np.array([[2.0, 3.0]])
    image = _png(tmp / "a.png", _gray())
    writer.rows = [{"image_id": "a", "file": str(image), "errors": np.zeros(1), "pred": points, "label": points}]

    def check(_):
        assert mine.read_bytes() == b"mine"
        assert sorted(p.name for p in mine.parent.iterdir()) == ["best_0_a.png", "figure1.png", "worst_0_a.png"]

    return Case(writer._overlays, ACCEPTED, check=check)


def checkpoint_backup_with_a_lower_epoch(tmp):
    (tmp / "models").mkdir()
    (backup := tmp / "models" / "backup_checkpoint_epoch=0.pt").write_bytes(b"my backup")

    def check(_):
        assert backup.read_bytes() == b"my backup"
        assert sorted(p.name for p in backup.parent.glob("*.pt")) == [backup.name, "checkpoint_epoch=2.pt"]

    return Case(lambda: _tiny_training(tmp / "models", epochs=2), ACCEPTED, check=check)


def checkpoint_archive_with_a_higher_epoch(tmp):
    (tmp / "models").mkdir()
    (archive := tmp / "models" / "old_checkpoint_epoch=99.pt").write_bytes(b"an archived run")

    def check(resume):
        assert resume.resumed_from is None and archive.read_bytes() == b"an archived run"
        assert (tmp / "models" / "checkpoint_epoch=1.pt").is_file()

    return Case(lambda: _tiny_training(tmp / "models"), ACCEPTED, check=check)


# ------------------------------------------------------------------ round 2 (issue 14): silent wrong results


def truncated_bmp(tmp):
    path = _truncated(tmp / "cut.bmp", ".bmp")  # SimpleITK decodes it without an error
    return Case(_reads(path), ImageReadError, str(path), "truncated BMP")


def truncated_tiff(tmp):
    path = _truncated(tmp / "cut.tif", ".tif")
    return Case(_reads(path), ImageReadError, str(path), "truncated or corrupt")


def truncated_nifti(tmp):
    sitk.WriteImage(sitk.GetImageFromArray(_gray(64, 64)), str(good := tmp / "good.nii"))
    (path := tmp / "cut.nii").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return Case(_reads(path), ImageReadError, str(path), "truncated NIfTI")


def convert_isbi2015_truncated_bmp(tmp):
    src = tmp / "isbi"
    (src / "RawImage" / "TrainingData").mkdir(parents=True)
    bmp = _truncated(tmp / "001.bmp", ".bmp").rename(src / "RawImage" / "TrainingData" / "001.bmp")
    for annotator in ("senior", "junior"):
        (src / "AnnotationsByMD" / f"400_{annotator}").mkdir(parents=True)
        (src / "AnnotationsByMD" / f"400_{annotator}" / "001.txt").write_text("10,12\n" * 19)
    return Case(_cli("convert", "isbi2015", src, tmp / "out"), 1, str(bmp), "truncated BMP", out=tmp / "out")


def predict_truncated_bmp(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    path = _truncated(tmp / "cut.bmp", ".bmp")
    return Case(_predict(tmp, path), 1, str(path), "truncated BMP", out=tmp / "pred")


def image_with_nan_pixels(tmp):
    values = _gray().astype(np.float32)
    values[3, 4] = np.nan
    sitk.WriteImage(sitk.GetImageFromArray(values.T.copy()), str(path := tmp / "nan.mha"))
    return Case(_reads(path), ImageReadError, str(path), r"1 pixel\(s\) are NaN or infinite")


def predict_image_with_nan_pixels(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    values = np.full((32, 48), np.nan, np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(values.T.copy()), str(path := tmp / "nan.mha"))
    return Case(_predict(tmp, path), 1, str(path), "NaN or infinite", out=tmp / "pred")


def predict_weights_with_nan(tmp):
    _png(tmp / "a.png", _gray())
    state = _network("htc_ceph", width_multiplier=0.25).state_dict()
    next(v for v in state.values() if v.is_floating_point()).view(-1)[0] = float("nan")
    torch.save(state, path := tmp / "nan.pt")
    return Case(_predict(tmp, tmp / "a.png", weights=path), 1, str(path), "NaN or infinite values",
                out=tmp / "pred")  # fmt: skip


def labelme_label_differs_in_case(tmp):
    first = _labelme(tmp, [[1.0, 2.0]], label="Sella")
    (tmp / "b").mkdir()
    second = _labelme(tmp / "b", [[3.0, 4.0]], label="sella").rename(tmp / "b" / "b.json")
    call = lambda: convert_labelme([first, second], tmp / "out", "t")  # noqa: E731
    return Case(call, DatasetError, str(second), "'sella' differs from 'Sella'.*letter case", out=tmp / "out")


def labelme_point_with_null_shape_type(tmp):
    path = _labelme(tmp, [[3.5, 4.5], [5.5, 6.5]])
    doc = json.loads(path.read_text())
    doc["shapes"][1].update(label="l1", shape_type=None)  # as old labelme versions wrote
    path.write_text(json.dumps(doc))

    def check(root):
        assert load_datalist(root)[0]["landmarks"].tolist() == [[[3.0, 4.0], [5.0, 6.0]]]

    return Case(lambda: convert_labelme([path], tmp / "out", "t"), ACCEPTED, check=check)


def second_training_into_a_locked_folder(tmp):
    holder = _lock_holder(tmp / "models")

    def check(_):
        holder.kill()
        holder.wait(30)

    return Case(lambda: _tiny_training(tmp / "models"), RuntimeError, f"process {holder.pid}",
                f"{tmp / 'models'}: another training is writing here", check=check)  # fmt: skip


def stale_lock_of_a_killed_training(tmp):
    holder = _lock_holder(tmp / "models", kill=True)
    messages: list[str] = []

    def call():
        handler = logging.Handler()
        handler.emit = lambda record: messages.append(record.getMessage())
        logger = logging.getLogger("monai_landmarks.utils.locks")
        logger.addHandler(handler)
        try:
            return _tiny_training(tmp / "models")
        finally:
            logger.removeHandler(handler)

    def check(resume):
        assert any(f"stale lock of process {holder.pid}" in m for m in messages), messages
        assert (tmp / "models" / "checkpoint_epoch=1.pt").is_file() and not (tmp / "models" / ".lock").exists()

    return Case(call, ACCEPTED, check=check)


def bundle_run_folder_of_another_dataset(tmp):
    from _training import train

    first, second = (generate_phantom_dataset(tmp / n, "head", 4, 2, 0, size=(64, 80), seed=s)
                     for n, s in (("a", 0), ("b", 1)))  # fmt: skip
    train(tmp / "run", first, epochs=1)
    files = lambda: {p.name: p.stat().st_mtime_ns for p in (tmp / "run" / "models").iterdir()}  # noqa: E731
    before = files()
    after = lambda _: assert_equal(files(), before)  # noqa: E731  # nothing of the first run touched
    return Case(lambda: train(tmp / "run", second, epochs=2), Exception, str(tmp / "run" / "models" / "run.json"),
                f"another training run.*data: '{first}/images' -> '{second}/images'", check=after)  # fmt: skip


def restart_in_a_folder_of_another_run(tmp):
    _tiny_training(tmp / "models", ids=("a", "b"), epochs=2)

    def check(resume):
        assert resume.resumed_from is None
        assert sorted(p.name for p in (tmp / "models").glob("*.pt")) == ["checkpoint_epoch=1.pt"]
        assert json.loads((tmp / "models" / "run.json").read_text())["fingerprint"]["num_images"] == 3

    return Case(lambda: _tiny_training(tmp / "models", ids=("c", "d", "e"), restart=True), ACCEPTED, check=check)


# ------------------------------------------------------------------------------ round 2 (issue 14): crashes


def image_name_not_utf8(tmp):
    path = _png(tmp / os.fsdecode(b"x\xff.png"), _gray())
    # run in a child: SimpleITK aborts the whole process on such a name (exit 134) if it ever gets it
    code = (
        "import sys\nfrom monai_landmarks.data.image_reader import read_image\ntry:\n    read_image(sys.argv[1])\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n    sys.exit(3)\n"
    )

    def call():
        done = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[2])  # fmt: skip
        assert done.returncode == 3 and done.stdout.startswith("ImageReadError"), (done.returncode, done.stderr[-500:])
        raise ImageReadError(done.stdout)

    return Case(call, ImageReadError, str(tmp / "x\\xff.png"), "not valid UTF-8.*rename the file")


def image_header_of_400_megapixels_in_a_dataset(tmp):
    root = _dataset(tmp)
    _huge_png(image := root / "images" / "img1.png", 20_000, 20_000)  # PIL's DecompressionBombError territory
    return Case(lambda: load_datalist(root), DatasetError, f"image 'img1': {image}", "too large")


def truncated_checkpoint_on_resume(tmp):
    _tiny_training(tmp / "models")
    path = tmp / "models" / "checkpoint_epoch=1.pt"
    path.write_bytes(path.read_bytes()[:100])
    return Case(lambda: _tiny_training(tmp / "models", epochs=2), ValueError, str(path), "cannot resume training")


def num_landmarks_of_a_billion(tmp):
    root = _dataset(tmp)
    path = _edit_json(root, num_landmarks=10**9)
    return Case(lambda: load_datalist(root), DatasetError, str(path), "positive integer up to 10000, got 1000000000")


def dataset_json_nested_deeply(tmp):
    root = _dataset(tmp)
    (path := root / "dataset.json").write_text("[" * 100_000 + "]" * 100_000)
    return Case(lambda: read_metadata(root), DatasetError, str(path), "nested too deeply")


def csv_cell_of_131072_characters(tmp):
    root = _dataset(tmp)
    path = _edit_csv(root, "img0,train", "img0,t" + "r" * 131_072)
    return Case(lambda: load_datalist(root), DatasetError, f"{path}, line 2", "malformed CSV: field larger")


def long_csv_cell_of_131072_characters(tmp):
    path = _csv_table(tmp, "image,landmark,x,y", "a.png,0,1," + "1" * 131_073)
    call = lambda: convert_csv(path, tmp / "src", tmp / "out", "t")  # noqa: E731
    return Case(call, DatasetError, f"{path}, line 2", "malformed CSV", out=tmp / "out")


def labelme_fifo_named_json(tmp):
    (tmp / "src").mkdir()
    _labelme(tmp / "src", [[1.0, 2.0]])
    os.mkfifo(fifo := tmp / "src" / "b.json")  # reading it would wait for a writer forever

    def check(_):
        assert [i["image_id"] for i in load_datalist(tmp / "out")] == ["a"]

    return Case(_cli("convert", "labelme", tmp / "src", tmp / "out"), 0, str(fifo), "not a regular file", check=check)


def _interrupted_predict(tmp, interrupt) -> Callable:
    from unittest import mock

    from monai_landmarks.handlers.prediction_writer import LandmarkPredictionWriter

    _weights(tmp / "w.pt", width_multiplier=0.25)
    (tmp / "in").mkdir()
    for name in ("a.png", "b.png"):
        _png(tmp / "in" / name, _gray())
    original = LandmarkPredictionWriter.write

    def write_then_stop(self, sample):
        path = original(self, sample)
        interrupt()
        return path

    def call():
        with mock.patch.object(LandmarkPredictionWriter, "write", write_then_stop):
            return _predict(tmp, tmp / "in")()

    return call


def _incomplete_summary(tmp):
    def check(_):
        summary = json.loads((tmp / "pred" / "predict_summary.json").read_text())
        assert not summary["complete"] and [o["json"] for o in summary["outputs"]] == ["a.png.json"]
        assert not (tmp / "pred" / ".lock").exists()

    return check


def predict_interrupted_by_sigterm(tmp):
    call = _interrupted_predict(tmp, lambda: os.kill(os.getpid(), signal.SIGTERM))
    return Case(call, 143, "interrupted after 1 of 2 image(s)", "(?s)predict_summary.json.*SIGTERM",
                check=_incomplete_summary(tmp))  # fmt: skip


def predict_interrupted_by_ctrl_c(tmp):
    def ctrl_c():
        raise KeyboardInterrupt

    call = _interrupted_predict(tmp, ctrl_c)
    return Case(call, 130, "interrupted after 1 of 2 image(s)", "(?s)predict_summary.json.*SIGINT",
                check=_incomplete_summary(tmp))  # fmt: skip


def files_keep_the_umask(tmp):
    from monai_landmarks.utils.io import atomic_write_json

    def call():
        previous = os.umask(0o022)
        try:
            root = _dataset(tmp)
            atomic_write_json(tmp / "report.json", {"a": 1})
            return root
        finally:
            os.umask(previous)

    def check(root):
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (root, root / "images", root / "dataset.json",
                 root / "landmarks.csv", root / "images" / "img0.png", tmp / "report.json")}  # fmt: skip
        assert modes == {"ds": "0o755", "images": "0o755", "dataset.json": "0o644", "landmarks.csv": "0o644",
                         "img0.png": "0o644", "report.json": "0o644"}, modes  # fmt: skip

    return Case(call, ACCEPTED, check=check)


# ------------------------------------------------------------------- round 3 (issue 22): predict's files and inputs


def _summary(tmp: Path) -> dict:
    return json.loads((tmp / "pred" / "predict_summary.json").read_text())


def _csv_images(path: Path) -> list[str]:
    import csv

    with open(path, newline="") as f:
        return list(dict.fromkeys(row["image_id"] for row in csv.DictReader(f)))


def _in_folder(tmp: Path, *names: str) -> Path:
    (tmp / "in").mkdir(exist_ok=True)
    for i, name in enumerate(names):
        _png(tmp / "in" / name, _gray(seed=i))
    return tmp / "in"


def predict_again_after_a_sigkill(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _in_folder(tmp, "a.png", "b.png")
    argv = ["predict", str(BUNDLES / "htc_ceph"), str(tmp / "in"), "--weights", str(tmp / "w.pt"), "--out",
            str(tmp / "pred"), *TINY_PREDICT]  # fmt: skip
    code = (  # the first image written, then killed: no summary, no clean-up
        "import os, signal, sys\nfrom monai_landmarks.cli import main\n"
        "from monai_landmarks.handlers.prediction_writer import LandmarkPredictionWriter as W\nwrite = W.write\n"
        "def write_then_die(self, sample):\n    write(self, sample)\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"W.write = write_then_die\nsys.exit(main({argv!r}))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2], env=env)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert (tmp / "pred" / "a.png.json").is_file() and not (tmp / "pred" / "predict_summary.json").exists()

    def check(_):
        assert [o["json"] for o in _summary(tmp)["outputs"]] == ["a.png.json", "b.png.json"]

    return Case(_predict(tmp, tmp / "in"), 0, check=check)  # the killed run's a.png.json may be replaced


def predict_later_runs_on_other_images(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _in_folder(tmp, "a.png", "b.png")
    assert _predict(tmp, tmp / "in" / "a.png")() == 0
    assert _predict(tmp, tmp / "in" / "b.png")() == 0  # the summary now lists b only

    def check(_):
        names = sorted(p.name for p in (tmp / "pred").iterdir())
        outputs = [f"{i}.png.{s}" for i in "ab" for s in ("json", "png")]
        measurements = ["measurements.csv", "measurements_2.csv", "measurements_3.csv"]  # htc_ceph: cephalometry
        tables = ["predictions.csv", "predictions_2.csv", "predictions_3.csv"]
        assert names == [*outputs, *measurements, "predict_journal.jsonl", "predict_summary.json", *tables], names
        assert [o["json"] for o in _summary(tmp)["outputs"]] == ["a.png.json"]

    return Case(_predict(tmp, tmp / "in" / "a.png"), 0, check=check)


def predict_beside_a_journal_over_a_file_it_did_not_write(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _in_folder(tmp, "a.png", "b.png")
    assert _predict(tmp, tmp / "in" / "a.png")() == 0
    (mine := tmp / "pred" / "b.png.json").write_text("my notes")
    return Case(_predict(tmp, tmp / "in" / "b.png"), 1, str(mine), "not written by a predict run",
                check=lambda _: assert_equal(mine.read_text(), "my notes"))  # fmt: skip


def predict_into_a_summary_it_did_not_write(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _in_folder(tmp, "a.png")
    (tmp / "pred").mkdir()
    (mine := tmp / "pred" / "predict_summary.json").write_text('{"my": "summary"}')
    return Case(_predict(tmp, tmp / "in"), 1, str(mine), "not a readable predict summary.*refused to replace",
                check=lambda _: assert_equal(mine.read_text(), '{"my": "summary"}'))  # fmt: skip


def predict_into_a_journal_it_did_not_write(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _in_folder(tmp, "a.png")
    (tmp / "pred").mkdir()
    (mine := tmp / "pred" / "predict_journal.jsonl").write_text("my log\n")
    return Case(_predict(tmp, tmp / "in"), 1, str(mine), "not a predict journal; refused",
                check=lambda _: assert_equal(mine.read_text(), "my log\n"))  # fmt: skip


def _disk_full_on(name: str):
    """``Image.save`` raising ENOSPC for the overlay ``name`` (after writing half a file)."""
    import errno
    from unittest import mock

    save = Image.Image.save

    def full(self, fp, *args, **kwargs):
        if Path(fp).name.startswith(f".{name}."):
            Path(fp).write_bytes(b"\x89PNG half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save(self, fp, *args, **kwargs)

    return mock.patch.object(Image.Image, "save", full)


def predict_disk_full(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _in_folder(tmp, "a.png", "b.png")

    def call():
        with _disk_full_on("b.png.png"):
            return _predict(tmp, tmp / "in")()

    def check(_):  # b's JSON was removed with its failed overlay: JSONs, CSV rows and summary all say "a"
        assert sorted(p.name for p in (tmp / "pred").glob("*.json")) == ["a.png.json", "predict_summary.json"]
        assert not (tmp / "pred" / "b.png.png").exists()
        assert _csv_images(tmp / "pred" / "predictions.csv") == ["a.png"]
        summary = _summary(tmp)
        assert not summary["complete"] and [o["json"] for o in summary["outputs"]] == ["a.png.json"]

    return Case(call, 1, str(tmp / "pred" / "b.png.png"), r"No space left on device\); the disk is full: free",
                check=check)  # fmt: skip


def write_error_names_the_file(tmp):
    import errno
    from unittest import mock

    from monai_landmarks.utils.io import atomic_write_json

    def call():
        with mock.patch("os.replace", side_effect=OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))):
            atomic_write_json(tmp / "report.json", {"a": 1})

    return Case(call, OSError, str(tmp / "report.json"), "could not write it .No space left on device.; the disk is "
                "full", check=lambda _: assert_equal(os.listdir(tmp), []))  # fmt: skip


def predict_interrupted_between_the_rows_and_the_summary(tmp):
    from unittest import mock

    from monai_landmarks.handlers.prediction_table import PredictionTable

    _weights(tmp / "w.pt", width_multiplier=0.25)
    _in_folder(tmp, "a.png", "b.png")
    append = PredictionTable.append

    def append_then_stop(self, record):
        append(self, record)
        if record["image_id"] == "b.png":
            raise KeyboardInterrupt

    def call():
        with mock.patch.object(PredictionTable, "append", append_then_stop):
            return _predict(tmp, tmp / "in")()

    def check(_):
        assert _csv_images(tmp / "pred" / "predictions.csv") == ["a.png"]
        assert [o["json"] for o in _summary(tmp)["outputs"]] == ["a.png.json"]
        assert not (tmp / "pred" / "b.png.json").exists() and not (tmp / "pred" / "b.png.png").exists()

    return Case(call, 130, "interrupted after 1 of 2 image(s)", "SIGINT", check=check)


def predict_stray_files_in_the_input_folder(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    folder = _in_folder(tmp, "a.png")
    (folder / "README.txt").write_text("scanned 2026")
    (folder / "datastore_v2.json").write_text("{}")  # MONAI Label's
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "labels" / "final").mkdir(parents=True)

    def check(_):
        assert [o["json"] for o in _summary(tmp)["outputs"]] == ["a.png.json"]

    return Case(_predict(tmp, folder), 0, str(folder), r"skipped 4 of 5 entries, not image files .*: \.DS_Store, "
                r"README\.txt, datastore_v2\.json, labels/\.", check=check)  # fmt: skip


def bundle_input_folder_of_monai_label(tmp):
    from monai_landmarks.data.datalists import image_files

    folder = _in_folder(tmp, "a.png", "b.png")
    (folder / "datastore_v2.json").write_text("{}")
    (folder / "labels" / "final").mkdir(parents=True)
    dicom = folder / "1.2.840.113619.2.55"  # a DICOM file without a suffix is an image
    dicom.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)

    def check(files):
        assert files == [str(dicom), str(folder / "a.png"), str(folder / "b.png")], files

    return Case(lambda: image_files(folder), ACCEPTED, check=check)


def predict_batch_with_unreadable_images(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    folder = _in_folder(tmp, "a.png", "c.png")
    (broken := folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    values = np.full((32, 48), np.nan, np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(values.T.copy()), str(nan := folder / "d.mha"))

    def check(_):
        summary = _summary(tmp)
        assert summary["complete"] and [o["json"] for o in summary["outputs"]] == ["a.png.json", "c.png.json"]
        assert [f["image"] for f in summary["failed"]] == [str(broken), str(nan)]
        reasons = [f["reason"].split(" (")[0].split(";")[0] for f in summary["failed"]]
        assert reasons == ["not a readable image", "1536 pixel(s) are NaN or infinite"], reasons
        assert _csv_images(tmp / "pred" / "predictions.csv") == ["a.png", "c.png"]

    return Case(_predict(tmp, folder), 1, "2 of 4 image(s) failed", f"{broken}: not a readable image.*{nan}: 1536 "
                "pixel.*NaN.*The other 2 were predicted", check=check)  # fmt: skip


def predict_folder_of_only_non_images(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    (tmp / "in").mkdir()
    (tmp / "in" / "README.txt").write_text("x")
    return Case(_predict(tmp, tmp / "in"), 1, str(tmp / "in"), r"(?s)README\.txt.*in: no image files found",
                out=tmp / "pred")  # fmt: skip


def predict_symbolic_link_loop(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    (loop := tmp / "loop.png").symlink_to("loop.png")
    return Case(_predict(tmp, loop), 1, str(loop), "a symbolic link loop, not an image file", out=tmp / "pred")


def predict_folder_named_like_an_image(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    folder = _in_folder(tmp, "a.png")
    (folder / "x.png").mkdir()

    def check(_):
        assert [o["json"] for o in _summary(tmp)["outputs"]] == ["a.png.json"]

    return Case(_predict(tmp, folder), 0, str(folder), "skipped 1 of 2 entries.*: x.png/", check=check)


def predict_image_of_zero_width(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    (path := tmp / "zero.mha").write_text(
        "ObjectType = Image\nNDims = 2\nDimSize = 0 12\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n"
    )
    return Case(_predict(tmp, path), 1, str(path), r"has no pixels \(size 0 x 12\)", out=tmp / "pred")


def _without_file_permission_override() -> None:
    """In a child running as root: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the capability bounding set,
    so after ``exec`` file modes apply to it as to anyone (root reads a mode-000 file otherwise)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def image_file_without_read_permission(tmp):
    path = _png(tmp / "a.png", _gray())
    path.chmod(0o000)
    code = (
        "import sys\nfrom monai_landmarks.data.image_reader import read_image\ntry:\n    read_image(sys.argv[1])\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n    sys.exit(3)\n"
    )
    as_root = {"preexec_fn": _without_file_permission_override} if os.geteuid() == 0 else {}

    def call():
        done = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=300,
                              cwd=Path(__file__).resolve().parents[2], **as_root)  # fmt: skip
        assert done.returncode == 3 and done.stdout.startswith("ImageReadError"), (done.returncode, done.stderr[-500:])
        raise ImageReadError(done.stdout)

    return Case(call, ImageReadError, str(path), "permission denied; this user may not read the file")


# ----------------------------------------------------------- round 3 (issue 22): writers and run folders


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _labelme_file(folder: Path, stem: str, labels: dict) -> Path:
    """``folder/<stem>.json`` with one point per label, and its 16 x 12 image ``<stem>.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    _png(folder / f"{stem}.png", _gray())
    shapes = [{"label": label, "points": [xy], "shape_type": "point"} for label, xy in labels.items()]
    path = folder / f"{stem}.json"
    path.write_text(json.dumps({"imagePath": f"{stem}.png", "imageWidth": 16, "imageHeight": 12, "shapes": shapes}))
    return path


def convert_labelme_into_the_folder_of_its_sources(tmp):
    # the case: `convert labelme D/labelme D --overwrite` deleted D/labelme and everything else in D
    root = _dataset(tmp)  # D holds an earlier dataset, so --overwrite would apply
    _labelme_file(root / "labelme", "a", {"sella": [3.0, 4.0]})
    (root / "notes.txt").write_text("mine")
    before = _files(root)
    call = _cli("convert", "labelme", root / "labelme", root, "--overwrite", "--quiet")
    return Case(call, 1, f"dataset folder {root} holds the input {root / 'labelme'}", "could replace or delete",
                check=lambda _: assert_equal(_files(root), before))  # fmt: skip


def synth_overwrite_keeps_files_it_did_not_write(tmp):
    root = tmp / "D"
    small = ["--num-train", "2", "--num-val", "1", "--num-test", "0", "--size", "64", "80", "--overlays", "0",
             "--quiet"]  # fmt: skip
    assert main(["synth", str(root), *small]) == 0
    (root / "notes.txt").write_text("mine")
    (root / "images" / "scan.png").write_bytes(b"not written by synth")
    old_image = (root / "images" / "head0000.png").read_bytes()

    def check(code):
        assert code == 0
        assert (root / "notes.txt").read_text() == "mine"
        assert (root / "images" / "scan.png").read_bytes() == b"not written by synth"
        assert (root / "images" / "head0000.png").read_bytes() != old_image  # its own files are replaced
        assert read_metadata(root)["seed"] == 1 and len(load_datalist(root)) == 3

    return Case(_cli("synth", root, *small, "--seed", "1", "--overwrite"), ACCEPTED, check=check)


def dataset_overwrite_onto_a_file_it_did_not_write(tmp):
    root = _dataset(tmp)  # images img0, img1
    (root / "images" / "img2.png").write_bytes(b"someone else's")
    before = _files(root)
    samples = [{"image_id": f"img{i}", "split": "train", "image": _gray(seed=i), "landmarks": [[2.0, 3.0]] * 2}
               for i in range(3)]  # fmt: skip
    call = lambda: write_dataset(root, "tiny", samples, overwrite=True)  # noqa: E731
    return Case(call, DatasetError, str(root / "images" / "img2.png"), "not written by an earlier dataset write",
                check=lambda _: assert_equal(_files(root), before))  # fmt: skip


def _tiny_run(tmp: Path, data: Path, epochs: int = 1, bundle_root: Path | None = None) -> Path:
    from _training import train

    root = bundle_root or tmp / "run"
    train(root, data, epochs=epochs)
    return root


def _phantoms(tmp: Path, name: str = "d", seed: int = 0, overwrite: bool = False) -> Path:
    return generate_phantom_dataset(tmp / name, "head", 4, 2, 0, size=(64, 80), seed=seed, overwrite=overwrite)


def second_training_refused_before_it_rewrites_the_configs(tmp):
    from _training import train

    run = _tiny_run(tmp, _phantoms(tmp))
    other = _phantoms(tmp, "other", seed=1)
    before = _files(run / "configs")
    return Case(lambda: train(run, other, epochs=1), Exception, str(run / "models" / "run.json"),
                "another training run", check=lambda _: assert_equal(_files(run / "configs"), before))  # fmt: skip


def concurrent_training_leaves_the_running_one_alone(tmp):
    data = _phantoms(tmp)
    run = _tiny_run(tmp, data)

    def state():
        return {p: b for p, b in _files(run).items() if p != "models/.lock" and not p.startswith("eval/")}

    before = state()
    holder = _lock_holder(run / "models")  # the run still training

    def check(_):
        holder.kill()
        holder.wait(30)
        assert_equal(state(), before)

    return Case(lambda: _tiny_run(tmp, data, epochs=2), RuntimeError, f"process {holder.pid}",
                "another training is writing here", check=check)  # fmt: skip


def train_into_a_bundle_folder_with_shipped_weights(tmp):
    import shutil

    bundle = tmp / "htc_ceph"
    shutil.copytree(BUNDLES / "htc_ceph", bundle)
    before = _files(bundle / "models")
    call = lambda: _tiny_run(tmp, _phantoms(tmp), bundle_root=bundle)  # noqa: E731
    return Case(call, Exception, str(bundle / "models" / "model.pt"), "shipped weights.*Pick another --bundle_root",
                check=lambda _: assert_equal(_files(bundle / "models"), before))  # fmt: skip


def train_over_weights_without_a_run_record(tmp):
    (tmp / "run" / "models").mkdir(parents=True)
    weights = _weights(tmp / "run" / "models" / "model.pt", width_multiplier=0.25)
    before = weights.read_bytes()
    call = lambda: _tiny_run(tmp, _phantoms(tmp))  # noqa: E731
    return Case(call, Exception, str(weights), "no training run of this folder wrote.*Pick another --bundle_root",
                check=lambda _: assert_equal(weights.read_bytes(), before))  # fmt: skip


def regenerated_dataset_is_other_data(tmp):
    data = _phantoms(tmp)
    run = _tiny_run(tmp, data)
    _phantoms(tmp, seed=1, overwrite=True)  # same folder, same ids, other images and landmarks
    before = _files(run / "models")
    after = lambda _: assert_equal(_files(run / "models"), before)  # noqa: E731
    return Case(lambda: _tiny_run(tmp, data, epochs=2), Exception, str(run / "models" / "run.json"),
                "another training run.*data_digest", check=after)  # fmt: skip


def validation_split_without_labelled_landmarks(tmp):
    samples = [{"image_id": f"i{n}", "split": "val" if n else "train", "image": _gray(),
                "landmarks": [[np.nan, np.nan]] * 2 if n else [[2.0, 3.0]] * 2} for n in range(3)]  # fmt: skip
    root = write_dataset(tmp / "ds", "tiny", samples)
    return Case(lambda: training_datalists(root), DatasetError, str(root),
                "validation split 'val' has no labelled landmark")  # fmt: skip


def copied_run_folder_predicts_with_its_own_weights(tmp):
    import shutil

    data = _phantoms(tmp)
    run = _tiny_run(tmp, data)
    copy = tmp / "copy"
    shutil.copytree(run, copy)
    shutil.rmtree(run)  # the original is gone: a copy reading its configs' old bundle_root would fail
    assert not any(str(run) in text.decode() for text in _files(copy / "configs").values())
    config = copy / "configs" / "inference.json"
    bundle_run = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(config), "--dataset_dir",
                  str(data / "images"), "--output_dir", str(tmp / "out"), "--progress", "False"]  # fmt: skip

    def check(code):
        assert code == 0
        predicted = json.loads((tmp / "pred" / "head0000.png.json").read_text())
        assert len(predicted["landmarks"]) == 19
        repo = str(Path(__file__).resolve().parents[2])  # this checkout's package, as pytest imports it
        path = os.pathsep.join([repo, *filter(None, [os.environ.get("PYTHONPATH")])])
        done = subprocess.run(bundle_run, cwd=tmp, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path})  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert (tmp / "out" / "head0000.png.json").is_file()

    call = _cli("predict", copy, data / "images", "--out", tmp / "pred", "--quiet", "--device", "cpu")
    return Case(call, ACCEPTED, check=check)


def run_metadata_describes_the_run(tmp):
    data = _phantoms(tmp)

    def check(run):
        meta = json.loads((run / "configs" / "metadata.json").read_text())
        assert set(meta["eval_metrics"]) == {"best_validation_val_mre", "best_validation_epoch"}, meta["eval_metrics"]
        assert meta["eval_metrics"]["best_validation_epoch"] == 1 and str(data) in meta["data_source"]
        assert "ISBI" not in meta["data_source"] and "not the bundle's shipped weights" in meta["description"]

    return Case(lambda: _tiny_run(tmp, data), ACCEPTED, check=check)


def labelme_label_one_letter_off(tmp):
    _labelme_file(tmp / "src", "a", {"sella": [1.0, 2.0], "nasion": [3.0, 4.0]})
    typo = _labelme_file(tmp / "src", "b", {"sela": [1.0, 2.0], "nasion": [3.0, 4.0]})
    _labelme_file(tmp / "src", "c", {"sella": [1.0, 2.0], "nasion": [3.0, 4.0]})
    call = lambda: convert_labelme(tmp / "src", tmp / "out", "t")  # noqa: E731
    return Case(call, DatasetError, f"{typo}: label 'sela'", r"one letter off 'sella'.*\['nasion', 'sella'\]",
                out=tmp / "out")  # fmt: skip


def labelme_labels_a_letter_apart_on_purpose(tmp):
    # numbered and left/right landmarks differ by one character and are not typos
    labels = {"L1": [1.0, 2.0], "L2": [2.0, 2.0], "L10": [3.0, 2.0], "Go_l": [4.0, 2.0], "Go_r": [5.0, 2.0],
              "Po": [6.0, 2.0], "Pog": [7.0, 2.0]}  # fmt: skip
    path = _labelme_file(tmp / "src", "a", labels)
    check = lambda root: assert_equal(read_metadata(root)["num_landmarks"], 7)  # noqa: E731
    return Case(lambda: convert_labelme([path], tmp / "out", "t"), ACCEPTED, check=check)


# ------------------------------------------- round 3 (issue 22): which weights run, the cascade, spacing, export


def _bundle_copy(tmp: Path, name: str = "htc_ceph") -> Path:
    """The shipped bundle with its weights and large_files.yml, in ``tmp`` (never edit the shipped files)."""
    import shutil

    return Path(shutil.copytree(BUNDLES / name, tmp / name, ignore=shutil.ignore_patterns("docs", "sample_images")))


def _flip_a_byte(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside a tensor's bytes: torch would load it without a word
    path.write_bytes(bytes(data))
    return path


def _shipped_predict(bundle: Path, tmp: Path, *inputs, extra=()) -> Callable:
    return _cli("predict", bundle, *inputs, "--out", tmp / "pred", "--quiet", "--device", "cpu", *extra)


def _record(tmp: Path, name: str) -> dict:
    return json.loads((tmp / "pred" / f"{name}.json").read_text())


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def weights_with_flipped_bytes(tmp):
    bundle = _bundle_copy(tmp)
    weights = _flip_a_byte(bundle / "models" / "model.pt")
    _png(tmp / "a.png", _gray(64, 80))
    listed = _sha256(BUNDLES / "htc_ceph" / "models" / "model.pt")
    problem = rf"sha256 {_sha256(weights)} does not match .*large_files.yml \(expected {listed}\)"
    return Case(_shipped_predict(bundle, tmp, tmp / "a.png"), 1, str(weights), problem, out=tmp / "pred")


def refiner_with_flipped_bytes(tmp):
    bundle = _bundle_copy(tmp)
    refiner = _flip_a_byte(bundle / "models" / "refiner.pt")
    _png(tmp / "a.png", _gray(64, 80))
    return Case(_shipped_predict(bundle, tmp, tmp / "a.png"), 1, str(refiner), "does not match .*large_files.yml",
                out=tmp / "pred")  # fmt: skip


def declared_refiner_missing(tmp):
    bundle = _bundle_copy(tmp)
    (refiner := bundle / "models" / "refiner.pt").unlink()
    _png(tmp / "a.png", _gray(64, 80))
    problem = r"refiner weights not found \(listed in .*large_files.yml\).*--no-refine"
    return Case(_shipped_predict(bundle, tmp, tmp / "a.png"), 1, str(refiner), problem, out=tmp / "pred")


def refiner_path_typo(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _png(tmp / "a.png", _gray())
    typo = tmp / "refnier.pt"
    return Case(_predict(tmp, tmp / "a.png", extra=["--set", f"refiner_path={typo}"]), 1, str(typo),
                "refiner weights not found", out=tmp / "pred")  # fmt: skip


def refiner_path_a_folder(tmp):
    (folder := tmp / "refiner.pt").mkdir()
    from monai_landmarks.engines import PatchRefinement

    return Case(lambda: PatchRefinement.from_file(folder, 19), ValueError, str(folder), "not a regular file")


def refiner_file_as_weights(tmp):
    _png(tmp / "a.png", _gray())
    refiner = BUNDLES / "htc_ceph" / "models" / "refiner.pt"
    problem = "patch refiner weights .*models/model.pt"
    return Case(_predict(tmp, tmp / "a.png", weights=refiner), 1, str(refiner), problem, out=tmp / "pred")


def coarse_only_is_explicit_and_visible(tmp):
    _weights(tmp / "w.pt", width_multiplier=0.25)
    _png(tmp / "a.png", _gray())

    def check(code):
        assert code == 0
        record, summary = _record(tmp, "a.png"), json.loads((tmp / "pred" / "predict_summary.json").read_text())
        assert record["cascade"] == "off" and record["weights"]["refiner"] is None
        assert summary["cascade"] == "off" and summary["weights"]["refiner"] is None
        rows = (tmp / "pred" / "predictions.csv").read_text().splitlines()
        assert rows[0].endswith("outside_image,cascade,model,model_sha256,refiner,refiner_sha256")
        assert all(",off," in row for row in rows[1:])

    return Case(_predict(tmp, tmp / "a.png", extra=["--no-refine"]), ACCEPTED, check=check)


def every_output_says_what_ran(tmp):
    weights = _weights(tmp / "w.pt", width_multiplier=0.25)
    _png(tmp / "a.png", _gray())
    refiner = BUNDLES / "htc_ceph" / "models" / "refiner.pt"

    def check(code):
        assert code == 0
        record, summary = _record(tmp, "a.png"), json.loads((tmp / "pred" / "predict_summary.json").read_text())
        ran = {"model": (str(weights), _sha256(weights)), "refiner": (str(refiner), _sha256(refiner))}
        for what in (record, summary):
            assert what["cascade"] == "on"
            assert {k: (w["path"], w["sha256"]) for k, w in what["weights"].items()} == ran
        # a PNG has no spacing: the refiner's assumption is stated, and no millimetres come from it
        assert record["spacing_source"] == "assumed: bundle default (0.2 mm)" and record["spacing_mm"] == [0.2, 0.2]
        assert all("x_mm" not in lm for lm in record["landmarks"])
        assert summary["spacing_sources"] == {"assumed: bundle default (0.2 mm)": 1}
        row = (tmp / "pred" / "predictions.csv").read_text().splitlines()[1]
        assert f"assumed: bundle default (0.2 mm),False,on,{weights},{_sha256(weights)},{refiner}," in row.replace(
            "True", "False")  # fmt: skip

    return Case(_predict(tmp, tmp / "a.png"), ACCEPTED, check=check)


def off_image_landmarks_flagged(tmp):
    """A blank 40 x 40 crop: the shipped cascade puts several landmarks off it; they keep their position, are flagged
    and get confidence 0, and the record counts them."""
    _png(tmp / "blank.png", np.zeros((40, 40), np.uint8))

    def check(code):
        assert code == 0
        record = _record(tmp, "blank.png")
        off = [not (-0.5 <= lm["x"] <= 39.5 and -0.5 <= lm["y"] <= 39.5) for lm in record["landmarks"]]
        assert any(off), "the cascade kept every landmark on this image; the row needs another image"
        assert [lm["outside_image"] for lm in record["landmarks"]] == off
        assert all(lm["confidence"] == 0.0 for lm, o in zip(record["landmarks"], off, strict=True) if o)
        assert record["num_outside_image"] == sum(off) and record["image_size"] == [40, 40]

    return Case(_shipped_predict(BUNDLES / "htc_ceph", tmp, tmp / "blank.png"), ACCEPTED, check=check)


def dicom_nominal_scanned_spacing(tmp):
    """A file with only Nominal Scanned Pixel Spacing (0018,2010), as SimpleITK writes a fresh image (written with
    pydicom here: after ITK has read a DICOM, its GDCM writer adds Pixel Spacing, so the file would depend on the
    tests before): it is the image's spacing."""
    path = _dicom(tmp, "film.dcm", {"NominalScannedPixelSpacing": [0.1, 0.1]})
    _weights(tmp / "w.pt", width_multiplier=0.25)

    def check(code):
        assert code == 0
        record = _record(tmp, "film.dcm")
        assert record["spacing_source"] == "header: NominalScannedPixelSpacing (0018,2010)"
        assert record["spacing_mm"] == [0.1, 0.1] and "x_mm" in record["landmarks"][0]

    return Case(_predict(tmp, path), ACCEPTED, check=check)


def _dicom(tmp: Path, name: str, tags: dict, **kwargs) -> Path:
    pytest.importorskip("pydicom")
    from tests.dicom_files import write_dicom

    pixels = (np.arange(48 * 64).reshape(48, 64) % 4000).astype(np.uint16)
    return write_dicom(tmp / name, kwargs.pop("pixels", pixels), tags, **kwargs)


def dicom_pixel_data_cut_short(tmp):
    pixels = (np.arange(48 * 64).reshape(48, 64) % 4000).astype(np.uint16)
    path = _dicom(tmp, "cut.dcm", {"PixelSpacing": [0.1, 0.1]}, pixel_data=pixels.tobytes()[:1000])
    _weights(tmp / "w.pt", width_multiplier=0.25)
    return Case(_predict(tmp, path), 1, str(path), r"Pixel Data holds 1000 bytes, .*\(48 x 64\) need 6144",
                out=tmp / "pred")  # fmt: skip


def dicom_rows_and_columns_wrong(tmp):
    path = _dicom(tmp, "rows.dcm", {"PixelSpacing": [0.1, 0.1], "Rows": 200, "Columns": 300})
    return Case(_reads(path), ImageReadError, str(path), r"Pixel Data holds 6144 bytes, .*\(200 x 300\) need 120000")


def dicom_without_pixel_data(tmp):
    path = _dicom(tmp, "nopixels.dcm", {"PixelSpacing": [0.1, 0.1]}, pixel_data=None)
    _weights(tmp / "w.pt", width_multiplier=0.25)
    return Case(_predict(tmp, path), 1, str(path), "not a readable image", out=tmp / "pred")


def dicom_zero_spacing(tmp):
    path = _dicom(tmp, "zero.dcm", {"PixelSpacing": [0, 0]})
    _weights(tmp / "w.pt", width_multiplier=0.25)
    return Case(_predict(tmp, path), 1, str(path), "PixelSpacing .* expected two positive numbers", out=tmp / "pred")


def dicom_spacing_not_a_number(tmp):
    path = _dicom(tmp, "text.dcm", {"PixelSpacing": "9.9\\9.9"})
    path.write_bytes(path.read_bytes().replace(b"9.9\\9.9", b"abc\\def"))  # pydicom refuses to write it
    _weights(tmp / "w.pt", width_multiplier=0.25)
    return Case(_predict(tmp, path), 1, str(path), r"'abc\\\\def'; expected two positive numbers", out=tmp / "pred")


def dicom_multi_frame(tmp):
    pixels = (np.arange(96 * 64).reshape(96, 64) % 4000).astype(np.uint16)
    path = _dicom(tmp, "frames.dcm", {"PixelSpacing": [0.1, 0.1], "NumberOfFrames": 2, "Rows": 48}, pixels=pixels)
    _weights(tmp / "w.pt", width_multiplier=0.25)
    return Case(_predict(tmp, path), 1, str(path), r"expected a 2D image .*\(64, 48, 2\)", out=tmp / "pred")


def _set_row(setting: str, names: str, problem: str):
    def row(tmp):
        _weights(tmp / "w.pt", width_multiplier=0.25)
        _png(tmp / "a.png", _gray())
        return Case(_predict(tmp, tmp / "a.png", extra=["--set", setting]), 1, names, problem, out=tmp / "pred")

    row.__name__ = "predict_set_" + re.sub(r"\W+", "_", setting).strip("_")
    return row


predict_set_image_size_zero = _set_row("image_size=[0,0]", "LandmarkResized", r"two non-zero integers .*\[0, 0\]")
predict_set_image_size_text = _set_row("image_size=abc", "LandmarkResized", "two non-zero integers .*'abc'")
predict_set_refine_iterations_text = _set_row("refine_iterations=x", "refine iterations", "an integer of at least 1")
predict_set_default_spacing_text = _set_row("refine_default_spacing_mm=abc", "default_spacing", "positive numbers")
predict_set_landmark_names_number = _set_row("landmark_names=3", "landmark_names", "a list of names")
predict_set_unknown_target = _set_row("network_def#_target_=no.such.Net", "no.such.Net", "Cannot locate")


def _export_bundle(tmp: Path, state: dict) -> Path:
    """htc_ceph's configs at a quarter width, with ``state`` as models/model.pt."""
    import shutil

    bundle = tmp / "b"
    shutil.copytree(BUNDLES / "htc_ceph" / "configs", bundle / "configs")
    (bundle / "models").mkdir()
    torch.save(state, bundle / "models" / "model.pt")
    return bundle


def export_weights_with_nan(tmp):
    state = _network("htc_ceph", width_multiplier=0.25).state_dict()
    next(v for v in state.values() if v.is_floating_point()).view(-1)[0] = float("nan")
    bundle = _export_bundle(tmp, state)
    out = tmp / "exported"
    call = _cli("export", bundle, "--out", out / "model.ts", "--set", "width_multiplier=0.25")
    return Case(call, 1, str(bundle / "models" / "model.pt"), "NaN or infinite values", out=out)


def export_weights_with_flipped_bytes(tmp):
    bundle = _bundle_copy(tmp)
    weights = _flip_a_byte(bundle / "models" / "model.pt")
    out = tmp / "exported"
    return Case(_cli("export", bundle, "--out", out / "model.ts"), 1, str(weights), "does not match", out=out)


def evaluate_uses_the_weights_of_the_folder_given(tmp):
    """``evaluate bundles/x`` evaluates bundles/x's weights, not those of its run folder runs/x (which it writes the
    report into), and says which file ran."""
    bundle = _bundle_copy(tmp)
    (tmp / "runs" / "htc_ceph" / "models").mkdir(parents=True)
    torch.save(_network("htc_ceph").state_dict(), tmp / "runs" / "htc_ceph" / "models" / "model.pt")  # another model
    samples = [{"image_id": f"t{i}", "split": "test1", "image": _gray(64, 80, seed=i),
                "landmarks": np.full((19, 2), 20.0)} for i in range(2)]  # fmt: skip
    data = write_dataset(tmp / "ds", "tiny", samples, pixel_spacing_mm=0.1)

    def call():
        here = os.getcwd()
        os.chdir(tmp)  # the default run folder is ./runs/<bundle name>
        try:
            return main(["evaluate", str(bundle), "--dataset_dir", str(data), "--device", "cpu"])
        finally:
            os.chdir(here)

    def check(code):
        assert code == 0
        metrics = json.loads((tmp / "runs" / "htc_ceph" / "eval" / "test1" / "metrics.json").read_text())
        weights = metrics["weights"]["model"]
        shipped = bundle / "models" / "model.pt"
        assert (weights["path"], weights["sha256"]) == (str(shipped), _sha256(shipped))
        assert metrics["cascade"] == "on" and metrics["weights"]["refiner"]["path"].startswith(str(bundle))

    return Case(call, ACCEPTED, check=check)


ROUND3_WEIGHTS = [
    weights_with_flipped_bytes, refiner_with_flipped_bytes, declared_refiner_missing, refiner_path_typo,
    refiner_path_a_folder, refiner_file_as_weights, coarse_only_is_explicit_and_visible, every_output_says_what_ran,
    off_image_landmarks_flagged, dicom_nominal_scanned_spacing, dicom_pixel_data_cut_short,
    dicom_rows_and_columns_wrong, dicom_without_pixel_data, dicom_zero_spacing, dicom_spacing_not_a_number,
    dicom_multi_frame, predict_set_image_size_zero, predict_set_image_size_text, predict_set_refine_iterations_text,
    predict_set_default_spacing_text, predict_set_landmark_names_number, predict_set_unknown_target,
    export_weights_with_nan, export_weights_with_flipped_bytes, evaluate_uses_the_weights_of_the_folder_given,
]  # fmt: skip


ROWS = [
    # readers
    empty_image, truncated_png, truncated_jpeg, corrupt_png, text_file_as_image_in_load_image, missing_image_file,
    volume_not_2d, image_of_100_megapixels, image_16_bit, image_rgba, image_palette, image_of_one_pixel,
    # dataset format
    csv_missing_landmark_column, csv_extra_cells_in_a_row, csv_nan_coordinate, csv_infinite_coordinate,
    csv_negative_coordinate, csv_coordinate_outside_the_image, csv_duplicate_landmark_row, csv_not_utf8,
    csv_with_bom, file_path_escaping_the_dataset, file_path_absolute, spacing_zero, spacing_negative,
    spacing_zero_when_writing, duplicate_image_id_when_writing, nan_in_one_coordinate_when_writing,
    infinite_coordinate_when_writing, truncated_image_in_a_dataset,
    # converters
    wide_csv_extra_landmark_columns, wide_csv_unpaired_landmark_column, long_csv_not_utf8,
    long_csv_duplicate_image_id, labelme_nan_coordinate,
    # bundles and weights
    bundle_landmark_count_mismatch, bundle_training_on_a_dataset_of_other_landmarks, checkpoint_of_another_network,
    checkpoint_with_other_landmarks, weights_file_corrupt, training_checkpoint_as_weights,
    # command line and inference
    predict_zero_spacing, predict_negative_spacing, predict_image_of_100_megapixels, predict_corrupt_image,
    predict_empty_folder, predict_not_a_bundle, convert_into_a_non_empty_folder, synth_image_too_small,
    cli_unknown_format,
    # round 2, data loss: inputs, other people's files and other runs are never written over
    predict_out_is_the_input_folder, predict_out_inside_an_input_folder, predict_over_a_file_it_did_not_write,
    predict_again_into_its_own_output, predict_names_with_dots, predict_same_stem_two_formats,
    predict_same_name_in_two_folders, image_id_escaping_on_read, report_overlay_outside_its_folder,
    report_keeps_other_pictures, checkpoint_backup_with_a_lower_epoch, checkpoint_archive_with_a_higher_epoch,
    # round 2, silent wrong results
    truncated_bmp, truncated_tiff, truncated_nifti, convert_isbi2015_truncated_bmp, predict_truncated_bmp,
    image_with_nan_pixels, predict_image_with_nan_pixels, predict_weights_with_nan, labelme_label_differs_in_case,
    labelme_point_with_null_shape_type, second_training_into_a_locked_folder, stale_lock_of_a_killed_training,
    bundle_run_folder_of_another_dataset, restart_in_a_folder_of_another_run,
    # round 2, crashes
    image_name_not_utf8, image_header_of_400_megapixels_in_a_dataset, truncated_checkpoint_on_resume,
    num_landmarks_of_a_billion, dataset_json_nested_deeply, csv_cell_of_131072_characters,
    long_csv_cell_of_131072_characters, labelme_fifo_named_json, predict_interrupted_by_sigterm,
    predict_interrupted_by_ctrl_c, files_keep_the_umask,
    # round 3 (issue 22), predict's own files and its input policy
    predict_again_after_a_sigkill, predict_later_runs_on_other_images,
    predict_beside_a_journal_over_a_file_it_did_not_write, predict_into_a_summary_it_did_not_write,
    predict_into_a_journal_it_did_not_write, predict_disk_full, write_error_names_the_file,
    predict_interrupted_between_the_rows_and_the_summary, predict_stray_files_in_the_input_folder,
    bundle_input_folder_of_monai_label, predict_batch_with_unreadable_images, predict_folder_of_only_non_images,
    predict_symbolic_link_loop, predict_folder_named_like_an_image, predict_image_of_zero_width,
    image_file_without_read_permission,
    # round 3 (issue 22), writers and run folders: nothing replaced that the run did not write, run folders that
    # describe themselves
    convert_labelme_into_the_folder_of_its_sources, synth_overwrite_keeps_files_it_did_not_write,
    dataset_overwrite_onto_a_file_it_did_not_write, second_training_refused_before_it_rewrites_the_configs,
    concurrent_training_leaves_the_running_one_alone, train_into_a_bundle_folder_with_shipped_weights,
    train_over_weights_without_a_run_record, regenerated_dataset_is_other_data,
    validation_split_without_labelled_landmarks, copied_run_folder_predicts_with_its_own_weights,
    run_metadata_describes_the_run, labelme_label_one_letter_off, labelme_labels_a_letter_apart_on_purpose,
]  # fmt: skip
ROWS += ROUND3_WEIGHTS  # round 3 (issue 22): weights, cascade, spacing, export


def _messages(error: BaseException) -> str:
    """The error's message and those of the errors it wraps (MONAI wraps errors of config expressions)."""
    texts = []
    while error is not None:
        texts.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


def _left_behind(tmp: Path) -> list[str]:
    """Temporary files or folders (``.name.xxx.tmp``) anywhere under ``tmp``."""
    return [str(p) for p in tmp.rglob("*") if p.name.endswith(".tmp") or re.match(r"^\.\w.*\.(tmp|old-\w+)$", p.name)]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.__name__)
def test_bad_input(row, tmp_path, capsys):
    case = row(tmp_path)
    capsys.readouterr()
    if case.expect == ACCEPTED:
        case.check(case.call())
    elif isinstance(case.expect, int):
        code = _exit_code(case.call)
        err = capsys.readouterr().err
        assert code == case.expect, err
        assert case.names in err and re.search(case.problem, err), err
        assert "Traceback" not in err
        case.check(None)
    else:
        with pytest.raises(case.expect) as info:
            case.call()
        message = _messages(info.value)
        assert case.names in message, message
        assert re.search(case.problem, message, re.S), message
        case.check(None)
    if case.out is not None:
        assert not case.out.exists() or not any(case.out.iterdir()), f"{case.out} was left behind"
    assert not _left_behind(tmp_path)


def _exit_code(call) -> int:
    """The CLI's exit code: returned by ``main``, or raised by argparse as SystemExit for usage errors."""
    try:
        return call()
    except SystemExit as e:
        return e.code


def test_the_table_covers_at_least_25_bad_kinds():
    accepted = {"image_16_bit", "image_rgba", "image_palette", "image_of_one_pixel", "csv_with_bom"}
    assert len({r.__name__ for r in ROWS} - accepted) >= 25
