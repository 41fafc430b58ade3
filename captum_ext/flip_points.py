"""Flip points: the closest point on a classifier's decision boundary.

Yousefzadeh & O'Leary, "Auditing and debugging deep learning models via flip points:
individual-level and group-level analysis" (Vis. Comput. Ind. Biomed. Art 2020). For an
input ``x`` predicted as class ``c`` and a target class ``t``, the *flip point* is

    x̂ = argmin  sum_j w_j (x̂_j - x_j)^2     over the free features
         s.t.   z_c(x̂) = z_t(x̂) >= z_k(x̂)  for every other class k
                lo <= x̂ <= hi, immutable features fixed, integer features integral,
                one-hot groups with exactly one active level,

where ``z`` are the model's raw scores (logits). The tie is written on the logits, not on
the softmax, because the softmax saturates on confident models.

Paths behind the one front door :class:`FlipPoints`:

- **torch modules** (and scikit-learn ``MLPClassifier``, converted to an equivalent torch
  module): a batched float64 boundary projection (the closest point of the linearised
  boundary, iterated; many inputs at once) warm-starts scipy SLSQP with exact torch
  Jacobians per point; a multi-start fallback seeded from a search for the target class.
- **single decision trees**: the exact closest counterfactual, enumerating the leaves of the
  target class and the closest point of each leaf's box (Carreira-Perpiñán & Hada,
  "Counterfactual explanations for oblique decision trees: exact, efficient algorithms",
  AAAI 2021, axis-aligned case).
- **tree ensembles**: a gradient-free search seeded from training rows of the target class,
  a greedy move back towards ``x`` and a bisection onto the boundary; *approximate*.
- **any other scikit-learn classifier** (``predict_proba`` only): the same solver with
  finite-difference Jacobians on the log-probabilities; clearly slower (m + 1 model calls
  per Jacobian).

Every answer goes through an independent verifier (score residual, class ordering, domain
validity, a class change when stepping just across the boundary, first-order optimality)
and is labelled ``"exact"``, ``"approximate"``, ``"infeasible"`` or ``"failed"``; an
unverified point is never reported as a flip point.
"""

from __future__ import annotations

import copy
import html
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shap
import torch
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from shap_debug.core import (
    check_columns,
    check_float,
    check_int,
    check_option,
    check_random_state,
    warn,
)

from .bridge import SklearnForward, TorchClassifier

__all__ = ["FlipPoints", "FlipResult", "STATUSES", "mlp_to_torch"]

STATUSES = ("exact", "approximate", "infeasible", "failed")
_SLSQP_MAXITER = 60

