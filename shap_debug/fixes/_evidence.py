"""The diagnosis the fixes start from, computed on the training rows only.

Held-out rows (the user's test split, or a stratified share of ``X``) play no part here:
suspicious rows come from cross-validation on the training rows, error cohorts from the
cross-validated errors, ambiguity and label shifts from models fitted on the training rows.
The cohorts' rules are then applied to the held-out rows, where the fixes are measured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, feature_names_of, seed_from

__all__ = ["FailingCohort", "FixEvidence", "gather_evidence", "rule_mask", "region_mask"]


@dataclass(frozen=True, repr=False)
class FailingCohort(Result):
    """A cohort the diagnosis found, with the evidence its fixes need.

    Attributes
    ----------
    label : str
        Short id, ``"C1"``, ``"C2"``...
    rule : str
        Readable rule.
    source : {"error cohort", "label shift"}
        A significant slice of the cross-validated errors
        (:func:`~shap_debug.audit.error_cohorts`) or a region whose labels the rest of the
        data contradicts (:func:`~shap_debug.audit.systematic_errors`).
    train_rows : ndarray of int
        Its training rows.
    test_rows : ndarray of int or None
        Its held-out rows (None when its rule cannot be applied to new rows).
    n_errors : int
        Cross-validated errors among its training rows.
    error_rate : float
        Their rate.
    conflict_share : float
        Share of those errors (of its rows, without errors) that are identical rows with
        conflicting labels. At least one half makes the cohort *irreducible*.
    ambiguity : str
        The verdict of :func:`~shap_debug.audit.ambiguity_report` (``""`` when none).
    ambiguity_text : str
        Its explanation.
    contradicted : ndarray of int
        Rows whose labels a leave-region-out refit contradicts (label-shift regions).
    contradicted_labels : ndarray
        The labels the rest of the data expects for them.
    shift : float
        Label shift of the region (``observed - expected`` share of ``shift_label``), NaN
        when not tested.
    """

    label: str
    rule: str
    source: str
    train_rows: np.ndarray = field(repr=False)
    test_rows: np.ndarray | None = field(repr=False, default=None)
    n_errors: int = 0
    error_rate: float = 0.0
    conflict_share: float = 0.0
    ambiguity: str = ""
    ambiguity_text: str = ""
    contradicted: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.int64))
    contradicted_labels: np.ndarray = field(repr=False,
                                            default_factory=lambda: np.empty(0, np.int64))
    shift: float = float("nan")
    shift_label: Any = None

    @property
    def irreducible(self) -> bool:
        """At least half its errors are identical rows with conflicting labels."""
        return self.conflict_share >= 0.5

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"label": self.label, "rule": self.rule, "source": self.source,
                "n_train": len(self.train_rows),
                "n_test": -1 if self.test_rows is None else len(self.test_rows)}

    def to_dict(self) -> dict:
        """The cohort as plain Python values."""
        return {"cohort": self.label, "rule": self.rule, "source": self.source,
                "train_rows": len(self.train_rows),
                "test_rows": np.nan if self.test_rows is None else len(self.test_rows),
                "train_error_rate": self.error_rate, "conflict_share": self.conflict_share,
                "ambiguity": self.ambiguity, "label_shift": self.shift,
                "n_contradicted": len(self.contradicted)}

    def to_frame(self) -> pd.DataFrame:
        """The cohort as a one-row DataFrame."""
        return pd.DataFrame([self.to_dict()])


@dataclass(frozen=True, repr=False)
class FixEvidence(Result):
    """Everything the candidate fixes are built from (training rows and held-out rows).

    ``X, y, display`` are the training rows the fixes change and retrain on;
    ``X_test, y_test, display_test`` the held-out rows they are measured on.
    ``train_index``/``test_index`` give their positions in the caller's ``X``
    (``test_index`` is None for a user test split). ``baseline`` is a clone fitted on the
    unchanged training rows (the first seed).
    """

    X: Any = field(repr=False)
    y: np.ndarray = field(repr=False)
    display: pd.DataFrame = field(repr=False)
    X_test: Any = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    display_test: pd.DataFrame = field(repr=False)
    train_index: np.ndarray = field(repr=False)
    test_index: np.ndarray | None = field(repr=False)
    holdout: str = ""
    suspicious: Any = field(repr=False, default=None)
    cohorts: Any = field(repr=False, default=None)
    ambiguity: Any = field(repr=False, default=None)
    integrity: Any = field(repr=False, default=None)
    systematic: Any = field(repr=False, default=None)
    failing: tuple = ()
    baseline: Any = field(repr=False, default=None)
    encoder: Any = field(repr=False, default=None)

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"n_train": len(self.y), "n_test": len(self.y_test), "holdout": self.holdout,
                "n_failing": len(self.failing),
                "n_suspicious": 0 if self.suspicious is None else self.suspicious.n_flagged}

    def to_frame(self) -> pd.DataFrame:
        """The failing cohorts, one line each."""
        cols = ["cohort", "rule", "source", "train_rows", "test_rows", "train_error_rate",
                "conflict_share", "ambiguity", "label_shift", "n_contradicted"]
        return pd.DataFrame([c.to_dict() for c in self.failing], columns=cols)


# --------------------------------------------------------------------------- rules on new rows
def rule_mask(conditions: dict, D: pd.DataFrame) -> np.ndarray:
    """Rows of ``D`` inside a cohort's ``conditions`` (as :class:`~shap_debug.audit.Cohort`
    stores them: ``("range", low, high)`` is ``low < x <= high``, ``("in", levels, ...)``)."""
    m = np.ones(len(D), dtype=bool)
    for feat, cond in conditions.items():
        s = D[feat]
        if cond[0] == "in":
            m &= s.astype(str).isin([str(v) for v in cond[1]]).to_numpy()
        else:
            x = s.to_numpy(dtype=np.float64)
            m &= (x > cond[1]) & (x <= cond[2])
    return m


def _part_mask(part: str, D: pd.DataFrame) -> np.ndarray | None:
    for col in sorted((str(c) for c in D.columns), key=len, reverse=True):
        s = D[col] if col in D.columns else D[[c for c in D.columns if str(c) == col][0]]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if part.startswith(col + " = "):
            value = part[len(col) + 3:]
            if numeric:
                return np.array([f"{v:.4g}" for v in s.to_numpy(np.float64)]) == value
            return (s.astype(str) == value).to_numpy()
        if not numeric:
            continue
        x = s.to_numpy(dtype=np.float64)
        num = r"(-?[0-9.]+(?:e[+-]?[0-9]+)?|-?inf)"
        hit = re.fullmatch(re.escape(col) + r" <= " + num, part)
        if hit:
            return x <= float(hit.group(1))
        hit = re.fullmatch(re.escape(col) + r" > " + num, part)
        if hit:
            return x > float(hit.group(1))
        hit = re.fullmatch(num + r" < " + re.escape(col) + r" <= " + num, part)
        if hit:
            return (x > float(hit.group(1))) & (x <= float(hit.group(2)))
    return None


def region_mask(name: str, D: pd.DataFrame) -> np.ndarray | None:
    """Rows of ``D`` inside a screened region named like ``"a = x and 3 < b <= 5"``.

    The names :func:`~shap_debug.audit.systematic_errors` gives its automatic regions;
    None when the name cannot be read back.
    """
    m = np.ones(len(D), dtype=bool)
    for part in name.split(" and "):
        pm = _part_mask(part.strip(), D)
        if pm is None:
            return None
        m &= pm
    return m


# --------------------------------------------------------------------------- gathering
def _display(X: Any, display: Any, encoder: Any) -> pd.DataFrame:
    if display is not None:
        D = display
    elif encoder is not None:
        D = encoder.inverse_transform(np.asarray(X, dtype=np.float64))
    elif isinstance(X, pd.DataFrame):
        D = X
    else:
        D = pd.DataFrame(np.asarray(X), columns=feature_names_of(X))
    return D.reset_index(drop=True)


def _take(X: Any, rows: np.ndarray) -> Any:
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows].reset_index(drop=True)
    return np.asarray(X)[rows]


def split_rows(X: Any, y: np.ndarray, X_test: Any, y_test: Any, display: Any,
               display_test: Any, encoder: Any, test_size: float, random_state: Any
               ) -> dict[str, Any]:
    """Training and held-out parts (the user's test split, else a stratified hold-out)."""
    D = _display(X, display, encoder)
    if X_test is not None:
        Dt = _display(X_test, display_test, encoder)
        return dict(X=X, y=y, display=D, X_test=X_test, y_test=np.asarray(y_test),
                    display_test=Dt, train_index=np.arange(len(y)), test_index=None,
                    holdout=f"user test split ({len(y_test)} rows)")
    from sklearn.model_selection import train_test_split

    tr, te = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y,
                              random_state=seed_from(random_state))
    tr, te = np.sort(tr), np.sort(te)
    pct = f"{100 * test_size:g}"
    return dict(X=_take(X, tr), y=y[tr], display=D.iloc[tr].reset_index(drop=True),
                X_test=_take(X, te), y_test=y[te], display_test=D.iloc[te].reset_index(
                    drop=True), train_index=tr, test_index=te,
                holdout=f"held out {pct} % of training rows ({len(te)} rows, stratified)")


