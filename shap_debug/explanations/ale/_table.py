"""The rows as numbers: category codes for categorical columns, and the way back to the
model's input format (frame, numeric array or object array)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


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
