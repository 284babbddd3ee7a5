"""How well predicted landmarks reproduce clinical measurements: ISBI 2015 task 2 and AASCE 2019 scores.

- Cephalometry (Wang et al., Medical Image Analysis 31, 2016, task 2): per measurement, the *classification success
  rate*, the percentage of images whose class from the predicted landmarks equals the class from the ground-truth
  landmarks, with the confusion matrix (rows: ground-truth class, columns: predicted class), and the mean absolute
  error of the value.
- Cobb angles (AASCE 2019): the symmetric mean absolute percentage error over images,
  ``SMAPE = 100 / N * sum_n (sum_i |p_ni - t_ni|) / (sum_i (p_ni + t_ni))`` over the three angles ``i`` (as in the
  challenge's evaluation and ``yijingru/Vertebra-Landmark-Detection`` ``eval.py``; an image whose six angles are
  all 0 counts 0), and the mean absolute error of each angle in degrees.

An image whose measurement is undefined on either side (value None, with its reason) is skipped for that
measurement, and the report says how many were skipped and why; it is never counted as a success or a failure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from monai_landmarks.analysis import CLASS_LABELS, COBB_ANGLES, MEASUREMENTS, Measurement

__all__ = ["cephalometric_report", "cobb_report", "smape"]


def smape(predicted, truth) -> float:
    """SMAPE in percent of ``(N, 3)`` predicted against ground-truth angles (degrees, >= 0).

    Raises:
        ValueError: shapes differ, no images, or an angle that is negative or not finite.
    """
    p, t = np.asarray(predicted, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 2 or len(p) == 0:
        raise ValueError(f"smape: expected two equal (N, 3) arrays with N > 0, got {p.shape} and {t.shape}.")
    if not (np.isfinite(p).all() and np.isfinite(t).all() and (p >= 0).all() and (t >= 0).all()):
        raise ValueError("smape: angles must be finite and >= 0 degrees.")
    numerator, denominator = np.abs(p - t).sum(axis=1), (p + t).sum(axis=1)
    terms = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
    return float(100.0 * terms.mean())


def _skip(skipped: Counter, side: str, m: Measurement | None) -> None:
    skipped[f"{side}: {m.reason if m is not None else 'not computed'}"] += 1


def _pairs(predicted, truth, name):
    """``(pred, truth)`` values of ``name`` where both are defined, and a Counter of why the others were skipped."""
    pairs, skipped = [], Counter()
    for pred, true in zip(predicted, truth, strict=True):
        mp, mt = (pred or {}).get(name), (true or {}).get(name)
        if mp is None or mp.value is None:
            _skip(skipped, "prediction", mp)
        elif mt is None or mt.value is None:
            _skip(skipped, "ground truth", mt)
        else:
            pairs.append((mp, mt))
    return pairs, skipped


def cephalometric_report(
    predicted: Sequence[Mapping[str, Measurement]], truth: Sequence[Mapping[str, Measurement]]
) -> dict:
    """Success rate (%), confusion matrix and value MAE per ISBI measurement, one entry per image on both sides.

    Returns:
        dict: ``{"measurements": {name: {"success_rate", "confusion", "classes", "mae", "unit", "count", "skipped",
        "skip_reasons"}}, "mean_success_rate": float}``; the mean is over the measurements with any image.
    """
    out = {}
    for name in MEASUREMENTS:
        pairs, skipped = _pairs(predicted, truth, name)
        classes = sorted(CLASS_LABELS[name])
        confusion = np.zeros((len(classes), len(classes)), dtype=int)
        for mp, mt in pairs:
            confusion[classes.index(mt.class_id), classes.index(mp.class_id)] += 1
        count = len(pairs)
        out[name] = {
            "success_rate": 100.0 * np.trace(confusion) / count if count else None,
            "confusion": confusion.tolist(),
            "classes": classes,
            "mae": float(np.mean([abs(mp.value - mt.value) for mp, mt in pairs])) if count else None,
            "unit": pairs[0][0].unit if count else None,
            "count": count,
            "skipped": sum(skipped.values()),
            "skip_reasons": dict(skipped),
        }
    rates = [m["success_rate"] for m in out.values() if m["success_rate"] is not None]
    return {"measurements": out, "mean_success_rate": float(np.mean(rates)) if rates else None}


def cobb_report(predicted: Sequence[Mapping[str, Measurement]], truth, image_ids: Sequence[str] | None = None) -> dict:
    """SMAPE (%) and per-angle MAE (degrees) of predicted Cobb angles against ``(N, 3)`` true ``mt, pt, tl``.

    Images whose predicted angles are undefined are skipped and listed with the reason.

    Raises:
        ValueError: ``truth`` not ``(N, 3)`` for the N predictions.
    """
    t = np.asarray(truth, dtype=np.float64)
    if t.shape != (len(predicted), len(COBB_ANGLES)):
        raise ValueError(f"cobb_report: expected ({len(predicted)}, 3) true angles (mt, pt, tl), got {t.shape}.")
    ids = list(image_ids) if image_ids is not None else [str(i) for i in range(len(predicted))]
    kept, values, skipped = [], [], []
    for i, pred in enumerate(predicted):
        missing = [pred.get(k) for k in COBB_ANGLES if pred.get(k) is None or pred[k].value is None]
        if missing:
            skipped.append({"image_id": ids[i], "reason": missing[0].reason if missing[0] else "not computed"})
            continue
        kept.append(i)
        values.append([pred[k].value for k in COBB_ANGLES])
    if not kept:
        return {"smape": None, "mae": {k: None for k in COBB_ANGLES}, "count": 0, "skipped": skipped}
    p = np.asarray(values)
    errors = np.abs(p - t[kept]).mean(axis=0)
    return {
        "smape": smape(p, t[kept]),
        "mae": {k: float(e) for k, e in zip(COBB_ANGLES, errors, strict=True)},
        "count": len(kept),
        "skipped": skipped,
    }
