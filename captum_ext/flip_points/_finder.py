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
  Every verified answer that is not a KKT point of the distance is then polished to one
  (boundary projections from ``x``, SLSQP restarts; never farther from ``x``).
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
validity, a class change when stepping just across the boundary, the KKT residual: see
``FlipResult.kkt_residual`` and :func:`captum_ext.flip_points._domain._stationarity`, which
also covers kinks of ReLU networks) and is labelled ``"exact"``, ``"approximate"``, ``"infeasible"`` or ``"failed"``; an
unverified point is never reported as a flip point.
"""

from __future__ import annotations

import copy
import functools
import numbers
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from captum.attr import Attribution
from threadpoolctl import threadpool_limits

from shap_debug.core import (
    check_columns,
    check_float,
    check_int,
    check_option,
    check_random_state,
    is_tree_model,
    search_model,
    warn,
)

from ..bridge import SklearnForward, TorchClassifier
from ._domain import _boundary_class, _dist, _Domain, _vector, _verify
from ._result import FlipResult
from ._scorers import _FDScorer, _Scorer, _SequentialScorer, mlp_to_torch
from ._solvers import _solve
from ._trees import _tree_exact, _tree_search

__all__ = ["FlipPoints"]

_SINGLE_TREE = {"DecisionTreeClassifier", "ExtraTreeClassifier"}
_ENSEMBLES = {
    "RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier",
    "HistGradientBoostingClassifier", "XGBClassifier", "LGBMClassifier", "CatBoostClassifier",
}


def _slice_args(afa: Any, rows: Any, n: int) -> Any:
    """``additional_forward_args`` for ``rows`` (an int or an index array; batch-first
    arrays and tensors sliced, the rest passed as they are)."""
    if afa is None:
        return None
    idx = np.atleast_1d(np.asarray(rows, dtype=int))

    def one(a):
        if isinstance(a, torch.Tensor) and a.ndim and a.shape[0] == n:
            return a[torch.as_tensor(idx)]
        if isinstance(a, np.ndarray) and a.ndim and a.shape[0] == n:
            return a[idx]
        return a

    return tuple(one(a) for a in afa) if isinstance(afa, tuple) else one(afa)


def _merge(parts: list, outs: list, n: int) -> dict:
    """Per-row result dicts of disjoint row subsets put back in row order."""
    merged = {}
    for key in outs[0]:
        first = np.asarray(outs[0][key])
        arr = np.empty((n,) + first.shape[1:], dtype=first.dtype if first.dtype.kind != "U"
                       else object)
        for rows_, o in zip(parts, outs):
            arr[rows_] = np.asarray(o[key])
        merged[key] = arr.astype(str) if first.dtype.kind == "U" else arr
    return merged


def _captum_method(fn):
    """Mark ``fn`` the way Captum's ``log_usage`` does (``__wrapped__``), which its
    ``NoiseTunnel`` calls to run the inner method."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        return fn(*args, **kwargs)

    return inner


