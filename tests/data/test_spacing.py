"""The spacing value (utils/spacing.Spacing): its checks, and the precedence that chooses it (data/spacing)."""

from __future__ import annotations

import argparse
import dataclasses
import math

import numpy as np
import pytest
import torch

from monai_landmarks.data.spacing import Spacing, resolve_spacing
from monai_landmarks.utils.spacing import spacing_flag

NAN = float("nan")


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.1, (0.1, 0.1)),
        ([0.1, 0.2], (0.1, 0.2)),
        (np.array([0.3]), (0.3, 0.3)),
        (torch.tensor([0.5, 0.25]), (0.5, 0.25)),
    ],
)
def test_of_reads_one_number_or_x_then_y(value, expected):
    spacing = Spacing.of(value, "dataset")
    assert (spacing.x, spacing.y) == pytest.approx(expected) and spacing.source == "dataset"
    assert spacing.as_array().dtype == np.float64 and spacing.as_tensor().dtype == torch.float64
    assert spacing.as_list() == [spacing.x, spacing.y] and not spacing.assumed


@pytest.mark.parametrize(
    "value, message",
    [
        (0.0, r"scan.dcm: pixel spacing must be positive and finite, got \[0.0, 0.0\] \(--spacing\)"),
        ([0.1, -0.1], "must be positive and finite"),
        (math.inf, "must be positive and finite"),
        (NAN, "must be positive and finite"),
        ("0.1", r"scan.dcm: pixel spacing must be one or two positive numbers \(sx, sy\) in mm per pixel, got '0.1'"),
        ([0.1, 0.1, 0.1], "one or two positive numbers"),
        ([True, 0.1], "one or two positive numbers"),
        ([[0.1], [0.1]], "one or two positive numbers"),
        (None, "one or two positive numbers"),
    ],
)
def test_of_refuses_what_is_not_a_spacing_and_names_where(value, message):
    with pytest.raises(ValueError, match=message):
        Spacing.of(value, "--spacing", where="scan.dcm")


def test_the_value_is_frozen_and_checked_however_it_is_built():
    spacing = Spacing.of(0.1, "header")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spacing.x = 0.2
    assert spacing == Spacing(0.1, 0.1, "header") and hash(spacing) == hash(Spacing(0.1, 0.1, "header"))
    with pytest.raises(ValueError, match="header: pixel spacing must be positive"):
        Spacing(0.1, -1.0, "header")


def test_known_is_none_for_the_unknown_marks_only():
    for unknown in (None, NAN, [NAN, NAN], [0.1, NAN], np.array([]), []):
        assert Spacing.known(unknown, "dataset") is None
    assert Spacing.known([0.1, 0.2], "dataset") == Spacing(0.1, 0.2, "dataset")
    with pytest.raises(ValueError, match="a.png: pixel spacing must be positive"):
        Spacing.known(-0.1, "dataset", where="a.png")  # a wrong value is an error, not an unknown one


def test_an_assumed_spacing_says_so():
    assert Spacing.assume(0.2).source == "assumed: bundle default (0.2 mm)" and Spacing.assume(0.2).assumed
    assert Spacing.assume([0.2, 0.25]).source == "assumed: bundle default (0.2 x 0.25 mm)"
    with pytest.raises(
        ValueError, match="a.png: pixel spacing must be positive and finite, got .* \\(bundle default\\)"
    ):
        Spacing.assume(0.0, where="a.png")


def _meta(name, spacing, **extra):
    return {"filename_or_obj": name, "spacing": np.asarray(spacing, dtype=np.float64), **extra}


def test_precedence_user_then_dataset_then_header_then_default():
    mha = _meta("a.mha", [0.1, 0.15])
    assert resolve_spacing(0.3, [0.25, 0.25], mha, default=0.2) == Spacing(0.3, 0.3, "--spacing")
    assert resolve_spacing(None, [0.25, 0.25], mha, default=0.2) == Spacing(0.25, 0.25, "dataset")
    assert resolve_spacing(None, [NAN, NAN], mha, default=0.2) == Spacing(0.1, 0.15, "header")
    png = _meta("a.png", [1.0, 1.0])  # a PNG header's 1.0 is not millimetres
    assert resolve_spacing(None, None, png, default=0.2) == Spacing(0.2, 0.2, "assumed: bundle default (0.2 mm)")
    assert resolve_spacing(None, None, png) is None
    dicom = _meta("xray", [0.15, 0.3], spacing_tag="ImagerPixelSpacing (0018,1164)")  # no suffix: known by its tag
    assert resolve_spacing(None, None, dicom).source == "header: ImagerPixelSpacing (0018,1164)"
    no_tag = _meta("x.dcm", [NAN, NAN])
    assert resolve_spacing(None, None, no_tag, default=0.2).assumed
    assert resolve_spacing([0.1, 0.2], None, png, override_source="request").source == "request"


def test_precedence_errors_name_the_image():
    png = _meta("a.png", [1.0, 1.0])
    with pytest.raises(ValueError, match=r"a.png: pixel spacing must be positive and finite, got \[nan, nan\]"):
        resolve_spacing(NAN, None, png)  # the user's value is checked as given, never passed over
    with pytest.raises(ValueError, match="b.mha: pixel spacing must be positive"):
        resolve_spacing(None, None, _meta("b.mha", [0.0, 0.1]))


def test_the_spacing_flag():
    assert spacing_flag("0.1") == 0.1
    for text, message in (
        ("0", "must be a positive number"),
        ("-1", "must be a positive number"),
        ("x", "not a number"),
    ):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            spacing_flag(text)
