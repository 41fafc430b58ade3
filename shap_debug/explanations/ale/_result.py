"""The values :func:`~shap_debug.explanations.ale.neighborhood_ale` returns: one curve per feature
(:class:`ALECurve`) and the whole result with its ``shap.Explanation`` (:class:`ALEResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shap

from ...core import Result, check_columns, section_html, table_html

__all__ = ["ALECurve", "ALEResult"]


@dataclass(frozen=True, eq=False, repr=False)
class ALECurve(Result):
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

    def summary(self) -> dict[str, Any]:
        """Feature, kind, number of grid points and ALE range."""
        return {"feature": self.feature, "kind": self.kind, "grid_points": len(self.grid),
                "range": self.range}

    @property
    def range(self) -> float:
        """``max - min`` of the curve: how far this feature alone moves the prediction."""
        return float(np.ptp(self.values)) if len(self.values) else 0.0

    def to_frame(self) -> pd.DataFrame:
        """PyALE's layout: index = grid, columns ``eff``, ``size``, ``lower``, ``upper``."""
        return pd.DataFrame(
            {"eff": self.values, "size": self.counts, "lower": self.lower, "upper": self.upper},
            index=pd.Index(self.grid, name=self.feature))


@dataclass(frozen=True, eq=False, repr=False)
class ALEResult(Result):
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

    def summary(self) -> dict[str, Any]:
        """Rows, features, explained class, mean prediction and engine."""
        return {"n_rows": self.n_rows, "features": self.feature_names,
                "target_label": self.target_label, "mean_prediction": self.mean_prediction,
                "engine": self.engine}

    @property
    def feature_names(self) -> list[str]:
        """The explained features, in curve order."""
        return [c.feature for c in self.curves]

    @property
    def n_rows(self) -> int:
        """The number of neighbourhood rows."""
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
        """Draw the curves (see :func:`shap_debug.plots._ale.ale`)."""
        from ...plots import ale as ale_plot

        return ale_plot(self, features, global_result=global_result, max_display=max_display,
                        ax=ax, show=show)

    def _repr_html_(self) -> str:
        ranges = self.ranges()
        frame = pd.DataFrame({
            "feature": list(ranges.index),
            "kind": [self.curve(f).kind for f in ranges.index],
            "grid points": [len(self.curve(f).grid) for f in ranges.index],
            "ALE range": [f"{r:.4f}" for r in ranges.to_numpy()],
        })
        note = (f"P(class {self.target_label}) over {self.n_rows} rows (mean prediction "
                f"{self.mean_prediction:.4f}, engine {self.engine}, "
                f"{int(round(self.confidence * 100))}% bands).")
        return section_html("Accumulated local effects",
                            table_html(frame, max_rows=max(len(frame), 1)), note)
