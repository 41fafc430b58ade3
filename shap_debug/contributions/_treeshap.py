"""Which of shap's exact TreeSHAP modes explains a model, and the plan :func:`explain` follows.

The boosting libraries (XGBoost, LightGBM, CatBoost) and scikit-learn trees are explained by
``shap.TreeExplainer`` in probabilities where shap can, else in the raw log-odds of a binary
booster with categorical splits; a Pipeline whose first steps map columns one to one is
explained through them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    feature_groups,
    is_boosting_model,
    is_linear_model,
    is_torch_module,
    is_tree_model,
    take_rows,
    unwrap_model,
)

__all__ = ["ExplainPlan", "TreeMode", "explain_plan", "quiet_c_output",
           "supports_tree_explainer", "tree_explainer_mode"]

@dataclass(frozen=True)
class TreeMode:
    """How shap's exact TreeSHAP explains a model (see :func:`tree_explainer_mode`).

    Attributes
    ----------
    model : the object given to ``shap.TreeExplainer`` (adapters unwrapped; a Pipeline's
        final step)
    feature_perturbation : {"interventional", "tree_path_dependent"}
    model_output : {"probability", "raw"}
    units : {"probability", "log-odds", "margin"}
        What the values add up to: predicted probabilities, the log-odds of a binary
        boosting model, or a multi-class booster's per-class margins (softmax inputs).
    transform : the first steps of a Pipeline whose transformed columns are the raw
        columns one to one (ordinal encoders, imputers, passthrough), or None
    columns : tuple of int or None
        With ``transform``: the raw column of each transformed column.
    """

    model: Any
    feature_perturbation: str
    model_output: str
    units: str
    transform: Any = None
    columns: tuple | None = None

    @property
    def output(self) -> str:
        """``explain``'s ``output`` for these units (``"probability"`` or ``"log_odds"``)."""
        return "probability" if self.units == "probability" else "log_odds"

    def describe(self) -> str:
        """One line for reports: ``exact TreeSHAP (shap.TreeExplainer, ...)``."""
        on = (" on the one-to-one transformed columns of the Pipeline"
              if self.transform is not None else "")
        return (f"exact TreeSHAP (shap.TreeExplainer, {self.feature_perturbation}, "
                f"{self.units}{on})")

    def prepare(self, X: Any) -> Any:
        """Rows as the explained model takes them (a Pipeline's first steps applied)."""
        if self.transform is None or X is None:
            return X
        return _dense(self.transform.transform(X))

    def values(self, explainer: Any, X: Any) -> np.ndarray:
        """``explainer.shap_values`` of the rows ``X`` (as the model takes them), in the raw
        column order; ``explainer`` from :meth:`explainer` on prepared background rows."""
        vals = np.asarray(explainer.shap_values(self.prepare(X), check_additivity=False))
        if self.columns is not None:
            axis = 1 if vals.shape[0] == len(X) else 2   # older shap: a list over classes
            out = np.empty_like(vals)
            index = [slice(None)] * vals.ndim
            index[axis] = list(self.columns)
            out[tuple(index)] = vals
            vals = out
        return vals

    def shap_values(self, X: Any, background: Any = None) -> tuple[np.ndarray, Any]:
        """TreeSHAP values of ``X`` in the raw column order, and the expected value."""
        te = self.explainer(self.prepare(background))
        return self.values(te, X), te.expected_value

    def explainer(self, background: Any = None):
        """The ``shap.TreeExplainer`` (``background`` is used by the interventional mode)."""
        import shap

        data = background if self.feature_perturbation == "interventional" else None
        return shap.TreeExplainer(self.model, data=data,
                                  feature_perturbation=self.feature_perturbation,
                                  model_output=self.model_output)


@contextlib.contextmanager
def quiet_c_output(quiet: bool = True):
    """Silence what a C extension prints on file descriptors 1 and 2 (shap's TreeSHAP
    prints progress and "NULL input array" notes there)."""
    if not quiet:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _n_classes(model: Any) -> int:
    classes = getattr(model, "classes_", None)
    if classes is None and hasattr(model, "steps"):
        classes = getattr(model.steps[-1][1], "classes_", None)
    return len(classes) if classes is not None else 2


def _dense(out: Any) -> np.ndarray:
    return np.asarray(out.toarray() if hasattr(out, "toarray") else out, dtype=np.float64)


def _all_numeric(X: Any) -> bool:
    if not isinstance(X, pd.DataFrame):
        return True
    return all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
               for t in X.dtypes)


