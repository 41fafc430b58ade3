"""Local solvers of the gradient path: the batched boundary projection (Newton-type steps on
the linearised boundary) and SLSQP per point with exact Jacobians."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

_SLSQP_MAXITER = 60


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


def _slsqp(scorer, x0, base, row, c, t, move, lo, hi, w, start, K,
           maxiter: int = _SLSQP_MAXITER):
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
                   options={"maxiter": maxiter, "ftol": 1e-14})
    return full(np.clip(res.x, lo[idx], hi[idx]))
