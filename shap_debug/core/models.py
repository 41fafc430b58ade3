"""Model adapters: anything -> ``predict_proba``, class order, cloning and refitting.

Besides scikit-learn estimators, Pipelines and torch modules, the adapters know the boosting
libraries people train (XGBoost, LightGBM, CatBoost, through their scikit-learn API or as
wrapped boosters, see :mod:`shap_debug.model_io`): which of them shap's exact TreeSHAP
explains and how (:func:`tree_explainer_mode`), whether a model takes missing values
(:func:`check_missing_supported`), and how a column-transformed Pipeline's features map back
to the raw columns (:func:`feature_groups`, :func:`raw_space_explanation`). Raw frames with
string columns and NaNs meet numeric algorithms through :class:`FrameCodec` and
:class:`CodedModel` (defined in :mod:`shap_debug.core.frames`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax of logits ``z`` along ``axis`` (a new array)."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def is_torch_module(model: Any) -> bool:
    # only a model built with torch can be a module: don't pay torch's import otherwise
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def check_classifier(model: Any, name: str = "model") -> Any:
    """A fitted classifier with ``predict_proba`` (scikit-learn style) or a torch module."""
    if model is None:
        raise TypeError(f"{name} must be a fitted classifier with predict_proba; got None")
    if is_torch_module(model):
        return model
    if not callable(getattr(model, "predict_proba", None)):
        raise TypeError(
            f"{name} must have a predict_proba method (a classifier); "
            f"{type(model).__name__} has none")
    return model


def predict_proba_fn(model: Any, name: str = "model") -> Callable[[Any], np.ndarray]:
    """A function ``X -> (n, n_classes)`` float64 probabilities for ``model``.

    scikit-learn classifiers (and Pipelines) use ``predict_proba``; torch modules are called
    on a float32 tensor and their logits pass through a softmax (a single logit column is
    read as the positive-class logit of a binary model).
    """
    check_classifier(model, name)
    if is_torch_module(model):
        import torch

        def torch_proba(X):
            arr = X.to_numpy(dtype=np.float32) if isinstance(X, pd.DataFrame) else np.asarray(
                X, dtype=np.float32)
            with torch.no_grad():
                out = model(torch.as_tensor(arr))
            out = out.double()
            if out.ndim == 1 or out.shape[1] == 1:
                p = torch.sigmoid(out.reshape(-1))
                return torch.stack([1 - p, p], dim=1).numpy()
            return torch.softmax(out, dim=1).numpy()

        return torch_proba

    def sk_proba(X):
        return np.asarray(model.predict_proba(X), dtype=np.float64)

    return sk_proba


def predict_labels(model: Any, X: Any) -> np.ndarray:
    """Predicted class labels (in the model's own label space)."""
    proba = predict_proba_fn(model)(X)
    return classes_of(model, proba.shape[1])[proba.argmax(axis=1)]


def classes_of(model: Any, n_classes: int | None = None) -> np.ndarray:
    """The class labels in ``predict_proba``'s column order."""
    classes = getattr(model, "classes_", None)
    if classes is not None:
        return np.asarray(classes)
    if n_classes is None:
        raise TypeError(f"cannot tell the classes of {type(model).__name__}")
    return np.arange(n_classes)


def class_index(model: Any, labels: Any) -> np.ndarray:
    """Column index in ``predict_proba`` of each label; ValueError for unseen labels."""
    classes = classes_of(model)
    labels = np.asarray(labels)
    lookup = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(classes)}
    out = np.empty(len(labels), dtype=np.int64)
    for k, lab in enumerate(labels):
        key = lab.item() if hasattr(lab, "item") else lab
        if key not in lookup:
            raise ValueError(f"label {lab!r} is not one of the model's classes {classes.tolist()}")
        out[k] = lookup[key]
    return out


def clone_model(model: Any, name: str = "model") -> Any:
    """An unfitted copy with the same hyper-parameters (``sklearn.base.clone``).

    CatBoost models (alone or as a Pipeline step), which ``sklearn.base.clone`` refuses
    because their constructor stores ``cat_features`` as a copy, are rebuilt from
    ``get_params()``.
    """
    from sklearn.base import clone

    try:
        return clone(model)
    except Exception as exc:
        try:
            return _rebuild(model)
        except Exception:
            pass
        raise TypeError(
            f"{name} must be cloneable with sklearn.base.clone (an estimator with "
            f"get_params); {type(model).__name__} is not: {exc}") from exc


