"""Model adapters: anything -> ``predict_proba``, class order, cloning and refitting."""

from __future__ import annotations

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
    """An unfitted copy with the same hyper-parameters (``sklearn.base.clone``)."""
    from sklearn.base import clone

    try:
        return clone(model)
    except Exception as exc:
        raise TypeError(
            f"{name} must be cloneable with sklearn.base.clone (an estimator with "
            f"get_params); {type(model).__name__} is not: {exc}") from exc


def is_tree_model(model: Any) -> bool:
    """True for tree models shap's TreeExplainer handles exactly."""
    name = type(model).__name__
    return name in {
        "DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier",
        "GradientBoostingClassifier", "HistGradientBoostingClassifier", "XGBClassifier",
        "LGBMClassifier", "CatBoostClassifier",
    }


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
        return self._proba(self.encoder.transform(X))
