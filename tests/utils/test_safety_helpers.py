"""The helpers behind round 2 of the reliability table: safe output names, output folders, locks, fingerprints."""

import json
import os

import numpy as np
import pytest

from monai_landmarks.utils.fingerprint import dataset_fingerprint, fingerprint_differences
from monai_landmarks.utils.io import atomic_write_text, current_umask
from monai_landmarks.utils.locks import LOCK_FILE, FolderLock
from monai_landmarks.utils.paths import check_output_folder, child_path, display, regular_files


@pytest.mark.parametrize("name", ["../x.png", "a/b.png", "..", ".", "", "/abs.png"])
def test_child_path_refuses_names_that_leave_the_folder(tmp_path, name):
    with pytest.raises(ValueError, match="outside this folder"):
        child_path(tmp_path, name)


def test_child_path_keeps_plain_names(tmp_path):
    assert child_path(tmp_path, "1.2.840.png.json") == tmp_path / "1.2.840.png.json"


def test_output_folder_checks(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"")
    for out in (tmp_path / "in", tmp_path / "in" / "sub"):
        with pytest.raises(ValueError, match="input folder"):
            check_output_folder(out, [tmp_path / "in"])
    with pytest.raises(ValueError, match="folder of the input"):
        check_output_folder(tmp_path / "in", [tmp_path / "in" / "a.png"])
    check_output_folder(tmp_path / "in" / "sub", [tmp_path / "in" / "a.png"])  # beside a file: allowed
    check_output_folder(tmp_path / "out", [tmp_path / "in"])


def test_regular_files_skip_fifos_with_a_warning(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    os.mkfifo(tmp_path / "b.json")
    warnings = []
    assert regular_files(sorted(tmp_path.iterdir()), warnings.append) == [tmp_path / "a.json"]
    assert len(warnings) == 1 and "b.json: not a regular file" in warnings[0]


def test_display_escapes_bytes_that_are_not_utf8():
    assert display(os.fsdecode(b"/x/a\xff.png")) == "/x/a\\xff.png"
    assert display("/x/plain.png") == "/x/plain.png"


def test_lock_records_its_holder_and_removes_its_file(tmp_path):
    lock = FolderLock(tmp_path / "run", "training").acquire()
    holder = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
    assert holder["pid"] == os.getpid() and holder["what"] == "training"
    again = FolderLock(tmp_path / "run", "training").acquire()  # POSIX locks belong to the process
    assert again.held
    lock.release()
    assert not (tmp_path / "run" / LOCK_FILE).exists() and not lock.held


def test_fingerprint_sees_other_images_and_other_folders():
    items = [{"image": f"/d/images/{i}.png", "image_id": i, "landmarks": np.zeros((1, 19, 2))} for i in "ab"]
    base = dataset_fingerprint(items)
    assert base["data"] == "/d/images" and base["num_images"] == 2 and base["num_landmarks"] == 19
    other_ids = dataset_fingerprint([{**items[0], "image_id": "c"}, items[1]])
    moved = dataset_fingerprint([{**item, "image": item["image"].replace("/d/", "/e/")} for item in items])
    assert fingerprint_differences(base, other_ids) == [
        f"image_ids: {base['image_ids']!r} -> {other_ids['image_ids']!r}"
    ]
    assert fingerprint_differences(base, moved) == ["data: '/d/images' -> '/e/images'"]
    assert dataset_fingerprint(list(reversed(items))) == base  # order does not matter


def test_atomic_files_get_the_umask_mode(tmp_path):
    previous = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640


def test_a_lock_on_a_full_disk_names_its_file_and_leaves_none(tmp_path, monkeypatch):
    import errno

    from monai_landmarks.utils.io import WriteError

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(WriteError, match=f"{tmp_path / 'out' / LOCK_FILE}: could not write it .* the disk is full"):
        FolderLock(tmp_path / "out", "predict").acquire()
    assert os.listdir(tmp_path / "out") == []


def test_not_a_file_says_what_the_path_is(tmp_path):
    from monai_landmarks.utils.paths import not_a_file

    (tmp_path / "f").write_text("x")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dangling").symlink_to("nowhere")
    os.mkfifo(tmp_path / "fifo")
    kinds = {p: not_a_file(tmp_path / p) for p in ("f", "loop", "dangling", "fifo", "missing")}
    assert kinds == {"f": None, "loop": "a symbolic link loop", "dangling": "a broken symbolic link",
                     "fifo": "a FIFO, socket or device", "missing": "missing"}  # fmt: skip
    assert not_a_file(tmp_path) == "a folder"


def test_a_failed_torch_save_names_its_file(tmp_path, monkeypatch):
    import torch

    from monai_landmarks.utils.io import WriteError, atomic_torch_save

    def broken(obj, path):  # what torch's zip writer raises when the disk fills up
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(WriteError, match=f"{tmp_path / 'model.pt'}: could not write it .*inline_container"):
        atomic_torch_save({"a": 1}, tmp_path / "model.pt")
    assert os.listdir(tmp_path) == []
