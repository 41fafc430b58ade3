"""Accumulated Local Effects over an influential neighborhood, as a ``shap.Explanation``.

Local rules describe single rows; a neighborhood (the training rows that shaped an
anomaly's prediction, see :mod:`shap_debug.neighborhood`) also has trends and biases of its
own. Following Rasouli & Yu ("Explainable Debugger for Black-box Machine Learning Models",
IJCNN 2021, Fig. 4) we show them with first-order Accumulated Local Effects (Apley & Zhu,
"Visualizing the effects of predictor variables in black box supervised learning models",
JRSS-B 2020) computed on the neighborhood only, and compare them with the whole training
set (:func:`ale_bias`).

Estimator
---------
The numbers are those of PyALE 1.2 (Jomar, https://github.com/DanaJomar/PyALE), which the
tests use as the oracle:

- *continuous* features: bin edges are the R type-1 quantiles (inverse empirical CDF) at
  ``linspace(0, 1, grid_size + 1)`` plus the minimum, deduplicated; bins are right-closed,
  the first one also holds the minimum. Each row's prediction difference between its bin's
  upper and lower edge is averaged per bin and accumulated; the curve is centred by the
  count-weighted mean of the bin midpoints' effects.
- *discrete* numeric features (at most 10 values, or at most 0.2 % of the rows): the rows of
  each level move one level up and one level down; both differences are averaged per level
  pair, accumulated, and centred by the level counts.
- *categorical* features: as discrete, with the levels in the order of an ordered
  ``Categorical``, or otherwise ordered by similarity: the distance between two levels is the
  sum over the other features of the total-variation distance (categorical and small-integer
  features) or the Kolmogorov-Smirnov distance on 100 quantiles (the others) between the
  rows of each level, reduced to one dimension by classical multidimensional scaling.
- bands are ``mean ± t_{C, n-1} * sd / sqrt(n)`` of the differences of each bin or level,
  around the accumulated effect (undefined, NaN, for the reference level and one-row bins).

Unlike PyALE, every perturbed row of every feature goes through the model in one batched,
chunked ``predict_proba`` call, the bookkeeping is numpy, the input is never modified, any
classifier (scikit-learn, torch) and any frame or array works, and a constant feature gives
a flat zero curve. ``engine="pyale"`` runs PyALE itself, feature by feature.
"""

from __future__ import annotations

import html
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shap
from scipy.stats import t as student_t
from tqdm.auto import tqdm

from .core.models import check_classifier, class_index, classes_of, predict_proba_fn
from .core.validation import (
    check_columns,
    check_float,
    check_frame_or_array,
    check_int,
    check_option,
    feature_names_of,
    warn,
)

__all__ = ["ALECurve", "ALEResult", "ALEBias", "neighborhood_ale", "ale_bias"]

KINDS = ("continuous", "discrete", "categorical")
_CHUNK_ROWS = 65_536


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class ALECurve:
    """The first-order ALE curve of one feature.

    Attributes
    ----------
    feature : str
    kind : {"continuous", "discrete", "categorical"}
    grid : ndarray
        Bin edges (continuous), sorted levels (discrete) or level labels in ALE order
        (categorical, strings).
    values : ndarray
        Centred accumulated effect at each grid point.
    counts : ndarray of int
        Rows in the bin ending at each edge (continuous; 0 at the lowest edge) or at each
        level (discrete, categorical).
    lower, upper : ndarray
        Confidence band; NaN where undefined (reference level, bins with one row).
    """

    feature: str
    kind: str
    grid: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def __repr__(self) -> str:
        return (f"ALECurve(feature={self.feature!r}, kind={self.kind!r}, "
                f"grid_points={len(self.grid)}, range={self.range:.4g})")

    @property
    def range(self) -> float:
        """``max - min`` of the curve: how far this feature alone moves the prediction."""
        return float(np.ptp(self.values)) if len(self.values) else 0.0

    def to_frame(self) -> pd.DataFrame:
        """PyALE's layout: index = grid, columns ``eff``, ``size``, ``lower``, ``upper``."""
        return pd.DataFrame(
            {"eff": self.values, "size": self.counts, "lower": self.lower, "upper": self.upper},
            index=pd.Index(self.grid, name=self.feature))


