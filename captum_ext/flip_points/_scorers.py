"""Model scores (logits) of flat float64 rows and their Jacobians: autograd, an exact numpy
path for sequential MLPs, finite differences; and the MLPClassifier -> torch converter."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["mlp_to_torch"]


def mlp_to_torch(mlp: Any) -> torch.nn.Module:
    """A fitted scikit-learn ``MLPClassifier`` as an equivalent float64 torch module.

    The module returns the logits (before ``out_activation_``): one column for a binary
    model (the positive class), ``n_classes`` columns otherwise. Gradients then flow, so
    :class:`FlipPoints` uses its exact path on scikit-learn networks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neural_network import MLPClassifier
    >>> X = np.random.default_rng(0).normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
    >>> net = mlp_to_torch(MLPClassifier((5,), max_iter=300, random_state=0).fit(X, y))
    >>> net(torch.zeros(2, 3, dtype=torch.float64)).shape
    torch.Size([2, 1])
    """
    if type(mlp).__name__ != "MLPClassifier" or not hasattr(mlp, "coefs_"):
        raise TypeError(f"mlp must be a fitted MLPClassifier; got {type(mlp).__name__}")
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "logistic": torch.nn.Sigmoid,
            "identity": torch.nn.Identity}
    layers: list[torch.nn.Module] = []
    n = len(mlp.coefs_)
    for k, (W, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
        lin = torch.nn.Linear(W.shape[0], W.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W.T, dtype=torch.float64))
            lin.bias.copy_(torch.as_tensor(b, dtype=torch.float64))
        layers.append(lin)
        if k < n - 1:
            layers.append(acts[mlp.activation]())
    return torch.nn.Sequential(*layers).eval()


# --------------------------------------------------------------------------- scorers
def _to_binary_scores(z: torch.Tensor) -> torch.Tensor:
    if z.ndim == 1 or z.shape[1] == 1:
        z = z.reshape(-1, 1)
        return torch.cat([torch.zeros_like(z), z], dim=1)
    return z


class _Scorer:
    """Raw scores (n, K) of flat float64 rows, and their Jacobians."""

    differentiable = True

    def __init__(self, call, output: str):
        self.call = call  # (X tensor float64 (b, m), rows) -> tensor (b, K) or (b,)
        self.output = output

    def _z(self, X: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        z = self.call(X, rows)
        if not isinstance(z, torch.Tensor):
            z = torch.as_tensor(np.asarray(z))
        z = _to_binary_scores(z.double())
        if self.output == "probabilities":
            z = torch.log(z.clamp_min(1e-300))
        return z

    def scores(self, X: np.ndarray, rows: np.ndarray, chunk: int = 4096) -> np.ndarray:
        out = []
        with torch.no_grad():
            for s in range(0, len(X), chunk):
                Xt = torch.as_tensor(X[s:s + chunk], dtype=torch.float64)
                out.append(self._z(Xt, rows[s:s + chunk]).numpy())
        return np.concatenate(out) if out else np.empty((0, 2))

    def g_grad(self, X: np.ndarray, rows: np.ndarray, c: np.ndarray, t: np.ndarray):
        """``g = z_c - z_t`` and its gradient for every row (rows are independent)."""
        Xt = torch.as_tensor(X, dtype=torch.float64).clone().requires_grad_(True)
        z = self._z(Xt, rows)
        ar = torch.arange(len(X))
        g = z[ar, torch.as_tensor(c)] - z[ar, torch.as_tensor(t)]
        (G,) = torch.autograd.grad(g.sum(), Xt)
        return g.detach().numpy(), G.numpy()

    def jac_batch(self, X: np.ndarray, rows: np.ndarray):
        """Scores (b, K) and Jacobians (b, K, m): K backward passes over the batch."""
        Xt = torch.as_tensor(X, dtype=torch.float64).clone().requires_grad_(True)
        z = self._z(Xt, rows)
        K = z.shape[1]
        J = np.empty((len(X), K, X.shape[1]))
        for k in range(K):
            (gk,) = torch.autograd.grad(z[:, k].sum(), Xt, retain_graph=k < K - 1)
            J[:, k] = gk.numpy()
        return z.detach().numpy(), J

    def full_jac(self, x: np.ndarray, row: int):
        """Scores (K,) and Jacobian (K, m) at one row."""
        xt = torch.as_tensor(x[None], dtype=torch.float64).clone().requires_grad_(True)
        z = self._z(xt, np.array([row]))[0]
        J = np.empty((len(z), len(x)))
        for k in range(len(z)):
            (gk,) = torch.autograd.grad(z[k], xt, retain_graph=k < len(z) - 1)
            J[k] = gk[0].numpy()
        return z.detach().numpy(), J


class _SequentialScorer(_Scorer):
    """Exact numpy forward/backward for a ``torch.nn.Sequential`` of ``Linear`` layers and
    element-wise activations (what :func:`mlp_to_torch` builds): the same float64 numbers as
    autograd without its per-call overhead, which dominates the per-point solver."""

    _ACTS = ("ReLU", "Tanh", "Sigmoid", "Identity")

    @classmethod
    def supports(cls, module: Any) -> bool:
        return isinstance(module, torch.nn.Sequential) and len(module) > 0 and all(
            isinstance(layer, torch.nn.Linear) or type(layer).__name__ in cls._ACTS
            for layer in module) and isinstance(module[0], torch.nn.Linear)

    def __init__(self, module: torch.nn.Sequential):
        super().__init__(None, "logits")
        self.layers = []
        for layer in module:
            if isinstance(layer, torch.nn.Linear):
                W = layer.weight.detach().cpu().double().numpy().T.copy()
                b = (layer.bias.detach().cpu().double().numpy().copy() if layer.bias is not None
                     else np.zeros(W.shape[1]))
                self.layers.append(("lin", W, b))
            else:
                self.layers.append((type(layer).__name__, None, None))

    def _forward(self, X: np.ndarray):
        h, cache = np.asarray(X, dtype=np.float64), []
        for kind, W, b in self.layers:
            if kind == "lin":
                h = h @ W + b
            elif kind == "ReLU":
                cache.append(h > 0)
                h = np.maximum(h, 0.0)
            elif kind == "Tanh":
                h = np.tanh(h)
                cache.append(1.0 - h * h)
            elif kind == "Sigmoid":
                h = 1.0 / (1.0 + np.exp(-h))
                cache.append(h * (1.0 - h))
            else:
                cache.append(None)
        return h, cache

    def _backward(self, gz: np.ndarray, cache: list) -> np.ndarray:
        k = len(cache)
        for kind, W, _ in reversed(self.layers):
            if kind == "lin":
                gz = gz @ W.T
            else:
                k -= 1
                if cache[k] is not None:
                    gz = gz * cache[k]
        return gz

    def piece_grads(self, x: np.ndarray, c: int, t: int, tol: float = 1e-6,
                    max_units: int = 8) -> np.ndarray | None:
        """Gradients of ``z_c - z_t`` on every linear piece that meets at ``x`` (k, m).

        ReLU units whose pre-activation is within ``tol (1 + max |pre-activation| of the
        layer)`` of zero are switched off and on in every combination (the ``max_units``
        closest to zero at most: ``2**max_units`` pieces). None when no unit is that close
        (the scores are differentiable at ``x``).
        """
        h, pre = np.asarray(x, dtype=np.float64)[None], []
        for kind, W, b in self.layers:
            if kind == "lin":
                h = h @ W + b
            elif kind == "ReLU":
                pre.append(h[0].copy())
                h = np.maximum(h, 0.0)
            elif kind == "Tanh":
                h = np.tanh(h)
            elif kind == "Sigmoid":
                h = 1.0 / (1.0 + np.exp(-h))
        near = [(q, j, abs(a[j])) for q, a in enumerate(pre)
                for j in np.flatnonzero(np.abs(a) <= tol * (1.0 + np.abs(a).max()))]
        if not near:
            return None
        near = sorted(near, key=lambda e: e[2])[:max_units]
        P = 2 ** len(near)
        masks = [np.repeat((a > 0)[None].astype(float), P, axis=0) for a in pre]
        bits = (np.arange(P)[:, None] >> np.arange(len(near))[None, :]) & 1
        for k, (q, j, _) in enumerate(near):
            masks[q][:, j] = bits[:, k]
        h, cache, r = np.repeat(np.asarray(x, dtype=np.float64)[None], P, axis=0), [], 0
        for kind, W, b in self.layers:
            if kind == "lin":
                h = h @ W + b
            elif kind == "ReLU":
                cache.append(masks[r])
                h = h * masks[r]
                r += 1
            elif kind == "Tanh":
                h = np.tanh(h)
                cache.append(1.0 - h * h)
            elif kind == "Sigmoid":
                h = 1.0 / (1.0 + np.exp(-h))
                cache.append(h * (1.0 - h))
            else:
                cache.append(None)
        return self._backward(self._coef(h, np.full(P, c), np.full(P, t)), cache)

    def _lift(self, z: np.ndarray) -> np.ndarray:
        return np.column_stack([np.zeros(len(z)), z[:, 0]]) if z.shape[1] == 1 else z

    def scores(self, X, rows, chunk: int = 4096):
        if not len(X):
            return np.empty((0, 2))
        return np.concatenate([self._lift(self._forward(X[s:s + chunk])[0])
                               for s in range(0, len(X), chunk)])

    def _coef(self, z: np.ndarray, k_plus: np.ndarray, k_minus: np.ndarray | None):
        n, K = z.shape
        if K == 1:  # scores are [0, z]: d s_k / d z = [k == 1]
            gz = (k_plus == 1).astype(float)[:, None]
            if k_minus is not None:
                gz = gz - (k_minus == 1).astype(float)[:, None]
            return gz
        gz = np.zeros((n, K))
        gz[np.arange(n), k_plus] += 1.0
        if k_minus is not None:
            gz[np.arange(n), k_minus] -= 1.0
        return gz

    def g_grad(self, X, rows, c, t):
        z, cache = self._forward(X)
        Z = self._lift(z)
        ar = np.arange(len(X))
        G = self._backward(self._coef(z, np.asarray(c), np.asarray(t)), cache)
        return Z[ar, c] - Z[ar, t], G

    def jac_batch(self, X, rows):
        z, cache = self._forward(X)
        Z = self._lift(z)
        K = Z.shape[1]
        J = np.empty((len(X), K, X.shape[1]))
        for k in range(K):
            J[:, k] = self._backward(self._coef(z, np.full(len(X), k), None), cache)
        return Z, J

    def full_jac(self, x, row):
        Z, J = self.jac_batch(x[None], np.array([row]))
        return Z[0], J[0]


class _FDScorer(_Scorer):
    """Finite-difference Jacobians for models without autograd (slower: m + 1 calls)."""

    differentiable = False

    def __init__(self, call, output: str, scale: np.ndarray):
        super().__init__(call, output)
        self.h = 1e-6 * np.maximum(scale, 1.0)

    def _jac_batch(self, X: np.ndarray, rows: np.ndarray):
        b, m = X.shape
        P = np.repeat(X[:, None, :], m + 1, axis=1)
        P[:, np.arange(1, m + 1), np.arange(m)] += self.h
        Z = self.scores(P.reshape(-1, m), np.repeat(rows, m + 1)).reshape(b, m + 1, -1)
        J = (Z[:, 1:, :] - Z[:, :1, :]) / self.h[None, :, None]
        return Z[:, 0, :], np.transpose(J, (0, 2, 1))  # (b, K), (b, K, m)

    def jac_batch(self, X, rows):
        return self._jac_batch(X, rows)

    def g_grad(self, X, rows, c, t):
        z, J = self._jac_batch(X, rows)
        ar = np.arange(len(X))
        return z[ar, c] - z[ar, t], J[ar, c] - J[ar, t]

    def full_jac(self, x, row):
        z, J = self._jac_batch(x[None], np.array([row]))
        return z[0], J[0]
