"""Helpers the cohort modules share: display frames, categorical tests, the error tree's
numeric codec, quantile/level binning and the standardised neighbour space."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core import classes_of, predict_proba_fn


def _as_frame(X: Any, feature_names: list[str]) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    return pd.DataFrame(np.asarray(X), columns=feature_names)


def _is_categorical(s: pd.Series) -> bool:
    return (isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object
            or pd.api.types.is_string_dtype(s) or pd.api.types.is_bool_dtype(s))


def _predictions(model: Any, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(proba, classes, predicted labels) of a classifier on X."""
    proba = predict_proba_fn(model)(X)
    classes = classes_of(model, proba.shape[1])
    return proba, classes, classes[proba.argmax(axis=1)]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.count_nonzero(a & b)
    union = np.count_nonzero(a | b)
    return inter / union if union else 0.0


class _TreeCodec:
    """Numeric view of a display frame for the tree: category codes ordered by error rate."""

    def __init__(self, D: pd.DataFrame, errors: np.ndarray):
        self.columns = [str(c) for c in D.columns]
        self.levels: dict[str, list[str]] = {}  # by error rate (the tree's code order)
        self.natural: dict[str, dict[str, int]] = {}  # display order of the levels
        cols = []
        for c, col in zip(self.columns, D.columns):
            s = D[col]
            if _is_categorical(s):
                lab = s.astype(object).fillna("nan").astype(str).to_numpy(dtype=str)
                uniq, inv = np.unique(lab, return_inverse=True)
                natural = ([str(c) for c in s.cat.categories]
                           if isinstance(s.dtype, pd.CategoricalDtype) else [])
                self.natural[c] = {v: k for k, v in enumerate(natural + sorted(
                    set(uniq.tolist()) - set(natural)))}
                rate = np.bincount(inv, weights=errors, minlength=len(uniq)) / np.bincount(
                    inv, minlength=len(uniq))
                order = np.lexsort((uniq, rate))  # by error rate, ties by name
                rank = np.empty(len(uniq), dtype=np.int64)
                rank[order] = np.arange(len(uniq))
                self.levels[c] = [str(u) for u in uniq[order]]
                cols.append(rank[inv].astype(np.float64))
            else:
                cols.append(s.to_numpy(dtype=np.float64))
        self.Z = np.column_stack(cols) if cols else np.empty((len(D), 0))


def _binned(s: pd.Series, bins: int, max_levels: int) -> tuple[np.ndarray, list[str]]:
    if _is_categorical(s):
        lab = s.astype(object).fillna("nan").astype(str)
        freq = lab.value_counts(sort=True)
        keep = sorted(freq.index[: max_levels - 1]) if len(freq) > max_levels else sorted(
            freq.index)
        labels = list(keep) + (["other"] if len(freq) > len(keep) else [])
        lookup = {v: i for i, v in enumerate(keep)}
        codes = np.array([lookup.get(v, len(keep)) for v in lab.to_numpy()], dtype=np.int64)
        return codes, labels
    x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(x)
    if missing.any() and not missing.all():  # missing values: a level of their own
        codes, labels = _binned(pd.Series(x[~missing]), bins, max_levels)
        out = np.full(len(x), len(labels), dtype=np.int64)
        out[~missing] = codes
        return out, [*labels, "is missing"]
    uniq = np.unique(x)
    if len(uniq) <= bins:
        return np.searchsorted(uniq, x), [_fmt(u) for u in uniq]
    inner = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1))[1:-1])
    lo = x.min()
    if lo not in inner and np.mean(x == lo) >= 1 / bins:  # a mass at the minimum (e.g. zeros)
        inner = np.union1d(inner, [lo])
    inner = inner[inner < x.max()]
    codes = np.searchsorted(inner, x, side="left")
    bounds = np.r_[-np.inf, inner, np.inf]
    labels = []
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        labels.append(f"<= {_fmt(hi)}" if k == 0 else f"> {_fmt(lo)}" if np.isinf(hi)
                      else f"({_fmt(lo)}, {_fmt(hi)}]")
    return codes, labels


def _standardised(D: pd.DataFrame) -> np.ndarray:
    cols = []
    for col in D.columns:
        s = D[col]
        if _is_categorical(s):
            dummies = pd.get_dummies(s.astype(str)).to_numpy(dtype=np.float64)
            cols.append(dummies / np.sqrt(2.0))  # a level change moves the row by one unit
        else:
            v = s.to_numpy(dtype=np.float64, na_value=np.nan)
            sd = np.nanstd(v) if not np.isnan(v).all() else 0.0
            z = (v - np.nanmean(v)) / sd if sd > 0 else v * 0
            cols.append(np.nan_to_num(z)[:, None])  # a missing value at the mean
    return np.hstack(cols) if cols else np.zeros((len(D), 1))
