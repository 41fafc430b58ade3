"""Pipelines on raw frames: which raw column each transformed feature comes from.

:func:`feature_groups` traces a fitted Pipeline's transformed columns back to the raw columns
(through a ColumnTransformer, one-hot encoders, imputers and indicators);
:func:`raw_space_explanation` sums an explanation of the transformed features back onto them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["feature_groups", "raw_space_explanation"]

def _names_to_columns(names: Sequence[str], columns: Sequence[str]) -> list[int] | None:
    """Raw column of each output name: the longest column name it equals, starts with
    (``col_level`` of a one-hot encoder) or ends with (``missingindicator_col``)."""
    out = []
    for nm in names:
        best = None
        for j, c in enumerate(columns):
            if nm == c or nm.startswith(c + "_") or nm.endswith("_" + c):
                if best is None or len(c) > len(columns[best]):
                    best = j
        if best is None:
            return None
        out.append(best)
    return out


def _input_columns(spec: Any, columns: list[str]) -> list[str] | None:
    if isinstance(spec, str):
        return [spec] if spec in columns else None
    if isinstance(spec, slice) or callable(spec):
        return None
    items = list(np.atleast_1d(np.asarray(spec)))
    if items and all(isinstance(v, (bool, np.bool_)) for v in items):
        return [c for c, keep in zip(columns, items) if keep]
    if items and all(isinstance(v, (int, np.integer)) for v in items):
        return [columns[int(v)] for v in items]
    names = [str(v) for v in items]
    return names if all(v in columns for v in names) else None


def feature_groups(model: Any, X: Any) -> list[int] | None:
    """For a Pipeline, the raw column of ``X`` behind each column its last step sees.

    Follows a ``ColumnTransformer`` (or any first steps with ``get_feature_names_out``)
    through one-hot encoders (``col_level`` names), one-to-one transformers (imputers,
    scalers, ordinal encoders, passthrough) and missing-value indicators. Returns None when
    ``model`` is not a Pipeline or a transformed column cannot be traced to one raw column.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "c": ["x", "y", "z", "x"]})
    >>> pre = make_column_transformer((OneHotEncoder(), ["c"]), remainder="passthrough")
    >>> pipe = make_pipeline(pre, LogisticRegression()).fit(X, [0, 1, 0, 1])
    >>> feature_groups(pipe, X)
    [1, 1, 1, 0]
    """
    if not hasattr(model, "steps") or len(model.steps) < 2 or not isinstance(X, pd.DataFrame):
        return None
    columns = [str(c) for c in X.columns]
    pre = model[:-1]
    first = pre.steps[0][1] if len(pre.steps) == 1 else None
    if first is not None and hasattr(first, "transformers_"):
        out: list[int] = []
        for _name, trans, spec in first.transformers_:
            if trans == "drop":
                continue
            cols = _input_columns(spec, columns)
            if cols is None:
                return None
            if not cols:
                continue
            if trans == "passthrough":
                names = cols
            else:
                try:
                    names = [str(v) for v in trans.get_feature_names_out(cols)]
                except Exception:
                    return None
            local = _names_to_columns(names, cols)
            if local is None:
                return None
            out.extend(columns.index(cols[k]) for k in local)
        return out
    try:
        names = [str(v) for v in pre.get_feature_names_out(columns)]
    except Exception:
        return None
    return _names_to_columns(names, columns)


def raw_space_explanation(explanation: Any, model: Any, X: Any):
    """An explanation of a Pipeline's transformed features, summed back to ``X``'s columns.

    An explanation that already has one column per column of ``X`` is checked
    (:func:`~shap_debug.core._validation.check_explanation`) and returned as it is.
    One computed on the transformed features (``shap.TreeExplainer(pipe[-1])(pipe[:-1]
    .transform(X))``) gets, for each raw column, the sum of its transformed columns' values
    (one-hot levels, missing-value indicators): efficiency is kept (the row sums are
    unchanged) and the values stay in the explainer's units. Anything else is a
    ``ValueError`` saying what was expected.
    """
    from ._validation import check_explanation, explanation_values

    vals = explanation_values(explanation)
    m = X.shape[1]
    if vals.ndim >= 2 and vals.shape[1] == m:
        check_explanation(explanation, X)  # one row per row of X too
        return explanation
    groups = feature_groups(model, X)
    if groups is None or vals.ndim < 2 or vals.shape[1] != len(groups):
        raise ValueError(
            f"explanation has {vals.shape[1] if vals.ndim >= 2 else '?'} columns but X has "
            f"{m}; pass contributions of X's columns, or of a Pipeline's transformed features "
            "(then model must be that fitted Pipeline, whose first steps trace every "
            "transformed column to one column of X)")
    import shap

    if vals.shape[0] != X.shape[0]:
        raise ValueError(f"explanation has {vals.shape[0]} rows but X has {X.shape[0]}")
    index = np.asarray(groups)
    out = np.zeros((vals.shape[0], m) + vals.shape[2:])
    for j in range(m):
        out[:, j] = vals[:, index == j].sum(axis=1)
    base = getattr(explanation, "base_values", None)
    names = [str(c) for c in X.columns]
    return shap.Explanation(values=out, base_values=base, data=None,
                            display_data=X.astype(object).to_numpy(),
                            feature_names=names,
                            output_names=getattr(explanation, "output_names", None))
