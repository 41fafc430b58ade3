"""Turn a mixed-type frame into the numeric matrix models train on, and back."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core import check_frame_or_array


@dataclass
class FrameEncoder:
    """Invertible encoding of a DataFrame with ``category``/string columns.

    ``kind="ordinal"`` keeps one column per raw column (categories as integer codes in the
    order of the categorical dtype); ``kind="onehot"`` expands each categorical column into
    one 0/1 column per level, named ``"column=level"``. Numeric columns pass through.

    Attributes
    ----------
    columns_ : list of str
        The raw column names, in order.
    categories_ : dict
        Raw categorical column -> list of its levels.
    feature_names_out_ : list of str
        Names of the encoded columns.
    groups_ : dict
        Raw column -> list of indices of its encoded columns (one-hot groups).
    """

    kind: str = "ordinal"
    columns_: list = field(default_factory=list)
    categories_: dict = field(default_factory=dict)
    ordered_: dict = field(default_factory=dict)
    feature_names_out_: list = field(default_factory=list)
    groups_: dict = field(default_factory=dict)
    dtypes_: dict = field(default_factory=dict)

    def fit(self, X: pd.DataFrame) -> FrameEncoder:
        if self.kind not in ("ordinal", "onehot"):
            raise ValueError(f"kind must be 'ordinal' or 'onehot'; got {self.kind!r}")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame; got {type(X).__name__}")
        self.columns_ = [str(c) for c in X.columns]
        self.categories_, self.ordered_, self.groups_ = {}, {}, {}
        names = []
        for col in X.columns:
            s = X[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                levels = [str(v) for v in s.cat.categories]
                self.ordered_[str(col)] = bool(s.cat.ordered)
            elif s.dtype == object or pd.api.types.is_string_dtype(s) or pd.api.types.is_bool_dtype(s):
                levels = sorted(str(v) for v in s.dropna().unique())
                self.ordered_[str(col)] = False
            else:
                levels = None
            start = len(names)
            if levels is None:
                self.dtypes_[str(col)] = s.dtype
                names.append(str(col))
            else:
                self.categories_[str(col)] = levels
                if self.kind == "onehot":
                    names.extend(f"{col}={lv}" for lv in levels)
                else:
                    names.append(str(col))
            self.groups_[str(col)] = list(range(start, len(names)))
        self.feature_names_out_ = names
        return self

    @property
    def categorical_mask_(self) -> np.ndarray:
        """Boolean mask over the raw columns: True where the column is categorical."""
        return np.array([c in self.categories_ for c in self.columns_])

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode ``X`` (same columns as at fit) to a float64 matrix."""
        X = check_frame_or_array(X, "X")
        if not isinstance(X, pd.DataFrame) or [str(c) for c in X.columns] != self.columns_:
            raise ValueError(f"X must be a DataFrame with columns {self.columns_}")
        blocks = []
        for col in self.columns_:
            s = X[col]
            if col not in self.categories_:
                blocks.append(s.to_numpy(dtype=np.float64)[:, None])
                continue
            levels = self.categories_[col]
            if isinstance(s.dtype, pd.CategoricalDtype) and [
                    str(c) for c in s.cat.categories] == levels:
                codes = s.cat.codes.to_numpy()  # fast path: same levels as at fit
            else:
                codes = pd.Categorical(s.astype(str), categories=levels).codes
            if (codes < 0).any():
                bad = sorted(set(s.astype(str)[codes < 0]))[:5]
                raise ValueError(f"column {col!r} has levels not seen at fit: {bad}")
            if self.kind == "ordinal":
                blocks.append(codes.astype(np.float64)[:, None])
            else:
                blocks.append(np.eye(len(levels))[codes])
        return np.hstack(blocks) if blocks else np.empty((len(X), 0))

    def fit_transform(self, X: pd.DataFrame) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray) -> pd.DataFrame:
        """Decode an encoded matrix back to a frame with readable categories.

        Ordinal codes are rounded and clipped to the valid range; one-hot groups take their
        arg-max level; integer columns are rounded back to their integer dtype.
        """
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != len(self.feature_names_out_):
            raise ValueError(
                f"Z must have shape (n, {len(self.feature_names_out_)}); got {Z.shape}")
        out = {}
        for col in self.columns_:
            idx = self.groups_[col]
            if col not in self.categories_:
                values = Z[:, idx[0]]
                dtype = self.dtypes_.get(col, np.dtype(np.float64))
                if np.issubdtype(dtype, np.integer):
                    values = np.rint(values)
                out[col] = values.astype(dtype)
                continue
            levels = self.categories_[col]
            if self.kind == "ordinal":
                codes = np.clip(np.rint(Z[:, idx[0]]), 0, len(levels) - 1).astype(int)
            else:
                codes = Z[:, idx].argmax(axis=1)
            out[col] = pd.Categorical.from_codes(
                codes, categories=levels, ordered=self.ordered_.get(col, False))
        return pd.DataFrame(out)


def encode(X: pd.DataFrame, kind: str = "ordinal") -> tuple[np.ndarray, FrameEncoder]:
    """Encode a frame from :mod:`shap_debug.datasets` into a float matrix.

    Parameters
    ----------
    X : DataFrame
        Numeric and ``category``/string columns.
    kind : {"ordinal", "onehot"}
        Integer codes (tree models) or one 0/1 column per level (linear models, networks).

    Returns
    -------
    Z : ndarray of float64
    encoder : FrameEncoder
        Fitted; ``encoder.inverse_transform(Z)`` gives the readable frame back and
        ``encoder.groups_`` the encoded columns of each raw column.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, 2.0], "c": pd.Categorical(["x", "y"])})
    >>> Z, enc = encode(X, kind="onehot")
    >>> enc.feature_names_out_
    ['a', 'c=x', 'c=y']
    """
    enc = FrameEncoder(kind=kind)
    return enc.fit_transform(X), enc
