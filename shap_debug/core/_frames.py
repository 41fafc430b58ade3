"""Raw frames (string/category columns, NaNs) seen as numeric matrices, and back.

Flip-point searches and other numeric algorithms need a float matrix; models such as a
Pipeline on a raw DataFrame, LightGBM on pandas categories or CatBoost with ``cat_features``
need the frame exactly as they were trained on. :class:`FrameCodec` turns one into the other
without loss (one column per raw column, categories as integer codes, missing values as
NaN) and :class:`CodedModel` is the model seen on the codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._models import classes_of, predict_proba_fn

__all__ = ["FrameCodec", "CodedModel", "FlipInputs", "flip_inputs"]


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


class FrameCodec:
    """Lossless numeric view of a DataFrame: one float column per raw column.

    Numeric columns pass through; ``category`` columns become their codes; string, object
    and bool columns the index of the value among its sorted distinct values. Missing
    values stay NaN in both directions, and :meth:`inverse_transform` gives back the
    original dtypes (so the model sees exactly what it was trained on). Attribute names
    follow :class:`shap_debug.datasets.FrameEncoder` (``columns_``, ``categories_``,
    ``feature_names_out_``, ``groups_``).

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, None, 3.0], "c": ["x", None, "y"]})
    >>> codec = FrameCodec().fit(X)
    >>> codec.transform(X)
    array([[ 1.,  0.],
           [nan, nan],
           [ 3.,  1.]])
    >>> codec.inverse_transform(codec.transform(X)).equals(X)
    True
    """

    def fit(self, X: pd.DataFrame) -> FrameCodec:
        """Learn each column's kind, levels and dtype from ``X``; returns self."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame; got {type(X).__name__}")
        self.columns_ = [str(c) for c in X.columns]
        self._raw_columns = list(X.columns)
        self.kinds_: dict[str, str] = {}
        self.levels_: dict[str, pd.Index] = {}
        self.dtypes_: dict[str, Any] = {}
        for col, key in zip(X.columns, self.columns_):
            s = X[col]
            self.dtypes_[key] = s.dtype
            if isinstance(s.dtype, pd.CategoricalDtype):
                self.kinds_[key] = "cat"
                self.levels_[key] = pd.Index(s.cat.categories)
            elif _is_numeric(s):
                self.kinds_[key] = "num"
            else:
                self.kinds_[key] = "obj"
                values = pd.unique(s.dropna().to_numpy(dtype=object))
                self.levels_[key] = pd.Index(sorted(values, key=lambda v: (str(type(v)), v)),
                                             dtype=object)
        self.categories_ = {k: [str(v) for v in lv] for k, lv in self.levels_.items()}
        self.feature_names_out_ = list(self.columns_)
        self.groups_ = {k: [j] for j, k in enumerate(self.columns_)}
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Codes of ``X`` (same columns as at fit); unseen levels are a ``ValueError``."""
        if not isinstance(X, pd.DataFrame) or [str(c) for c in X.columns] != self.columns_:
            raise ValueError(f"X must be a DataFrame with columns {self.columns_}")
        out = np.empty((len(X), len(self.columns_)))
        for j, (col, key) in enumerate(zip(X.columns, self.columns_)):
            s = X[col]
            kind = self.kinds_[key]
            if kind == "num":
                out[:, j] = s.to_numpy(dtype=np.float64, na_value=np.nan)
                continue
            values = (s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype)
                      else s).to_numpy(dtype=object)
            missing = pd.isna(values)
            codes = self.levels_[key].get_indexer(np.where(missing, None, values))
            unseen = (codes < 0) & ~missing
            if unseen.any():
                bad = sorted({str(v) for v in values[unseen]})[:5]
                raise ValueError(f"column {key!r} has levels not seen at fit: {bad}")
            out[:, j] = np.where(missing, np.nan, codes)
        return out

    def fit_transform(self, X: pd.DataFrame) -> np.ndarray:
        """``fit(X)``, then the codes of ``X``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: Any) -> pd.DataFrame:
        """A frame with the original columns and dtypes from codes ``Z`` (n, m).

        Codes are rounded and clipped to the valid range, integer columns rounded; NaN
        gives a missing value.
        """
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != len(self.columns_):
            raise ValueError(f"Z must have shape (n, {len(self.columns_)}); got {Z.shape}")
        data = {}
        for j, (col, key) in enumerate(zip(self._raw_columns, self.columns_)):
            z = Z[:, j]
            dtype = self.dtypes_[key]
            kind = self.kinds_[key]
            if kind == "num":
                integer = pd.api.types.is_integer_dtype(dtype)
                if integer:
                    z = np.rint(z)
                if isinstance(dtype, np.dtype):
                    data[col] = z if integer and np.isnan(z).any() else z.astype(dtype)
                else:  # nullable extension dtype (Int64, Float64): NaN becomes NA
                    data[col] = pd.array(np.where(np.isnan(z), None, z).tolist(), dtype=dtype)
                continue
            levels = self.levels_[key]
            miss = np.isnan(z)
            codes = np.clip(np.rint(np.where(miss, 0, z)), 0, max(len(levels) - 1, 0)).astype(
                np.int64)
            if kind == "cat":
                data[col] = pd.Categorical.from_codes(np.where(miss, -1, codes), dtype=dtype)
            else:
                vals = np.asarray(levels, dtype=object)[codes] if len(levels) else np.full(
                    len(z), None, dtype=object)
                vals[miss] = np.nan
                data[col] = pd.Series(vals, dtype=dtype)
        return pd.DataFrame(data, columns=self._raw_columns)


