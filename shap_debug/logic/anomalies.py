"""Debugging uses of logic explanations: what the anomalies (or a neighbourhood) have in
common compared with the other rows, as one short formula over readable concepts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core.validation import check_frame_or_array, check_indices, check_int, check_option
from .formula import _check_concepts
from .methods import METHODS, LogicExplanation, explain_formula


# --------------------------------------------------------------------------------------
def _concepts_for(X: Any, encoder: Any, n_bins: int):
    """Concept matrix, names and exclusive groups for raw features or a concept frame."""
    if isinstance(X, pd.DataFrame) and len(X.columns) and all(
            pd.api.types.is_bool_dtype(X[c]) for c in X.columns) and encoder is None:
        return (*_check_concepts(X, None, "X"), None)
    if encoder is not None:
        frame = encoder.transform(X)
    else:
        from ..concepts import to_concepts

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
                    n_bins: int = 3, encoder: Any = None, random_state: Any = 0,
                    **params: Any) -> LogicExplanation:
    """What, in plain logic, the anomalous rows have in common compared with the others.

    Parameters
    ----------
    X : DataFrame or array
        Raw features (turned into concepts with :func:`~shap_debug.concepts.to_concepts`,
        or ``encoder.transform``), or an all-boolean concept frame used as is.
    is_anomaly : boolean mask of length n, or row indices
        The rows to describe (e.g. ``NeighborhoodModel`` anomalies, misclassified rows).
    reference : boolean mask or row indices, optional
        The rows to contrast with (e.g. the correctly predicted rows); by default every row
        that is not an anomaly. Other rows are left out.
    method : str, default "tree"
        As in :func:`explain_formula`; with ``"tree"`` the depth defaults to 3 to keep the
        formula short.
    n_bins : int
        Bins per numeric column when concepts are built here.
    encoder : ConceptEncoder, optional
        A fitted encoder to reuse.
    **params
        Method parameters.

    Returns
    -------
    LogicExplanation
        ``target_class`` is True (anomaly); metrics are measured on the anomalies and the
        reference rows.

    Examples
    --------
    >>> from shap_debug.datasets import german
    >>> X, y = german()
    >>> odd = ((X["housing"] == "rent") & (X["job"] == "unskilled resident")).to_numpy()
    >>> res = anomaly_formula(X, odd)
    >>> str(res.formula), res.explanation_accuracy
    ('housing=rent & job=unskilled resident', 1.0)
    """
    check_option(method, "method", METHODS)
    n_bins = check_int(n_bins, "n_bins", low=2)
    X = check_frame_or_array(X, "X")
    n = len(X)
    anomalies = _mask(is_anomaly, n, "is_anomaly")
    ref = ~anomalies if reference is None else _mask(reference, n, "reference") & ~anomalies
    if not anomalies.any():
        raise ValueError("is_anomaly selects no row")
    if not ref.any():
        raise ValueError("there is no reference row to contrast the anomalies with")
    if method == "tree":
        params = {"max_depth": 3, "min_samples_leaf": max(1, int(0.01 * n)), **params}
    C, names, groups = _concepts_for(X, encoder, n_bins)
    keep = anomalies | ref
    return explain_formula(C[keep], anomalies[keep], method, target_class=True,
                           concept_names=names, groups=groups, random_state=random_state,
                           **params)


def neighborhood_formula(X: Any, members: Any, *, method: str = "tree", n_bins: int = 3,
                         encoder: Any = None, random_state: Any = 0, **params: Any
                         ) -> LogicExplanation:
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
    X = check_frame_or_array(X, "X")
    inside = _mask(members, len(X), "members")
    return anomaly_formula(X, inside, method=method, n_bins=n_bins, encoder=encoder,
                           random_state=random_state, **params)