def _conflicting_mask(integrity: Any, n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for g in integrity.conflicting_groups:
        m[g] = True
    return m


def _contradicted_labels(region: Any, classes: np.ndarray, y: np.ndarray,
                         predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The region's re-check rows and the label the rest of the data expects for each."""
    rows = np.asarray(region.recheck, dtype=np.int64)
    if region.shift < 0:  # too few `label`: these rows are expected to carry it
        labels = np.full(len(rows), region.label, dtype=y.dtype)
    elif len(classes) == 2:  # too many `label`: the other class
        other = classes[classes != region.label][0]
        labels = np.full(len(rows), other, dtype=y.dtype)
    else:  # too many `label`, several classes: the cross-validated model's preference
        labels = predicted[rows]
        keep = labels != y[rows]
        rows, labels = rows[keep], labels[keep]
    return rows, labels


def gather_evidence(model: Any, baseline: Any, parts: dict[str, Any], *, cohorts: Any = None,
                    suspicious: Any = None, max_cohorts: int = 3, screen_regions: int = 6,
                    cv: int = 5, random_state: int | np.random.Generator | None = None, n_jobs: int = 1,
                    progress: bool = False) -> FixEvidence:
    """Suspicious rows, error cohorts, ambiguity, duplicates and label shifts of the
    training part, and the failing cohorts with their held-out rows."""
    from ..audit import (
        ambiguity_report,
        error_cohorts,
        integrity_flags,
        suspicious_rows,
        systematic_errors,
    )

    X, y, D, Dt = parts["X"], parts["y"], parts["display"], parts["display_test"]
    n = len(y)
    seed = seed_from(random_state)
    if suspicious is None:
        suspicious = suspicious_rows(model, X, y, cv=cv, random_state=seed, n_jobs=n_jobs)
    if cohorts is None:
        cohorts = error_cohorts(None, X, y, y_pred=suspicious.predicted, display_data=D,
                                random_state=seed)
    integrity = integrity_flags(D, y)
    conflicting = _conflicting_mask(integrity, n)
    amb = None
    if cohorts.n_errors:
        amb = ambiguity_report(baseline, X, y, cohorts, display_data=D, suspicious=suspicious,
                               integrity=integrity, random_state=seed, n_jobs=n_jobs)
    amb_of = {d.cohort.id: d for d in (amb.cohorts if amb is not None else ())}
    errors = np.asarray(suspicious.predicted != y)

    def conflict_share(rows: np.ndarray) -> float:
        err = rows[errors[rows]]
        base = err if len(err) else rows
        return float(conflicting[base].mean()) if len(base) else 0.0

    slices: list[Any] = []
    for c in cohorts.slices:  # significant slices not nested in one already kept
        if len(slices) < max_cohorts and c.significant and not any(
                _contained(np.asarray(c.rows), np.asarray(o.rows)) for o in slices):
            slices.append(c)
    failing: list[FailingCohort] = []
    for c in slices:
        d = amb_of.get(c.id)
        failing.append(FailingCohort(
            label="", rule=c.rule, source="error cohort", train_rows=np.asarray(c.rows),
            test_rows=np.flatnonzero(rule_mask(c.conditions, Dt)),
            n_errors=int(errors[c.rows].sum()),
            error_rate=float(errors[c.rows].mean()) if c.size else 0.0,
            conflict_share=conflict_share(np.asarray(c.rows)),
            ambiguity=d.verdict if d is not None else "",
            ambiguity_text=d.explanation if d is not None else ""))

    sysres = None
    if screen_regions > 0 or slices:
        # a cohort holding much of the data is "explained" by a refit that never saw its
        # kind of rows (leave out all married people and the rest predicts they earn little):
        # test only cohorts the screen itself would consider (at most 20 % of the rows)
        regions = {c.rule: c.train_rows for c in failing if len(c.train_rows) <= 0.2 * n}
        sysres = systematic_errors(baseline, X, y, regions, display_data=D,
                                   auto=screen_regions > 0, max_regions=screen_regions,
                                   random_state=seed, n_jobs=n_jobs, progress=progress)
        by_rule = {c.rule: k for k, c in enumerate(failing)}
        n_shift = 0
        for r in sysres.fixable:
            rows, labels = _contradicted_labels(r, suspicious.classes, y, suspicious.predicted)
            extra = dict(contradicted=rows, contradicted_labels=labels, shift=float(r.shift),
                         shift_label=r.label)
            if r.name in by_rule:  # a failing error cohort whose labels are also shifted
                k = by_rule[r.name]
                failing[k] = _replace(failing[k], **extra)
                continue
            if n_shift >= max_cohorts or any(
                    _contained(np.asarray(r.rows), o.train_rows) for o in failing
                    if o.source == "label shift"):
                continue
            mask = region_mask(r.name, Dt)
            n_shift += 1
            failing.append(FailingCohort(
                label="", rule=r.name, source="label shift", train_rows=np.asarray(r.rows),
                test_rows=None if mask is None else np.flatnonzero(mask),
                n_errors=int(errors[r.rows].sum()),
                error_rate=float(errors[r.rows].mean()) if len(r.rows) else 0.0,
                conflict_share=conflict_share(np.asarray(r.rows)), **extra))
    failing = [_replace(c, label=f"C{k + 1}") for k, c in enumerate(failing)]
    return FixEvidence(
        X=X, y=y, display=D, X_test=parts["X_test"], y_test=parts["y_test"], display_test=Dt,
        train_index=parts["train_index"], test_index=parts["test_index"],
        holdout=parts["holdout"], suspicious=suspicious, cohorts=cohorts, ambiguity=amb,
        integrity=integrity, systematic=sysres, failing=tuple(failing), baseline=baseline,
        encoder=parts.get("encoder"))


def _contained(a: np.ndarray, b: np.ndarray, share: float = 0.8) -> bool:
    """At least ``share`` of the rows ``a`` are among the rows ``b``."""
    return len(a) > 0 and np.isin(a, b).mean() >= share


def _replace(c: FailingCohort, **kw: Any) -> FailingCohort:
    from dataclasses import replace

    return replace(c, **kw)