def tree_explainer_mode(model: Any, X: Any = None, background: Any = None, *,
                        output: str = "any") -> TreeMode | None:
    """How shap's exact TreeSHAP can explain ``model`` on rows like ``X``, or None.

    Tries, in order, the modes ``shap.TreeExplainer`` may support and returns the first
    that builds (and, when ``X`` is given, explains two of its rows without error):

    1. ``interventional`` with ``model_output="probability"`` (the same game as
       :func:`shap_debug.explain`'s estimator; numeric ``X`` only),
    2. ``interventional`` with the raw output (log-odds of a boosting model),
    3. ``tree_path_dependent`` with the raw output: the only mode shap has for models
       with categorical splits (XGBoost ``enable_categorical``, LightGBM pandas
       categories, CatBoost ``cat_features``).

    A Pipeline qualifies when its final step does and its first steps turn each raw
    column into exactly one column (ordinal encoders, imputers, scalers, passthrough): the
    interventional game on those columns is the game on the raw columns, so the values
    are exact for the raw columns. One-hot encoding splits a column into several, and the
    sum of their values is not the raw column's Shapley value: such Pipelines get None.

    Parameters
    ----------
    model : fitted classifier (adapters of :mod:`shap_debug.io._model_files` are unwrapped)
    X : DataFrame or ndarray, optional
        Rows as the model takes them. Non-numeric columns skip the interventional modes
        (shap cannot build them).
    background : DataFrame or ndarray, optional
        Background rows of the interventional modes (default: the first 100 rows of ``X``).
    output : {"any", "probability", "log_odds"}
        Only modes whose values are in these units.

    Returns
    -------
    TreeMode or None
        None when the model is not a tree model or no mode works.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> X = np.random.default_rng(0).normal(size=(60, 3))
    >>> rf = RandomForestClassifier(5, random_state=0).fit(X, X[:, 0] > 0)
    >>> tree_explainer_mode(rf, X).describe()
    'exact TreeSHAP (shap.TreeExplainer, interventional, probability)'
    >>> from sklearn.linear_model import LogisticRegression
    >>> tree_explainer_mode(LogisticRegression().fit(X, X[:, 0] > 0), X) is None
    True
    """
    if output not in ("any", "probability", "log_odds"):
        raise ValueError(f"output must be 'any', 'probability' or 'log_odds'; got {output!r}")
    transform = columns = None
    if hasattr(model, "steps") and X is not None and is_tree_model(model.steps[-1][1]):
        groups = feature_groups(model, X)  # exact only when the columns map one to one
        if groups is None or sorted(groups) != list(range(X.shape[1])):
            return None
        transform, columns = model[:-1], tuple(groups)
        if background is None:
            background = take_rows(X, slice(0, 100))
        X, background = (_dense(transform.transform(take_rows(X, slice(0, 2)))),
                         _dense(transform.transform(background)))
        model = model.steps[-1][1]
    if not is_tree_model(model):
        return None
    inner = unwrap_model(model)
    raw_units = (("log-odds" if _n_classes(model) == 2 else "margin") if is_boosting_model(model)
                 else None)
    numeric = X is None or _all_numeric(X)
    if background is None and X is not None:
        background = take_rows(X, slice(0, 100))
    tries = []
    if numeric and output in ("any", "probability"):
        tries.append(("interventional", "probability", "probability"))
    if raw_units is not None and output in ("any", "log_odds"):
        if numeric:
            tries.append(("interventional", "raw", raw_units))
        tries.append(("tree_path_dependent", "raw", raw_units))
    import warnings

    for fp, mo, units in tries:
        if fp == "interventional" and background is None:
            continue
        mode = TreeMode(inner, fp, mo, units)
        try:
            with warnings.catch_warnings(), quiet_c_output():
                warnings.simplefilter("ignore")
                te = mode.explainer(background)
                if X is not None:
                    te.shap_values(take_rows(X, slice(0, 2)), check_additivity=False)
        except Exception:
            continue
        return mode if transform is None else TreeMode(inner, fp, mo, units, transform, columns)
    return None


def supports_tree_explainer(model: Any, X: Any = None) -> bool:
    """Whether ``shap.TreeExplainer`` can explain ``model`` (on rows like ``X``) exactly."""
    return tree_explainer_mode(model, X) is not None


@dataclass(frozen=True)
class ExplainPlan:
    """How :func:`shap_debug.explain` computes a model's contributions (see
    :func:`explain_plan`).

    Attributes
    ----------
    method : {"tree", "linear", "sampling"}
    output : {"probability", "log_odds"}
    mode : TreeMode or None
        The TreeSHAP mode when ``method="tree"``.
    description : str
        One line for reports, e.g. ``"exact TreeSHAP (shap.TreeExplainer, interventional,
        probability), the fast path"``.
    """

    method: str
    output: str
    mode: TreeMode | None
    description: str


def explain_plan(model: Any, X: Any, background: Any = None, *,
                 output: str = "probability") -> ExplainPlan:
    """The method :func:`shap_debug.explain` picks with ``method="auto"``.

    1. Exact TreeSHAP where shap supports the model in the requested units
       (:func:`tree_explainer_mode`);
    2. exact linear SHAP (log-odds) for linear models on numeric data;
    3. otherwise shap-debug's sampling estimator of interventional Shapley values.

    ``output="auto"`` (what the :class:`~shap_debug.Debugger` asks for) takes TreeSHAP in
    whichever units shap has: probabilities where it can, else the log-odds of a binary
    boosting model (e.g. path-dependent TreeSHAP for categorical splits) rather than the
    slower estimator. Multi-class margins are not an ``explain`` output: the estimator.
    """
    if output not in ("auto", "probability", "log_odds"):
        raise ValueError(f"output must be 'auto', 'probability' or 'log_odds'; got {output!r}")
    mode = None
    if output in ("auto", "probability"):
        mode = tree_explainer_mode(model, X, background, output="probability")
    if mode is None and (output == "log_odds" or output == "auto" and _n_classes(model) == 2):
        mode = tree_explainer_mode(model, X, background, output="log_odds")
    if mode is not None:
        return ExplainPlan("tree", mode.output, mode, mode.describe() + ", the fast path")
    if _all_numeric(X) and is_linear_model(model) and not is_torch_module(model):
        # explain's linear path is in log-odds whatever its output says
        return ExplainPlan("linear", "probability" if output == "auto" else output, None,
                           "exact linear SHAP (log-odds)")
    out = "probability" if output == "auto" else output
    why = ("" if not is_tree_model(model) else
           f"; shap's TreeSHAP does not support {type(unwrap_model(model)).__name__} here")
    return ExplainPlan("sampling", out, None,
                       f"shap-debug's sampling estimator of interventional Shapley values "
                       f"({out.replace('_', '-')}){why}")
