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

import copy
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from shap_debug.core import (
    check_float,
    check_int,
    check_option,
    check_random_state,
    check_y,
    progress_iter,
    seed_from,
    warn,
)

from ._problems import _as_tensor, _make_problem, _split_inputs
from ._results import KMostInfluentialResults
from ._solvers import _CurvatureSolver

__all__ = [
    "CURVATURES",
    "GRAD_RTOL",
    "InfluenceFunction",
    "KMostInfluentialResults",
    "knn_candidates",
]

CURVATURES = ("exact", "cg", "lissa", "gauss_newton", "fisher", "identity")
_NEEDS_HESSIAN = ("exact", "cg", "lissa")
# Largest accepted ‖∇J(θ)‖ / RMS_i ‖∇ℓ_i(θ)‖ at fit time (see InfluenceFunction._optimum_check).
GRAD_RTOL = 1e-3
_GRAD_ROWS = 1024  # rows that estimate the per-row gradient scale


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
class InfluenceFunction(_CurvatureSolver):
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

    Attributes
    ----------
    grad_norm_ : float
        ``‖∇J(θ)‖``, the Euclidean norm of the training objective's gradient (mean loss plus
        the L2 term) over the free parameters, measured at fit time; 0 at an optimum.
    grad_scale_ : float
        The root-mean-square per-row loss gradient norm (on up to 1,024 rows), the scale
        ``grad_norm_`` is judged against: a :class:`~shap_debug.core.ShapDebugWarning` says
        when ``grad_norm_ > GRAD_RTOL · grad_scale_`` (``GRAD_RTOL = 1e-3``), i.e. when the
        model is not at the optimum that influence functions assume.

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
        self._problem, self.classes_ = _make_problem(
            model, X, layers, last_layer, self.weight_decay, dtype)
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
        message = self._optimum_check()
        if message:
            warn(message)

    # ---- construction helpers

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
            chunks = progress_iter(chunks, progress=True, desc=desc)
        for s in chunks:
            yield rows[s:s + self.batch_size]

    def train_gradients(self, rows: Any = None) -> torch.Tensor:
        """Per-sample loss gradients of training rows, (len(rows), n_params)."""
        rows = np.arange(self.n_train_) if rows is None else np.asarray(rows, dtype=np.int64)
        out = [self._problem.grads(self.X_[r], self.y_[r])
               for r in self._iter_chunks(rows, "gradients")]
        return torch.cat(out) if out else torch.empty(0, self._problem.n_params)

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
        message = new._optimum_check()
        if message:
            warn(message)
        return new

    def _optimum_check(self) -> str | None:
        """Measure ``grad_norm_`` and ``grad_scale_``; a warning text when not at an optimum.

        Influence functions linearise around a stationary point of the training objective
        ``J``. Where ``∇J(θ) = mean_i ∇ℓ_i(θ) + Rθ = g ≠ 0``, getting to any stationary
        point must change the per-row gradients (or the L2 term) by at least ``‖g‖`` on
        average, so ``‖g‖ / RMS_i ‖∇ℓ_i‖`` is a lower bound on the relative error of the
        gradients every score is built from. It is a ratio, so independent of the loss and
        parameter scale, and it is checked for every curvature. On small tanh networks, scores
        at ratios up to 8e-4 ranked training rows as at the re-converged optimum (Spearman
        ≥ 0.998, same top 10) while ratios from 6e-3 up (partial L-BFGS, a few SGD epochs,
        SGD's noise floor of 1e-2 to 4e-2) gave Spearman -0.05 to 0.97 and top-10 overlaps of
        0.08 to 0.9: hence ``GRAD_RTOL = 1e-3``.
        """
        prob, n, bs = self._problem, self.n_train_, self.batch_size
        g = prob.reg * prob.theta
        for s in range(0, n, bs):
            theta = prob.theta.detach().clone().requires_grad_(True)
            part = prob.losses(self.X_[s:s + bs], self.y_[s:s + bs], theta).sum() / n
            g = g + torch.autograd.grad(part, theta)[0]
        rows = np.arange(n) if n <= _GRAD_ROWS else np.sort(
            np.random.default_rng(0).choice(n, _GRAD_ROWS, replace=False))
        sq = 0.0
        for s in range(0, len(rows), bs):
            r = rows[s:s + bs]
            sq += float(prob.grads(self.X_[r], self.y_[r]).pow(2).sum())
        self.grad_norm_ = float(g.norm())
        self.grad_scale_ = math.sqrt(sq / len(rows))
        if self.grad_norm_ <= GRAD_RTOL * self.grad_scale_:
            return None
        ratio = (self.grad_norm_ / self.grad_scale_ if self.grad_scale_ > 0 else math.inf)
        return (f"the model is not at an optimum of its training objective: the gradient norm "
                f"at its parameters is {self.grad_norm_:.3g}, {ratio:.2g} x the typical per-row "
                f"gradient norm {self.grad_scale_:.3g} (threshold {GRAD_RTOL:g} x); influence "
                "functions assume an optimum, so these scores and rankings are unreliable. "
                "Train longer or to a lower tolerance (e.g. full-batch L-BFGS), add weight "
                "decay (and pass the one used in training as weight_decay=), or re-converge "
                "here with .at(.refit())")

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

