"""What pyproject.toml promises a user installing beside MONAI: one version, MONAI and torch as ranges that admit
the releases CI tests, MONAI extras that exist, extras that install together (all but `dev` with `monailabel`),
the license and the typing marker."""

from __future__ import annotations

import itertools
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import monai_landmarks

tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CORE = {canonicalize_name(r.name): r for r in map(Requirement, PROJECT["dependencies"])}
EXTRAS = {name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()}
# the one pair that cannot install together (torch 2.13.0 CPU for `dev`, 2.14.1 with torchvision for `monailabel`)
APART = {("dev", "monailabel")}


def _conflict(a: list[Requirement], b: list[Requirement]) -> list[str]:
    """Exact pins in one list that the other list's requirement of the same package excludes (and core's)."""
    found = []
    for x, y in itertools.permutations((a, b)):
        for pin in x:
            exact = [s.version for s in pin.specifier if s.operator == "=="]
            for other in [r for r in y if canonicalize_name(r.name) == canonicalize_name(pin.name)]:
                found += [f"{pin} vs {other}" for v in exact if not other.specifier.contains(v, prereleases=True)]
    return found


def test_the_version_is_written_once():
    assert "version" in PROJECT["dynamic"] and "version" not in PROJECT
    assert re.fullmatch(r"\d+\.\d+\.\d+", monai_landmarks.__version__)
    assert metadata.version("monai-landmarks") == monai_landmarks.__version__


@pytest.mark.parametrize("name, tested", [("monai", ("1.6.0", "1.6.1")), ("torch", ("2.13.0", "2.14.1"))])
def test_monai_and_torch_are_ranges_that_admit_the_tested_releases(name, tested):
    spec = CORE[name].specifier
    assert not any(s.operator in ("==", "===") for s in spec), f"{CORE[name]}: an exact pin"
    assert all(spec.contains(v) for v in tested), f"{CORE[name]} excludes one of {tested}"
    assert spec.contains(metadata.version(name).split("+")[0]), "the running release is outside the range"


def test_the_monai_extras_asked_for_exist():
    provided = set(metadata.metadata("monai").get_all("Provides-Extra"))
    assert CORE["monai"].extras and CORE["monai"].extras <= provided, CORE["monai"].extras - provided
    assert "pyyaml" in CORE["monai"].extras  # MONAI has no `yaml` extra: pip only warns and installs no pyyaml


def test_the_extras_install_together_but_dev_with_monailabel():
    core = list(CORE.values())
    for a, b in itertools.combinations(sorted(EXTRAS), 2):
        clashes = _conflict(EXTRAS[a], EXTRAS[b]) + _conflict(EXTRAS[a] + EXTRAS[b], core)
        if (a, b) in APART:
            assert clashes, f"{a} and {b} no longer clash: drop them from APART and say so in pyproject.toml"
        else:
            assert not clashes, f"extras {a} and {b}: {clashes}"


def test_the_exact_cpu_torch_pin_is_only_in_dev():
    pinned = {name for name, reqs in EXTRAS.items() for r in reqs if r.name == "torch" and "==2.13.0" in str(r)}
    assert pinned == {"dev"}


def test_license_and_typing_marker_ship():
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert (ROOT / "monai_landmarks" / "py.typed").is_file()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data["monai_landmarks"]
