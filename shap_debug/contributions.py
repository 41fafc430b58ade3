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
order and its reverse, exact for games without interactions of order > 2.

- **Null players.** Features where ``x_j == b_j`` are null players of ``v_b``: they are put
  last and never evaluated.
- **Rotation groups.** Pairs come in couples; the second pair walks the first's order
  rotated by half of the differing features, so every feature is seen early and late
  (positions stratified within the couple, like Castro et al. 2017's stratification by
  position). 1.6x less variance than two independent pairs on Adult, and no other second
  order changes the middle of more three-way interactions (the part a pair gets wrong; see
  ``docs/contributions.md``). An odd number of pairs starts with a triple rotated by thirds.
- **Shared rows.** One base order per background row serves every explained row, so rows
  that agree on a walk's first features produce the same model input. Equal walk rows are
  found by exact packed keys (or 64-bit Zobrist hashes checked by a second hash) and sent to
  the model once: on Adult 45 % of the walk steps are distinct. Results do not depend on
  chunking or ``n_jobs``.
- **Control variate** (optional). The surrogate ``g_b(S) = sigmoid(logit f(b) + sum_S a_j)``
  with ``a_j`` the pairs' log-odds effects has Shapley values we enumerate exactly; the
  estimate is corrected by ``beta * (pairs' estimate of g - exact g)`` with ``beta`` fitted
  on pair-to-pair differences (so exact pairwise games stay exact). It halves the variance
  for models that are near-additive in log-odds.

All distinct rows of a chunk go to the model in one ``predict_proba`` call. Efficiency holds
exactly: ``sum_j phi_j = f(x) - mean_b f(b)``.

The measured notes (``shared/notes/contributions.md``) and ``benchmarks/contributions.py``
compare this with ``shap.PermutationExplainer``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shap
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from .core.models import (
    classes_of,
    is_linear_model,
    is_torch_module,
    is_tree_model,
    predict_proba_fn,
    softmax,
)
from .core.validation import (
    check_explanation,
    check_frame_or_array,
    check_int,
    check_option,
    check_random_state,
    explanation_values,
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
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SALTS = (0x9E3779B97F4A7C15, 0x632BE59BD9B4E019)
_EXACT_SURROGATE_MAX = 10     # enumerate the surrogate's 2^k coalitions up to k active features
_PACKED_BITS = 63             # rows whose column numbers fit in this many bits get exact keys


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective scramble of 64-bit words."""
    z = z ^ (z >> np.uint64(30))
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    return z ^ (z >> np.uint64(31))


def _cell_keys(A: np.ndarray, salt: int) -> np.ndarray:
    """A random 64-bit key per (value, column); equal keys for equal values only."""
    bits = (np.ascontiguousarray(A, dtype=np.float64) + 0.0).view(np.uint64)  # -0.0 -> 0.0
    cols = _mix(np.arange(A.shape[1], dtype=np.uint64) + np.uint64(salt))
    return _mix(bits ^ cols)


@functools.cache
def _shapley_design(k: int) -> tuple[np.ndarray, np.ndarray]:
    """All 2^k coalitions (as 0/1 rows) and the weights that turn their values into Shapley
    values: ``phi = values @ W``."""
    masks = (np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1
    s = masks.sum(1)
    fact = np.array([math.factorial(i) for i in range(k + 1)], dtype=np.float64)
    w_in = np.where(s >= 1, fact[np.maximum(s - 1, 0)] * fact[k - s] / fact[k], 0.0)
    w_out = np.where(s < k, fact[s] * fact[np.maximum(k - s - 1, 0)] / fact[k], 0.0)
    W = np.where(masks == 1, w_in[:, None], -w_out[:, None])
    return masks.astype(np.float32), W.astype(np.float32)


def _rotation_groups(n_pairs: int) -> list[tuple[int, int, int]]:
    """(group, index in group, group size) of every pair: a rotation triple first when the
    number of pairs is odd (and at least 3), couples after."""
    sizes = [1] if n_pairs == 1 else ([3] if n_pairs % 2 else []) + [2] * (
        (n_pairs - 3) // 2 if n_pairs % 2 else n_pairs // 2)
    return [(g, k, size) for g, size in enumerate(sizes) for k in range(size)]


def _walk_positions(Z, B, base_rank, n_pairs):
    """Position of every feature in each walk: ``R`` of shape (c, nb, P, d).

    Features that differ between x and b take positions 0..nd-1 in the order of the
    background row's base permutation; the k-th pair of a rotation group of size G walks
    that order rotated by k*nd/G (positions stratified within the group). Equal features
    (null players) come after, where their steps change nothing.
    """
    c, d = Z.shape
    act = Z[:, None, :] != B[None, :, :]
    nd = act.sum(-1)
    R = np.empty((c, len(B), n_pairs, d), dtype=np.intp)
    ndc = np.maximum(nd, 1)[..., None]
    steps = np.arange(d)[None, None, :]
    for p, (g, k, size) in enumerate(_rotation_groups(n_pairs)):
        if k == 0:
            q = base_rank[None, :, g]
            order = np.argsort(np.where(act, q, d + q), axis=-1, kind="stable")
            pos = np.empty_like(order)
            np.put_along_axis(pos, order, np.broadcast_to(steps, order.shape), 2)
            R[:, :, p] = pos
        else:
            R[:, :, p] = np.where(act, (pos - (k * nd // size)[..., None]) % ndc, pos)
    return act, nd, R


def _prefix_keys(cx, cb, R, add):
    """Keys of every walk row, (2, c, nb, P, d+1), from per-cell keys ``cx`` (c, d) and
    ``cb`` (nb, d) combined by the group operation ``add`` (``np.add`` or
    ``np.bitwise_xor``).

    ``[0, ..., s]``: x on the features at positions < s, b elsewhere (the forward walk);
    ``[1, ..., s]``: b on the features at positions < s, x elsewhere (the reverse walk,
    read from its end).
    """
    sub = np.subtract if add is np.add else np.bitwise_xor      # the inverse operation
    delta = sub(cx[:, None, :], cb[None, :, :])
    kB, kX = add.reduce(cb, axis=1), add.reduce(cx, axis=1)
    F = np.zeros(R.shape[:3] + (R.shape[3] + 1,), dtype=delta.dtype)
    np.put_along_axis(F[..., 1:], R, np.broadcast_to(delta[:, :, None, :], R.shape), 3)
    add.accumulate(F, axis=3, out=F)
    return np.stack([add(F, kB[None, :, None, None]), sub(kX[:, None, None, None], F)])


def _walk_keys(Z, B, R, need):
    """Keys of the needed walk rows (equal exactly for equal rows), a second key to check
    them with, and a decoder from key back to row (both None when the first is exact).

    Each column's values are numbered; when the numbers of all columns fit side by side in
    63 bits, that packed integer is the key: exact, and it decodes back into the row.
    Otherwise rows get 64-bit Zobrist hashes under two independent salts.
    """
    c, d = Z.shape
    cx = np.empty((c, d), dtype=np.int64)
    cb = np.empty((len(B), d), dtype=np.int64)
    numbered = [pd.factorize(np.concatenate([Z[:, j], B[:, j]])) for j in range(d)]
    # the fewest-valued columns get the most significant bits: sorted keys then give the
    # model long runs of rows that agree on them (tree models predict ~1.35x faster)
    shift, columns = 0, {}
    for j in sorted(range(d), key=lambda j: -len(numbered[j][1])):
        codes, uniques = numbered[j]
        bits = max(int(len(uniques) - 1).bit_length(), 1)
        cx[:, j], cb[:, j] = codes[:c] << shift, codes[c:] << shift
        columns[j] = (shift, (1 << bits) - 1, np.asarray(uniques, dtype=np.float64))
        shift += bits
        if shift > _PACKED_BITS:
            break
    else:
        def decode(keys):
            rows = np.empty((len(keys), d))
            for j, (sh, mask, uniques) in columns.items():
                rows[:, j] = uniques[(keys >> sh) & mask]
            return rows

        return _prefix_keys(cx, cb, R, np.add)[:, need].ravel(), None, decode
    keys = [_prefix_keys(_cell_keys(Z, salt), _cell_keys(B, salt), R, np.bitwise_xor)[:, need]
            .ravel() for salt in _SALTS]
    return keys[0], keys[1], None


def _pair_margins(V, R):
    """Antithetic-pair marginal contributions: (c, nb, P, d, K) from walk values V of shape
    (2, c, nb, P, d+1, K)."""
    step = np.diff(V[0], axis=3) - np.diff(V[1], axis=3)   # forward step minus reverse step
    return np.take_along_axis(step, R[..., None], 3) / 2.0


def _link(p: np.ndarray, K: int) -> np.ndarray:
    """The surrogate's link: logit of one probability column, log of several."""
    q = np.clip(p, 1e-12, 1.0)
    if K == 1:
        return np.log(q) - np.log(np.clip(1.0 - p, 1e-12, 1.0))
    return np.log(q)


def _inverse_link(z: np.ndarray, axis: int = -1, one: bool = True) -> np.ndarray:
    """Sigmoid (one column) or softmax over ``axis`` (several), in place where possible."""
    if one:
        z = np.negative(z, out=z if z.flags.writeable else None)
        np.exp(z, out=z)
        z += 1.0
        return np.reciprocal(z, out=z)
    return softmax(z, axis=axis)


def _surrogate_shapley(c0, a, act, nd):
    """Exact Shapley values of ``g_b(S) = inverse_link(c0 + sum_{j in S} a_j)`` for every
    (x, b) with at most ``_EXACT_SURROGATE_MAX`` differing features, by enumerating the
    2^k coalitions (float32, efficiency restored in float64).

    Returns (c, nb, d, K) values and a (c, nb) mask of the pairs that have them.
    """
    c, nb, d, K = a.shape
    one = K == 1
    out = np.zeros((c, nb, d, K))
    done = nd == 0
    for k in range(1, min(d, _EXACT_SURROGATE_MAX) + 1):
        ii, bb = np.nonzero(nd == k)
        n = len(ii)
        if not n:
            continue
        M, W = _shapley_design(k)
        cols = np.nonzero(act[ii, bb])[1].reshape(n, k)
        A = a[ii[:, None], bb[:, None], cols]                         # (n, k, K)
        c0k = c0[ii, bb]                                             # (n, K)
        At = np.ascontiguousarray(A.transpose(0, 2, 1), dtype=np.float32).reshape(n * K, k)
        z = (At @ M.T).reshape(n, K, 2**k)
        z += c0k.astype(np.float32)[:, :, None]
        G = _inverse_link(z, axis=1, one=one).reshape(n * K, 2**k)
        ph = (G @ W).reshape(n, K, k).transpose(0, 2, 1).astype(np.float64)   # (n, k, K)
        tot = (_inverse_link(c0k + A.sum(1), one=one) - _inverse_link(c0k.copy(), one=one))
        ph += ((tot - ph.sum(1)) / k)[:, None, :]                   # exact efficiency
        out[ii[:, None], bb[:, None], cols] = ph
        done[ii, bb] = True
    return out, done


def _walk_values(vx, vb, inner, codes, need, shape):
    """Walk values (2, c, nb, P, d+1, K): forward walk from b to x in ``[0]``, the reverse
    walk read from its end (b on the first positions) in ``[1]``."""
    V = np.empty(shape)
    V[0] = vx[:, None, None, None, :]
    V[0, :, :, :, 0] = vb[None, :, None, :]
    V[1] = vb[None, :, None, None, :]
    V[1, :, :, :, 0] = vx[:, None, None, :]
    V[:, need] = inner[codes].reshape(2, -1, shape[-1])
    return V


def _walk_chunk(f, Z, B, fB, base_rank, n_pairs, control_variate):
    """Rotation-stratified antithetic walks of rows ``Z`` against every background row.

    Equal walk rows (common for categorical data: many rows share a prefix) are sent to
    the model once, found by packed exact keys (see :func:`_walk_keys`).
    Returns a dict: ``X`` (c, d, K) the plain estimate; with the control variate, ``Y``
    (c, d, K), its zero-mean correction, and the pair-difference sums ``sxy``/``syy`` that
    weigh it; ``fx`` (c, K); walk and model row counts.
    """
    c, d = Z.shape
    nb, K = fB.shape
    P = n_pairs
    act, nd, R = _walk_positions(Z, B, base_rank, P)
    s = np.arange(d + 1)
    need = np.repeat(((s >= 1) & (s < nd[..., None]))[:, :, None, :], P, axis=2)
    k0, k1, decode = _walk_keys(Z, B, R, need)
    E = len(k0) // 2
    codes, uniq = pd.factorize(k0, sort=decode is not None)
    if decode is not None:
        rows = decode(np.asarray(uniq))
    else:
        first = np.empty(len(uniq), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
        if not np.array_equal(k1[first][codes], k1):   # a 64-bit hash collision
            codes = np.arange(len(k0))
            first = codes
        # rebuild the distinct rows from one occurrence each
        w, flat = np.divmod(first, E)
        i, b, p, st = (ix[flat] for ix in np.nonzero(need))
        low = R[i, b, p] < st[:, None]
        rows = np.where(low == (w == 0)[:, None], np.take(Z, i, axis=0), np.take(B, b, axis=0))
    out = f(np.concatenate([Z, rows]))
    fx, out = out[:c], out[c:]
    shape = (2, c, nb, P, d + 1, K)
    V = _walk_values(fx, fB, out, codes, need, shape)
    X = _pair_margins(V, R)                                   # (c, nb, P, d, K)
    res = {"X": X.mean(axis=(1, 2)), "fx": fx, "walk_rows": 2 * E, "model_rows": len(rows) + c}
    if not control_variate:
        return res
    # control variate: g_b(S) = inverse_link(link f(b) + sum_{j in S} a_j), with a_j the
    # pairs' estimate of feature j's effect on the link scale; its Shapley values are exact
    one = K == 1
    L = _walk_values(_link(fx, K), _link(fB, K), _link(out, K), codes, need, shape)
    a = _pair_margins(L, R).mean(2)                           # (c, nb, d, K)
    c0 = L[0, :, :, 0, 0]                                     # link f(b): (c, nb, K)
    exact, done = _surrogate_shapley(c0, a, act, nd)
    A = np.zeros((c, nb, P, d + 1, K))
    np.put_along_axis(A[:, :, :, 1:], R[..., None], np.broadcast_to(a[:, :, None], R.shape + (K,)), 3)
    cs = np.cumsum(A, axis=3)                                 # link sum of positions < s
    base = c0[:, :, None, None, :]
    G = np.stack([_inverse_link(base + cs, axis=-1, one=one),
                  _inverse_link(base + cs[:, :, :, -1:] - cs, axis=-1, one=one)])
    Yp = _pair_margins(G, R)
    Yp -= exact[:, :, None]
    Yp *= done[:, :, None, None, None]
    Xd = X - X.mean(2, keepdims=True)                         # pair-to-pair differences
    Yd = Yp - Yp.mean(2, keepdims=True)
    res.update(Y=Yp.mean(axis=(1, 2)), sxy=float((Xd * Yd).sum()), syy=float((Yd * Yd).sum()))
    return res


def _sampling_values(f, Z, B, n_pairs, control_variate, rng, n_jobs, batch_rows, progress,
                     output="probability"):
    n, d = Z.shape
    nb = len(B)
    fB = f(B)
    K = fB.shape[1]
    if output == "log_odds":   # binary: the logit of class 1; class 0 is its negative
        binary = True
        g = lambda A: _link(f(A)[:, 1:], 1)          # noqa: E731
        fBg = _link(fB[:, 1:], 1)
        fB = np.column_stack([-fBg[:, 0], fBg[:, 0]])
    else:
        # binary probabilities: explain class 1 only, class 0 is its mirror image
        binary = K == 2 and np.allclose(fB.sum(1), 1.0, atol=1e-9)
        g = (lambda A: f(A)[:, 1:]) if binary else f
        fBg = fB[:, 1:] if binary else fB
    # one base permutation per background row and couple of pairs, shared by every
    # explained row: results do not depend on chunking, and equal walk rows are shared
    n_groups = _rotation_groups(n_pairs)[-1][0] + 1
    base_rank = np.argsort(rng.random((nb, n_groups, d)), axis=-1)
    per_row = max(1, 2 * n_pairs * nb * max(d - 1, 1))
    chunk = int(np.clip(batch_rows // per_row, 1, n))
    # similar rows in the same chunk share more walk rows: sort them, fewest-valued
    # columns first (on Adult: 9 % fewer model rows for 1,000 random rows)
    cards = [len(pd.unique(Z[:, j])) for j in range(d)]
    order = np.lexsort([Z[:, j] for j in sorted(range(d), key=lambda j: -cards[j])])
    Zs = Z[order]
    starts = list(range(0, n, chunk))
    jobs = (delayed(_walk_chunk)(g, Zs[s:s + chunk], B, fBg, base_rank, n_pairs,
                                 control_variate) for s in starts)
    bar = tqdm(total=n, desc="contributions", unit="row", disable=not progress)
    parts = []
    for res in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
        parts.append(res)
        bar.update(len(res["fx"]))
    bar.close()
    back = np.empty_like(order)
    back[order] = np.arange(n)
    vals = np.concatenate([r["X"] for r in parts])[back]
    if "Y" in parts[0]:
        syy = sum(r["syy"] for r in parts)
        beta = float(np.clip(sum(r["sxy"] for r in parts) / syy, 0.0, 1.0)) if syy > 0 else 0.0
        vals = vals - beta * np.concatenate([r["Y"] for r in parts])[back]
    if binary:
        vals = np.concatenate([-vals, vals], axis=2)
    base = np.broadcast_to(fB.mean(0), (n, K)).copy()
    return vals, base


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


def _tree_values(model, Xa, B, progress, raw=False):
    te = shap.TreeExplainer(model, data=B, feature_perturbation="interventional",
                            model_output="raw" if raw else "probability")
    with _quiet_c_output(not progress):
        vals = np.asarray(te.shap_values(Xa, check_additivity=False))
    base = np.atleast_1d(np.asarray(te.expected_value, dtype=np.float64))
    n, m = Xa.shape
    if vals.ndim == 2:  # single output: the positive class of a binary model
        vals = np.stack([-vals, vals], axis=2)
        base = np.array([-base[0] if raw else 1.0 - base[0], base[0]])
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
    n_permutations: int = 2,
    control_variate: bool = False,
    output: str = "probability",
    feature_names: Sequence[str] | None = None,
    random_state: int | np.random.Generator | None = 0,
    n_jobs: int = 1,
    batch_rows: int = 1_000_000,
    progress: bool = True,
) -> shap.Explanation:
    """Explain a classifier's predicted probabilities (or log-odds) for every row of ``X``.

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
        output, or the raw margin for ``output="log_odds"``). ``"linear"``: exact linear SHAP of the decision function, in **log-odds**
        units (``model_output="raw"``), for models with ``coef_``. ``"sampling"``: our
        model-agnostic estimator (see the module docstring). ``"auto"``: tree for
        supported tree models on numeric data, linear for linear models on numeric data,
        sampling otherwise.
    n_background : int
        Background size when ``background`` is None.
    n_permutations : int
        Antithetic permutation pairs per (row, background row). Pairs come in rotation
        groups: the second pair of a couple walks the first's order rotated by half of the
        differing features, which spreads every feature's position (1.6x less variance
        than an independent pair on Adult); an odd number starts with a triple (rotations
        by thirds, which also splits most three-way interactions evenly). The default 2 is
        one couple.
    control_variate : bool
        Correct the estimate with a surrogate whose Shapley values are known exactly: the
        model's own output with its link-scale effects made additive (logistic for binary,
        softmax for several classes). Its weight is fitted on pair-to-pair differences,
        so it needs ``n_permutations >= 2``; it falls to ~0 for a random forest, but on an
        MLP it cost 4 % accuracy. Worth it for models that are close to additive in
        log-odds (gradient boosting: 2x less variance on Adult; logistic regression:
        exact) at ~30 % more time.
    output : {"probability", "log_odds"}
        What to explain: ``predict_proba``, or (binary models) the log-odds
        ``log(p1 / p0)``, the scale on which TreeSHAP's raw output is exact.
    random_state : int, Generator or None
        Seeds the background draw and the permutations.
    n_jobs : int
        Parallel chunks (joblib; runs on a Dask cluster under
        ``joblib.parallel_backend("dask")``).
    batch_rows : int
        About how many walk steps one chunk takes. Bounds memory: about 100 bytes per
        step (135 with the control variate; 100 MB at the default), plus the model's own
        on the distinct rows (less than half as many on categorical data). Results do not
        depend on it.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    shap.Explanation
        ``values`` of shape (n, m, n_classes), ``base_values`` (n, n_classes) with
        ``values.sum(1) + base_values == predict_proba(X)`` (or its log-odds) for the
        sampling and tree methods, numeric ``data``, readable ``display_data``, ``feature_names``, and
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
    check_option(output, "output", ["probability", "log_odds"])
    if not isinstance(control_variate, (bool, np.bool_)):
        raise TypeError(f"control_variate must be a bool; got {type(control_variate).__name__}")
    if control_variate and output != "probability":
        raise ValueError("control_variate=True works on output='probability' only")
    if control_variate and n_permutations < 2:
        raise ValueError("control_variate=True needs n_permutations >= 2 (its weight is "
                         "fitted on pair-to-pair differences)")
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
    if output == "log_odds":
        k = f(codec.decode(codec.B[:1])).shape[1]
        if k != 2:
            raise ValueError(f"output='log_odds' needs a binary model; this one has {k} classes")
    # TreeSHAP's raw output is the log-odds only for gradient boosting
    raw_is_log_odds = type(model).__name__ in {
        "GradientBoostingClassifier", "HistGradientBoostingClassifier", "XGBClassifier",
        "LGBMClassifier"}
    if method == "auto":
        if numeric and is_tree_model(model) and (output == "probability" or raw_is_log_odds):
            method = "tree"
        elif numeric and is_linear_model(model) and not is_torch_module(model):
            method = "linear"
        else:
            method = "sampling"
    if method in ("tree", "linear") and not numeric:
        raise ValueError(f"method={method!r} needs numeric X; use method='sampling'")
    if method == "tree" and output == "log_odds" and not raw_is_log_odds:
        raise ValueError(f"method='tree' with output='log_odds' needs a gradient-boosting model "
                         f"(TreeSHAP's raw output); got {type(model).__name__}")

    vals = base = None
    if method == "tree":
        try:
            vals, base = _tree_values(model, codec.decode(codec.Z), codec.decode(codec.B),
                                       progress, raw=output == "log_odds")
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

        vals, base = _sampling_values(fz, codec.Z, codec.B, n_permutations, control_variate,
                                      rng, n_jobs, batch_rows, progress, output)

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
    vals = explanation_values(contributions)
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
