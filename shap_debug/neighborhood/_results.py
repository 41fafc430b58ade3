"""Result values of a :class:`~shap_debug.neighborhood.NeighborhoodModel`: one anomaly's
:class:`Neighborhood` and the :class:`Occurrence` of training rows across anomalies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shap

from ..core import Result, check_int, section_html, table_html

__all__ = ["Neighborhood", "Occurrence"]


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, repr=False)
class Neighborhood(Result):
    """The ``K`` training rows nearest to one anomaly in one space.

    Attributes
    ----------
    anomaly : int
        Row index (in the training data) of the queried row.
    indices : ndarray of int, shape (K,)
        Training row indices of the neighbours, nearest first.
    distances : ndarray of float, shape (K,)
        Euclidean distances in ``space``.
    space : str
        ``"contributions"``, ``"features"`` or ``"probabilities"``.
    explanation : shap.Explanation or None
        The neighbours' contributions (towards each neighbour's predicted class) as a 2-D
        slice, so ``shap.plots.beeswarm(nb.explanation)`` works. Its base values are
        oriented the same way, so ``base_values + values.sum(1)`` is the output its
        ``output_names`` names for each neighbour's predicted class (e.g. the log-odds of
        class 0 for a neighbour predicted 0) and waterfall/force plots show that f(x).
        None when the model was fitted without contributions.
    labels : ndarray, shape (K,)
        The neighbours' training labels.
    predicted : ndarray, shape (K,)
        The model's predicted labels for the neighbours.
    anomaly_label, anomaly_predicted
        Training label and predicted label of the queried row.
    anomaly_values : ndarray of shape (m,) or None
        The queried row's contributions (for comparison plots).
    rows : DataFrame
        The neighbours' feature values (readable), indexed by training row.
    duplicates : ndarray of bool, shape (K,)
        True for neighbours whose feature values equal the queried row's exactly (kept,
        not hidden, by ``exclude_self``; often conflicting labels for the same input).
    """

    anomaly: int
    indices: np.ndarray = field(repr=False)
    distances: np.ndarray = field(repr=False)
    space: str
    explanation: shap.Explanation | None = field(default=None, repr=False)
    labels: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    predicted: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    anomaly_label: Any = None
    anomaly_predicted: Any = None
    anomaly_values: np.ndarray | None = field(default=None, repr=False)
    rows: pd.DataFrame | None = field(default=None, repr=False)
    duplicates: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def label_agreement(self) -> float:
        """Fraction of neighbours whose training label equals the anomaly's label."""
        return float(np.mean(self.labels == self.anomaly_label)) if len(self) else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """One row per neighbour: row, distance, label, predicted, duplicate (feature values
        equal to the queried row's), then the feature values."""
        dup = (np.zeros(len(self), dtype=bool) if self.duplicates is None
               else np.asarray(self.duplicates, dtype=bool))
        out = pd.DataFrame({
            "row": self.indices,
            "distance": self.distances,
            "label": self.labels,
            "predicted": self.predicted,
            "duplicate": dup,
        })
        if self.rows is not None:
            feats = self.rows.reset_index(drop=True)
            feats = feats.loc[:, [c for c in feats.columns if c not in out.columns]]
            out = pd.concat([out, feats], axis=1)
        return out

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Anomaly's contributions next to its neighbours' mean (see
        :func:`shap_debug.plots._neighborhood.neighborhood_plot`)."""
        from ..plots import neighborhood_plot

        return neighborhood_plot(self, max_display=max_display, ax=ax, show=show)

    def summary(self) -> dict[str, Any]:
        """Key figures: the queried row, the space, the size and the label agreement."""
        return {"anomaly": self.anomaly, "space": self.space, "n_neighbors": len(self),
                "anomaly_label": self.anomaly_label,
                "anomaly_predicted": self.anomaly_predicted,
                "label_agreement": self.label_agreement,
                "n_duplicates": 0 if self.duplicates is None else int(np.sum(self.duplicates))}

    def _repr_html_(self) -> str:
        note = (f"{len(self)} rows in {self.space} space, label {self.anomaly_label}, "
                f"predicted {self.anomaly_predicted}; {self.label_agreement:.0%} of the "
                "neighbours share the anomaly's label.")
        return section_html(f"Neighborhood of row {self.anomaly}",
                            table_html(self.to_frame(), max_rows=10), note)


@dataclass(frozen=True, repr=False)
class Occurrence(Result):
    """How often each training row lands in the neighborhoods of the anomalies (Fig. 3).

    Rows that recur in many anomalies' neighborhoods shape many mispredictions: the first
    place to look for label noise.

    Attributes
    ----------
    counts : ndarray of int, shape (n,)
        Number of the queried anomalies' neighborhoods that contain each training row.
    anomalies : ndarray of int
        The queried anomalies.
    n_neighbors : int
    space : str
    labels, predicted : ndarray, shape (n,)
        Training labels and predicted labels of every training row.
    """

    counts: np.ndarray
    anomalies: np.ndarray
    n_neighbors: int
    space: str
    labels: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    predicted: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    def to_frame(self) -> pd.DataFrame:
        """Ranked table: rows with at least one occurrence, most frequent first."""
        order = np.lexsort((np.arange(len(self.counts)), -self.counts))
        order = order[self.counts[order] > 0]
        is_anom = np.isin(order, self.anomalies)
        return pd.DataFrame({
            "row": order,
            "count": self.counts[order],
            "fraction": self.counts[order] / max(len(self.anomalies), 1),
            "label": self.labels[order],
            "predicted": self.predicted[order],
            "misclassified": self.labels[order] != self.predicted[order],
            "queried_anomaly": is_anom,
        })

    def top(self, k: int = 10) -> np.ndarray:
        """The ``k`` most frequent rows (ties broken by row index)."""
        check_int(k, "k", low=1)
        return self.to_frame()["row"].to_numpy()[:k]

    def plot(self, kind: str = "ranked", max_display: int = 50, ax: Any = None,
             show: bool = True):
        """Occurrence histogram (see :func:`shap_debug.plots._neighborhood.occurrence_plot`)."""
        from ..plots import occurrence_plot

        return occurrence_plot(self, kind=kind, max_display=max_display, ax=ax, show=show)

    def summary(self) -> dict[str, Any]:
        """Key figures: how many anomalies, neighbourhood size, space, distinct rows hit."""
        return {"n_anomalies": len(self.anomalies), "n_neighbors": self.n_neighbors,
                "space": self.space, "n_rows_hit": int((self.counts > 0).sum())}

    def _repr_html_(self) -> str:
        note = (f"Training rows in the {self.n_neighbors}-row {self.space}-space "
                f"neighborhoods of {len(self.anomalies)} anomalies "
                f"({int((self.counts > 0).sum())} distinct rows).")
        return section_html("Occurrence", table_html(self.to_frame(), max_rows=10), note)