def _rebuild(model: Any) -> Any:
    """A fresh unfitted estimator from ``get_params`` (Pipeline steps rebuilt one by one)."""
    from sklearn.base import clone

    if hasattr(model, "steps"):
        params = model.get_params(deep=False)
        params["steps"] = [(n, s if s in (None, "passthrough") else _rebuild(s))
                           for n, s in model.steps]
        return type(model)(**params)
    try:
        return clone(model)
    except Exception:
        return type(model)(**model.get_params(deep=False))


#: estimator types shap's TreeExplainer reads (scikit-learn API and the libraries' boosters)
_TREE_TYPES = {
    "DecisionTreeClassifier", "ExtraTreeClassifier", "RandomForestClassifier",
    "ExtraTreesClassifier", "GradientBoostingClassifier", "HistGradientBoostingClassifier",
    "XGBClassifier", "XGBRFClassifier", "LGBMClassifier", "CatBoostClassifier",
}
_BOOSTERS = {("xgboost", "Booster"), ("lightgbm", "Booster"), ("catboost", "CatBoost")}
#: gradient boosting: TreeSHAP's raw output is the log-odds (binary) or softmax margin
_BOOSTING = {
    "GradientBoostingClassifier", "HistGradientBoostingClassifier", "XGBClassifier",
    "LGBMClassifier", "CatBoostClassifier", "Booster", "CatBoost",
}


def unwrap_model(model: Any) -> Any:
    """The model inside adapters that only relabel or reshape its output.

    Adapters (:class:`shap_debug.model_io.LabelledClassifier`, the booster wrappers of
    :mod:`shap_debug.model_io`) expose the object shap should see as ``wrapped_model_``;
    anything else is returned as it is.
    """
    seen = 0
    while getattr(model, "wrapped_model_", None) is not None and seen < 10:
        model = model.wrapped_model_
        seen += 1
    return model


def _is_booster(model: Any) -> bool:
    top = type(model).__module__.split(".")[0]
    return (top, type(model).__name__) in _BOOSTERS


def is_tree_model(model: Any) -> bool:
    """True for tree models shap's TreeExplainer handles exactly.

    scikit-learn trees and forests, XGBoost/LightGBM/CatBoost through their scikit-learn API
    or as native boosters, also inside the adapters of :mod:`shap_debug.model_io`. A Pipeline
    is not a tree model (its first steps change the features); see
    :func:`tree_explainer_mode` for the check that actually builds an explainer.
    """
    inner = unwrap_model(model)
    return type(inner).__name__ in _TREE_TYPES or _is_booster(inner)


def is_linear_model(model: Any) -> bool:
    """True for linear classifiers with ``coef_`` and ``intercept_`` (e.g. LogisticRegression)."""
    return hasattr(model, "coef_") and hasattr(model, "intercept_") and not hasattr(
        model, "steps")


# --------------------------------------------------------------------------- TreeSHAP
@dataclass(frozen=True)
class TreeMode:
    """How shap's exact TreeSHAP explains a model (see :func:`tree_explainer_mode`).

    Attributes
    ----------
    model : the object given to ``shap.TreeExplainer`` (adapters unwrapped)
    feature_perturbation : {"interventional", "tree_path_dependent"}
    model_output : {"probability", "raw"}
    units : {"probability", "log-odds", "margin"}
        What the values add up to: predicted probabilities, the log-odds of a binary
        boosting model, or a multi-class booster's per-class margins (softmax inputs).
    """

    model: Any
    feature_perturbation: str
    model_output: str
    units: str

    @property
    def output(self) -> str:
        """``explain``'s ``output`` for these units (``"probability"`` or ``"log_odds"``)."""
        return "probability" if self.units == "probability" else "log_odds"

    def describe(self) -> str:
        """One line for reports: ``exact TreeSHAP (shap.TreeExplainer, ...)``."""
        return (f"exact TreeSHAP (shap.TreeExplainer, {self.feature_perturbation}, "
                f"{self.units})")

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


def _rows(X: Any, rows: Any) -> Any:
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]


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

    Parameters
    ----------
    model : fitted classifier (adapters of :mod:`shap_debug.model_io` are unwrapped)
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
    if not is_tree_model(model):
        return None
    inner = unwrap_model(model)
    name = type(inner).__name__
    n_classes = len(classes_of(model)) if getattr(model, "classes_", None) is not None else 2
    raw_units = ("log-odds" if n_classes == 2 else "margin") if name in _BOOSTING else None
    numeric = X is None or _all_numeric(X)
    if background is None and X is not None:
        background = _rows(X, slice(0, 100))
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
                    te.shap_values(_rows(X, slice(0, 2)), check_additivity=False)
        except Exception:
            continue
        return mode
    return None


