"""Auditing and debugging a model with flip points, for one input and for groups.

Yousefzadeh & O'Leary, "Auditing and debugging deep learning models via flip points:
individual-level and group-level analysis" (2020):

- :func:`individual_report` (their Fig. 2/5): the unconstrained flip point of one input,
  which single features, pairs and user-defined groups of features can flip the decision
  alone and the change each needs, in original units and category labels; flags flip
  points outside the training range.
- :func:`group_audit`: flip directions ``x̂ - x`` of a group of rows; feature influence by
  pivoted QR and by PCA of the directions; how often each feature changes and which way;
  how many flip points change a protected attribute.
- :func:`feature_dependency`: pivoted QR / condition numbers of the training data (the paper
  drops linearly dependent columns this way before auditing).
- :func:`augment_with_flip_points`: add constrained flip points to the training set with the
  rows' labels, retrain, and report test accuracy and the feature's influence rank before and
  after (their Credit/age experiment; gains are not promised).
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import shap
import torch

from shap_debug.core import (
    check_columns,
    check_float,
    check_frame_or_array,
    check_indices,
    check_int,
    check_random_state,
    check_X_y,
    clone_model,
    predict_labels,
    seed_from,
    warn,
)

from .flip_points import FlipPoints, FlipResult

__all__ = [
    "IndividualReport", "GroupAudit", "DependencyResult", "AugmentationResult",
    "individual_report", "group_audit", "feature_dependency", "augment_with_flip_points",
]


def _as_matrix(X: Any, name: str) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().double().numpy()
    if isinstance(X, pd.Series):
        X = X.to_frame().T
    arr = check_frame_or_array(X, name)
    if isinstance(arr, pd.DataFrame):
        arr = arr.to_numpy(dtype=np.float64)
    return np.asarray(arr, dtype=np.float64)


def _units(names: list, encoder: Any, onehot_groups: Any) -> dict:
    """Name -> flat columns of each thing a person would call a feature."""
    if encoder is not None:
        groups = getattr(encoder, "groups_", None)
        if not groups:
            raise TypeError("encoder must be a fitted FrameEncoder (with groups_)")
        if sum(len(g) for g in groups.values()) != len(names):
            raise ValueError(f"encoder encodes {sum(len(g) for g in groups.values())} columns "
                             f"but the inputs have {len(names)}")
        return {str(k): list(v) for k, v in groups.items()}
    units = {}
    grouped = set()
    if onehot_groups is not None:
        items = (onehot_groups.items() if isinstance(onehot_groups, dict)
                 else ((f"group {k}", g) for k, g in enumerate(onehot_groups)))
        for key, grp in items:
            cols = check_columns(list(grp), names, "onehot_groups")
            units[str(key)] = cols
            grouped.update(cols)
    for j, nm in enumerate(names):
        if j not in grouped:
            units[nm] = [j]
    return units


def _onehot_from_encoder(encoder: Any) -> dict | None:
    if encoder is None:
        return None
    return {c: g for c, g in encoder.groups_.items() if c in getattr(encoder, "categories_", {})
            and len(g) > 1}


def _describe(x: np.ndarray, xh: np.ndarray, units: dict, decode: Callable | None,
              names: list, tol: float = 1e-9) -> tuple[list, list, list]:
    """Changed units with readable old/new values."""
    changed, old, new = [], [], []
    if decode is not None:
        frame = decode(np.vstack([x, xh]))
    for unit, cols in units.items():
        if np.abs(xh[cols] - x[cols]).max() <= tol:
            continue
        changed.append(unit)
        if decode is not None and unit in frame.columns:
            old.append(frame[unit].iloc[0])
            new.append(frame[unit].iloc[1])
        elif len(cols) > 1:
            old.append(names[cols[int(np.argmax(x[cols]))]])
            new.append(names[cols[int(np.argmax(xh[cols]))]])
        else:
            old.append(float(x[cols[0]]))
            new.append(float(xh[cols[0]]))
    return changed, old, new


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


# --------------------------------------------------------------------------- individual
@dataclass(frozen=True)
class IndividualReport:
    """Flip-point report of one input (Yousefzadeh & O'Leary, Fig. 2/5).

    Attributes
    ----------
    flip : FlipResult
        The unconstrained flip point (one row).
    changes : DataFrame
        Features the unconstrained flip point changes: ``feature``, ``value``,
        ``flip_value`` (original units / category labels when a decoder is known),
        ``change`` (in model units) and ``outside_range`` (beyond the training data).
    singles, pairs, groups : DataFrame
        One row per single feature / pair / user group: ``features``, ``can_flip``,
        ``distance``, ``status``, ``change`` (readable text), ``outside_range``.
    """

    flip: FlipResult
    changes: pd.DataFrame
    singles: pd.DataFrame
    pairs: pd.DataFrame
    groups: pd.DataFrame
    original_class: int
    target_class: int

    def to_frame(self) -> pd.DataFrame:
        """Every constrained problem in one frame (``kind`` = single / pair / group)."""
        parts = [df.assign(kind=k) for k, df in
                 (("single", self.singles), ("pair", self.pairs), ("group", self.groups))
                 if len(df)]
        if not parts:
            return pd.DataFrame(columns=["kind", "features", "can_flip", "distance", "status",
                                         "change", "outside_range"])
        out = pd.concat(parts, ignore_index=True)
        return out[["kind"] + [c for c in out.columns if c != "kind"]]

    def to_text(self) -> str:
        """A plain-text summary (what a person reads first)."""
        lines = [f"Predicted class {self.original_class}; closest flip to class "
                 f"{self.target_class}: status {self.flip.status[0]}, distance "
                 f"{self.flip.distance[0]:.4g}."]
        if len(self.changes):
            lines.append("The unconstrained flip point changes:")
            for _, r in self.changes.iterrows():
                flag = "  [outside the training range]" if r["outside_range"] else ""
                lines.append(f"  {r['feature']}: {_fmt(r['value'])} -> {_fmt(r['flip_value'])}{flag}")
        alone = self.singles[self.singles["can_flip"]] if len(self.singles) else self.singles
        if len(alone):
            lines.append("Single features that can flip the decision alone:")
            for _, r in alone.sort_values("distance").iterrows():
                flag = "  [outside the training range]" if r["outside_range"] else ""
                lines.append(f"  {r['change']} (distance {r['distance']:.4g}){flag}")
        else:
            lines.append("No single feature can flip the decision alone.")
        if len(self.pairs):
            ok = self.pairs[self.pairs["can_flip"]]
            lines.append(f"{len(ok)} of {len(self.pairs)} feature pairs can flip it.")
        for _, r in self.groups.iterrows():
            verdict = f"can flip it ({r['change']})" if r["can_flip"] else "cannot flip it"
            lines.append(f"Group {r['features']}: {verdict}")
        return "\n".join(lines)

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Distance needed by each single feature that can flip the decision alone."""
        import matplotlib.pyplot as plt

        max_display = check_int(max_display, "max_display", low=1)
        df = self.singles[self.singles["can_flip"]].sort_values("distance") if len(
            self.singles) else self.singles
        df = df.head(max_display).iloc[::-1]
        own = ax is None
        if own:
            _, ax = plt.subplots(figsize=(6, 0.4 * max(len(df), 1) + 1.2))
        colors = [shap.plots.colors.red_rgb if not o else shap.plots.colors.gray_rgb
                  for o in df["outside_range"]] if len(df) else []
        ax.barh(range(len(df)), df["distance"] if len(df) else [], color=colors)
        ax.set_yticks(range(len(df)))
        ax.set_yticklabels(list(df["features"]) if len(df) else [])
        ax.axvline(self.flip.distance[0], color=shap.plots.colors.blue_rgb, ls="--", lw=1,
                   label="unconstrained")
        ax.set_xlabel("distance to the flip point (grey: outside the training range)")
        ax.set_title("Single features that flip the decision")
        ax.legend(loc="lower right")
        if own and show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        def table(df: pd.DataFrame, cols: list) -> str:
            if not len(df):
                return "<p>(none)</p>"
            head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(_fmt(r[c]))}</td>" for c in cols) + "</tr>"
                for _, r in df.iterrows())
            return f"<table><tr>{head}</tr>{body}</table>"

        alone = self.singles[self.singles["can_flip"]] if len(self.singles) else self.singles
        pairs = self.pairs[self.pairs["can_flip"]] if len(self.pairs) else self.pairs
        summary = html.escape(self.to_text().splitlines()[0])
        return (
            "<div class='shap-debug flip-report'>"
            f"<p><b>Flip point</b>: {summary}</p>"
            + table(self.changes, ["feature", "value", "flip_value", "outside_range"])
            + "<p><b>Single features that can flip the decision</b></p>"
            + table(alone.sort_values("distance") if len(alone) else alone,
                    ["features", "distance", "change", "outside_range"])
            + f"<p><b>Pairs that can flip it</b> ({len(pairs)} of {len(self.pairs)})</p>"
            + table(pairs.sort_values("distance").head(10) if len(pairs) else pairs,
                    ["features", "distance", "change"])
            + ("<p><b>Feature groups</b></p>" + table(self.groups, ["features", "can_flip",
                                                                     "distance", "change"])
               if len(self.groups) else "")
            + "</div>")


