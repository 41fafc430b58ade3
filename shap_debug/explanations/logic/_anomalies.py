"""Debugging uses of logic explanations: what the anomalies (or a neighbourhood) have in
common compared with the other rows, as one short formula over readable concepts."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ...core import ShapDebugWarning, check_frame_or_array, check_indices, check_int, check_option
from ._formula import Formula, _check_concepts
from ._methods import METHODS, LogicExplanation, explain_formula


def _concepts_for(X: Any, encoder: Any, n_bins: int):
    """Concept matrix, names and exclusive groups for raw features or a concept frame."""
    if isinstance(X, pd.DataFrame) and len(X.columns) and all(
            pd.api.types.is_bool_dtype(X[c]) for c in X.columns) and encoder is None:
        return (*_check_concepts(X, None, "X"), None)
    if encoder is not None:
        frame = encoder.transform(X)
    else:
        from ._concepts import to_concepts

        frame, encoder = to_concepts(X, n_bins=n_bins)
    return (*_check_concepts(frame, None, "X"), encoder.groups_)


def _mask(value: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"{name} must be a boolean mask of length {n}; got shape {arr.shape}")
        return arr
    out = np.zeros(n, dtype=bool)
    out[check_indices(arr, n, name)] = True
    return out


def anomaly_formula(X: Any, is_anomaly: Any, *, reference: Any = None, method: str = "tree",
                    n_bins: int = 3, encoder: Any = None, min_anomalies: int = 5,
                    random_state: int | np.random.Generator | None = None, **params: Any) -> LogicExplanation:
    """What, in plain logic, the anomalous rows have in common compared with the others.

    The method learns "anomaly or not" on the anomalies and the reference rows (by default
    every other row; pass the rows the model gets right to contrast with those). Anomalies are
    usually rare, so the default tree weighs both groups equally (``class_weight="balanced"``):
    a term is kept when the anomalies' share among the rows it covers is above their share
    overall. When the asked method gives no formula (``True``/``False``) or one that is no
    better than chance, a balanced tree two levels deeper is tried.

    When no such formula exists (no anomaly, fewer than ``min_anomalies``, no reference row,
    or every fit is a constant) the result is *trivial*: ``is_trivial`` is True, ``reason``
    says why in one sentence and what would give a formula, the metrics are NaN, and its
    ``_repr_html_`` shows that sentence. No exception is raised for these cases.

    Parameters
    ----------
    X : DataFrame or array
        Raw features (turned into concepts with :func:`~shap_debug.explanations.logic._concepts.to_concepts`,
        or ``encoder.transform``), or an all-boolean concept frame used as is.
    is_anomaly : boolean mask of length n, or row indices
        The rows to describe (e.g. ``NeighborhoodModel`` anomalies, misclassified rows).
    reference : boolean mask or row indices, optional
        The rows to contrast with (e.g. the correctly predicted rows); by default every row
        that is not an anomaly. Other rows are left out.
    method : str, default "tree"
        As in :func:`explain_formula`; with ``"tree"`` the defaults are ``max_depth=3``,
        ``min_samples_leaf`` 1 % of the rows and ``class_weight="balanced"``.
    n_bins : int
        Bins per numeric column when concepts are built here.
    encoder : ConceptEncoder, optional
        A fitted encoder to reuse.
    min_anomalies : int, default 5
        Fewest anomalies worth describing; with fewer the result is trivial.
    random_state : int or Generator
    **params
        Method parameters.

    Returns
    -------
    LogicExplanation
        ``target_class`` is True (anomaly); metrics, ``precision``, ``recall`` and
        ``base_rate`` are measured on the anomalies and the reference rows (``lift`` > 1: the
        formula picks out anomalies better than chance).

    Examples
    --------
    >>> from shap_debug.datasets import german
    >>> X, y = german()
    >>> odd = ((X["housing"] == "rent") & (X["job"] == "unskilled resident")).to_numpy()
    >>> res = anomaly_formula(X, odd)
    >>> str(res.formula), res.explanation_accuracy
    ('housing=rent & job=unskilled resident', 1.0)
    >>> anomaly_formula(X, odd & False).reason
    'There are no anomalies to describe; a formula needs at least 5 of them (e.g. rows the model gets wrong).'
    """
    return _describe(X, is_anomaly, reference, "is_anomaly", ("anomaly", "anomalies"),
                     method=method, n_bins=n_bins, encoder=encoder, min_rows=min_anomalies,
                     random_state=random_state, params=params)


def neighborhood_formula(X: Any, members: Any, *, method: str = "tree", n_bins: int = 3,
                         encoder: Any = None, min_members: int = 5, random_state: int | np.random.Generator | None = None,
                         **params: Any) -> LogicExplanation:
    """What sets a neighborhood (e.g. ``NeighborhoodModel.neighbors(i)``) apart from the rest
    of the rows, as a DNF over concepts.

    Parameters
    ----------
    X : DataFrame or array
        Raw features or an all-boolean concept frame.
    members : row indices or boolean mask
        The neighborhood.
    method, n_bins, encoder, random_state, **params
        As in :func:`anomaly_formula`.
    min_members : int, default 5
        Fewest members worth describing; with fewer (or when every row is a member, or no
        fit gives a non-constant formula) the result is trivial, with a ``reason``.

    Returns
    -------
    LogicExplanation
        ``target_class`` is True (member of the neighborhood).

    Examples
    --------
    >>> from shap_debug.datasets import german
    >>> X, y = german()
    >>> res = neighborhood_formula(X, (X["age"] < 25).to_numpy().nonzero()[0])
    >>> "age_LOW" in res.formula.concepts
    True
    """
    return _describe(X, members, None, "members", ("neighbourhood member",
                                                    "neighbourhood members"),
                     method=method, n_bins=n_bins, encoder=encoder, min_rows=min_members,
                     random_state=random_state, params=params)


def _describe(X: Any, target: Any, reference: Any, name: str, words: tuple[str, str], *,
              method: str, n_bins: int, encoder: Any, min_rows: int, random_state: Any,
              params: dict[str, Any]) -> LogicExplanation:
    """The shared body of :func:`anomaly_formula` and :func:`neighborhood_formula`."""
    check_option(method, "method", METHODS)
    n_bins = check_int(n_bins, "n_bins", low=2)
    min_rows = check_int(min_rows, "min_" + words[1].split()[-1], low=1)
    X = check_frame_or_array(X, "X", allow_nan=True)
    n = len(X)
    inside = _mask(target, n, name)
    ref = ~inside if reference is None else _mask(reference, n, "reference") & ~inside
    one, many = words
    n_in, n_ref = int(inside.sum()), int(ref.sum())

    def trivial(reason: str) -> LogicExplanation:
        nan = float("nan")
        return LogicExplanation(
            formula=Formula(), method=method, target_class=True, model_accuracy=nan,
            explanation_accuracy=nan, fidelity=nan, complexity=0, time=0.0,
            n_rows=n_in + n_ref, n_target=n_in, evaluated_on="train", reason=reason)

    if n_in == 0:
        hint = ("e.g. rows the model gets wrong" if one == "anomaly"
                else "the row indices of a neighbourhood")
        return trivial(f"There are no {many} to describe; a formula needs at least "
                       f"{min_rows} of them ({hint}).")
    if n_in < min_rows:
        return trivial(f"Only {n_in} {one if n_in == 1 else many}, too few to say what they "
                       f"have in common; a formula needs at least {min_rows} (more data, or a "
                       f"lower min_{many.split()[-1]}).")
    if n_ref == 0:
        return trivial((f"Every row is one of the {many}" if reference is None else
                        f"No reference row is outside the {many}")
                       + ", so there are no other rows to contrast them with; pass reference "
                       "rows (e.g. those the model gets right).")
    C, names, groups = _concepts_for(X, encoder, n_bins)
    keep = inside | ref
    Ck, tk = C[keep], inside[keep]
    leaf = max(1, int(0.01 * n))
    tries = [(method, {"max_depth": 3, "min_samples_leaf": leaf, "class_weight": "balanced",
                       **params} if method == "tree" else dict(params))]
    depth = tries[0][1].get("max_depth") if method == "tree" else 3
    deeper = {"max_depth": (depth or 3) + 2, "min_samples_leaf": max(1, leaf // 2),
              "class_weight": "balanced"}
    if (method, deeper) != tries[0]:
        tries.append(("tree", deeper))
    tried = []
    for m, p in tries:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShapDebugWarning)
            res = explain_formula(Ck, tk, m, target_class=True, concept_names=names,
                                  groups=groups, random_state=random_state, **p)
        if not res.is_trivial and res.lift > 1:
            return res
        tried.append(f"{m} (depth {p['max_depth']})" if m == "tree" and p.get("max_depth")
                     else m)
    return trivial(f"No formula over these concepts picks out the {n_in} {many} among the "
                   f"{n_ref} other rows better than chance (tried {', '.join(tried)}); finer "
                   f"concepts (a larger n_bins) or more {many} might give one.")
