"""The accuracy suites: which bundle, dataset and overrides, and the named evaluations (protocols) of each.

Protocols are separate, named evaluations:

- ``isbi2015_mean`` / ``isbi2015_senior``: ISBI 2015 test1 at the dataset folder's resolution (the original
  0.1 mm grid stored at 0.2 mm/px: distances are exact in mm), ground truth the annotators' mean or the senior one.
- ``gu2net_grid``: GU2Net's resized-grid protocol applied to the same predictions
  (:func:`monai_landmarks.metrics.benchmark_protocols.gu2net_grid_errors`).
- ``hamedan_px``: cross-dataset, the ISBI 2015 model on Hamedan images, in pixels (no spacing is known).
- ``dha_wrist``: hands, mm normalised by the wrist width (bundle ``htc_hand``).

Shipped suites (``htc_ceph_shipped``, ``gu2net_ceph_shipped``) train nothing: they evaluate the weights a bundle
ships coarse-only and as the coarse-to-fine cascade, under the protocols above (``*_coarse`` / ``*_cascade``);
``gu2net_chest_shipped`` and ``gu2net_spine_shipped`` evaluate a coarse model only, ``*_measurements`` score
ISBI 2015 task 2 on the cascade's landmarks (``benchmarks/clinical.py``). :mod:`benchmarks.accuracy` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Evaluation:
    name: str
    dataset: str
    split: str
    protocol: str
    ground_truth: str = "mean"
    cascade: bool = False  # refine with the refiner weights; otherwise refiner_path "" (coarse only)
    measurements: bool = False  # also score ISBI 2015 task 2 on the predictions (benchmarks/clinical.py)
    shape_prior: bool = False  # with the bundle's models/shape_prior.pt (ShapePriord); otherwise as decoded
    cobb: bool = False  # also score the Cobb angles of the predictions (benchmarks/clinical.py)


@dataclass(frozen=True)
class Suite:
    bundle: str
    dataset: str
    model_overrides: dict
    train_overrides: dict
    evaluations: tuple[Evaluation, ...]
    label: str
    derived: dict = field(default_factory=dict)  # derived evaluation -> the evaluation whose predictions it uses
    shipped: bool = False  # evaluate the bundle's own weights; never train
    groups: str | None = None  # per-structure errors: "dataset" (its landmark_groups) or "vertebrae" (by name)
    mse_scale: float | None = None  # also the mean squared error with errors scaled by this (another pixel frame)


ISBI_PROTOCOL = (
    "ISBI 2015 test1 (150 images), original resolution (stored 967 x 1200 at 0.2 mm/px, exact), "
    "{gt} ground truth, SDR with <="
)
HAMEDAN_PROTOCOL = (
    "cross-dataset: Hamedan (113 images, 670 x 835), pixels of the stored images (no spacing known), "
    "mean-of-annotators ground truth"
)


def _shipped_suite(bundle: str, model: str) -> Suite:
    """Evaluate the weights ``bundle`` ships, coarse only and as the cascade; nothing is trained."""
    mean, senior = ISBI_PROTOCOL.format(gt="mean-of-annotators"), ISBI_PROTOCOL.format(gt="senior")
    hamedan = (
        HAMEDAN_PROTOCOL + "; the refiner's patches cut at the spacing the bundle's inference assumes for a PNG "
        "without --spacing (`refine_default_spacing_mm`)"
    )
    return Suite(
        bundle=bundle,
        dataset="isbi2015_ceph",
        model_overrides={},  # the shipped weights come from the bundle's own configs/train.json
        train_overrides={},
        evaluations=(
            Evaluation("isbi2015_mean_coarse", "isbi2015_ceph", "test1", mean),
            Evaluation("isbi2015_mean_cascade", "isbi2015_ceph", "test1", mean, cascade=True),
            Evaluation("isbi2015_senior_cascade", "isbi2015_ceph", "test1", senior, "senior", cascade=True),
            Evaluation("hamedan_px_cascade", "hamedan_ceph", "train", hamedan, cascade=True),
        ),
        label=f"Shipped `{bundle}` weights: {model} (the bundle's configs/train.json CPU recipe) and its patch "
        "refiner (configs/refine.json), both trained on ISBI 2015 train with 20 images held out for validation",
        derived={"gu2net_grid_cascade": "isbi2015_mean_cascade"},
        shipped=True,
    )


def _shipped_coarse_suite(bundle: str, dataset: str, protocol: str, label: str, more=(), **extra) -> Suite:
    """Evaluate the coarse model a bundle ships (no refiner) on its dataset's test1, then ``more`` evaluations;
    nothing is trained."""
    return Suite(
        bundle=bundle,
        dataset=dataset,
        model_overrides={},
        train_overrides={},
        evaluations=(Evaluation(f"{dataset}_test1", dataset, "test1", protocol), *more),
        label=label,
        shipped=True,
        **extra,
    )


JSRT_PROTOCOL = (
    "JSRT test1 (64 images), stored 512 x 512 at 0.7 mm/px, errors in mm; MSE in px^2 of the 1024 x 1024 frame "
    "(Gaggion et al.'s form; their JSRT + Padchest split is not ours)"
)
AASCE_PROTOCOL = "AASCE 2019 test1 (51 images), pixels of the original JPEG images (no spacing known)"


def _measurement_suite(bundle: str) -> Suite:
    """ISBI 2015 task 2 (cephalometric measurements and classes) on test1 from the shipped cascade."""
    from benchmarks.clinical import MEASUREMENT_PROTOCOL

    ev = Evaluation("isbi2015_measurements_cascade", "isbi2015_ceph", "test1", MEASUREMENT_PROTOCOL, cascade=True,
                    measurements=True)  # fmt: skip
    return Suite(bundle=bundle, dataset="isbi2015_ceph", model_overrides={}, train_overrides={}, evaluations=(ev,),
                 label=f"Shipped `{bundle}` cascade, ISBI 2015 task 2 measurements", shipped=True)  # fmt: skip


SUITES = {
    "isbi2015_cpu_scale": Suite(
        bundle="htc_ceph",
        dataset="isbi2015_ceph",
        model_overrides={"image_size": [256, 320], "width_multiplier": 0.25},
        train_overrides={"max_epochs": 20, "val_interval": 4},
        evaluations=(
            Evaluation("isbi2015_mean", "isbi2015_ceph", "test1", ISBI_PROTOCOL.format(gt="mean-of-annotators")),
            Evaluation("isbi2015_senior", "isbi2015_ceph", "test1", ISBI_PROTOCOL.format(gt="senior"), "senior"),
            Evaluation("hamedan_px", "hamedan_ceph", "train", HAMEDAN_PROTOCOL),
        ),
        label="CPU-scale: HTC at width 0.25 (1.37M parameters), 256 x 320 input, 20 epochs, batch 2, trained on "
        "ISBI 2015 train 001-130 with 131-150 held out for validation",
        derived={"gu2net_grid": "isbi2015_mean"},
    ),
    "dha_hand_cpu_scale": Suite(
        bundle="htc_hand",
        dataset="dha_hand_sample",
        model_overrides={"image_size": [256, 320], "width_multiplier": 0.25},
        train_overrides={"max_epochs": 40, "val_interval": 10, "num_val": 2},
        evaluations=(
            Evaluation(
                "dha_wrist", "dha_hand_sample", "train", "hand: mm normalised to a 50 mm wrist width, all 7 images"
            ),
        ),
        label="CPU-scale: HTC at width 0.25 on the 7-image hand sample (5 train, 2 validation); evaluated on all 7, "
        "so this only exercises the wrist-width protocol",
    ),
    "htc_ceph_shipped": _shipped_suite("htc_ceph", "HTC at width 0.25, 256 x 320 input"),
    "gu2net_ceph_shipped": _shipped_suite("gu2net_ceph", "GU2Net with channels 16-128, 256 x 320 input"),
    "gu2net_chest_shipped": _shipped_coarse_suite(
        "gu2net_chest", "jsrt_chest", JSRT_PROTOCOL,
        "Shipped `gu2net_chest` weights: GU2Net 16-128 (global 64), 256 x 256 input, coarse only, trained on JSRT "
        "train with 20 images held out for validation",
        groups="dataset", mse_scale=2 / 0.7,
    ),
    "gu2net_spine_shipped": _shipped_coarse_suite(
        "gu2net_spine", "aasce_spine", AASCE_PROTOCOL,
        "Shipped `gu2net_spine` weights: GU2Net 16-128 (global 64), fitted into 192 x 512 with the aspect ratio kept, "
        "coarse only, trained on AASCE train with 48 images held out for validation",
        groups="vertebrae",
        more=(Evaluation("aasce_spine_test1_shape_prior", "aasce_spine", "test1",
                         AASCE_PROTOCOL + "; corners replaced by the bundle's shape prior (models/shape_prior.pt)",
                         shape_prior=True, cobb=True),),
    ),
    "htc_ceph_measurements": _measurement_suite("htc_ceph"),
    "gu2net_ceph_measurements": _measurement_suite("gu2net_ceph"),
}  # fmt: skip
#: shipped suites that compare a coarse model with its cascade (the report's cascade section)
CASCADE_SUITES = tuple(n for n, s in SUITES.items() if s.shipped and any(e.cascade for e in s.evaluations))
