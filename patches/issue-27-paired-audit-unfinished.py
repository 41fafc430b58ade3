"""The paired protected-attribute audit (Yousefzadeh & O'Leary 2020, §4.2): each row beside
its twin that differs only in the protected attribute, compared by their flip points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shap_debug.core import Result, check_columns, section_html, table_html

from ..flip_points import FlipPoints, FlipResult
from ._individual import _as_matrix

__all__ = ["PairedAudit", "paired_audit"]


@dataclass(frozen=True, repr=False)
class PairedAudit(Result):
    """Rows and their protected-attribute twins, compared by their flip points.

    Attributes
    ----------
    protected : str
        The protected attribute (its column, or its one-hot pair).
    group : ndarray (n,) of int
        0 or 1: the row's own protected value (the value of the first column for a pair).
    original, twin : FlipResult
        Flip points of the rows and of their twins (the protected attribute held fixed in
        both: the flip must come from the other features).
    prediction_changed : ndarray (n,) of bool
        The twin is predicted another class than the row: the attribute alone decides.
    distance_gap : ndarray (n,)
        ``signed distance(row) - signed distance(twin)``, the signed distance being the
        distance to the boundary, positive when the row's predicted class is 1 (the model's
        margin towards class 1), so a positive gap means the row's own attribute value
        pushes it towards class 1. NaN where either has no flip point.
    direction_cosine : ndarray (n,)
        Cosine between the two flip directions (1: the same way out).
    """

    protected: str
    group: np.ndarray
    original: FlipResult
    twin: FlipResult
    prediction_changed: np.ndarray
    distance_gap: np.ndarray
    direction_cosine: np.ndarray

    def __len__(self) -> int:
        return len(self.group)

    def favoured_gap(self) -> float:
        """Mean margin gained by having the attribute's value 1 instead of 0 (towards class
        1; 0 for a model that ignores the attribute)."""
        sign = np.where(self.group == 1, 1.0, -1.0)
        return float(np.nanmean(sign * self.distance_gap))

    def to_frame(self) -> pd.DataFrame:
        """One row per input: group, classes, distances, gap, cosine."""
        return pd.DataFrame({
            "group": self.group, "class": self.original.original_class,
            "twin_class": self.twin.original_class,
            "prediction_changed": self.prediction_changed,
            "distance": self.original.distance, "twin_distance": self.twin.distance,
            "distance_gap": self.distance_gap, "direction_cosine": self.direction_cosine})

    def summary(self) -> dict:
        """Share of rows whose prediction the attribute alone changes, the mean margin of
        value 1 over value 0, the median |gap| and the mean cosine of flip directions."""
        return {"n_rows": len(self), "protected": self.protected,
                "prediction_changed": float(np.mean(self.prediction_changed)),
                "favoured_gap": self.favoured_gap(),
                "median_abs_gap": float(np.nanmedian(np.abs(self.distance_gap))),
                "mean_direction_cosine": float(np.nanmean(self.direction_cosine))}

    def plot(self, max_display: int = 30, ax: Any = None, show: bool = True):
        """Histogram of the distance gaps by group (``max_display`` bins)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        for g in (0, 1):
            vals = self.distance_gap[(self.group == g) & np.isfinite(self.distance_gap)]
            if len(vals):
                ax.hist(vals, bins=max_display, alpha=0.6, label=f"{self.protected} = {g}")
        ax.axvline(0.0, color="0.3", lw=1)
        ax.set_xlabel("signed distance to the boundary: row minus its twin")
        ax.set_ylabel("rows")
        ax.legend(frameon=False)
        if show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        s = self.summary()
        table = pd.DataFrame({"": ["rows", "prediction changed by the attribute alone",
                                   "mean margin of value 1 over value 0",
                                   "median |distance gap|", "mean cosine of flip directions"],
                              "value": [str(s["n_rows"]), f"{s['prediction_changed']:.1%}",
                                        f"{s['favoured_gap']:+.4g}",
                                        f"{s['median_abs_gap']:.4g}",
                                        f"{s['mean_direction_cosine']:.3f}"]})
        return section_html("Paired protected-attribute audit", table_html(table),
                            f"protected: {s['protected']}")