def individual_report(flip_points: FlipPoints, x: Any, *, target: Any = None,
                      encoder: Any = None, decode: Callable | None = None,
                      feature_groups: dict | None = None, pairs: bool = True,
                      max_pairs: int | None = None, **constraints: Any) -> IndividualReport:
    """Flip-point report of one input.

    Parameters
    ----------
    flip_points : FlipPoints
        Built on the model (``data=`` training rows enables the range flags).
    x : array-like of shape (1, m) or (m,), tensor, DataFrame row
        The input, in the model's (encoded) feature space.
    target : int, optional
        Class to flip to (default: the closest other class).
    encoder : FrameEncoder, optional
        The one-hot encoder of the data: its raw columns become the report's features (a
        categorical column moves as one unit) and its ``groups_`` the one-hot groups.
    decode : callable, optional
        Maps encoded rows (k, m) to a DataFrame of original units and labels (e.g. undo
        scaling then ``encoder.inverse_transform``). Default ``encoder.inverse_transform``.
    feature_groups : dict of name -> list of features, optional
        User-defined groups to test together (names of raw columns when ``encoder`` is
        given, else flat feature names or indices).
    pairs : bool
        Also test every pair of features (``max_pairs`` caps how many).
    **constraints
        Passed to :meth:`FlipPoints.find` (``bounds``, ``integer``, ``immutable``,
        ``weights``, ``onehot_groups``). ``features`` is set by the report itself.

    Returns
    -------
    IndividualReport

    Examples
    --------
    >>> import torch
    >>> from captum_ext.flip_points import FlipPoints
    >>> net = torch.nn.Linear(3, 2)
    >>> rep = individual_report(FlipPoints(net, progress=False), torch.randn(1, 3))
    >>> list(rep.singles.columns)[:3]
    ['features', 'can_flip', 'distance']
    """
    if not isinstance(flip_points, FlipPoints):
        raise TypeError(f"flip_points must be a FlipPoints; got {type(flip_points).__name__}")
    if "features" in constraints:
        raise TypeError("individual_report sets features itself; pass immutable= instead")
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    if isinstance(x, np.ndarray) and x.ndim == 1:
        x = x.reshape(1, -1)
    X = _as_matrix(x, "x")
    if X.shape[0] != 1:
        raise ValueError(f"x must be one row; got {X.shape[0]}")
    m = X.shape[1]
    names = flip_points.feature_names or [f"Feature {j}" for j in range(m)]
    if encoder is not None and "onehot_groups" not in constraints:
        constraints["onehot_groups"] = _onehot_from_encoder(encoder)
    if decode is None and encoder is not None:
        decode = encoder.inverse_transform
    units = _units(names, encoder, constraints.get("onehot_groups"))
    immutable = set(check_columns(constraints.get("immutable"), names, "immutable")
                    ) if constraints.get("immutable") is not None else set()
    movable = {u: c for u, c in units.items() if not immutable.intersection(c)}
    base = flip_points.find(X, target, **constraints)
    t = int(base.target_class[0]) if base.valid[0] or target is None else int(
        np.atleast_1d(target)[0])
    data = flip_points.data
    lo = data.min(axis=0) if data is not None else np.full(m, -np.inf)
    hi = data.max(axis=0) if data is not None else np.full(m, np.inf)

    def outside(xh: np.ndarray, cols: list) -> bool:
        return bool(((xh[cols] < lo[cols] - 1e-9) | (xh[cols] > hi[cols] + 1e-9)).any())

    def solve(label: str, unit_list: list) -> dict:
        cols = sorted(c for u in unit_list for c in movable[u])
        res = flip_points.find(X, None if target is None else target, features=cols,
                               **constraints)
        ok = bool(res.valid[0])
        text = ""
        if ok:
            ch, old, new = _describe(X[0], res.x_hat[0], units, decode, names)
            text = ", ".join(f"{u}: {_fmt(o)} → {_fmt(nw)}" for u, o, nw in zip(ch, old, new))
        return {"features": label, "can_flip": ok, "distance": float(res.distance[0]),
                "status": str(res.status[0]), "change": text or str(res.message[0]),
                "outside_range": ok and outside(res.x_hat[0], cols)}

    cols_out = ["features", "can_flip", "distance", "status", "change", "outside_range"]
    singles = pd.DataFrame([solve(u, [u]) for u in movable], columns=cols_out)
    pair_rows = []
    if pairs:
        combos = list(itertools.combinations(movable, 2))
        if max_pairs is not None:
            combos = combos[: check_int(max_pairs, "max_pairs", low=0)]
        pair_rows = [solve(f"{a} + {b}", [a, b]) for a, b in combos]
    group_rows = []
    for gname, members in (feature_groups or {}).items():
        unit_list = []
        for f in members:
            key = str(f) if str(f) in units else None
            if key is None:
                key = names[check_columns([f], names, "feature_groups")[0]]
            if key not in movable:
                raise ValueError(f"feature_groups[{gname!r}]: {f!r} is immutable or unknown")
            unit_list.append(key)
        group_rows.append(solve(str(gname), unit_list))
    if base.valid[0]:
        ch, old, new = _describe(X[0], base.x_hat[0], units, decode, names)
        changes = pd.DataFrame({
            "feature": ch, "value": old, "flip_value": new,
            "change": [float(np.abs(base.x_hat[0, units[u]] - X[0, units[u]]).sum())
                       if len(units[u]) > 1 else float(base.x_hat[0, units[u][0]] - X[0, units[u][0]])
                       for u in ch],
            "outside_range": [outside(base.x_hat[0], units[u]) for u in ch]})
    else:
        changes = pd.DataFrame(columns=["feature", "value", "flip_value", "change",
                                        "outside_range"])
    return IndividualReport(flip=base, changes=changes, singles=singles,
                            pairs=pd.DataFrame(pair_rows, columns=cols_out),
                            groups=pd.DataFrame(group_rows, columns=cols_out),
                            original_class=int(base.original_class[0]), target_class=t)


