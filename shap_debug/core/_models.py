"""Model adapters: anything -> ``predict_proba``, class order, cloning and refitting.

Besides scikit-learn estimators, Pipelines and torch modules, the adapters know the boosting
libraries people train (XGBoost, LightGBM, CatBoost, through their scikit-learn API or as
wrapped boosters, see :mod:`shap_debug.io._model_files`): which of them shap's exact TreeSHAP
explains (:func:`is_tree_model`; how is :mod:`shap_debug.contributions`' business), whether a model takes missing values
(:func:`check_missing_supported`), and how a column-transformed Pipeline's features map back
to the raw columns (:mod:`shap_debug.core._pipelines`). Raw frames with string columns and
NaNs meet numeric algorithms through :mod:`shap_debug.core._frames`.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax of logits ``z`` along ``axis`` (a new array)."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def is_torch_module(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` (without importing torch)."""
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


_TRAIN_MODE_LOCK = __import__("threading").RLock()
_TRAIN_MODE_WARNED: set[int] = set()


@contextlib.contextmanager
def eval_mode(module: Any):
    """Run the block with ``module`` in eval mode, its own mode restored afterwards.

    A module left in train mode (dropout on, batch-norm updating its statistics) gives
    different outputs on each call, so every prediction is made in eval mode; the user's
    module is never left changed, and a warning says so once per module. Modules already in
    eval mode (the usual case) are not touched.

    Examples
    --------
    >>> import torch, warnings
    >>> net = torch.nn.Sequential(torch.nn.Dropout(0.5)).train()
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     with eval_mode(net):
    ...         inside = net.training
    >>> inside, net.training
    (False, True)
    """
    if not getattr(module, "training", False):
        yield module
        return
    if id(module) not in _TRAIN_MODE_WARNED:
        _TRAIN_MODE_WARNED.add(id(module))
        from ._validation import warn

        warn(f"the torch module {type(module).__name__} is in train mode; its predictions "
             "are made in eval mode (dropout off, batch-norm statistics fixed) and its mode "
             "is restored afterwards")
    with _TRAIN_MODE_LOCK:  # threads sharing the module must not restore it mid-call
        module.eval()
        try:
            yield module
        finally:
            module.train()


