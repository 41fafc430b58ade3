"""Accumulated Local Effects over an influential neighborhood, as a ``shap.Explanation``.

The background (method, references, design choices) is in ``docs/ale.md``, section
"Design notes", ``shap_debug.explanations.ale._core``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from ...core import (
    check_classifier,
    check_columns,
    check_float,
    check_frame_or_array,
    check_int,
    check_option,
    class_index,
    classes_of,
    feature_names_of,
    parallel_map,
    predict_proba_fn,
    warn,
)
from ._pyale import _pyale_curve, require_pyale
from ._result import ALECurve, ALEResult
from ._table import _Table

__all__ = ["neighborhood_ale"]

KINDS = ("continuous", "discrete", "categorical")
_CHUNK_ROWS = 65_536


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
    # consecutive jobs in chunks of at least _CHUNK_ROWS rows (the last may be smaller)
    chunks: list[list] = [[]]
    size = 0
    for job in jobs:
        chunks[-1].append(job)
        size += len(job[2])
        if size >= _CHUNK_ROWS:
            chunks.append([])
            size = 0
    chunks = [c for c in chunks if c]

    def run(chunk: list) -> np.ndarray:
        parts = []
        for plan, _b, rows, vals in chunk:
            Zb = table.Z[rows]
            if plan is not None:
                Zb[:, plan.j] = vals
            parts.append(Zb)
        return proba(table.decode(np.concatenate(parts)))

    outs = parallel_map(run, chunks, progress=progress and len(chunks) > 1, desc="ALE",
                        unit="chunk")
    base = None
    for chunk, out in zip(chunks, outs):
        start = 0
        for plan, b, rows, _v in chunk:
            piece = out[start:start + len(rows)]
            start += len(rows)
            if plan is None:
                base = piece
            else:
                plan.preds[b] = piece
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
    X = _check_rows(X_neighborhood, feature_names)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError("X_neighborhood is empty: it must have at least one row")
    grid_size = check_int(grid_size, "grid_size", low=1)
    engine = check_option(engine, "engine", ("vectorized", "pyale"))
    if engine == "pyale":
        require_pyale()  # before any work: PyALE is an optional extra
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
    values, data, display = _local_effects(table, plans, rows)
    constant = [c.feature for c, p in zip(curves, plans) if len(p.grid_z) < 2]
    if constant:
        warn(f"constant feature(s) {constant} in X_neighborhood: their ALE is flat zero")
    mean_pred = float(f0[:, target_idx].mean())
    anomaly_info = None if anomaly_row is None else _anomaly_values(anomaly_row, plans, cols)
    label = labels[target_idx]
    return ALEResult(curves=tuple(curves), target=target_idx,
                     target_label=label.item() if hasattr(label, "item") else label,
                     confidence=confidence, engine=engine, mean_prediction=mean_pred,
                     values=values, data=data, display_data=display, anomaly=anomaly_info)


def _check_rows(X_neighborhood: Any, feature_names: Any) -> Any:
    """The neighbourhood's rows as a frame or a 2-D array (non-numeric arrays need names)."""
    if X_neighborhood is None:
        raise TypeError("X_neighborhood must be a DataFrame or 2-D array; got None")
    if isinstance(X_neighborhood, pd.DataFrame):
        return check_frame_or_array(X_neighborhood, "X_neighborhood", min_rows=0,
                                    allow_nan=True)
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
        return arr
    return check_frame_or_array(X_neighborhood, "X_neighborhood", min_rows=0, allow_nan=True)


def _local_effects(table: _Table, plans: list, rows: list[np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row centred effects, their numeric data and display strings (one column per
    explained feature; categories at their ALE positions)."""
    n = table.n
    values = np.column_stack(rows) if rows else np.zeros((n, 0))
    data = np.empty((n, len(plans)))
    display = np.empty((n, len(plans)), dtype=object)
    for k, plan in enumerate(plans):
        z = table.Z[:, plan.j]
        if plan.kind == "categorical":
            data[:, k] = plan.pos
            lab = np.array(table.labels[plan.j], dtype=object)
            display[:, k] = lab[z.astype(np.int64)]
        else:
            data[:, k] = z
            display[:, k] = z
    return values, data, display


def _anomaly_values(anomaly_row: Any, plans: list, cols: list[int]) -> dict[str, Any]:
    """The anomaly's value of each explained feature (a label for categories)."""
    if isinstance(anomaly_row, pd.DataFrame):
        vals = [anomaly_row.iloc[0, j] for j in cols]
    else:
        vals = [anomaly_row[0, j] for j in cols]
    return {plan.name: str(v) if plan.kind == "categorical" else float(v)
            for plan, v in zip(plans, vals)}
