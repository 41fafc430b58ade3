"""The model-agnostic Shapley estimator behind ``explain(method="sampling")``.

The background (method, references, design choices) is in ``docs/contributions.md``, section
"Design notes", ``shap_debug.contributions._estimator``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from ..core import parallel_map, softmax

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
    A = np.where(np.isnan(A), np.nan, A + 0.0)           # -0.0 -> 0.0, one NaN bit pattern
    bits = np.ascontiguousarray(A, dtype=np.float64).view(np.uint64)
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
    act &= ~(np.isnan(Z)[:, None, :] & np.isnan(B)[None, :, :])   # missing in both: equal
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
    numbered = [pd.factorize(np.concatenate([Z[:, j], B[:, j]]), use_na_sentinel=False) for j in range(d)]
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
    items = [(g, Zs[s:s + chunk], B, fBg, base_rank, n_pairs, control_variate) for s in starts]
    parts = parallel_map(_walk_chunk, items, n_jobs=n_jobs, progress=progress,
                         desc="contributions", unit="chunk", star=True)
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
