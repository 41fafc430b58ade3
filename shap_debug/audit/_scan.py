"""One entry point for the detectors of issue 25: :func:`scan`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    check_classifier,
    check_random_state,
    check_test_split,
    check_X_y,
    feature_names_of,
    predict_labels,
    progress_iter,
    seed_from,
)
from ._columns import column_signals
from ._fitting import fitting_signals
from ._integrity import duplicate_groups
from ._sentinel import _wilson, sentinel_signals
from ._shift import _mask, representation_signals, shift_signals
from ._signals import VERDICTS, Signal

__all__ = ["scan"]

DUPLICATE_SHARE = 0.03  # conflicting duplicates below this share stay "suspected"


def _frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        D = X.copy(deep=False)
        D.columns = [str(c) for c in X.columns]
        return D
    A = np.asarray(X)
    return pd.DataFrame(A, columns=feature_names_of(A))


def duplicate_signals(D: pd.DataFrame, y: np.ndarray, index: np.ndarray) -> list[Signal]:
    """Identical training rows with different labels (all rows of each conflicting group)."""
    gid = duplicate_groups(D)
    frame = pd.DataFrame({"g": gid, "y": pd.factorize(y)[0]})
    n_labels = frame.groupby("g")["y"].nunique()
    bad = n_labels.index[n_labels.to_numpy() > 1].to_numpy()
    if len(bad) == 0:
        return []
    rows = np.flatnonzero(np.isin(gid, bad))
    k, n = len(rows), len(y)
    confirmed = k / n >= DUPLICATE_SHARE and k >= 10
    return [Signal("conflicting_duplicates", rows=tuple(index[rows]), strength=k / n,
                   measure="share of rows in groups of identical rows with different labels",
                   interval=_wilson(k, n), verdict="confirmed" if confirmed else "suspected",
                   fix="drop conflicting duplicates", details={"groups": int(len(bad))})]


def _order(s: Signal) -> tuple:
    return (VERDICTS.index(s.verdict), 0.0 if s.p_value is None else s.p_value,
            -abs(s.strength) if np.isfinite(s.strength) else 0.0)


def scan(model: Any, X: Any, y: Any, X_test: Any = None, y_test: Any = None, *,
         random_state: Any = None, progress: bool = False) -> tuple[Signal, ...]:
    """Look for the bugs no other analysis covers and return them as signals, strongest first.

    Detectors (each documented in its module, thresholds set so clean data stays quiet):

    - **sentinel**: an isolated point mass in a numeric column (fix: recode it);
    - **leakage** / **id_column** / **shortcut**: a column that predicts the label almost
      alone while unrelated to the other columns given the label; a unique, regularly spaced
      integer column ordered with the label; a column whose predictive power drops from
      training to held-out rows (fix: drop the feature);
    - **conflicting_duplicates**: identical rows with different labels;
    - **under_represented** / **cohort_shift** (with ``X_test``): a cohort whose training
      share is at most half its held-out share (fix: upsample it); a column whose
      distribution moves between the splits, localised to a cohort;
    - **overfitting** / **underfitting**: a capacity sweep of the model's family on a
      validation split of the *training* rows (fix: the better configuration).

    Parameters
    ----------
    model : classifier
        Fitted, with ``predict``/``predict_proba``; a scikit-learn style estimator (cloneable)
        for the capacity sweep (others skip it).
    X, y : training rows (in the form the model takes) and labels
    X_test, y_test : held-out rows, optional
        Needed for shortcuts, shifts, under-representation and the train/held-out gap.
    random_state : int or Generator, optional
    progress : bool, default False
        A bar over the detectors.

    Returns
    -------
    tuple of Signal
        Confirmed signals first, then by p-value and strength. Rows are the index labels of
        ``X`` (positions for arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> y = (X[:, 0] + X[:, 1] + rng.normal(0, 0.3, 400) > 0).astype(int)
    >>> X = np.column_stack([X, y + rng.normal(0, 0.1, 400)])  # a leaked column
    >>> sig = scan(LogisticRegression().fit(X, y), X, y, random_state=0)
    >>> [(s.kind, s.features) for s in sig]
    [('leakage', ('Feature 3',))]
    """
    check_classifier(model)
    Xc, yv = check_X_y(X, y, allow_nan=True)
    X_test, ytv = check_test_split(Xc, X_test, y_test)
    rng = check_random_state(random_state)
    seed = seed_from(rng)
    D = _frame(X)
    T = None if X_test is None else _frame(X_test)
    index = X.index.to_numpy() if isinstance(X, pd.DataFrame) else np.arange(len(yv))
    classes = np.unique(yv if ytv is None else np.concatenate([yv, ytv]))
    yk = np.searchsorted(classes, yv)
    ytk = None if ytv is None else np.searchsorted(classes, ytv)

    steps = ["sentinel", "columns", "duplicates", "held-out", "fitting"]
    out: list[Signal] = []
    for step in progress_iter(steps, progress=progress, desc="scan", unit="detector"):
        if step == "sentinel":
            out += sentinel_signals(D, index, T)
        elif step == "columns":
            out += column_signals(D, yk, T, ytk, index, random_state=seed)
        elif step == "duplicates":
            out += duplicate_signals(D, yv, index)
        elif step == "held-out" and T is not None:
            wrong = predict_labels(model, X_test) != ytv
            ids = tuple(f for s in out if s.kind in ("id_column", "shortcut", "leakage")
                        for f in s.features)
            rep = representation_signals(D, T, wrong, index, exclude=ids)
            aside = tuple((_cohort(D, s.rule), _cohort(T, s.rule)) for s in rep
                          if s.kind == "under_represented")
            skip = tuple(f for s in out + rep if s.kind in (
                "id_column", "shortcut", "leakage", "sentinel", "cohort_shift")
                for f in s.features[:1])
            out += rep
            out += shift_signals(D, T, index, set_aside=aside, exclude=skip)
        elif step == "fitting":
            out += fitting_signals(model, X, yv, X_test, ytv, seed=seed)
    return tuple(sorted(out, key=_order))


def _cohort(D: pd.DataFrame, rule: dict) -> np.ndarray:
    m = np.ones(len(D), dtype=bool)
    for f, c in rule.items():
        m &= _mask(D, f, c)
    return m
