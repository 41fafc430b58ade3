"""Individual-level flip-point report (Yousefzadeh & O'Leary 2020, Fig. 2/5), and the helpers
the audits share (feature units, readable changes)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from shap_debug.core import (
    Result,
    check_columns,
    check_frame_or_array,
    check_int,
    section_html,
    table_html,
)

from ..flip_points import FlipPoints, FlipResult

__all__ = ["IndividualReport", "individual_report"]


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


#: columns of every constrained problem's row (singles, pairs, groups)
COLUMNS = ["features", "can_flip", "distance", "status", "change", "outside_range"]


def _solve_units(flip_points: FlipPoints, X: np.ndarray, target: Any, units: dict,
                 movable: dict, decode: Callable | None, names: list, lo: np.ndarray,
                 hi: np.ndarray, constraints: dict, label: str, unit_list: list) -> dict:
    """The closest flip point moving only ``unit_list`` (the other constraints kept), as
    one row of :data:`COLUMNS`."""
    cols = sorted(c for u in unit_list for c in movable[u])
    res = flip_points.find(X, None if target is None else target, features=cols,
                           **constraints)
    ok = bool(res.valid[0])
    text = ""
    if ok:
        ch, old, new = _describe(X[0], res.x_hat[0], units, decode, names)
        text = ", ".join(f"{u}: {_fmt(o)} → {_fmt(nw)}" for u, o, nw in zip(ch, old, new))
    xh = res.x_hat[0]
    outside = ok and bool(((xh[cols] < lo[cols] - 1e-9) | (xh[cols] > hi[cols] + 1e-9)).any())
    return {"features": label, "can_flip": ok, "distance": float(res.distance[0]),
            "status": str(res.status[0]), "change": text or str(res.message[0]),
            "outside_range": outside}


# --------------------------------------------------------------------------- individual
@dataclass(frozen=True, repr=False)
class IndividualReport(Result):
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

    def summary(self) -> dict:
        """Key figures: classes, status and distance of the unconstrained flip point, and how
        many single features / pairs can flip the decision alone."""
        def n_ok(df: pd.DataFrame) -> int:
            return int(df["can_flip"].sum()) if len(df) else 0

        return {"original_class": self.original_class, "target_class": self.target_class,
                "status": str(self.flip.status[0]), "distance": float(self.flip.distance[0]),
                "single_flips": n_ok(self.singles), "pair_flips": n_ok(self.pairs)}

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Distance needed by each single feature that can flip the decision alone
        (:func:`captum_ext.plots._flip.individual_report_plot`)."""
        from ..plots import individual_report_plot

        return individual_report_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        def table(df: pd.DataFrame, cols: list) -> str:
            if not len(df):
                return "<p>(none)</p>"
            return table_html(df[cols].map(_fmt), max_rows=len(df))

        alone = self.singles[self.singles["can_flip"]] if len(self.singles) else self.singles
        pairs = self.pairs[self.pairs["can_flip"]] if len(self.pairs) else self.pairs
        body = (
            table(self.changes, ["feature", "value", "flip_value", "outside_range"])
            + section_html("Single features that can flip the decision", table(
                alone.sort_values("distance") if len(alone) else alone,
                ["features", "distance", "change", "outside_range"]))
            + section_html(f"Pairs that can flip it ({len(pairs)} of {len(self.pairs)})", table(
                pairs.sort_values("distance").head(10) if len(pairs) else pairs,
                ["features", "distance", "change"]))
            + (section_html("Feature groups", table(
                self.groups, ["features", "can_flip", "distance", "change"]))
               if len(self.groups) else ""))
        return section_html("Flip point", body, self.to_text().splitlines()[0])


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
        return _solve_units(flip_points, X, target, units, movable, decode, names, lo, hi,
                            constraints, label, unit_list)

    cols_out = COLUMNS
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
