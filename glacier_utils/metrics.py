"""Pixel-wise accuracy metrics of a glacier mask against the ground truth (paper §II-H, Eqs. 2-5).

Glacier is the positive class. Counts are pooled over every test pixel (all tiles, all scenes of an
area) before any ratio is taken, as the paper's Table II and III do, rather than averaged per tile.
Precision, recall, F1, Cohen's Kappa and overall accuracy (OA) are derived from the four counts.

Pixel coding, for both the prediction and the truth: ``1`` (or ``True``) is glacier, ``0`` (or
``False``) is not glacier, and any other value (``255`` = unknown in the scene contract's ``label``,
NaN in a float array) leaves the pixel out of the counts, as does ``valid == False``.

A metric whose denominator is zero (no predicted glacier for precision, no true glacier for recall,
a single class everywhere for Kappa, no pixel at all) is NaN rather than an error, so a sweep over
thresholds or areas never stops on an empty case; tables show it as NaN.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

#: The five metrics of the paper, in the column order of its Tables II and III.
METRIC_NAMES: tuple[str, ...] = ("precision", "recall", "f1", "kappa", "oa")


def _ratio(numerator: int, denominator: int) -> float:
    """``numerator / denominator``, NaN when the denominator is zero."""
    return numerator / denominator if denominator else math.nan


@dataclasses.dataclass(frozen=True)
class Confusion:
    """Pixel counts of a binary confusion matrix, glacier = positive; ``+`` pools two sets of pixels."""

    tp: int
    fp: int
    fn: int
    tn: int

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if int(value) != value or value < 0:
                raise ValueError(f"Confusion.{field.name} must be a non-negative integer count, got {value!r}")
            # Python ints: products in Kappa cannot overflow however many scenes are pooled.
            object.__setattr__(self, field.name, int(value))

    def __add__(self, other: "Confusion") -> "Confusion":
        if not isinstance(other, Confusion):
            return NotImplemented
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    def __radd__(self, other: Any) -> "Confusion":
        # sum() starts from 0.
        if other == 0:
            return self
        return NotImplemented

    @property
    def n(self) -> int:
        """Number of pixels counted."""
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        """TP / (TP + FP), paper Eq. 2; NaN when nothing is predicted glacier."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """TP / (TP + FN), paper Eq. 3; NaN when there is no true glacier."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall, paper Eq. 4 (= 2TP / (2TP + FP + FN)).

        The count form equals Eq. 4 whenever precision and recall exist, and it also scores a method
        that predicts no glacier where there is some (precision undefined) as 0, not NaN: a network
        that collapses to "no glacier" must rank last, not drop out of a table. NaN only when there
        is neither glacier nor a glacier prediction.
        """
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def oa(self) -> float:
        """Overall accuracy (TP + TN) / N, paper Eq. 5."""
        return _ratio(self.tp + self.tn, self.n)

    @property
    def kappa(self) -> float:
        """Cohen's Kappa (po - pe) / (1 - pe); NaN when chance agreement is total (pe = 1)."""
        # Exact integer form of (po - pe) / (1 - pe), multiplied through by N^2 / 2.
        numerator = 2 * (self.tp * self.tn - self.fn * self.fp)
        denominator = (self.tp + self.fp) * (self.fp + self.tn) + (self.tp + self.fn) * (self.fn + self.tn)
        return _ratio(numerator, denominator)

    def as_dict(self) -> dict[str, float | int]:
        """Counts and the five metrics (fractions 0..1) as a flat dict, for a DataFrame row."""
        counts = dataclasses.asdict(self)
        return {**counts, **{name: getattr(self, name) for name in METRIC_NAMES}}

    def as_percent(self, decimals: int = 2) -> dict[str, float]:
        """The five metrics in percent, rounded, as the paper's tables print them."""
        return {name: round(100.0 * getattr(self, name), decimals) for name in METRIC_NAMES}


def as_percent(metrics: Confusion | pd.DataFrame, decimals: int = 2) -> dict[str, float] | pd.DataFrame:
    """Metrics as percentages for tables: a Confusion's dict, or a table's metric columns x 100."""
    if isinstance(metrics, Confusion):
        return metrics.as_percent(decimals)
    if isinstance(metrics, pd.DataFrame):
        table = metrics.copy()
        columns = [name for name in METRIC_NAMES if name in table.columns]
        if not columns:
            raise ValueError(f"as_percent: the table has none of the metric columns {', '.join(METRIC_NAMES)}")
        table[columns] = (100.0 * table[columns]).round(decimals)
        return table
    raise TypeError(f"as_percent expects a Confusion or a pandas DataFrame, got {type(metrics).__name__}")


def _raw(array: Any, name: str) -> Any:
    """The numpy or dask array behind ``array`` (DataArrays give up their data; lists become numpy)."""
    if array is None:
        return None
    if isinstance(array, xr.DataArray):
        array = array.data
    if not isinstance(array, (np.ndarray, da.Array)):
        array = np.asarray(array)
    if array.dtype == object:
        raise TypeError(f"confusion_counts: {name} must be a numeric or boolean array, got dtype object")
    return array


def _class_masks(array: Any) -> tuple[Any, Any]:
    """(is glacier, is a known class) for one array coded 1 = glacier, 0 = not, other = excluded."""
    if array.dtype == bool:
        return array, True
    positive = array == 1
    return positive, positive | (array == 0)


def confusion_counts(pred: Any, truth: Any, valid: Any = None) -> Confusion:
    """Confusion counts of ``pred`` against ``truth`` over the pixels where ``valid`` (numpy or dask).

    ``pred`` and ``truth`` use 1/True = glacier, 0/False = not glacier; any other value excludes the
    pixel. Dask inputs stay lazy until one ``dask.compute`` of the four totals.
    """
    pred, truth, valid = _raw(pred, "pred"), _raw(truth, "truth"), _raw(valid, "valid")
    if pred.shape != truth.shape:
        raise ValueError(f"confusion_counts: pred has shape {pred.shape} but truth has shape {truth.shape}")
    if valid is not None and valid.shape != truth.shape:
        raise ValueError(f"confusion_counts: valid has shape {valid.shape} but truth has shape {truth.shape}")

    pred_pos, pred_known = _class_masks(pred)
    truth_pos, truth_known = _class_masks(truth)
    counted = pred_known & truth_known
    if valid is not None:
        counted = counted & valid.astype(bool)

    lazy = any(isinstance(a, da.Array) for a in (pred, truth, valid))
    count_nonzero = da.count_nonzero if lazy else np.count_nonzero
    if counted is True:  # two boolean arrays and no mask: every pixel counts
        totals = (truth.size, count_nonzero(pred_pos & truth_pos), count_nonzero(pred_pos), count_nonzero(truth_pos))
    else:
        totals = (
            count_nonzero(counted),
            count_nonzero(pred_pos & truth_pos & counted),
            count_nonzero(pred_pos & counted),
            count_nonzero(truth_pos & counted),
        )
    if lazy:
        totals = dask.compute(*totals)
    n, tp, predicted, actual = (int(t) for t in totals)
    fp, fn = predicted - tp, actual - tp
    return Confusion(tp=tp, fp=fp, fn=fn, tn=n - tp - fp - fn)
