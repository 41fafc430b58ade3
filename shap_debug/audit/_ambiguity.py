"""Ambiguity vs. fixable: why each error cohort fails.

Every error row is called *ambiguous* (the label is genuinely uncertain given the features),
*fixable* (evidence of a data problem in a clean neighbourhood) or *model* (confidently wrong
with no sign of a data problem), and every cohort gets a verdict from its errors' kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, check_classifier, check_float, check_int, check_X_y, escape, section_html
from ._cohort_common import _predictions, _standardised
from ._cohorts import Cohort, ErrorCohorts, error_cohorts

__all__ = ["AmbiguityReport", "CohortDiagnosis", "ambiguity_report"]


def _label_entropy(space: np.ndarray, y_idx: np.ndarray, n_classes: int, k: int,
                   rows: np.ndarray) -> np.ndarray:
    """Normalised entropy of the labels of each row's ``k`` nearest other rows."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(space) - 1)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(space)
    _, idx = nn.kneighbors(space[rows])
    idx = idx[:, 1:]
    counts = np.stack([(y_idx[idx] == c).sum(axis=1) for c in range(n_classes)], axis=1) / k
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(np.where(counts > 0, counts * np.log(counts), 0.0), axis=1)
    return ent / np.log(n_classes)


@dataclass(frozen=True, repr=False)
class CohortDiagnosis(Result):
    """Why a cohort fails: the model is unsure, or the data look wrong.

    Shares are over the cohort's *errors* unless named ``*_rows``.
    """

    cohort: Cohort
    verdict: str
    explanation: str
    ambiguous_share: float
    fixable_share: float
    other_share: float
    uncertain_rows: float
    mean_label_entropy: float
    suspicious_rows: np.ndarray = field(repr=False)
    conflicting_rows: np.ndarray = field(repr=False)
    recurrent_rows: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"cohort": self.cohort.id, "rule": self.cohort.rule, "verdict": self.verdict,
                "ambiguous_share": self.ambiguous_share, "fixable_share": self.fixable_share}

    def to_frame(self) -> pd.DataFrame:
        """One line: :meth:`to_dict`."""
        return pd.DataFrame([self.to_dict()])

    def to_dict(self) -> dict:
        """The diagnosis as plain Python values."""
        c = self.cohort
        return {"cohort": c.id, "rule": c.rule, "size": c.size, "error_rate": c.error_rate,
                "error_share": c.error_share, "verdict": self.verdict,
                "ambiguous_share": self.ambiguous_share, "fixable_share": self.fixable_share,
                "other_share": self.other_share, "uncertain_rows": self.uncertain_rows,
                "label_entropy": self.mean_label_entropy,
                "n_suspicious": len(self.suspicious_rows),
                "n_conflicting": len(self.conflicting_rows),
                "n_recurrent": len(self.recurrent_rows), "explanation": self.explanation}


