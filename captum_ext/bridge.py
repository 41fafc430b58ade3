"""Bridge between Captum and SHAP, and between scikit-learn and torch.

- :func:`attributions_to_explanation`: Captum attributions (IntegratedGradients,
  GradientShap, ShapleyValueSampling, ...) -> ``shap.Explanation`` so ``shap.plots``
  and every ``shap_debug`` tool read them.
- :class:`SklearnForward`: a scikit-learn classifier as a Captum ``forward_func``.
- :class:`TorchClassifier`: a torch module as a scikit-learn style classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shap
import torch

from shap_debug.core import check_frame_or_array, feature_names_of, softmax

__all__ = ["attributions_to_explanation", "SklearnForward", "TorchClassifier"]


def _flat(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().double().numpy()
    arr = np.asarray(t, dtype=np.float64)
    if arr.ndim < 2:
        raise ValueError(f"attributions must have a batch dimension; got shape {arr.shape}")
    return arr.reshape(len(arr), -1)


def attributions_to_explanation(
    attributions: torch.Tensor | tuple[torch.Tensor, ...] | np.ndarray,
    inputs: torch.Tensor | tuple[torch.Tensor, ...] | np.ndarray,
    *,
    feature_names: Sequence[str] | None = None,
    base_values: Any = None,
    display_data: Any = None,
) -> shap.Explanation:
    """Turn Captum attributions into a 2-D ``shap.Explanation``.

    Parameters
    ----------
    attributions : tensor or tuple of tensors
        Output of ``captum.attr.<Method>.attribute(inputs, target=...)``, batch first. A tuple
        (one tensor per input) and inputs with more than one feature dimension are
        flattened and concatenated, features in C order.
    inputs : tensor or tuple of tensors
        The inputs that were explained (same structure); they become ``data``.
    feature_names : sequence of str, optional
    base_values : float or array of shape (n,), optional
        E.g. the model output at the baseline. Default 0.
    display_data : array-like, optional
        Readable values for plots (e.g. category labels).

    Returns
    -------
    shap.Explanation
        ``values`` and ``data`` of shape (n, m). The values are towards the ``target``
        that was explained (Captum's convention).

    Examples
    --------
    >>> import torch
    >>> from captum.attr import IntegratedGradients
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    >>> x = torch.randn(4, 3)
    >>> attr = IntegratedGradients(net).attribute(x, target=1)
    >>> attributions_to_explanation(attr, x).values.shape
    (4, 3)
    """
    attrs = attributions if isinstance(attributions, tuple) else (attributions,)
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    if len(attrs) != len(ins):
        raise ValueError(
            f"attributions has {len(attrs)} tensors but inputs has {len(ins)}")
    vals = np.concatenate([_flat(a) for a in attrs], axis=1)
    data = np.concatenate([_flat(i) for i in ins], axis=1)
    if vals.shape != data.shape:
        raise ValueError(
            f"attributions flatten to {vals.shape} but inputs to {data.shape}")
    names = feature_names_of(data, feature_names)
    n = len(vals)
    if base_values is None:
        base = np.zeros(n)
    else:
        if isinstance(base_values, torch.Tensor):
            base_values = base_values.detach().cpu().double().numpy()
        base = np.broadcast_to(np.asarray(base_values, dtype=np.float64).reshape(-1)
                               if np.ndim(base_values) else float(base_values), (n,)).copy()
    return shap.Explanation(values=vals, base_values=base, data=data,
                            display_data=display_data, feature_names=names)


class SklearnForward(torch.nn.Module):
    """A fitted scikit-learn classifier as a Captum ``forward_func``.

    ``forward(x)`` returns ``predict_proba`` as a float tensor of shape (n, n_classes).
    No gradient flows through it: use it with perturbation methods
    (``ShapleyValueSampling``, ``FeatureAblation``, ``KernelShap``, ``Lime``), not with
    gradient methods.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
    feature_names : sequence of str, optional
        When the estimator was fitted on a DataFrame, its columns (rows are passed as a
        DataFrame so scikit-learn does not warn).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> import numpy as np, torch
    >>> X = np.random.default_rng(0).normal(size=(50, 3)); y = (X[:, 0] > 0).astype(int)
    >>> fwd = SklearnForward(LogisticRegression().fit(X, y))
    >>> fwd(torch.tensor(X[:2])).shape
    torch.Size([2, 2])
    """

    def __init__(self, estimator: Any, feature_names: Sequence[str] | None = None):
        super().__init__()
        if not callable(getattr(estimator, "predict_proba", None)):
            raise TypeError(
                f"estimator must have predict_proba; {type(estimator).__name__} has none")
        self.estimator = estimator
        self.feature_names = list(feature_names) if feature_names is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().cpu().double().numpy().reshape(len(x), -1)
        if self.feature_names is not None:
            import pandas as pd

            arr = pd.DataFrame(arr, columns=self.feature_names)
        proba = np.asarray(self.estimator.predict_proba(arr), dtype=np.float64)
        return torch.as_tensor(proba, dtype=x.dtype if x.is_floating_point() else torch.float64)


class TorchClassifier:
    """A torch module (returning logits) as a scikit-learn style classifier.

    Parameters
    ----------
    module : torch.nn.Module
        Maps (n, m) float inputs to (n, n_classes) logits, or (n,)/(n, 1) for a binary
        model's positive-class logit.
    classes : array-like, optional
        Labels in logit order (default ``0..n_classes-1``).
    dtype : torch dtype of the inputs.

    Examples
    --------
    >>> import torch, numpy as np
    >>> clf = TorchClassifier(torch.nn.Linear(3, 2))
    >>> clf.predict_proba(np.zeros((2, 3))).shape
    (2, 2)
    """

    def __init__(self, module: torch.nn.Module, classes: Any = None,
                 dtype: torch.dtype = torch.float32):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
        self.module = module
        self.dtype = dtype
        self.classes_ = None if classes is None else np.asarray(classes)

    def decision_function(self, X: Any) -> np.ndarray:
        arr = check_frame_or_array(X, "X")
        if hasattr(arr, "to_numpy"):
            arr = arr.to_numpy(dtype=np.float64)
        self.module.eval()
        with torch.no_grad():
            out = self.module(torch.as_tensor(arr, dtype=self.dtype))
        return out.double().cpu().numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        z = self.decision_function(X)
        if z.ndim == 1 or z.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-z.reshape(-1)))
            proba = np.column_stack([1 - p, p])
        else:
            proba = softmax(z, axis=1)
        if self.classes_ is None:
            self.classes_ = np.arange(proba.shape[1])
        return proba

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]