# --------------------------------------------------------------------------- front door
class FlipPoints(Attribution):
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
        Attribution.__init__(self, forward_func)
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
            inner = search_model(est)
            if name in _SINGLE_TREE:
                self.kind = "tree-exact"
            elif (name in _ENSEMBLES or type(inner).__name__ in _ENSEMBLES
                  or type(inner).__name__ in _SINGLE_TREE or is_tree_model(inner)):
                # also behind a Pipeline or shap-debug's adapters (core.frames.CodedModel,
                # io's LightGBM/XGBoost/CatBoost native boosters): piecewise-constant scores,
                # which finite differences cannot follow
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

    def _targets(self, target, z: np.ndarray, strict: bool = True, name: str = "flip_to"):
        """``(c, t)``: predicted classes and the classes to flip to (None: any other).
        ``strict``: a class equal to the prediction is an error (``flip_to``); otherwise
        (Captum's ``target``) such rows get -1, meaning "away from it, to the closest other
        class"."""
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
                raise ValueError(f"{name} must be an int class index or one per row ({n}); got "
                                 f"{np.asarray(target).dtype} of length {len(t)}")
            t = t.astype(int)
        if ((t < 0) | (t >= K)).any():
            raise ValueError(f"{name} must be a class index in [0, {K}); got "
                             f"{t[(t < 0) | (t >= K)][:5].tolist()}")
        same = np.flatnonzero(t == c)
        if len(same) and strict:
            raise ValueError(
                f"{name} equals the predicted class for rows {same[:10].tolist()}: a flip point "
                "moves a row to another class (flip_to=None picks the closest other class; "
                "Captum's target=<predicted class> flips away from it)")
        if not strict:
            t = np.where(t == c, -1, t)
            if (t == -1).all():
                return c, None
        return c, t

    # ----------------------------------------------------------------- public
    def find(self, inputs: Any, target: Any = None, additional_forward_args: Any = None, *,
             features: Any = None, bounds: Any = None, integer: Any = None,
             onehot_groups: Any = None, immutable: Any = None, weights: Any = None,
             method: str = "slsqp", polish: bool = True, distance: str = "l2",
             flip_to: Any = None) -> FlipResult:
        """Closest flip point of every input.

        Parameters
        ----------
        inputs : tensor, tuple of tensors, ndarray or DataFrame, batch first
        target : int, sequence of int or None
            Captum's meaning: the class (score column) whose output is attributed, per row or
            for all. The flip point lies on the boundary of that class's decision region:
            where it is the predicted class, the closest point of any other class (as
            ``None``); elsewhere, the closest point where it becomes the top class (as
            ``flip_to``). A target equal to the prediction used to be an error; every call
            that worked before gives the same answer now.
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
        polish : bool
            Gradient paths: move every verified answer that is not a KKT point (see
            ``FlipResult.stationary``) to one, never farther from the input (boundary
            projections from the input, then SLSQP restarts; only those rows pay for it).
            ``False`` returns the solver's answers as they are.
        distance : {"l2", "l1"}
            ``"l2"``: the weighted Euclidean distance above. ``"l1"``: ``sum_j w_j |x̂_j -
            x_j|``, which favours sparse changes (few features move). Single trees solve it
            exactly; the other paths start from the L2 flip point and reweight the L2
            problem with ``w_j / (|x̂_j - x_j| + eps)`` until the L1 distance stops falling
            (iteratively reweighted least squares, a local answer: status
            ``"approximate"``).
        flip_to : int, sequence of int or None
            The class to flip to, per row or for all (equal to the prediction is an error).
            Give ``target`` or ``flip_to``, not both.

        Returns
        -------
        FlipResult
        """
        method = check_option(method, "method", ["slsqp", "projection"])
        distance = check_option(distance, "distance", ["l2", "l1"])
        if flip_to is not None and target is not None:
            raise ValueError("give target (Captum's meaning) or flip_to, not both")
        X, shapes, _, _ = self._flatten(inputs)
        n, m = X.shape
        names = self.feature_names or [f"Feature {j}" for j in range(m)]
        if len(names) != m:
            raise ValueError(f"feature_names has {len(names)} names but inputs have {m} features")
        if self.data is not None and self.data.shape[1] != m:
            raise ValueError(f"data has {self.data.shape[1]} features but inputs have {m}")
        dom = self._domain(X, names, features, bounds, integer, onehot_groups, immutable, weights)
        dom.norm = distance
        scorer = self._make_scorer(shapes, additional_forward_args, n)
        rows = np.arange(n)
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with threadpool_limits(limits=1), torch.enable_grad():  # also under no_grad
                z0 = scorer.scores(X, rows)
                if flip_to is not None:
                    c, t = self._targets(flip_to, z0, strict=True, name="flip_to")
                else:
                    c, t = self._targets(target, z0, strict=False, name="target")
                if t is not None and (t == -1).any():
                    # Captum's target = the predicted class on some rows: those flip away from
                    # it (to any other class), the others to their target; solved apart
                    away = np.flatnonzero(t == -1)
                    to = np.flatnonzero(t != -1)
                    parts = [(rows_, tt) for rows_, tt in ((away, None), (to, t[to]))]
                    outs = []
                    for rows_, tt in parts:
                        sub_scorer = self._make_scorer(
                            shapes, _slice_args(additional_forward_args, rows_, n), len(rows_))
                        sub_dom = _Domain(dom.free, dom.lo, dom.hi, dom.integer, dom.groups,
                                          dom.w, dom.in_group, dom.norm)
                        outs.append(self._run(sub_scorer, shapes,
                                              _slice_args(additional_forward_args, rows_, n),
                                              X[rows_], c[rows_], tt, sub_dom, method, polish,
                                              distance))
                    out = _merge([p[0] for p in parts], outs, n)
                else:
                    out = self._run(scorer, shapes, additional_forward_args, X, c, t, dom,
                                    method, polish, distance)
        finally:
            torch.set_num_threads(torch_threads)
        return FlipResult(x=X, feature_names=names, method=self.kind, weights=dom.w,
                          input_shapes=shapes, distance_kind=distance, **out)

    def _run(self, scorer, shapes, afa, X, c, t, dom: _Domain, method: str, polish: bool,
             distance: str) -> dict:
        """The solver of this model's kind on a batch, then the boundary check."""
        if self.kind == "tree-exact":
            out = _tree_exact(self._estimator, scorer, X, c, t, dom, scorer.scores(
                X[:1], np.array([0])).shape[1])
        elif self.kind == "tree-search":
            out = _tree_search(self._estimator, scorer, X, c, t, dom, self.data,
                               check_random_state(self.random_state), self.progress)
        else:
            out = _solve(scorer, X, c, t, dom, self, method, polish=bool(polish))
            if distance == "l1":
                out = self._reweighted_l1(shapes, afa, X, c, t, dom, method, out)
        return self._check_boundary(scorer, X, c, out)

    def _reweighted_l1(self, shapes, afa, X, c, t, dom: _Domain, method: str, out: dict,
                       n_iter: int = 30) -> dict:
        """The L1 distance on the gradient paths: per row, re-solve the weighted L2 problem
        with weights ``w / (|x̂ - x| + eps)`` from the last answer (IRLS), keep the verified
        point with the smallest L1 distance."""
        n = len(X)
        x_hat = out["x_hat"].copy()
        ok = np.isin(out["status"], ("exact", "approximate"))
        status = out["status"].astype(object)
        message = out["message"].astype(object)
        target = np.asarray(out["target_class"]).copy()
        solver = np.asarray(out.get("solver", np.array(["none"] * n))).astype(object)
        seconds = out["seconds"].copy()
        for i in np.flatnonzero(ok):
            tic = time.perf_counter()
            one = self._make_scorer(shapes, _slice_args(afa, i, n), 1)
            best, best_d = x_hat[i], float((dom.w * np.abs(x_hat[i] - X[i])).sum())
            for _ in range(n_iter):
                step = np.abs(best - X[i])
                eps = 1e-6 + 1e-4 * step[dom.cont].max(initial=0.0)
                dom_i = _Domain(dom.free, dom.lo, dom.hi, dom.integer, dom.groups,
                                dom.w / (step + eps), dom.in_group)
                o = _solve(one, X[i:i + 1], c[i:i + 1], None if t is None else t[i:i + 1],
                           dom_i, self, method, polish=False)
                if o["status"][0] not in ("exact", "approximate"):
                    break
                d = float((dom.w * np.abs(o["x_hat"][0] - X[i])).sum())
                if d >= best_d * (1 - 1e-12):
                    break
                best, best_d = o["x_hat"][0], d
                target[i] = o["target_class"][0]
            # prune: hold the features that barely move at x and re-solve on the rest
            step = np.abs(best - X[i])
            keep = dom.cont & (step > 1e-3 * step[dom.cont].max(initial=0.0))
            if (dom.cont & ~keep).any() and keep.any():
                dom_p = _Domain(dom.free & (keep | dom.in_group), dom.lo, dom.hi, dom.integer,
                                dom.groups, dom.w / (step + 1e-9), dom.in_group)
                o = _solve(one, X[i:i + 1], c[i:i + 1], None if t is None else t[i:i + 1],
                           dom_p, self, method, polish=False)
                if o["status"][0] in ("exact", "approximate"):
                    d = float((dom.w * np.abs(o["x_hat"][0] - X[i])).sum())
                    if d <= best_d * (1 + 1e-9):
                        best, best_d = o["x_hat"][0], d
                        target[i] = o["target_class"][0]
            x_hat[i] = best
            status[i] = "approximate"
            message[i] = "L1 distance by reweighted L2 (a local answer); " + str(message[i])
            solver[i] = "reweighted l2"
            seconds[i] += time.perf_counter() - tic
        nan = np.full(n, np.nan)
        return {**out, "x_hat": x_hat,
                "distance": np.where(ok, (dom.w * np.abs(np.nan_to_num(x_hat) - X)).sum(1),
                                     np.nan),
                "status": status.astype(str), "message": message.astype(str),
                "target_class": target, "solver": solver.astype(str), "seconds": seconds,
                "stationarity": nan, "kkt_residual": nan.copy(),
                "stationary": np.zeros(n, dtype=bool)}

    @staticmethod
    def _check_boundary(scorer, X, c, out: dict) -> dict:
        """Say so when a point of the target class sits on its boundary with a third class
        rather than with the input's class (possible with three or more classes)."""
        ok = np.isin(out["status"], ("exact", "approximate"))
        t = np.asarray(out["target_class"])
        bc = _boundary_class(scorer, X, np.nan_to_num(out["x_hat"]), c, t, ok)
        other = ok & (bc != c)
        if other.any():
            status = out["status"].astype(object)
            message = out["message"].astype(object)
            for i in np.flatnonzero(other):
                status[i] = "approximate"
                message[i] = (f"on the boundary between class {int(t[i])} and class "
                              f"{int(bc[i])}, not the input's class {int(c[i])}; "
                              + str(message[i]))
            out = {**out, "status": status.astype(str), "message": message.astype(str),
                   "stationary": out["stationary"] & ~other}
        return {**out, "boundary_class": bc}

    @_captum_method
    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  **kwargs: Any):
        """Flip directions ``x̂ - x`` in the inputs' structure (NaN rows where none).

        Captum's signature: ``target`` is the class whose output is attributed (the boundary
        of its decision region: away from it where it is the predicted class, to it
        elsewhere; None: the predicted class); ``flip_to=`` (keyword) names the class to
        flip to instead. The other keywords are those of :meth:`find`. Returns a tensor (or
        tuple of tensors) shaped like ``inputs`` when they were tensors, else an ndarray, so
        Captum's wrappers work: ``NoiseTunnel(FlipPoints(net)).attribute(x, nt_samples=8,
        stdevs=0.1, target=pred)`` averages the flip directions of noisy copies.
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
        fail a check get status ``"failed"`` with the reason in ``message``; valid ones get
        their ``kkt_residual`` and ``stationary`` flag (a verified tie that is a KKT point is
        ``"exact"``). Nothing is polished here.
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
        c, t = self._targets(target, z0, strict=True, name="target")
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
            stationarity=v["stationarity"], kkt_residual=v["kkt_residual"],
            stationary=v["stationary"], message=v["message"], seconds=np.zeros(n),
            feature_names=names, method=self.kind, weights=dom.w, input_shapes=shapes)