# --------------------------------------------------------------------------- group audit
@dataclass(frozen=True)
class GroupAudit:
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

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Change rate per feature (split into increases and decreases), QR order."""
        import matplotlib.pyplot as plt

        max_display = check_int(max_display, "max_display", low=1)
        order = self.qr_order[:max_display][::-1]
        own = ax is None
        if own:
            _, ax = plt.subplots(figsize=(6, 0.4 * len(order) + 1.2))
        y = np.arange(len(order))
        ax.barh(y, self.increase_rate[order], color=shap.plots.colors.red_rgb, label="increase")
        ax.barh(y, -self.decrease_rate[order], color=shap.plots.colors.blue_rgb, label="decrease")
        ax.set_yticks(y)
        ax.set_yticklabels([self.feature_names[j] for j in order])
        ax.axvline(0, color="#999999", lw=0.8)
        ax.set_xlabel("share of flip points changing the feature")
        ax.set_title(f"Flip directions, {int(self.result.valid.sum())} rows (QR order)")
        ax.legend(loc="lower right")
        if own and show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        df = self.to_frame().head(10)
        body = "".join(
            f"<tr><td>{int(r['qr_rank'])}</td><td>{html.escape(str(r['feature']))}</td>"
            f"<td>{r['change_rate']:.0%}</td><td>{r['increase_rate']:.0%} / "
            f"{r['decrease_rate']:.0%}</td><td>{r['pca_loading']:+.3f}</td></tr>"
            for _, r in df.iterrows())
        prot = ""
        if self.protected is not None:
            prot = (f"<p>{self.protected_changed} of {self.protected_total} flip points change "
                    f"the protected attribute <b>{html.escape(self.protected)}</b>.</p>")
        return ("<div class='shap-debug flip-audit'>"
                f"<p><b>Group flip-point audit</b>: {int(self.result.valid.sum())} of "
                f"{len(self.result)} rows with a verified flip point; the dominant direction "
                f"explains {self.explained:.0%}.</p>{prot}"
                "<table><tr><th>QR rank</th><th>feature</th><th>changes</th>"
                f"<th>up / down</th><th>PC1</th></tr>{body}</table></div>")


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
@dataclass(frozen=True)
class DependencyResult:
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

    def plot(self, max_display: int = 30, ax: Any = None, show: bool = True):
        """``|R_kk|`` in pivot order on a log scale; dependent columns in grey."""
        import matplotlib.pyplot as plt

        df = self.to_frame().head(check_int(max_display, "max_display", low=1))
        own = ax is None
        if own:
            _, ax = plt.subplots(figsize=(7, 3))
        colors = [shap.plots.colors.gray_rgb if d else shap.plots.colors.blue_rgb
                  for d in df["dependent"]]
        ax.bar(range(len(df)), np.maximum(df["r_diag"], 1e-16), color=colors)
        ax.set_yscale("log")
        ax.set_xticks(range(len(df)))
        ax.set_xticklabels(df["feature"], rotation=90, fontsize=7)
        ax.set_ylabel("|R_kk| (pivoted QR)")
        ax.set_title(f"rank {self.rank}; condition {self.condition:.3g} -> "
                     f"{self.condition_independent:.3g}")
        if own and show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        dep = ", ".join(html.escape(d) for d in self.dependent[:20]) or "none"
        return ("<div class='shap-debug flip-dependency'><p><b>Feature dependency</b>: rank "
                f"{self.rank} of {len(self.feature_names)}; condition number "
                f"{self.condition:.3g} (→ {self.condition_independent:.3g} without the "
                f"dependent columns). Dependent: {dep}</p></div>")


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


# --------------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class AugmentationResult:
    """Before/after numbers of retraining with flip points added (Credit/age experiment)."""

    feature: str
    n_rows: int
    n_added: int
    accuracy_before: float
    accuracy_after: float
    rank_before: int
    rank_after: int
    change_rate_before: float
    change_rate_after: float
    model_after: Any = field(repr=False)
    audit_before: GroupAudit = field(repr=False)
    audit_after: GroupAudit = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "": ["test accuracy", f"influence rank of {self.feature} (pivoted QR)",
                 f"share of flip points changing {self.feature}"],
            "before": [self.accuracy_before, self.rank_before, self.change_rate_before],
            "after": [self.accuracy_after, self.rank_after, self.change_rate_after],
        }).set_index("")

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Change rate per feature before and after (top features by QR order before)."""
        import matplotlib.pyplot as plt

        names = self.audit_before.feature_names
        order = self.audit_before.qr_order[: check_int(max_display, "max_display", low=1)][::-1]
        own = ax is None
        if own:
            _, ax = plt.subplots(figsize=(6, 0.45 * len(order) + 1.2))
        y = np.arange(len(order))
        ax.barh(y + 0.2, self.audit_before.change_rate[order], height=0.4,
                color=shap.plots.colors.gray_rgb, label="before")
        ax.barh(y - 0.2, self.audit_after.change_rate[order], height=0.4,
                color=shap.plots.colors.red_rgb, label="after")
        ax.set_yticks(y)
        ax.set_yticklabels([names[j] for j in order])
        ax.set_xlabel("share of flip points changing the feature")
        ax.set_title(f"Augmenting {self.n_added} flip points in {self.feature}")
        ax.legend(loc="lower right")
        if own and show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        f = html.escape(self.feature)
        return ("<div class='shap-debug flip-augment'>"
                f"<p><b>Augmentation with {self.n_added} flip points in {f}</b> "
                f"(from {self.n_rows} rows)</p><table><tr><th></th><th>before</th>"
                f"<th>after</th></tr><tr><td>test accuracy</td><td>{self.accuracy_before:.4f}"
                f"</td><td>{self.accuracy_after:.4f}</td></tr><tr><td>QR influence rank of "
                f"{f}</td><td>{self.rank_before}</td><td>{self.rank_after}</td></tr>"
                f"<tr><td>flip points changing {f}</td><td>{self.change_rate_before:.0%}</td>"
                f"<td>{self.change_rate_after:.0%}</td></tr></table></div>")


