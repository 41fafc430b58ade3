"""Influence functions: which training rows made this prediction?

Koh & Liang (2017), "Understanding Black-box Predictions via Influence Functions", ICML.
For a model trained by minimising ``J(θ) = (1/n) Σ_i ℓ(z_i, θ) + ½ Σ_p r_p θ_p²`` (mean loss
plus the model's own L2 regularisation), removing training row ``z`` while keeping every other
term (the *same per-sample regularisation*) moves the optimum by ``≈ (1/n) C⁻¹ ∇ℓ(z)`` and the
loss of a test point ``x`` by

    influence(z, x) = (1/n) · ∇ℓ(x)ᵀ C⁻¹ ∇ℓ(z),

where ``C`` is the curvature of ``J`` (its Hessian, or a substitute) plus ``damping · I``.

**Sign convention.** ``influence(z, x) > 0``: removing ``z`` would *raise* the test loss by that
much (``z`` supports the prediction — a *proponent*, as in Captum). ``< 0``: removing ``z``
would *lower* the test loss (``z`` works against it — an *opponent*). Self-influence
``(1/n) ∇ℓ(z)ᵀ C⁻¹ ∇ℓ(z) ≥ 0`` is how much a row's own loss would rise if it were removed:
large for atypical or mislabelled rows.

Curvatures (``curvature=``):

- ``"exact"``: the dense Hessian, factorised once (models up to ``max_dense_params``).
- ``"cg"``: the Hessian through Hessian-vector products (``torch.func.jvp`` of ``grad``),
  solved by batched conjugate gradient (Martens 2010; Koh & Liang 2017).
- ``"lissa"``: stochastic Neumann series on mini-batch HVPs (Agarwal, Bullins & Hazan 2017)
  with an automatic scale from power iteration and a divergence guard.
- ``"gauss_newton"``: the generalised Gauss-Newton matrix ``Jᵀ ∇²ℓ J`` (positive
  semi-definite, needs only first derivatives of the network; Schraudolph 2002).
- ``"fisher"``: the empirical Fisher ``(1/n) Σ ∇ℓ ∇ℓᵀ``.
- ``"identity"``: no curvature (gradient dot product, a TracIn-like baseline).

Front ends: any ``torch.nn.Module`` returning logits (``torch.func`` per-sample gradients with
``vmap(grad)`` in bounded-memory chunks), scikit-learn ``LogisticRegression`` (binary and
multinomial, closed-form gradients and Hessian including ``C``) and ``MLPClassifier`` (weights
moved to torch, ``alpha`` kept). ``layers=``/``last_layer=True`` restrict the parameters;
``candidates=`` restricts the training rows scored (FastIF, Guo et al. 2021), e.g. to a
test point's k nearest neighbours or its contribution-space neighbourhood.
"""

from __future__ import annotations

import abc
import copy
import html
import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call, grad, jacrev, jvp, vjp, vmap

from shap_debug.core import (
    check_float,
    check_frame_or_array,
    check_int,
    check_option,
    check_random_state,
    check_y,
    seed_from,
    warn,
)

__all__ = [
    "CURVATURES",
    "InfluenceFunction",
    "KMostInfluentialResults",
    "knn_candidates",
]

