"""Refit a clone of the user's model, optionally with some labels swapped, and predict.

Label-flip checks, dose-response searches and fix verification all refit the user's model
many times. The warnings a refit raises (a ``ConvergenceWarning``, say) are recorded with
the refit and shown once per distinct message and call by :func:`show_warnings_once`, not
once per refit (and not lost in a joblib worker).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._models import classes_of, clone_model, predict_proba_fn, take_rows

__all__ = ["Refit", "refit_predict", "relabelled", "show_warnings_once"]

#: ``(category, message)`` pairs, as :func:`show_warnings_once` keeps them
Caught = tuple[tuple[type[Warning], str], ...]


@dataclass(frozen=True)
class Refit:
    """A refitted clone and what it predicts for the rows asked.

    Attributes
    ----------
    model : the fitted clone.
    labels : ndarray, the predicted class of each row.
    proba : ndarray (n_rows, n_classes), the class probabilities.
    classes : ndarray, the class order of ``proba``.
    warnings : tuple of ``(category, message)`` the fit raised.
    seconds : float, the time to fit and predict.
    """

    model: Any
    labels: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    warnings: Caught
    seconds: float


def relabelled(y: np.ndarray, rows: Any, classes: np.ndarray) -> np.ndarray:
    """A copy of binary ``y`` with the labels of ``rows`` swapped to the other class.

    Examples
    --------
    >>> relabelled(np.array([0, 1, 1, 0]), [0, 1], np.array([0, 1])).tolist()
    [1, 0, 1, 0]
    """
    y2 = np.array(y, copy=True)
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows):
        y2[rows] = np.where(y[rows] == classes[0], classes[1], classes[0])
    return y2


def refit_predict(template: Any, X: Any, y: np.ndarray, rows: Any = None, *,
                  relabel: Any = None, classes: np.ndarray | None = None) -> Refit:
    """Fit a clone of ``template`` on ``(X, y)``, with ``relabel`` swapped, and predict ``rows``.

    Parameters
    ----------
    template : an unfitted (or fitted) estimator; only a clone is fitted.
    X, y : the training rows and labels (``y`` is not modified).
    rows : indices of ``X`` to predict, or None for none.
    relabel : indices whose binary labels are swapped before the fit, or None.
    classes : the two classes of ``y`` (default: ``np.unique(y)``).

    Returns
    -------
    Refit

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> refit_predict(LogisticRegression(), X, y, [0, 3], relabel=[0, 1, 2, 3]).labels.tolist()
    [1, 0]
    """
    t0 = time.perf_counter()
    y = np.asarray(y)
    if relabel is not None:
        y = relabelled(y, relabel, np.unique(y) if classes is None else classes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = clone_model(template).fit(X, y)  # CatBoost: sklearn's clone refuses it
    rows = np.empty(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows):
        proba = np.asarray(predict_proba_fn(fitted)(take_rows(X, rows)), dtype=np.float64)
        cls = classes_of(fitted, proba.shape[1])
        labels = cls[proba.argmax(1)]
    else:
        cls = classes_of(fitted)
        proba, labels = np.empty((0, len(cls))), cls[:0]
    return Refit(fitted, labels, proba, cls,
                 tuple((w.category, str(w.message)) for w in caught),
                 time.perf_counter() - t0)


def show_warnings_once(caught: Iterable[tuple[type[Warning], str]]) -> None:
    """Show each distinct ``(category, message)`` of a batch of refits once.

    Call it once per public call with the warnings of all its refits (``Refit.warnings``).
    """
    for category, message in dict.fromkeys(caught):
        warnings.warn(message, category, stacklevel=3)
