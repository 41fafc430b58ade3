"""Gradient-path driver: one-hot candidates, the batched projection waves, SLSQP per point,
integer rounding, the multi-start and sampled fallbacks, polishing."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from shap_debug.core import check_random_state, progress_iter

from ._domain import KKT_TOL, _dist, _Domain, _stationarity, _verify
from ._local import _project, _slsqp
from ._polish import _descend, _polish
from ._scorers import _Scorer


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


def _round_integers(scorer, x0, xh, row, c, t, dom: _Domain, K: int, fp: Any):
    """Fix integer features at rounded values and re-solve the remaining continuous ones; when
    none remain, walk outwards along the direction until the rounded point is of class t.
    ``fp`` is the calling :class:`FlipPoints` (its ``max_iter`` and ``tol`` are used)."""
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


def _solve(scorer: _Scorer, X, c, t, dom: _Domain, fp: Any, method: str,
           polish: bool = True) -> dict:
    """The gradient path for a batch (``fp`` is the calling :class:`FlipPoints`); with
    ``polish``, non-stationary answers go through :func:`.polish._polish`."""
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
    solver = np.array(["none"] * n, dtype=object)
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
                                        cc[kk[tie]], tt[kk[tie]], dom)[0]
            # a failed projection closer than the best verified one may hide a closer basin:
            # such rows go to the per-point solver
            closer_fail = np.array([
                bool((~okP[lo_i[i]:hi_i[i]] & (dP[lo_i[i]:hi_i[i]] < dP[best_k[i]])).any())
                for i in have])
            have = have[(st <= KKT_TOL) & ~closer_fail]
        out_hat[have] = P[best_k[have]]
        tgt[have] = tt[best_k[have]]
        solver[have] = "projection"
        todo = np.flatnonzero(~np.isfinite(out_hat).all(axis=1))
    it = progress_iter(todo, progress=bool(fp.progress) and len(todo) >= 2,
                       desc="flip points", total=len(todo))
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
                    cands.append((s, "slsqp"))
            cands.append((P[k], "projection"))
            if not dom.cont.any():
                cands.append((B[k], "category switch"))
            best = None
            for cand, how in cands:
                cand = _round_integers(scorer, X[i], cand, i, cc[k], tt[k], dom, K, fp)
                v = _verify(scorer, X[i:i + 1], cand[None], np.array([i]), np.array([cc[k]]),
                            np.array([tt[k]]), dom, fp.tol, tie_required=False)
                if v["ok"][0]:
                    d = _dist(cand[None], X[i:i + 1], dom.w)[0]
                    if best is None or d < best[0] - 1e-12:
                        best = (d, cand, tt[k], how)
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
                            found = (d, cand, tk, "multi-start")
            if found is None and not reached:
                notes[i] = "no flip point in this subspace"
        if found is not None:
            out_hat[i] = found[1]
            tgt[i] = found[2]
            solver[i] = found[3]
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
                    solver[i] = "category switch"
    seconds += (time.perf_counter() - tic) / n
    t_out = tgt if t is None else t
    tic = time.perf_counter()
    v = _verify(scorer, X, out_hat, np.arange(n), c, t_out, dom, fp.tol,
                tie_required=True)
    seconds += (time.perf_counter() - tic) / n
    if polish:
        out_hat, v, secs, polished = _polish(scorer, X, out_hat, c, t_out, dom, fp, K, v,
                                             skip=np.array([bool(nt) for nt in notes]), rng=rng)
        seconds += secs
        solver[polished] = solver[polished] + " + polish"
        out_hat, v, secs, moved = _descend(scorer, X, out_hat, c, t_out, dom, fp, K, v,
                                           skip=np.array([bool(nt) for nt in notes]), rng=rng)
        seconds += secs
        solver[moved] = solver[moved] + " + descent"
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
                kkt_residual=v["kkt_residual"], stationary=v["stationary"] & ok,
                message=message.astype(str), seconds=seconds,
                solver=np.where(ok, solver, "none").astype(str))