def paired_audit(flip_points: FlipPoints, inputs: Any, protected: Any,
                 **constraints: Any) -> PairedAudit:
    """Pair each row with its twin of the other protected value and compare flip points.

    Yousefzadeh & O'Leary (2020, §4.2): for a model that treats the groups alike, a row and
    an otherwise identical row of the other gender lie at the same distance from the
    decision boundary and flip the same way. Here each row's twin switches the binary
    protected attribute (one 0/1 column, or the two columns of its one-hot group); both
    flip points hold the attribute fixed (``immutable``), so they measure what the *other*
    features must do. Reported per row: whether the twin's prediction differs, the gap of
    signed distances (margins towards class 1) and the cosine of the two flip directions.

    Parameters
    ----------
    flip_points : FlipPoints
    inputs : array-like (n, m)
        The rows (encoded, as the model reads them).
    protected : name/index or a pair of them
        The binary protected attribute.
    **constraints
        Passed to :meth:`FlipPoints.find` (``bounds``, ``onehot_groups``, ``weights``;
        ``immutable`` is extended with the attribute).

    Returns
    -------
    PairedAudit

    Examples
    --------
    >>> import numpy as np, torch
    >>> net = torch.nn.Linear(3, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[0., 0, 0], [1., 1, 0.5]]))
    ...     _ = net.bias.zero_()
    >>> X = np.array([[1.0, 0.5, 1.0], [-1.0, 0.2, 0.0]])
    >>> audit = paired_audit(FlipPoints(net, progress=False), X, 2)
    >>> np.round(audit.distance_gap / (0.5 / np.sqrt(2)), 6).tolist()  # w_p / |w_free|
    [1.0, -1.0]
    """
    if not isinstance(flip_points, FlipPoints):
        raise TypeError(f"flip_points must be a FlipPoints; got {type(flip_points).__name__}")
    X = _as_matrix(inputs, "inputs")
    m = X.shape[1]
    names = flip_points.feature_names or [f"Feature {j}" for j in range(m)]
    cols = check_columns(protected if isinstance(protected, (list, tuple)) else [protected],
                         names, "protected")
    block = X[:, cols]
    if len(cols) == 1:
        if not np.isin(block, (0.0, 1.0)).all():
            raise ValueError(f"protected column {names[cols[0]]!r} must hold 0/1 values")
        group = block[:, 0].astype(int)
    elif len(cols) == 2:
        if not (np.isin(block, (0.0, 1.0)).all() and (block.sum(axis=1) == 1).all()):
            raise ValueError("a protected one-hot pair must have exactly one 1 per row")
        group = block[:, 0].astype(int)
    else:
        raise ValueError(f"protected must be one 0/1 column or a one-hot pair; got {len(cols)}")
    if "features" in constraints:
        raise TypeError("paired_audit holds the protected attribute itself; pass immutable=")
    twin = X.copy()
    twin[:, cols] = 1.0 - block
    imm = constraints.pop("immutable", None)
    imm = list(check_columns(imm, names, "immutable")) if imm is not None else []
    immutable = sorted(set(imm) | set(cols))
    orig = flip_points.find(X, immutable=immutable, **constraints)
    tw = flip_points.find(twin, immutable=immutable, **constraints)

    def signed(res: FlipResult) -> np.ndarray:
        return np.where(res.original_class == 1, 1.0, -1.0) * res.distance

    gap = signed(orig) - signed(tw)
    d1, d2 = np.nan_to_num(orig.delta), np.nan_to_num(tw.delta)
    n1, n2 = np.linalg.norm(d1, axis=1), np.linalg.norm(d2, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where((n1 > 0) & (n2 > 0) & orig.valid & tw.valid,
                       (d1 * d2).sum(axis=1) / (n1 * n2), np.nan)
    return PairedAudit(protected=", ".join(names[j] for j in cols), group=group, original=orig,
                       twin=tw, prediction_changed=orig.original_class != tw.original_class,
                       distance_gap=gap, direction_cosine=cos)
