"""Error cohorts: where the model fails, as readable rules.

A shallow decision tree is fitted to the *error indicator* (1 where the model's prediction
differs from the label), the way Microsoft's Error Analysis tree does (Nushi, Kamar &
Horvitz 2018, "Towards Accountable AI: Hybrid Human-Machine Analyses for Characterizing
System Failure"; ``responsible-ai-toolbox``). Each leaf is a cohort with its rule, size,
error rate and share of all errors. Categorical columns enter the tree as integer codes
ordered by the level's error rate, so a threshold split on them is a split into two *level
sets* (the optimal binary partition for a 0/1 target, Breiman et al. 1984, sec. 9.4) and
rules read ``marital-status in {Married-civ-spouse, Married-AF-spouse}``.

Top slices are chosen among all tree nodes by the SliceLine score (Sagadeeva & Boehm 2021,
"SliceLine: Fast, Linear-Algebra-based Slice Finding for ML Model Debugging"),
``alpha * (error_rate / base_rate - 1) - (1 - alpha) * (n / size - 1)``, and de-duplicated:
a slice whose rows overlap a better one by more than ``max_overlap`` (Jaccard) is dropped,
so one cohort is not listed ten times in different words.

Ambiguity vs. fixable (:func:`ambiguity_report`) and systematic labelling errors
(:func:`systematic_errors`) are built on the cohorts and live here too.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..core.models import check_classifier, classes_of, predict_proba_fn
from ..core.validation import (
    check_columns,
    check_float,
    check_frame_or_array,
    check_indices,
    check_int,
    check_X_y,
    feature_names_of,
    seed_from,
    warn,
)

__all__ = [
    "AmbiguityReport",
    "Cohort",
    "CohortDiagnosis",
    "ErrorCohorts",
    "ErrorHeatmap",
    "SystematicErrors",
    "SystematicRegion",
    "ambiguity_report",
    "error_cohorts",
    "systematic_errors",
]


# --------------------------------------------------------------------------- helpers
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
                lab = s.astype(str).to_numpy()
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


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Cohort:
    """One cohort (a tree node): its rule, size and errors.

    ``conditions`` maps a feature to ``("range", low, high)`` (``low < x <= high``, either end
    may be infinite) or ``("in", levels, other_levels)`` for categorical level sets.
    """

    id: int
    rule: str
    conditions: dict
    size: int
    n_errors: int
    error_rate: float
    error_share: float
    rows: np.ndarray = field(repr=False)
    leaf: bool = True
    score: float = 0.0

    def mask(self, n: int) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        m[self.rows] = True
        return m

    def to_dict(self) -> dict:
        return {"cohort": self.id, "rule": self.rule, "size": self.size,
                "n_errors": self.n_errors, "error_rate": self.error_rate,
                "error_share": self.error_share, "leaf": self.leaf, "score": self.score}


@dataclass(frozen=True)
class ErrorHeatmap:
    """Error rate over a grid of two features (``rates[i, j]`` for ``rows[i]`` x ``cols[j]``)."""

    f1: str
    f2: str
    rows: tuple
    cols: tuple
    rates: np.ndarray
    counts: np.ndarray
    errors: np.ndarray
    base_rate: float

    def to_frame(self) -> pd.DataFrame:
        """Long format: one line per cell."""
        out = []
        for i, r in enumerate(self.rows):
            for j, c in enumerate(self.cols):
                out.append({self.f1: r, self.f2: c, "size": int(self.counts[i, j]),
                            "n_errors": int(self.errors[i, j]), "error_rate": self.rates[i, j]})
        return pd.DataFrame(out)

    def plot(self, ax: Any = None, show: bool = True):
        from ..plots.cohorts import error_heatmap

        return error_heatmap(self, ax=ax, show=show)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.cols)
        body = ""
        for i, r in enumerate(self.rows):
            cells = "".join(
                "<td>-</td>" if self.counts[i, j] == 0 else
                f"<td>{self.rates[i, j]:.1%} (n={int(self.counts[i, j])})</td>"
                for j in range(len(self.cols)))
            body += f"<tr><th>{html.escape(str(r))}</th>{cells}</tr>"
        return (f"<div class='shap-debug error-heatmap'><p>Error rate by "
                f"{html.escape(self.f1)} (rows) and {html.escape(self.f2)} (columns); overall "
                f"{self.base_rate:.1%}.</p><table><tr><th></th>{head}</tr>{body}</table></div>")


@dataclass(frozen=True)
class ErrorCohorts:
    """Where the model fails: error-tree leaves and de-duplicated top slices.

    Attributes
    ----------
    leaves : tuple of Cohort
        The tree's leaves (disjoint, covering all rows), most errors first.
    slices : tuple of Cohort
        De-duplicated top slices (tree nodes, any depth), best SliceLine score first.
    n_rows, n_errors : int
    error_rate : float
    leaf_of : ndarray of int, shape (n,)
        Cohort id of each row's leaf.
    errors : ndarray of bool, shape (n,)
        The error indicator the tree was fitted to.
    data : DataFrame
        The (display) rows the rules are written in.
    tree : DecisionTreeClassifier or None
        The fitted error tree (None when there are no errors).
    """

    leaves: tuple
    slices: tuple
    n_rows: int
    n_errors: int
    error_rate: float
    leaf_of: np.ndarray = field(repr=False)
    errors: np.ndarray = field(repr=False)
    data: pd.DataFrame = field(repr=False)
    tree: Any = field(repr=False, default=None)
    max_depth: int = 3

    @property
    def message(self) -> str:
        """One sentence for people."""
        if self.n_errors == 0:
            return f"no errors: the model is right on all {self.n_rows} rows"
        top = self.slices[0] if self.slices else self.leaves[0]
        return (f"{self.n_errors} errors in {self.n_rows} rows ({self.error_rate:.1%}); the "
                f"top cohort ({top.rule}) holds {top.size / self.n_rows:.0%} of the rows and "
                f"{top.error_share:.0%} of the errors (error rate {top.error_rate:.1%})")

    def cohort(self, cohort_id: int) -> Cohort:
        for c in self.leaves + self.slices:
            if c.id == cohort_id:
                return c
        raise ValueError(f"cohort_id {cohort_id} is not a leaf or slice id")

    def to_frame(self, which: str = "leaves") -> pd.DataFrame:
        """Leaves (default) or slices, one line each."""
        if which not in ("leaves", "slices"):
            raise ValueError(f"which must be 'leaves' or 'slices'; got {which!r}")
        items = self.leaves if which == "leaves" else self.slices
        cols = ["cohort", "rule", "size", "n_errors", "error_rate", "error_share", "leaf",
                "score"]
        return pd.DataFrame([c.to_dict() for c in items], columns=cols)

    def heatmap(self, f1: Any, f2: Any, *, bins: int = 5, max_levels: int = 8) -> ErrorHeatmap:
        """Error rate over two features (quantile bins for numbers, levels for categories).

        Categorical features keep their ``max_levels - 1`` most frequent levels and pool the
        rest as ``"other"``.
        """
        names = [str(c) for c in self.data.columns]
        (i1,), (i2,) = check_columns(f1, names, "f1"), check_columns(f2, names, "f2")
        bins = check_int(bins, "bins", low=1)
        max_levels = check_int(max_levels, "max_levels", low=2)
        k1, lab1 = _binned(self.data.iloc[:, i1], bins, max_levels)
        k2, lab2 = _binned(self.data.iloc[:, i2], bins, max_levels)
        shape = (len(lab1), len(lab2))
        flat = k1 * shape[1] + k2
        counts = np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape)
        errs = np.bincount(flat, weights=self.errors.astype(float),
                           minlength=shape[0] * shape[1]).reshape(shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = np.where(counts > 0, errs / np.maximum(counts, 1), np.nan)
        return ErrorHeatmap(names[i1], names[i2], tuple(lab1), tuple(lab2), rates, counts,
                            errs.astype(np.int64), self.error_rate)

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        from ..plots.cohorts import cohort_plot

        return cohort_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        if self.n_errors == 0:
            return f"<div class='shap-debug error-cohorts'><p>{html.escape(self.message)}</p></div>"
        rows = "".join(
            f"<tr><td>{html.escape(c.rule)}</td><td>{c.size}</td><td>{c.error_rate:.1%}</td>"
            f"<td>{c.error_share:.1%}</td></tr>" for c in self.slices)
        return (f"<div class='shap-debug error-cohorts'><p>{html.escape(self.message)}.</p>"
                "<table><tr><th>cohort</th><th>rows</th><th>error rate</th>"
                f"<th>share of errors</th></tr>{rows}</table></div>")


def _binned(s: pd.Series, bins: int, max_levels: int) -> tuple[np.ndarray, list[str]]:
    if _is_categorical(s):
        lab = s.astype(str)
        freq = lab.value_counts(sort=True)
        keep = sorted(freq.index[: max_levels - 1]) if len(freq) > max_levels else sorted(
            freq.index)
        labels = list(keep) + (["other"] if len(freq) > len(keep) else [])
        lookup = {v: i for i, v in enumerate(keep)}
        codes = np.array([lookup.get(v, len(keep)) for v in lab.to_numpy()], dtype=np.int64)
        return codes, labels
    x = s.to_numpy(dtype=np.float64)
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


# --------------------------------------------------------------------------- the tree
def _rule_text(conditions: dict) -> str:
    if not conditions:
        return "all rows"
    parts = []
    for feat, cond in conditions.items():
        if cond[0] == "in":
            levels, others = cond[1], cond[2] if len(cond) > 2 else ()
            if 0 < len(others) < len(levels):  # the shorter statement reads better
                parts.append(f"{feat} != {others[0]}" if len(others) == 1
                             else f"{feat} not in {{{', '.join(others)}}}")
            else:
                parts.append(f"{feat} = {levels[0]}" if len(levels) == 1
                             else f"{feat} in {{{', '.join(levels)}}}")
        else:
            lo, hi = cond[1], cond[2]
            if np.isfinite(lo) and np.isfinite(hi):
                parts.append(f"{_fmt(lo)} < {feat} <= {_fmt(hi)}")
            elif np.isfinite(hi):
                parts.append(f"{feat} <= {_fmt(hi)}")
            else:
                parts.append(f"{feat} > {_fmt(lo)}")
    return " and ".join(parts)


def _node_conditions(tree, codec: _TreeCodec) -> list[dict]:
    """Conditions of every node, from the root down."""
    t = tree.tree_
    conds: list[dict] = [dict() for _ in range(t.node_count)]
    for node in range(t.node_count):
        left, right = t.children_left[node], t.children_right[node]
        if left < 0:
            continue
        feat = codec.columns[t.feature[node]]
        thr = float(t.threshold[node])
        for child, is_left in ((left, True), (right, False)):
            c = dict(conds[node])
            if feat in codec.levels:
                levels = codec.levels[feat]
                cut = int(np.floor(thr)) + 1  # codes 0..cut-1 go left
                chosen = levels[:cut] if is_left else levels[cut:]
                possible = c[feat][1] if feat in c else tuple(levels)
                chosen = [lv for lv in chosen if lv in possible]
                order = codec.natural[feat]
                c[feat] = ("in", tuple(sorted(chosen, key=order.__getitem__)),
                           tuple(sorted((lv for lv in levels if lv not in chosen),
                                        key=order.__getitem__)))
            else:
                lo, hi = c.get(feat, ("range", -np.inf, np.inf))[1:]
                c[feat] = ("range", lo, min(hi, thr)) if is_left else ("range", max(lo, thr), hi)
            conds[child] = c
    return conds


def error_cohorts(
    model: Any,
    X: Any,
    y: Any,
    max_depth: int = 3,
    *,
    display_data: pd.DataFrame | None = None,
    y_pred: Any = None,
    min_leaf: float = 0.01,
    n_slices: int = 5,
    alpha: float = 0.95,
    max_overlap: float = 0.5,
    random_state: Any = 0,
) -> ErrorCohorts:
    """Find the cohorts where the model's errors concentrate.

    Parameters
    ----------
    model : classifier or None
        Fitted classifier (``predict_proba``). May be None when ``y_pred`` is given.
    X : DataFrame or array of shape (n, m)
        Rows in the form the model takes (train or test set).
    y : array of shape (n,)
        True labels.
    max_depth : int, default 3
        Depth of the error tree (>= 1). Shallow trees give readable cohorts.
    display_data : DataFrame, optional
        The same rows in readable form (e.g. the raw frame with ``category`` columns behind
        an encoded ``X``); the tree and its rules use it. Defaults to ``X``.
    y_pred : array of shape (n,), optional
        Predicted labels, instead of calling ``model``.
    min_leaf : float, default 0.01
        Smallest leaf, as a fraction of the rows (or an int count when >= 1).
    n_slices : int, default 5
        Number of de-duplicated top slices to keep.
    alpha : float, default 0.95
        SliceLine weight of error rate against size.
    max_overlap : float, default 0.5
        Slices overlapping a better slice by more than this Jaccard index are dropped.
    random_state : int or Generator, default 0
        Seeds the tree (tie-breaks between equally good splits).

    Returns
    -------
    ErrorCohorts
        With ``n_errors == 0`` and no cohorts (and a warning) when the model makes no errors.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2)); y = (X[:, 0] > 0).astype(int)
    >>> y[(X[:, 1] > 1)] = 0  # a region the linear model gets wrong
    >>> res = error_cohorts(LogisticRegression().fit(X, y), X, y, max_depth=2)
    >>> "Feature 1" in res.slices[0].rule
    True
    """
    X, y = check_X_y(X, y)
    max_depth = check_int(max_depth, "max_depth", low=1)
    n_slices = check_int(n_slices, "n_slices", low=1)
    alpha = check_float(alpha, "alpha", low=0.0, high=1.0)
    max_overlap = check_float(max_overlap, "max_overlap", low=0.0, high=1.0)
    min_leaf = check_float(min_leaf, "min_leaf", low=0.0)
    n = len(y)
    names = feature_names_of(X)
    if display_data is None:
        D = _as_frame(X, names)
    else:
        D = check_frame_or_array(display_data, "display_data")
        D = _as_frame(D, feature_names_of(D))
        if len(D) != n:
            raise ValueError(f"display_data has {len(D)} rows but X has {n}")
    if len(np.unique(y)) < 2:
        raise ValueError(f"y must contain at least 2 classes; got only {np.unique(y).tolist()}")
    if y_pred is None:
        check_classifier(model)
        _, _, y_pred = _predictions(model, X)
    else:
        y_pred = np.asarray(y_pred)
        if y_pred.shape != (n,):
            raise ValueError(f"y_pred must have shape ({n},); got {y_pred.shape}")
    errors = np.asarray(y_pred != y)
    n_err = int(errors.sum())
    D = D.reset_index(drop=True)
    if n_err == 0:
        warn("the model makes no errors on these rows; no error cohorts to report")
        return ErrorCohorts((), (), n, 0, 0.0, np.zeros(n, dtype=np.int64), errors, D, None,
                            max_depth)
    from sklearn.tree import DecisionTreeClassifier

    codec = _TreeCodec(D, errors.astype(float))
    leaf_size = int(min_leaf) if min_leaf >= 1 else max(1, int(np.ceil(min_leaf * n)))
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=leaf_size,
                                  random_state=seed_from(random_state))
    tree.fit(codec.Z, errors.astype(int))
    conds = _node_conditions(tree, codec)
    paths = tree.decision_path(codec.Z).tocsc()
    leaf_of = tree.apply(codec.Z).astype(np.int64)
    base = n_err / n
    is_leaf = tree.tree_.children_left < 0
    nodes = []
    for node in range(tree.tree_.node_count):
        rows = paths[:, node].nonzero()[0]
        size = len(rows)
        ne = int(errors[rows].sum())
        rate = ne / size if size else 0.0
        score = alpha * (rate / base - 1) - (1 - alpha) * (n / max(size, 1) - 1)
        nodes.append(Cohort(int(node), _rule_text(conds[node]), conds[node], size, ne, rate,
                            ne / n_err, rows, bool(is_leaf[node]), float(score)))
    leaves = sorted((c for c in nodes if c.leaf), key=lambda c: (-c.n_errors, c.id))
    candidates = sorted((c for c in nodes if c.id != 0 and c.n_errors > 0),
                        key=lambda c: (-c.score, c.id))
    chosen: list[Cohort] = []
    masks: list[np.ndarray] = []
    for c in candidates:
        if c.error_rate <= base:  # a slice must fail more often than the model does overall
            continue
        m = c.mask(n)
        if any(_jaccard(m, o) > max_overlap for o in masks):
            continue
        chosen.append(c)
        masks.append(m)
        if len(chosen) == n_slices:
            break
    if not chosen:  # a one-node tree (no useful split): the whole set is the cohort
        chosen = [nodes[0]]
    return ErrorCohorts(tuple(leaves), tuple(chosen), n, n_err, base, leaf_of, errors, D, tree,
                        max_depth)


# --------------------------------------------------------------------------- ambiguity
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


def _standardised(D: pd.DataFrame) -> np.ndarray:
    cols = []
    for col in D.columns:
        s = D[col]
        if _is_categorical(s):
            dummies = pd.get_dummies(s.astype(str)).to_numpy(dtype=np.float64)
            cols.append(dummies / np.sqrt(2.0))  # a level change moves the row by one unit
        else:
            v = s.to_numpy(dtype=np.float64)
            sd = v.std()
            cols.append(((v - v.mean()) / sd if sd > 0 else v * 0)[:, None])
    return np.hstack(cols) if cols else np.zeros((len(D), 1))


@dataclass(frozen=True)
class CohortDiagnosis:
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

    def to_dict(self) -> dict:
        c = self.cohort
        return {"cohort": c.id, "rule": c.rule, "size": c.size, "error_rate": c.error_rate,
                "error_share": c.error_share, "verdict": self.verdict,
                "ambiguous_share": self.ambiguous_share, "fixable_share": self.fixable_share,
                "other_share": self.other_share, "uncertain_rows": self.uncertain_rows,
                "label_entropy": self.mean_label_entropy,
                "n_suspicious": len(self.suspicious_rows),
                "n_conflicting": len(self.conflicting_rows),
                "n_recurrent": len(self.recurrent_rows), "explanation": self.explanation}


@dataclass(frozen=True)
class AmbiguityReport:
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

    @property
    def message(self) -> str:
        if self.n_errors == 0:
            return "no errors: nothing to diagnose"
        return (f"{self.ambiguous_error_share:.0%} of the errors are in regions where the label "
                f"is genuinely uncertain given the features; {self.fixable_error_share:.0%} "
                "look like data problems worth re-checking")

    def to_frame(self) -> pd.DataFrame:
        cols = ["cohort", "rule", "size", "error_rate", "error_share", "verdict",
                "ambiguous_share", "fixable_share", "other_share", "uncertain_rows",
                "label_entropy", "n_suspicious", "n_conflicting", "n_recurrent", "explanation"]
        return pd.DataFrame([d.to_dict() for d in self.cohorts], columns=cols)

    def rows_to_recheck(self) -> np.ndarray:
        """Error rows classified as fixable, in row order."""
        return np.flatnonzero(self.row_kind == "fixable")

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        from ..plots.cohorts import ambiguity_plot

        return ambiguity_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(d.cohort.rule)}</td><td>{d.cohort.error_share:.0%}</td>"
            f"<td><b>{html.escape(d.verdict)}</b></td><td>{html.escape(d.explanation)}</td></tr>"
            for d in self.cohorts)
        return (f"<div class='shap-debug ambiguity' id='ambiguity'><p>{html.escape(self.message)}"
                ".</p><table><tr><th>cohort</th><th>share of errors</th><th>verdict</th>"
                f"<th>why</th></tr>{rows}</table></div>")


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
    random_state: Any = 0,
    n_jobs: int = 1,
) -> AmbiguityReport:
    """Split each error cohort's failures into *ambiguous* and *fixable*.

    Every error row gets one kind:

    - **fixable** — evidence of a data problem in a clean neighbourhood: the out-of-sample
      model confidently prefers another label (flagged by
      :func:`shap_debug.suspicious.suspicious_rows`, confident learning, *and* its
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
    from ..integrity import integrity_flags
    from ..suspicious import suspicious_rows

    X, y = check_X_y(X, y)
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
    flagged = np.zeros(n, dtype=bool)
    flagged[suspicious.flagged] = True
    sus_idx = np.searchsorted(suspicious.classes, y)
    oos_self = suspicious.proba[np.arange(n), sus_idx]
    confident_wrong = flagged & (oos_self < lo)

    if integrity is None:
        integrity = integrity_flags(cohorts.data, y)
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

    mixed = entropy >= entropy_threshold
    # a data problem stands out from a clean neighbourhood; inside mixed labels it is ambiguity
    fixable = errors & (confident_wrong | conflicting | recurrent) & ~mixed
    ambiguous = errors & ~fixable & (uncertain | mixed | balanced)
    kind = np.full(n, "", dtype=object)
    kind[errors] = "model"
    kind[ambiguous] = "ambiguous"
    kind[fixable] = "fixable"

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
    n_err = int(errors.sum())
    return AmbiguityReport(tuple(diags), kind, float(np.sum(kind == "ambiguous") / n_err),
                           float(np.sum(kind == "fixable") / n_err), n_err)


# --------------------------------------------------------------------------- systematic errors
@dataclass(frozen=True)
class SystematicRegion:
    """A region whose labels the rest of the data contradicts, one-sidedly.

    ``observed`` and ``expected`` are the region's share of ``label`` (given labels vs. the
    model fitted *outside* the region); ``shift = observed - expected``; ``z`` is the
    Poisson-binomial z-score of the difference; ``deficit`` is the share of the
    under-represented label that is missing (1.0 when a label never occurs where the rest of
    the data expects it). ``recheck`` lists the region's rows whose
    given label goes the way of the shift while the outside model disagrees, most confident
    disagreement first.
    """

    name: str
    source: str
    rows: np.ndarray = field(repr=False)
    size: int = 0
    label: Any = None
    observed: float = 0.0
    expected: float = 0.0
    shift: float = 0.0
    z: float = 0.0
    deficit: float = 0.0
    screen_z: float = float("nan")
    fixable: bool = False
    recheck: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.int64))

    @property
    def n_wrong(self) -> int:
        """Estimated number of wrong labels in the region, ``|observed - expected| * size``."""
        return int(round(abs(self.shift) * self.size))

    def to_dict(self) -> dict:
        return {"region": self.name, "source": self.source, "size": self.size,
                "label": self.label, "observed": self.observed, "expected": self.expected,
                "shift": self.shift, "z": self.z, "deficit": self.deficit,
                "screen_z": self.screen_z,
                "fixable": self.fixable, "n_wrong": self.n_wrong,
                "n_recheck": len(self.recheck)}


