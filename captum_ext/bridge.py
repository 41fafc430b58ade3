"""Bridge between Captum and SHAP, and between scikit-learn and torch.

- :func:`attributions_to_explanation`: Captum attributions (IntegratedGradients,
  GradientShap, ShapleyValueSampling, ...) -> ``shap.Explanation`` so ``shap.plots``
  and every ``shap_debug`` tool read them.
- :class:`SklearnForward`: a scikit-learn classifier as a Captum ``forward_func``.
- :class:`TorchClassifier`: a torch module as a scikit-learn style classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    import shap

from shap_debug.core import check_frame_or_array, eval_mode, feature_names_of, softmax, warn

__all__ = ["attributions_to_explanation", "SklearnForward", "TorchClassifier"]


def _flat(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().double().numpy()
    arr = np.asarray(t, dtype=np.float64)
    if arr.ndim < 2:
        raise ValueError(f"attributions must have a batch dimension; got shape {arr.shape}")
    return arr.reshape(len(arr), -1)


def _as_tuple(x: Any) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _forward(forward_func: Any, inputs: tuple, additional_forward_args: Any) -> np.ndarray:
    """``forward_func(*inputs, *additional_forward_args)`` as float64 numpy, (n,) or (n, k)."""
    extra = () if additional_forward_args is None else _as_tuple(additional_forward_args)
    with torch.no_grad():
        out = forward_func(*inputs, *extra)
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().double().numpy()
    out = np.asarray(out, dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim not in (1, 2):
        raise ValueError(f"forward_func must return (n,) or (n, k) outputs; got shape {out.shape}")
    return out


def _baseline_inputs(baselines: Any, inputs: tuple) -> tuple:
    """Captum's baselines made into tensors like ``inputs`` (zeros when None)."""
    if baselines is None:
        return tuple(torch.zeros_like(t) for t in inputs)
    bases = _as_tuple(baselines)
    if len(bases) != len(inputs):
        raise ValueError(f"baselines has {len(bases)} parts but inputs has {len(inputs)}")
    out = []
    for b, t in zip(bases, inputs):
        if isinstance(b, (int, float)):
            out.append(torch.full_like(t, float(b)))
            continue
        b = torch.as_tensor(b, dtype=t.dtype, device=t.device)
        if b.shape == t.shape[1:]:
            b = b.unsqueeze(0)
        if b.shape[1:] != t.shape[1:]:
            raise ValueError(f"baselines of shape {tuple(b.shape)} do not match inputs of "
                             f"shape {tuple(t.shape)}")
        out.append(b)
    return tuple(out)


def _target_index(target: Any, n: int, k: int | None) -> np.ndarray | int | None:
    """Captum's ``target`` as None, one int or an int array of shape (n,)."""
    if target is None:
        if k is not None:
            raise ValueError(f"forward_func returns {k} outputs per row: pass target= (the "
                             "output index each row's attributions explain)")
        return None
    if isinstance(target, torch.Tensor):
        target = target.detach().cpu().numpy()
    if isinstance(target, (list, tuple)) and any(isinstance(t, tuple) for t in target):
        raise TypeError("target tuples (multi-dimensional outputs) are not supported")
    arr = np.asarray(target)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"target must hold integer output indices; got dtype {arr.dtype}")
    if arr.ndim == 0 or (arr.ndim == 1 and len(arr) == 1 and n != 1):
        t = int(arr.reshape(-1)[0])
        if k is not None and not 0 <= t < k:
            raise ValueError(f"target {t} is outside the {k} outputs of forward_func")
        return t
    if arr.shape != (n,):
        raise ValueError(f"target must be an int or have one entry per row ({n}); "
                         f"got shape {arr.shape}")
    arr = arr.astype(np.int64)
    if k is not None and (arr.min() < 0 or arr.max() >= k):
        raise ValueError(f"target holds output indices outside [0, {k})")
    return arr


def _pick(out: np.ndarray, target: np.ndarray | int | None) -> np.ndarray:
    if out.ndim == 1:
        return out
    if isinstance(target, np.ndarray):
        return out[np.arange(len(out)), target]
    return out[:, target]


