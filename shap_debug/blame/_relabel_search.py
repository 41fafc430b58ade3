"""The retrain searches behind :func:`shap_debug.blame._dose_response.dose_response`.

For one anomaly and one ordering of its neighbours: relabel the ``k`` nearest, refit a clone,
see whether the anomaly's prediction flips, and find the smallest such ``k`` by doubling and
bisection (exact under monotonicity) or by a descending ladder ``k_max, k_max / 4, ...``
(a bracket within a factor of 4, at few retrains).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core import classes_of, clone_model, predict_proba_fn

__all__ = ["LADDER_FACTOR"]

def _take(X: Any, rows: Any) -> Any:
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def _refit_predict(template: Any, X: Any, y: np.ndarray, classes: np.ndarray,
                   relabel: np.ndarray, rows: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit a clone with the labels of ``relabel`` swapped to the other class; the labels
    it predicts for ``rows``, their class probabilities and the class order."""
    y2 = y.copy()
    if len(relabel):
        y2[relabel] = np.where(y[relabel] == classes[0], classes[1], classes[0])
    fitted = clone_model(template).fit(X, y2)
    proba = predict_proba_fn(fitted)(_take(X, rows))
    cls = classes_of(fitted, proba.shape[1])
    return cls[proba.argmax(1)], proba, cls


#: ratio between consecutive rungs of ``search="ladder"``
LADDER_FACTOR = 4


def _search(template: Any, X: Any, y: np.ndarray, classes: np.ndarray, row: int,
            before: Any, neighbours: np.ndarray, k_max: int,
            search: str = "doubling+bisection") -> dict[str, Any]:
    """Doubling 1, 2, 4, ... (then ``k_max``) until the prediction flips, then bisection
    between the last ``k`` that did not flip and the first that did; or the ladder
    ``k_max, k_max // 4, ...`` down to the first rung that does not flip."""
    trace: list[tuple[int, bool, float]] = []

    def flips(k: int) -> bool:
        label, proba, cls = _refit_predict(template, X, y, classes, neighbours[:k],
                                           np.array([row]))
        hit = np.flatnonzero(cls == before)
        p_before = float(proba[0, hit[0]]) if len(hit) else 0.0
        changed = bool(label[0] != before)
        trace.append((k, changed, p_before))
        return changed

    if search == "ladder":
        hi, lo, k = None, 0, k_max
        while k >= 1:
            if not flips(k):
                lo = k
                break
            hi, k = k, k // LADDER_FACTOR
        return {"k_min": hi, "k_below": k_max if hi is None else lo, "trace": trace}
    lo, hi, k = 0, None, 1
    while True:
        k = min(k, k_max)
        if flips(k):
            hi = k
            break
        lo = k
        if k == k_max:
            break
        k *= 2
    if hi is not None:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if flips(mid):
                hi = mid
            else:
                lo = mid
    return {"k_min": hi, "k_below": lo, "trace": trace}