@dataclass(frozen=True)
class SystematicErrors:
    """Candidate regions tested for systematic (consistent) labelling errors.

    Attributes
    ----------
    regions : tuple of SystematicRegion
        Tested regions, strongest evidence (largest ``|z|``) first.
    min_shift, z_threshold : float
        The thresholds a region had to pass to be called fixable.
    n_screened : int
        Candidate regions screened before the refits.
    """

    regions: tuple
    min_shift: float
    z_threshold: float
    n_screened: int = 0

    @property
    def fixable(self) -> tuple:
        return tuple(r for r in self.regions if r.fixable)

    @property
    def message(self) -> str:
        f = self.fixable
        if not f:
            return (f"no systematic labelling errors found ({len(self.regions)} regions "
                    "refitted)")
        r = f[0]
        return (f"{len(f)} region(s) with labels the rest of the data contradicts; strongest: "
                f"{r.name} ({r.size} rows, {r.observed:.0%} labelled {r.label} where "
                f"{r.expected:.0%} expected; {len(r.recheck)} rows to re-check)")

    def rows_to_recheck(self) -> np.ndarray:
        """Union of the fixable regions' rows to re-check."""
        if not self.fixable:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate([r.recheck for r in self.fixable]))

    def to_frame(self) -> pd.DataFrame:
        cols = ["region", "source", "size", "label", "observed", "expected", "shift", "z",
                "deficit", "screen_z", "fixable", "n_wrong", "n_recheck"]
        return pd.DataFrame([r.to_dict() for r in self.regions], columns=cols)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(r.name)}</td><td>{r.size}</td>"
            f"<td>{html.escape(str(r.label))}</td><td>{r.observed:.0%}</td>"
            f"<td>{r.expected:.0%}</td><td>{r.z:.1f}</td>"
            f"<td>{'<b>fixable</b>' if r.fixable else ''}</td></tr>" for r in self.regions)
        return (f"<div class='shap-debug systematic' id='systematic'><p>"
                f"{html.escape(self.message)}.</p><table><tr><th>region</th><th>rows</th>"
                "<th>label</th><th>observed</th><th>expected outside</th><th>z</th><th></th>"
                f"</tr>{rows}</table></div>")


