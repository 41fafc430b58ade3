"""Candidate fixes from detector signals (:func:`shap_debug.audit.scan`): drop a column,
upsample a cohort, recode a sentinel, refit with other parameters, drop conflicting
duplicates. :func:`~shap_debug.fixes.verify_fixes` then measures each on held-out rows
(pass them as ``actions=[..., *signal_actions(signals, X, y)]`` with a test split)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..audit import Signal, duplicate_groups
from ._actions import FixAction, _fill_values, feature_columns

__all__ = ["signal_actions"]


def _positions(X: Any, labels: Sequence[Any]) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        pos = X.index.get_indexer(list(labels))
        return np.sort(pos[pos >= 0])
    return np.sort(np.asarray(list(labels), dtype=np.int64))


def _names(X: Any) -> list[str]:
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"Feature {j}" for j in range(np.asarray(X).shape[1])]


def _duplicates_action(X: Any, y: np.ndarray, name: str) -> FixAction | None:
    gid = duplicate_groups(X)
    drop: list[int] = []
    for g in np.unique(gid[np.bincount(gid)[gid] > 1]):
        rows = np.flatnonzero(gid == g)
        labs, inv, counts = np.unique(y[rows], return_inverse=True, return_counts=True)
        if len(labs) < 2:
            continue
        if counts.max() * 2 > len(rows):  # keep the majority label's rows
            drop.extend(rows[inv != counts.argmax()].tolist())
        else:
            drop.extend(rows.tolist())
    if not drop:
        return None
    return FixAction.drop(name, np.sort(drop), family="drop conflicting duplicates",
                          note="identical rows with different labels: minority labels "
                               "dropped, evenly split groups dropped whole")


def signal_actions(signals: Sequence[Signal], X: Any, y: Any, *, encoder: Any = None,
                   include_suspected: bool = False) -> list[FixAction]:
    """One :class:`FixAction` per signal with a fix family (confirmed signals only unless
    ``include_suspected``), in the signals' order; duplicate names are built once.

    Parameters
    ----------
    signals : sequence of Signal
        From :func:`shap_debug.audit.scan` on the same ``X, y``.
    X, y : the training rows the fixes change (in the form the model takes)
    encoder : FrameEncoder, optional
        When ``X`` is an encoded matrix, to find a readable feature's columns.

    Returns
    -------
    list of FixAction

    Examples
    --------
    >>> import numpy as np
    >>> from shap_debug.audit import Signal
    >>> s = Signal("sentinel", features=("Feature 0",), verdict="confirmed",
    ...            fix="recode sentinel", fix_params={"feature": "Feature 0",
    ...                                                "value": -999.0, "replacement": 1.0})
    >>> [a.kind for a in signal_actions([s], np.zeros((5, 2)), np.array([0, 1, 0, 1, 0]))]
    ['recode']
    """
    y = np.asarray(y)
    names = _names(X)
    out: dict[str, FixAction] = {}
    for s in signals:
        if not isinstance(s, Signal):
            raise TypeError(f"signals must hold Signal values; got {type(s).__name__}")
        if s.fix is None or (s.verdict != "confirmed" and not include_suspected):
            continue
        p = s.fix_params
        if s.fix == "drop feature":
            f = p.get("feature", s.features[0] if s.features else None)
            name = f"drop feature {f}"
            if f is None or name in out:
                continue
            cols = feature_columns(f, X, names, encoder)
            out[name] = FixAction(name, "neutralise", family="drop feature", target=f,
                                  columns=tuple(cols), fill=_fill_values(X, cols, encoder, f),
                                  note=f"{s.kind}: the column set to one constant in "
                                       "training and held-out rows")
        elif s.fix == "recode sentinel":
            f = p["feature"]
            name = f"recode {p['value']:g} in {f}"
            cols = feature_columns(f, X, names, encoder)
            out[name] = FixAction.recode(name, cols[:1], [p["value"]], [p["replacement"]],
                                         family="recode sentinel", target=f,
                                         note="the sentinel set to the median of the "
                                              "column's other training values")
        elif s.fix == "upsample cohort":
            rows = _positions(X, s.rows)
            if len(rows) == 0:
                continue
            times = int(p.get("times", 1))
            name = f"upsample cohort {s.rule}" if s.rule else "upsample cohort"
            out[name] = FixAction.upsample(name, rows, X, y, times, family="upsample cohort",
                                           target=str(s.rule or "rows"),
                                           note=f"the cohort's {len(rows)} training rows "
                                                f"repeated {times} more times")
        elif s.fix in ("regularise", "add capacity"):
            params = dict(p.get("params", {}))
            if not params:
                continue
            name = f"{s.fix}: " + ", ".join(f"{k}={v}" for k, v in params.items())
            out[name] = FixAction.refit_params(name, params, family=s.fix,
                                               target="model", note="chosen on a validation "
                                               "split of the training rows")
        elif s.fix == "drop conflicting duplicates":
            # not the name of the automatic family's action, so both may be verified
            name = "drop identical rows with conflicting labels"
            act = None if name in out else _duplicates_action(X, y, name)
            if act is not None:
                out[name] = act
    return list(out.values())
