"""The dataset layouts ``monai-landmarks convert`` offers, one :class:`Converter` entry each.

Adding a dataset is its module (``convert_<name>``) and one entry in :data:`CONVERTERS`: the command line takes
its choices, its help and the converter options from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monai_landmarks.utils.paths import regular_files
from monai_landmarks.utils.spacing import spacing_flag

from .dha import convert_dha
from .generic import convert_labelme
from .isbi2015 import GROUND_TRUTHS, convert_isbi2015
from .shenzhen import convert_shenzhen

__all__ = ["CONVERTERS", "Converter", "Option"]


@dataclass(frozen=True)
class Option:
    """A command-line option of one converter.

    Args:
        flag: the option, ``"--images"``; its value reaches the converter as ``dest`` (``"images"``).
        help: its help text.
        required: the error for a missing value (what to give), or None when it is optional.
        settings: further arguments of ``argparse``'s ``add_argument`` (``default``, ``choices``, ``type``).
    """

    flag: str
    help: str
    required: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Converter:
    """One dataset layout the command line converts.

    Args:
        name: the ``convert`` choice.
        layout: what it reads, for the command's description (``"Shenzhen chest with GU2Net's labels"``).
        source: what the ``source`` argument is for it (``"images"``).
        run: ``run(source, out, values)`` writes the dataset and returns its folder; ``values`` holds the
            options' values by ``dest`` and the common ``downsample``, ``overwrite``, ``progress`` and ``warn``.
        options: the options only this converter reads.
    """

    name: str
    layout: str
    source: str
    run: Callable[[str, str, Mapping[str, Any]], Path]
    options: tuple[Option, ...] = ()

    def convert(self, source, out, values: Mapping[str, Any]) -> Path:
        """Check the required options, then run; returns the dataset folder."""
        for option in self.options:
            if option.required and values.get(option.dest) is None:
                raise ValueError(f"{self.name}: {option.required}")
        return self.run(str(source), str(out), values)


def _common(values: Mapping[str, Any]) -> dict:
    return {key: values[key] for key in ("downsample", "overwrite", "progress")}


def _isbi2015(source: str, out: str, values: Mapping[str, Any]) -> Path:
    return convert_isbi2015(source, out, ground_truth=values["ground_truth"], **_common(values))


def _dha(source: str, out: str, values: Mapping[str, Any]) -> Path:
    return convert_dha(source, values["images"], out, **_common(values))


def _shenzhen(source: str, out: str, values: Mapping[str, Any]) -> Path:
    return convert_shenzhen(source, values["labels"], out, **_common(values))


def _labelme(source: str, out: str, values: Mapping[str, Any]) -> Path:
    folder = Path(source)
    files = regular_files(sorted(folder.glob("*.json")), values.get("warn")) if folder.is_dir() else [source]
    if not files:
        raise ValueError(f"{source}: no labelme .json files found.")
    name = values.get("name") or Path(out).name
    return convert_labelme(files, out, name=name, pixel_spacing_mm=values.get("spacing"), **_common(values))


#: the converters by name, in the order the command's help lists them
CONVERTERS: dict[str, Converter] = {
    c.name: c
    for c in (
        Converter(
            name="isbi2015",
            layout="ISBI 2015 (RawImage/ + AnnotationsByMD/)",
            source="the release folder",
            run=_isbi2015,
            options=(
                Option("--ground-truth", "isbi2015 only", settings={"default": "mean", "choices": GROUND_TRUTHS}),
            ),
        ),
        Converter(
            name="dha",
            layout="the Digital Hand Atlas with Payer's all.csv",
            source="all.csv",
            run=_dha,
            options=(
                Option(
                    "--images",
                    "dha: the image folder",
                    required="give the Digital Hand Atlas image folder with --images (SOURCE is all.csv).",
                ),
            ),
        ),
        Converter(
            name="shenzhen",
            layout="Shenzhen chest with GU2Net's labels",
            source="images",
            run=_shenzhen,
            options=(
                Option(
                    "--labels",
                    "shenzhen: GU2Net's label folder",
                    required="give GU2Net's label folder with --labels (SOURCE is the image folder).",
                ),
            ),
        ),
        Converter(
            name="labelme",
            layout="labelme point files",
            source="json(s)",
            run=_labelme,
            options=(
                Option("--spacing", "labelme: mm per pixel, if known", settings={"type": spacing_flag}),
                Option("--name", "labelme: dataset name"),
            ),
        ),
    )
}
