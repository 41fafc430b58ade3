"""Tree paths: the exact closest counterfactual of a single axis-aligned decision tree (leaf
enumeration) and the approximate gradient-free search for tree ensembles."""

from __future__ import annotations

import time

import numpy as np

from shap_debug.core import progress_iter

from ._domain import _dist, _dist_l1, _Domain, _verify


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
        step = np.abs(np.where(cont, P - x, 0.0))
        cost = (dom.w * (step if dom.norm == "l1" else step ** 2)).sum(axis=1)
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
                distance=np.where(ok, (_dist_l1 if dom.norm == "l1" else _dist)(
                    np.nan_to_num(out_hat), X, dom.w), np.nan),
                status=status.astype(str), original_class=c, target_class=tgt,
                residual=v["residual"], stationarity=np.full(n, np.nan),
                kkt_residual=np.full(n, np.nan), stationary=np.zeros(n, dtype=bool),
                message=message.astype(str), seconds=seconds,
                solver=np.where(ok, "leaf enumeration" if exact else "tree search",
                                "none").astype(str))


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

    for i in progress_iter(range(n), progress=bool(progress) and n >= 2,
                           desc="flip points (tree search)", total=n):
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
            d = (_dist_l1 if dom.norm == "l1" else _dist)(p[None], x[None], dom.w)[0]
            if best is None or d < best[0]:
                best = (d, p, tk)
        if best is None:
            notes[i] = "no flip point in this subspace (sampled search)"
        else:
            out_hat[i] = best[1]
            tgt[i] = best[2]
        seconds[i] = time.perf_counter() - t0
    return _tree_finish(scorer, X, out_hat, c, tgt, dom, notes, seconds, exact=False)