def augment_with_flip_points(model: Any, X_train: Any, y_train: Any, X_test: Any, y_test: Any,
                             feature: Any, *, rows: Any = None, feature_names: Sequence[str] |
                             None = None, audit_rows: int = 200, flip_options: dict | None = None,
                             random_state: Any = 0, **constraints: Any) -> AugmentationResult:
    """Debug by augmentation: add flip points constrained to one feature and retrain.

    For each selected training row, the flip point that moves only ``feature`` is found; the
    verified ones are added to the training set with the row's own label, a clone of
    ``model`` is refitted, and test accuracy plus the feature's influence rank (pivoted QR of
    the flip directions of ``audit_rows`` test rows) are compared before and after.
    Yousefzadeh & O'Leary used this to make a credit model less sensitive to ``age``;
    measured here, adding all anomalies' flip points on Adult lowered test accuracy
    slightly, so read the numbers rather than expect a gain.

    Parameters
    ----------
    model : fitted scikit-learn classifier
        Refitted with ``sklearn.base.clone`` (an ``MLPClassifier`` takes the exact path).
    X_train, y_train, X_test, y_test : encoded numeric data and labels
    feature : name or index
        The only feature the flip points move.
    rows : indices into ``X_train``, optional
        Rows to augment (e.g. the anomalies). Default: the training rows the model
        misclassifies.
    feature_names : sequence of str, optional
    audit_rows : int
        Test rows used for the influence ranking.
    flip_options : dict, optional
        Keyword arguments of :class:`FlipPoints` (``tol``, ``max_iter``...).
    random_state : int or Generator
    **constraints
        Passed to :meth:`FlipPoints.find` (``bounds``, ``onehot_groups``...).

    Returns
    -------
    AugmentationResult
    """
    Xtr, ytr = check_X_y(X_train, y_train, x_name="X_train", y_name="y_train")
    Xte, yte = check_X_y(X_test, y_test, x_name="X_test", y_name="y_test")
    Xtr, Xte = _as_matrix(Xtr, "X_train"), _as_matrix(Xte, "X_test")
    if Xte.shape[1] != Xtr.shape[1]:
        raise ValueError(f"X_test has {Xte.shape[1]} columns but X_train has {Xtr.shape[1]}")
    m = Xtr.shape[1]
    if feature_names is None and isinstance(X_train, pd.DataFrame):
        feature_names = [str(c) for c in X_train.columns]
    names = [str(f) for f in feature_names] if feature_names is not None else [
        f"Feature {j}" for j in range(m)]
    j = check_columns([feature], names, "feature")[0]
    audit_rows = check_int(audit_rows, "audit_rows", low=1)
    rng = check_random_state(random_state)
    if rows is None:
        rows = np.flatnonzero(predict_labels(model, Xtr) != ytr)
    rows = check_indices(rows, len(Xtr), "rows")
    clone_model(model)  # fail early when the model cannot be refitted
    opts = {"progress": False, **(flip_options or {})}
    opts.setdefault("random_state", seed_from(rng))
    audit_idx = rng.choice(len(Xte), size=min(audit_rows, len(Xte)), replace=False)

    def make(mdl):
        return FlipPoints(mdl, data=Xtr, feature_names=names, **opts)

    fp = make(model)
    before = group_audit(fp, Xte[audit_idx], **constraints)
    if len(rows):
        res = fp.find(Xtr[rows], features=[j], **constraints)
        ok = res.valid
        X_add, y_add = res.x_hat[ok], ytr[rows][ok]
    else:
        warn("no rows to augment; the model is refitted on the original data")
        X_add, y_add = np.empty((0, m)), ytr[:0]
    new = clone_model(model)
    if "random_state" in new.get_params():
        new.set_params(random_state=seed_from(rng) if model.get_params().get(
            "random_state") is None else model.get_params()["random_state"])
    new.fit(np.vstack([Xtr, X_add]), np.concatenate([ytr, y_add]))
    after = group_audit(make(new), Xte[audit_idx], **constraints)
    acc_b = float((predict_labels(model, Xte) == yte).mean())
    acc_a = float((predict_labels(new, Xte) == yte).mean())
    return AugmentationResult(
        feature=names[j], n_rows=len(rows), n_added=len(X_add), accuracy_before=acc_b,
        accuracy_after=acc_a, rank_before=before.rank_of(j), rank_after=after.rank_of(j),
        change_rate_before=float(before.change_rate[j]),
        change_rate_after=float(after.change_rate[j]), model_after=new, audit_before=before,
        audit_after=after)