@dataclass(frozen=True, repr=False)
class AmbiguityReport(Result):
    """Per cohort: how much of its failure is genuine ambiguity and how much looks fixable.

    Attributes
    ----------
    cohorts : tuple of CohortDiagnosis
        One per reported cohort (top slices, then leaves holding errors).
    row_kind : ndarray of str, shape (n,)
        For each error row: ``"ambiguous"``, ``"fixable"`` or ``"model"`` (confidently wrong
        with no sign of a data problem); ``""`` for correct rows.
    ambiguous_error_share : float
        Share of all errors that are ambiguous.
    fixable_error_share : float
    n_errors : int
    """

    cohorts: tuple
    row_kind: np.ndarray = field(repr=False)
    ambiguous_error_share: float = 0.0
    fixable_error_share: float = 0.0
    n_errors: int = 0

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"n_errors": self.n_errors, "n_cohorts": len(self.cohorts),
                "ambiguous_error_share": self.ambiguous_error_share,
                "fixable_error_share": self.fixable_error_share,
                "n_recheck": int(np.sum(self.row_kind == "fixable"))}

    @property
    def message(self) -> str:
        """One line: the shares of ambiguous and fixable errors."""
        if self.n_errors == 0:
            return "no errors: nothing to diagnose"
        return (f"{self.ambiguous_error_share:.0%} of the errors are in regions where the label "
                f"is genuinely uncertain given the features; {self.fixable_error_share:.0%} "
                "look like data problems worth re-checking")

    def to_frame(self) -> pd.DataFrame:
        """One row per diagnosed cohort: its verdict, shares and counts."""
        cols = ["cohort", "rule", "size", "error_rate", "error_share", "verdict",
                "ambiguous_share", "fixable_share", "other_share", "uncertain_rows",
                "label_entropy", "n_suspicious", "n_conflicting", "n_recurrent", "explanation"]
        return pd.DataFrame([d.to_dict() for d in self.cohorts], columns=cols)

    def rows_to_recheck(self) -> np.ndarray:
        """Error rows classified as fixable, in row order."""
        return np.flatnonzero(self.row_kind == "fixable")

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """The ambiguity plot (:func:`shap_debug.plots.ambiguity_plot`); returns the Axes."""
        from ..plots import ambiguity_plot

        return ambiguity_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(d.cohort.rule)}</td><td>{d.cohort.error_share:.0%}</td>"
            f"<td><b>{escape(d.verdict)}</b></td><td>{escape(d.explanation)}</td></tr>"
            for d in self.cohorts)
        table = ("<table><tr><th>cohort</th><th>share of errors</th><th>verdict</th>"
                 f"<th>why</th></tr>{rows}</table>")
        body = section_html("Ambiguity vs. fixable", table, self.message + ".")
        return f"<div id='ambiguity'>{body}</div>"


