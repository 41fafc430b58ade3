"""Polishing: every verified flip point that is not a KKT point is moved to one, never
farther from its input (boundary projections from the input, then SLSQP restarts)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._domain import _dist, _Domain, _verify
from ._local import _project, _slsqp

_POLISH_MAXITER = 200


def _polish(scorer, X: np.ndarray, Xh: np.ndarray, c: np.ndarray, t: np.ndarray, dom: _Domain,
            fp: Any, K: int, v: dict, skip: np.ndarray, rng: np.random.Generator,
            n_restarts: int = 3):
    """Polish the verified, non-stationary rows of ``Xh`` to KKT points.

    For each such row, with the discrete part of x̂ (one-hot levels, integer values) held
    fixed and the free continuous features moving:

    1. a boundary projection from the input: project ``x`` onto the boundary linearised at
       the current point (the closest point of ``g(x̂) + grad g (z - x̂) = 0``, box
       constraints by an active set), repeat from the new point, and put the last iterate
       back on the true boundary by a 1-D root find on the segment from ``x``
       (:func:`_project`);
    2. SLSQP (up to 200 iterations, exact Jacobians) warm-started from x̂, then from the
       projection, then (restarts, until one is stationary) from ``n_restarts`` random
       perturbations of x̂ of relative size 1e-2 (SLSQP can stall where several kinks of a
       ReLU network meet; a nudge lets it settle).

    A candidate replaces x̂ only when the verifier accepts it and it is not farther from
    ``x``: ``distance <= d_old (1 + 1e-12) + |g(x̂)| / ||grad g(x̂)||_w``, the last term the
    linearised distance from x̂ to the exact boundary (x̂ may be a tie only within the
    verifier's tolerance; 0 for a point exactly on the boundary). A stationary candidate is
    preferred, else the closest one if it is strictly closer. ``fp`` is the calling
    :class:`FlipPoints`.

    Returns ``(Xh, v, seconds, polished)``: the new points, the verifier's findings merged
    for the changed rows, the time per row and the mask of rows that changed.
    """
    n = len(X)
    move = dom.cont & ~dom.integer
    seconds = np.zeros(n)
    polished = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(v["ok"] & ~v["stationary"] & ~skip)
    if not len(rows) or not move.any():
        return Xh, v, seconds, polished
    Xh = Xh.copy()
    for i in rows:
        tic = time.perf_counter()
        x, h = X[i], Xh[i]
        one, ci, ti = np.array([i]), c[i:i + 1], t[i:i + 1]
        d0 = _dist(h[None], x[None], dom.w)[0]
        # x̂ may sit a hair off the boundary (within the verifier's tie tolerance): a point
        # exactly on it may be farther by up to the linearised distance |g| / ||grad g||_w
        g0, G0 = scorer.g_grad(h[None], one, ci, ti)
        gnorm = np.sqrt((G0[0, move] ** 2 / dom.w[move]).sum())
        limit = d0 * (1 + 1e-12) + (abs(g0[0]) / gnorm if gnorm > 0 else 0.0)
        base = h.copy()
        B = h.copy()
        B[move] = x[move]
        proj = _project(scorer, x[None], B[None], one, ci, ti, move[None], dom.lo, dom.hi,
                        dom.w, fp.max_iter, fp.tol, start=h[None])[0]
        best = None
        size = 1e-2 * (1.0 + np.abs(h - x).max())
        nudges = [np.clip(h + size * rng.normal(size=h.shape) * move, dom.lo, dom.hi)
                  for _ in range(n_restarts)]
        for start in (h, proj, *nudges):
            cands = [_slsqp(scorer, x, base, i, c[i], t[i], move, dom.lo, dom.hi, dom.w, start,
                            K, maxiter=_POLISH_MAXITER)]
            if start is proj:
                cands.append(proj)
            for cand in cands:
                if cand is None or not np.isfinite(cand).all():
                    continue
                vv = _verify(scorer, x[None], cand[None], one, ci, ti, dom, fp.tol)
                dd = _dist(cand[None], x[None], dom.w)[0]
                if not vv["ok"][0] or dd > limit:
                    continue
                key = (not bool(vv["stationary"][0]), dd)
                if best is None or key < best[0]:
                    best = (key, cand)
            if best is not None and not best[0][0]:
                break
        if best is not None and (not best[0][0] or best[0][1] < d0 * (1 - 1e-12)):
            Xh[i] = best[1]
            polished[i] = True
        seconds[i] = time.perf_counter() - tic
    idx = np.flatnonzero(polished)
    if len(idx):
        tic = time.perf_counter()
        vv = _verify(scorer, X[idx], Xh[idx], idx, c[idx], t[idx], dom, fp.tol)
        v = {k: np.array(a, copy=True) for k, a in v.items()}
        for k in v:
            v[k][idx] = vv[k]
        v["message"][idx] = np.array([m + " (polished)" for m in vv["message"]], dtype=object)
        seconds[idx] += (time.perf_counter() - tic) / len(idx)
    return Xh, v, seconds, polished


def _descend(scorer, X: np.ndarray, Xh: np.ndarray, c: np.ndarray, t: np.ndarray, dom: _Domain,
             fp: Any, K: int, v: dict, skip: np.ndarray, rng: np.random.Generator,
             sizes: tuple = (1e-3, 1e-2, 5e-2), n_rounds: int = 3):
    """Local descent from the verified ties that first-order tests cannot certify.

    A KKT point of the distance on a kink of a ReLU network (the step in the cone of the
    one-sided gradients) can still be a saddle of the distance over the boundary, and a tie
    that polishing could not make stationary is not a minimum at all. For those rows, SLSQP
    restarts from random perturbations of x̂ (of size ``sizes`` times the distance; the
    discrete part held) look for a verified boundary point strictly closer to ``x``; the
    best one replaces x̂ and the search repeats from it, up to ``n_rounds`` times. Smooth
    KKT points are left alone (there the first-order test is reliable in practice: the
    benchmark's independent local search finds no closer point near any of them).

    Returns ``(Xh, v, seconds, moved)`` as :func:`_polish`.
    """
    n = len(X)
    move = dom.cont & ~dom.integer
    seconds = np.zeros(n)
    moved = np.zeros(n, dtype=bool)
    tie = np.array(["verified tie" in str(m) for m in v["message"]])
    rows = np.flatnonzero(v["ok"] & tie & (v["at_kink"] | ~v["stationary"]) & ~skip)
    if not len(rows) or not move.any():
        return Xh, v, seconds, moved
    Xh = Xh.copy()
    for i in rows:
        tic = time.perf_counter()
        x = X[i]
        one, ci, ti = np.array([i]), c[i:i + 1], t[i:i + 1]
        cur = Xh[i]
        d_cur = _dist(cur[None], x[None], dom.w)[0]
        for _ in range(n_rounds):
            best = None
            for size in sizes:
                u = rng.normal(size=cur.shape) * move
                u *= size * d_cur / max(np.sqrt((dom.w * u ** 2).sum()), 1e-300)
                start = np.clip(cur + u, dom.lo, dom.hi)
                cand = _slsqp(scorer, x, cur, i, c[i], t[i], move, dom.lo, dom.hi, dom.w,
                              start, K, maxiter=_POLISH_MAXITER)
                if cand is None or not np.isfinite(cand).all():
                    continue
                dd = _dist(cand[None], x[None], dom.w)[0]
                if dd >= d_cur * (1 - 1e-9) or (best is not None and dd >= best[0]):
                    continue
                vv = _verify(scorer, x[None], cand[None], one, ci, ti, dom, fp.tol)
                if vv["ok"][0] and "verified tie" in str(vv["message"][0]):
                    best = (dd, cand)
            if best is None:
                break
            d_cur, cur = best
            moved[i] = True
        Xh[i] = cur
        seconds[i] = time.perf_counter() - tic
    idx = np.flatnonzero(moved)
    if len(idx):
        vv = _verify(scorer, X[idx], Xh[idx], idx, c[idx], t[idx], dom, fp.tol)
        v = {k: np.array(a, copy=True) for k, a in v.items()}
        for k in v:
            v[k][idx] = vv[k]
        v["message"][idx] = np.array([m + " (local descent)" for m in vv["message"]],
                                     dtype=object)
    return Xh, v, seconds, moved
