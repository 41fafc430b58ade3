"""Numeric view of a (possibly mixed-type) frame for the estimators, and the way back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


class _Codec:
    """Numeric view of a (possibly mixed-type) frame, and the way back for the model."""

    def __init__(self, X: pd.DataFrame | np.ndarray, background: pd.DataFrame | np.ndarray):
        self.frame = isinstance(X, pd.DataFrame)
        if not self.frame:
            self.columns = None
            self.Z = np.asarray(X, dtype=np.float64)
            self.B = np.asarray(background, dtype=np.float64)
            return
        if not isinstance(background, pd.DataFrame) or list(background.columns) != list(
                X.columns):
            raise ValueError("background must be a DataFrame with the same columns as X")
        self.columns = list(X.columns)
        self.decoders: list[Any] = []
        zs, bs = [], []
        for col in self.columns:
            sx, sb = X[col], background[col]
            if pd.api.types.is_numeric_dtype(sx) and not pd.api.types.is_bool_dtype(sx):
                zs.append(sx.to_numpy(dtype=np.float64))
                bs.append(sb.to_numpy(dtype=np.float64))
                self.decoders.append(("num", sx.dtype))
            elif isinstance(sx.dtype, pd.CategoricalDtype) and sx.dtype == sb.dtype:
                zs.append(sx.cat.codes.to_numpy(dtype=np.float64))
                bs.append(sb.cat.codes.to_numpy(dtype=np.float64))
                self.decoders.append(("cat", sx.dtype))
            else:
                uniques = pd.Index(pd.concat([sx, sb], ignore_index=True).unique())
                zs.append(uniques.get_indexer(sx).astype(np.float64))
                bs.append(uniques.get_indexer(sb).astype(np.float64))
                self.decoders.append(("obj", (uniques, sx.dtype)))
        self.Z = np.column_stack(zs)
        self.B = np.column_stack(bs)

    def decode(self, Z: np.ndarray) -> pd.DataFrame | np.ndarray:
        if not self.frame:
            return Z
        data = {}
        for j, (col, (kind, info)) in enumerate(zip(self.columns, self.decoders)):
            if kind == "num":
                data[col] = Z[:, j].astype(info, copy=False)
            elif kind == "cat":
                data[col] = pd.Categorical.from_codes(Z[:, j].astype(np.int64), dtype=info)
            else:
                uniques, dtype = info
                data[col] = pd.Series(uniques.take(Z[:, j].astype(np.int64)), dtype=dtype)
        return pd.DataFrame(data, columns=self.columns)