_SINGLE_TREE = {"DecisionTreeClassifier", "ExtraTreeClassifier"}
_ENSEMBLES = {
    "RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier",
    "HistGradientBoostingClassifier", "XGBClassifier", "LGBMClassifier", "CatBoostClassifier",
}


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class FlipResult:
    """Flip points of a batch of inputs, with the verifier's findings.

    Attributes
    ----------
    x : ndarray (n, m)
        The inputs, flattened (features in C order, tuple inputs concatenated).
    x_hat : ndarray (n, m)
        The flip points; NaN rows where there is none.
    distance : ndarray (n,)
        ``sqrt(sum_j w_j (x̂_j - x_j)^2)``; NaN where there is no flip point.
    status : ndarray (n,) of str
        ``"exact"``: verified tie of the two top logits, domain valid, the class changes just
        across, and a first-order stationary point of the distance (a local optimum; for a
        single tree the global one). ``"approximate"``: verified valid and classified as the
        target (or tied) but optimality is not certified (tree ensembles, integer rounding,
        kinks of ReLU networks). ``"infeasible"``: no flip point in the allowed subspace (a
        proof for linear scores and single trees; for other models no point of the target
        class was found by a sampled search). ``"failed"``: the solver found no verified point.
    original_class, target_class : ndarray (n,) of int
        Column index of the predicted class at ``x`` and of the class flipped to.
    residual : ndarray (n,)
        ``|z_c(x̂) - z_t(x̂)|`` on the logits (scores).
    stationarity : ndarray (n,)
        Relative residual of the first-order optimality condition at x̂ (NaN when it does
        not apply).
    message : ndarray (n,) of str
        What the solver and verifier say about each row.
    seconds : ndarray (n,)
        Time spent on each row (its share of batched work included).
    feature_names : list of str
    method : str
        ``"gradient"``, ``"finite-difference"``, ``"tree-exact"`` or ``"tree-search"``.
    weights : ndarray (m,)
    input_shapes : list of tuple
        Per-sample shapes of the input tensors, to fold flat vectors back.
    """

    x: np.ndarray
    x_hat: np.ndarray
    distance: np.ndarray
    status: np.ndarray
    original_class: np.ndarray
    target_class: np.ndarray
    residual: np.ndarray
    stationarity: np.ndarray
    message: np.ndarray
    seconds: np.ndarray
    feature_names: list
    method: str
    weights: np.ndarray
    input_shapes: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def delta(self) -> np.ndarray:
        """``x̂ - x`` (n, m); NaN rows where there is no flip point."""
        return self.x_hat - self.x

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask of rows with a verified flip point (exact or approximate)."""
        return np.isin(self.status, ("exact", "approximate"))

    def to_frame(self) -> pd.DataFrame:
        """One row per input: status, classes, distance, verifier numbers, message."""
        d = self.delta
        changed = np.where(np.isfinite(d).all(axis=1),
                           (np.abs(np.nan_to_num(d)) > 1e-9).sum(axis=1), -1)
        return pd.DataFrame({
            "status": self.status, "original_class": self.original_class,
            "target_class": self.target_class, "distance": self.distance,
            "residual": self.residual, "stationarity": self.stationarity,
            "n_changed": changed, "seconds": self.seconds, "message": self.message,
        })

    def changes(self, i: int, tol: float = 1e-9) -> pd.DataFrame:
        """The features row ``i``'s flip point changes: value, flip value and change."""
        i = check_int(i, "i", low=0, high=len(self) - 1)
        d = self.delta[i]
        keep = np.flatnonzero(np.abs(np.nan_to_num(d)) > tol)
        return pd.DataFrame({
            "feature": [self.feature_names[j] for j in keep], "value": self.x[i, keep],
            "flip_value": self.x_hat[i, keep], "change": d[keep],
        })

    def as_explanation(self) -> shap.Explanation:
        """Flip directions ``x̂ - x`` as a ``shap.Explanation`` (0 where there is none).

        ``shap.plots.bar`` / ``beeswarm`` then summarise which features move and how far;
        ``data`` holds the inputs.
        """
        vals = np.nan_to_num(self.delta, nan=0.0)
        return shap.Explanation(values=vals, base_values=np.zeros(len(self)), data=self.x.copy(),
                                feature_names=list(self.feature_names))

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Bar chart of the mean |x̂ - x| per feature over the rows with a flip point."""
        import matplotlib.pyplot as plt

        max_display = check_int(max_display, "max_display", low=1)
        ok = self.valid
        mean = np.abs(self.delta[ok]).mean(axis=0) if ok.any() else np.zeros(self.x.shape[1])
        order = np.argsort(-mean)[:max_display][::-1]
        own = ax is None
        if own:
            _, ax = plt.subplots(figsize=(6, 0.4 * len(order) + 1.2))
        ax.barh(range(len(order)), mean[order], color=shap.plots.colors.red_rgb)
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels([self.feature_names[j] for j in order])
        ax.set_xlabel("mean |flip point - x|")
        ax.set_title(f"Flip points: {int(ok.sum())}/{len(self)} verified")
        if own and show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        counts = pd.Series(self.status).value_counts()
        head = " · ".join(f"{html.escape(str(k))}: {int(v)}" for k, v in counts.items())
        rows = []
        frame = self.to_frame().head(10)
        for i, r in frame.iterrows():
            rows.append(
                f"<tr><td>{i}</td><td>{html.escape(str(r['status']))}</td>"
                f"<td>{int(r['original_class'])} → {int(r['target_class'])}</td>"
                f"<td>{r['distance']:.4g}</td><td>{html.escape(str(r['message']))}</td></tr>")
        more = f"<p>… {len(self) - 10} more rows</p>" if len(self) > 10 else ""
        return (f"<div class='shap-debug flip-result'><p><b>Flip points</b> "
                f"({html.escape(self.method)}): {head}</p>"
                "<table><tr><th>row</th><th>status</th><th>class</th><th>distance</th>"
                f"<th>note</th></tr>{''.join(rows)}</table>{more}</div>")


# --------------------------------------------------------------------------- MLP -> torch
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


# --------------------------------------------------------------------------- the problem
@dataclass
class _Domain:
    free: np.ndarray  # (m,) bool: may move
    lo: np.ndarray
    hi: np.ndarray
    integer: np.ndarray  # (m,) bool
    groups: list  # list of int arrays (one-hot groups)
    w: np.ndarray
    in_group: np.ndarray  # (m,) bool

    @property
    def cont(self) -> np.ndarray:
        """Free features the continuous solver moves."""
        return self.free & ~self.in_group

    def free_groups(self) -> list:
        return [g for g in self.groups if self.free[g].all()]


def _vector(value: Any, m: int, name: str, default: float) -> np.ndarray:
    if value is None:
        return np.full(m, default, dtype=np.float64)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(m, float(arr))
    arr = arr.reshape(-1)
    if arr.shape != (m,):
        raise ValueError(f"{name} must be a scalar or have {m} entries (one per feature); "
                         f"got shape {np.shape(value)}")
    return arr.copy()


# --------------------------------------------------------------------------- front door
class FlipPoints:
    """Closest flip points of a classifier (Yousefzadeh & O'Leary 2020), Captum style.

    Parameters
    ----------
    forward_func : callable, torch.nn.Module, SklearnForward, TorchClassifier or classifier
        Maps a batch of inputs (tensor or tuple of tensors, batch first, float64 is tried
        first) to raw scores (n, n_classes) or one positive-class logit (n,)/(n, 1). A torch
        module is copied and run in float64 (the caller's module is not touched). A
        scikit-learn ``MLPClassifier`` is converted to an exact torch module; a single
        ``DecisionTreeClassifier`` takes the exact tree path; tree ensembles the approximate
        tree search; any other classifier the finite-difference path (slower).
    output : {"auto", "logits", "probabilities"}
        What ``forward_func`` returns. ``"probabilities"`` are turned into log-probabilities
        (their differences are logit differences). ``"auto"``: probabilities for
        scikit-learn models without ``decision_function``, logits otherwise.
    feature_names : sequence of str, optional
        Names of the flat features (so constraints can name them).
    data : array-like (N, m), optional
        Training rows. They seed the multi-start fallback and the tree-ensemble search,
        set the scale of finite differences and allow ``bounds="data"``.
    tol : float
        Tolerance of the verifier on the logit residual ``|z_c - z_t|`` (relative to
        ``1 + |z_c|``) and on the class ordering.
    max_iter : int
        Iterations of the batched boundary projection.
    max_candidates : int
        Per input, how many starting points go to the projection: the input itself plus the
        most promising single one-hot level changes (ranked by switch cost plus the
        linearised distance to the boundary).
    n_starts : int
        With ``data``: extra starts of the projection per input, from boundary points towards
        its nearest training rows of the target class (multi-start over the boundary's
        basins; 0 turns it off).
    random_state : int or Generator
    progress : bool
        Show a tqdm bar over the per-point solves.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    ...     _ = net.bias.zero_()
    >>> res = FlipPoints(net, progress=False).find(torch.tensor([[2.0, 5.0]]))
    >>> str(res.status[0]), round(float(res.distance[0]), 6)
    ('exact', 2.0)
    """

    def __init__(self, forward_func: Any, *, output: str = "auto",
                 feature_names: Sequence[str] | None = None, data: Any = None,
                 tol: float = 1e-6, max_iter: int = 30, max_candidates: int = 8,
                 n_starts: int = 4, random_state: Any = 0, progress: bool = True):
        self.forward_func = forward_func
        self.output = check_option(output, "output", ["auto", "logits", "probabilities"])
        self.feature_names = None if feature_names is None else [str(f) for f in feature_names]
        self.tol = check_float(tol, "tol", low=0.0)
        self.max_iter = check_int(max_iter, "max_iter", low=1)
        self.max_candidates = check_int(max_candidates, "max_candidates", low=1)
        self.n_starts = check_int(n_starts, "n_starts", low=0)
        self.random_state = random_state
        self.progress = progress
        self._estimator = None
        est = forward_func.estimator if isinstance(forward_func, SklearnForward) else forward_func
        if isinstance(est, TorchClassifier):
            forward_func = est = est.module
        if not isinstance(est, torch.nn.Module) and callable(getattr(est, "predict_proba", None)):
            self._estimator = est
            name = type(est).__name__
            if name in _SINGLE_TREE:
                self.kind = "tree-exact"
            elif name in _ENSEMBLES:
                self.kind = "tree-search"
            elif name == "MLPClassifier":
                self.kind = "gradient"
                self._module = mlp_to_torch(est)
            else:
                self.kind = "finite-difference"
        elif isinstance(forward_func, torch.nn.Module):
            self.kind = "gradient"
            self._module = copy.deepcopy(forward_func).double().eval()
            for p in self._module.parameters():
                p.requires_grad_(False)
        elif callable(forward_func):
            self.kind = "gradient"
            self._module = forward_func
        else:
            raise TypeError("forward_func must be a callable, a torch module or a fitted "
                            f"scikit-learn classifier; got {type(forward_func).__name__}")
        self.data = None
        if data is not None:
            if isinstance(data, pd.DataFrame):
                data = data.to_numpy(dtype=np.float64)
            elif isinstance(data, torch.Tensor):
                data = data.detach().cpu().double().numpy()
            data = np.asarray(data, dtype=np.float64)
            self.data = data.reshape(len(data), -1)
            if not np.isfinite(self.data).all():
                raise ValueError("data contains NaN or infinite values")

    # ----------------------------------------------------------------- inputs
    def _flatten(self, inputs: Any):
        if isinstance(inputs, tuple):
            parts = inputs
            is_tuple = True
        else:
            parts = (inputs,)
            is_tuple = False
        arrs, shapes, kinds = [], [], []
        for k, p in enumerate(parts):
            if isinstance(p, torch.Tensor):
                kinds.append(("tensor", p.dtype))
                a = p.detach().cpu().double().numpy()
            elif isinstance(p, pd.DataFrame):
                kinds.append(("frame", list(p.columns)))
                a = p.to_numpy(dtype=np.float64)
            else:
                kinds.append(("array", None))
                try:
                    a = np.asarray(p, dtype=np.float64)
                except (TypeError, ValueError) as exc:
                    raise TypeError(f"inputs[{k}] must be numeric (tensor, array or DataFrame); "
                                    f"got {type(p).__name__}") from exc
            if a.ndim < 2:
                raise ValueError(f"inputs must have a batch dimension first, shape (n, m); got "
                                 f"shape {a.shape}. Use x.reshape(1, -1) for one row.")
            if not np.isfinite(a).all():
                raise ValueError("inputs contain NaN or infinite values")
            shapes.append(tuple(a.shape[1:]))
            arrs.append(a.reshape(len(a), -1))
        n = len(arrs[0])
        if any(len(a) != n for a in arrs):
            raise ValueError("all input tensors must have the same batch size")
        return np.concatenate(arrs, axis=1), shapes, kinds, is_tuple

    def _make_scorer(self, shapes, afa, n: int) -> _Scorer:
        sizes = [int(np.prod(s)) for s in shapes]

        def slice_arg(a, rows):
            if isinstance(a, torch.Tensor) and a.ndim and a.shape[0] == n:
                return a[torch.as_tensor(rows)]
            if isinstance(a, np.ndarray) and a.ndim and a.shape[0] == n:
                return a[rows]
            return a

        def split(X):
            out, s = [], 0
            for size, shp in zip(sizes, shapes):
                out.append(X[:, s:s + size].reshape((len(X),) + shp))
                s += size
            return out

        def extra(rows):
            if afa is None:
                return ()
            args = afa if isinstance(afa, tuple) else (afa,)
            return tuple(slice_arg(a, rows) for a in args)

        if self.kind == "gradient":
            fn = self._module

            def call(X, rows):
                try:
                    return fn(*split(X), *extra(rows))
                except RuntimeError as exc:  # a float32-only callable
                    if "dtype" not in str(exc) and "Double" not in str(exc):
                        raise
                    return fn(*split(X.float()), *extra(rows)).double()

            out = "logits" if self.output == "auto" else self.output
            if (out == "logits" and afa is None and len(shapes) == 1 and len(shapes[0]) == 1
                    and _SequentialScorer.supports(fn)):
                return _SequentialScorer(fn)
            return _Scorer(call, out)
        est = self._estimator
        names = getattr(est, "feature_names_in_", None)
        use_dec = self.output != "probabilities" and callable(
            getattr(est, "decision_function", None)) and self.kind == "finite-difference"
        if self.output == "logits" and not use_dec:
            raise ValueError(f"output='logits' but {type(est).__name__} has no "
                             "decision_function; use output='probabilities'")

        def call_sk(X, rows):
            arr = X.detach().numpy()
            if names is not None:
                arr = pd.DataFrame(arr, columns=list(names))
            if use_dec:
                return torch.as_tensor(np.asarray(est.decision_function(arr), dtype=np.float64))
            return torch.as_tensor(np.asarray(est.predict_proba(arr), dtype=np.float64))

        out = "logits" if use_dec else "probabilities"
        if self.kind == "finite-difference":
            scale = self.data.std(axis=0) if self.data is not None else np.ones(sum(sizes))
            return _FDScorer(call_sk, out, scale)
        return _Scorer(call_sk, out)

    def _domain(self, X, names, features, bounds, integer, onehot_groups, immutable, weights):
        n, m = X.shape
        free = np.zeros(m, dtype=bool)
        free[check_columns(features, names, "features")] = True
        if immutable is not None:
            free[check_columns(immutable, names, "immutable")] = False
        if isinstance(bounds, str):
            check_option(bounds, "bounds", ["data"])
            if self.data is None:
                raise ValueError("bounds='data' needs FlipPoints(..., data=training rows)")
            lo, hi = self.data.min(axis=0), self.data.max(axis=0)
        elif bounds is None:
            lo, hi = np.full(m, -np.inf), np.full(m, np.inf)
        else:
            if not (isinstance(bounds, (tuple, list)) and len(bounds) == 2):
                raise TypeError("bounds must be None, 'data' or a pair (lower, upper) of scalars "
                                f"or per-feature arrays; got {type(bounds).__name__}")
            lo = _vector(bounds[0], m, "bounds[0]", -np.inf)
            hi = _vector(bounds[1], m, "bounds[1]", np.inf)
            lo = np.where(np.isnan(lo), -np.inf, lo)
            hi = np.where(np.isnan(hi), np.inf, hi)
        if (lo > hi).any():
            j = int(np.flatnonzero(lo > hi)[0])
            raise ValueError(f"bounds: lower > upper for feature {names[j]!r}")
        out = (X < lo - 1e-12) | (X > hi + 1e-12)
        if out.any():
            r, j = np.argwhere(out)[0]
            raise ValueError(
                f"bounds exclude the inputs: row {int(r)}, feature {names[j]!r} = {X[r, j]:g} is "
                f"outside [{lo[j]:g}, {hi[j]:g}] ({int(out.any(axis=1).sum())} rows affected)")
        intm = np.zeros(m, dtype=bool)
        if integer is not None:
            if isinstance(integer, np.ndarray) and integer.dtype == bool:
                if integer.shape != (m,):
                    raise ValueError(f"integer mask must have {m} entries; got {integer.shape}")
                intm = integer.copy()
            else:
                intm[check_columns(integer, names, "integer")] = True
            bad = intm & (np.abs(X - np.rint(X)) > 1e-9).any(axis=0)
            if bad.any():
                raise ValueError("integer features must hold integers in inputs; not so for "
                                 f"{[names[j] for j in np.flatnonzero(bad)][:5]}")
        groups = []
        if onehot_groups is not None:
            items = onehot_groups.values() if isinstance(onehot_groups, dict) else onehot_groups
            for gi, grp in enumerate(items):
                idx = np.asarray(check_columns(list(grp), names, "onehot_groups"), dtype=int)
                if len(idx) < 2:
                    continue
                block = X[:, idx]
                ok = np.isin(block, (0.0, 1.0)).all(axis=1) & (block.sum(axis=1) == 1)
                if not ok.all():
                    raise ValueError(
                        f"onehot_groups[{gi}] ({[names[j] for j in idx][:4]}...) is not one-hot "
                        f"in row {int(np.flatnonzero(~ok)[0])}: each row needs exactly one 1 "
                        "and zeros elsewhere")
                groups.append(idx)
        in_group = np.zeros(m, dtype=bool)
        for g in groups:
            if in_group[g].any():
                raise ValueError("onehot_groups overlap")
            in_group[g] = True
            if not (free[g].all() or (~free[g]).all()):
                free[g] = False  # a group moves as a whole or not at all
                warn("a one-hot group was partly free; it is held fixed")
        w = _vector(weights, m, "weights", 1.0)
        if (w <= 0).any() or not np.isfinite(w).all():
            raise ValueError("weights must be positive and finite")
        return _Domain(free, lo, hi, intm, groups, w, in_group)

    def _targets(self, target, z: np.ndarray):
        n, K = z.shape
        c = z.argmax(axis=1)
        if target is None:
            return c, None
        if isinstance(target, torch.Tensor):
            target = target.detach().cpu().numpy()
        if isinstance(target, (numbers.Integral, np.integer)) and not isinstance(target, bool):
            t = np.full(n, int(target))
        else:
            t = np.asarray(target).reshape(-1)
            if t.dtype.kind not in "iu" or len(t) != n:
                raise ValueError(f"target must be an int class index or one per row ({n}); got "
                                 f"{np.asarray(target).dtype} of length {len(t)}")
            t = t.astype(int)
        if ((t < 0) | (t >= K)).any():
            raise ValueError(f"target must be a class index in [0, {K}); got {t[(t < 0) | (t >= K)][:5].tolist()}")
        same = np.flatnonzero(t == c)
        if len(same):
            raise ValueError(
                f"target equals the predicted class for rows {same[:10].tolist()}: a flip point "
                "moves a row to another class (target=None picks the closest other class)")
        return c, t

    # ----------------------------------------------------------------- public
    def find(self, inputs: Any, target: Any = None, additional_forward_args: Any = None, *,
             features: Any = None, bounds: Any = None, integer: Any = None,
             onehot_groups: Any = None, immutable: Any = None, weights: Any = None,
             method: str = "slsqp") -> FlipResult:
        """Closest flip point of every input.

        Parameters
        ----------
        inputs : tensor, tuple of tensors, ndarray or DataFrame, batch first
        target : int, sequence of int or None
            Class (score column) to flip to, per row or for all. ``None``: the closest
            boundary with any other class. A target equal to the predicted class is an error.
        additional_forward_args : any, optional
            Passed to ``forward_func`` after the inputs (batch-first tensors are sliced).
        features : names or indices, optional
            The free subset (default: all). A one-hot group moves only if all its columns
            are free.
        bounds : None, "data" or (lower, upper)
            Scalars or per-feature arrays (NaN = unbounded); ``"data"`` = the range of
            ``data``. Bounds that exclude an input raise ``ValueError``.
        integer : names, indices or bool mask, optional
            Features that must stay integral.
        onehot_groups : list of lists or dict of name -> columns, optional
            One-hot encoded categorical columns (e.g. ``FrameEncoder.groups_``; groups of one
            column are ignored). Each must be one-hot in ``inputs``.
        immutable : names or indices, optional
            Features that never move.
        weights : scalar or (m,) array, optional
            Weights of the squared distance (e.g. ``1 / std**2``).
        method : {"slsqp", "projection"}
            ``"slsqp"``: batched projection, then SLSQP per point (exact path).
            ``"projection"``: the batched projection only (fast; a stationary point when it
            converges, checked by the verifier).

        Returns
        -------
        FlipResult
        """
        method = check_option(method, "method", ["slsqp", "projection"])
        X, shapes, _, _ = self._flatten(inputs)
        n, m = X.shape
        names = self.feature_names or [f"Feature {j}" for j in range(m)]
        if len(names) != m:
            raise ValueError(f"feature_names has {len(names)} names but inputs have {m} features")
        if self.data is not None and self.data.shape[1] != m:
            raise ValueError(f"data has {self.data.shape[1]} features but inputs have {m}")
        dom = self._domain(X, names, features, bounds, integer, onehot_groups, immutable, weights)
        scorer = self._make_scorer(shapes, additional_forward_args, n)
        rows = np.arange(n)
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with threadpool_limits(limits=1):
                z0 = scorer.scores(X, rows)
                c, t = self._targets(target, z0)
                if self.kind == "tree-exact":
                    out = _tree_exact(self._estimator, scorer, X, c, t, dom, z0.shape[1])
                elif self.kind == "tree-search":
                    out = _tree_search(self._estimator, scorer, X, c, t, dom, self.data,
                                       check_random_state(self.random_state), self.progress)
                else:
                    out = _solve(scorer, X, c, t, dom, self, method)
        finally:
            torch.set_num_threads(torch_threads)
        return FlipResult(x=X, feature_names=names, method=self.kind, weights=dom.w,
                          input_shapes=shapes, **out)

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  **kwargs: Any):
        """Flip directions ``x̂ - x`` in the inputs' structure (NaN rows where none).

        Same arguments as :meth:`find`. Returns a tensor (or tuple of tensors) shaped like
        ``inputs`` when they were tensors, else an ndarray.
        """
        res = self.find(inputs, target, additional_forward_args, **kwargs)
        _, shapes, kinds, is_tuple = self._flatten(inputs)
        d = res.delta
        out, s = [], 0
        for shp, (kind, meta) in zip(shapes, kinds):
            size = int(np.prod(shp))
            block = d[:, s:s + size].reshape((len(d),) + shp)
            s += size
            if kind == "tensor":
                block = torch.as_tensor(block, dtype=meta if meta.is_floating_point else torch.float64)
            out.append(block)
        return tuple(out) if is_tuple else out[0]

    def verify(self, inputs: Any, x_hat: Any, target: Any = None,
               additional_forward_args: Any = None, **constraints: Any) -> FlipResult:
        """Run the independent verifier on given candidate points.

        ``x_hat`` (n, m) flat candidates; ``target`` as in :meth:`find` (``None``: the class
        the candidate is closest to flipping to). Constraints as in :meth:`find`. Points that
        fail a check get status ``"failed"`` with the reason in ``message``.
        """
        X, shapes, _, _ = self._flatten(inputs)
        n, m = X.shape
        names = self.feature_names or [f"Feature {j}" for j in range(m)]
        Xh = np.asarray(x_hat.detach().cpu().numpy() if isinstance(x_hat, torch.Tensor)
                        else x_hat, dtype=np.float64).reshape(n, -1)
        if Xh.shape != X.shape:
            raise ValueError(f"x_hat must have shape {X.shape}; got {Xh.shape}")
        dom = self._domain(X, names, constraints.get("features"), constraints.get("bounds"),
                           constraints.get("integer"), constraints.get("onehot_groups"),
                           constraints.get("immutable"), constraints.get("weights"))
        scorer = self._make_scorer(shapes, additional_forward_args, n)
        rows = np.arange(n)
        z0 = scorer.scores(X, rows)
        c, t = self._targets(target, z0)
        if t is None:
            zh = scorer.scores(np.nan_to_num(Xh), rows)
            zh[np.arange(n), c] = -np.inf
            t = zh.argmax(axis=1)
        v = _verify(scorer, X, Xh, rows, c, t, dom, self.tol,
                    tie_required=self.kind in ("gradient", "finite-difference"))
        status = v["status"]
        return FlipResult(
            x=X, x_hat=np.where(v["ok"][:, None], Xh, np.nan),
            distance=np.where(v["ok"], _dist(Xh, X, dom.w), np.nan), status=status,
            original_class=c, target_class=t, residual=v["residual"],
            stationarity=v["stationarity"], message=v["message"], seconds=np.zeros(n),
            feature_names=names, method=self.kind, weights=dom.w, input_shapes=shapes)


def _dist(A: np.ndarray, B: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.sqrt((w * (A - B) ** 2).sum(axis=1))


# --------------------------------------------------------------------------- verifier
def _domain_errors(X: np.ndarray, Xh: np.ndarray, dom: _Domain) -> list:
    """Per row, the first domain violation (empty string when valid)."""
    n = len(X)
    msg = [""] * n
    tol = 1e-9
    bad = ~np.isfinite(Xh).all(axis=1)
    fixed_moved = (np.abs(Xh - X) > tol * (1 + np.abs(X))) & ~dom.free
    outside = (Xh < dom.lo - tol) | (Xh > dom.hi + tol)
    nonint = dom.integer & (np.abs(Xh - np.rint(Xh)) > 1e-6)
    grp_bad = np.zeros(n, dtype=bool)
    for g in dom.groups:
        b = Xh[:, g]
        grp_bad |= ~((np.abs(b) < 1e-9) | (np.abs(b - 1) < 1e-9)).all(axis=1)
        grp_bad |= np.abs(b.sum(axis=1) - 1) > 1e-9
    for i in range(n):
        if bad[i]:
            msg[i] = "no point"
        elif fixed_moved[i].any():
            msg[i] = f"moves a fixed feature (column {int(np.flatnonzero(fixed_moved[i])[0])})"
        elif outside[i].any():
            msg[i] = f"outside the bounds (column {int(np.flatnonzero(outside[i])[0])})"
        elif nonint[i].any():
            msg[i] = f"integer feature not integral (column {int(np.flatnonzero(nonint[i])[0])})"
        elif grp_bad[i]:
            msg[i] = "a one-hot group is not one-hot"
    return msg


def _verify(scorer: _Scorer, X, Xh, rows, c, t, dom: _Domain, tol: float,
            tie_required: bool = True) -> dict:
    """Independent checks of candidate flip points ``Xh`` (only model scores are used).

    A candidate is *valid* when it lies in the domain and either ties the two top logits
    (``|z_c - z_t| <= tol (1 + |z_c|)``, both at least every other logit) with the class
    being ``c`` on one side and ``t`` on the other a small step along ``x̂ - x``, or is
    classified as ``t``
    outright (a point just past the boundary). Tie points also get a stationarity number:
    the relative residual of ``w (x̂ - x)`` projected off the span of the active constraint
    gradients over the free interior features (0 at a KKT point).
    """
    n, m = X.shape
    ar = np.arange(n)
    dmsg = _domain_errors(X, Xh, dom)
    finite = np.isfinite(Xh).all(axis=1)
    Xs = np.where(finite[:, None], Xh, X)
    z = scorer.scores(Xs, rows)
    zc, zt = z[ar, c], z[ar, t]
    scale = 1.0 + np.abs(zc)
    residual = np.abs(zc - zt)
    others = z.copy()
    others[ar, c] = -np.inf
    others[ar, t] = -np.inf
    omax = others.max(axis=1) if z.shape[1] > 2 else np.full(n, -np.inf)
    tie = residual <= tol * scale
    ordered = np.minimum(zc, zt) >= omax - tol * scale
    past = z.argmax(axis=1) == t
    # Step just across the boundary along the continuous part of x̂ - x.
    d = np.where(dom.cont & ~dom.integer, Xs - X, 0.0)
    nrm = np.linalg.norm(d, axis=1)
    eps = np.maximum(1e-7, 1e-4 * nrm)
    u = d / np.where(nrm > 0, nrm, 1.0)[:, None]
    # the two sides of x̂ along u must be of classes c and t (either way round: after a
    # category switch the continuous move can come back to the boundary from t's side)
    plus = scorer.scores(np.clip(Xs + eps[:, None] * u, dom.lo, dom.hi), rows).argmax(axis=1)
    minus = scorer.scores(np.clip(Xs - eps[:, None] * u, dom.lo, dom.hi), rows).argmax(axis=1)
    crosses = (((plus == t) & (minus == c)) | ((plus == c) & (minus == t))) & (nrm > 0)
    crosses |= past
    stationarity = np.full(n, np.nan)
    tie_ok = np.flatnonzero(tie & ordered & crosses & np.array([not m for m in dmsg]))
    if tie_required and len(tie_ok):
        stationarity[tie_ok] = _stationarity(scorer, X[tie_ok], Xs[tie_ok], rows[tie_ok],
                                             c[tie_ok], t[tie_ok], dom)
    ok = np.zeros(n, dtype=bool)
    status = np.array(["failed"] * n, dtype=object)
    message = np.array([""] * n, dtype=object)
    for i in range(n):
        if dmsg[i]:
            message[i] = "rejected: " + dmsg[i]
            continue
        if tie[i] and ordered[i] and crosses[i]:
            ok[i] = True
            status[i] = "approximate"
            if tie_required:
                if stationarity[i] <= 1e-4:
                    status[i] = "exact"
                    message[i] = "verified tie, stationary"
                else:
                    message[i] = "verified tie; not a stationary point of the distance"
            else:
                message[i] = "verified tie"
        elif past[i]:
            ok[i] = True
            status[i] = "approximate"
            message[i] = "classified as the target (just past the boundary)"
        elif tie[i] and not ordered[i]:
            message[i] = "rejected: another class scores above the tied pair"
        elif tie[i]:
            message[i] = "rejected: the class does not change across the boundary"
        else:
            message[i] = (f"rejected: not on the boundary (logit residual {residual[i]:.3g}) "
                          "and not of the target class")
    return {"ok": ok, "status": status, "message": message, "residual": residual,
            "stationarity": stationarity}


def _stationarity(scorer, X0, Xh, rows, c, t, dom: _Domain) -> np.ndarray:
    """Relative residual of ``w (x̂ - x)`` off the span of the active constraint gradients,
    over the free interior continuous features (0 at a first-order KKT point); batched."""
    z, J = scorer.jac_batch(Xh, rows)
    out = np.zeros(len(Xh))
    for i in range(len(Xh)):
        interior = (dom.cont & (Xh[i] > dom.lo + 1e-9) & (Xh[i] < dom.hi - 1e-9)
                    & ~dom.integer)
        r = (dom.w * (Xh[i] - X0[i]))[interior]
        nr = np.linalg.norm(r)
        if not interior.any() or nr == 0:
            continue
        zi, Ji, ci, ti = z[i], J[i], c[i], t[i]
        scale = 1 + abs(zi[ci])
        cols = [Ji[ci] - Ji[ti]]
        for k in range(len(zi)):
            if k not in (ci, ti) and zi[k] >= min(zi[ci], zi[ti]) - 1e-6 * scale:
                cols.append(Ji[ti] - Ji[k])
        A = np.stack(cols, axis=1)[interior]
        coef, *_ = np.linalg.lstsq(A, r, rcond=None)
        out[i] = np.linalg.norm(A @ coef - r) / nr
    return out


# --------------------------------------------------------------------------- gradient path
def _project(scorer, X0, B, rows, c, t, move, lo, hi, w, iters: int, tol: float, start=None):
    """Batched boundary projection: x <- closest point to the base ``B`` on the boundary
    linearised at x, restricted to the movable coordinates and the box (active set); the
    iterates begin at ``start`` (default ``B``)."""
    x = (B if start is None else start).copy()
    done = np.zeros(len(x), dtype=bool)
    best = np.full(len(x), np.inf)
    stale = np.zeros(len(x), dtype=int)
    eta = np.ones(len(x))
    for _ in range(iters):
        act = np.flatnonzero(~done)
        if not len(act):
            break
        g, G = scorer.g_grad(x[act], rows[act], c[act], t[act])
        xa, Ba, mv = x[act], B[act], move[act]
        clamp = np.zeros_like(mv)
        pinned = Ba.copy()
        v = xa
        for _inner in range(8):
            A = mv & ~clamp
            dvec = np.where(A, G / w, 0.0)
            den = (G * dvec).sum(axis=1)
            num = g + (G * (pinned - xa)).sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = np.where(np.abs(den) > 1e-300, -num / den, 0.0)
            v = pinned + alpha[:, None] * dvec
            vc = np.clip(v, lo, hi)
            newly = A & (vc != v)
            v = vc
            if not newly.any():
                break
            clamp |= newly
            pinned = np.where(newly, vc, pinned)
        # damped steps after a non-improving iteration (Newton-type cycling on ReLU pieces)
        v = xa + eta[act][:, None] * (v - xa)
        step = np.abs(v - xa).max(axis=1)
        x[act] = v
        tiny = step <= 1e-10 * (1 + np.abs(v).max(axis=1))
        conv = (np.abs(g) <= tol * (1 + np.abs(g))) & tiny
        # stop rows that stall (every movable feature at a bound) or stop improving (cycling
        # between linear pieces); the bisection below and the fallback take them over
        improved = np.abs(g) < 0.9 * best[act]
        stale[act] = np.where(improved, 0, stale[act] + 1)
        eta[act] = np.where(improved, np.minimum(1.0, 2 * eta[act]), np.maximum(eta[act] / 2, 1 / 16))
        best[act] = np.minimum(best[act], np.abs(g))
        done[act[conv | (tiny & (eta[act] >= 1)) | (stale[act] >= 8)]] = True
    # Rows that crossed without converging (e.g. cycling between ReLU regions): bisect the
    # segment base -> x onto the tie, so they still reach the boundary.
    zx = scorer.scores(x, rows)
    ar = np.arange(len(x))
    gx = zx[ar, c] - zx[ar, t]
    rest = np.flatnonzero(np.abs(gx) > tol * (1 + np.abs(zx[ar, c])))
    if len(rest):
        gB = scorer.scores(B[rest], rows[rest])
        gX = scorer.scores(x[rest], rows[rest])
        ar = np.arange(len(rest))
        gb = gB[ar, c[rest]] - gB[ar, t[rest]]
        gx = gX[ar, c[rest]] - gX[ar, t[rest]]
        sel = rest[(gb > 0) & (gx < 0)]
        if len(sel):
            a_lo, a_hi = np.zeros(len(sel)), np.ones(len(sel))
            ar = np.arange(len(sel))
            for _ in range(60):
                mid = 0.5 * (a_lo + a_hi)
                P = B[sel] + mid[:, None] * (x[sel] - B[sel])
                z = scorer.scores(P, rows[sel])
                pos = z[ar, c[sel]] - z[ar, t[sel]] > 0
                a_lo = np.where(pos, mid, a_lo)
                a_hi = np.where(pos, a_hi, mid)
            x[sel] = B[sel] + a_hi[:, None] * (x[sel] - B[sel])
    return x


def _slsqp(scorer, x0, base, row, c, t, move, lo, hi, w, start, K):
    idx = np.flatnonzero(move)
    if not len(idx):
        return None
    cache: dict = {}

    def full(v):
        x = base.copy()
        x[idx] = v
        return x

    def zj(v):
        key = v.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = scorer.full_jac(full(v), row)
        return cache[key]

    wi, xi = w[idx], x0[idx]
    others = [k for k in range(K) if k not in (c, t)]
    if others:
        cons = [{"type": "eq", "fun": lambda v: zj(v)[0][c] - zj(v)[0][t],
                 "jac": lambda v: (zj(v)[1][c] - zj(v)[1][t])[idx]}]
    else:  # two classes: one backward pass for g = z_c - z_t is all the solver needs
        rr, cc_, tt_ = np.array([row]), np.array([c]), np.array([t])

        def gg(v):
            key = v.tobytes()
            if key not in cache:
                cache.clear()
                g, G = scorer.g_grad(full(v)[None], rr, cc_, tt_)
                cache[key] = (float(g[0]), G[0])
            return cache[key]

        cons = [{"type": "eq", "fun": lambda v: gg(v)[0], "jac": lambda v: gg(v)[1][idx]}]
    if others:
        cons.append({"type": "ineq",
                     "fun": lambda v: np.array([zj(v)[0][t] - zj(v)[0][k] for k in others]),
                     "jac": lambda v: np.stack([(zj(v)[1][t] - zj(v)[1][k])[idx] for k in others])})
    res = minimize(lambda v: float((wi * (v - xi) ** 2).sum()), start[idx],
                   jac=lambda v: 2 * wi * (v - xi), method="SLSQP",
                   bounds=list(zip(lo[idx], hi[idx])), constraints=cons,
                   options={"maxiter": _SLSQP_MAXITER, "ftol": 1e-14})
    return full(np.clip(res.x, lo[idx], hi[idx]))


def _candidates(X, c, t, dom: _Domain, K: int):
    """Base points: x itself plus every single one-hot group level change; per target.

    Returned grouped by row (``src`` ascending), each (row, target) block starting with the
    unswitched base; ``is_base`` marks those.
    """
    n = len(X)
    if t is not None:
        src0, tt0 = np.arange(n), np.asarray(t)
    else:
        pairs = [(i, k) for i in range(n) for k in range(K) if k != c[i]]
        src0 = np.array([p[0] for p in pairs], dtype=int)
        tt0 = np.array([p[1] for p in pairs], dtype=int)
    blocks, srcs, tts, base = [X[src0]], [src0], [tt0], [np.ones(len(src0), dtype=bool)]
    X0 = X[src0]
    for g in dom.free_groups():
        cur = X0[:, g].argmax(axis=1)
        for lev in range(len(g)):
            sel = np.flatnonzero(cur != lev)
            b = X0[sel].copy()
            b[:, g] = 0.0
            b[:, g[lev]] = 1.0
            blocks.append(b)
            srcs.append(src0[sel])
            tts.append(tt0[sel])
            base.append(np.zeros(len(sel), dtype=bool))
    B, src, tt, is_base = (np.concatenate(blocks), np.concatenate(srcs), np.concatenate(tts),
                           np.concatenate(base))
    order = np.lexsort((~is_base, tt, src))
    return B[order], src[order], np.asarray(c)[src[order]], tt[order], is_base[order]


def _round_integers(scorer, x0, xh, row, c, t, dom: _Domain, K: int, fp: FlipPoints):
    """Fix integer features at rounded values and re-solve the remaining continuous ones; when
    none remain, walk outwards along the direction until the rounded point is of class t."""
    dom_i = dom.integer & dom.cont
    if not dom_i.any() or np.all(np.abs(xh[dom_i] - np.rint(xh[dom_i])) < 1e-9):
        return xh
    rest = dom.cont & ~dom.integer
    if rest.any():
        for mode in ("nearest", "across"):
            b = xh.copy()
            if mode == "nearest":
                b[dom_i] = np.rint(xh[dom_i])
            else:
                dirn = np.sign(xh - x0)
                b[dom_i] = np.where(dirn[dom_i] >= 0, np.ceil(xh[dom_i]), np.floor(xh[dom_i]))
            b = np.clip(b, dom.lo, dom.hi)
            mv = rest[None]
            p = _project(scorer, x0[None], b[None], np.array([row]), np.array([c]),
                         np.array([t]), mv, dom.lo, dom.hi, dom.w, fp.max_iter, fp.tol)[0]
            s = _slsqp(scorer, x0, b, row, c, t, rest, dom.lo, dom.hi, dom.w, p, K)
            for cand in (s, p):
                if cand is None:
                    continue
                v = _verify(scorer, x0[None], cand[None], np.array([row]), np.array([c]),
                            np.array([t]), dom, fp.tol)
                if v["ok"][0]:
                    return cand
    d = xh - x0
    for s in np.linspace(1.0, 3.0, 41):
        cand = x0 + s * d
        cand[dom_i] = np.rint(cand[dom_i])
        cand = np.clip(cand, dom.lo, dom.hi)
        cand[dom_i] = np.rint(cand[dom_i])
        if scorer.scores(cand[None], np.array([row]))[0].argmax() == t:
            return cand
    return xh


def _search_start(scorer, x0, row, c, t, dom: _Domain, data, rng, n_samples: int = 256):
    """A point of class ``t`` in the allowed subspace, or None: training rows of class t
    (restricted to the free features), random box samples, and a gradient ascent on
    ``z_t - z_c``."""
    cont = dom.cont
    cands = []
    if data is not None:
        S = np.repeat(x0[None], len(data), axis=0)
        S[:, cont] = data[:, cont]
        for g in dom.free_groups():
            S[:, g] = data[:, g]
        cands.append(S)
    lo = np.where(np.isfinite(dom.lo), dom.lo, x0 - 10 * (1 + np.abs(x0)))
    hi = np.where(np.isfinite(dom.hi), dom.hi, x0 + 10 * (1 + np.abs(x0)))
    R = np.repeat(x0[None], n_samples, axis=0)
    R[:, cont] = rng.uniform(lo[cont], hi[cont], size=(n_samples, int(cont.sum())))
    for g in dom.free_groups():
        R[:, g] = np.eye(len(g))[rng.integers(0, len(g), size=n_samples)]
    cands.append(R)
    # projected gradient ascent on z_t - z_c over the continuous free features
    if cont.any():
        x = x0.copy()
        for _ in range(60):
            g, G = scorer.g_grad(x[None], np.array([row]), np.array([c]), np.array([t]))
            step = np.where(cont, -G[0], 0.0)
            nrm = np.linalg.norm(step)
            if nrm == 0:
                break
            x = np.clip(x + 0.25 * (hi - lo).max() * step / nrm / 10, lo, hi)
        cands.append(x[None])
    C = np.concatenate(cands)
    z = scorer.scores(C, np.full(len(C), row))
    hit = np.flatnonzero(z.argmax(axis=1) == t)
    if not len(hit):
        return None
    best = hit[np.argmin(_dist(C[hit], x0[None], dom.w))]
    return C[best]


def _bisect(scorer, x0, s, row, t, steps: int = 60):
    """Closest point to ``x0`` on the segment [x0, s] still of class ``t`` (s is of class t)."""
    lo_a, hi_a = 0.0, 1.0
    for _ in range(steps):
        mid = 0.5 * (lo_a + hi_a)
        if scorer.scores((x0 + mid * (s - x0))[None], np.array([row]))[0].argmax() == t:
            hi_a = mid
        else:
            lo_a = mid
    return x0 + hi_a * (s - x0)


def _multistarts(scorer, X, src0, tt0, dom: _Domain, data, n_starts: int):
    """Boundary points between each input and its nearest training rows of the target class
    (continuous free features taken from the row, the rest from the input), as extra starts
    of the projection; batched bisection. Returns (start points, their row, their target)."""
    cont = dom.cont
    if data is None or n_starts == 0 or not cont.any():
        return np.empty((0, X.shape[1])), np.empty(0, int), np.empty(0, int)
    zD = scorer.scores(data, np.zeros(len(data), dtype=int))
    cls = zD.argmax(axis=1)
    sw = np.sqrt(dom.w[cont])
    starts, srcs, tts = [], [], []
    for k in np.unique(tt0):
        q = np.flatnonzero(tt0 == k)
        Dk = data[cls == k][:, cont] * sw
        if not len(Dk):
            continue
        Q = X[src0[q]][:, cont] * sw
        d2 = (Q ** 2).sum(1)[:, None] - 2 * Q @ Dk.T + (Dk ** 2).sum(1)[None, :]
        near = np.argsort(d2, axis=1)[:, :8 * n_starts]
        for j in range(near.shape[1]):
            S = X[src0[q]].copy()
            S[:, cont] = Dk[near[:, j]] / sw
            starts.append(np.clip(S, dom.lo, dom.hi))
            srcs.append(src0[q])
            tts.append(tt0[q])
    if not starts:
        return np.empty((0, X.shape[1])), np.empty(0, int), np.empty(0, int)
    S, src, tt = np.concatenate(starts), np.concatenate(srcs), np.concatenate(tts)
    zS = scorer.scores(S, src)
    keep = zS.argmax(axis=1) == tt
    # per (row, target), the n_starts nearest hybrids that are of the target class
    d = np.where(keep, _dist(S, X[src], dom.w), np.inf)
    order = np.lexsort((d, tt, src))
    pos = np.arange(len(order))
    grp = np.r_[True, (src[order][1:] != src[order][:-1]) | (tt[order][1:] != tt[order][:-1])]
    rank = pos - np.maximum.accumulate(np.where(grp, pos, 0))
    sel = order[(rank < n_starts) & np.isfinite(d[order])]
    S, src, tt = S[sel], src[sel], tt[sel]
    X0 = X[src]
    a_lo, a_hi = np.zeros(len(S)), np.ones(len(S))
    for _ in range(30):
        mid = 0.5 * (a_lo + a_hi)
        z = scorer.scores(X0 + mid[:, None] * (S - X0), src)
        yes = z.argmax(axis=1) == tt
        a_hi = np.where(yes, mid, a_hi)
        a_lo = np.where(yes, a_lo, mid)
    return X0 + a_hi[:, None] * (S - X0), src, tt


def _solve(scorer: _Scorer, X, c, t, dom: _Domain, fp: FlipPoints, method: str) -> dict:
    n, m = X.shape
    K = scorer.scores(X[:1], np.array([0])).shape[1]
    rng = check_random_state(fp.random_state)
    seconds = np.zeros(n)
    tic = time.perf_counter()
    B, src, cc, tt, is_base = _candidates(X, c, t, dom, K)
    first_wave = np.ones(len(B), dtype=bool)
    if len(B) > n and fp.max_candidates < len(B):
        # Keep the most promising category switches per row: switch cost plus the linearised
        # distance to the boundary at the base point (the unswitched base always stays).
        g, G = scorer.g_grad(B, src, cc, tt)
        Gc = np.where(dom.cont, G, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lin = np.where(g > 0, g ** 2 / (Gc ** 2 / dom.w).sum(axis=1), 0.0)
        est = (dom.w * (B - X[src]) ** 2).sum(axis=1) + np.nan_to_num(lin, nan=np.inf)
        est[is_base] = -1.0  # the unswitched base of each (row, target)
        order = np.lexsort((est, src))
        rank = np.empty(len(B), dtype=int)
        starts = np.searchsorted(src[order], src[order], side="left")
        rank[order] = np.arange(len(B)) - starts
        first_wave = rank < fp.max_candidates
    relaxed = _Domain(dom.free, dom.lo, dom.hi, np.zeros_like(dom.integer), dom.groups, dom.w,
                      dom.in_group)  # integer features are rounded after the continuous solve
    # multi-start: also start the projection of each unswitched base from boundary points
    # towards its nearest training rows of the target class (other basins of the boundary)
    S0 = B.copy()
    ms, ms_src, ms_tt = _multistarts(scorer, X, src[is_base], tt[is_base], dom, fp.data,
                                     fp.n_starts)
    if len(ms):
        B = np.concatenate([B, X[ms_src]])
        S0 = np.concatenate([S0, ms])
        src = np.concatenate([src, ms_src])
        tt = np.concatenate([tt, ms_tt])
        cc = np.concatenate([cc, np.asarray(c)[ms_src]])
        is_base = np.concatenate([is_base, np.zeros(len(ms), dtype=bool)])
        first_wave = np.concatenate([first_wave, np.ones(len(ms), dtype=bool)])
        order = np.argsort(src, kind="stable")
        B, S0, src, tt, cc, is_base, first_wave = (B[order], S0[order], src[order], tt[order],
                                                   cc[order], is_base[order], first_wave[order])
    P = B.copy()
    okP = np.zeros(len(B), dtype=bool)

    def wave(sel):
        mv = np.repeat(dom.cont[None], len(sel), axis=0)
        P[sel] = _project(scorer, X[src[sel]], B[sel], src[sel], cc[sel], tt[sel], mv, dom.lo,
                          dom.hi, dom.w, fp.max_iter, fp.tol, start=S0[sel])
        okP[sel] = _verify(scorer, X[src[sel]], P[sel], src[sel], cc[sel], tt[sel], relaxed,
                           fp.tol, tie_required=False)["ok"]

    wave(np.flatnonzero(first_wave))
    # second wave: the remaining switches of rows the first wave did not solve
    unsolved = np.ones(n, dtype=bool)
    unsolved[src[okP]] = False
    rest = np.flatnonzero(~first_wave & unsolved[src])
    if len(rest):
        wave(rest)
    projected = first_wave.copy()
    projected[rest] = True
    vP = {"ok": okP & projected}
    dP = np.where(projected, _dist(P, X[src], dom.w), np.inf)
    seconds += (time.perf_counter() - tic) / n
    out_hat = np.full((n, m), np.nan)
    tgt = np.array(t if t is not None else c)
    notes = [""] * n
    lo_i = np.searchsorted(src, np.arange(n), side="left")
    hi_i = np.searchsorted(src, np.arange(n), side="right")
    todo = np.arange(n)
    if not (dom.integer & dom.cont).any():
        # Batched answer: the closest verified projection of each row. The SLSQP method keeps
        # it when it is already a first-order stationary point (SLSQP could not improve it
        # locally) and polishes the rest per point.
        okP = vP["ok"]
        key = np.where(okP, dP, np.inf)
        best_k = np.full(n, -1)
        for i in range(n):
            mine = np.arange(lo_i[i], hi_i[i])
            if len(mine) and okP[mine].any():
                best_k[i] = mine[np.argmin(key[mine])]
        have = np.flatnonzero(best_k >= 0)
        if method == "slsqp" and len(have):
            kk = best_k[have]
            zk = scorer.scores(P[kk], src[kk])
            tie = np.abs(zk[np.arange(len(kk)), cc[kk]] - zk[np.arange(len(kk)), tt[kk]]) <= (
                fp.tol * (1 + np.abs(zk[np.arange(len(kk)), cc[kk]])))
            st = np.full(len(kk), np.inf)
            if tie.any():
                st[tie] = _stationarity(scorer, X[src[kk[tie]]], P[kk[tie]], src[kk[tie]],
                                        cc[kk[tie]], tt[kk[tie]], dom)
            # a failed projection closer than the best verified one may hide a closer basin:
            # such rows go to the per-point solver
            closer_fail = np.array([
                bool((~okP[lo_i[i]:hi_i[i]] & (dP[lo_i[i]:hi_i[i]] < dP[best_k[i]])).any())
                for i in have])
            have = have[(st <= 1e-4) & ~closer_fail]
        out_hat[have] = P[best_k[have]]
        tgt[have] = tt[best_k[have]]
        todo = np.flatnonzero(~np.isfinite(out_hat).all(axis=1))
    it = tqdm(todo, desc="flip points", disable=not fp.progress or len(todo) < 2)
    for i in it:
        t0 = time.perf_counter()
        mine = np.arange(lo_i[i], hi_i[i])
        order = mine[np.lexsort((dP[mine], ~vP["ok"][mine]))]
        found = None
        # only candidates whose projection reached a verified point are polished; the rest go
        # to the multi-start fallback
        tries = order[vP["ok"][order]][: 3 if method == "slsqp" else 1]
        if method == "slsqp":
            # failed projections closer than the best verified one: SLSQP from there too
            lim = dP[tries[0]] if len(tries) else np.inf
            extra = [k for k in order if not vP["ok"][k] and dP[k] < lim][:2]
            tries = np.concatenate([extra, tries]).astype(int)
        for k in tries:
            cands = []
            if method == "slsqp" and dom.cont.any():
                s = _slsqp(scorer, X[i], B[k], i, cc[k], tt[k], dom.cont, dom.lo, dom.hi,
                           dom.w, P[k], K)
                if s is not None:
                    cands.append(s)
            cands.append(P[k])
            if not dom.cont.any():
                cands.append(B[k])
            best = None
            for cand in cands:
                cand = _round_integers(scorer, X[i], cand, i, cc[k], tt[k], dom, K, fp)
                v = _verify(scorer, X[i:i + 1], cand[None], np.array([i]), np.array([cc[k]]),
                            np.array([tt[k]]), dom, fp.tol, tie_required=False)
                if v["ok"][0]:
                    d = _dist(cand[None], X[i:i + 1], dom.w)[0]
                    if best is None or d < best[0] - 1e-12:
                        best = (d, cand, tt[k])
            if best is not None and (found is None or best[0] < found[0]):
                found = best
            if found is not None and method == "slsqp" and k == tries[0]:
                # the first (closest projected) candidate gave a verified point; keep looking
                # only when other candidates are projected closer than it
                rest = [q for q in tries[1:] if np.isfinite(dP[q]) and dP[q] < found[0]]
                if not rest:
                    break
        if found is None:
            targets = [t[i]] if t is not None else [k for k in range(K) if k != c[i]]
            reached = False
            for tk in targets:
                s = _search_start(scorer, X[i], i, c[i], tk, dom, fp.data, rng)
                if s is None:
                    continue
                reached = True
                start = X[i].copy()
                start[dom.in_group] = s[dom.in_group]  # categories switch, then bisect the rest
                bnd = _bisect(scorer, start, s, i, tk)
                cands = [bnd]
                if dom.cont.any():
                    p = _project(scorer, X[i:i + 1], bnd[None], np.array([i]), np.array([c[i]]),
                                 np.array([tk]), dom.cont[None], dom.lo, dom.hi, dom.w,
                                 fp.max_iter, fp.tol)[0]
                    base = X[i].copy()
                    base[dom.in_group] = bnd[dom.in_group]
                    q = _slsqp(scorer, X[i], base, i, c[i], tk, dom.cont, dom.lo, dom.hi, dom.w,
                               bnd, K)
                    cands = [q, p, bnd]
                for cand in cands:
                    if cand is None:
                        continue
                    cand = _round_integers(scorer, X[i], cand, i, c[i], tk, dom, K, fp)
                    v = _verify(scorer, X[i:i + 1], cand[None], np.array([i]), np.array([c[i]]),
                                np.array([tk]), dom, fp.tol, tie_required=False)
                    if v["ok"][0]:
                        d = _dist(cand[None], X[i:i + 1], dom.w)[0]
                        if found is None or d < found[0]:
                            found = (d, cand, tk)
            if found is None and not reached:
                notes[i] = "no flip point in this subspace"
        if found is not None:
            out_hat[i] = found[1]
            tgt[i] = found[2]
        seconds[i] += time.perf_counter() - t0
    # A category switch alone can already flip the decision; on a mixed domain no tie point
    # is closer than such a switch, so the switch itself is kept when it is strictly closer
    # (labelled approximate: a point just past the boundary, not on it).
    tic = time.perf_counter()
    sw = np.flatnonzero(~is_base)
    if len(sw):
        zB = scorer.scores(B[sw], src[sw])
        past = sw[zB.argmax(axis=1) == tt[sw]]
        if len(past):
            dB = _dist(B[past], X[src[past]], dom.w)
            cur = np.where(np.isfinite(out_hat).all(axis=1),
                           _dist(np.nan_to_num(out_hat), X, dom.w), np.inf)
            for q in np.argsort(dB)[::-1]:  # closest last, so it wins
                k, i = past[q], src[past[q]]
                if dB[q] < cur[i] - 1e-12:
                    out_hat[i], tgt[i], cur[i], notes[i] = B[k], tt[k], dB[q], ""
    seconds += (time.perf_counter() - tic) / n
    t_out = tgt if t is None else t
    tic = time.perf_counter()
    v = _verify(scorer, X, out_hat, np.arange(n), c, t_out, dom, fp.tol,
                tie_required=True)
    seconds += (time.perf_counter() - tic) / n
    status = v["status"].copy()
    message = v["message"].copy()
    for i in range(n):
        if notes[i]:
            status[i] = "infeasible"
            message[i] = notes[i] + (" (sampled search)" if scorer.differentiable else "")
        elif status[i] == "exact" and dom.integer.any() and (
                np.abs(out_hat[i] - X[i])[dom.integer] > 0).any():
            status[i] = "approximate"
            message[i] = "verified tie after rounding integer features"
    ok = np.isin(status, ("exact", "approximate"))
    return dict(x_hat=np.where(ok[:, None], out_hat, np.nan),
                distance=np.where(ok, _dist(np.nan_to_num(out_hat), X, dom.w), np.nan),
                status=status.astype(str), original_class=c, target_class=t_out,
                residual=v["residual"], stationarity=v["stationarity"],
                message=message.astype(str), seconds=seconds)


# --------------------------------------------------------------------------- trees
def _leaf_boxes(tree, m: int):
    """(lower, upper, leaf ids) of every leaf: the leaf holds x with lower < x <= upper."""
    left, right = tree.children_left, tree.children_right
    feat, thr = tree.feature, tree.threshold
    lows, ups, ids = [], [], []
    stack = [(0, np.full(m, -np.inf), np.full(m, np.inf))]
    while stack:
        node, lo, up = stack.pop()
        if left[node] == -1:
            lows.append(lo)
            ups.append(up)
            ids.append(node)
            continue
        f, th = feat[node], thr[node]
        up_l = up.copy()
        up_l[f] = min(up[f], th)
        lo_r = lo.copy()
        lo_r[f] = max(lo[f], th)
        stack.append((left[node], lo, up_l))
        stack.append((right[node], lo_r, up))
    return np.array(lows), np.array(ups), np.array(ids)


def _above(th: np.ndarray) -> np.ndarray:
    """Smallest value with ``float32(value) > th`` (scikit-learn's "go right" test)."""
    v = th.astype(np.float32)
    v = np.where(v.astype(np.float64) > th, v, np.nextafter(v, np.float32(np.inf)))
    return v.astype(np.float64)


def _below(th: np.ndarray) -> np.ndarray:
    """Largest value with ``float32(value) <= th`` (scikit-learn's "go left" test)."""
    v = th.astype(np.float32)
    v = np.where(v.astype(np.float64) > th, np.nextafter(v, np.float32(-np.inf)), v)
    return v.astype(np.float64)


def _tree_exact(est, scorer, X, c, t, dom: _Domain, K: int) -> dict:
    """Exact closest point of the target class for one axis-aligned decision tree."""
    n, m = X.shape
    tic = time.perf_counter()
    tree = est.tree_
    L, U, ids = _leaf_boxes(tree, m)
    leaf_cls = tree.value[ids, 0, :].argmax(axis=1)
    lo_v = np.where(np.isfinite(L), _above(np.where(np.isfinite(L), L, 0.0)), -np.inf)
    lo_v = np.maximum(lo_v, dom.lo)
    hi_v = np.minimum(np.where(np.isfinite(U), _below(np.where(np.isfinite(U), U, 0.0)), np.inf),
                      dom.hi)
    out_hat = np.full((n, m), np.nan)
    tgt = np.array(t if t is not None else c)
    notes = [""] * n
    cont = ~dom.in_group
    for i in range(n):
        x = X[i]
        ok_cls = (leaf_cls == t[i]) if t is not None else (leaf_cls != c[i])
        lo_i, hi_i = lo_v.copy(), hi_v.copy()
        if dom.integer.any():
            lo_i[:, dom.integer] = np.ceil(lo_i[:, dom.integer])
            hi_i[:, dom.integer] = np.floor(hi_i[:, dom.integer])
        P = np.clip(x, lo_i, hi_i)
        P[:, ~dom.free] = x[~dom.free]
        feas = ok_cls & (lo_i <= hi_i).all(axis=1)
        # fixed features must already lie in the leaf's box
        fixed = ~dom.free & cont
        feas &= ((x[fixed] > L[:, fixed]) & (x[fixed] <= U[:, fixed])).all(axis=1)
        cost = (dom.w * np.where(cont, P - x, 0.0) ** 2).sum(axis=1)
        for g in dom.groups:
            # a level is allowed when its one-hot vector satisfies the leaf's box on the group
            E = np.eye(len(g))
            allowed = np.ones((len(L), len(g)), dtype=bool)
            for q, col in enumerate(g):
                val = E[:, q]  # value of column col under each level
                allowed &= (val[None, :] > L[:, [col]]) & (val[None, :] <= U[:, [col]])
            cur = int(np.argmax(x[g]))
            if not dom.free[g].all():
                feas &= allowed[:, cur]
                P[:, g] = x[g]
                continue
            stay = allowed[:, cur]
            swc = dom.w[g][cur] + dom.w[g][None, :]
            swc = np.where(np.arange(len(g))[None, :] == cur, 0.0, swc)
            swc = np.where(allowed, swc, np.inf)
            lev = np.where(stay, cur, np.argmin(swc, axis=1))
            feas &= allowed.any(axis=1)
            cost += np.where(stay, 0.0, np.min(swc, axis=1))
            P[:, g] = np.eye(len(g))[lev]
        cost = np.where(feas, cost, np.inf)
        if not np.isfinite(cost).any():
            notes[i] = "no flip point in this subspace (no reachable leaf of another class)"
            continue
        order = np.argsort(cost)
        for k in order:
            if not np.isfinite(cost[k]):
                break
            pred = int(scorer.scores(P[k][None], np.array([i]))[0].argmax())
            if pred == leaf_cls[k]:
                out_hat[i] = P[k]
                tgt[i] = leaf_cls[k]
                break
    seconds = np.full(n, (time.perf_counter() - tic) / max(n, 1))
    return _tree_finish(scorer, X, out_hat, c, tgt, dom, notes, seconds, exact=True)


def _tree_finish(scorer, X, out_hat, c, tgt, dom, notes, seconds, exact: bool) -> dict:
    n = len(X)
    v = _verify(scorer, X, out_hat, np.arange(n), c, tgt, dom, 1e-9, tie_required=False)
    status = v["status"].copy()
    message = v["message"].copy()
    for i in range(n):
        if notes[i]:
            status[i], message[i] = "infeasible", notes[i]
        elif v["ok"][i]:
            status[i] = "exact" if exact else "approximate"
            message[i] = ("closest point of the target class (leaf enumeration)" if exact else
                          "tree-ensemble search: an upper bound on the distance")
    ok = np.isin(status, ("exact", "approximate"))
    return dict(x_hat=np.where(ok[:, None], out_hat, np.nan),
                distance=np.where(ok, _dist(np.nan_to_num(out_hat), X, dom.w), np.nan),
                status=status.astype(str), original_class=c, target_class=tgt,
                residual=v["residual"], stationarity=np.full(n, np.nan),
                message=message.astype(str), seconds=seconds)


def _snap(P: np.ndarray, dom: _Domain) -> np.ndarray:
    P = np.clip(P, dom.lo, dom.hi)
    P[:, dom.integer] = np.rint(P[:, dom.integer])
    for g in dom.groups:
        P[:, g] = np.eye(len(g))[P[:, g].argmax(axis=1)]
    return P


def _tree_search(est, scorer, X, c, t, dom: _Domain, data, rng, progress: bool) -> dict:
    """Gradient-free search for tree ensembles: seeds of the target class, bisection towards x,
    a greedy coordinate pull back to x, and a final bisection. Approximate."""
    n, m = X.shape
    K = scorer.scores(X[:1], np.array([0])).shape[1]
    out_hat = np.full((n, m), np.nan)
    tgt = np.array(t if t is not None else c)
    notes = [""] * n
    seconds = np.zeros(n)
    units = [np.array([j]) for j in np.flatnonzero(dom.cont)] + dom.free_groups()

    def cls(P):
        return scorer.scores(P, np.zeros(len(P), dtype=int)).argmax(axis=1)

    for i in tqdm(range(n), desc="flip points (tree search)", disable=not progress or n < 2):
        t0 = time.perf_counter()
        x = X[i]
        seeds = []
        if data is not None:
            S = np.repeat(x[None], len(data), axis=0)
            S[:, dom.cont] = data[:, dom.cont]
            for g in dom.free_groups():
                S[:, g] = data[:, g]
            seeds.append(S)
        lo = np.where(np.isfinite(dom.lo), dom.lo, x - 5 * (1 + np.abs(x)))
        hi = np.where(np.isfinite(dom.hi), dom.hi, x + 5 * (1 + np.abs(x)))
        R = np.repeat(x[None], 256, axis=0)
        R[:, dom.cont] = rng.uniform(lo[dom.cont], hi[dom.cont], size=(256, int(dom.cont.sum())))
        for g in dom.free_groups():
            R[:, g] = np.eye(len(g))[rng.integers(0, len(g), size=256)]
        seeds.append(R)
        S = _snap(np.concatenate(seeds), dom)
        pc = cls(S)
        targets = [t[i]] if t is not None else [k for k in range(K) if k != c[i]]
        best = None
        for tk in targets:
            hit = S[pc == tk]
            if not len(hit):
                continue
            hit = hit[np.argsort(_dist(hit, x[None], dom.w))[:32]]
            # batched bisection on each segment x -> seed
            a_lo, a_hi = np.zeros(len(hit)), np.ones(len(hit))
            for _ in range(25):
                mid = 0.5 * (a_lo + a_hi)
                P = _snap(x + mid[:, None] * (hit - x), dom)
                yes = cls(P) == tk
                a_hi = np.where(yes, mid, a_hi)
                a_lo = np.where(yes, a_lo, mid)
            P = _snap(x + a_hi[:, None] * (hit - x), dom)
            P = P[cls(P) == tk]
            if not len(P):
                continue
            p = P[np.argmin(_dist(P, x[None], dom.w))]
            # greedy: pull each unit back to x (fully, else by bisection) while still class t
            for _sweep in range(2):
                for u in units:
                    if np.allclose(p[u], x[u]):
                        continue
                    q = p.copy()
                    q[u] = x[u]
                    if cls(q[None])[0] == tk:
                        p = q
                        continue
                    if len(u) > 1:
                        continue
                    fr = np.linspace(0.0, 1.0, 17)[1:-1]
                    Q = np.repeat(p[None], len(fr), axis=0)
                    Q[:, u[0]] = x[u[0]] + fr * (p[u[0]] - x[u[0]])
                    Q = _snap(Q, dom)
                    yes = np.flatnonzero(cls(Q) == tk)
                    if len(yes):
                        p = Q[yes[0]]
            d = _dist(p[None], x[None], dom.w)[0]
            if best is None or d < best[0]:
                best = (d, p, tk)
        if best is None:
            notes[i] = "no flip point in this subspace (sampled search)"
        else:
            out_hat[i] = best[1]
            tgt[i] = best[2]
        seconds[i] = time.perf_counter() - t0
    return _tree_finish(scorer, X, out_hat, c, tgt, dom, notes, seconds, exact=False)