def ambiguity_report(
    model: Any,
    X: Any,
    y: Any,
    cohorts: ErrorCohorts | None = None,
    *,
    display_data: pd.DataFrame | None = None,
    contributions: Any = None,
    suspicious: Any = None,
    neighborhood: Any = None,
    integrity: Any = None,
    n_neighbors: int = 15,
    band: tuple[float, float] = (0.3, 0.7),
    entropy_threshold: float = 0.9,
    cv: int = 5,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
) -> AmbiguityReport:
    """Split each error cohort's failures into *ambiguous* and *fixable*.

    Every error row gets one kind:

    - **fixable** — evidence of a data problem in a clean neighbourhood: the out-of-sample
      model confidently prefers another label (flagged by
      :func:`shap_debug.audit._suspicious.suspicious_rows`, confident learning, *and* its
      out-of-sample probability of the given label is below ``band[0]``), identical twins
      outvote its label, or it recurs in the top 1 % of anomaly neighbourhoods (a fitted
      ``NeighborhoodModel``) — while the labels of its ``n_neighbors`` nearest rows (in
      contribution space when contributions are given, else standardised features) are
      *not* mixed (normalised entropy < ``entropy_threshold``);
    - **ambiguous** — otherwise, when the model's top probability lies inside ``band``, the
      neighbours' labels are mixed, or identical twins are split evenly between labels;
    - **model** — neither: the model is confidently wrong with no sign of a data problem
      (capacity, features or a systematic labelling error, see :func:`systematic_errors`).

    A cohort is called *ambiguous* when at least half of its errors are ambiguous, *fixable*
    when at least 30 % are fixable, and *mixed* otherwise.

    Parameters
    ----------
    model : fitted classifier
    X, y : the rows and labels the cohorts were computed on (the training set, for blame)
    cohorts : ErrorCohorts, optional
        Default: :func:`error_cohorts` of ``model`` on ``X, y``.
    display_data : DataFrame, optional
        Readable rows for the cohorts and the neighbour space.
    contributions : shap.Explanation or ndarray, optional
        Contributions of the rows (``(n, m)`` towards the prediction or ``(n, m, k)``).
    suspicious : SuspiciousRows, optional
        Default: computed with ``cv`` folds (refits the model).
    neighborhood : NeighborhoodModel, optional
        Fitted on the same rows; its anomalies' occurrence counts mark recurrent rows.
    integrity : IntegrityReport, optional
        Default: computed from ``display_data``/``X`` and ``y`` (for conflicting labels).
    n_neighbors : int, default 15
    band : (float, float), default (0.3, 0.7)
    entropy_threshold : float, default 0.9
    cv, random_state, n_jobs : passed to :func:`suspicious_rows`.

    Returns
    -------
    AmbiguityReport
    """
    from ._integrity import integrity_flags
    from ._suspicious import suspicious_rows

    X, y = check_X_y(X, y, allow_nan=True)
    n = len(y)
    n_neighbors = check_int(n_neighbors, "n_neighbors", low=1, high=max(n - 1, 1))
    if not (isinstance(band, tuple | list) and len(band) == 2):
        raise TypeError(f"band must be a (low, high) pair; got {band!r}")
    lo = check_float(band[0], "band[0]", low=0.0, high=1.0)
    hi = check_float(band[1], "band[1]", low=lo, high=1.0)
    entropy_threshold = check_float(entropy_threshold, "entropy_threshold", low=0.0, high=1.0)
    check_classifier(model)
    if suspicious is not None and len(getattr(suspicious, "scores", ())) != n:
        raise ValueError(f"suspicious must be a SuspiciousRows of the same {n} rows")
    if neighborhood is not None and len(getattr(neighborhood, "y_", ())) != n:
        raise ValueError(f"neighborhood must be a NeighborhoodModel fitted on the same {n} rows")
    if cohorts is None:
        cohorts = error_cohorts(model, X, y, display_data=display_data,
                                random_state=random_state)
    elif not isinstance(cohorts, ErrorCohorts):
        raise TypeError(f"cohorts must be an ErrorCohorts; got {type(cohorts).__name__}")
    if cohorts.n_rows != n:
        raise ValueError(f"cohorts were computed on {cohorts.n_rows} rows but X has {n}")
    errors = cohorts.errors
    if cohorts.n_errors == 0:
        return AmbiguityReport((), np.full(n, "", dtype=object), 0.0, 0.0, 0)

    proba, classes, _ = _predictions(model, X)
    y_idx = np.searchsorted(classes, y)
    top = proba.max(axis=1)
    uncertain = (top > lo) & (top < hi) if proba.shape[1] == 2 else top < hi

    if contributions is not None:
        from ..contributions import contribution_matrix

        space = np.asarray(contribution_matrix(contributions, proba.argmax(axis=1)))
    else:
        space = _standardised(cohorts.data)
    err_rows = np.flatnonzero(errors)
    entropy = np.zeros(n)
    entropy[err_rows] = _label_entropy(space, y_idx, len(classes), n_neighbors, err_rows)

    if suspicious is None:
        suspicious = suspicious_rows(model, X, y, cv=cv, random_state=random_state,
                                     n_jobs=n_jobs)
    if integrity is None:
        integrity = integrity_flags(cohorts.data, y)
    flags = _data_problems(y, suspicious, integrity, neighborhood, lo)
    mixed = entropy >= entropy_threshold
    # a data problem stands out from a clean neighbourhood; inside mixed labels it is ambiguity
    fixable = errors & (flags["confident_wrong"] | flags["conflicting"] | flags["recurrent"]) \
        & ~mixed
    ambiguous = errors & ~fixable & (uncertain | mixed | flags["balanced"])
    kind = np.full(n, "", dtype=object)
    kind[errors] = "model"
    kind[ambiguous] = "ambiguous"
    kind[fixable] = "fixable"
    diags = _diagnose_cohorts(cohorts, kind, uncertain, entropy, flags, lo, hi)
    n_err = int(errors.sum())
    return AmbiguityReport(tuple(diags), kind, float(np.sum(kind == "ambiguous") / n_err),
                           float(np.sum(kind == "fixable") / n_err), n_err)


