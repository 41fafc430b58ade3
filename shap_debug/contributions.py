"""Contributions: the space every debugging tool here works in.

:func:`explain` returns a real ``shap.Explanation`` of a classifier's predicted
probabilities (exact TreeSHAP / linear SHAP where they apply, otherwise our fast
model-agnostic Shapley estimator), and :func:`contribution_matrix` keeps, for each row, the
contributions towards the class the model predicted (Rasouli & Yu, "Explainable Debugger
for Black-box Machine Learning Models", keep ``phi[predicted class]``).

The estimator
-------------
The target is interventional Shapley values with a background set ``B``:
``phi_j(x) = mean_b phi_j(x; b)`` where ``phi(x; b)`` are the Shapley values of the game
``v_b(S) = f(x_S, b_rest)`` (what ``shap.TreeExplainer(feature_perturbation=
"interventional")`` computes exactly for trees). We estimate every ``phi(x; b)`` for *every*
background row (stratified, no background-sampling variance) with antithetic permutation
walks (Mitchell et al. 2022, "Sampling permutations for Shapley value estimation"): a random
order and its reverse. A pair is exact for games without interactions of order > 2, which
covers most of what tabular models do. Features where ``x_j == b_j`` are null players of
``v_b``: they are put last and never evaluated, so the model is only called on rows that
differ from both ends of the walk. All rows of a chunk are evaluated in one
``predict_proba`` call. Efficiency holds exactly: ``sum_j phi_j = f(x) - mean_b f(b)``.

The measured notes (``shared/notes/contributions.md``) and ``benchmarks/contributions.py``
compare this with ``shap.PermutationExplainer``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shap
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from ._models import (
    classes_of,
    is_linear_model,
    is_torch_module,
    is_tree_model,
    predict_proba_fn,
)
from ._validation import (
    check_frame_or_array,
    check_int,
    check_option,
    check_random_state,
    feature_names_of,
    warn,
)

__all__ = ["explain", "contribution_matrix", "check_explanation"]


# --------------------------------------------------------------------------- encoding
class _Codec:
    """Numeric view of a (possibly mixed-type) frame, and the way back for the model."""

    def __init__(self, X: pd.DataFrame | np.ndarray, background: pd.DataFrame | np.ndarray):
        self.frame = isinstance(X, pd.DataFrame)
        if not self.frame:
            self.columns = None
            self.Z = np.asarray(X, dtype=np.float64)
            self.B = np.asarray(background, dtype=np.float64)
            return
        if not isinstance(background, pd.DataFrame) or list(background.columns) != list(
                X.columns):
            raise ValueError("background must be a DataFrame with the same columns as X")
        self.columns = list(X.columns)
        self.decoders: list[Any] = []
        zs, bs = [], []
        for col in self.columns:
            sx, sb = X[col], background[col]
            if pd.api.types.is_numeric_dtype(sx) and not pd.api.types.is_bool_dtype(sx):
                zs.append(sx.to_numpy(dtype=np.float64))
                bs.append(sb.to_numpy(dtype=np.float64))
                self.decoders.append(("num", sx.dtype))
            elif isinstance(sx.dtype, pd.CategoricalDtype) and sx.dtype == sb.dtype:
                zs.append(sx.cat.codes.to_numpy(dtype=np.float64))
                bs.append(sb.cat.codes.to_numpy(dtype=np.float64))
                self.decoders.append(("cat", sx.dtype))
            else:
                uniques = pd.Index(pd.concat([sx, sb], ignore_index=True).unique())
                zs.append(uniques.get_indexer(sx).astype(np.float64))
                bs.append(uniques.get_indexer(sb).astype(np.float64))
                self.decoders.append(("obj", (uniques, sx.dtype)))
        self.Z = np.column_stack(zs)
        self.B = np.column_stack(bs)

    def decode(self, Z: np.ndarray) -> pd.DataFrame | np.ndarray:
        if not self.frame:
            return Z
        data = {}
        for j, (col, (kind, info)) in enumerate(zip(self.columns, self.decoders)):
            if kind == "num":
                data[col] = Z[:, j].astype(info, copy=False)
            elif kind == "cat":
                data[col] = pd.Categorical.from_codes(Z[:, j].astype(np.int64), dtype=info)
            else:
                uniques, dtype = info
                data[col] = pd.Series(uniques.take(Z[:, j].astype(np.int64)), dtype=dtype)
        return pd.DataFrame(data, columns=self.columns)


# --------------------------------------------------------------------------- estimator
def _walk_chunk(f, Z, B, fB, n_perm, seed):
    """Antithetic permutation walks of rows ``Z`` against every background row ``B``.

    Returns (phi, fx): phi of shape (c, d, K).
    """
    rng = np.random.default_rng(seed)
    c, d = Z.shape
    nb = len(B)
    K = fB.shape[1]
    fx = f(Z)                                                   # (c, K)
    diff = Z[:, None, :] != B[None, :, :]                       # (c, nb, d)
    nd = diff.sum(-1)                                           # (c, nb)
    # random order of the differing features first; equal (null) features last
    keys = rng.random((c, nb, n_perm, d)) + (~diff)[:, :, None, :] * 2.0
    order = np.argsort(keys, axis=-1)
    rank = np.argsort(order, axis=-1)                           # position of each feature
    # state s (0..d) = number of differing features set to x; s=0 -> f(b), s>=nd -> f(x)
    # needed evaluations: s = 1..nd-1, for forward (w=0) and reverse (w=1) walks
    steps = np.arange(1, d)
    need = steps[None, None, :] < nd[:, :, None]                # (c, nb, d-1)
    ii, bb, kk = np.nonzero(need)
    V = np.empty((c, nb, n_perm, 2, d + 1, K))
    V[...] = fx[:, None, None, None, None, :]                  # s >= nd: the row is x
    V[:, :, :, :, 0, :] = fB[None, :, None, None, :]           # s = 0: the row is b
    if len(ii):
        s = steps[kk]                                           # number of features set
        E = len(ii)
        zb, zx = B[bb], Z[ii]
        ndd = (nd[ii, bb] - s)[:, None]
        rows = np.empty((2 * E, d))
        for p in range(n_perm):
            r = rank[ii, bb, p]                                 # (E, d)
            rows[:E] = zb
            rows[E:] = zb
            np.copyto(rows[:E], zx, where=r < s[:, None])       # first s features of the order
            np.copyto(rows[E:], zx, where=r >= ndd)             # last s differing features
            out = f(rows)
            V[ii, bb, p, 0, s] = out[:E]
            V[ii, bb, p, 1, s] = out[E:]
    # step differences; feature j moves at forward step rank_j and reverse step nd-1-rank_j
    D = np.diff(V, axis=4)                                      # (c, nb, P, 2, d, K)
    rk = rank[..., None]                                        # (c, nb, P, d, 1)
    rrev = np.clip(nd[:, :, None, None, None] - 1 - rk, 0, d - 1)
    marg = (np.take_along_axis(D[:, :, :, 0], rk, axis=3)
            + np.take_along_axis(D[:, :, :, 1], rrev, axis=3))
    marg *= diff[:, :, None, :, None]                           # null players contribute 0
    phi = marg.mean(axis=(1, 2)) / 2.0                          # (c, d, K)
    return phi, fx


def _sampling_values(f, Z, B, n_perm, rng, n_jobs, batch_rows, progress):
    n, d = Z.shape
    fB = f(B)
    # rows per chunk so that one chunk asks the model for about batch_rows rows
    per_row = max(1, 2 * n_perm * len(B) * max(d - 1, 1))
    chunk = int(np.clip(batch_rows // per_row, 1, n))
    starts = list(range(0, n, chunk))
    seeds = rng.integers(0, 2**63 - 1, size=len(starts))
    jobs = (delayed(_walk_chunk)(f, Z[s:s + chunk], B, fB, n_perm, sd)
            for s, sd in zip(starts, seeds))
    bar = tqdm(total=n, desc="contributions", unit="row", disable=not progress)
    phis, fxs = [], []
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    for phi, fx in runner(jobs):
        phis.append(phi)
        fxs.append(fx)
        bar.update(len(phi))
    bar.close()
    return np.concatenate(phis), np.broadcast_to(fB.mean(0), (n, fB.shape[1])).copy()


# --------------------------------------------------------------------------- exact paths
@contextlib.contextmanager
def _quiet_c_output(quiet: bool):
    """Silence a C extension's progress bar (shap's TreeSHAP prints one on large inputs)."""
    if not quiet:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _tree_values(model, Xa, B, progress):
    te = shap.TreeExplainer(model, data=B, feature_perturbation="interventional",
                            model_output="probability")
    with _quiet_c_output(not progress):
        vals = np.asarray(te.shap_values(Xa, check_additivity=False))
    base = np.atleast_1d(np.asarray(te.expected_value, dtype=np.float64))
    n, m = Xa.shape
    if vals.ndim == 2:  # single output: the positive class of a binary model
        vals = np.stack([-vals, vals], axis=2)
        base = np.array([1.0 - base[0], base[0]])
    elif vals.shape[0] != n:  # older shap: list over classes
        vals = np.moveaxis(vals, 0, 2)
    return vals, np.broadcast_to(base, (n, vals.shape[2])).copy()


def _linear_values(model, Xa, B):
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    mu = B.mean(0)
    if coef.shape[0] == 1:  # binary: one margin for class 1, its negative for class 0
        coef = np.vstack([-coef, coef])
        intercept = np.array([-intercept[0], intercept[0]])
    vals = (Xa - mu)[:, :, None] * coef.T[None, :, :]
    base = intercept + coef @ mu
    return vals, np.broadcast_to(base, (len(Xa), len(base))).copy()


def explain(
    model: Any,
    X: pd.DataFrame | np.ndarray,
    background: pd.DataFrame | np.ndarray | None = None,
    *,
    method: str = "auto",
    n_background: int = 100,
    n_permutations: int = 1,
    feature_names: Sequence[str] | None = None,
    random_state: int | np.random.Generator | None = 0,
    n_jobs: int = 1,
    batch_rows: int = 1_000_000,
    progress: bool = True,
) -> shap.Explanation:
    """Explain a classifier's predicted probabilities for every row of ``X``.

    Parameters
    ----------
    model : classifier
        Anything with ``predict_proba`` (scikit-learn estimators and Pipelines, models that
        take a DataFrame with string/categorical columns) or a torch module (softmax of its
        logits).
    X : DataFrame or ndarray of shape (n, m)
        Rows to explain. Categorical/string columns get one contribution each (per raw
        column, not per one-hot level).
    background : DataFrame or ndarray, optional
        Rows that stand in for "feature unknown". Default: ``n_background`` rows drawn from
        ``X`` with ``random_state``.
    method : {"auto", "sampling", "tree", "linear"}
        ``"tree"``: exact interventional TreeSHAP (``shap.TreeExplainer``, probability
        output). ``"linear"``: exact linear SHAP of the decision function, in **log-odds**
        units (``model_output="raw"``), for models with ``coef_``. ``"sampling"``: our
        model-agnostic estimator (see the module docstring). ``"auto"``: tree for
        supported tree models on numeric data, linear for linear models on numeric data,
        sampling otherwise.
    n_background : int
        Background size when ``background`` is None.
    n_permutations : int
        Antithetic permutation pairs per (row, background row). 1 is usually enough.
    random_state : int, Generator or None
        Seeds the background draw and the permutations.
    n_jobs : int
        Parallel chunks (joblib; runs on a Dask cluster under
        ``joblib.parallel_backend("dask")``).
    batch_rows : int
        About how many model rows one chunk evaluates at once (bounds memory: roughly
        ``batch_rows * m * 8`` bytes plus the model's own).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    shap.Explanation
        ``values`` of shape (n, m, n_classes), ``base_values`` (n, n_classes) with
        ``values.sum(1) + base_values == predict_proba(X)`` for the sampling and tree
        methods, numeric ``data``, readable ``display_data``, ``feature_names``, and
        ``output_names`` (the model's classes).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, enc = encode(X)
    >>> lr = LogisticRegression(max_iter=1000).fit(Z[:200], y[:200])
    >>> exp = explain(lr, Z[:5], Z[:50], method="sampling", progress=False)
    >>> exp.values.shape
    (5, 20, 2)
    """
    Xv = check_frame_or_array(X, "X")
    check_option(method, "method", ["auto", "sampling", "tree", "linear"])
    n_background = check_int(n_background, "n_background", low=1)
    n_permutations = check_int(n_permutations, "n_permutations", low=1)
    check_int(batch_rows, "batch_rows", low=1)
    names = feature_names_of(Xv, feature_names)
    f = predict_proba_fn(model)
    rng = check_random_state(random_state)
    if background is None:
        take = rng.choice(len(Xv), size=min(n_background, len(Xv)), replace=False)
        Bv = Xv.iloc[np.sort(take)] if isinstance(Xv, pd.DataFrame) else Xv[np.sort(take)]
    else:
        Bv = check_frame_or_array(background, "background")
        if Bv.shape[1] != Xv.shape[1]:
            raise ValueError(
                f"background has {Bv.shape[1]} columns but X has {Xv.shape[1]}")
    codec = _Codec(Xv, Bv)
    numeric = not codec.frame or all(k == "num" for k, _ in codec.decoders)
    if method == "auto":
        if numeric and is_tree_model(model):
            method = "tree"
        elif numeric and is_linear_model(model) and not is_torch_module(model):
            method = "linear"
        else:
            method = "sampling"
    if method in ("tree", "linear") and not numeric:
        raise ValueError(f"method={method!r} needs numeric X; use method='sampling'")

    vals = base = None
    if method == "tree":
        try:
            vals, base = _tree_values(model, codec.decode(codec.Z), codec.decode(codec.B),
                                       progress)
        except Exception as exc:  # unsupported tree model/output: fall back honestly
            warn(f"TreeExplainer failed ({exc}); using the sampling estimator instead")
            method = "sampling"
    elif method == "linear":
        if not is_linear_model(model):
            raise TypeError(f"method='linear' needs coef_/intercept_; {type(model).__name__} has none")
        vals, base = _linear_values(model, codec.Z, codec.B)
    if method == "sampling":

        def fz(Zrows):
            return f(codec.decode(Zrows))

        vals, base = _sampling_values(
            fz, codec.Z, codec.B, n_permutations, rng, n_jobs, batch_rows, progress)

    display = (Xv.astype(str).to_numpy(dtype=object) if isinstance(Xv, pd.DataFrame)
               else None)
    try:
        classes = [str(c) for c in classes_of(model, vals.shape[2])]
    except TypeError:
        classes = [str(k) for k in range(vals.shape[2])]
    return shap.Explanation(
        values=vals,
        base_values=base,
        data=codec.Z.copy(),
        display_data=display,
        feature_names=names,
        output_names=classes,
    )


# --------------------------------------------------------------------------- selection
def _as_values(contributions: Any) -> np.ndarray:
    if isinstance(contributions, shap.Explanation):
        return np.asarray(contributions.values, dtype=np.float64)
    if isinstance(contributions, tuple):  # Captum: one tensor per input
        parts = [_as_values(t) for t in contributions]
        return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)
    if hasattr(contributions, "detach"):
        return contributions.detach().cpu().double().numpy()
    arr = np.asarray(contributions)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(
            "contributions must be a shap.Explanation, a numeric array or a Captum tensor "
            f"(or tuple of tensors); got {type(contributions).__name__}")
    return arr.astype(np.float64)


def contribution_matrix(
    contributions: Any,
    predicted: Any,
    *,
    single_output: str = "positive",
) -> np.ndarray:
    """Contributions of each row towards the class the model predicted for it.

    Parameters
    ----------
    contributions : shap.Explanation, ndarray, torch tensor or tuple of tensors
        3-D ``(n, m, n_classes)``: column ``predicted[i]`` is kept for row ``i``.
        2-D ``(n, m)``: a single-output explanation. With ``single_output="positive"``
        (shap's convention for binary models: values push towards class 1) rows predicted
        as class 0 get the negated values, so every row's vector points towards its own
        prediction. With ``single_output="predicted"`` the values are taken as they are
        (e.g. Captum attributions computed with ``target=predicted``). A tuple of Captum
        tensors is flattened per input and concatenated.
    predicted : array-like of int, shape (n,)
        Predicted class of each row as a **column index** of the model's output
        (``predict_proba(X).argmax(1)``).
    single_output : {"positive", "predicted"}

    Returns
    -------
    ndarray of shape (n, m)

    Examples
    --------
    >>> import numpy as np
    >>> vals = np.array([[[0.1, -0.1]], [[-0.2, 0.2]]])   # 2 rows, 1 feature, 2 classes
    >>> contribution_matrix(vals, [1, 0])
    array([[-0.1],
           [-0.2]])
    """
    check_option(single_output, "single_output", ["positive", "predicted"])
    vals = _as_values(contributions)
    pred = np.asarray(predicted)
    if pred.ndim != 1 or len(pred) != len(vals):
        raise ValueError(
            f"predicted must be 1-D with one entry per row ({len(vals)}); got shape {pred.shape}")
    if not np.issubdtype(pred.dtype, np.integer):
        if np.issubdtype(pred.dtype, np.floating) and np.all(pred == np.round(pred)):
            pred = pred.astype(np.int64)
        else:
            raise TypeError(f"predicted must hold integer class indices; got dtype {pred.dtype}")
    if not np.isfinite(vals).all():
        raise ValueError("contributions contain NaN or infinite values")
    if vals.ndim == 3:
        k = vals.shape[2]
        if pred.min() < 0 or pred.max() >= k:
            raise ValueError(f"predicted holds class indices outside [0, {k})")
        return np.take_along_axis(vals, pred[:, None, None], axis=2)[:, :, 0]
    if vals.ndim == 2:
        if single_output == "predicted":
            return vals.copy()
        if not np.isin(pred, [0, 1]).all():
            raise ValueError("a 2-D (single-output) explanation needs binary predicted in {0, 1}")
        return vals * np.where(pred == 1, 1.0, -1.0)[:, None]
    raise ValueError(f"contributions must be 2-D or 3-D; got shape {vals.shape}")


def check_explanation(contributions: Any, X: Any, name: str = "explanation") -> None:
    """Raise if ``contributions`` does not have one row per row and one column per feature of X."""
    vals = _as_values(contributions)
    if vals.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D or 3-D; got shape {vals.shape}")
    if vals.shape[0] != X.shape[0] or vals.shape[1] != X.shape[1]:
        raise ValueError(
            f"{name} has shape {vals.shape[:2]} (rows, features) but X has {X.shape[:2]}")