def _column_codes(D: pd.DataFrame, bins: int, min_size: int):
    """Per column: integer codes and readable condition text per code."""
    out = []
    for col in D.columns:
        s = D[col]
        name = str(col)
        if _is_categorical(s):
            codes, uniq = pd.factorize(s.astype(str), sort=True)
            texts = [f"{name} = {u}" for u in uniq]
        else:
            x = s.to_numpy(dtype=np.float64)
            if len(np.unique(x)) <= bins:
                uniq = np.unique(x)
                codes = np.searchsorted(uniq, x)
                texts = [f"{name} = {_fmt(u)}" for u in uniq]
            else:
                codes, texts = _binned(s, bins, 2)
                texts = [f"{name} {t}" if not t.startswith("(") else
                         f"{t.split(',')[0][1:]} < {name} <= {t.split(',')[1].strip()[:-1]}"
                         for t in texts]
        out.append((name, np.asarray(codes, dtype=np.int64), texts, _is_categorical(s)))
    return out


def _shift_stats(onehot_y: np.ndarray, p: np.ndarray, code: np.ndarray, n_codes: int):
    """Observed, expected and variance of each class count per code (bincount, vectorised)."""
    k = onehot_y.shape[1]
    obs = np.stack([np.bincount(code, weights=onehot_y[:, c], minlength=n_codes)
                  for c in range(k)], axis=1)
    exp = np.stack([np.bincount(code, weights=p[:, c], minlength=n_codes) for c in range(k)],
                 axis=1)
    var = np.stack([np.bincount(code, weights=p[:, c] * (1 - p[:, c]), minlength=n_codes)
                  for c in range(k)], axis=1)
    size = np.bincount(code, minlength=n_codes)
    return obs, exp, var, size


