"""Error cohorts: where the model fails, as readable rules.

The background (method, references, design choices) is in ``docs/cohorts.md``, section
"Design notes", ``shap_debug.audit._cohorts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    Result,
    check_classifier,
    check_columns,
    check_float,
    check_frame_or_array,
    check_int,
    check_X_y,
    escape,
    feature_names_of,
    section_html,
    seed_from,
    warn,
)
from ._cohort_common import _as_frame, _binned, _fmt, _jaccard, _predictions, _TreeCodec

__all__ = ["Cohort", "ErrorCohorts", "ErrorHeatmap", "error_cohorts"]


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, repr=False)
class Cohort(Result):
    """One cohort (a tree node): its rule, size and errors.

    ``conditions`` maps a feature to ``("range", low, high)`` (``low < x <= high``, either end
    may be infinite) or ``("in", levels, other_levels)`` for categorical level sets.
    ``rate_lower`` is the one-sided Wilson lower confidence bound of ``error_rate`` (used in
    ``score``); ``p_value`` the one-sided Fisher exact test of "errors are no more frequent
    here than in the other rows"; ``p_adjusted`` its Holm adjustment over the nodes of at
    least ``min_support`` rows (NaN for smaller nodes and the root, which are not tested);
    ``significant`` is ``p_adjusted < significance``.
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
    rate_lower: float = float("nan")
    p_value: float = 1.0
    p_adjusted: float = float("nan")
    significant: bool = False

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"id": self.id, "rule": self.rule, "size": self.size, "n_errors": self.n_errors,
                "error_rate": self.error_rate, "p_adjusted": self.p_adjusted,
                "significant": self.significant}

    def mask(self, n: int) -> np.ndarray:
        """Boolean mask of the cohort's rows among ``n`` rows."""
        m = np.zeros(n, dtype=bool)
        m[self.rows] = True
        return m

    def to_dict(self) -> dict:
        """The cohort as plain Python values."""
        return {"cohort": self.id, "rule": self.rule, "size": self.size,
                "n_errors": self.n_errors, "error_rate": self.error_rate,
                "error_share": self.error_share, "leaf": self.leaf, "score": self.score,
                "rate_lower": self.rate_lower, "p_value": self.p_value,
                "p_adjusted": self.p_adjusted, "significant": self.significant}

    def to_frame(self) -> pd.DataFrame:
        """One line: the cohort's :meth:`to_dict`."""
        return pd.DataFrame([self.to_dict()])


@dataclass(frozen=True, repr=False)
class ErrorHeatmap(Result):
    """Error rate over a grid of two features (``rates[i, j]`` for ``rows[i]`` x ``cols[j]``)."""

    f1: str
    f2: str
    rows: tuple
    cols: tuple
    rates: np.ndarray
    counts: np.ndarray
    errors: np.ndarray
    base_rate: float

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"f1": self.f1, "f2": self.f2, "shape": self.rates.shape,
                "base_rate": self.base_rate}

    def to_frame(self) -> pd.DataFrame:
        """Long format: one line per cell."""
        out = []
        for i, r in enumerate(self.rows):
            for j, c in enumerate(self.cols):
                out.append({self.f1: r, self.f2: c, "size": int(self.counts[i, j]),
                            "n_errors": int(self.errors[i, j]), "error_rate": self.rates[i, j]})
        return pd.DataFrame(out)

    def plot(self, ax: Any = None, show: bool = True):
        """The heatmap (:func:`shap_debug.plots.error_heatmap`); returns the Axes."""
        from ..plots import error_heatmap

        return error_heatmap(self, ax=ax, show=show)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{escape(c)}</th>" for c in self.cols)
        body = ""
        for i, r in enumerate(self.rows):
            cells = "".join(
                "<td>-</td>" if self.counts[i, j] == 0 else
                f"<td>{self.rates[i, j]:.1%} (n={int(self.counts[i, j])})</td>"
                for j in range(len(self.cols)))
            body += f"<tr><th>{escape(r)}</th>{cells}</tr>"
        note = (f"Error rate by {self.f1} (rows) and {self.f2} (columns); overall "
                f"{self.base_rate:.1%}.")
        return section_html("Error heatmap", f"<table><tr><th></th>{head}</tr>{body}</table>",
                             note)