def attributions_to_explanation(
    attributions: torch.Tensor | tuple[torch.Tensor, ...] | np.ndarray,
    inputs: torch.Tensor | tuple[torch.Tensor, ...] | np.ndarray,
    *,
    target: Any = None,
    forward_func: Any = None,
    baselines: Any = None,
    additional_forward_args: Any = None,
    feature_names: Sequence[str] | None = None,
    base_values: Any = None,
    display_data: Any = None,
    atol: float = 1e-6,
) -> shap.Explanation:
    """Turn Captum attributions into a 2-D ``shap.Explanation`` that says what it explains.

    Parameters
    ----------
    attributions : tensor or tuple of tensors
        Output of ``captum.attr.<Method>.attribute(inputs, target=...)``, batch first. A tuple
        (one tensor per input) and inputs with more than one feature dimension are
        flattened and concatenated, features in C order.
    inputs : tensor or tuple of tensors
        The inputs that were explained (same structure); they become ``data``.
    target : int, sequence/tensor of int (one per row) or None
        The ``target`` given to ``attribute``: the output column each row's attributions
        explain. It is recorded in ``output_names`` (a string, so it survives slicing) as
        ``"target=<k>"``, ``"target=predicted"`` (a per-row target equal to
        ``forward_func(inputs).argmax(1)``, checked when ``forward_func`` is given) or
        ``"target=per-row"`` (any other per-row target, or one that could not be checked).
        :func:`shap_debug.contributions.contribution_matrix` and
        :class:`~shap_debug.neighborhood.NeighborhoodModel` read the attributions as
        explaining that target and never re-sign them. None: the model has one output per
        row (e.g. a binary model's class-1 logit) and nothing is declared.
    forward_func : callable, optional
        The model that was explained. Gives ``base_values = forward_func(baselines)[target]``
        (row ``i`` against baseline ``i`` when there is one per row, the mean over the
        baselines otherwise, as for ``GradientShap``'s distribution of baselines),
        checks a per-row target against the prediction, and checks additivity:
        ``base_values + values.sum(1)`` should equal ``forward_func(inputs)[target]``; a
        :class:`~shap_debug.core.ShapDebugWarning` says by how much it misses when that is
        more than ``atol`` (e.g. Integrated Gradients' convergence delta: raise ``n_steps``).
    baselines : tensor, tuple, number or None
        The ``baselines`` given to ``attribute`` (Captum's default: zeros).
    additional_forward_args : any, optional
        As in Captum: passed to ``forward_func`` after the inputs.
    feature_names : sequence of str, optional
    base_values : float or array of shape (n,), optional
        Overrides the base values (default: ``forward_func(baselines)[target]``, or 0
        without ``forward_func``).
    display_data : array-like, optional
        Readable values for plots (e.g. category labels).
    atol : float
        Tolerance of the additivity check.

    Returns
    -------
    shap.Explanation
        ``values`` and ``data`` of shape (n, m), ``base_values`` (n,), ``output_names`` the
        string declaring the target (None when ``target`` is None).

    Examples
    --------
    >>> import torch
    >>> from captum.attr import IntegratedGradients
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    >>> x = torch.randn(4, 3)
    >>> attr = IntegratedGradients(net).attribute(x, target=1)
    >>> exp = attributions_to_explanation(attr, x, target=1, forward_func=net)
    >>> exp.values.shape, exp.output_names
    ((4, 3), 'forward_func output (target=1)')
    """
    attrs = _as_tuple(attributions)
    ins = _as_tuple(inputs)
    if len(attrs) != len(ins):
        raise ValueError(
            f"attributions has {len(attrs)} tensors but inputs has {len(ins)}")
    vals = np.concatenate([_flat(a) for a in attrs], axis=1)
    data = np.concatenate([_flat(i) for i in ins], axis=1)
    if vals.shape != data.shape:
        raise ValueError(
            f"attributions flatten to {vals.shape} but inputs to {data.shape}")
    if not np.isfinite(vals).all():  # NaN attributions would pass as "no contribution"
        rows = np.flatnonzero(~np.isfinite(vals).all(axis=1))
        raise ValueError(f"attributions hold NaN or infinite values in {len(rows)} row(s), "
                         f"e.g. rows {rows[:5].tolist()}; check the model's outputs and the "
                         "attribution method's settings (e.g. n_steps, baselines)")
    names = feature_names_of(data, feature_names)
    n = len(vals)
    fx = None
    if forward_func is not None:
        if not callable(forward_func):
            raise TypeError(f"forward_func must be callable; got {type(forward_func).__name__}")
        tins = tuple(t if isinstance(t, torch.Tensor) else torch.as_tensor(np.asarray(t))
                     for t in ins)
        out_x = _forward(forward_func, tins, additional_forward_args)
        if len(out_x) != n:
            raise ValueError(f"forward_func returned {len(out_x)} rows for {n} inputs")
        tgt = _target_index(target, n, out_x.shape[1] if out_x.ndim == 2 else None)
        fx = _pick(out_x, tgt)
        if base_values is None:
            bins = _baseline_inputs(baselines, tins)
            out_b = _forward(forward_func, bins, additional_forward_args)
            nb = len(out_b)
            if nb == n:
                base_values = _pick(out_b, tgt)
            elif out_b.ndim == 1:
                base_values = np.full(n, out_b.mean())
            else:
                mean_b = out_b.mean(0)
                base_values = mean_b[tgt] if tgt is not None else mean_b
        if out_x.ndim == 1:     # one output per row: nothing to declare
            spec = None
        elif isinstance(tgt, np.ndarray):
            spec = "predicted" if np.array_equal(tgt, out_x.argmax(1)) else "per-row"
        else:
            spec = tgt
    else:
        tgt = _target_index(target, n, None) if target is not None else None
        spec = "per-row" if isinstance(tgt, np.ndarray) else tgt
    if base_values is None:
        base = np.zeros(n)
    else:
        if isinstance(base_values, torch.Tensor):
            base_values = base_values.detach().cpu().double().numpy()
        base = np.broadcast_to(np.asarray(base_values, dtype=np.float64).reshape(-1)
                               if np.ndim(base_values) else float(base_values), (n,)).copy()
    if fx is not None:
        gap = float(np.max(np.abs(base + vals.sum(1) - fx))) if n else 0.0
        if gap > atol:
            warn(f"base_values + values.sum(1) misses forward_func(inputs) by up to {gap:.3g} "
                 "(the method is not exactly additive, e.g. Integrated Gradients' convergence "
                 "delta: more n_steps shrink it)")
    output_names = None if spec is None else f"forward_func output (target={spec})"
    import shap  # here, so that importing the bridge does not load shap

    return shap.Explanation(values=vals, base_values=base, data=data,
                            display_data=display_data, feature_names=names,
                            output_names=output_names)


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
        with torch.no_grad(), eval_mode(self.module):  # the user's module is not changed
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