class CodedModel:
    """A model that takes a raw frame, seen as one that takes :class:`FrameCodec` codes.

    Parameters
    ----------
    model : fitted classifier taking the raw frame
    codec : fitted FrameCodec, or None for a model that takes the float matrix itself
    missing : sequence of int, optional
        Columns set to missing (NaN) before decoding, whatever the codes say: a search that
        holds a missing value fixed can move a finite placeholder there.
    """

    def __init__(self, model: Any, codec: FrameCodec, missing: Any = None):
        self.model = model
        self.search_model_ = model  # what decides the flip-point search (core.search_model)
        self.codec = codec
        self.missing = None if missing is None or not len(missing) else np.asarray(
            missing, dtype=np.int64)
        self._proba = predict_proba_fn(model)
        self.classes_ = classes_of(model, len(getattr(model, "classes_", [0, 1])))

    def predict_proba(self, Z: Any) -> np.ndarray:
        """Class probabilities of code rows ``Z`` (decoded to the raw frame first)."""
        Z = np.array(Z, dtype=np.float64, ndmin=2)
        if self.missing is not None:
            Z[:, self.missing] = np.nan
        return self._proba(Z if self.codec is None else self.codec.inverse_transform(Z))

    def predict(self, Z: Any) -> np.ndarray:
        """Predicted class labels of code rows ``Z``."""
        return self.classes_[self.predict_proba(Z).argmax(axis=1)]


@dataclass(frozen=True)
class FlipInputs:
    """What a flip-point search of one row needs (see :func:`flip_inputs`)."""

    model: Any
    data: np.ndarray
    x: np.ndarray
    immutable: list
    decode: Callable[[np.ndarray], pd.DataFrame] | None


def _has_codes(X: Any) -> bool:
    if not isinstance(X, pd.DataFrame):
        return False
    return not all(_is_numeric(X[c]) for c in X.columns)


def flip_inputs(model: Any, X: Any, row: int, feature_names: Any = None,
                encoder: Any = None) -> FlipInputs:
    """A numeric, finite view of row ``row`` of ``X`` for a flip-point search.

    Numeric data without missing values is passed as it is (the model itself searches).
    A frame with string or category columns becomes :class:`FrameCodec` codes and the
    model a :class:`CodedModel`; missing values stay missing: their features are held
    fixed (``immutable``) at a finite placeholder the model never sees, and training rows
    with missing values only leave the search's ``data``.

    Parameters
    ----------
    model : fitted classifier taking ``X``
    X : DataFrame or ndarray
        The training rows as the model takes them.
    row : int
    feature_names : list of str, optional
        Names of the columns (default: the frame's, or ``"Feature j"``).
    encoder : FrameEncoder, optional
        When ``X`` is an encoded matrix: decodes the flip point for display.
    """
    codec = FrameCodec().fit(X) if _has_codes(X) else None
    if codec is not None:
        Z = codec.transform(X)
    elif isinstance(X, pd.DataFrame):
        Z = X.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        Z = np.asarray(X, dtype=np.float64)
    names = list(feature_names) if feature_names is not None else (
        [str(c) for c in X.columns] if isinstance(X, pd.DataFrame)
        else [f"Feature {j}" for j in range(Z.shape[1])])
    x = Z[[row]].copy()
    missing = np.flatnonzero(np.isnan(x[0]))
    complete = np.isfinite(Z).all(axis=1)
    data = Z[complete]
    if missing.size:
        fill = np.nanmedian(np.where(np.isfinite(Z[:, missing]), Z[:, missing], np.nan), axis=0)
        x[0, missing] = np.nan_to_num(fill)
    decode = codec.inverse_transform if codec is not None else (
        encoder.inverse_transform if encoder is not None else None)
    if codec is None and not missing.size:
        return FlipInputs(model, data, x, [], decode)
    if codec is None and isinstance(X, pd.DataFrame):
        frame_cols = list(X.columns)

        def to_frame(Zr):
            return pd.DataFrame(Zr, columns=frame_cols).astype(X.dtypes.to_dict())
        inner = _FrameInput(model, to_frame)
        search_model = CodedModel(inner, None, missing)
    else:
        search_model = CodedModel(model, codec, missing)
    if decode is not None and missing.size:
        base = decode

        def decode(Zr, base=base):
            Zr = np.array(Zr, dtype=np.float64, ndmin=2)
            Zr[:, missing] = np.nan
            return base(Zr)
    return FlipInputs(search_model, data, x, [names[j] for j in missing], decode)


class _FrameInput:
    """A model that takes a numeric frame, called with the float matrix."""

    def __init__(self, model: Any, to_frame: Callable[[np.ndarray], pd.DataFrame]):
        self.model = model
        self.search_model_ = model
        self.to_frame = to_frame
        self.classes_ = getattr(model, "classes_", None)

    def predict_proba(self, Z: Any) -> np.ndarray:
        return predict_proba_fn(self.model)(self.to_frame(np.asarray(Z, dtype=np.float64)))