@dataclass(frozen=True, repr=False)
class ErrorCohorts(Result):
    """Where the model fails: error-tree leaves and de-duplicated top slices.

    Attributes
    ----------
    leaves : tuple of Cohort
        The tree's leaves (disjoint, covering all rows), most errors first.
    slices : tuple of Cohort
        De-duplicated top slices (tree nodes of at least ``min_support`` rows, any depth):
        significant ones first, then by SliceLine score (on the Wilson lower bound).
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
    max_depth, min_support : int
    significance : float
        Level of the Holm-adjusted one-sided Fisher test behind ``Cohort.significant``.
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
    min_support: int = 20
    significance: float = 0.05

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"n_rows": self.n_rows, "n_errors": self.n_errors,
                "error_rate": self.error_rate, "n_leaves": len(self.leaves),
                "n_slices": len(self.slices)}

    @property
    def message(self) -> str:
        """One sentence for people."""
        if self.n_errors == 0:
            return f"no errors: the model is right on all {self.n_rows} rows"
        top = self.slices[0] if self.slices else self.leaves[0]
        out = (f"{self.n_errors} errors in {self.n_rows} rows ({self.error_rate:.1%}); the "
               f"top cohort ({top.rule}) holds {top.size / self.n_rows:.0%} of the rows and "
               f"{top.error_share:.0%} of the errors (error rate {top.error_rate:.1%})")
        if top.id == 0:
            out += (f"; no cohort of at least {self.min_support} rows fails more often than "
                    "the other rows")
        elif not top.significant:
            p = ("" if np.isnan(top.p_adjusted)
                 else f", Holm-adjusted one-sided Fisher p = {top.p_adjusted:.2g}")
            out += f"; its error rate is not significantly above the other rows'{p}"
        return out

    def cohort(self, cohort_id: int) -> Cohort:
        """The leaf or slice with id ``cohort_id``."""
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
                "score", "rate_lower", "p_value", "p_adjusted", "significant"]
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
        """The cohort plot (:func:`shap_debug.plots.cohort_plot`); returns the Axes."""
        from ..plots import cohort_plot

        return cohort_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        if self.n_errors == 0:
            return section_html("Error cohorts", "", self.message)
        rows = "".join(
            f"<tr><td>{escape(c.rule)}</td><td>{c.size}</td><td>{c.error_rate:.1%}</td>"
            f"<td>{c.error_share:.1%}</td><td>{_p_text(c)}</td></tr>" for c in self.slices)
        return section_html(
            "Error cohorts", "<table><tr><th>cohort</th><th>rows</th><th>error rate</th>"
            f"<th>share of errors</th><th>adjusted p</th></tr>{rows}</table>",
            self.message + ".")


def _p_text(c: Cohort) -> str:
    if np.isnan(c.p_adjusted):
        return "not tested"
    return f"{c.p_adjusted:.2g}" + ("" if c.significant else " (not significant)")


def _wilson_lower(k: np.ndarray, n: np.ndarray, z: float) -> np.ndarray:
    """One-sided Wilson score lower bound of a binomial rate ``k / n`` (Wilson 1927)."""
    n = np.maximum(n, 1).astype(np.float64)
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.clip(centre - half, 0.0, 1.0)


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (family-wise error rate)."""
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


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
    min_support: float | None = None,
    n_slices: int = 5,
    alpha: float = 0.95,
    max_overlap: float = 0.5,
    significance: float = 0.05,
    random_state: int | np.random.Generator | None = None,
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
        Smallest leaf of the error tree, as a fraction of the rows (or an int count when >= 1).
    min_support : float, optional
        Smallest cohort reported as a slice and tested for significance, as a fraction of the
        rows (< 1) or a row count (>= 1). Default ``max(20, 1 % of the rows)``: below that
        an error rate rests on a handful of rows. Smaller leaves stay in ``leaves`` (they
        partition the rows) but are never significant.
    n_slices : int, default 5
        Number of de-duplicated top slices to keep.
    alpha : float, default 0.95
        SliceLine weight of error rate against size. The error rate in the score is the
        one-sided Wilson lower confidence bound at level ``1 - significance``, a rate shrunk
        towards zero the more the fewer rows back it.
    max_overlap : float, default 0.5
        Slices overlapping a better slice by more than this Jaccard index are dropped.
    significance : float, default 0.05
        Level of the per-cohort test: a one-sided Fisher exact test of the cohort's errors
        against the other rows' (the hypergeometric tail ``P(X >= n_errors)``), Holm-adjusted
        over every tree node but the root holding at least ``min_support`` rows (the cohorts
        that could be reported; family-wise error rate). The tree chose its splits on the
        same errors, so the p-values are optimistic: read a significant cohort as a lead,
        a non-significant one as noise. Significant slices are listed before the others.
    random_state : int, Generator or None, default None
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
    X, y = check_X_y(X, y, allow_nan=True)
    max_depth = check_int(max_depth, "max_depth", low=1)
    n_slices = check_int(n_slices, "n_slices", low=1)
    alpha = check_float(alpha, "alpha", low=0.0, high=1.0)
    max_overlap = check_float(max_overlap, "max_overlap", low=0.0, high=1.0)
    min_leaf = check_float(min_leaf, "min_leaf", low=0.0)
    significance = check_float(significance, "significance", low=0.0, high=1.0)
    if not 0 < significance < 1:
        raise ValueError(f"significance must be in (0, 1); got {significance}")
    n = len(y)
    if min_support is None:
        support = max(20, int(np.ceil(0.01 * n)))
    else:
        min_support = check_float(min_support, "min_support", low=0.0)
        if min_support <= 0:
            raise ValueError(f"min_support must be > 0; got {min_support}")
        support = int(np.ceil(min_support * n)) if min_support < 1 else int(min_support)
    names = feature_names_of(X)
    if display_data is None:
        D = _as_frame(X, names)
    else:
        D = check_frame_or_array(display_data, "display_data", allow_nan=True)
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
                            max_depth, support, significance)
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
    nodes = _tree_cohorts(tree, conds, paths, errors, alpha, support, significance)
    leaves = sorted((c for c in nodes if c.leaf), key=lambda c: (-c.n_errors, c.id))
    chosen = _pick_slices(nodes, base, support, max_overlap, n_slices, n)
    return ErrorCohorts(tuple(leaves), tuple(chosen), n, n_err, base, leaf_of, errors, D, tree,
                        max_depth, support, significance)


