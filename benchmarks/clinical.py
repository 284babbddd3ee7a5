"""Clinical measurements of the shipped ceph bundles: ISBI 2015 task 2 on test1.

Suites ``gu2net_ceph_measurements`` and ``htc_ceph_measurements`` (in :data:`benchmarks.accuracy.SUITES`) run the
shipped cascade through the bundle's own ``evaluating`` workflow on ISBI 2015 test1 (nothing trained), then
:func:`measurement_record` computes the eight task-2 measurements (``monai_landmarks.analysis.cephalometry``) from
the predicted landmarks and from the ground truth, and scores them (``monai_landmarks.metrics.clinical``): per
measurement the classification success rate with its confusion matrix and the value's MAE, against the
mean-of-annotators and the senior ground truth, and for scale the junior annotator against the senior one.
:func:`benchmarks.report.measurements.measurements_section` renders the records for ``benchmarks/README.md``.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["COBB_PROTOCOL", "MEASUREMENT_PROTOCOL", "PUBLISHED_TASK2", "cobb_record", "measurement_record"]

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