def _data_problems(y: np.ndarray, suspicious: Any, integrity: Any, neighborhood: Any,
                   lo: float) -> dict[str, np.ndarray]:
    """Row masks of the data problems: suspicious labels the out-of-sample model
    contradicts confidently, duplicates outvoted or split evenly, recurrent rows."""
    n = len(y)
    flagged = np.zeros(n, dtype=bool)
    flagged[suspicious.flagged] = True
    sus_idx = np.searchsorted(suspicious.classes, y)
    oos_self = suspicious.proba[np.arange(n), sus_idx]
    conflicting = np.zeros(n, dtype=bool)  # outvoted by identical twins: relabel
    balanced = np.zeros(n, dtype=bool)  # identical twins split evenly: ambiguous
    for g in integrity.conflicting_groups:
        labels, inv, counts = np.unique(y[g], return_inverse=True, return_counts=True)
        share = counts[inv] / len(g)
        conflicting[g[share < 0.5]] = True
        balanced[g[share >= 0.5]] = True
    recurrent = np.zeros(n, dtype=bool)
    if neighborhood is not None:
        counts = neighborhood.occurrence().counts
        if counts.max() > 0:
            cut = max(2, np.quantile(counts[counts > 0], 0.99))
            recurrent = counts >= cut
    return {"flagged": flagged, "confident_wrong": flagged & (oos_self < lo),
            "conflicting": conflicting, "balanced": balanced, "recurrent": recurrent}


def _diagnose_cohorts(cohorts: ErrorCohorts, kind: np.ndarray, uncertain: np.ndarray,
                      entropy: np.ndarray, flags: dict[str, np.ndarray], lo: float, hi: float
                      ) -> list[CohortDiagnosis]:
    """One diagnosis per significant slice and per leaf with errors."""
    errors = cohorts.errors
    flagged, conflicting, recurrent = flags["flagged"], flags["conflicting"], flags["recurrent"]
    confident_wrong = flags["confident_wrong"]
    seen, diags = set(), []
    for c in list(cohorts.slices) + [c for c in cohorts.leaves if c.n_errors > 0]:
        if c.id in seen:
            continue
        seen.add(c.id)
        rows = c.rows
        er = rows[errors[rows]]
        ne = max(len(er), 1)
        amb = float(np.mean(kind[er] == "ambiguous")) if len(er) else 0.0
        fix = float(np.mean(kind[er] == "fixable")) if len(er) else 0.0
        oth = 1.0 - amb - fix if len(er) else 0.0
        unc_rows = float(uncertain[rows].mean())
        ent = float(entropy[er].mean()) if len(er) else 0.0
        if amb >= 0.5:
            verdict = "ambiguous"
            why = (f"{amb:.0%} of its {ne} errors sit where the model is unsure "
                   f"({unc_rows:.0%} of the cohort gets {lo:g} < p < {hi:g}) or neighbours' "
                   "labels are mixed: more data or features, not relabelling, would help")
        elif fix >= 0.3:
            verdict = "fixable"
            why = (f"{fix:.0%} of its errors look like data problems "
                   f"({int((confident_wrong[er]).sum())} confidently contradicted labels, "
                   f"{int(conflicting[er].sum())} conflicting duplicates, "
                   f"{int((recurrent[er]).sum())} recurrent rows): re-check these rows")
        else:
            verdict = "mixed"
            why = (f"{amb:.0%} ambiguous, {fix:.0%} fixable, {oth:.0%} confidently wrong "
                   "without a data problem (a modelling gap or a systematic label error)")
        diags.append(CohortDiagnosis(
            c, verdict, why, amb, fix, oth, unc_rows, ent,
            rows[flagged[rows]], rows[conflicting[rows]], rows[recurrent[rows]]))
    return diags