def _tree_cohorts(tree: Any, conds: list, paths: Any, errors: np.ndarray, alpha: float,
                  support: int, significance: float) -> list[Cohort]:
    """Every node of the error tree as a cohort, with its score and its tests (Wilson lower
    bound of the error rate; one-sided Fisher exact test against the other rows, Holm)."""
    from scipy.stats import hypergeom, norm

    n, n_err = len(errors), int(errors.sum())
    base = n_err / n
    is_leaf = tree.tree_.children_left < 0
    sizes = np.asarray(paths.sum(axis=0)).ravel().astype(np.int64)
    n_errs = np.asarray(paths.T @ errors.astype(np.int64)).ravel().astype(np.int64)
    lower = _wilson_lower(n_errs, sizes, float(norm.ppf(1 - significance)))
    # one-sided Fisher exact test, cohort vs. the other rows: P(X >= k), X hypergeometric
    p_raw = np.minimum(hypergeom.sf(n_errs - 1, n, n_err, sizes), 1.0)
    tested = (sizes >= support) & (np.arange(len(sizes)) != 0)
    p_adj = np.full(len(sizes), np.nan)
    p_adj[tested] = _holm(p_raw[tested])
    nodes = []
    for node in range(tree.tree_.node_count):
        rows = paths[:, node].nonzero()[0]
        size = len(rows)
        ne = int(errors[rows].sum())
        rate = ne / size if size else 0.0
        score = alpha * (lower[node] / base - 1) - (1 - alpha) * (n / max(size, 1) - 1)
        nodes.append(Cohort(int(node), _rule_text(conds[node]), conds[node], size, ne, rate,
                            ne / n_err, rows, bool(is_leaf[node]), float(score),
                            float(lower[node]), float(p_raw[node]), float(p_adj[node]),
                            bool(tested[node] and p_adj[node] < significance)))
    return nodes


def _pick_slices(nodes: list[Cohort], base: float, support: int, max_overlap: float,
                 n_slices: int, n: int) -> list[Cohort]:
    """Up to ``n_slices`` cohorts, significant and best-scored first, overlapping at most
    ``max_overlap`` (Jaccard); the root when none fails more often than the model overall."""
    candidates = sorted((c for c in nodes if c.id != 0 and c.n_errors > 0
                         and c.size >= support),
                        key=lambda c: (not c.significant, -c.score, c.id))
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
    return chosen or [nodes[0]]  # a one-node tree (no useful split): the whole set
