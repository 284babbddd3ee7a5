"""The converter registry: the command line's ``convert`` offers exactly its entries, and a new entry is all a
dataset needs to be converted from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monai_landmarks.cli import main
from monai_landmarks.data.converters import CONVERTERS, Converter, Option


def _help(capsys) -> str:
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_help_lists_every_converter_with_its_source_and_options(capsys):
    text = _help(capsys)
    assert "{" + ",".join(CONVERTERS) + "}" in text
    assert list(CONVERTERS) == ["isbi2015", "dha", "shenzhen", "labelme"]
    for name, converter in CONVERTERS.items():
        assert f"{name}: {converter.source}" in text and converter.layout in text
        for option in converter.options:
            assert option.flag in text and option.help in text


def test_option_flags_are_unique():
    flags = [o.flag for c in CONVERTERS.values() for o in c.options]
    assert len(flags) == len(set(flags)) and not {"--downsample", "--overwrite", "--quiet"} & set(flags)


def test_a_missing_required_option_is_named(tmp_path, capsys):
    assert main(["convert", "dha", str(tmp_path / "all.csv"), str(tmp_path / "out")]) == 1
    assert "dha: give the Digital Hand Atlas image folder with --images" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_one_entry_adds_a_dataset_to_the_command(tmp_path, monkeypatch, capsys):
    calls = []

    def run(source, out, values):
        calls.append((source, out, values["site"], values["downsample"], values["overwrite"], values["progress"]))
        Path(out).mkdir()
        return Path(out)

    entry = Converter(
        "toy", "toy landmark files", "a toy folder", run, (Option("--site", "toy: the site", "give --site."),)
    )
    monkeypatch.setitem(CONVERTERS, "toy", entry)
    text = _help(capsys)
    assert "toy: a toy folder" in text and "or toy landmark files." in text and "--site SITE toy: the site" in text
    assert main(["convert", "toy", str(tmp_path / "src"), str(tmp_path / "out")]) == 1
    assert "toy: give --site." in capsys.readouterr().err and not calls
    out = tmp_path / "out"
    assert main(["convert", "toy", str(tmp_path / "src"), str(out), "--site", "A", "--downsample", "2", "--quiet"]) == 0
    assert calls == [(str(tmp_path / "src"), str(out), "A", 2, False, False)]
    assert f"wrote {out}" in capsys.readouterr().out


def test_labelme_runs_through_its_entry(tmp_path):
    from PIL import Image

    Image.new("L", (16, 12)).save(tmp_path / "a.png")
    shapes = [{"label": "tip", "points": [[3.0, 4.0]], "shape_type": "point"}]
    doc = {"imagePath": "a.png", "imageWidth": 16, "imageHeight": 12, "shapes": shapes}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    out = tmp_path / "ds"
    assert main(["convert", "labelme", str(tmp_path / "a.json"), str(out), "--spacing", "0.2", "--quiet"]) == 0
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["name"] == "ds" and meta["pixel_spacing_mm"] == [0.2, 0.2] and meta["landmark_names"] == ["tip"]
