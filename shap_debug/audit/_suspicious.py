"""Suspicious rows: which training labels look wrong, and how many to look at.

The background (method, references, design choices) is in ``docs/cohorts.md``, section
"Design notes", ``shap_debug.audit._suspicious``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    RefitCache,
    Result,
    check_classifier,
    check_int,
    check_random_state,
    check_X_y,
    clone_model,
    escape,
    parallel_map,
    section_html,
    seed_from,
    warn,
)

__all__ = ["SuspiciousRows", "suspicious_rows", "confident_joint", "cross_val_proba"]


@dataclass(frozen=True, repr=False)
class SuspiciousRows(Result):
    """Rows ranked by how suspicious their labels look.

    Attributes
    ----------
    ranking : ndarray of int, shape (n,)
        Row positions, most suspicious first.
    scores : ndarray of float, shape (n,)
        Suspicion of each row (``1 - p(given label)`` out of sample; higher is more suspicious),
        indexed by row position.
    n_flagged : int
        Calibrated estimate of the number of wrong labels: look at ``ranking[:n_flagged]``.
    labels : ndarray, shape (n,)
        The given labels.
    predicted : ndarray, shape (n,)
        The label the out-of-sample model prefers.
    proba : ndarray, shape (n, n_classes)
        Cross-validated predicted probabilities (columns in ``classes`` order).
    classes : ndarray
        Class labels in column order of ``proba``.
    method : str
        How the scores were made.
    """

    ranking: np.ndarray
    scores: np.ndarray
    n_flagged: int
    labels: np.ndarray
    predicted: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    method: str = "cv_self_confidence"

    def summary(self) -> dict[str, Any]:
        """Shape and key figures (``print`` shows these, never the arrays)."""
        return {"n_rows": len(self.ranking), "n_classes": len(self.classes),
                "n_flagged": self.n_flagged, "method": self.method,
                "top_score": float(self.scores[self.ranking[0]]) if len(self.ranking)
                else float("nan")}

    @property
    def flagged(self) -> np.ndarray:
        """Row positions of the ``n_flagged`` most suspicious rows."""
        return self.ranking[: self.n_flagged]

    def top(self, k: int) -> np.ndarray:
        """Row positions of the ``k`` most suspicious rows."""
        k = check_int(k, "k", low=0)
        return self.ranking[:k]

    def to_frame(self) -> pd.DataFrame:
        """One row per training row, most suspicious first."""
        r = self.ranking
        flagged = np.zeros(len(r), dtype=bool)
        flagged[: self.n_flagged] = True
        return pd.DataFrame({
            "row": r,
            "rank": np.arange(1, len(r) + 1),
            "score": self.scores[r],
            "label": self.labels[r],
            "predicted": self.predicted[r],
            "flagged": flagged,
        })

    def _repr_html_(self) -> str:
        head = self.to_frame().head(10)
        rows = "".join(
            f"<tr><td>{int(t.row)}</td><td>{t.score:.3f}</td>"
            f"<td>{escape(t.label)}</td><td>{escape(t.predicted)}</td></tr>"
            for t in head.itertuples())
        table = ("<table><tr><th>row</th><th>suspicion</th><th>label</th><th>model says</th>"
                 f"</tr>{rows}</table>")
        return section_html(
            "Suspicious rows", table, f"{self.n_flagged} of {len(self.ranking)} rows look "
            f"mislabelled (confident learning, {self.method}).")

    def plot(self, ax: Any = None, show: bool = True):
        """Sorted suspicion scores with the calibrated cut-off marked."""
        from ..plots import suspicious_plot

        return suspicious_plot(self, ax=ax, show=show)


def _fold_proba(model: Any, X: Any, y: np.ndarray, train: np.ndarray, test: np.ndarray,
                classes: np.ndarray) -> np.ndarray:
    """A clone of ``model`` fitted on ``train``: its probabilities for ``test``, with a
    column for every class of ``y`` (0 for a class the fold's model never saw)."""
    take = (lambda r: X.iloc[r]) if isinstance(X, pd.DataFrame) else (lambda r: X[r])
    est = clone_model(model).fit(take(train), y[train])
    proba = np.asarray(est.predict_proba(take(test)), dtype=np.float64)
    seen = np.asarray(getattr(est, "classes_", classes))
    if len(seen) == len(classes) and np.array_equal(seen, classes):
        return proba
    out = np.zeros((len(test), len(classes)))
    out[:, np.searchsorted(classes, seen)] = proba
    return out


def cross_val_proba(model: Any, X: Any, y: np.ndarray, *, cv: int = 5, random_state: int | np.random.Generator | None = None,
                    n_jobs: int = 1, n_repeats: int = 1,
                    progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-sample ``predict_proba`` from stratified K-fold refits of a clone of ``model``.

    With ``n_repeats > 1`` the K-fold split is repeated with different shuffles and the
    out-of-sample probabilities are averaged (repeated cross-validation), which makes the
    ranking depend less on one fold assignment. Returns ``(proba, classes)`` with columns in
    ``np.unique(y)`` order. Inputs are validated by the caller.

    The ``cv * n_repeats`` refits are independent: they run over ``n_jobs`` joblib workers
    (a Dask cluster's under ``joblib.parallel_backend("dask")``) with a progress bar, and
    give the probabilities :func:`sklearn.model_selection.cross_val_predict` gives. Each
    refit costs what fitting the model on ``(cv - 1) / cv`` of the rows costs; memory is
    one fitted clone per worker plus the ``(n, n_classes)`` result.
    """
    from sklearn.model_selection import StratifiedKFold

    rng = check_random_state(random_state)
    classes = np.unique(y)
    folds = []
    for _ in range(n_repeats):
        split = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed_from(rng))
        folds.extend(split.split(np.zeros((len(y), 1)), y))
    results = parallel_map(_fold_proba, [(model, X, y, tr, te, classes) for tr, te in folds],
                           n_jobs=n_jobs, progress=progress, desc="cross-validated refits",
                           unit="fit", star=True)
    total = np.zeros((len(y), len(classes)))
    for r in range(n_repeats):
        proba = np.zeros_like(total)
        for (_, te), p in zip(folds[r * cv:(r + 1) * cv], results[r * cv:(r + 1) * cv]):
            proba[te] = p
        total += proba
    return total / n_repeats, classes


def confident_joint(proba: np.ndarray, y_idx: np.ndarray, *, calibrate: bool = True) -> np.ndarray:
    """The confident joint ``C[given, true]`` of Northcutt et al. (2021), eq. 1.

    A row of given class ``i`` is counted in ``C[i, j]`` when ``p_j`` reaches class ``j``'s
    threshold (its mean self-confidence) and ``j`` is the most probable such class. With
    ``calibrate`` rows of ``C`` are rescaled to the observed class counts.
    """
    n, k = proba.shape
    thresholds = np.array([proba[y_idx == j, j].mean() if np.any(y_idx == j) else np.inf
                           for j in range(k)])
    above = proba >= thresholds[None, :] - 1e-12
    masked = np.where(above, proba, -np.inf)
    has = above.any(axis=1)
    true_idx = masked.argmax(axis=1)
    C = np.zeros((k, k))
    np.add.at(C, (y_idx[has], true_idx[has]), 1.0)
    if calibrate:
        counts = np.bincount(y_idx, minlength=k).astype(float)
        sums = C.sum(axis=1, keepdims=True)
        C = np.divide(C * counts[:, None], sums, out=np.zeros_like(C), where=sums > 0)
    return C


def suspicious_rows(model: Any, X: Any, y: Any, *, cv: int = 5, random_state: int | np.random.Generator | None = None,
                    n_jobs: int = 1, n_repeats: int = 1,
                    proba: np.ndarray | None = None, progress: bool = False,
                    cache: RefitCache | None = None) -> SuspiciousRows:
    """Rank training rows by how likely their label is wrong (confident learning).

    Parameters
    ----------
    model : classifier
        A scikit-learn style classifier (fitted or not); clones are refitted on K-1 folds.
    X : DataFrame or array of shape (n, m)
        Training rows, in the form ``model`` takes.
    y : array of shape (n,)
        Given labels.
    cv : int, default 5
        Number of stratified folds.
    random_state : int, Generator or None, default None
        Seeds the fold split.
    n_jobs : int, default 1
        Folds fitted in parallel (joblib).
    n_repeats : int, default 1
        Repeat the K-fold split with new shuffles and average the probabilities (more
        stable top ranks across seeds, ``n_repeats`` times the refits).
    proba : array of shape (n, n_classes), optional
        Precomputed out-of-sample probabilities (columns in ``np.unique(y)`` order); skips the
        refits.
    progress : bool, default False
        A tqdm bar over the ``cv * n_repeats`` refits.
    cache : RefitCache, optional
        Out-of-fold probabilities shared between consumers
        (:meth:`~shap_debug.core.RefitCache.cross_val_proba`): a second call with the same
        model, rows, labels, ``cv``, ``n_repeats`` and seed reuses them, and the
        ``cv * n_repeats`` refits are counted under ``"suspicious"``. Any consumer can also
        pass ``proba=`` (e.g. ``SuspiciousRows.proba`` of an earlier call).

    Returns
    -------
    SuspiciousRows
        ``ranking`` (most suspicious first), ``scores`` and the calibrated ``n_flagged``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(300, random_state=0)
    >>> y[:15] = 1 - y[:15]
    >>> res = suspicious_rows(LogisticRegression(), X, y, cv=3)
    >>> res.n_flagged > 0
    True
    """
    X, y = check_X_y(X, y, allow_nan=True)
    cv = check_int(cv, "cv", low=2)
    n_jobs = check_int(n_jobs, "n_jobs", low=-1)
    n_repeats = check_int(n_repeats, "n_repeats", low=1)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"y must contain at least 2 classes; got only {classes.tolist()}")
    rng = check_random_state(random_state)
    if proba is None:
        check_classifier(model)
        if counts.min() < cv:
            raise ValueError(
                f"cv={cv} folds need at least {cv} rows of every class; class "
                f"{classes[counts.argmin()]!r} has {counts.min()}")
        def compute() -> tuple[np.ndarray, np.ndarray]:
            return cross_val_proba(model, X, y, cv=cv, random_state=rng, n_jobs=n_jobs,
                                   n_repeats=n_repeats, progress=progress)

        if cache is None:
            proba, classes = compute()
        else:
            key = ("cross_val_proba", cache.key(model, X, y), cv, n_repeats,
                   repr(rng.bit_generator.state))
            held = key in cache._proba
            proba, classes = cache.cross_val_proba(key, compute, "suspicious", cv * n_repeats)
            if held:  # leave a given Generator where the refits would have left it
                for _ in range(n_repeats):
                    seed_from(rng)
        method = f"cv{cv}x{n_repeats}_self_confidence" if n_repeats > 1 else (
            f"cv{cv}_self_confidence")
    else:
        proba = np.asarray(proba, dtype=np.float64)
        if proba.shape != (len(y), len(classes)):
            raise ValueError(
                f"proba must have shape {(len(y), len(classes))} (rows x classes of y); "
                f"got {proba.shape}")
        method = "given_proba_self_confidence"
    y_idx = np.searchsorted(classes, y)
    self_conf = proba[np.arange(len(y)), y_idx]
    scores = 1.0 - self_conf
    # stable ranking: ties broken by a lower margin to the best other class
    other = proba.copy()
    other[np.arange(len(y)), y_idx] = -np.inf
    margin = self_conf - other.max(axis=1)
    ranking = np.lexsort((margin, -scores))
    C = confident_joint(proba, y_idx, calibrate=True)
    n_flagged = int(round(C.sum() - np.trace(C)))
    if n_flagged == 0:
        warn("confident learning estimates no label errors; the ranking is still returned")
    return SuspiciousRows(
        ranking=ranking.astype(np.int64), scores=scores, n_flagged=n_flagged,
        labels=np.asarray(y), predicted=classes[proba.argmax(axis=1)], proba=proba,
        classes=classes, method=method)
