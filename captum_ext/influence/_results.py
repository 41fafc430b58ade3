"""The result of a top-k influence query (Captum's ``KMostInfluentialResults`` layout)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from shap_debug.core import Result, section_html, table_html


class _KMostTuple(NamedTuple):
    indices: torch.Tensor
    influence_scores: torch.Tensor


class KMostInfluentialResults(Result, _KMostTuple):
    """Proponents or opponents per test point, in the layout of ``captum.influence``.

    ``indices[i, j]`` is the training row with the ``j``-th highest (proponents) or lowest
    (opponents) influence on test point ``i``; ``influence_scores[i, j]`` its score (predicted
    change of test loss ``i`` if that row were removed). Unpacks and indexes like Captum's
    ``KMostInfluentialResults`` (a named tuple ``(indices, influence_scores)``).
    """

    def summary(self) -> dict[str, Any]:
        """Number of test points, rows per test point, and the range of the scores."""
        t, k = (tuple(self.indices.shape) + (0, 0))[:2]
        sc = self.influence_scores.detach().cpu()
        out: dict[str, Any] = {"n_test": int(t), "k": int(k)}
        if sc.numel():
            out["min_influence"] = float(sc.min())
            out["max_influence"] = float(sc.max())
        return out

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (test point, rank)."""
        idx = self.indices.detach().cpu().numpy()
        sc = self.influence_scores.detach().cpu().numpy()
        t, k = idx.shape
        return pd.DataFrame({
            "test": np.repeat(np.arange(t), k),
            "rank": np.tile(np.arange(1, k + 1), t),
            "train_index": idx.ravel(),
            "influence": sc.ravel(),
        })

    def plot(self, test: int = 0, max_display: int = 10, ax: Any = None,
             show: bool = True) -> Any:
        """Horizontal bars of the top rows for one test point (red raises its loss if removed).

        See :func:`captum_ext.plots._influence.influence_plot`.
        """
        from ..plots import influence_plot

        return influence_plot(self, test=test, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        return section_html("Most influential training rows",
                            table_html(self.to_frame(), max_rows=50, float_format="{:.3g}"))
