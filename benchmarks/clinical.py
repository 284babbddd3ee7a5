"""Clinical measurements of the shipped ceph bundles: ISBI 2015 task 2 on test1.

Suites ``gu2net_ceph_measurements`` and ``htc_ceph_measurements`` (in :data:`benchmarks.accuracy.SUITES`) run the
shipped cascade through the bundle's own ``evaluating`` workflow on ISBI 2015 test1 (nothing trained), then
:func:`measurement_record` computes the eight task-2 measurements (``monai_landmarks.analysis.cephalometry``) from
the predicted landmarks and from the ground truth, and scores them (``monai_landmarks.metrics.clinical``): per
measurement the classification success rate with its confusion matrix and the value's MAE, against the
mean-of-annotators and the senior ground truth, and for scale the junior annotator against the senior one.
:func:`measurements_section` renders the records for ``benchmarks/README.md``.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = [
    "COBB_PROTOCOL",
    "MEASUREMENT_PROTOCOL",
    "PUBLISHED_TASK2",
    "cobb_record",
    "measurement_record",
    "measurements_section",
]

MEASUREMENT_PROTOCOL = (
    "ISBI 2015 task 2 on test1 (150 images): the eight measurements and classes of the challenge "
    "(monai_landmarks/analysis/cephalometry.py) from the cascade's landmarks against those from the ground truth; "
    "success rate = same class, MAE of the value"
)
# Published task-2 figures checked against a stored source: (who, what was published, where it was read). The
# challenge paper (Wang et al., Medical Image Analysis 31, 2016) tabulates the entrants per measurement; its table
# could not be read here, so only the figure of an abstract is quoted.
PUBLISHED_TASK2: list[tuple[str, str, str]] = [
    (
        "Lindner & Cootes, ISBI 2015 challenge entry (random-forest regression-voting)",
        "77-79 % accuracy of the automatic cephalometric evaluation, on the challenge's two 150-image test sets "
        "(the abstract does not say which figure is test1; the challenge scored against its own ground truth)",
        "the paper's abstract, read from a stored copy: https://vdocuments.mx/fully-automatic-cephalometric-"
        "evaluation-using-random-cweiwangisbi2015challenge1.html",
    )
]
REFERENCES = ("mean", "senior")
COBB_PROTOCOL = (
    "AASCE 2019 test1 (51 images): the three Cobb angles (monai_landmarks/analysis/cobb.py, the challenge's "
    "algorithm, image-half rule) from the predicted corners against the released cobb_angles.csv; SMAPE over "
    "the images whose predicted angles are defined (the others are listed as skipped), MAE in degrees"
)


def _predicted_points(report_dir: Path) -> tuple[list[str], list[list[list[float]]]]:
    rows = list(csv.DictReader((report_dir / "per_image.csv").open()))
    k = sum(1 for key in rows[0] if key.startswith("error_"))
    points = [[[float(r[f"x_{i}"]), float(r[f"y_{i}"])] for i in range(k)] for r in rows]
    return [r["image_id"] for r in rows], points


def _truth(root: Path, split: str, ground_truth: str, image_ids: list[str]) -> list[dict]:
    from monai_landmarks.analysis import cephalometric_measurements
    from monai_landmarks.data import load_datalist
    from monai_landmarks.utils.keys import Keys

    items = {d[Keys.IMAGE_ID]: d for d in load_datalist(root, split, ground_truth=ground_truth)}
    return [cephalometric_measurements(items[i][Keys.LANDMARKS], items[i][Keys.SPACING]) for i in image_ids]


def measurement_record(report_dir: Path, dataset_root: Path, split: str) -> dict:
    """The measurement scores of one evaluation's predictions (``report_dir/per_image.csv``, stored pixels).

    Measurements use the dataset's pixel spacing: stored pixels at 0.2 mm give the same angles and millimetres as
    the original 0.1 mm grid (the stored grid is a uniform scale and shift of it).
    """
    from monai_landmarks.analysis import cephalometric_measurements
    from monai_landmarks.data import read_metadata
    from monai_landmarks.metrics import cephalometric_report

    spacing = read_metadata(dataset_root).get("pixel_spacing_mm")
    image_ids, points = _predicted_points(report_dir)
    predicted = [cephalometric_measurements(p, spacing) for p in points]
    truth = {gt: _truth(dataset_root, split, gt, image_ids) for gt in (*REFERENCES, "junior")}
    reports = {gt: cephalometric_report(predicted, truth[gt]) for gt in REFERENCES}
    reports["junior_vs_senior"] = cephalometric_report(truth["junior"], truth["senior"])
    values = [{k: m.value for k, m in image.items()} for image in predicted]
    return {"measurement_spacing_mm": spacing, "measurements": reports, "measurement_values": values}


def cobb_record(report_dir: Path, dataset_root: Path, split: str) -> dict:
    """Cobb-angle scores of one evaluation's predictions (``report_dir/per_image.csv``, original pixels), and for
    scale those of the ground-truth corners (the same algorithm on the released corners)."""
    from PIL import Image

    from monai_landmarks.analysis import cobb_angles
    from monai_landmarks.analysis.cobb import COBB_ANGLES
    from monai_landmarks.data import load_datalist
    from monai_landmarks.metrics import cobb_report
    from monai_landmarks.utils.keys import Keys

    image_ids, points = _predicted_points(report_dir)
    items = {d[Keys.IMAGE_ID]: d for d in load_datalist(dataset_root, split)}
    heights = {i: Image.open(items[i][Keys.IMAGE]).size[1] for i in image_ids}  # the challenge's half rule
    released = {r["image_id"]: r for r in csv.DictReader((dataset_root / "cobb_angles.csv").open())}
    truth = [[float(released[i][k]) for k in COBB_ANGLES] for i in image_ids]
    predicted = [cobb_angles(p, heights[i]) for i, p in zip(image_ids, points, strict=True)]
    from_truth = [cobb_angles(items[i][Keys.LANDMARKS], heights[i]) for i in image_ids]
    values = [{k: m.value for k, m in image.items()} for image in predicted]
    return {
        "cobb_protocol": COBB_PROTOCOL,
        "cobb": cobb_report(predicted, truth, image_ids),
        "cobb_from_true_corners": cobb_report(from_truth, truth, image_ids),
        "cobb_values": dict(zip(image_ids, values, strict=True)),
    }


def _cell(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _suite_table(suite: str, rec: dict) -> list[str]:
    reports = rec["measurements"]
    lines = [
        f"### `{rec['bundle']}` (suite `{suite}`)",
        "",
        "| measurement | success rate %, mean GT / senior GT | MAE, mean GT / senior GT | junior vs senior annotator: "
        "success rate %, MAE | skipped |",
        "|---|---|---|---|---|",
    ]
    for name, mean in reports["mean"]["measurements"].items():
        senior, human = reports["senior"]["measurements"][name], reports["junior_vs_senior"]["measurements"][name]
        unit = {"deg": " deg", "mm": " mm"}.get(mean["unit"] or "", "")
        digits = 3 if mean["unit"] == "ratio" else 2
        lines.append(
            f"| {name} | {_cell(mean['success_rate'])} / {_cell(senior['success_rate'])} | "
            f"{_cell(mean['mae'], digits)} / {_cell(senior['mae'], digits)}{unit} | "
            f"{_cell(human['success_rate'])}, {_cell(human['mae'], digits)}{unit} | "
            f"{mean['skipped']} / {senior['skipped']} |"
        )
    lines.append(
        f"| **mean of the eight** | **{_cell(reports['mean']['mean_success_rate'])}** / "
        f"**{_cell(reports['senior']['mean_success_rate'])}** | | "
        f"{_cell(reports['junior_vs_senior']['mean_success_rate'])} | |"
    )
    lines += ["", "Confusion matrices against the senior ground truth (rows: class from the senior annotation, "
              "columns: class from the predicted landmarks, classes 1, 2, 3 (, 4 for MW)):", ""]  # fmt: skip
    confusion = [f"{n} `{m['confusion']}`" for n, m in reports["senior"]["measurements"].items()]
    return lines + ["; ".join(confusion) + ".", ""]


def measurements_section(records: dict, provenance, command=str) -> list[str]:
    """The README section for ``{suite: measurement record}``; empty when there are none.

    ``provenance(rec)`` gives the record's provenance sentence and ``command(text)`` shows a command line (the
    report's own helpers, so this section reads like the others).
    """
    if not records:
        return []
    lines = [
        "## Clinical measurements: ISBI 2015 task 2 on test1",
        "",
        "The eight measurements of the challenge's task 2 (ANB, SNB, SNA, ODI, APDI, FHI, FMA, MW; definitions, "
        "thresholds and sources in `monai_landmarks/analysis/cephalometry.py`) from the shipped cascade's "
        "landmarks, scored as the challenge did: the classification success rate is the percentage of images whose "
        "class from the predicted landmarks equals the class from the ground-truth landmarks. Against the "
        "mean-of-annotators and the senior ground truth (the challenge's own ground truth on test1 was the senior "
        "annotation); the junior annotator scored against the senior one is the human reference. Commands: "
        "`python -m benchmarks accuracy --suite gu2net_ceph_measurements` (and `htc_ceph_measurements`).",
        "",
        "Published task-2 figures (verified only where said): "
        + "; ".join(f"{who}: {what} ({where})" for who, what, where in PUBLISHED_TASK2)
        + ". The challenge paper's per-measurement table (Wang et al., Medical Image Analysis 31, 2016) could not "
        "be read here, so no per-measurement figure is quoted beside ours.",
        "",
    ]
    for suite, rec in sorted(records.items()):
        lines += _suite_table(suite, rec)
        lines += [f"Evaluation ({rec['eval_wall_seconds']} s): `{command(rec['eval_command'])}`. {provenance(rec)}", ""]
    return lines
