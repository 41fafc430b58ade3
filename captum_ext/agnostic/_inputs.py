"""Inputs of the agnostic network and the probes: checks, the tabular/image encoding, the
default MLP, and Integrated Gradients per raw column."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shap
import torch

from shap_debug.core import check_int, check_y, feature_names_of


def _as_tensor_input(X: Any, name: str) -> np.ndarray:
    """A numeric ndarray with a batch dimension (2-D tables or n-D images)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric (or a DataFrame); got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have a batch dimension, shape (n, ...); got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError(f"{name} must have at least 1 row")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_protected(protected: Any, n: int, name: str, n_name: str) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    if isinstance(protected, pd.Series):
        protected = protected.to_numpy()
    arr = check_y(protected, name)
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries but {n_name} has {n} rows")
    if pd.isna(arr).any():
        raise ValueError(f"{name} contains missing values")
    classes, codes = np.unique(arr.astype(str) if arr.dtype == object else arr,
                               return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{name} must take at least 2 distinct values (a concept to hide); got only "
            f"{classes.tolist()}")
    return classes, codes.astype(np.int64)


def _mlp(sizes: Sequence[int], out: int | None) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    if out is not None:
        layers.append(torch.nn.Linear(sizes[-1], out))
    return torch.nn.Sequential(*layers)


def _check_sizes(value: Any, name: str, allow_empty: bool) -> tuple[int, ...]:
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        value = (int(value),)
    try:
        sizes = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints; got {value!r}") from None
    if not sizes and not allow_empty:
        raise ValueError(f"{name} must name at least one layer width; got {value!r}")
    return tuple(check_int(s, f"{name} entry", low=1) for s in sizes)


class _Net(torch.nn.Module):
    """Encoder + label head: the part of the agnostic network that makes predictions."""

    def __init__(self, encoder: torch.nn.Module, head: torch.nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


# --------------------------------------------------------------------------- encoding
class _InputEncoding:
    """Fit-time encoding of tables (one-hot + standardise) and images (as given)."""

    def _fit_encoding(self, X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            from shap_debug.datasets import encode

            if X.shape[1] == 0 or len(X) == 0:
                raise ValueError(f"X must have rows and columns; got shape {X.shape}")
            Z, enc = encode(X, kind="onehot")
            self.frame_encoder_ = enc
            self.feature_names_in_ = [str(c) for c in X.columns]
            self.input_groups_ = {k: list(v) for k, v in enc.groups_.items()}
            self.input_shape_ = (Z.shape[1],)
        else:
            Z = _as_tensor_input(X, "X").astype(np.float64)
            self.frame_encoder_ = None
            self.input_shape_ = tuple(Z.shape[1:])
            if Z.ndim == 2:
                self.feature_names_in_ = feature_names_of(Z)
                self.input_groups_ = {f: [j] for j, f in enumerate(self.feature_names_in_)}
            else:
                self.feature_names_in_ = None
                self.input_groups_ = None
        if Z.ndim == 2:
            mean = Z.mean(axis=0)
            scale = Z.std(axis=0)
            scale[scale < 1e-12] = 1.0
            self.input_mean_, self.input_scale_ = mean, scale
        else:
            self.input_mean_, self.input_scale_ = None, None
        return self._scale(Z)

    def _scale(self, Z: np.ndarray) -> np.ndarray:
        if self.input_mean_ is not None:
            Z = (Z - self.input_mean_) / self.input_scale_
        return Z.astype(np.float32)

    def _encode(self, X: Any) -> torch.Tensor:
        if self.frame_encoder_ is not None:
            if not isinstance(X, pd.DataFrame):
                raise TypeError("X must be a DataFrame with the columns seen in fit "
                                f"{self.feature_names_in_}; got {type(X).__name__}")
            Z = self.frame_encoder_.transform(X)
        else:
            if isinstance(X, pd.DataFrame):
                X = X.to_numpy()
            Z = _as_tensor_input(X, "X").astype(np.float64)
            if tuple(Z.shape[1:]) != self.input_shape_:
                raise ValueError(
                    f"X must have shape (n, {', '.join(map(str, self.input_shape_))}) as in "
                    f"fit; got {Z.shape}")
        return torch.from_numpy(np.ascontiguousarray(self._scale(Z)))


# --------------------------------------------------------------------------- attributions
def integrated_gradients(est: Any, X: Any, target: Any, n_steps: int,
                         baselines: Any) -> shap.Explanation:
    """Body of :meth:`AgnosticNetwork.attribute` (see there)."""
    from captum.attr import IntegratedGradients

    from ..bridge import attributions_to_explanation

    Xt = est.encode(X)
    n_steps = check_int(n_steps, "n_steps", low=2)
    with torch.no_grad():
        pred = est.net_(Xt).argmax(1)
    if target is None:
        tgt = pred
    else:
        lab = np.asarray(target)
        lookup = {c: i for i, c in enumerate(est.classes_.tolist())}
        lab = np.broadcast_to(lab, (len(Xt),))
        try:
            tgt = torch.as_tensor([lookup[v] for v in lab.tolist()])
        except KeyError as exc:
            raise ValueError(f"target {exc.args[0]!r} is not one of the classes "
                             f"{est.classes_.tolist()}") from None
    ig = IntegratedGradients(est.net_)
    base = None if baselines is None else torch.as_tensor(
        np.asarray(baselines, dtype=np.float32)).expand_as(Xt)
    attr = ig.attribute(Xt, baselines=base, target=tgt, n_steps=n_steps,
                        internal_batch_size=max(256, len(Xt)))
    vals = attr.detach().double().numpy().reshape(len(Xt), -1)
    # additivity: values sum to f(x) - f(baseline) (up to IG's convergence delta), so the
    # base value is the target logit at the baseline (zeros when none was given)
    ref = base if base is not None else torch.zeros_like(Xt)
    with torch.no_grad():
        f_ref = est.net_(ref).double()
    base_values = f_ref[torch.arange(len(Xt)), tgt].numpy()
    # say which class each row explains (the tag NeighborhoodModel and contribution_matrix
    # read): without it a 2-D explanation is taken as class 1's and rows predicted 0 negated
    tg = tgt.numpy()
    if target is None or np.array_equal(tg, pred.numpy()):
        spec, what = "predicted", "each row's predicted class"
    elif (tg == tg[0]).all():
        spec, what = str(int(tg[0])), f"class {est.classes_[int(tg[0])]!r}"
    else:
        spec, what = "per-row", "the class given per row"
    output_names = f"label-head logit of {what} (Integrated Gradients; target={spec})"
    if est.input_groups_ is not None:
        names = list(est.input_groups_)
        vals = np.column_stack([vals[:, g].sum(1) for g in est.input_groups_.values()])
        if isinstance(X, pd.DataFrame):
            data = np.column_stack([
                X[c].cat.codes.to_numpy(np.float64)
                if isinstance(X[c].dtype, pd.CategoricalDtype)
                else pd.to_numeric(X[c], errors="coerce").to_numpy(np.float64)
                for c in X.columns])
            return shap.Explanation(values=vals, base_values=base_values,
                                    data=data, display_data=X.astype(str).to_numpy(),
                                    feature_names=names, output_names=output_names)
        return shap.Explanation(values=vals, base_values=base_values,
                                data=np.asarray(X, dtype=np.float64), feature_names=names,
                                output_names=output_names)
    exp = attributions_to_explanation(attr, Xt, target=tgt, forward_func=est.net_,
                                      baselines=ref, atol=1e-2)
    exp.output_names = output_names
    return exp