CURVATURES = ("exact", "cg", "lissa", "gauss_newton", "fisher", "identity")
_NEEDS_HESSIAN = ("exact", "cg", "lissa")
_NONSMOOTH = (
    torch.nn.ReLU, torch.nn.ReLU6, torch.nn.LeakyReLU, torch.nn.PReLU, torch.nn.RReLU,
    torch.nn.Hardtanh, torch.nn.Hardswish, torch.nn.Hardsigmoid, torch.nn.Hardshrink,
    torch.nn.Softshrink, torch.nn.Threshold, torch.nn.MaxPool1d, torch.nn.MaxPool2d,
    torch.nn.MaxPool3d, torch.nn.AdaptiveMaxPool1d, torch.nn.AdaptiveMaxPool2d,
)


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
class KMostInfluentialResults(NamedTuple):
    """Proponents or opponents per test point, in the layout of ``captum.influence``.

    ``indices[i, j]`` is the training row with the ``j``-th highest (proponents) or lowest
    (opponents) influence on test point ``i``; ``influence_scores[i, j]`` its score (predicted
    change of test loss ``i`` if that row were removed). Unpacks and indexes like Captum's
    ``KMostInfluentialResults``.
    """

    indices: torch.Tensor
    influence_scores: torch.Tensor

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (test point, rank)."""
        idx = self.indices.detach().cpu().numpy()
        sc = self.influence_scores.detach().cpu().numpy()
        t, k = idx.shape
        return pd.DataFrame({
            "test": np.repeat(np.arange(t), k),
            "rank": np.tile(np.arange(1, k + 1), t),
            "train_index": idx.ravel(),
            "influence": sc.ravel(),
        })

    def plot(self, test: int = 0, max_display: int = 10, ax: Any = None,
             show: bool = True) -> Any:
        """Horizontal bars of the top rows for one test point (red raises its loss if removed)."""
        import matplotlib.pyplot as plt
        from shap.plots import colors

        if not 0 <= test < len(self.indices):
            raise ValueError(f"test must be in [0, {len(self.indices)}); got {test}")
        own = ax is None
        if own:
            _, ax = plt.subplots(figsize=(6, 0.35 * max_display + 1))
        idx = self.indices[test, :max_display].cpu().numpy()
        sc = self.influence_scores[test, :max_display].cpu().numpy()
        pos = np.arange(len(idx))[::-1]
        ax.barh(pos, sc, color=[colors.red_rgb if s > 0 else colors.blue_rgb for s in sc])
        ax.set_yticks(pos, [f"row {i}" for i in idx])
        ax.axvline(0, color="#999999", lw=0.8)
        ax.set_xlabel("change of test loss if the row were removed")
        if own and show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        df = self.to_frame().head(50)
        rows = "".join(
            f"<tr><td>{int(r.test)}</td><td>{int(r.rank)}</td><td>{int(r.train_index)}</td>"
            f"<td>{r.influence:.3g}</td></tr>" for r in df.itertuples())
        return (f"<div><b>{html.escape('Most influential training rows')}</b>"
                "<table><tr><th>test</th><th>rank</th><th>train row</th><th>influence</th></tr>"
                f"{rows}</table></div>")


# --------------------------------------------------------------------------------------
# Losses and problems (front ends)
# --------------------------------------------------------------------------------------
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


def _pcg(matvec, b: torch.Tensor, precond, tol: float, max_iter: int) -> torch.Tensor:
    """Preconditioned conjugate gradient for one right-hand side (stops at negative
    curvature, returning the preconditioned gradient step if nothing better was found)."""
    x = torch.zeros_like(b)
    r = b.clone()
    z = precond(r)
    p = z.clone()
    rz = r @ z
    bnorm = float(b.norm())
    for _ in range(max_iter):
        Ap = matvec(p)
        pAp = p @ Ap
        if float(pAp) <= 0:
            return x if bool(x.abs().max() > 0) else precond(b)
        alpha = rz / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        if float(r.norm()) <= tol * bnorm:
            break
        z = precond(r)
        rz_new = r @ z
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x


def _line_search(obj, gfn, theta, f, g, step):
    """Backtracking (Armijo) along ``-step``; near the optimum, where the objective no
    longer resolves the decrease, a step that shrinks the gradient is accepted."""
    gmax = float(g.abs().max())
    slope = float(g @ step)
    t = 1.0
    while t > 1e-10:
        cand = theta - t * step
        fc = obj(cand)
        if bool(torch.isfinite(fc)):
            if fc <= f - 1e-4 * t * slope:
                return cand, fc
            if fc <= f + 1e-13 * abs(float(f)) and float(gfn(cand).abs().max()) < gmax:
                return cand, fc
        t *= 0.5
    return None


def _cg_solve(matvec, B: torch.Tensor, tol: float, max_iter: int
              ) -> tuple[torch.Tensor, bool, bool]:
    """Batched conjugate gradient for the rows of ``B``.

    Returns the solutions, whether all converged and whether negative curvature was met
    (iteration stops there, keeping the last iterate).
    """
    X = torch.zeros_like(B)
    R = B.clone()
    P = R.clone()
    rs = (R * R).sum(1)
    bnorm = B.norm(dim=1)
    active = bnorm > 0
    if not bool(active.any()):
        return X, True, False
    for _ in range(max_iter):
        AP = matvec(P)
        pAp = (P * AP).sum(1)
        if bool(((pAp <= 0) & active).any()):
            return X, False, True
        alpha = torch.where(active, rs / torch.where(active, pAp, torch.ones_like(pAp)),
                            torch.zeros_like(rs))
        X = X + alpha[:, None] * P
        R = R - alpha[:, None] * AP
        rs_new = (R * R).sum(1)
        active = active & (rs_new.sqrt() > tol * bnorm)
        if not bool(active.any()):
            return X, True, False
        beta = torch.where(active, rs_new / torch.where(rs > 0, rs, torch.ones_like(rs)),
                           torch.zeros_like(rs))
        P = R + beta[:, None] * P
        rs = rs_new
    return X, False, False


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


def _psd_solve(A: torch.Tensor, B: torch.Tensor, pinv: bool = False) -> torch.Tensor:
    """Rows of ``B`` times ``A⁻¹`` for a symmetric ``A`` (Cholesky, else eigen-solve)."""
    if not pinv:
        L, info = torch.linalg.cholesky_ex(A)
        if int(info) == 0:
            return torch.cholesky_solve(B.T, L).T
    evals, evecs = torch.linalg.eigh(A)
    tol = evals.abs().max() * A.shape[0] * torch.finfo(A.dtype).eps * 10
    inv = torch.where(evals.abs() > tol, 1.0 / evals, torch.zeros_like(evals))
    return ((B @ evecs) * inv) @ evecs.T


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def _as_tensor(X: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
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
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
        raise TypeError(f"{name} must be a tuple (X, y) with the labels last, as in "
                        f"captum.influence; got {type(inputs).__name__}")
    return inputs[0], inputs[1]


def knn_candidates(X_train: Any, X_test: Any, n_neighbors: int = 100,
                   standardize: bool = True) -> list[np.ndarray]:
    """The ``n_neighbors`` nearest training rows of each test row (FastIF's candidate set).

    Guo et al. (2021), "FastIF: Scalable Influence Functions for Efficient Model
    Interpretation and Debugging", EMNLP: the most influential rows are almost always among a
    test point's nearest neighbours, so only those need scoring.

    Examples
    --------
    >>> import numpy as np
    >>> Xtr = np.arange(10.0).reshape(-1, 1)
    >>> [c.tolist() for c in knn_candidates(Xtr, np.array([[0.2]]), n_neighbors=2)]
    [[0, 1]]
    """
    from sklearn.neighbors import NearestNeighbors

    A = _as_tensor(X_train, "X_train", torch.float64).numpy()
    B = _as_tensor(X_test, "X_test", torch.float64).numpy()
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"X_test has {B.shape[1]} columns but X_train has {A.shape[1]}")
    n_neighbors = check_int(n_neighbors, "n_neighbors", low=1, high=len(A))
    if standardize:
        mu, sd = A.mean(0), A.std(0)
        sd[sd == 0] = 1.0
        A, B = (A - mu) / sd, (B - mu) / sd
    nn = NearestNeighbors(n_neighbors=n_neighbors).fit(A)
    return [np.sort(r) for r in nn.kneighbors(B, return_distance=False)]


# --------------------------------------------------------------------------------------
# The public class
# --------------------------------------------------------------------------------------
class InfluenceFunction:
    """Influence of training rows on test losses, with a choice of curvature.

    Captum-compatible: :meth:`influence` and :meth:`self_influence` take and return what
    ``captum.influence.NaiveInfluenceFunction`` does (a test batch ``(X, y)`` in; a
    ``(n_test, n_train)`` tensor or a :class:`KMostInfluentialResults` out), so scores line up
    with ``TracInCP``. Scores follow Koh & Liang (2017) scaled to a *removal*:
    ``(1/n) ∇ℓ(x)ᵀ C⁻¹ ∇ℓ(z)`` = predicted rise of the test loss if ``z`` were removed
    (positive: ``z`` is a proponent).

    Parameters
    ----------
    model : torch.nn.Module, LogisticRegression, MLPClassifier or TorchClassifier
        Fitted; a torch module must return logits ((n, K), or (n,)/(n, 1) for a binary
        model's positive-class logit) and its labels are class indices.
    X, y : training data the model was fitted on (numeric; encode categories first).
    curvature : {"exact", "cg", "lissa", "gauss_newton", "fisher", "identity"}
    damping : float, default 0
        Added to the curvature's diagonal (``C + damping·I``); needed for non-convex models.
    weight_decay : float, default 0
        Torch modules only: the L2 term the model was trained with, as ``½·weight_decay·‖θ‖²``
        added to the *mean* loss (``torch.optim.SGD(weight_decay=...)``). scikit-learn models
        bring their own (``C``, ``alpha``).
    layers : list of str, optional
        Names of the parameters (``named_parameters``) that may move; the rest stay fixed.
    last_layer : bool, default False
        Shortcut for the parameters of the last module that has any.
    hessian_rows : int, optional
        Estimate the curvature on this many random training rows (faster for large ``n``).
    batch_size : int, optional
        Rows per chunk for per-sample gradients (bounds memory); default keeps a chunk of
        gradients near 128 MB.
    cg_tol, cg_max_iter : conjugate-gradient relative residual and iteration cap.
    lissa_depth, lissa_repeats, lissa_batch_size, lissa_scale : LiSSA recursion length,
        number of averaged runs, HVP mini-batch and scale (default: automatic, 1.5 × the
        largest eigenvalue found by power iteration).
    max_dense_params : int, default 5000
        Above this, "exact" refuses (use "cg") and "gauss_newton"/"fisher" go matrix-free.
    allow_nonsmooth : bool, default False
        Let Hessian-based curvatures run on ReLU-like networks (second derivatives exist
        almost everywhere only).
    dtype : torch dtype, default float64
    random_state : int or Generator
    progress : bool, default True

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> inf = InfluenceFunction(LogisticRegression().fit(X, y), X, y, progress=False)
    >>> inf.influence((X[:2], y[:2])).shape
    torch.Size([2, 200])
    >>> top = inf.influence((X[:2], y[:2]), k=3)
    >>> top.indices.shape
    torch.Size([2, 3])
    """

    def __init__(self, model: Any, X: Any, y: Any, *, curvature: str = "exact",
                 damping: float = 0.0, weight_decay: float = 0.0,
                 layers: Sequence[str] | None = None, last_layer: bool = False,
                 hessian_rows: int | None = None, batch_size: int | None = None,
                 cg_tol: float = 1e-8, cg_max_iter: int = 500, lissa_depth: int = 2000,
                 lissa_repeats: int = 1, lissa_batch_size: int = 256,
                 lissa_scale: float | None = None, max_dense_params: int = 5000,
                 allow_nonsmooth: bool = False, dtype: torch.dtype = torch.float64,
                 random_state: Any = 0, progress: bool = True):
        self.curvature = check_option(curvature, "curvature", CURVATURES)
        self.damping = check_float(damping, "damping", low=0.0)
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self.cg_tol = check_float(cg_tol, "cg_tol", low=0.0)
        self.cg_max_iter = check_int(cg_max_iter, "cg_max_iter", low=1)
        self.lissa_depth = check_int(lissa_depth, "lissa_depth", low=1)
        self.lissa_repeats = check_int(lissa_repeats, "lissa_repeats", low=1)
        self.lissa_batch_size = check_int(lissa_batch_size, "lissa_batch_size", low=1)
        self.lissa_scale = (None if lissa_scale is None
                            else check_float(lissa_scale, "lissa_scale", low=1e-300))
        self.max_dense_params = check_int(max_dense_params, "max_dense_params", low=1)
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64; got {dtype}")
        self.dtype = dtype
        self.progress = bool(progress)
        self._rng = check_random_state(random_state)
        self._gen = torch.Generator().manual_seed(seed_from(self._rng))

        self.model = model
        self._problem, self.classes_ = self._make_problem(model, X, layers, last_layer)
        self.X_ = _as_tensor(X, "X", dtype)
        y_arr = check_y(y, "y", n=len(self.X_))
        self.y_ = self._label_index(y_arr, "y")
        self.n_train_ = len(self.X_)
        p = self._problem.n_params
        if p == 0:
            raise ValueError("layers selects no parameters")
        if batch_size is None:
            batch_size = max(16, min(4096, 2 ** 24 // p))
        self.batch_size = check_int(batch_size, "batch_size", low=1)
        if hessian_rows is None:
            self._hrows = None
        else:
            hessian_rows = check_int(hessian_rows, "hessian_rows", low=1, high=self.n_train_)
            self._hrows = np.sort(self._rng.choice(self.n_train_, hessian_rows, replace=False))
        if self.curvature in _NEEDS_HESSIAN and not self._problem.smooth and not allow_nonsmooth:
            raise ValueError(
                f"curvature={self.curvature!r} needs second derivatives, but the model has "
                "ReLU-like or max-pooling layers (not twice differentiable). Use "
                "curvature='gauss_newton' or 'fisher', a smooth activation (Tanh, Softplus, "
                "GELU), or allow_nonsmooth=True")
        if self.curvature == "exact" and p > self.max_dense_params:
            raise ValueError(
                f"curvature='exact' forms a {p}x{p} Hessian (more than max_dense_params="
                f"{self.max_dense_params} parameters); use curvature='cg' or 'lissa'")
        self._factor: Any = None
        self._pre: Any = None

    # ---- construction helpers
    def _make_problem(self, model, X, layers, last_layer):
        from captum_ext.bridge import TorchClassifier

        if isinstance(model, TorchClassifier):
            classes = model.classes_
            model = model.module
        else:
            classes = getattr(model, "classes_", None)
        name = type(model).__name__
        n = len(X)
        if isinstance(model, torch.nn.Module):
            names = self._param_names(model, layers, last_layer)
            prob = _TorchProblem(model, names, self.weight_decay, self.dtype)
        elif name == "LogisticRegression":
            if not hasattr(model, "coef_"):
                raise ValueError("model: LogisticRegression is not fitted")
            if layers is not None:
                raise ValueError("layers: a LogisticRegression has one layer; leave layers=None")
            prob = _LogisticProblem(model, n, self.dtype)
        elif name == "MLPClassifier":
            if not hasattr(model, "coefs_"):
                raise ValueError("model: MLPClassifier is not fitted")
            module = _mlp_to_torch(model)
            names = self._param_names(module, layers, last_layer)
            all_names = [k for k, _ in module.named_parameters()]
            lam = float(model.alpha) / n
            reg = torch.cat([
                torch.full((p.numel(),), lam if k.endswith("weight") else 0.0)
                for k, p in module.named_parameters() if k in (names or all_names)])
            prob = _TorchProblem(module, names, reg, self.dtype)
        else:
            raise TypeError(
                f"model must be a torch.nn.Module, a fitted LogisticRegression or "
                f"MLPClassifier; got {name} (influence functions need a differentiable "
                "model)")
        if isinstance(prob, _TorchProblem):
            with torch.no_grad():
                width = prob.logits(prob.theta, _as_tensor(X, "X", self.dtype)[:1]).shape[1]
            prob.n_outputs = int(width)
        if classes is None:
            classes = np.arange(prob.n_classes)
        return prob, np.asarray(classes)

    @staticmethod
    def _param_names(module, layers, last_layer):
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

    def _label_index(self, y: np.ndarray, name: str) -> torch.Tensor:
        classes = self.classes_
        try:
            uniq, inv = np.unique(y, return_inverse=True)
        except TypeError:  # mixed types: fall through to the per-value lookup
            uniq, inv = np.asarray(list(dict.fromkeys(y.tolist())), dtype=object), None
        lookup = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(classes)}
        codes = np.empty(len(uniq), dtype=np.int64)
        for k, lab in enumerate(uniq):
            key = lab.item() if hasattr(lab, "item") else lab
            if key not in lookup:
                raise ValueError(f"{name} has label {lab!r}, which the model has never seen; "
                                 f"its classes are {classes.tolist()}")
            codes[k] = lookup[key]
        if inv is None:
            pos = {v: i for i, v in enumerate(uniq.tolist())}
            inv = np.array([pos[v] for v in y.tolist()], dtype=np.int64)
        return torch.as_tensor(codes[np.asarray(inv).reshape(-1)])

    def _batch(self, inputs: Any, name: str = "inputs") -> tuple[torch.Tensor, torch.Tensor]:
        Xq, yq = _split_inputs(inputs, name)
        Xq = _as_tensor(Xq, f"{name}[0]", self.dtype)
        if Xq.shape[1] != self.X_.shape[1]:
            raise ValueError(f"{name}[0] has {Xq.shape[1]} columns but the training data has "
                             f"{self.X_.shape[1]}")
        yq = check_y(yq, f"{name}[1]", n=len(Xq))
        return Xq, self._label_index(yq, f"{name}[1]")

    # ---- gradients
    def _iter_chunks(self, rows: np.ndarray, desc: str):
        chunks = range(0, len(rows), self.batch_size)
        if self.progress and len(chunks) > 1:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc=desc, leave=False)
        for s in chunks:
            yield rows[s:s + self.batch_size]

    def train_gradients(self, rows: Any = None) -> torch.Tensor:
        """Per-sample loss gradients of training rows, (len(rows), n_params)."""
        rows = np.arange(self.n_train_) if rows is None else np.asarray(rows, dtype=np.int64)
        out = [self._problem.grads(self.X_[r], self.y_[r])
               for r in self._iter_chunks(rows, "gradients")]
        return torch.cat(out) if out else torch.empty(0, self._problem.n_params)

    # ---- curvature
    def _hdata(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._hrows is None:
            return self.X_, self.y_
        return self.X_[self._hrows], self.y_[self._hrows]

    def _dense_matrix(self) -> torch.Tensor:
        Xh, yh = self._hdata()
        prob, c = self._problem, self.batch_size
        if self.curvature == "exact":
            M = prob.hessian(Xh, yh, c)
        elif self.curvature == "gauss_newton":
            M = prob.ggn(Xh, yh, c)
        else:  # fisher
            M = torch.diag(prob.reg.clone())
            for s in range(0, len(Xh), c):
                G = prob.grads(Xh[s:s + c], yh[s:s + c])
                M = M + G.T @ G / len(Xh)
        return M + self.damping * torch.eye(len(M), dtype=M.dtype)

    def curvature_matrix(self) -> torch.Tensor:
        """The dense damped curvature ``C`` (for "exact", "gauss_newton", "fisher")."""
        if self.curvature not in ("exact", "gauss_newton", "fisher"):
            raise ValueError(f"curvature={self.curvature!r} is matrix-free; no dense matrix")
        return self._dense_matrix()

    def _matvec(self, V: torch.Tensor, rows: np.ndarray | None = None) -> torch.Tensor:
        prob, c = self._problem, self.batch_size
        if rows is None:
            Xh, yh = self._hdata()
        else:
            Xh, yh = self.X_[rows], self.y_[rows]
        if self.curvature in ("cg", "lissa", "exact"):
            out = prob.hvp(V, Xh, yh, c)
        elif self.curvature == "gauss_newton":
            out = prob.ggn_vp(V, Xh, yh, c)
        else:  # fisher
            out = V * prob.reg
            for s in range(0, len(Xh), c):
                G = prob.grads(Xh[s:s + c], yh[s:s + c])
                out = out + (V @ G.T) @ G / len(Xh)
        return out + self.damping * V

    def _is_dense(self) -> bool:
        return self.curvature == "exact" or (
            self.curvature in ("gauss_newton", "fisher")
            and self._problem.n_params <= self.max_dense_params)

    def solve(self, G: torch.Tensor) -> torch.Tensor:
        """``C⁻¹ g`` for each row ``g`` of ``G`` (n_vectors, n_params)."""
        G = G.to(self.dtype)
        if self.curvature == "identity":
            return G.clone()
        if self._is_dense():
            if self._factor is None:
                M = self._dense_matrix()
                L, info = torch.linalg.cholesky_ex(M)
                if int(info) == 0 and not self._problem.dense_pinv:
                    self._factor = ("chol", L)
                else:
                    evals, evecs = torch.linalg.eigh(M)
                    if evals.min() < -1e-8 * evals.abs().max():
                        warn(f"the {self.curvature} curvature has negative eigenvalues (min "
                             f"{float(evals.min()):.3g}); increase damping (now "
                             f"{self.damping}) for stable influences")
                    self._factor = ("eig", evals, evecs)
            if self._factor[0] == "chol":
                return torch.cholesky_solve(G.T, self._factor[1]).T
            _, evals, evecs = self._factor
            tol = evals.abs().max() * len(evals) * torch.finfo(evals.dtype).eps * 10
            inv = torch.where(evals.abs() > tol, 1.0 / evals, torch.zeros_like(evals))
            return ((G @ evecs) * inv) @ evecs.T
        if self.curvature == "lissa":
            return self._lissa(G)
        return self._cg(G)

    def _cg(self, B: torch.Tensor) -> torch.Tensor:
        X, converged, negative = _cg_solve(self._matvec, B, self.cg_tol, self.cg_max_iter)
        if negative:
            warn("conjugate gradient met negative curvature; the curvature is not positive "
                 f"definite: increase damping (now {self.damping})")
        elif not converged:
            warn(f"conjugate gradient did not reach cg_tol={self.cg_tol} in cg_max_iter="
                 f"{self.cg_max_iter} iterations; increase damping or cg_max_iter")
        return X

    def _power(self, shift: float = 0.0, iters: int = 30) -> float:
        """Largest eigenvalue of ``C - shift·I`` by power iteration (full-data HVPs)."""
        v = torch.randn(self._problem.n_params, generator=self._gen, dtype=self.dtype)
        v = v / v.norm()
        lam = 0.0
        for _ in range(iters):
            w = self._matvec(v[None])[0] - shift * v
            lam = float(v @ w)
            nw = w.norm()
            if not torch.isfinite(nw) or nw == 0:
                break
            v = w / nw
        return lam

    def _lissa(self, B: torch.Tensor) -> torch.Tensor:
        scale = self.lissa_scale
        if scale is None:
            lam_max = self._power()
            lam_min = lam_max + self._power(shift=lam_max)
            if lam_min <= 0:
                raise ValueError(
                    f"LiSSA would diverge: the curvature has a non-positive eigenvalue "
                    f"({lam_min:.3g}); increase damping (now {self.damping}) to at least "
                    f"{self.damping - lam_min + 1e-3 * abs(lam_max):.3g}")
            scale = 1.5 * lam_max
        self.lissa_scale_ = scale
        n = len(self._hdata()[0])
        base = np.arange(n) if self._hrows is None else self._hrows
        bsz = min(self.lissa_batch_size, n)
        bnorm = float(B.norm(dim=1).max())
        est = torch.zeros_like(B)
        for _ in range(self.lissa_repeats):
            V = B.clone()
            for t in range(self.lissa_depth):
                rows = base[self._rng.choice(n, bsz, replace=False)]
                V = B + V - self._matvec(V, rows) / scale
                vn = float(V.norm(dim=1).max())
                if not math.isfinite(vn) or vn > 10 * (t + 2) * bnorm:
                    raise ValueError(
                        f"LiSSA diverged at step {t} (|v| = {vn:.3g}): increase damping (now "
                        f"{self.damping}) or lissa_scale (now {scale:.3g})")
            est = est + V / scale
        return est / self.lissa_repeats

    # ---- influence
    def _candidates(self, candidates: Any, Xq: torch.Tensor, n_candidates: int
                    ) -> list[np.ndarray] | None:
        n = self.n_train_
        if candidates is None:
            return None
        if isinstance(candidates, str):
            if candidates != "knn":
                raise ValueError(f"candidates must be None, 'knn', row indices or one index "
                                 f"array per test row; got {candidates!r}")
            k = check_int(n_candidates, "n_candidates", low=1, high=n)
            return knn_candidates(self.X_, Xq, k)
        if isinstance(candidates, (np.ndarray, torch.Tensor)) and np.ndim(candidates) == 1 or (
                isinstance(candidates, (list, tuple)) and candidates
                and isinstance(candidates[0], numbers.Integral)):
            arr = self._check_rows(candidates, "candidates")
            return [arr] * len(Xq)
        cand = list(candidates)
        if len(cand) != len(Xq):
            raise ValueError(f"candidates has {len(cand)} index arrays but inputs has "
                             f"{len(Xq)} rows")
        return [self._check_rows(c, f"candidates[{i}]") for i, c in enumerate(cand)]

    def _check_rows(self, rows: Any, name: str) -> np.ndarray:
        if isinstance(rows, torch.Tensor):
            rows = rows.cpu().numpy()
        arr = np.atleast_1d(np.asarray(rows))
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must be integer row indices; got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        bad = arr[(arr < 0) | (arr >= self.n_train_)]
        if bad.size:
            raise ValueError(f"{name} out of range [0, {self.n_train_}): {bad[:5].tolist()}")
        return np.unique(arr)

    def test_vectors(self, inputs: Any) -> torch.Tensor:
        """``C⁻¹ ∇ℓ(x)`` for each test row (Koh & Liang's ``s_test``), (n_test, n_params)."""
        Xq, yq = self._batch(inputs)
        return self.solve(self._problem.grads(Xq, yq))

    def influence(self, inputs: Any, k: int | None = None, proponents: bool = True, *,
                  candidates: Any = None, n_candidates: int = 100,
                  show_progress: bool | None = None
                  ) -> torch.Tensor | KMostInfluentialResults:
        """Influence of training rows on each test row's loss.

        Parameters
        ----------
        inputs : tuple (X_test, y_test)
            Test rows and the labels whose loss is explained (e.g. the model's prediction
            to ask "which rows made this prediction?").
        k : int, optional
            Return the ``k`` proponents (highest scores) or opponents (lowest) per test row
            as :class:`KMostInfluentialResults`; ``None`` returns all scores.
        proponents : bool, default True
        candidates : None, "knn", row indices, or one index array per test row
            Score only these training rows (FastIF); the others get NaN in the full matrix
            and are never returned as top rows. ``"knn"`` uses the ``n_candidates`` nearest
            training rows in standardised input space; pass a contribution-space
            neighbourhood (``NeighborhoodModel.neighbors(i).indices``) as an index array.
        n_candidates : int, default 100
        show_progress : bool, optional
            Overrides ``progress`` for this call.

        Returns
        -------
        torch.Tensor of shape (n_test, n_train), or KMostInfluentialResults
        """
        Xq, yq = self._batch(inputs)
        if k is not None:
            k = check_int(k, "k", low=1)
            if k > self.n_train_:
                raise ValueError(f"k={k} is larger than the number of training rows "
                                 f"({self.n_train_})")
        cand = self._candidates(candidates, Xq, n_candidates)
        old = self.progress
        if show_progress is not None:
            self.progress = bool(show_progress)
        try:
            S = self.solve(self._problem.grads(Xq, yq))
            if cand is None:
                scores = torch.cat([
                    (S @ self._problem.grads(self.X_[r], self.y_[r]).T) / self.n_train_
                    for r in self._iter_chunks(np.arange(self.n_train_), "influence")], dim=1)
            else:
                rows = np.unique(np.concatenate(cand))
                scores = torch.full((len(Xq), self.n_train_), float("nan"), dtype=self.dtype)
                for r in self._iter_chunks(rows, "influence"):
                    G = self._problem.grads(self.X_[r], self.y_[r])
                    scores[:, torch.as_tensor(r)] = (S @ G.T) / self.n_train_
        finally:
            self.progress = old
        if cand is not None:
            mask = torch.ones_like(scores, dtype=torch.bool)
            for i, c in enumerate(cand):
                mask[i, torch.as_tensor(c)] = False
            scores[mask] = float("nan")
        if k is None:
            return scores
        if cand is not None and k > min(len(c) for c in cand):
            raise ValueError(f"k={k} is larger than the smallest candidate set "
                             f"({min(len(c) for c in cand)} rows)")
        fill = -math.inf if proponents else math.inf
        s = torch.nan_to_num(scores, nan=fill)
        vals, idx = torch.topk(s, k, dim=1, largest=proponents)
        return KMostInfluentialResults(idx, vals)

    def self_influence(self, inputs: Any = None, show_progress: bool | None = None
                       ) -> torch.Tensor:
        """``(1/n) ∇ℓ(z)ᵀ C⁻¹ ∇ℓ(z)`` for the training rows (default) or a batch ``(X, y)``.

        The predicted rise of a row's own loss if it were left out of training; large values
        mark atypical or mislabelled rows (Koh & Liang 2017, section 5.4).
        """
        if inputs is None:
            Xq, yq = self.X_, self.y_
        else:
            Xq, yq = self._batch(inputs)
        old = self.progress
        if show_progress is not None:
            self.progress = bool(show_progress)
        try:
            out = []
            rows = np.arange(len(Xq))
            for r in self._iter_chunks(rows, "self-influence"):
                G = self._problem.grads(Xq[r], yq[r])
                if self._is_dense() and self.curvature != "identity":
                    self.solve(G[:1])  # factorise once
                if self._factor is not None and self._factor[0] == "chol":
                    half = torch.linalg.solve_triangular(self._factor[1], G.T, upper=False)
                    out.append((half * half).sum(0) / self.n_train_)
                else:
                    out.append((self.solve(G) * G).sum(1) / self.n_train_)
        finally:
            self.progress = old
        return torch.cat(out)

    # ---- losses and refits, used by leave-one-out validation
    @property
    def params_(self) -> torch.Tensor:
        """The flat parameter vector the influences are computed at."""
        return self._problem.theta

    def loss(self, inputs: Any, params: torch.Tensor | None = None) -> torch.Tensor:
        """Per-row log-loss of ``inputs`` = (X, y) at ``params`` (default: the model's)."""
        Xq, yq = self._batch(inputs)
        with torch.no_grad():
            return self._problem.losses(Xq, yq, params)

    def predict_proba(self, X: Any, params: torch.Tensor | None = None) -> np.ndarray:
        """Class probabilities at ``params`` (default: the model's), in ``classes_`` order."""
        Xq = _as_tensor(X, "X", self.dtype)
        with torch.no_grad():
            z = self._problem.logits(self._problem.theta if params is None else params, Xq)
        if z.shape[1] == 1:
            p = torch.sigmoid(z[:, 0])
            return torch.stack([1 - p, p], 1).cpu().numpy()
        return torch.softmax(z, 1).cpu().numpy()

    def gradient_norm(self, params: torch.Tensor | None = None) -> float:
        """Max-abs gradient of the training objective (0 at a converged optimum)."""
        theta = (self._problem.theta if params is None else params).detach().clone()
        theta.requires_grad_(True)
        self._problem.objective(theta, self.X_, self.y_).backward()
        return float(theta.grad.abs().max())

    def at(self, params: torch.Tensor) -> InfluenceFunction:
        """A copy computing influences at other parameters (e.g. a re-converged model)."""
        params = torch.as_tensor(params, dtype=self.dtype)
        if params.shape != self._problem.theta.shape:
            raise ValueError(f"params must have shape {tuple(self._problem.theta.shape)}; got "
                             f"{tuple(params.shape)}")
        new = copy.copy(self)
        new._problem = copy.copy(self._problem)
        new._problem.theta = params.detach().clone()
        new._factor = None
        new._pre = None
        return new

    def _preconditioner(self, theta: torch.Tensor):
        """Cholesky solve with the (slightly damped if needed) Hessian at ``theta``."""
        prob = self._problem
        if prob.n_params > self.max_dense_params:
            return None
        cached = getattr(self, "_pre", None)
        if cached is not None and torch.equal(cached[0], theta):
            return cached[1]
        other = copy.copy(prob)
        other.theta = theta
        H = other.hessian(self.X_, self.y_, self.batch_size) if prob.smooth else other.ggn(
            self.X_, self.y_, self.batch_size)
        mu = 0.0
        scale = float(H.diagonal().abs().max()) or 1.0
        for _ in range(20):
            L, info = torch.linalg.cholesky_ex(H + mu * torch.eye(len(H), dtype=H.dtype))
            if int(info) == 0:
                break
            mu = max(1e-10 * scale, 10 * mu)
        else:
            return None

        def solve(g, L=L):
            return torch.cholesky_solve(g[:, None], L)[:, 0]

        self._pre = (theta.clone(), solve)
        return solve

    def refit(self, sample_weight: Any = None, labels: Any = None,
              init: torch.Tensor | None = None, tol: float = 1e-10,
              max_iter: int = 500) -> torch.Tensor:
        """Retrain the free parameters, warm-started, with the same per-sample regularisation.

        Minimises ``(1/n) Σ w_i ℓ(x_i, y_i) + ½ Σ reg θ²`` with ``n`` the full training size,
        so a row with weight 0 is removed and nothing else changes, until the largest
        gradient entry is below ``tol``. Logistic regression uses Newton's method; networks
        up to ``max_dense_params`` parameters use simplified Newton steps preconditioned by
        the Hessian at ``init`` (factorised once and cached, so many leave-one-out refits
        from the same start are cheap), larger ones L-BFGS then Newton-CG.

        Returns
        -------
        torch.Tensor
            The new flat parameter vector (use with :meth:`loss`, :meth:`predict_proba`).
        """
        w = (torch.ones(self.n_train_, dtype=self.dtype) if sample_weight is None
             else torch.as_tensor(np.asarray(sample_weight, dtype=np.float64), dtype=self.dtype))
        if w.shape != (self.n_train_,):
            raise ValueError(f"sample_weight must have shape ({self.n_train_},); got "
                             f"{tuple(w.shape)}")
        y = self.y_ if labels is None else self._label_index(
            check_y(labels, "labels", n=self.n_train_), "labels")
        theta0 = self._problem.theta if init is None else init.to(self.dtype)
        pre = None if self._problem.n_params > self.max_dense_params else self._preconditioner
        return self._problem.fit(self.X_, y, w, theta0, tol, max_iter, precond=pre)

    def __repr__(self) -> str:
        return (f"InfluenceFunction(model={type(self.model).__name__}, n_train={self.n_train_}, "
                f"n_params={self._problem.n_params}, curvature={self.curvature!r}, "
                f"damping={self.damping})")