def predict_proba_fn(model: Any, name: str = "model") -> Callable[[Any], np.ndarray]:
    """A function ``X -> (n, n_classes)`` float64 probabilities for ``model``.

    scikit-learn classifiers (and Pipelines) use ``predict_proba``; torch modules are called
    on a float32 tensor, in eval mode (:func:`eval_mode`: a module in train mode is switched
    for the call and restored), and their logits pass through a softmax (a single logit
    column is read as the positive-class logit of a binary model).
    """
    check_classifier(model, name)
    if is_torch_module(model):
        import torch

        def torch_proba(X):
            arr = X.to_numpy(dtype=np.float32) if isinstance(X, pd.DataFrame) else np.asarray(
                X, dtype=np.float32)
            with torch.no_grad(), eval_mode(model):
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
    ``get_params()``; the copy also gets a ``__sklearn_clone__`` hook, so scikit-learn's own
    clones of it (``cross_val_predict``) work in this process.
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
        params["steps"] = [(n, s if s is None or isinstance(s, str) else _rebuild(s))
                           for n, s in model.steps]
        return type(model)(**params)
    try:
        return clone(model)
    except Exception:
        fresh = type(model)(**model.get_params(deep=False))
        with contextlib.suppress(Exception):  # lets sklearn.base.clone copy it later
            fresh.__sklearn_clone__ = functools.partial(_rebuild, fresh)
        return fresh


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

    Adapters (:class:`shap_debug.io._model_files.LabelledClassifier`, the booster wrappers of
    :mod:`shap_debug.io._model_files`) expose the object shap should see as ``wrapped_model_``;
    anything else is returned as it is.
    """
    seen = 0
    while getattr(model, "wrapped_model_", None) is not None and seen < 10:
        model = model.wrapped_model_
        seen += 1
    return model


def search_model(model: Any) -> Any:
    """The model whose kind decides how a black-box search (flip points) treats ``model``.

    A Pipeline's final step, the model inside the adapters of :mod:`shap_debug.io._model_files`
    (``wrapped_model_``) and inside a :class:`~shap_debug.core._frames.CodedModel`
    (``search_model_``): a tree ensemble behind any of them is searched like one.
    """
    for _ in range(10):
        if hasattr(model, "steps"):
            model = model.steps[-1][1]
        elif getattr(model, "search_model_", None) is not None:
            model = model.search_model_
        elif getattr(model, "wrapped_model_", None) is not None:
            model = model.wrapped_model_
        else:
            break
    return model


def is_boosting_model(model: Any) -> bool:
    """True for gradient boosting, whose TreeSHAP raw output is the log-odds or the margin."""
    return type(unwrap_model(model)).__name__ in _BOOSTING


def _is_booster(model: Any) -> bool:
    top = type(model).__module__.split(".")[0]
    return (top, type(model).__name__) in _BOOSTERS


def is_tree_model(model: Any) -> bool:
    """True for tree models shap's TreeExplainer handles exactly.

    scikit-learn trees and forests, XGBoost/LightGBM/CatBoost through their scikit-learn API
    or as native boosters, also inside the adapters of :mod:`shap_debug.io._model_files`. A Pipeline
    is not a tree model (its first steps change the features); see
    :func:`shap_debug.contributions.tree_explainer_mode` for the check that actually builds
    an explainer.
    """
    inner = unwrap_model(model)
    return type(inner).__name__ in _TREE_TYPES or _is_booster(inner)


def is_linear_model(model: Any) -> bool:
    """True for linear classifiers with ``coef_`` and ``intercept_`` (e.g. LogisticRegression)."""
    return hasattr(model, "coef_") and hasattr(model, "intercept_") and not hasattr(
        model, "steps")


class EncodedModel:
    """A model that takes encoded rows (``encoder.transform``), seen as one that takes the
    readable frame: ``predict_proba(frame)`` encodes, then asks the model."""

    def __init__(self, model: Any, encoder: Any):
        self.model = model
        self.encoder = encoder
        self.classes_ = getattr(model, "classes_", None)
        self._proba = predict_proba_fn(model)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities of the raw rows ``X`` (encoded first)."""
        return self._proba(self.encoder.transform(X))


def take_rows(X: Any, rows: Any) -> Any:
    """Rows of a DataFrame (by position, index kept) or of an array.

    Examples
    --------
    >>> take_rows(np.arange(6).reshape(3, 2), [2, 0]).tolist()
    [[4, 5], [0, 1]]
    """
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]


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


def check_inputs(model: Any, X: Any, name: str = "X") -> pd.DataFrame | np.ndarray:
    """The rows ``model`` is given: ``check_frame_or_array`` with missing values allowed
    where the model takes them (:func:`check_missing_supported`).

    Returns ``X`` checked (a DataFrame as it is, anything else a float64 array).
    """
    from ._validation import check_frame_or_array

    X = check_frame_or_array(X, name, allow_nan=True)
    check_missing_supported(model, X, name)
    return X


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
        proba = predict_proba_fn(model, "model")(take_rows(X, rows[:5]))
    except Exception as exc:
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(
            f"{name} contains NaN (missing) values in {cols} ({len(rows)} rows) and "
            f"{type(model).__name__} failed on those rows ({type(exc).__name__}: {said}); "
            f"if it does not take missing values, {hint}") from None
    if not np.isfinite(proba).all():
        raise ValueError(f"{name} contains NaN (missing) values in {cols} and "
                         f"{type(model).__name__} returns NaN probabilities for them; {hint}")


def seeded_clone(model: Any, seed: int) -> tuple[Any, bool]:
    """An unfitted clone where every ``random_state`` parameter left at None gets ``seed``
    (so repeated refits are reproducible); the flag says whether any was set."""
    est = clone_model(model)
    if not hasattr(est, "get_params"):
        return est, False
    unset = {k: seed for k, v in est.get_params(deep=True).items()
             if (k == "random_state" or k.endswith("__random_state")) and v is None}
    if unset:
        est.set_params(**unset)
    return est, bool(unset)

