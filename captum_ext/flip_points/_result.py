"""The result of a flip-point search: :class:`FlipResult` and the status labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import shap

from shap_debug.core import Result, check_int, section_html, table_html

__all__ = ["FlipResult", "STATUSES"]

STATUSES = ("exact", "approximate", "infeasible", "failed")


@dataclass(frozen=True, repr=False)
class FlipResult(Result):
    """Flip points of a batch of inputs, with the verifier's findings.

    Attributes
    ----------
    x : ndarray (n, m)
        The inputs, flattened (features in C order, tuple inputs concatenated).
    x_hat : ndarray (n, m)
        The flip points; NaN rows where there is none.
    distance : ndarray (n,)
        ``sqrt(sum_j w_j (x̂_j - x_j)^2)`` (``sum_j w_j |x̂_j - x_j|`` with
        ``distance_kind="l1"``); NaN where there is no flip point.
    status : ndarray (n,) of str
        ``"exact"``: verified tie of the two top logits, domain valid, the class changes just
        across, and a KKT point of the distance (``stationary``; a local optimum, also on a
        kink of a ReLU network; for a single tree the global optimum). ``"approximate"``:
        verified valid and classified as the target (or tied) but optimality is not
        certified (tree ensembles, integer rounding, a category switch alone that lands past
        the boundary, a tie that polishing could not make stationary). ``"infeasible"``: no flip point in the allowed subspace (a
        proof for linear scores and single trees; for other models no point of the target
        class was found by a sampled search). ``"failed"``: the solver found no verified point.
    original_class, target_class : ndarray (n,) of int
        Column index of the predicted class at ``x`` and of the class flipped to.
    residual : ndarray (n,)
        ``|z_c(x̂) - z_t(x̂)|`` on the logits (scores).
    stationarity : ndarray (n,)
        ``sin(theta)``, ``theta`` the angle between the weighted step ``w (x̂ - x)`` and the
        normal cone of the boundary over the free continuous features off their bounds (NaN
        when it does not apply: no verified point, trees).
    kkt_residual : ndarray (n,)
        ``1 - cos(theta)`` for the same angle: ``1 - |cos(step, grad g)|`` with ``g = z_c -
        z_t`` where the boundary is smooth, the angle to the cone of the one-sided gradients
        on a kink of a ReLU network; 0 at a KKT point (NaN where it does not apply).
    stationary : ndarray (n,) of bool
        A verified tie with ``kkt_residual <= 5e-9`` (``theta <= 1e-4`` rad), or a point of
        the target class whose continuous features did not move (a category switch alone).
        Always False for trees (piecewise-constant scores: KKT does not apply). The precise
        definition is in :func:`captum_ext.flip_points._domain._stationarity`.
    message : ndarray (n,) of str
        What the solver and verifier say about each row.
    seconds : ndarray (n,)
        Time spent on each row (its share of batched work included).
    feature_names : list of str
    method : str
        ``"gradient"``, ``"finite-difference"``, ``"tree-exact"`` or ``"tree-search"``.
    weights : ndarray (m,)
    input_shapes : list of tuple
        Per-sample shapes of the input tensors, to fold flat vectors back.
    solver : ndarray (n,) of str
        The solver that produced each row's answer, whatever the model's kind suggested:
        ``"projection"`` (batched boundary projection), ``"slsqp"``, ``"multi-start"``,
        ``"category switch"`` (a one-hot switch alone), each with ``" + polish"`` when
        polishing moved it; ``"leaf enumeration"`` (single tree, exact), ``"tree search"``
        (tree ensembles, approximate), ``"reweighted l2"`` (the L1 distance); ``"none"``
        where there is no point. Reports should name this, not the model type.
    distance_kind : {"l2", "l1"}
        How ``distance`` is measured: ``sqrt(sum_j w_j d_j^2)`` or ``sum_j w_j |d_j|``.
    boundary_class : ndarray (n,) of int
        The class on the other side of the boundary next to ``x̂`` (found by bisection on
        the segment from ``x``): ``original_class`` for a flip point of the input's own
        boundary; another class when the point sits on the target's boundary with a third
        class (the message says so; status is then ``"approximate"``). -1 where there is no
        point.
    """

    x: np.ndarray
    x_hat: np.ndarray
    distance: np.ndarray
    status: np.ndarray
    original_class: np.ndarray
    target_class: np.ndarray
    residual: np.ndarray
    stationarity: np.ndarray
    kkt_residual: np.ndarray
    stationary: np.ndarray
    message: np.ndarray
    seconds: np.ndarray
    feature_names: list
    method: str
    weights: np.ndarray
    input_shapes: list = field(default_factory=list)
    solver: Any = None
    distance_kind: str = "l2"
    boundary_class: Any = None

    def __post_init__(self) -> None:
        n = len(self.x)
        if self.solver is None:
            object.__setattr__(self, "solver", np.where(
                np.isin(self.status, ("exact", "approximate")), self.method, "none").astype(str))
        if self.boundary_class is None:
            object.__setattr__(self, "boundary_class", np.where(
                np.isin(self.status, ("exact", "approximate")), self.original_class, -1))
        if len(self.solver) != n or len(self.boundary_class) != n:
            raise ValueError("solver and boundary_class need one entry per row")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def delta(self) -> np.ndarray:
        """``x̂ - x`` (n, m); NaN rows where there is no flip point."""
        return self.x_hat - self.x

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask of rows with a verified flip point (exact or approximate)."""
        return np.isin(self.status, ("exact", "approximate"))

    def to_frame(self) -> pd.DataFrame:
        """One row per input: status, classes, distance, verifier numbers, message."""
        d = self.delta
        changed = np.where(np.isfinite(d).all(axis=1),
                           (np.abs(np.nan_to_num(d)) > 1e-9).sum(axis=1), -1)
        return pd.DataFrame({
            "status": self.status, "original_class": self.original_class,
            "target_class": self.target_class, "distance": self.distance,
            "residual": self.residual, "stationarity": self.stationarity,
            "kkt_residual": self.kkt_residual, "stationary": self.stationary,
            "n_changed": changed, "seconds": self.seconds, "solver": self.solver,
            "boundary_class": self.boundary_class, "message": self.message,
        })

    def changes(self, i: int, tol: float = 1e-9) -> pd.DataFrame:
        """The features row ``i``'s flip point changes: value, flip value and change."""
        i = check_int(i, "i", low=0, high=len(self) - 1)
        d = self.delta[i]
        keep = np.flatnonzero(np.abs(np.nan_to_num(d)) > tol)
        return pd.DataFrame({
            "feature": [self.feature_names[j] for j in keep], "value": self.x[i, keep],
            "flip_value": self.x_hat[i, keep], "change": d[keep],
        })

    def as_explanation(self) -> shap.Explanation:
        """Flip directions ``x̂ - x`` as a ``shap.Explanation`` (0 where there is none).

        ``shap.plots.bar`` / ``beeswarm`` then summarise which features move and how far;
        ``data`` holds the inputs.
        """
        import shap

        vals = np.nan_to_num(self.delta, nan=0.0)
        return shap.Explanation(values=vals, base_values=np.zeros(len(self)), data=self.x.copy(),
                                feature_names=list(self.feature_names))

    def summary(self) -> dict:
        """Key figures: rows, method, status counts, median distance."""
        counts = {str(k): int(v) for k, v in pd.Series(self.status).value_counts().items()}
        med = float(np.nanmedian(self.distance)) if self.valid.any() else float("nan")
        solvers = {str(k): int(v) for k, v in pd.Series(self.solver).value_counts().items()}
        return {"n_rows": len(self), "method": self.method, "status": counts, "solver": solvers,
                "stationary": int(np.sum(self.stationary)), "median_distance": med}

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Bar chart of the mean |x̂ - x| per feature over the rows with a flip point
        (:func:`captum_ext.plots._flip.flip_result_plot`)."""
        from ..plots import flip_result_plot

        return flip_result_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        counts = pd.Series(self.status).value_counts()
        head = " · ".join(f"{k}: {int(v)}" for k, v in counts.items())
        frame = self.to_frame().head(10)
        table = pd.DataFrame({
            "row": frame.index, "status": frame["status"],
            "class": [f"{int(a)} → {int(b)}" for a, b in
                      zip(frame["original_class"], frame["target_class"])],
            "distance": frame["distance"], "note": frame["message"]})
        more = f"<p>… {len(self) - 10} more rows</p>" if len(self) > 10 else ""
        return section_html("Flip points", table_html(table) + more,
                            f"({self.method}): {head}")
