"""Human-readable boolean concepts from a tabular frame.

Logic explanations (:mod:`shap_debug.explanations.logic`) are formulas over *concepts*: boolean columns a
person can read. :func:`to_concepts` follows the recipe of the Logic Explained Networks
experiments (Ciravegna, Barbiero et al., "Logic Explained Networks", Artificial Intelligence
2023; the MIMIC-II notebook): flags stay flags, every category level becomes one concept and
each numeric column is cut by a :class:`~sklearn.preprocessing.KBinsDiscretizer` into
``column_LOW`` / ``column_NORMAL`` / ``column_HIGH``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import KBinsDiscretizer

from ...core import (
    check_frame_or_array,
    check_int,
    check_option,
    feature_names_of,
    section_html,
    table_html,
    warn,
)

_LEVEL_NAMES = {2: ("LOW", "HIGH"), 3: ("LOW", "NORMAL", "HIGH")}


def _bin_labels(k: int) -> tuple[str, ...]:
    return _LEVEL_NAMES.get(k, tuple(f"BIN{i + 1}" for i in range(k)))


def _is_flag(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s):
        return True
    if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
        values = pd.unique(s.to_numpy())
        return len(values) <= 2 and set(np.asarray(values, dtype=float).tolist()) <= {0.0, 1.0}
    return False


class ConceptEncoder:
    """Turn a frame into boolean concepts (scikit-learn style: ``fit`` / ``transform``).

    Parameters
    ----------
    n_bins : int, default 3
        Bins per numeric column. Three bins are named ``_LOW``, ``_NORMAL``, ``_HIGH``, two
        ``_LOW``, ``_HIGH``; other counts ``_BIN1`` ... ``_BINk``.
    strategy : {"quantile", "uniform", "kmeans"}, default "quantile"
        The :class:`~sklearn.preprocessing.KBinsDiscretizer` strategy.
    sep : str, default "="
        Separator between a categorical column and its level (``"sex=Male"``).

    Attributes
    ----------
    columns_ : list of str
        The raw column names.
    kinds_ : dict
        Raw column -> ``"flag"``, ``"category"`` or ``"numeric"``.
    concept_names_ : list of str
        Names of the concepts, in output order.
    groups_ : dict
        Raw column -> list of its concept names.
    definitions_ : dict
        Concept name -> readable definition (``"32 <= age < 45"``).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [20, 35, 50, 65], "smoker": [0, 1, 0, 1]})
    >>> C = ConceptEncoder(n_bins=2).fit(X).transform(X)
    >>> list(C.columns)
    ['age_LOW', 'age_HIGH', 'smoker']
    """

    def __init__(self, n_bins: int = 3, strategy: str = "quantile", sep: str = "="):
        self.n_bins = n_bins
        self.strategy = strategy
        self.sep = sep

    def fit(self, X: Any, y: Any = None, feature_names: Sequence[str] | None = None
            ) -> ConceptEncoder:
        """Learn the concepts (thresholds and levels) from ``X``; returns self."""
        check_int(self.n_bins, "n_bins", low=2)
        check_option(self.strategy, "strategy", ("quantile", "uniform", "kmeans"))
        frame = _as_frame(X, feature_names)
        self.columns_ = [str(c) for c in frame.columns]
        self.kinds_, self.groups_, self.definitions_ = {}, {}, {}
        self.levels_, self.edges_ = {}, {}
        names: list[str] = []
        for col in frame.columns:
            key, s = str(col), frame[col]
            if _is_flag(s):
                self.kinds_[key] = "flag"
                cols = [key]
                self.definitions_[key] = f"{key} is true"
            elif isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s):
                self.kinds_[key] = "category"
                levels = (list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype)
                          else sorted(pd.unique(s.dropna()), key=str))
                self.levels_[key] = levels
                cols = [f"{key}{self.sep}{lv}" for lv in levels]
                for c, lv in zip(cols, levels):
                    self.definitions_[c] = f"{key} == {lv}"
            else:
                values = s.to_numpy(dtype=np.float64, na_value=np.nan).reshape(-1, 1)
                values = values[~np.isnan(values[:, 0])]  # a missing value is in no bin
                if np.unique(values).size < 2:
                    warn(f"column {key!r} is constant; it gives no concept")
                    self.kinds_[key] = "constant"
                    self.groups_[key] = []
                    continue
                disc = KBinsDiscretizer(n_bins=self.n_bins, encode="ordinal",
                                        strategy=self.strategy, subsample=None,
                                        **({"random_state": 0} if self.strategy == "kmeans" else {}))
                with warnings.catch_warnings():
                    # Narrow bins are merged by sklearn; we name what remains.
                    warnings.simplefilter("ignore")
                    disc.fit(values)
                edges = np.asarray(disc.bin_edges_[0], dtype=float)
                if len(edges) < 3:
                    # Heavily skewed column (mostly one value): split just above its median.
                    uniq = np.unique(values)
                    pos = np.searchsorted(uniq, np.median(values), side="right")
                    cut = uniq[min(pos, len(uniq) - 1)]
                    edges = np.array([uniq[0], cut, uniq[-1]])
                self.kinds_[key] = "numeric"
                self.edges_[key] = edges
                labels = _bin_labels(len(edges) - 1)
                cols = [f"{key}_{lab}" for lab in labels]
                for i, c in enumerate(cols):
                    lo, hi = edges[i], edges[i + 1]
                    if i == 0:
                        self.definitions_[c] = f"{key} < {hi:.4g}"
                    elif i == len(cols) - 1:
                        self.definitions_[c] = f"{key} >= {lo:.4g}"
                    else:
                        self.definitions_[c] = f"{lo:.4g} <= {key} < {hi:.4g}"
            self.groups_[key] = cols
            names.extend(cols)
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"concept names collide: {dup}; rename the columns or change sep")
        self.concept_names_ = names
        return self

    def transform(self, X: Any, feature_names: Sequence[str] | None = None) -> pd.DataFrame:
        """Boolean concept frame (unseen category levels switch every level off)."""
        if not hasattr(self, "concept_names_"):
            raise ValueError("this ConceptEncoder is not fitted yet; call fit first")
        frame = _as_frame(X, feature_names)
        cols = [str(c) for c in frame.columns]
        if cols != self.columns_:
            raise ValueError(f"X must have the columns seen at fit {self.columns_}; got {cols}")
        out: dict[str, np.ndarray] = {}
        for col in frame.columns:
            key, s = str(col), frame[col]
            kind = self.kinds_[key]
            if kind == "flag":
                out[key] = s.to_numpy(dtype=float) > 0.5
            elif kind == "category":
                raw = s.astype(object).to_numpy()
                for c, lv in zip(self.groups_[key], self.levels_[key]):
                    out[c] = raw == lv
            elif kind == "numeric":
                values = s.to_numpy(dtype=np.float64, na_value=np.nan)
                inner = self.edges_[key][1:-1]
                code = np.where(np.isnan(values), -1, np.searchsorted(inner, values, "right"))
                for i, c in enumerate(self.groups_[key]):
                    out[c] = code == i
        return pd.DataFrame(out, index=frame.index, columns=self.concept_names_).astype(bool)

    def fit_transform(self, X: Any, y: Any = None, feature_names: Sequence[str] | None = None
                      ) -> pd.DataFrame:
        """``fit(X)``, then the concepts of ``X``."""
        return self.fit(X, feature_names=feature_names).transform(X, feature_names)

    def to_frame(self) -> pd.DataFrame:
        """One row per concept: its raw column, kind and readable definition."""
        rows = [{"concept": c, "column": col, "kind": self.kinds_[col],
                 "definition": self.definitions_[c]}
                for col, cs in self.groups_.items() for c in cs]
        return pd.DataFrame(rows, columns=["concept", "column", "kind", "definition"])

    def _repr_html_(self) -> str:
        if not hasattr(self, "concept_names_"):
            return section_html("ConceptEncoder", "", f"{self!r}, not fitted")
        frame = self.to_frame()[["concept", "definition"]]
        return section_html("ConceptEncoder", table_html(frame, max_rows=max(len(frame), 1)),
                            f"{len(frame)} concepts from {len(self.columns_)} columns")

    def __repr__(self) -> str:
        return f"ConceptEncoder(n_bins={self.n_bins!r}, strategy={self.strategy!r}, sep={self.sep!r})"


def _as_frame(X: Any, feature_names: Sequence[str] | None) -> pd.DataFrame:
    X = check_frame_or_array(X, "X", allow_nan=True)
    if isinstance(X, pd.DataFrame):
        if feature_names is not None:
            X = X.set_axis([str(f) for f in feature_names], axis=1)
        return X
    return pd.DataFrame(X, columns=feature_names_of(X, feature_names))


def to_concepts(X: Any, n_bins: int = 3, *, strategy: str = "quantile", sep: str = "=",
                feature_names: Sequence[str] | None = None) -> tuple[pd.DataFrame, ConceptEncoder]:
    """Boolean concepts of a frame, LEN style.

    Flags (boolean or 0/1 columns) stay as they are, each category level becomes a concept
    ``"column=level"`` and each numeric column is cut into ``n_bins`` bins named
    ``column_LOW`` / ``column_NORMAL`` / ``column_HIGH`` (quantile bins by default, as in the
    MIMIC-II recipe of Ciravegna et al., "Logic Explained Networks", 2023).

    Parameters
    ----------
    X : DataFrame or 2-D array
        Raw features; ``category``/string columns are treated as categorical. Not modified.
    n_bins : int, default 3
        Bins per numeric column (>= 2).
    strategy : {"quantile", "uniform", "kmeans"}
        How the bin edges are chosen.
    sep : str, default "="
        Separator between a categorical column and its level.
    feature_names : list of str, optional
        Names for the columns of an array.

    Returns
    -------
    concepts : DataFrame of bool, shape (n, n_concepts)
    encoder : ConceptEncoder
        Fitted; ``encoder.transform(X_new)`` gives the same concepts for new rows and
        ``encoder.to_frame()`` their definitions.

    Examples
    --------
    >>> from shap_debug.datasets import german
    >>> X, y = german()
    >>> C, enc = to_concepts(X)
    >>> C.shape, bool(C.dtypes.eq(bool).all())
    ((1000, 73), True)
    >>> enc.definitions_["duration_HIGH"]
    'duration >= 24'
    """
    enc = ConceptEncoder(n_bins=n_bins, strategy=strategy, sep=sep)
    return enc.fit_transform(X, feature_names=feature_names), enc
