"""Group-level flip-point audit (flip directions, pivoted-QR and PCA influence) and the
linear dependency of the training columns (pivoted QR, condition numbers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import shap

from shap_debug.core import Result, check_columns, check_float, section_html, table_html, warn

from ..flip_points import FlipPoints, FlipResult
from ._individual import _as_matrix

__all__ = ["GroupAudit", "DependencyResult", "group_audit", "feature_dependency"]


@dataclass(frozen=True, repr=False)
class GroupAudit(Result):
    """Flip directions of a group of rows and what they say about the model.

    Attributes
    ----------
    result : FlipResult
        The flip points of the group's rows.
    directions : ndarray (k, m)
        ``sqrt(w) (x̂ - x)`` of the k rows with a verified flip point.
    qr_order : ndarray (m,)
        Features in the column-pivot order of the pivoted QR of ``directions`` (most
        influential first; Yousefzadeh & O'Leary rank features this way).
    pca_loadings : ndarray (m,)
        First right singular vector of ``directions`` (the dominant flip direction, sign
        fixed so its largest entry is positive); ``explained`` its share of the squared norm.
    change_rate, increase_rate, decrease_rate : ndarray (m,)
        Fraction of rows whose flip point changes / raises / lowers each feature.
    protected_changed : int or None
        Rows whose flip point changes the protected attribute (None when not asked).
    """

    result: FlipResult
    directions: np.ndarray
    qr_order: np.ndarray
    qr_diag: np.ndarray
    pca_loadings: np.ndarray
    explained: float
    change_rate: np.ndarray
    increase_rate: np.ndarray
    decrease_rate: np.ndarray
    mean_change: np.ndarray
    feature_names: list
    protected: str | None = None
    protected_changed: int | None = None
    protected_total: int = 0

    def to_frame(self) -> pd.DataFrame:
        """One row per feature, ranked by the pivoted QR."""
        m = len(self.feature_names)
        qr_rank = np.empty(m, dtype=int)
        qr_rank[self.qr_order] = np.arange(1, m + 1)
        pca_rank = np.empty(m, dtype=int)
        pca_rank[np.argsort(-np.abs(self.pca_loadings), kind="stable")] = np.arange(1, m + 1)
        df = pd.DataFrame({
            "feature": self.feature_names, "qr_rank": qr_rank, "pca_loading": self.pca_loadings,
            "pca_rank": pca_rank, "change_rate": self.change_rate,
            "increase_rate": self.increase_rate, "decrease_rate": self.decrease_rate,
            "mean_change": self.mean_change})
        return df.sort_values("qr_rank").reset_index(drop=True)

    def rank_of(self, feature: Any, by: str = "qr") -> int:
        """1-based influence rank of a feature (``by`` = "qr" or "pca")."""
        j = check_columns([feature], self.feature_names, "feature")[0]
        frame = self.to_frame().set_index("feature")
        return int(frame.loc[self.feature_names[j], "qr_rank" if by == "qr" else "pca_rank"])

    def as_explanation(self) -> shap.Explanation:
        """Flip directions of the rows with a verified flip point, for ``shap.plots.bar`` /
        ``beeswarm`` (``values`` = x̂ - x, ``data`` = x)."""
        ok = self.result.valid
        return shap.Explanation(values=np.nan_to_num(self.result.delta[ok]),
                                base_values=np.zeros(int(ok.sum())),
                                data=self.result.x[ok].copy(),
                                feature_names=list(self.feature_names))

    def summary(self) -> dict:
        """Key figures: rows, rows with a verified flip point, top feature, PC1 share."""
        out = {"n_rows": len(self.result), "n_verified": int(self.result.valid.sum()),
               "top_feature": self.feature_names[int(self.qr_order[0])] if len(
                   self.qr_order) else None, "explained": self.explained}
        if self.protected is not None:
            out["protected_changed"] = self.protected_changed
        return out

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Change rate per feature (split into increases and decreases), QR order
        (:func:`captum_ext.plots._flip.group_audit_plot`)."""
        from ..plots import group_audit_plot

        return group_audit_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        df = self.to_frame().head(10)
        table = pd.DataFrame({
            "QR rank": df["qr_rank"].astype(int), "feature": df["feature"],
            "changes": [f"{v:.0%}" for v in df["change_rate"]],
            "up / down": [f"{u:.0%} / {d:.0%}" for u, d in
                          zip(df["increase_rate"], df["decrease_rate"])],
            "PC1": [f"{v:+.3f}" for v in df["pca_loading"]]})
        note = (f"{int(self.result.valid.sum())} of {len(self.result)} rows with a verified "
                f"flip point; the dominant direction explains {self.explained:.0%}.")
        if self.protected is not None:
            note += (f" {self.protected_changed} of {self.protected_total} flip points change "
                     f"the protected attribute {self.protected}.")
        return section_html("Group flip-point audit", table_html(table), note)


def group_audit(flip_points: FlipPoints | FlipResult, inputs: Any = None, target: Any = None,
                *, protected: Any = None, tol: float = 1e-6, **constraints: Any) -> GroupAudit:
    """Group-level flip-point audit (Yousefzadeh & O'Leary, section "group-level").

    Parameters
    ----------
    flip_points : FlipPoints or FlipResult
        Either the solver (then ``inputs`` are solved here) or flip points already found.
    inputs : array-like (n, m), optional
        The group's rows (a class, a sub-population, the anomalies).
    target : optional
        As in :meth:`FlipPoints.find`.
    protected : feature name/index or list of them, optional
        A binary protected attribute (one column, or the two columns of its one-hot group);
        the audit counts flip points that change it.
    tol : float
        A feature "changes" when ``|x̂_j - x_j| > tol``.
    **constraints
        Passed to :meth:`FlipPoints.find`.

    Returns
    -------
    GroupAudit

    Examples
    --------
    >>> import torch
    >>> from captum_ext.flip_points import FlipPoints
    >>> _ = torch.manual_seed(0); net = torch.nn.Linear(4, 2)
    >>> audit = group_audit(FlipPoints(net, progress=False), torch.randn(30, 4))
    >>> audit.to_frame().shape
    (4, 8)
    """
    tol = check_float(tol, "tol", low=0.0)
    if isinstance(flip_points, FlipResult):
        if inputs is not None:
            raise TypeError("inputs must be None when a FlipResult is given")
        res = flip_points
    elif isinstance(flip_points, FlipPoints):
        if inputs is None:
            raise TypeError("inputs are required when flip_points is a FlipPoints")
        res = flip_points.find(inputs, target, **constraints)
    else:
        raise TypeError("flip_points must be a FlipPoints or a FlipResult; got "
                        f"{type(flip_points).__name__}")
    names = list(res.feature_names)
    m = len(names)
    prot_cols = None
    if protected is not None:
        prot_cols = check_columns(protected, names, "protected")
        if len(prot_cols) > 2:
            raise ValueError("protected must be one binary column or a one-hot pair; got "
                             f"{len(prot_cols)} columns")
    ok = res.valid
    D = np.nan_to_num(res.delta[ok])
    if not ok.any():
        warn("no row of the group has a verified flip point; the audit is empty")
    Dw = D * np.sqrt(res.weights)[None, :]
    if len(Dw):
        _, R, piv = scipy.linalg.qr(Dw, pivoting=True, mode="economic")
        diag = np.abs(np.diag(R))
        qr_diag = np.zeros(m)
        qr_diag[piv[: len(diag)]] = diag
        # columns beyond the rank keep the pivot order; untouched features go last
        moved = np.abs(D).max(axis=0) > tol
        piv = np.concatenate([piv[moved[piv]], piv[~moved[piv]]])
        _, s, Vt = np.linalg.svd(Dw, full_matrices=False)
        v = Vt[0]
        v = v if v[np.argmax(np.abs(v))] > 0 else -v
        explained = float(s[0] ** 2 / (s ** 2).sum()) if (s ** 2).sum() > 0 else 0.0
    else:
        piv, qr_diag, v, explained = np.arange(m), np.zeros(m), np.zeros(m), 0.0
    k = max(len(D), 1)
    changed = np.abs(D) > tol
    prot_changed = None
    if prot_cols is not None:
        prot_changed = int(changed[:, prot_cols].any(axis=1).sum())
    return GroupAudit(
        result=res, directions=Dw, qr_order=np.asarray(piv), qr_diag=qr_diag,
        pca_loadings=v, explained=explained, change_rate=changed.sum(0) / k,
        increase_rate=(D > tol).sum(0) / k, decrease_rate=(D < -tol).sum(0) / k,
        mean_change=D.mean(axis=0) if len(D) else np.zeros(m), feature_names=names,
        protected=None if prot_cols is None else ", ".join(names[j] for j in prot_cols),
        protected_changed=prot_changed, protected_total=int(ok.sum()))


# --------------------------------------------------------------------------- dependency
@dataclass(frozen=True, repr=False)
class DependencyResult(Result):
    """Linear dependency of the training columns (pivoted QR of the standardised data).

    Attributes
    ----------
    pivot : ndarray (m,)
        Column order chosen by the pivoted QR.
    r_diag : ndarray (m,)
        ``|R_kk|`` per feature (by feature, not by pivot position).
    rank : int
    independent, dependent : list of str
        The first ``rank`` pivoted columns, and the rest (numerically dependent on them).
    condition : float
        Condition number of the standardised data; ``condition_independent`` after dropping
        the dependent columns.
    """

    pivot: np.ndarray
    r_diag: np.ndarray
    rank: int
    independent: list
    dependent: list
    condition: float
    condition_independent: float
    feature_names: list

    def to_frame(self) -> pd.DataFrame:
        order = np.empty(len(self.pivot), dtype=int)
        order[self.pivot] = np.arange(1, len(self.pivot) + 1)
        dep = set(self.dependent)
        return pd.DataFrame({"feature": self.feature_names, "pivot_order": order,
                             "r_diag": self.r_diag,
                             "dependent": [f in dep for f in self.feature_names]}
                            ).sort_values("pivot_order").reset_index(drop=True)

    _repr_fields = ("rank", "condition", "condition_independent")

    def plot(self, max_display: int = 30, ax: Any = None, show: bool = True):
        """``|R_kk|`` in pivot order on a log scale; dependent columns in grey
        (:func:`captum_ext.plots._flip.dependency_plot`)."""
        from ..plots import dependency_plot

        return dependency_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        dep = ", ".join(self.dependent[:20]) or "none"
        note = (f"rank {self.rank} of {len(self.feature_names)}; condition number "
                f"{self.condition:.3g} (→ {self.condition_independent:.3g} without the "
                f"dependent columns). Dependent: {dep}")
        return section_html("Feature dependency", "", note)


def feature_dependency(X: Any, feature_names: Sequence[str] | None = None, *,
                       rtol: float = 1e-8) -> DependencyResult:
    """Linearly dependent columns of the training data, by pivoted QR.

    Columns are centred and scaled to unit norm, then ``scipy.linalg.qr(..., pivoting=True)``
    orders them; ``|R_kk| <= rtol |R_00|`` marks the numerical rank. One-hot groups show
    up here (their levels sum to one, so one level per group depends on the others after
    centring), as do copies and sums of columns. Yousefzadeh & O'Leary drop such columns
    before auditing with flip points.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 3)); X = np.c_[X, X[:, 0] + X[:, 1]]
    >>> feature_dependency(X).rank
    3
    """
    names = None
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
    A = _as_matrix(X, "X")
    m = A.shape[1]
    if feature_names is not None:
        names = [str(f) for f in feature_names]
        if len(names) != m:
            raise ValueError(f"feature_names has {len(names)} names but X has {m} columns")
    names = names or [f"Feature {j}" for j in range(m)]
    rtol = check_float(rtol, "rtol", low=0.0)
    A = A - A.mean(axis=0)
    norms = np.linalg.norm(A, axis=0)
    A = A / np.where(norms > 0, norms, 1.0)
    _, R, piv = scipy.linalg.qr(A, pivoting=True, mode="economic")
    diag = np.abs(np.diag(R))
    top = diag[0] if len(diag) else 0.0
    rank = int((diag > rtol * top).sum()) if top > 0 else 0
    r_diag = np.zeros(m)
    r_diag[piv[: len(diag)]] = diag
    indep = sorted(piv[:rank].tolist())

    def cond(B: np.ndarray) -> float:
        if B.shape[1] == 0:
            return float("nan")
        s = np.linalg.svd(B, compute_uv=False)
        return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")

    return DependencyResult(
        pivot=np.asarray(piv), r_diag=r_diag, rank=rank,
        independent=[names[j] for j in piv[:rank]], dependent=[names[j] for j in piv[rank:]],
        condition=cond(A), condition_independent=cond(A[:, indep]), feature_names=names)