def supports_tree_explainer(model: Any, X: Any = None) -> bool:
    """Whether ``shap.TreeExplainer`` can explain ``model`` (on rows like ``X``) exactly."""
    return tree_explainer_mode(model, X) is not None


# --------------------------------------------------------------------------- missing values
def _missing_mask(X: Any) -> np.ndarray:
    """Rows of ``X`` with a missing value (NaN/None/NA) anywhere."""
    if isinstance(X, pd.DataFrame):
        return X.isna().to_numpy().any(axis=1)
    arr = np.asarray(X)
    if arr.dtype == object:
        return pd.isna(arr).any(axis=1)
    return np.isnan(arr.astype(np.float64, copy=False)).any(axis=1)


def missing_columns(X: Any) -> list[str]:
    """Names (or ``"Feature j"``) of the columns of ``X`` holding a missing value."""
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns[X.isna().to_numpy().any(axis=0)]]
    arr = np.asarray(X)
    mask = pd.isna(arr).any(axis=0) if arr.dtype == object else np.isnan(
        arr.astype(np.float64, copy=False)).any(axis=0)
    return [f"Feature {j}" for j in np.flatnonzero(mask)]


def check_missing_supported(model: Any, X: Any, name: str = "X") -> None:
    """Raise unless ``model`` predicts on the rows of ``X`` that have missing values.

    Missing values (NaN, None) are fine wherever the model takes them: a Pipeline with an
    imputer, XGBoost, LightGBM, CatBoost, HistGradientBoosting. The check predicts on up to
    five such rows and raises a ``ValueError`` naming ``name``, the columns and the
    model's own complaint when it fails or returns non-finite probabilities. Infinite
    numbers are never missing values and are refused.
    """
    if isinstance(X, pd.DataFrame):
        num = X.select_dtypes(include=[np.number])
        inf = num.shape[1] and np.isinf(num.to_numpy(dtype=np.float64)).any()
    else:
        arr = np.asarray(X)
        inf = arr.dtype != object and np.isinf(arr.astype(np.float64, copy=False)).any()
    if inf:
        raise ValueError(f"{name} contains infinite values")
    rows = np.flatnonzero(_missing_mask(X))
    if not len(rows):
        return
    cols = missing_columns(X)
    hint = ("impute them first, or use a model that takes missing values (a Pipeline with "
            "a SimpleImputer, XGBoost, LightGBM, CatBoost, HistGradientBoosting)")
    try:
        proba = predict_proba_fn(model, "model")(_rows(X, rows[:5]))
    except Exception as exc:
        raise ValueError(
            f"{name} contains NaN (missing) values in {cols} ({len(rows)} rows) and "
            f"{type(model).__name__} cannot predict on them ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); {hint}") from None
    if not np.isfinite(proba).all():
        raise ValueError(f"{name} contains NaN (missing) values in {cols} and "
                         f"{type(model).__name__} returns NaN probabilities for them; {hint}")


# --------------------------------------------------------------------------- Pipelines
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

    An explanation that already has one column per column of ``X`` is returned as it is.
    One computed on the transformed features (``shap.TreeExplainer(pipe[-1])(pipe[:-1]
    .transform(X))``) gets, for each raw column, the sum of its transformed columns' values
    (one-hot levels, missing-value indicators): efficiency is kept (the row sums are
    unchanged) and the values stay in the explainer's units. Anything else is a
    ``ValueError`` saying what was expected.
    """
    from .validation import explanation_values

    vals = explanation_values(explanation)
    m = X.shape[1]
    if vals.ndim >= 2 and vals.shape[1] == m:
        return explanation
    groups = feature_groups(model, X)
    if groups is None or vals.ndim < 2 or vals.shape[1] != len(groups):
        raise ValueError(
            f"explanation has {vals.shape[1] if vals.ndim >= 2 else '?'} columns but X has "
            f"{m}; pass contributions of X's columns, or of a Pipeline's transformed features "
            "(then model must be that fitted Pipeline, whose first steps trace every "
            "transformed column to one column of X)")
    import shap

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
