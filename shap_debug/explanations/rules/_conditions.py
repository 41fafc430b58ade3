"""The values a rule is made of: one merged :class:`Condition` per feature, and the
:class:`Rule` (premise, predicted class, fidelity, coverage, length)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...core import Result, check_frame_or_array, escape

__all__ = ["Condition", "Rule"]


def _fmt(v: float) -> str:
    return f"{v:.6g}"


# --------------------------------------------------------------------------- values
@dataclass(frozen=True)
class Condition:
    """One merged condition of a rule on one feature.

    Numeric: ``low < feature <= high`` (either bound may be None). Categorical: the feature
    takes one of ``levels``.

    Attributes
    ----------
    feature : str
    index : int
        Column position of the feature in the explainer's data (used for arrays).
    low, high : float or None
    levels : frozenset or None
        Allowed levels of a categorical feature.
    categories : tuple
        All levels of a categorical feature (to word the condition compactly).
    """

    feature: str
    index: int
    low: float | None = None
    high: float | None = None
    levels: frozenset | None = None
    categories: tuple = ()

    @property
    def is_categorical(self) -> bool:
        """Whether the condition tests category levels rather than a threshold."""
        return self.levels is not None

    @property
    def op(self) -> str:
        """One of ``"<=", ">", "range", "=", "!=", "in", "not in"``."""
        if self.is_categorical:
            excluded = [c for c in self.categories if c not in self.levels]
            if len(self.levels) == 1:
                return "="
            if len(excluded) == 1:
                return "!="
            return "in" if len(self.levels) <= len(excluded) else "not in"
        if self.low is not None and self.high is not None:
            return "range"
        return "<=" if self.high is not None else ">"

    @property
    def value(self) -> Any:
        """The threshold, ``(low, high)``, a level, or a frozenset of levels, matching ``op``."""
        op = self.op
        if op == "range":
            return (self.low, self.high)
        if op == "<=":
            return self.high
        if op == ">":
            return self.low
        excluded = frozenset(c for c in self.categories if c not in self.levels)
        if op == "=":
            return next(iter(self.levels))
        if op == "!=":
            return next(iter(excluded))
        return self.levels if op == "in" else excluded

    def holds(self, values: Any) -> np.ndarray:
        """Boolean mask: which of ``values`` (one column) satisfy the condition."""
        if self.is_categorical:
            s = pd.Series(np.asarray(values, dtype=object))
            return s.isin(list(self.levels)).to_numpy()
        v = np.asarray(values, dtype=np.float64)
        ok = np.ones(len(v), dtype=bool)
        if self.low is not None:
            ok &= v > self.low
        if self.high is not None:
            ok &= v <= self.high
        return ok

    def __str__(self) -> str:
        op, f = self.op, self.feature
        if op == "range":
            return f"{_fmt(self.low)} < {f} <= {_fmt(self.high)}"
        if op == "<=":
            return f"{f} <= {_fmt(self.high)}"
        if op == ">":
            return f"{f} > {_fmt(self.low)}"
        if op in ("=", "!="):
            return f"{f} {op} {self.value}"
        ordered = [str(c) for c in self.categories if c in self.value]
        return f"{f} {op} {{{', '.join(ordered)}}}"


@dataclass(frozen=True, repr=False)
class Rule(Result):
    """A local IF-THEN rule: ``IF conditions THEN prediction``.

    Attributes
    ----------
    conditions : tuple of Condition
        The premise, one merged condition per feature (empty: the rule always holds).
    prediction : class label
        The class the rule assigns (the surrogate tree's leaf class for the explained row).
    fidelity : float
        Share of the generated neighbourhood rows satisfying the premise that the black box
        labels ``prediction``.
    coverage : float
        Share of the training rows satisfying the premise.
    length : int
        Number of conditions.
    text : str
        ``"IF a > 1 AND b = x THEN 1"``.
    support : int
        Number of neighbourhood rows satisfying the premise (the fidelity's denominator).
    """

    conditions: tuple
    prediction: Any
    fidelity: float
    coverage: float
    length: int
    text: str
    support: int = 0

    @property
    def features(self) -> tuple:
        """Names of the features the premise tests."""
        return tuple(c.feature for c in self.conditions)

    @property
    def premise(self) -> str:
        """The conditions joined with AND (``TRUE`` for none)."""
        return " AND ".join(str(c) for c in self.conditions) if self.conditions else "TRUE"

    def holds(self, X: Any) -> np.ndarray:
        """Boolean mask over the rows of ``X`` (DataFrame by column name, array by position)."""
        X = check_frame_or_array(X, "X", allow_nan=True, min_rows=0)
        ok = np.ones(len(X), dtype=bool)
        for c in self.conditions:
            if isinstance(X, pd.DataFrame):
                if c.feature not in X.columns:
                    raise ValueError(f"X has no column {c.feature!r} that the rule tests")
                col = X[c.feature].to_numpy(dtype=object if c.is_categorical else np.float64)
            else:
                if c.index >= X.shape[1]:
                    raise ValueError(f"X has {X.shape[1]} columns; the rule tests column {c.index}")
                if c.is_categorical:
                    raise ValueError(
                        f"the rule tests categorical feature {c.feature!r}: pass a DataFrame")
                col = X[:, c.index]
            ok &= c.holds(col)
        return ok

    def __str__(self) -> str:
        return self.text

    def summary(self) -> dict[str, Any]:
        """The rule's text, fidelity, coverage and length."""
        return {"text": self.text, "fidelity": self.fidelity, "coverage": self.coverage,
                "length": self.length}

    def to_frame(self) -> pd.DataFrame:
        """One row per condition: feature, op, value."""
        return pd.DataFrame({
            "feature": [c.feature for c in self.conditions],
            "op": [c.op for c in self.conditions],
            "value": [c.value for c in self.conditions],
            "condition": [str(c) for c in self.conditions],
        })

    def _repr_html_(self) -> str:
        return (f"<p><code>{escape(self.text)}</code><br>fidelity {self.fidelity:.2f}, "
                f"coverage {self.coverage:.3f}, length {self.length}</p>")
