"""2-D PCA views of a fitted neighbourhood model's contribution and feature spaces (Fig. 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, check_int, check_random_state, section_html, seed_from
from ._model import NeighborhoodModel

__all__ = ["SpaceView", "space_view"]


@dataclass(frozen=True, repr=False)
class SpaceView(Result):
    """2-D PCA views of the training data in contribution and feature space (Fig. 1).

    Attributes
    ----------
    contributions_2d, features_2d : ndarray (n, 2)
        First two principal components of the contribution matrix and of the
        standardised features.
    explained_variance : dict
        Space -> explained variance ratio of the two components.
    predicted : ndarray (n,)
        Predicted labels (the colour).
    anomalies : ndarray of int
        Rows where the prediction differs from the label (highlighted).
    """

    contributions_2d: np.ndarray
    features_2d: np.ndarray
    predicted: np.ndarray
    anomalies: np.ndarray
    explained_variance: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per training row: its 2-D (PCA) coordinates in each space, its prediction
        and whether it is an anomaly."""
        anom = np.zeros(len(self.predicted), dtype=bool)
        anom[self.anomalies] = True
        return pd.DataFrame({
            "contributions_pc1": self.contributions_2d[:, 0],
            "contributions_pc2": self.contributions_2d[:, 1],
            "features_pc1": self.features_2d[:, 0],
            "features_pc2": self.features_2d[:, 1],
            "predicted": self.predicted,
            "anomaly": anom,
        })

    def plot(self, ax: Any = None, show: bool = True):
        """Side-by-side scatter plots (see :func:`shap_debug.plots._neighborhood.space_view_plot`)."""
        from ..plots import space_view_plot

        return space_view_plot(self, ax=ax, show=show)

    def summary(self) -> dict[str, Any]:
        """Key figures: rows, anomalies and the variance the two components keep."""
        return {"n_rows": len(self.predicted), "n_anomalies": len(self.anomalies),
                **{f"variance_{k}": float(v) for k, v in self.explained_variance.items()}}

    def _repr_html_(self) -> str:
        ev = ", ".join(f"{k}: {v:.0%}" for k, v in self.explained_variance.items())
        note = (f"{len(self.predicted)} rows, {len(self.anomalies)} anomalies; variance kept "
                f"by two components: {ev}.")
        return section_html("Contribution vs feature space", "", note)


def space_view(neighborhood_model: NeighborhoodModel, *, max_rows: int | None = None,
               random_state: int | np.random.Generator | None = None) -> SpaceView:
    """PCA of a fitted :class:`NeighborhoodModel`'s contribution and feature spaces.

    In feature space the two predicted classes overlap; in contribution space they separate
    and the anomalies sit inside the clusters of the class the model predicted for them
    (Rasouli & Yu 2021, Fig. 1).

    Parameters
    ----------
    neighborhood_model : NeighborhoodModel
        Fitted with contributions (any space).
    max_rows : int, optional
        Project a random subsample of this many rows (all anomalies among them are kept
        highlighted); default all rows.
    random_state : int or Generator
        Seeds the subsample and the PCA solver.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, _ = encode(X)
    >>> lr = LogisticRegression(max_iter=2000).fit(Z, y)
    >>> nbm = NeighborhoodModel(50, model=lr).fit(Z, y, progress=False)
    >>> space_view(nbm).contributions_2d.shape
    (1000, 2)
    """
    from sklearn.decomposition import PCA


    if not isinstance(neighborhood_model, NeighborhoodModel):
        raise TypeError("neighborhood_model must be a fitted NeighborhoodModel; got "
                        f"{type(neighborhood_model).__name__}")
    neighborhood_model._check_fitted()
    if neighborhood_model.contributions_ is None:
        raise ValueError("neighborhood_model was fitted without contributions; pass "
                         "contributions to fit (or use space='contributions')")
    n = len(neighborhood_model.contributions_)
    rng = check_random_state(random_state)
    rows = np.arange(n)
    if max_rows is not None:
        max_rows = check_int(max_rows, "max_rows", low=2)
        if max_rows < n:
            rows = np.sort(rng.choice(n, size=max_rows, replace=False))
    seed = seed_from(rng)
    out, ev = {}, {}
    for name, mat in (("contributions", neighborhood_model.contributions_),
                      ("features", neighborhood_model.feature_matrix_)):
        mat = mat[rows]
        k = min(2, mat.shape[1], len(mat))
        pca = PCA(n_components=k, random_state=seed).fit(mat)
        proj = pca.transform(mat)
        if k < 2:
            proj = np.column_stack([proj, np.zeros((len(proj), 2 - k))])
        out[name] = proj
        ev[name] = float(np.sum(pca.explained_variance_ratio_))
    anomalies = np.flatnonzero(np.isin(rows, neighborhood_model.anomalies_))
    return SpaceView(contributions_2d=out["contributions"], features_2d=out["features"],
                     predicted=neighborhood_model.predicted_labels_[rows],
                     anomalies=anomalies, explained_variance=ev)
