"""Per-anomaly work of the Debugger: one anomaly's inspection (neighbourhood,
representatives, rules, ALE, flip point and its sparser variants, influential rows) and the
small tables it derives. Numbers and tables only; sentences come from
:mod:`shap_debug.debugger._findings`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import check_int, flip_inputs, warn

__all__ = ["feature_units", "flip_row", "influential_table", "inspect", "pair_flips",
           "recurring_table", "top_units"]

from ._findings import TRIED_COLUMNS


def feature_units(feature_names: Sequence[str], encoder: Any = None) -> dict[str, list[int]]:
    """What a person calls a feature -> the model's columns that encode it.

    Examples
    --------
    >>> feature_units(["a", "b"])
    {'a': [0], 'b': [1]}
    """
    if encoder is not None:
        return {str(k): [int(c) for c in v] for k, v in encoder.groups_.items()}
    return {str(n): [j] for j, n in enumerate(feature_names)}


def top_units(units: Mapping[str, list[int]], contributions: Any, k: int) -> list[str]:
    """The ``k`` features with the largest absolute contribution (summed over their columns).

    Examples
    --------
    >>> top_units({"a": [0], "b": [1], "c": [2]}, [0.1, -0.5, 0.2], 2)
    ['b', 'c']
    """
    c = np.abs(np.asarray(contributions, dtype=np.float64).reshape(-1))
    weight = {u: float(c[cols].sum()) for u, cols in units.items()}
    return sorted(units, key=lambda u: -weight[u])[:k]


def flip_row(label: str, result: Any, units: Mapping[str, list[int]], decode: Any,
             data: np.ndarray | None, cols: Sequence[int]) -> dict[str, Any]:
    """One restricted flip problem as a row of :attr:`SparserFlip.tried`.

    Parameters
    ----------
    label : str
        The features allowed to move, ``"a + b"``.
    result : FlipResult
        The solver's answer for one row (``valid``, ``x``, ``x_hat``, ``distance``,
        ``message``).
    units : dict
        Feature -> columns (:func:`feature_units`).
    decode : callable or None
        Encoded rows -> readable frame.
    data : ndarray or None
        Training rows, for the ``outside_range`` flag.
    cols : sequence of int
        The columns that were free.
    """
    ok = bool(result.valid[0])
    x, xh = np.asarray(result.x[0]), np.asarray(result.x_hat[0])
    text, outside = str(result.message[0]), False
    if ok:
        frame = decode(np.vstack([x, xh])) if decode is not None else None
        parts = []
        for unit, c in units.items():
            if np.abs(xh[c] - x[c]).max() <= 1e-9:
                continue
            if frame is not None and unit in frame.columns:
                old, new = frame[unit].iloc[0], frame[unit].iloc[1]
            else:
                old, new = x[c[0]], xh[c[0]]
            parts.append(f"{unit}: {_fmt(old)} → {_fmt(new)}")
        text = ", ".join(parts)
        if data is not None:
            cols = list(cols)
            lo, hi = data[:, cols].min(axis=0), data[:, cols].max(axis=0)
            outside = bool(((xh[cols] < lo - 1e-9) | (xh[cols] > hi + 1e-9)).any())
    return {"features": label, "can_flip": ok, "distance": float(result.distance[0]),
            "change": text, "outside_range": outside}


def pair_flips(find: Any, units: Mapping[str, list[int]], contributions: Any, decode: Any,
               data: np.ndarray | None, k: int = 4) -> pd.DataFrame:
    """Restricted flip problems for every pair of the ``k`` features that contribute most
    (``k (k - 1) / 2`` solver calls).

    Parameters
    ----------
    find : callable
        ``find(columns) -> FlipResult``: the closest flip point moving only ``columns``.
    units, decode, data
        As in :func:`flip_row`.
    contributions : array (m,)
        The row's contributions, to rank the features (:func:`top_units`).

    Returns
    -------
    DataFrame
        One :func:`flip_row` per pair.
    """
    rows = []
    for a, b in itertools.combinations(top_units(units, contributions, k), 2):
        cols = list(units[a]) + list(units[b])
        rows.append(flip_row(f"{a} + {b}", find(cols), units, decode, data, cols))
    return pd.DataFrame(rows, columns=TRIED_COLUMNS[:1] + TRIED_COLUMNS[2:])


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


# --------------------------------------------------------------------------- tables
def influential_table(frame: pd.DataFrame, X: Any, y: np.ndarray, anomaly: int,
                      rows: Sequence[int], scores: Sequence[float],
                      k: int = 10) -> pd.DataFrame:
    """The influential training rows of an anomaly, the anomaly itself left out.

    Rows whose model inputs equal the anomaly's are kept (they can be the cause: an identical
    row with another label) but marked ``"exact duplicate of the anomaly"`` in the
    ``duplicate`` column.

    Parameters
    ----------
    frame : DataFrame
        Readable training rows.
    X : DataFrame or ndarray
        The model's inputs (compared for exact duplicates).
    y : ndarray
        Training labels.
    anomaly : int
    rows, scores : sequences
        Candidate rows, best first, and their scores.
    k : int
        Rows kept.

    Returns
    -------
    DataFrame
        ``row, label, score, duplicate`` then the readable values.
    """
    rows = np.asarray(rows, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    keep = rows != int(anomaly)
    rows, scores = rows[keep][:k], scores[keep][:k]
    values = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
    same = np.array([np.array_equal(values[r], values[anomaly]) for r in rows], dtype=bool)
    out = frame.iloc[rows].copy()
    out.insert(0, "duplicate", np.where(same, "exact duplicate of the anomaly", ""))
    out.insert(0, "score", scores)
    out.insert(0, "label", y[rows])
    out.insert(0, "row", rows)
    return out.reset_index(drop=True)


def recurring_table(collapsed: Any, frame: pd.DataFrame, y: np.ndarray,
                    k: int = 15) -> pd.DataFrame:
    """The ``k`` rows that recur most in anomaly neighbourhoods (identical rows counted once)
    with their label and readable values."""
    top = collapsed.to_frame().head(k).reset_index(drop=True)
    rows = top["row"].to_numpy()
    values = frame.iloc[rows].reset_index(drop=True)
    values.insert(0, "label", y[rows])
    return pd.concat([top, values], axis=1)




# --------------------------------------------------------------------------- one anomaly
def inspect(dbg: Any, i: int) -> Any:
    """Inspect training row ``i`` of Debugger ``dbg`` (its cache is reused and filled).

    Returns
    -------
    Inspection
    """
    from ..explanations import select_representatives
    from ..explanations.ale import ale_bias, neighborhood_ale
    from ..explanations.rules import rule_table
    from ._findings import note_text
    from ._values import Inspection

    nm = dbg.neighborhood_model
    i = check_int(i, "i", low=0, high=len(dbg.X) - 1)
    if i not in set(np.asarray(nm.anomalies_).tolist()):
        warn(f"row {i} is predicted correctly; inspecting it anyway")
    key = f"inspect_{i}"
    if key in dbg._cache:
        return dbg._cache[key]
    t0 = time.perf_counter()
    nb = nm.neighbors(i)
    reps = select_representatives(
        nm.contributions_[nb.indices], budget=min(dbg.budget, len(nb.indices)),
        n_top_features=dbg.n_top_features, indices=nb.indices,
        feature_names=dbg.feature_names, random_state=dbg._seed)
    rules = rule_table(dbg._rule_explainer(), i, reps, dbg.y)
    frame = dbg.readable_frame()
    target = int(nm.predicted_[i])
    ale = neighborhood_ale(dbg._frame_model(), frame.iloc[nb.indices], target=target,
                           anomaly=frame.iloc[i], progress=False)
    ale_glob = dbg.global_ale(target)
    bias = ale_bias(ale, ale_glob, protected=dbg.protected or None)
    notes = []
    flip = sparser = None
    try:
        flip, sparser = closest_flip(dbg, i)
    except Exception as exc:  # a failed search is reported, never hidden
        notes.append(note_text("flip_failed", reason=f"{type(exc).__name__}: {exc}"))
    influential, method = influential_rows(dbg, i, nb)
    ins = Inspection(
        anomaly=i, true_label=dbg.y[i], predicted_label=nm.predicted_labels_[i],
        confidence=float(nm.proba_[i, nm.predicted_[i]]), row=frame.iloc[i],
        neighborhood=nb, representatives=reps, rules=rules, ale=ale, ale_global=ale_glob,
        bias=bias, flip=flip, influential=influential, influence_method=method,
        notes=tuple(notes), sparser=sparser)
    dbg._cache[key] = ins
    dbg.timings[key] = time.perf_counter() - t0
    return ins


def closest_flip(dbg: Any, i: int) -> tuple[Any, Any]:
    """The closest flip point of row ``i`` (distances in training standard deviations)
    and whether a sparser change flips it too: single features, then pairs of the four
    that contribute most when no single one does (six solver calls)."""
    from captum_ext.flip_audit import individual_report
    from captum_ext.flip_points import FlipPoints

    from ._findings import sparser_flip

    fin = flip_inputs(dbg.model, dbg.X, i, dbg.feature_names, dbg.encoder)  # raw frames
    fp = FlipPoints(fin.model, feature_names=dbg.feature_names, data=fin.data,
                    random_state=dbg._seed, progress=False)
    x, decode = fin.x, fin.decode  # as codes, NaN held fixed
    std = fp.data.std(axis=0)
    weights = 1.0 / np.where(std > 0, std, 1.0) ** 2
    flip = individual_report(fp, x, encoder=dbg.encoder, decode=decode, pairs=False,
                             weights=weights, immutable=fin.immutable or None)
    units = feature_units(dbg.feature_names, dbg.encoder)
    onehot = {u: c for u, c in units.items() if len(c) > 1} or None
    pairs = None
    if (flip.flip.valid[0] and len(flip.changes) > 2
            and not flip.singles["can_flip"].astype(bool).any()):
        pairs = pair_flips(_Finder(fp, x, weights, onehot), units,
                           dbg.neighborhood_model.contributions_[i], decode, fp.data)
    return flip, sparser_flip(flip.changes, float(flip.flip.distance[0]), flip.singles,
                              pairs)


class _Finder:
    """``find(columns)``: the closest flip point of ``x`` moving only ``columns``."""

    def __init__(self, fp: Any, x: Any, weights: Any, onehot: Any) -> None:
        self.fp, self.x, self.weights, self.onehot = fp, x, weights, onehot

    def __call__(self, cols: Sequence[int]) -> Any:
        return self.fp.find(self.x, features=cols, weights=self.weights,
                            onehot_groups=self.onehot)


def influence_function(model: Any, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray] | None:
    """An InfluenceFunction and the matrix it was fitted on, when the model (or a
    Pipeline's last step) is one it supports; None otherwise. The capability is asked of
    the model (fitted linear weights ``coef_`` or layers ``coefs_``) and of
    :class:`captum_ext.influence.InfluenceFunction` (it refuses other models)."""
    from captum_ext.influence import InfluenceFunction

    if hasattr(model, "steps"):
        X = model[:-1].transform(X)
        model = model.steps[-1][1]
    if not (hasattr(model, "coef_") or hasattr(model, "coefs_")):
        return None
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    curvature = "cg" if len(getattr(model, "coefs_", ())) > 1 else "exact"
    try:
        return InfluenceFunction(model, X, y, curvature=curvature, damping=0.01,
                                 allow_nonsmooth=True, progress=False), X
    except TypeError:  # not a model influence functions can differentiate
        return None
    except ValueError as exc:
        warn(f"influence functions unavailable for this model: {exc}")
        return None


def influential_rows(dbg: Any, i: int, nb: Any, k: int = 10) -> tuple[pd.DataFrame, str]:
    """The ``k`` most influential training rows of anomaly ``i`` and how they were ranked
    (influence functions where the model allows them, else the nearest neighbours)."""
    from ._findings import influence_method_text

    inf = dbg._influence()
    if inf is not None:
        fn, Xt = inf
        res = fn.influence((Xt[[i]], dbg.y[[i]]), k=k + 1)
        rows = np.asarray(res.indices[0]).astype(int)
        scores = np.asarray(res.influence_scores[0], dtype=np.float64)
        method = influence_method_text("influence")
    else:
        rows = np.asarray(nb.indices[:k + 1])
        scores = np.asarray(nb.distances[:k + 1], dtype=np.float64)
        method = influence_method_text("neighbours", model=type(dbg.model).__name__)
    return influential_table(dbg.readable_frame(), dbg.X, dbg.y, i, rows, scores,
                             k), method
