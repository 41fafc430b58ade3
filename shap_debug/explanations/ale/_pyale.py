"""The reference engine: one feature at a time through PyALE 1.2 itself (``engine="pyale"``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._result import ALECurve


def require_pyale():
    """PyALE's ``ale``, or an ImportError naming the extra (PyALE is optional: only this
    reference engine imports it)."""
    try:
        from PyALE import ale
    except ImportError as exc:
        raise ImportError("neighborhood_ale(engine='pyale') needs PyALE: pip install "
                          "'shap-debug[ale]' (the default engine='vectorized' needs nothing "
                          "more)") from exc
    return ale


def _pyale_curve(table: Any, plan: Any, proba, t: int, grid_size: int, C: float):
    """One feature through PyALE itself (a fresh copy of the rows each time)."""
    import logging

    pyale_ale = require_pyale()

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


def _decoded_column(table: Any, k: int) -> pd.Series:
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


def _encode_column(table: Any, k: int, s: pd.Series) -> np.ndarray:
    if table.is_cat[k]:
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        return pd.Index(table.levels[k]).get_indexer(s).astype(np.float64)
    return s.to_numpy(dtype=np.float64)
