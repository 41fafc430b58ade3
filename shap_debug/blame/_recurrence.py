"""Recurring rows that mean something: enrichment in anomaly neighbourhoods, not raw counts.

The background (method, references, design choices) is in ``docs/neighborhood.md``, section
"Design notes", ``shap_debug.blame._recurrence``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    Result,
    check_float,
    check_indices,
    check_int,
    check_random_state,
    section_html,
    table_html,
    warn,
)
from ..neighborhood import NeighborhoodModel

__all__ = ["RecurringRows", "recurring_rows"]

_REFERENCE_CAP = 10_000


@dataclass(frozen=True, repr=False)
class RecurringRows(Result):
    """Training rows ranked by how much more often they sit near anomalies than near
    correctly predicted rows.

    Attributes
    ----------
    anomaly_counts, reference_counts : ndarray of int, shape (n,)
        ``c_a`` and ``c_r`` per training row (with duplicates collapsed, every copy carries
        its group's count and a group takes one place in a neighbourhood).
    lift : ndarray of float, shape (n,)
        ``(c_a / n_a) / ((c_r + prior) / n_r)``; NaN when there is no reference.
    anomalies, reference : ndarray of int
        The queried anomalies and the sampled correctly predicted rows.
    n_neighbors : int
    space : str
    prior : float
    min_count : int
        Rows with fewer anomaly occurrences are not ranked.
    representative, group_size : ndarray of int, shape (n,)
        First row and size of each row's group of identical rows (each row its own group
        when duplicates are not collapsed).
    labels, predicted : ndarray, shape (n,)
        Training labels and predicted labels.
    n_top : int
        Rows shown by ``_repr_html_`` and ``plot``.
    """

    anomaly_counts: np.ndarray = field(repr=False)
    reference_counts: np.ndarray = field(repr=False)
    lift: np.ndarray = field(repr=False)
    anomalies: np.ndarray = field(repr=False)
    reference: np.ndarray = field(repr=False)
    n_neighbors: int
    space: str
    prior: float
    min_count: int
    representative: np.ndarray = field(repr=False)
    group_size: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    predicted: np.ndarray = field(repr=False)
    n_top: int = 15

    @property
    def ranking(self) -> np.ndarray:
        """Ranked rows (one per group of identical rows, ``c_a >= min_count``): highest lift
        first, then larger ``c_a``, then lower row index."""
        n = len(self.anomaly_counts)
        rows = np.arange(n)
        keep = (self.representative == rows) & (self.anomaly_counts >= self.min_count)
        keep &= np.isfinite(self.lift)
        rows = rows[keep]
        order = np.lexsort((rows, -self.anomaly_counts[rows], -self.lift[rows]))
        return rows[order]

    @property
    def scores(self) -> np.ndarray:
        """The lift of every training row (what :attr:`ranking` sorts by), so the result
        reads as a ranking in :func:`shap_debug.blame.removal_curve` and
        :func:`~shap_debug.blame.blame_stability`."""
        return self.lift

    def top(self, k: int | None = None) -> np.ndarray:
        """The first ``k`` rows of :attr:`ranking` (default ``n_top``)."""
        k = self.n_top if k is None else check_int(k, "k", low=1)
        return self.ranking[:k]

    def by_count(self, k: int | None = None) -> np.ndarray:
        """The raw-count ranking (Fig. 3), one row per group, for contrast."""
        k = self.n_top if k is None else check_int(k, "k", low=1)
        rows = np.flatnonzero((self.representative == np.arange(len(self.anomaly_counts)))
                              & (self.anomaly_counts > 0))
        order = np.lexsort((rows, -self.anomaly_counts[rows]))
        return rows[order][:k]

    def to_frame(self) -> pd.DataFrame:
        """The ranked rows: ``row, lift, anomaly_count, reference_count, anomaly_share,
        reference_share, count_rank`` (rank by raw count), ``copies, label, predicted,
        misclassified``."""
        rows = self.ranking
        n_a, n_r = max(len(self.anomalies), 1), max(len(self.reference), 1)
        count_rank = np.empty(len(self.anomaly_counts), dtype=np.int64)
        allrows = self.by_count(len(self.anomaly_counts))
        count_rank[allrows] = np.arange(1, len(allrows) + 1)
        return pd.DataFrame({
            "row": rows,
            "lift": self.lift[rows],
            "anomaly_count": self.anomaly_counts[rows],
            "reference_count": self.reference_counts[rows],
            "anomaly_share": self.anomaly_counts[rows] / n_a,
            "reference_share": self.reference_counts[rows] / n_r,
            "count_rank": count_rank[rows],
            "copies": self.group_size[rows],
            "label": self.labels[rows],
            "predicted": self.predicted[rows],
            "misclassified": self.labels[rows] != self.predicted[rows],
        })

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        rank = self.ranking
        out: dict[str, Any] = {"n_anomalies": len(self.anomalies),
                               "n_reference": len(self.reference),
                               "n_neighbors": self.n_neighbors, "ranked": len(rank)}
        if len(rank):
            out["top_row"] = int(rank[0])
            out["top_lift"] = float(self.lift[rank[0]])
        return out

    def plot(self, max_display: int | None = None, ax: Any = None, show: bool = True):
        """Lift of the top rows with their counts (see
        :func:`shap_debug.plots._evidence.recurring_rows_plot`)."""
        from ..plots import recurring_rows_plot

        return recurring_rows_plot(self, max_display=max_display or self.n_top, ax=ax,
                                   show=show)

    def _repr_html_(self) -> str:
        note = (f"Training rows ranked by lift: share of the {len(self.anomalies)} anomaly "
                f"neighbourhoods that hold the row over its share of {len(self.reference)} "
                f"correctly predicted rows' neighbourhoods ({self.space} space, "
                f"K={self.n_neighbors}, prior {self.prior:g}, at least {self.min_count} "
                "anomaly occurrences). Where to look, not proven culprits.")
        return section_html("Recurring rows", table_html(self.to_frame(), self.n_top), note)


# --------------------------------------------------------------------------- counting
def _groups(nbm: NeighborhoodModel, collapse: bool) -> np.ndarray:
    n = len(nbm.y_)
    if not collapse:
        return np.arange(n, dtype=np.int64)
    from ..audit import duplicate_groups

    return np.asarray(duplicate_groups(nbm.X_), dtype=np.int64)


def _count(nbm: NeighborhoodModel, rows: np.ndarray, k: int, group_of: np.ndarray,
           chunk_size: int) -> np.ndarray:
    """Per group: in how many of ``rows``' neighbourhoods (``k`` distinct groups each, the
    queried row left out) it appears. Queries ``chunk_size`` rows at a time."""
    n = len(group_of)
    n_groups = int(group_of.max()) + 1 if n else 0
    counts = np.zeros(n_groups, dtype=np.int64)
    collapsed = n_groups < n
    # a neighbourhood of k distinct groups needs at most (n - n_groups) extra places
    depth = min(n - 1, k + min(n - n_groups, 2 * k)) if collapsed else k
    for start in range(0, len(rows), chunk_size):
        chunk = rows[start:start + chunk_size]
        _, idx = nbm.kneighbors(chunk, n_neighbors=depth, exclude_self=True)
        g = group_of[idx]
        if collapsed:
            order = np.argsort(g, axis=1, kind="stable")
            sg = np.take_along_axis(g, order, axis=1)
            first_sorted = np.ones_like(sg, dtype=bool)
            first_sorted[:, 1:] = sg[:, 1:] != sg[:, :-1]
            first = np.empty_like(first_sorted)
            np.put_along_axis(first, order, first_sorted, axis=1)
            keep = first & (np.cumsum(first, axis=1) <= k)
            g = g[keep]
        counts += np.bincount(g.ravel(), minlength=n_groups)
    return counts


def _reference_sample(nbm: NeighborhoodModel, anomalies: np.ndarray, size: int,
                      stratify: bool, rng: np.random.Generator) -> np.ndarray:
    correct = np.flatnonzero(nbm.predicted_labels_ == nbm.y_)
    if size >= len(correct):
        return correct
    if not stratify or len(anomalies) == 0:
        return np.sort(rng.choice(correct, size=size, replace=False))
    pred_a = nbm.predicted_[anomalies]
    out = []
    classes, counts = np.unique(pred_a, return_counts=True)
    quota = np.floor(size * counts / counts.sum()).astype(int)
    quota[np.argsort(-counts, kind="stable")[: size - quota.sum()]] += 1
    for c, q in zip(classes, quota):
        pool = correct[nbm.predicted_[correct] == c]
        out.append(rng.choice(pool, size=min(q, len(pool)), replace=False))
    short = size - sum(len(o) for o in out)
    if short > 0:  # a class without enough correct rows: fill from the others
        rest = np.setdiff1d(correct, np.concatenate(out))
        out.append(rng.choice(rest, size=min(short, len(rest)), replace=False))
    return np.sort(np.concatenate(out)).astype(np.int64)


# --------------------------------------------------------------------------- entry point
def recurring_rows(
    neighborhood_model: NeighborhoodModel,
    *,
    anomalies: Any = None,
    n_reference: int | None = None,
    k: int | None = None,
    top: int = 15,
    min_count: int = 3,
    prior: float = 1.0,
    stratify: bool = True,
    collapse_duplicates: bool = True,
    random_state: int | np.random.Generator | None = None,
    chunk_size: int = 256,
) -> RecurringRows:
    """Rank training rows by their lift in anomaly neighbourhoods over reference ones.

    For each training row: ``c_a``, the number of the anomalies' neighbourhoods that contain
    it, and ``c_r``, the number of neighbourhoods of a sample of correctly predicted rows
    (the *reference*) that contain it; ``lift = (c_a / n_a) / ((c_r + prior) / n_r)``.
    Rows are ranked by lift among those with ``c_a >= min_count``. Neighbourhoods are the
    ``k`` nearest *other* rows in the neighbourhood model's space (the queried row is left
    out, whatever the model's ``exclude_self``). With ``collapse_duplicates`` a group of
    identical rows (:func:`shap_debug.audit._integrity.duplicate_groups`) takes one neighbourhood
    place and is counted once per neighbourhood, as in
    :func:`shap_debug.audit._integrity.collapsed_occurrence`; the table shows one row per group
    with its ``copies``.

    Memory is bounded by ``chunk_size``: neighbours are queried ``chunk_size`` rows at a
    time and counted with :func:`numpy.bincount`; the full ``n x K`` matrix is never held.

    Parameters
    ----------
    neighborhood_model : NeighborhoodModel
        Fitted; its space defines the neighbourhoods.
    anomalies : sequence of int, optional
        Default all of the model's ``anomalies_``.
    n_reference : int, optional
        Size of the reference sample; default as many as anomalies, at most 10,000 and at
        most the number of correctly predicted rows.
    k : int, optional
        Neighbourhood size; default the model's ``n_neighbors``.
    top : int
        Rows shown in the HTML view and the plot.
    min_count : int
        Rows in fewer anomaly neighbourhoods are not ranked (a lift from two occurrences
        means little).
    prior : float > 0
        Additive prior on ``c_r``: keeps the lift finite and shrinks it for rows rarely seen
        near reference rows (a row seen in no reference neighbourhood gets
        ``(c_a / n_a) * n_r / prior``).
    stratify : bool
        Draw the reference with the same mix of predicted classes as the anomalies, so the
        lift compares neighbourhoods of the same predicted class (contribution vectors point
        towards the predicted class; without it, rows of the anomalies' predicted class
        would look enriched for that reason alone).
    collapse_duplicates : bool
    random_state : int or Generator
        Seeds the reference sample.
    chunk_size : int
        Rows queried at a time.

    Returns
    -------
    RecurringRows

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, _ = encode(X)
    >>> lr = LogisticRegression(max_iter=2000).fit(Z, y)
    >>> nbm = NeighborhoodModel(50, model=lr).fit(Z, y, progress=False)
    >>> rec = recurring_rows(nbm)
    >>> rec.n_neighbors, len(rec.reference) == len(rec.anomalies)
    (50, True)
    """
    nbm = neighborhood_model
    if not isinstance(nbm, NeighborhoodModel):
        raise TypeError("neighborhood_model must be a fitted NeighborhoodModel; got "
                        f"{type(nbm).__name__}")
    if not hasattr(nbm, "nn_"):
        raise ValueError("neighborhood_model is not fitted yet; call fit(X, y)")
    n = len(nbm.y_)
    rows = (np.asarray(nbm.anomalies_, dtype=np.int64) if anomalies is None
            else check_indices(anomalies, n, "anomalies"))
    if len(np.unique(rows)) != len(rows):
        raise ValueError("anomalies has duplicate rows")
    k = int(nbm.n_neighbors) if k is None else k
    k = check_int(k, "k", low=1, high=n - 1)
    top = check_int(top, "top", low=1)
    min_count = check_int(min_count, "min_count", low=1)
    prior = check_float(prior, "prior", low=0.0)
    if prior == 0.0:
        raise ValueError("prior must be > 0 (it keeps the lift finite); got 0.0")
    chunk_size = check_int(chunk_size, "chunk_size", low=1)
    for name, v in (("stratify", stratify), ("collapse_duplicates", collapse_duplicates)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool; got {type(v).__name__}")
    n_correct = int(np.sum(nbm.predicted_labels_ == nbm.y_))
    if n_reference is None:
        n_reference = min(len(rows), _REFERENCE_CAP, n_correct)
    else:
        n_reference = check_int(n_reference, "n_reference", low=1)
    rng = check_random_state(random_state)

    if len(rows) == 0:
        warn("there are no anomalies: nothing recurs in their neighbourhoods")
    reference = _reference_sample(nbm, rows, min(n_reference, n_correct), stratify, rng)
    if len(reference) == 0 and len(rows):
        warn("no row is predicted correctly: there is no reference, the lift is undefined")

    group_of = _groups(nbm, collapse_duplicates)
    c_a = _count(nbm, rows, k, group_of, chunk_size)[group_of]
    c_r = _count(nbm, reference, k, group_of, chunk_size)[group_of]
    n_a, n_r = len(rows), len(reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = (c_a / max(n_a, 1)) / ((c_r + prior) / n_r) if n_r else np.full(n, np.nan)
    sizes = np.bincount(group_of)
    first_row = np.full(len(sizes), n, dtype=np.int64)
    np.minimum.at(first_row, group_of, np.arange(n))
    return RecurringRows(
        anomaly_counts=c_a, reference_counts=c_r, lift=np.asarray(lift, dtype=np.float64),
        anomalies=rows, reference=reference, n_neighbors=k, space=nbm.space, prior=prior,
        min_count=min_count, representative=first_row[group_of], group_size=sizes[group_of],
        labels=np.asarray(nbm.y_), predicted=np.asarray(nbm.predicted_labels_), n_top=top)