@dataclass(frozen=True, eq=False)
class ALEResult:
    """ALE of a classifier's probability over a set of rows.

    Attributes
    ----------
    explanation : shap.Explanation
        ``values[i, j]`` is the centred ALE of feature ``j`` at row ``i``'s value
        (interpolated within its bin for continuous features), shifted so each column is
        exactly mean-zero; ``base_values`` the mean predicted probability; numeric ``data``
        (categorical features as their position in ALE order) and readable
        ``display_data``. Works with ``shap.plots.scatter``/``bar``/``beeswarm``. Built on
        first access from ``values``, ``data`` and ``display_data``.
    curves : tuple of ALECurve
        One per analysed feature, in column order.
    target : int
        Column of ``predict_proba`` whose probability is explained.
    target_label : object
        The class label of that column.
    confidence : float
    engine : str
    mean_prediction : float
        Mean predicted probability of ``target`` over the rows.
    values, data, display_data : ndarray of shape (n, m)
        The arrays behind ``explanation``.
    anomaly : dict or None
        The anomaly's value of each analysed feature (numbers, or labels for categorical
        features), drawn as a marker by :meth:`plot`.
    """

    curves: tuple
    target: int
    target_label: Any
    confidence: float
    engine: str
    mean_prediction: float
    values: np.ndarray = field(repr=False)
    data: np.ndarray = field(repr=False)
    display_data: np.ndarray = field(repr=False)
    anomaly: dict | None = None

    @cached_property
    def explanation(self) -> shap.Explanation:
        """The per-row ALE values as a plain ``shap.Explanation`` (built on first access)."""
        n = self.values.shape[0]
        return shap.Explanation(
            values=self.values, base_values=np.full(n, self.mean_prediction), data=self.data,
            display_data=self.display_data, feature_names=self.feature_names)

    def __repr__(self) -> str:
        return (f"ALEResult(n_rows={self.n_rows}, features={self.feature_names}, "
                f"target_label={self.target_label!r}, mean_prediction="
                f"{self.mean_prediction:.4g}, engine={self.engine!r})")

    @property
    def feature_names(self) -> list[str]:
        return [c.feature for c in self.curves]

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    def curve(self, feature: str | int) -> ALECurve:
        """The curve of one feature (by name or position)."""
        j = check_columns(feature, self.feature_names, "feature")[0]
        return self.curves[j]

    def ranges(self) -> pd.Series:
        """ALE range of each feature, largest first."""
        s = pd.Series({c.feature: c.range for c in self.curves}, name="ale_range")
        return s.sort_values(ascending=False, kind="stable")

    def to_frame(self) -> pd.DataFrame:
        """All curves in long format: feature, kind, x, ale, count, lower, upper."""
        parts = [
            pd.DataFrame({
                "feature": c.feature, "kind": c.kind, "x": pd.array(c.grid, dtype=object),
                "ale": c.values, "count": c.counts, "lower": c.lower, "upper": c.upper})
            for c in self.curves
        ]
        if not parts:
            return pd.DataFrame(columns=["feature", "kind", "x", "ale", "count", "lower", "upper"])
        return pd.concat(parts, ignore_index=True)

    def plot(self, features: Any = None, *, global_result: ALEResult | None = None,
             max_display: int = 6, ax: Any = None, show: bool = True):
        """Draw the curves (see :func:`shap_debug.plots.ale.ale`)."""
        from .plots.ale import ale as ale_plot

        return ale_plot(self, features, global_result=global_result, max_display=max_display,
                        ax=ax, show=show)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(f)}</td><td>{esc(self.curve(f).kind)}</td>"
            f"<td>{len(self.curve(f).grid)}</td><td>{r:.4f}</td></tr>"
            for f, r in self.ranges().items())
        return (
            "<div class='shap-debug-ale'>"
            f"<p><b>Accumulated local effects</b> of P(class {esc(str(self.target_label))}) "
            f"over {self.n_rows} rows (mean prediction {self.mean_prediction:.4f}, "
            f"engine {esc(self.engine)}, {int(round(self.confidence * 100))}% bands).</p>"
            "<table><thead><tr><th>feature</th><th>kind</th><th>grid points</th>"
            "<th>ALE range</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


@dataclass(frozen=True, eq=False)
class ALEBias:
    """Features ranked by ALE range in a neighborhood versus the whole data.

    Attributes
    ----------
    table : DataFrame
        One row per feature, largest neighborhood range first: ``range_neighborhood``,
        ``range_global``, ``ratio`` (neighborhood / global), ``protected``, ``flagged``.
    threshold : float
    flagged : tuple of str
        Protected features whose neighborhood ALE range exceeds ``threshold``.
    """

    table: pd.DataFrame
    threshold: float
    flagged: tuple

    def __repr__(self) -> str:
        return (f"ALEBias(top={list(self.table.index[:5])}, threshold={self.threshold:g}, "
                f"flagged={self.flagged})")

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Horizontal bars: neighborhood vs global ALE range, flagged features in red."""
        import matplotlib.pyplot as plt
        from shap.plots import colors

        check_int(max_display, "max_display", low=1)
        tab = self.table.head(max_display).iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.45 * len(tab) + 1.2))
        y = np.arange(len(tab))
        nb_col = [colors.red_rgb if f else colors.blue_rgb for f in tab["flagged"]]
        ax.barh(y + 0.2, tab["range_neighborhood"], height=0.4, color=nb_col,
                label="neighborhood")
        ax.barh(y - 0.2, tab["range_global"], height=0.4, color=colors.gray_rgb,
                label="global")
        ax.axvline(self.threshold, color=colors.red_rgb, linestyle=":", linewidth=1)
        ax.set_yticks(y)
        ax.set_yticklabels([f + (" (protected)" if p else "")
                            for f, p in zip(tab.index, tab["protected"])])
        ax.set_xlabel("ALE range (max - min effect on the probability)")
        ax.legend(loc="lower right", frameon=False)
        if show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        esc = html.escape
        red = ' style="color:#ff0052"'
        rows = "".join(
            f"<tr{red if r.flagged else ''}><td>{esc(str(f))}</td>"
            f"<td>{r.range_neighborhood:.4f}</td><td>{r.range_global:.4f}</td>"
            f"<td>{r.ratio:.2f}</td><td>{'yes' if r.protected else ''}</td>"
            f"<td>{'FLAGGED' if r.flagged else ''}</td></tr>"
            for f, r in self.table.iterrows())
        flagged = ", ".join(esc(str(f)) for f in self.flagged) or "none"
        return (
            "<div class='shap-debug-ale-bias'>"
            f"<p><b>ALE bias view</b>: protected features with a neighborhood ALE range above "
            f"{self.threshold:g}: {flagged}.</p>"
            "<table><thead><tr><th>feature</th><th>neighborhood range</th>"
            "<th>global range</th><th>ratio</th><th>protected</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


# --------------------------------------------------------------------------- the table
class _Table:
    """Numeric view of the rows (category codes for categorical columns) and the way back.

    ``Z[:, j]`` holds numbers for numeric columns and integer codes into ``labels[j]`` /
    ``values[j]`` for categorical ones; :meth:`decode` rebuilds what the model takes.
    """

    def __init__(self, X: Any, names: list[str], categorical: list[int]):
        self.names = names
        n, m = X.shape
        self.n, self.m = n, m
        self.frame = isinstance(X, pd.DataFrame)
        self.object_array = False
        self.is_cat = np.zeros(m, dtype=bool)
        self.ordered = np.zeros(m, dtype=bool)
        self.float_dtype = np.zeros(m, dtype=bool)    # PyALE's "float" in dtype name rule
        self.labels: list[list[str] | None] = [None] * m
        self.levels: list[Any] = [None] * m            # code -> original value
        self.dtypes: list[Any] = [None] * m
        Z = np.empty((n, m), dtype=np.float64)
        if self.frame:
            self.columns = list(X.columns)
            cols = ([X[c] for c in X.columns] if X.columns.is_unique
                    else [X.iloc[:, j] for j in range(m)])
        else:
            arr = np.asarray(X)
            self.object_array = arr.dtype == object or not np.issubdtype(arr.dtype, np.number)
            cols = [pd.Series(arr[:, j]) for j in range(m)]
            if not self.object_array:
                cols = [c.astype(np.float64) for c in cols]
            else:
                cols = [_maybe_numeric(c) for c in cols]
        flagged = set(categorical)
        for j, s in enumerate(cols):
            self.dtypes[j] = s.dtype
            numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
            self.float_dtype[j] = "float" in s.dtype.name
            if isinstance(s.dtype, pd.CategoricalDtype):
                self.is_cat[j] = True
                self.ordered[j] = bool(s.cat.ordered)
                self.levels[j] = s.cat.categories
                self.labels[j] = [str(c) for c in s.cat.categories]
                Z[:, j] = s.cat.codes.to_numpy(dtype=np.float64)
            elif numeric and j not in flagged:
                Z[:, j] = s.to_numpy(dtype=np.float64)
            else:
                self.is_cat[j] = True
                uniques = pd.Index(pd.unique(s))
                if numeric:
                    uniques = uniques.sort_values()
                self.levels[j] = uniques
                self.labels[j] = [str(v) for v in uniques]
                Z[:, j] = uniques.get_indexer(s).astype(np.float64)
        self.Z = Z

    def decode(self, Z: np.ndarray) -> pd.DataFrame | np.ndarray:
        """The model's input for numeric rows ``Z``."""
        if not self.frame and not self.object_array and not self.is_cat.any():
            return Z
        data = {}
        for j in range(self.m):
            z = Z[:, j]
            dtype = self.dtypes[j]
            if isinstance(dtype, pd.CategoricalDtype):
                data[j] = pd.Categorical.from_codes(z.astype(np.int64), dtype=dtype)
            elif self.is_cat[j] and isinstance(dtype, np.dtype) and dtype.kind in "iuf":
                data[j] = np.asarray(self.levels[j], dtype=dtype)[z.astype(np.int64)]
            elif self.is_cat[j]:
                data[j] = pd.Series(self.levels[j].take(z.astype(np.int64)), dtype=dtype)
            else:
                data[j] = z.astype(dtype, copy=False)
        if self.frame:
            out = pd.DataFrame(data, copy=False)
            out.columns = self.columns
            return out
        out = pd.DataFrame(data, copy=False)
        return out.to_numpy(dtype=object if self.object_array else np.float64)


def _maybe_numeric(s: pd.Series) -> pd.Series:
    """A column of an object array as numbers when every value is one."""
    try:
        return pd.to_numeric(s)
    except (TypeError, ValueError):
        return s


# --------------------------------------------------------------------------- PyALE's pieces
def _quantile_edges(x: np.ndarray, grid_size: int) -> np.ndarray:
    """PyALE's bin edges: R type-1 quantiles (as ``PyALE._src.lib.quantile_ied``) + min."""
    q = np.linspace(0, 1, grid_size + 1, endpoint=True)
    xs = np.sort(x)
    n = len(xs) - 1
    pos = n * q + 0
    j = pos.astype(int)
    g = pos - j
    prev = np.concatenate([[0.0], xs[:-1]])        # pandas shift(1, fill_value=0)
    quant = np.where(g != 0, xs[j], prev[j])
    quant[q == 0] = xs[0]
    quant[q == 1] = xs[-1]
    return np.unique(np.concatenate([[xs[0]], quant]))


def _cmds_order(D: np.ndarray) -> np.ndarray:
    """Order of the rows of a distance matrix along its first classical-MDS axis."""
    n = D.shape[0]
    D2 = np.square(D)
    C = np.eye(n) - np.ones((n, n)) / n
    B = -(1 / 2) * C.dot(D2).dot(C)
    vals, vecs = np.linalg.eigh(B)
    idx = np.argsort(vals)[::-1]
    vals, vecs = vals[idx], vecs[:, idx]
    with np.errstate(invalid="ignore"):
        coord = vecs[:, 0:1].dot(np.diag(np.sqrt(vals[0:1]))).ravel()
    return coord.argsort()


class _Similarity:
    """Distances between the levels of a categorical feature (``PyALE._src.lib.order_groups``)."""

    def __init__(self, table: _Table):
        self.table = table
        self._q: dict[int, np.ndarray] = {}
        self._disc: dict[int, tuple[np.ndarray, int] | None] = {}

    def _discrete_codes(self, j: int):
        if j not in self._disc:
            t = self.table
            z = t.Z[:, j]
            uniq, inv = np.unique(z, return_inverse=True)
            if t.is_cat[j] or (len(uniq) <= 10 and not t.float_dtype[j]):
                self._disc[j] = (inv, len(uniq))
            else:
                self._disc[j] = None
        return self._disc[j]

    def _buckets(self, j: int) -> np.ndarray:
        """Per row, the first of the 100 quantiles of column ``j`` at or above its value."""
        if j not in self._q:
            seq = np.arange(0, 1, 1 / 100)
            z = self.table.Z[:, j]
            q = pd.Series(z).quantile(seq).to_numpy()
            self._q[j] = np.searchsorted(q, z, side="left")     # x <= q[i]  <=>  bucket <= i
        return self._q[j]

    def order(self, j: int) -> np.ndarray:
        """Codes of the present levels of column ``j``, in similarity order."""
        z = self.table.Z[:, j].astype(np.int64)
        groups = pd.unique(z)                         # order of appearance, as PyALE
        G = len(groups)
        if G < 2:
            return groups
        gi = pd.Index(groups).get_indexer(z)
        sizes = np.bincount(gi, minlength=G).astype(np.float64)
        D = np.zeros((G, G))
        for k in range(self.table.m):
            if k == j:
                continue
            disc = self._discrete_codes(k)
            if disc is not None:
                inv, V = disc
                counts = np.bincount(gi * V + inv, minlength=G * V).reshape(G, V)
                P = counts / counts.sum(axis=1, keepdims=True)
                D += np.abs(P[:, None, :] - P[None, :, :]).sum(-1) / 2
            else:
                bucket = self._buckets(k)
                counts = np.bincount(gi * 101 + bucket, minlength=G * 101).reshape(G, 101)
                F = np.cumsum(counts, axis=1)[:, :100] / sizes[:, None]   # ECDFs at q
                D += np.abs(F[:, None, :] - F[None, :, :]).max(-1)
        return groups[_cmds_order(D)]


def _ci_halfwidth(mean: np.ndarray, sq: np.ndarray, counts: np.ndarray, C: float) -> np.ndarray:
    """``t_{1-alpha/2, n-1} * sd / sqrt(n)`` per group (NaN for n < 2), as PyALE."""
    out = np.full(len(counts), np.nan)
    ok = counts >= 2
    if ok.any():
        var = sq[ok] / (counts[ok] - 1)
        alpha = 1 - C
        crit = student_t.ppf(1 - (alpha / 2), counts[ok] - 1)
        out[ok] = np.sqrt(var) / np.sqrt(counts[ok]) * crit
    return out


def _group_stats(groups: np.ndarray, delta: np.ndarray, K: int):
    cnt = np.bincount(groups, minlength=K)
    s = np.bincount(groups, weights=delta, minlength=K)
    mean = np.divide(s, cnt, out=np.zeros(K), where=cnt > 0)
    sq = np.bincount(groups, weights=(delta - mean[groups]) ** 2, minlength=K)
    return cnt, mean, sq


# --------------------------------------------------------------------------- per-feature plans
@dataclass
class _Plan:
    j: int
    name: str
    kind: str
    grid_z: np.ndarray            # grid in Z space (edges / level values / level codes)
    pos: np.ndarray               # per row: bin index (continuous) or level rank
    blocks: list                  # [(rows, new z values)], evaluated in that order
    preds: list | None = None


def _plan_feature(table: _Table, sim: _Similarity, j: int, kind: str, grid_size: int) -> _Plan:
    z = table.Z[:, j]
    name = table.names[j]
    n = len(z)
    if kind == "continuous":
        edges = _quantile_edges(z, grid_size)
        if len(edges) < 2:
            return _Plan(j, name, kind, edges, np.zeros(n, dtype=np.int64), [])
        code = np.searchsorted(edges, z, side="left") - 1
        code[z == edges[0]] = 0
        # rows already at a bin edge are the unchanged row: reuse its prediction
        blocks = []
        for side in (edges[code], edges[code + 1]):
            moved = np.flatnonzero(side != z)
            blocks.append((moved, side[moved]))
        return _Plan(j, name, kind, edges, code, blocks)
    if kind == "categorical":
        if table.ordered[j]:
            present = np.unique(z.astype(np.int64))      # dtype order
        else:
            present = sim.order(j)
        levels = np.asarray(present, dtype=np.float64)
        rank = np.empty(int(z.max()) + 1 if n else 0, dtype=np.int64)
        rank[present] = np.arange(len(present))
        pos = rank[z.astype(np.int64)]
    else:
        levels, pos = np.unique(z, return_inverse=True)
    K = len(levels)
    if K < 2:
        return _Plan(j, name, kind, levels, pos, [])
    up = np.nonzero(pos < K - 1)[0]
    down = np.nonzero(pos > 0)[0]
    return _Plan(j, name, kind, levels, pos,
                 [(up, levels[pos[up] + 1]), (down, levels[pos[down] - 1])])


def _evaluate(table: _Table, plans: list[_Plan], proba, progress: bool) -> np.ndarray:
    """Probabilities of the rows, then of every block of every plan, in batched calls."""
    jobs: list[tuple[_Plan | None, int, np.ndarray, np.ndarray | None]] = [
        (None, 0, np.arange(table.n), None)]
    for p in plans:
        p.preds = [None] * len(p.blocks)
        for b, (rows, vals) in enumerate(p.blocks):
            if len(rows):
                jobs.append((p, b, rows, vals))
    total = sum(len(r) for _, _, r, _ in jobs)
    n_chunks = max(1, -(-total // _CHUNK_ROWS))
    base = None
    bar = tqdm(total=total, desc="ALE", unit="row", disable=not progress or n_chunks <= 1)
    pending: list = []
    size = 0

    def flush():
        nonlocal base, size
        if not pending:
            return
        parts = []
        for plan, _b, rows, vals in pending:
            Zb = table.Z[rows]
            if plan is not None:
                Zb[:, plan.j] = vals
            parts.append(Zb)
        out = proba(table.decode(np.concatenate(parts)))
        start = 0
        for plan, b, rows, _v in pending:
            piece = out[start:start + len(rows)]
            start += len(rows)
            if plan is None:
                base = piece
            else:
                plan.preds[b] = piece
        bar.update(size)
        pending.clear()
        size = 0

    for job in jobs:
        pending.append(job)
        size += len(job[2])
        if size >= _CHUNK_ROWS:
            flush()
    flush()
    bar.close()
    for p in plans:
        p.preds = [np.empty((0, base.shape[1])) if q is None else q for q in p.preds]
    return base


def _curve_from_plan(plan: _Plan, table: _Table, f0: np.ndarray, t: int, C: float):
    """(ALECurve, per-row values, numeric data, display data) from evaluated blocks."""
    n = table.n
    z = table.Z[:, plan.j]
    K = len(plan.grid_z)
    if plan.kind == "continuous":
        edges = plan.grid_z
        if K < 2:
            curve = _flat_curve(plan, table, edges, np.array([n]))
            return curve, np.zeros(n)
        nb = K - 1
        p_lo, p_hi = f0[:, t].copy(), f0[:, t].copy()
        p_lo[plan.blocks[0][0]] = plan.preds[0][:, t]
        p_hi[plan.blocks[1][0]] = plan.preds[1][:, t]
        delta = p_hi - p_lo
        cnt, mean, sq = _group_stats(plan.pos, delta, nb)
        eff = np.concatenate([[0.0], np.cumsum(mean)])
        size = np.concatenate([[0], cnt])
        mv = ((eff[1:] + eff[:-1]) / 2 * cnt).sum() / cnt.sum()
        eff = eff - mv
        half = np.concatenate([[np.nan], _ci_halfwidth(mean, sq, cnt, C)])
        curve = ALECurve(plan.name, plan.kind, edges.copy(), eff, size, eff - half, eff + half)
        b = plan.pos
        width = edges[b + 1] - edges[b]
        frac = (z - edges[b]) / width
        row = eff[b] + frac * (eff[b + 1] - eff[b])
        return curve, row
    counts = np.bincount(plan.pos, minlength=K)
    if K < 2:
        return _flat_curve(plan, table, plan.grid_z, counts), np.zeros(n)
    up_rows, down_rows = plan.blocks[0][0], plan.blocks[1][0]
    d_up = plan.preds[0][:, t] - f0[up_rows, t]
    d_down = f0[down_rows, t] - plan.preds[1][:, t]
    groups = np.concatenate([plan.pos[up_rows] + 1, plan.pos[down_rows]])
    delta = np.concatenate([d_up, d_down])
    cnt, mean, sq = _group_stats(groups, delta, K)
    eff = np.cumsum(mean)       # mean[0] == 0: the first level has no differences
    eff = eff - np.sum(eff * (counts / counts.sum()))
    half = _ci_halfwidth(mean, sq, cnt, C)
    half[0] = np.nan
    grid = _grid_labels(plan, table)
    curve = ALECurve(plan.name, plan.kind, grid, eff, counts, eff - half, eff + half)
    return curve, eff[plan.pos]


def _grid_labels(plan: _Plan, table: _Table) -> np.ndarray:
    if plan.kind == "categorical":
        labels = table.labels[plan.j]
        return np.array([labels[int(c)] for c in plan.grid_z], dtype=object)
    return plan.grid_z.copy()


def _flat_curve(plan: _Plan, table: _Table, grid: np.ndarray, counts: np.ndarray) -> ALECurve:
    grid = _grid_labels(plan, table) if plan.kind != "continuous" else grid.copy()
    k = len(grid)
    nan = np.full(k, np.nan)
    return ALECurve(plan.name, plan.kind, grid, np.zeros(k), np.asarray(counts), nan, nan.copy())


# --------------------------------------------------------------------------- PyALE engine
def _pyale_curve(table: _Table, plan: _Plan, proba, t: int, grid_size: int, C: float):
    """One feature through PyALE itself (a fresh copy of the rows each time)."""
    import logging

    from PyALE import ale as pyale_ale

    logging.getLogger("PyALE._ALE_generic").setLevel(logging.WARNING)
    j = plan.j
    names = table.names
    frame = pd.DataFrame({names[k]: _decoded_column(table, k) for k in range(table.m)})

    def to_model(df: pd.DataFrame):
        Zb = np.column_stack([_encode_column(table, k, df[names[k]]) for k in range(table.m)])
        return table.decode(Zb)

    class _Model:
        def predict(self, df):
            return proba(to_model(df))[:, t]

    feature = names[j]
    if plan.kind == "categorical":
        dtype = frame[feature].dtype

        def encode_fun(d: pd.DataFrame, dtype=dtype, feature=feature) -> pd.DataFrame:
            lab = d[feature].astype(str)
            lookup = {lb: v for lb, v in zip(table.labels[j], table.levels[j])}
            vals = [lookup[v] for v in lab]
            col = pd.Series(vals, index=d.index)
            if isinstance(dtype, pd.CategoricalDtype):
                col = col.astype(dtype)
            return pd.DataFrame({feature: col}, index=d.index)

        res = pyale_ale(frame.copy(), _Model(), [feature], feature_type="categorical",
                        include_CI=True, C=C, encode_fun=encode_fun, predictors=names,
                        plot=False)
    else:
        res = pyale_ale(frame.copy(), _Model(), [feature], feature_type=plan.kind,
                        grid_size=grid_size, include_CI=True, C=C, plot=False)
    lo = res[[c for c in res.columns if c.startswith("lowerCI")][0]].to_numpy(np.float64)
    hi = res[[c for c in res.columns if c.startswith("upperCI")][0]].to_numpy(np.float64)
    eff = res["eff"].to_numpy(np.float64)
    size = res["size"].to_numpy().astype(np.int64)
    z = table.Z[:, j]
    if plan.kind == "categorical":
        grid = np.array([str(v) for v in res.index], dtype=object)
        pos = pd.Index(grid).get_indexer(
            np.array(table.labels[j], dtype=object)[z.astype(np.int64)])
        row = eff[pos]
        grid_z = np.array([table.labels[j].index(g) for g in grid], dtype=np.float64)
    elif plan.kind == "discrete":
        grid = res.index.to_numpy(np.float64)
        pos = np.searchsorted(grid, z)
        row = eff[pos]
        grid_z = grid
    else:
        grid = res.index.to_numpy(np.float64)
        b = np.searchsorted(grid, z, side="left") - 1
        b[z == grid[0]] = 0
        row = eff[b] + (z - grid[b]) / (grid[b + 1] - grid[b]) * (eff[b + 1] - eff[b])
        pos, grid_z = b, grid
    plan.grid_z, plan.pos = grid_z, pos
    curve = ALECurve(plan.name, plan.kind, grid, eff, size, lo, hi)
    return curve, row


def _decoded_column(table: _Table, k: int) -> pd.Series:
    z = table.Z[:, k]
    if table.is_cat[k]:
        dtype = table.dtypes[k]
        if isinstance(dtype, pd.CategoricalDtype):
            # PyALE indexes present levels by dtype codes: drop unused levels first
            return pd.Series(pd.Categorical.from_codes(
                z.astype(np.int64), dtype=dtype).remove_unused_categories())
        return pd.Series(pd.Categorical(table.levels[k].take(z.astype(np.int64)),
                                        categories=table.levels[k]))
    if table.frame:
        return pd.Series(z.astype(table.dtypes[k]))
    return pd.Series(z)


def _encode_column(table: _Table, k: int, s: pd.Series) -> np.ndarray:
    if table.is_cat[k]:
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        return pd.Index(table.levels[k]).get_indexer(s).astype(np.float64)
    return s.to_numpy(dtype=np.float64)


# --------------------------------------------------------------------------- public API
def _feature_kind(table: _Table, j: int) -> str:
    if table.is_cat[j]:
        return "categorical"
    u = len(np.unique(table.Z[:, j]))
    return "discrete" if (u <= 10) or (u / table.n <= 0.002) else "continuous"


def _anomaly_frame(anomaly: Any, X: Any, names: list[str]):
    """The anomaly as one row in the model's input format."""
    if isinstance(X, pd.DataFrame):
        if isinstance(anomaly, pd.DataFrame):
            if len(anomaly) != 1:
                raise ValueError(f"anomaly must be one row; got a DataFrame with {len(anomaly)}")
            row = anomaly
        elif isinstance(anomaly, (pd.Series, dict)):
            row = pd.DataFrame([dict(anomaly)])
        else:
            arr = np.asarray(anomaly, dtype=object).ravel()
            if len(arr) != len(names):
                raise ValueError(
                    f"anomaly must have {len(names)} values (one per column of "
                    f"X_neighborhood); got {len(arr)}")
            row = pd.DataFrame([list(arr)], columns=X.columns)
        missing = [c for c in X.columns if c not in row.columns]
        if missing:
            raise ValueError(f"anomaly lacks the columns {missing}")
        row = row[list(X.columns)].copy()
        for c in X.columns:
            row[c] = row[c].astype(X[c].dtype)
        return row
    arr = np.asarray(anomaly.to_numpy() if hasattr(anomaly, "to_numpy") else anomaly)
    arr = arr.reshape(1, -1)
    if arr.shape[1] != len(names):
        raise ValueError(
            f"anomaly must have {len(names)} values (one per column of X_neighborhood); "
            f"got {arr.shape[1]}")
    return arr


def _resolve_target(model: Any, target: Any, n_classes: int | None) -> int:
    classes = getattr(model, "classes_", None)
    if classes is not None:
        cl = np.asarray(classes).tolist()
        if target in cl:
            return int(class_index(model, [target])[0])
        if isinstance(target, (numbers.Integral, np.integer)) and not isinstance(target, bool):
            if 0 <= int(target) < len(cl):
                return int(target)
        raise ValueError(
            f"target must be a class label in {cl} or a column index in [0, {len(cl)}); "
            f"got {target!r}")
    if isinstance(target, bool) or not isinstance(target, (numbers.Integral, np.integer)):
        raise TypeError(f"target must be a class index (int) for this model; got {target!r}")
    if n_classes is not None and not 0 <= int(target) < n_classes:
        raise ValueError(f"target must be in [0, {n_classes}); got {target}")
    return int(target)


def neighborhood_ale(
    model: Any,
    X_neighborhood: Any,
    features: Any = None,
    grid_size: int = 20,
    *,
    target: Any = None,
    anomaly: Any = None,
    engine: str = "vectorized",
    confidence: float = 0.95,
    feature_names: Sequence[str] | None = None,
    categorical: Any = None,
    progress: bool = True,
) -> ALEResult:
    """First-order ALE of a classifier's probability over a neighborhood's rows.

    Parameters
    ----------
    model : classifier
        Anything with ``predict_proba`` (scikit-learn, Pipelines) or a torch module
        (softmax of its logits); it is called on rows in the format of ``X_neighborhood``.
    X_neighborhood : DataFrame or array of shape (n, m)
        The rows (e.g. an anomaly's influential neighborhood, or the training set for the
        global view). ``category``/string/bool columns are categorical. Never modified.
    features : names or indices, optional
        Features to analyse (default all).
    grid_size : int
        Number of quantile bins of continuous features.
    target : class label or index, optional
        Whose probability; default the class the model predicts for ``anomaly``, else class
        1 for a binary model, else the class predicted most often in the neighborhood.
    anomaly : row, optional
        A Series/dict/one-row frame (or 1-D array for array input); sets the default
        ``target`` and is marked on the plots.
    engine : {"vectorized", "pyale"}
        Our batched implementation, or PyALE 1.2 feature by feature (the reference).
    confidence : float
        Level of the confidence bands.
    feature_names : list of str, optional
        Names for array input (required when an array holds non-numeric values).
    categorical : names or indices, optional
        Extra columns to treat as categorical (e.g. integer codes in an array).
    progress : bool
        Show a tqdm bar when the model calls are split into several chunks.

    Returns
    -------
    ALEResult

    References
    ----------
    Apley & Zhu (2020), JRSS-B 82(4); Rasouli & Yu (2021), Fig. 4; PyALE 1.2.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)); y = (X[:, 0] > 0).astype(int)
    >>> res = neighborhood_ale(LogisticRegression().fit(X, y), X, progress=False)
    >>> res.ranges().index[0]
    'Feature 0'
    >>> bool(abs(res.explanation.values.mean(0)).max() < 1e-12)
    True
    """
    check_classifier(model, "model")
    if X_neighborhood is None:
        raise TypeError("X_neighborhood must be a DataFrame or 2-D array; got None")
    if not isinstance(X_neighborhood, pd.DataFrame):
        arr = np.asarray(X_neighborhood.detach().cpu().numpy()
                         if hasattr(X_neighborhood, "detach") else X_neighborhood)
        if arr.ndim == 2 and (arr.dtype == object or not np.issubdtype(arr.dtype, np.number)):
            if feature_names is None:
                raise TypeError(
                    "X_neighborhood holds non-numeric (categorical) values but is not a "
                    "DataFrame; pass a DataFrame with category columns, or give "
                    "feature_names=[...] so the columns can be named")
            if len(arr) and pd.DataFrame(arr).isna().to_numpy().any():
                raise ValueError("X_neighborhood contains missing values")
            X = arr
        else:
            X = check_frame_or_array(X_neighborhood, "X_neighborhood", min_rows=0)
    else:
        X = check_frame_or_array(X_neighborhood, "X_neighborhood", min_rows=0)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError("X_neighborhood is empty: it must have at least one row")
    grid_size = check_int(grid_size, "grid_size", low=1)
    engine = check_option(engine, "engine", ("vectorized", "pyale"))
    confidence = check_float(confidence, "confidence", low=0.0, high=1.0)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    names = feature_names_of(X, feature_names)
    cat_idx = [] if categorical is None else check_columns(categorical, names, "categorical")
    cols = check_columns(features, names, "features")
    if len(set(cols)) != len(cols):
        raise ValueError(f"features has duplicates: {[names[j] for j in cols]}")
    if isinstance(X, pd.DataFrame) and feature_names is not None:
        X = X.set_axis(names, axis=1)
    table = _Table(X, names, cat_idx)
    proba = predict_proba_fn(model, "model")
    target_idx = None
    anomaly_row = None
    if anomaly is not None:
        anomaly_row = _anomaly_frame(anomaly, X, names)
    if target is not None:
        classes = getattr(model, "classes_", None)
        target_idx = _resolve_target(model, target, None if classes is None else len(classes))
    sim = _Similarity(table)
    plans = [_plan_feature(table, sim, j, _feature_kind(table, j), grid_size) for j in cols]
    if engine == "vectorized":
        f0 = _evaluate(table, plans, proba, progress)
    else:
        f0 = proba(table.decode(table.Z))
    n_classes = f0.shape[1]
    if target_idx is None:
        if anomaly_row is not None:
            target_idx = int(np.argmax(proba(anomaly_row)[0]))
        elif n_classes == 2:
            target_idx = 1
        else:
            target_idx = int(np.bincount(f0.argmax(axis=1), minlength=n_classes).argmax())
    elif target_idx >= n_classes:
        raise ValueError(f"target must be in [0, {n_classes}); got {target_idx}")
    labels = classes_of(model, n_classes)
    curves, rows = [], []
    for plan in plans:
        if engine == "pyale" and len(plan.grid_z) >= 2:
            curve, row = _pyale_curve(table, plan, proba, target_idx, grid_size, confidence)
        else:
            curve, row = _curve_from_plan(plan, table, f0, target_idx, confidence)
        curves.append(curve)
        rows.append(row - row.mean())
    n = table.n
    values = np.column_stack(rows) if rows else np.zeros((n, 0))
    data = np.empty((n, len(cols)))
    display = np.empty((n, len(cols)), dtype=object)
    for k, plan in enumerate(plans):
        z = table.Z[:, plan.j]
        if plan.kind == "categorical":
            data[:, k] = plan.pos
            lab = np.array(table.labels[plan.j], dtype=object)
            display[:, k] = lab[z.astype(np.int64)]
        else:
            data[:, k] = z
            display[:, k] = z
    constant = [c.feature for c, p in zip(curves, plans) if len(p.grid_z) < 2]
    if constant:
        warn(f"constant feature(s) {constant} in X_neighborhood: their ALE is flat zero")
    mean_pred = float(f0[:, target_idx].mean())
    anomaly_info = None
    if anomaly_row is not None:
        if isinstance(anomaly_row, pd.DataFrame):
            vals = [anomaly_row.iloc[0, j] for j in cols]
        else:
            vals = [anomaly_row[0, j] for j in cols]
        anomaly_info = {}
        for plan, v in zip(plans, vals):
            if plan.kind == "categorical":
                anomaly_info[plan.name] = str(v)
            else:
                anomaly_info[plan.name] = float(v)
    label = labels[target_idx]
    return ALEResult(curves=tuple(curves), target=target_idx,
                     target_label=label.item() if hasattr(label, "item") else label,
                     confidence=confidence, engine=engine, mean_prediction=mean_pred,
                     values=values, data=data, display_data=display, anomaly=anomaly_info)


def ale_bias(neighborhood_result: ALEResult, global_result: ALEResult,
             protected: Sequence[str] | None = None, threshold: float = 0.1) -> ALEBias:
    """Rank features by ALE range in a neighborhood versus globally; flag protected ones.

    A protected attribute (``protected=["race", "sex"]``) whose ALE range inside the
    neighborhood exceeds ``threshold`` (in probability units) means that, among these rows,
    changing that attribute alone moves the prediction that much: the paper's evidence of
    bias in a region (Rasouli & Yu 2021, Fig. 4).

    Parameters
    ----------
    neighborhood_result, global_result : ALEResult
        From :func:`neighborhood_ale` on the neighborhood and on the whole training set.
    protected : list of str, optional
    threshold : float

    Returns
    -------
    ALEBias

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)); y = (X[:, 0] > 0).astype(int)
    >>> m = LogisticRegression().fit(X, y)
    >>> nb = neighborhood_ale(m, X[:50], progress=False)
    >>> gl = neighborhood_ale(m, X, progress=False)
    >>> ale_bias(nb, gl, protected=["Feature 1"]).flagged
    ()
    """
    for arg, name in ((neighborhood_result, "neighborhood_result"),
                      (global_result, "global_result")):
        if not isinstance(arg, ALEResult):
            raise TypeError(f"{name} must be an ALEResult (from neighborhood_ale); got "
                            f"{type(arg).__name__}")
    threshold = check_float(threshold, "threshold", low=0.0)
    names = neighborhood_result.feature_names
    if isinstance(protected, str):
        protected = [protected]
    protected = [] if protected is None else [str(p) for p in protected]
    unknown = [p for p in protected if p not in names]
    if unknown:
        raise ValueError(f"protected: unknown feature(s) {unknown}; the neighborhood result "
                         f"has {names}")
    if neighborhood_result.target != global_result.target:
        warn(f"the two results explain different classes ({neighborhood_result.target_label!r}"
             f" vs {global_result.target_label!r}); their ranges are not comparable")
    glob = {c.feature: c.range for c in global_result.curves}
    nb = np.array([neighborhood_result.curve(f).range for f in names])
    gl = np.array([glob.get(f, np.nan) for f in names])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(gl > 0, nb / gl, np.where(nb > 0, np.inf, 1.0))
    prot = np.array([f in protected for f in names], dtype=bool)
    table = pd.DataFrame({"range_neighborhood": nb, "range_global": gl, "ratio": ratio,
                          "protected": prot, "flagged": prot & (nb > threshold)},
                         index=pd.Index(names, name="feature"))
    table = table.sort_values("range_neighborhood", ascending=False, kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    flagged = tuple(table.index[table["flagged"]].tolist())
    return ALEBias(table=table, threshold=threshold, flagged=flagged)
