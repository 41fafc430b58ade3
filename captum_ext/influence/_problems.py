"""The trained model seen as an optimisation problem: per-row log-losses, the objective
``mean loss + ½ Σ reg θ²``, its gradients, Hessian and Gauss-Newton products, refits, and the
front ends (torch modules, ``LogisticRegression``, ``MLPClassifier``) with input checks."""

from __future__ import annotations

import abc
import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call, grad, jacrev, jvp, vjp, vmap

from shap_debug.core import check_frame_or_array

from ._solvers import _cg_solve, _line_search, _pcg, _psd_solve

_NONSMOOTH = (
    torch.nn.ReLU, torch.nn.ReLU6, torch.nn.LeakyReLU, torch.nn.PReLU, torch.nn.RReLU,
    torch.nn.Hardtanh, torch.nn.Hardswish, torch.nn.Hardsigmoid, torch.nn.Hardshrink,
    torch.nn.Softshrink, torch.nn.Threshold, torch.nn.MaxPool1d, torch.nn.MaxPool2d,
    torch.nn.MaxPool3d, torch.nn.AdaptiveMaxPool1d, torch.nn.AdaptiveMaxPool2d,
)


def _loss_from_logits(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-row log-loss; one logit column means a binary model's positive-class logit."""
    if z.shape[-1] == 1:
        z1 = z[..., 0]
        return torch.nn.functional.softplus(z1) - y.to(z.dtype) * z1
    return torch.nn.functional.cross_entropy(z, y, reduction="none")


def _logit_curvature(z: torch.Tensor) -> torch.Tensor:
    """Hessian of the log-loss w.r.t. the logits, (b, K, K)."""
    if z.shape[-1] == 1:
        s = torch.sigmoid(z)
        return (s * (1 - s))[..., None]
    p = torch.softmax(z, dim=-1)
    return torch.diag_embed(p) - p[:, :, None] * p[:, None, :]


class _Problem(abc.ABC):
    """A trained model seen as ``J(θ) = mean loss + ½ Σ reg θ²`` around its parameters."""

    theta: torch.Tensor
    reg: torch.Tensor
    n_outputs: int
    smooth: bool = True
    dense_pinv: bool = False  # Hessian has a known null space (multinomial intercepts)

    @property
    def n_params(self) -> int:
        return int(self.theta.numel())

    @property
    def n_classes(self) -> int:
        return 2 if self.n_outputs == 1 else self.n_outputs

    @abc.abstractmethod
    def logits(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """The model's logits at parameters ``theta`` (each front end defines them)."""

    def losses(self, X: torch.Tensor, y: torch.Tensor, theta: torch.Tensor | None = None
               ) -> torch.Tensor:
        return _loss_from_logits(self.logits(self.theta if theta is None else theta, X), y)

    def objective(self, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                  w: torch.Tensor | None = None, n: int | None = None) -> torch.Tensor:
        ell = _loss_from_logits(self.logits(theta, X), y)
        if w is not None:
            ell = ell * w
        return ell.sum() / (len(X) if n is None else n) + 0.5 * (self.reg * theta * theta).sum()

    # ---- first order
    def grads(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        def single(theta, x, t):
            return _loss_from_logits(self.logits(theta, x[None]), t[None])[0]

        return vmap(grad(single), in_dims=(None, 0, 0))(self.theta, X, y)

    # ---- second order over rows (X, y); each includes the regulariser once
    def hvp(self, V: torch.Tensor, X: torch.Tensor, y: torch.Tensor, chunk: int) -> torch.Tensor:
        n = len(X)
        out = V * self.reg
        for s in range(0, n, chunk):
            Xc, yc = X[s:s + chunk], y[s:s + chunk]

            def f(theta, Xc=Xc, yc=yc):
                return _loss_from_logits(self.logits(theta, Xc), yc).sum() / n

            g = grad(f)
            out = out + vmap(lambda v, g=g: jvp(g, (self.theta,), (v,))[1])(V)
        return out

    def hessian(self, X: torch.Tensor, y: torch.Tensor, chunk: int) -> torch.Tensor:
        p = self.n_params
        eye = torch.eye(p, dtype=self.theta.dtype)
        cols = max(1, min(p, 2 ** 26 // max(1, min(chunk, len(X)) * 64)))
        H = torch.cat([self.hvp(eye[s:s + cols], X, y, chunk) for s in range(0, p, cols)])
        return 0.5 * (H + H.T)

    def _jac(self, X: torch.Tensor) -> torch.Tensor:
        def single(theta, x):
            return self.logits(theta, x[None])[0]

        return vmap(jacrev(single), in_dims=(None, 0))(self.theta, X)  # (b, K, p)

    def ggn(self, X: torch.Tensor, y: torch.Tensor, chunk: int) -> torch.Tensor:
        n, p = len(X), self.n_params
        G = torch.diag(self.reg.clone())
        for s in range(0, n, chunk):
            Xc = X[s:s + chunk]
            Jc = self._jac(Xc)
            Hl = _logit_curvature(self.logits(self.theta, Xc))
            M = torch.einsum("bkl,blp->bkp", Hl, Jc)
            G = G + Jc.reshape(-1, p).T @ M.reshape(-1, p) / n
        return 0.5 * (G + G.T)

    def ggn_vp(self, V: torch.Tensor, X: torch.Tensor, y: torch.Tensor, chunk: int
               ) -> torch.Tensor:
        n = len(X)
        out = V * self.reg
        for s in range(0, n, chunk):
            Xc = X[s:s + chunk]

            def f(theta, Xc=Xc):
                return self.logits(theta, Xc)

            z, pullback = vjp(f, self.theta)
            Hl = _logit_curvature(z.detach())

            def one(v, f=f, Hl=Hl, pullback=pullback):
                Jv = jvp(f, (self.theta,), (v,))[1]
                return pullback(torch.einsum("bkl,bl->bk", Hl, Jv))[0]

            out = out + vmap(one)(V) / n
        return out

    # ---- refitting (leave-one-out, label flips)
    def fit(self, X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, theta0: torch.Tensor,
            tol: float, max_iter: int, precond: Any = None) -> torch.Tensor:
        """Minimise ``(1/n) Σ w_i ℓ_i + ½ Σ reg θ²`` (``n`` = all rows) from ``theta0``.

        Full-batch L-BFGS while far from the optimum (largest gradient entry above 1e-3).
        Then Newton steps: with ``precond`` (a function ``θ -> (g -> M⁻¹ g)`` giving a
        solve with a positive definite ``M``, e.g. the Hessian at a nearby point) their
        systems are solved by preconditioned conjugate gradient — few Hessian-vector
        products, because the Hessian barely moves; otherwise by plain conjugate gradient.
        Stops when the largest gradient entry is below ``tol``.
        """
        def obj(t):
            return self.objective(t, X, y, w)

        gfn = grad(obj)
        theta = theta0.detach().clone()
        if float(gfn(theta).abs().max()) > 1e-3:
            theta.requires_grad_(True)
            opt = torch.optim.LBFGS([theta], lr=1, max_iter=max_iter, history_size=50,
                                    tolerance_grad=1e-6, tolerance_change=0.0,
                                    line_search_fn="strong_wolfe")

            def closure():
                opt.zero_grad()
                loss = obj(theta)
                loss.backward()
                return loss

            opt.step(closure)
            theta = theta.detach()
        M = precond(theta) if precond is not None else None
        f = obj(theta)
        for _ in range(max_iter):
            tr = theta.clone().requires_grad_(True)
            # one graph per Newton step; each Hessian-vector product is a backward pass on it
            g_graph = torch.autograd.grad(obj(tr), tr, create_graph=True)[0]
            g = g_graph.detach()
            if float(g.abs().max()) <= tol:
                break

            def hv(v, tr=tr, g_graph=g_graph):
                return torch.autograd.grad(g_graph, tr, v, retain_graph=True)[0]

            if M is not None:
                # inexact Newton: looser solves far from the optimum (Eisenstat & Walker 1996)
                eta = max(1e-12, min(1e-2, float(g.abs().max()) ** 0.5))
                step = _pcg(hv, g, M, eta, 200)
            else:
                step = _cg_solve(lambda V, hv=hv: torch.stack([hv(v) for v in V]), g[None],
                                 1e-9, min(2 * len(g), 500))[0][0]
                if float(g @ step) <= 0:  # not a descent direction (negative curvature)
                    step = g
            found = _line_search(obj, gfn, theta, f, g, step)
            if found is None:
                break
            theta, f = found
        return theta


class _LogisticProblem(_Problem):
    """scikit-learn ``LogisticRegression`` in closed form.

    Parameters are laid out like ``torch.nn.Linear``: the (K, m) weights row by row, then the
    K intercepts (K = 1 for binary models). scikit-learn minimises ``C Σ ℓ_i + ½‖w‖²``,
    i.e. ``mean ℓ + ½ (1/(C n)) ‖w‖²``; intercepts are not penalised.
    """

    def __init__(self, model: Any, n_train: int, dtype: torch.dtype):
        l1 = getattr(model, "l1_ratio", 0.0)
        penalty = getattr(model, "penalty", "deprecated")
        if penalty in ("l1", "elasticnet") or (l1 not in (None, 0, 0.0)
                                               and penalty not in (None, "l2")):
            raise ValueError(
                "model: LogisticRegression with an L1 penalty (penalty/l1_ratio) is not twice "
                "differentiable; influence functions need an L2 or no penalty")
        if getattr(model, "class_weight", None) is not None:
            raise ValueError("model: LogisticRegression with class_weight is not supported; "
                             "refit it with class_weight=None")
        W = torch.as_tensor(np.asarray(model.coef_), dtype=dtype)
        b = torch.as_tensor(np.asarray(model.intercept_, dtype=np.float64).reshape(-1),
                            dtype=dtype)
        self.fit_intercept = bool(getattr(model, "fit_intercept", True))
        K, m = W.shape
        self.n_outputs, self.m = K, m
        self.theta = torch.cat([W.reshape(-1), b if self.fit_intercept else b[:0]])
        C = float(getattr(model, "C", 1.0))
        lam = 0.0 if (penalty is None or not np.isfinite(C)) else 1.0 / (C * n_train)
        self.reg = torch.cat([torch.full((K * m,), lam, dtype=dtype),
                              torch.zeros(K if self.fit_intercept else 0, dtype=dtype)])
        self.b_fixed = None if self.fit_intercept else b
        self.dense_pinv = K > 1

    def _split(self, theta):
        K, m = self.n_outputs, self.m
        W = theta[:K * m].reshape(K, m)
        b = theta[K * m:] if self.fit_intercept else self.b_fixed
        return W, b

    def logits(self, theta, X):
        W, b = self._split(theta)
        return X @ W.T + b

    def _residual(self, X, y, theta=None):
        z = self.logits(self.theta if theta is None else theta, X)
        if self.n_outputs == 1:
            return torch.sigmoid(z) - y.to(z.dtype)[:, None], z
        P = torch.softmax(z, dim=1)
        return P - torch.nn.functional.one_hot(y, self.n_outputs).to(z.dtype), z

    def grads(self, X, y, theta=None):
        R, _ = self._residual(X, y, theta)
        gW = (R[:, :, None] * X[:, None, :]).reshape(len(X), -1)
        return torch.cat([gW, R], dim=1) if self.fit_intercept else gW

    def _dense(self, X, y, theta=None, w=None, n=None):
        _, z = self._residual(X, y, theta)
        D = _logit_curvature(z)  # (b, K, K)
        if w is not None:
            D = D * w[:, None, None]
        n = len(X) if n is None else n
        K, m = self.n_outputs, self.m
        Xt = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], 1) if self.fit_intercept else X
        q = Xt.shape[1]
        T = torch.empty(K, q, K, q, dtype=X.dtype)
        for k in range(K):
            for j in range(k, K):
                block = Xt.T @ (D[:, k, j, None] * Xt) / n
                T[k, :, j, :] = block
                T[j, :, k, :] = block.T
        perm = [k * q + c for k in range(K) for c in range(m)]
        if self.fit_intercept:
            perm += [k * q + m for k in range(K)]
        H = T.reshape(K * q, K * q)[perm][:, perm]
        return H + torch.diag(self.reg)

    def hessian(self, X, y, chunk):
        return self._dense(X, y)

    ggn = hessian  # a GLM's Gauss-Newton matrix is its Hessian

    def hvp(self, V, X, y, chunk):
        out = V * self.reg
        for s in range(0, len(X), chunk):
            Xc = X[s:s + chunk]
            _, z = self._residual(Xc, y[s:s + chunk])
            D = _logit_curvature(z)
            K, m = self.n_outputs, self.m
            Vw = V[:, :K * m].reshape(len(V), K, m)
            Jv = torch.einsum("bm,vkm->vbk", Xc, Vw)
            if self.fit_intercept:
                Jv = Jv + V[:, None, K * m:]
            U = torch.einsum("bkl,vbl->vbk", D, Jv) / len(X)
            gW = torch.einsum("vbk,bm->vkm", U, Xc).reshape(len(V), -1)
            out = out + (torch.cat([gW, U.sum(1)], 1) if self.fit_intercept else gW)
        return out

    ggn_vp = hvp

    def fit(self, X, y, w, theta0, tol, max_iter, precond=None):
        """Newton's method with a backtracking line search; with ``precond`` (the Hessian at
        a nearby optimum) the Hessian is kept fixed while the gradient keeps shrinking fast
        (one matrix-vector product per step) and rebuilt otherwise."""
        theta = theta0.detach().clone()
        n = len(X)

        def obj(t):
            return self.objective(t, X, y, w, n)

        def gfn(t):
            R, _ = self._residual(X, y, t)
            R = R * w[:, None]
            gW = (R.T @ X).reshape(-1) / n
            g = torch.cat([gW, R.sum(0) / n]) if self.fit_intercept else gW
            return g + self.reg * t

        def newton(t):
            H = self._dense(X, y, t, w, n)
            pinv = self.dense_pinv
            return lambda g: _psd_solve(H, g[None], pinv=pinv)[0]

        solve = precond(theta) if precond is not None else newton(theta)
        f = obj(theta)
        last = math.inf
        for _ in range(max_iter):
            g = gfn(theta)
            gmax = float(g.abs().max())
            if gmax <= tol:
                break
            if gmax > 0.1 * last:  # slow: refresh the Hessian
                solve = newton(theta)
            last = gmax
            found = _line_search(obj, gfn, theta, f, g, solve(g))
            if found is None:
                break
            theta, f = found
        return theta


class _TorchProblem(_Problem):
    """A torch module (logits out) with some of its parameters free."""

    def __init__(self, module: torch.nn.Module, names: Sequence[str] | None,
                 weight_decay: float | torch.Tensor, dtype: torch.dtype):
        self.module = copy.deepcopy(module).to(dtype).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        params = dict(self.module.named_parameters())
        self.names = list(params) if names is None else list(names)
        self.shapes = [params[k].shape for k in self.names]
        self.sizes = [params[k].numel() for k in self.names]
        self.fixed = {k: v for k, v in params.items() if k not in self.names}
        self.fixed.update(dict(self.module.named_buffers()))
        self.theta = torch.cat([params[k].detach().reshape(-1) for k in self.names])
        if isinstance(weight_decay, torch.Tensor):
            self.reg = weight_decay.to(dtype)
        else:
            self.reg = torch.full_like(self.theta, float(weight_decay))
        self.smooth = not any(isinstance(mod, _NONSMOOTH) for mod in self.module.modules())
        self.n_outputs = 0  # set by the caller once the output width is known

    def params_dict(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        parts = torch.split(theta, self.sizes)
        d = dict(self.fixed)
        d.update({k: v.reshape(s) for k, v, s in zip(self.names, parts, self.shapes)})
        return d

    def logits(self, theta, X):
        z = functional_call(self.module, self.params_dict(theta), (X,))
        return z.reshape(len(X), -1)


def _mlp_to_torch(model: Any) -> torch.nn.Module:
    """An ``MLPClassifier`` as a float64 ``torch.nn.Sequential`` (same weights)."""
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "logistic": torch.nn.Sigmoid,
            "identity": torch.nn.Identity}
    if getattr(model, "out_activation_", "softmax") not in ("softmax", "logistic"):
        raise ValueError(f"model: MLPClassifier with out_activation_="
                         f"{model.out_activation_!r} is not supported")
    if model.out_activation_ == "logistic" and model.coefs_[-1].shape[1] > 1:
        raise ValueError("model: multi-label MLPClassifier is not supported")
    layers: list[torch.nn.Module] = []
    for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        lin = torch.nn.Linear(W.shape[0], W.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W.T))
            lin.bias.copy_(torch.as_tensor(b))
        layers.append(lin)
        if i < len(model.coefs_) - 1:
            layers.append(acts[model.activation]())
    return torch.nn.Sequential(*layers)


def _make_problem(model: Any, X: Any, layers: Sequence[str] | None, last_layer: bool,
                  weight_decay: float, dtype: torch.dtype) -> tuple[_Problem, np.ndarray]:
    """The problem for a supported model and its classes (``classes_`` or ``0..K-1``)."""
    from ..bridge import TorchClassifier

    if isinstance(model, TorchClassifier):
        classes = model.classes_
        model = model.module
    else:
        classes = getattr(model, "classes_", None)
    name = type(model).__name__
    n = len(X)
    if isinstance(model, torch.nn.Module):
        names = _param_names(model, layers, last_layer)
        prob = _TorchProblem(model, names, weight_decay, dtype)
    elif name == "LogisticRegression":
        if not hasattr(model, "coef_"):
            raise ValueError("model: LogisticRegression is not fitted")
        if layers is not None:
            raise ValueError("layers: a LogisticRegression has one layer; leave layers=None")
        prob = _LogisticProblem(model, n, dtype)
    elif name == "MLPClassifier":
        if not hasattr(model, "coefs_"):
            raise ValueError("model: MLPClassifier is not fitted")
        module = _mlp_to_torch(model)
        names = _param_names(module, layers, last_layer)
        all_names = [k for k, _ in module.named_parameters()]
        lam = float(model.alpha) / n
        reg = torch.cat([
            torch.full((p.numel(),), lam if k.endswith("weight") else 0.0)
            for k, p in module.named_parameters() if k in (names or all_names)])
        prob = _TorchProblem(module, names, reg, dtype)
    else:
        raise TypeError(
            f"model must be a torch.nn.Module, a fitted LogisticRegression or "
            f"MLPClassifier; got {name} (influence functions need a differentiable "
            "model)")
    if isinstance(prob, _TorchProblem):
        with torch.no_grad():
            width = prob.logits(prob.theta, _as_tensor(X, "X", dtype)[:1]).shape[1]
        prob.n_outputs = int(width)
    if classes is None:
        classes = np.arange(prob.n_classes)
    return prob, np.asarray(classes)


def _param_names(module: torch.nn.Module, layers: Sequence[str] | None, last_layer: bool
                 ) -> list[str] | None:
    """Names of the free parameters (``None``: all of them)."""
    names = [k for k, p in module.named_parameters()]
    if layers is not None and last_layer:
        raise ValueError("give either layers or last_layer=True, not both")
    if last_layer:
        owners = [m for m in module.modules() if any(True for _ in m.parameters(recurse=False))]
        if not owners:
            raise ValueError("model has no parameters")
        last = owners[-1]
        ids = {id(p) for p in last.parameters(recurse=False)}
        return [k for k, p in module.named_parameters() if id(p) in ids]
    if layers is None:
        return None
    layers = [str(s) for s in layers]
    chosen = [k for k in names if any(k == s or k.startswith(s + ".") for s in layers)]
    if not chosen:
        raise ValueError(f"layers {layers} match no parameter; parameters are {names}")
    return chosen


def _as_tensor(X: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
    """A finite 2-D numeric tensor of ``dtype`` (numeric DataFrame, array or tensor)."""
    if isinstance(X, torch.Tensor):
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape "
                             f"{tuple(X.shape)}")
        if not torch.isfinite(X).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        return X.detach().to(dtype)
    if isinstance(X, pd.DataFrame):
        bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise TypeError(f"{name} has non-numeric columns {bad[:5]}; encode them first "
                            "(shap_debug.datasets.encode(X, kind='onehot'))")
    arr = check_frame_or_array(X, name)
    if isinstance(arr, pd.DataFrame):
        arr = arr.to_numpy(dtype=np.float64)
    return torch.as_tensor(np.array(arr, dtype=np.float64), dtype=dtype)


def _split_inputs(inputs: Any, name: str = "inputs") -> tuple[Any, Any]:
    """``(X, y)`` out of a Captum-style ``inputs`` tuple."""
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
        raise TypeError(f"{name} must be a tuple (X, y) with the labels last, as in "
                        f"captum.influence; got {type(inputs).__name__}")
    return inputs[0], inputs[1]