def _best_class(obs, exp, var, size, binary: bool):
    z = (obs - exp) / np.sqrt(var + 1e-9)
    if binary:
        c = np.ones(len(size), dtype=np.int64)
    else:
        c = np.abs(z).argmax(axis=1)
    r = np.arange(len(size))
    return c, z[r, c], (obs[r, c] - exp[r, c]) / np.maximum(size, 1)


def systematic_errors(
    model: Any,
    X: Any,
    y: Any,
    regions: Any = None,
    *,
    cohorts: ErrorCohorts | None = None,
    display_data: pd.DataFrame | None = None,
    estimator: Any = None,
    auto: bool | None = None,
    bins: int = 3,
    min_size: int = 30,
    max_fraction: float = 0.2,
    max_regions: int = 8,
    min_shift: float = 0.1,
    z_threshold: float = 4.0,
    random_state: Any = 0,
    n_jobs: int = 1,
    progress: bool = False,
) -> SystematicErrors:
    """Find regions whose labels are consistently wrong (a data source, labeller, sub-population).

    Loss- and confidence-based rankings (:func:`shap_debug.suspicious.suspicious_rows`, the
    in-sample loss, kNN label disagreement) miss consistent relabelling: the model, even
    cross-validated, learns the wrong labels from their neighbours in the same region. Here
    each candidate region is held out as a whole: a clone of the model is fitted on every
    row *outside* the region and predicts the region. Under "the region's labels follow the
    same rule as the rest", the count of each class in the region is a sum of independent
    Bernoullis with the outside model's probabilities; the z-score of the observed count
    (and the label shift ``observed - expected``) says how strongly and one-sidedly the
    rest of the data contradicts the region's labels. Regions passing ``|shift| >=
    min_shift`` and ``|z| >= z_threshold`` are reported as *fixable*, with their rows to
    re-check.

    A relabelled pocket also distorts the outside model of the regions next to it (leave
    out "male executives" and the model learns "executives earn little" from the relabelled
    female executives). So flagged regions are explained away greedily: the most one-sided
    one (largest ``deficit``) is accepted, its rows get labels drawn from the outside model
    (what the rest of the data expects), and the other flagged regions are re-tested.

    Candidate regions: the ``regions`` given, the leaves and slices of ``cohorts``, and (when
    ``auto``) every pair of conditions on two columns (a categorical level or a numeric
    ``bins``-quantile bin each, at least one categorical: leaving out a box of a numeric
    plane makes any model extrapolate across it) holding ``min_size`` to ``max_fraction *
    n`` rows and at most half of either condition's rows (the rest must still show the
    model each level), screened with one additive logistic model (one-hot levels, standardised numbers) fitted on all
    rows: a pair that deviates from an additive rule is what consistent relabelling of a
    sub-population looks like. The ``max_regions`` strongest pairs are refitted. Single
    levels are not screened: relabelling a whole level cannot be told from a real effect of
    that level (pass such a region in ``regions`` to test it against the rest anyway).

    Parameters
    ----------
    model : fitted classifier
    X, y : training rows (the form the model takes) and labels
    regions : dict of name -> row indices or boolean mask, or a list of them, optional
    cohorts : ErrorCohorts, optional
    display_data : DataFrame, optional
        Readable rows for region names and the screen. Defaults to ``X``.
    estimator : classifier, optional
        Unfitted model for the leave-region-out refits (default: a clone of ``model``).
    auto : bool, optional
        Screen automatic candidate pairs (default: only when no ``regions`` are given).
    bins, min_size, max_fraction, max_regions, min_shift, z_threshold : see above
    random_state, n_jobs, progress : refits run through joblib, seeded.

    Returns
    -------
    SystematicErrors

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=800), "g": rng.integers(0, 4, 800)})
    >>> y = (X["x"] > 0).to_numpy().astype(int)
    >>> region = np.flatnonzero((X["g"] == 2) & (X["x"] > 0))
    >>> y[region] = 0  # a labeller who never says "1"
    >>> m = RandomForestClassifier(50, random_state=0).fit(X, y)
    >>> res = systematic_errors(m, X, y, {"g = 2": np.flatnonzero(X["g"] == 2)})
    >>> res.regions[0].fixable
    True
    """
    from joblib import Parallel, delayed
    from sklearn.linear_model import LogisticRegression

    from ..core.models import clone_model

    X, y = check_X_y(X, y)
    n = len(y)
    bins = check_int(bins, "bins", low=2)
    min_size = check_int(min_size, "min_size", low=1)
    max_fraction = check_float(max_fraction, "max_fraction", low=0.0, high=1.0)
    max_regions = check_int(max_regions, "max_regions", low=0)
    min_shift = check_float(min_shift, "min_shift", low=0.0, high=1.0)
    z_threshold = check_float(z_threshold, "z_threshold", low=0.0)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"y must contain at least 2 classes; got only {classes.tolist()}")
    check_classifier(model)
    names = feature_names_of(X)
    D = _as_frame(X, names) if display_data is None else _as_frame(
        check_frame_or_array(display_data, "display_data"),
        feature_names_of(display_data))
    if len(D) != n:
        raise ValueError(f"display_data has {len(D)} rows but X has {n}")
    D = D.reset_index(drop=True)

    cands: list[tuple[str, str, np.ndarray, float]] = []  # name, source, rows, screen z
    if regions is not None:
        items = regions.items() if isinstance(regions, dict) else (
            (f"region {i}", r) for i, r in enumerate(regions))
        for name, r in items:
            r = np.asarray(r)
            rows = np.flatnonzero(r) if r.dtype == bool and len(r) == n else r
            if rows.dtype == bool:
                raise ValueError(f"region {name!r}: a boolean mask must have {n} entries")
            cands.append((str(name), "given", check_indices(rows, n, f"regions[{name!r}]"),
                          float("nan")))
    if cohorts is not None:
        if not isinstance(cohorts, ErrorCohorts):
            raise TypeError(f"cohorts must be an ErrorCohorts; got {type(cohorts).__name__}")
        if cohorts.n_rows != n:
            raise ValueError(f"cohorts were computed on {cohorts.n_rows} rows but X has {n}")
        for c in list(cohorts.slices) + list(cohorts.leaves):
            if c.size < n and c.size >= min_size and all(c.rule != k[0] for k in cands):
                cands.append((c.rule, "cohort", c.rows, float("nan")))
    if auto is None:
        auto = regions is None
    onehot_y = (y[:, None] == classes[None, :]).astype(np.float64)
    binary = len(classes) == 2
    n_screened = 0
    if auto and max_regions > 0:
        Z = _standardised(D)
        lr = LogisticRegression(max_iter=500).fit(Z, np.searchsorted(classes, y))
        p_add = lr.predict_proba(Z)
        cols = _column_codes(D, bins, min_size)
        scored = []
        for a in range(len(cols)):
            na, ca, ta, _ = cols[a]
            size_a = np.bincount(ca)
            for b in range(a + 1, len(cols)):
                nb, cb, tb, _ = cols[b]
                if not (cols[a][3] or cols[b][3]):
                    continue  # a hole in a numeric plane makes any model extrapolate
                size_b = np.bincount(cb)
                code = ca * len(tb) + cb
                obs, exp, var, size = _shift_stats(onehot_y, p_add, code, len(ta) * len(tb))
                cls, z, shift = _best_class(obs, exp, var, size, binary)
                ia, ib = np.divmod(np.arange(len(size)), len(tb))
                ok = ((size >= min_size) & (size <= max_fraction * n)
                      & (size <= 0.5 * size_a[ia]) & (size <= 0.5 * size_b[ib])
                      & (np.abs(shift) >= min_shift / 2))
                n_screened += int(((size >= min_size) & (size <= max_fraction * n)).sum())
                for k in np.flatnonzero(ok):
                    scored.append((abs(z[k]), f"{ta[ia[k]]} and {tb[ib[k]]}", a, ia[k], b,
                                   ib[k], z[k]))
        scored.sort(key=lambda t: (-t[0], t[1]))
        chosen_masks: list[np.ndarray] = []
        for _, name, a, ia, b, ib, z in scored:
            if len(chosen_masks) >= max_regions:
                break
            m = (cols[a][1] == ia) & (cols[b][1] == ib)
            if any(_jaccard(m, o) > 0.5 for o in chosen_masks):
                continue
            chosen_masks.append(m)
            cands.append((name, "auto", np.flatnonzero(m), float(z)))

    base = estimator if estimator is not None else model
    seed = seed_from(random_state)

    def refit(rows, labels):
        out = np.ones(n, dtype=bool)
        out[rows] = False
        if len(np.unique(labels[out])) < len(classes) or len(rows) == 0:
            return None
        est = clone_model(base, "estimator")
        if "random_state" in est.get_params():
            est.set_params(random_state=seed)
        Xo = X.iloc[out] if isinstance(X, pd.DataFrame) else X[out]
        Xr = X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]
        est.fit(Xo, labels[out])
        q = np.asarray(est.predict_proba(Xr), dtype=np.float64)
        full = np.zeros((len(rows), len(classes)))
        full[:, np.searchsorted(classes, est.classes_)] = q
        return full

    def judge(cand, rows, q, labels):
        name, source, _, sz = cand
        code = np.zeros(len(rows), dtype=np.int64)
        oh = (labels[rows][:, None] == classes[None, :]).astype(np.float64)
        obs, exp, var, size = _shift_stats(oh, q, code, 1)
        cls, z, shift = _best_class(obs, exp, var, size, binary)
        c = int(cls[0])
        zc, sc = float(z[0]), float(shift[0])
        lab = labels[rows]
        if sc < 0:  # too few `c` labels: rows labelled otherwise that the outside calls c
            sel = (lab != classes[c]) & (q[:, c] > 0.5)
            order = np.argsort(-q[sel, c], kind="stable")
            deficit = 1 - obs[0, c] / max(exp[0, c], 1e-12)
        else:  # too many `c` labels: rows labelled c that the outside calls otherwise
            sel = (lab == classes[c]) & (q[:, c] < 0.5)
            order = np.argsort(q[sel, c], kind="stable")
            deficit = 1 - (len(rows) - obs[0, c]) / max(len(rows) - exp[0, c], 1e-12)
        label = classes[c].item() if hasattr(classes[c], "item") else classes[c]
        return SystematicRegion(
            name=name, source=source, rows=np.asarray(cand[2], dtype=np.int64),
            size=len(cand[2]), label=label, observed=float(obs[0, c] / len(rows)),
            expected=float(exp[0, c] / len(rows)), shift=sc, z=zc,
            deficit=float(np.clip(deficit, 0.0, 1.0)), screen_z=sz,
            fixable=bool(abs(sc) >= min_shift and abs(zc) >= z_threshold),
            recheck=rows[sel][order].astype(np.int64)), q

    jobs = [delayed(refit)(rows, y) for _, _, rows, _ in cands]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, total=len(cands), desc="leave-region-out refits")
    probs = Parallel(n_jobs=n_jobs)(jobs) if cands else []
    current = {i: judge(c, c[2], q, y) for i, (c, q) in enumerate(zip(cands, probs))
               if q is not None}
    # Explaining away: accept the most one-sided fixable region (the largest deficit of the
    # under-represented label: a labeller who never says "1" leaves a deficit near 1), give
    # its rows labels drawn from the outside model (dropping them instead would leave a
    # hole the refits extrapolate across), and re-test the other
    # flagged regions on the corrected labels, so one relabelled pocket is not reported again
    # through the regions it distorted (its neighbours in the model's eyes).
    accepted: list[int] = []
    y_work = y.copy()
    draw = np.random.default_rng(seed)
    while True:
        open_ = [i for i, (r, _) in current.items() if r.fixable and i not in accepted]
        if not open_:
            break
        best = max(open_, key=lambda i: (current[i][0].deficit, abs(current[i][0].z), -i))
        accepted.append(best)
        region, q_best = current[best]
        # impute: draw each row's label from the outside model (argmax would erase the
        # minority label and distort the neighbours again)
        u = draw.random(len(q_best))[:, None]
        y_work[region.rows] = classes[(u > np.cumsum(q_best, axis=1)).sum(axis=1).clip(
            0, len(classes) - 1)]
        for i in open_:
            if i == best:
                continue
            q = refit(cands[i][2], y_work)
            if q is None:
                current[i] = (replace(current[i][0], fixable=False), current[i][1])
            else:
                current[i] = judge(cands[i], cands[i][2], q, y_work)
    results = [r for r, _ in current.values()]
    results.sort(key=lambda r: (-r.fixable, -r.deficit, -abs(r.z), r.name))
    return SystematicErrors(tuple(results), min_shift, z_threshold, n_screened)
