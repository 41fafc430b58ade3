"""The constraint set of a flip-point problem (free features, box, integers, one-hot groups,
weights) and the independent verifier of candidate points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import nnls

from ._scorers import _Scorer

#: A flip point is *stationary* when its KKT residual ``1 - cos(theta)`` is at most this
#: (an angle of 1e-4 rad between the step and the normal cone of the boundary).
KKT_TOL = 5e-9
_SAMPLE_RADIUS = 1e-6  # relative radius of the gradient sampling at kinks
_N_RANDOM_DIRECTIONS = 12


@dataclass
class _Domain:
    free: np.ndarray  # (m,) bool: may move
    lo: np.ndarray
    hi: np.ndarray
    integer: np.ndarray  # (m,) bool
    groups: list  # list of int arrays (one-hot groups)
    w: np.ndarray
    in_group: np.ndarray  # (m,) bool
    norm: str = "l2"  # how the tree paths rank candidates: "l2" or "l1"

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


def _dist(A: np.ndarray, B: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.sqrt((w * (A - B) ** 2).sum(axis=1))


def _dist_l1(A: np.ndarray, B: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w * np.abs(A - B)).sum(axis=1)


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
    outright (a point just past the boundary). With ``tie_required``, valid points also get
    their KKT residual and a ``stationary`` flag (see :func:`_stationarity`); a verified tie
    is ``"exact"`` when stationary.
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
    kkt = np.full(n, np.nan)
    kink = np.zeros(n, dtype=bool)
    valid_dom = np.array([not m for m in dmsg])
    is_tie = tie & ordered & crosses & valid_dom
    # a point of the target class with no continuous move: a category switch alone, whose
    # continuous part sits at its unconstrained minimum (KKT with an inactive constraint)
    still = past & valid_dom & ~is_tie & (nrm == 0)
    kkt[still] = 0.0
    stationarity[still] = 0.0
    check = np.flatnonzero((is_tie | (past & valid_dom)) & ~still)
    if tie_required and len(check):
        kkt[check], stationarity[check], kink[check] = _stationarity(
            scorer, X[check], Xs[check], rows[check], c[check], t[check], dom)
    stationary = (is_tie & (kkt <= KKT_TOL)) | still
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
                if stationary[i]:
                    status[i] = "exact"
                    message[i] = "verified tie, stationary" + (
                        " (at a kink: KKT with the one-sided gradients)" if kink[i] else "")
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
    if not tie_required:
        stationary[:] = False
    return {"ok": ok, "status": status, "message": message, "residual": residual,
            "stationarity": stationarity, "kkt_residual": kkt, "stationary": stationary & ok,
            "at_kink": kink & ok}


def _cone_residual(A: np.ndarray, Oth: np.ndarray, r: np.ndarray) -> float:
    """``sin`` of the angle between ``r`` and the cone ``{A mu: mu >= 0} + span(Oth)`` or its
    mirror image (columns unit-normalised; 1 when ``r`` points away from both)."""
    u = r / np.linalg.norm(r)
    A = A / np.maximum(np.linalg.norm(A, axis=0), 1e-300)
    if Oth.shape[1]:
        Oth = Oth / np.maximum(np.linalg.norm(Oth, axis=0), 1e-300)
        Oth = np.concatenate([Oth, -Oth], axis=1)
    res = min(nnls(np.concatenate([s * A, Oth], axis=1), u)[1] for s in (1.0, -1.0))
    return float(min(res, 1.0))


def _one_minus_cos(sin: np.ndarray) -> np.ndarray:
    """``1 - cos`` from ``sin`` without cancellation."""
    sin = np.minimum(np.asarray(sin, dtype=float), 1.0)
    return sin ** 2 / (1.0 + np.sqrt(1.0 - sin ** 2))


def _stationarity(scorer, X0, Xh, rows, c, t, dom: _Domain, kinks: bool = True):
    """KKT residual of flip points ``Xh`` of inputs ``X0`` (batched).

    Returns ``(kkt_residual, sin, at_kink)``: ``1 - cos`` and ``sin`` of the angle defined
    below, and whether the one-sided (sampled) gradients were needed to certify the point.

    Stationarity of a flip point (the first-order KKT condition of the closest-point problem).

    The problem, for an input ``x`` of class ``c`` and a target ``t``: minimise
    ``||x̂ - x||_w^2 = sum_j w_j (x̂_j - x_j)^2`` over the free features subject to the tie
    ``g(x̂) = z_c(x̂) - z_t(x̂) = 0`` (and ``z_t >= z_k`` for the other classes), the box
    ``lo <= x̂ <= hi``, fixed features, integer features and one-hot groups.

    Let ``F`` be the free *continuous* coordinates that are not at a bound of the box (fixed
    features, one-hot groups and integer features are excluded: on a discrete domain the
    condition is stated for the continuous part with the discrete values of x̂ held fixed; the
    sign of the multipliers of active bounds is not checked). KKT at x̂: the weighted step
    ``r = w (x̂ - x)`` restricted to ``F`` is parallel to the gradient of the tie restricted to
    ``F`` (plus any combination of the gradients of active third-class constraints
    ``z_t - z_k``). The reported ``kkt_residual`` is ``1 - cos(theta)``, ``theta`` the angle
    between ``r_F`` and that set (``1 - |cos(r_F, grad_F g)|`` for two classes): 0 at a KKT
    point, scale free, invariant to the size of the step; ``stationarity`` is ``sin(theta)``.
    ``residual`` (``|g(x̂)|``) reports the tie separately. A point is *stationary* when it is a
    verified tie with ``kkt_residual <= KKT_TOL`` (5e-9, i.e. ``theta <= 1e-4`` rad), or a point
    of the target class whose continuous coordinates did not move (a category switch alone:
    the continuous part is at its unconstrained minimum).

    Kinks. ReLU networks are piecewise linear; on a kink of the boundary (a hidden unit at
    zero) the gradient is not defined and autograd returns one one-sided gradient. Many closest
    points lie exactly on such kinks (the boundary is locally a convex corner seen from ``x``).
    There the condition is Clarke's: ``r_F`` lies in the cone spanned by the one-sided gradients
    of the pieces that meet at x̂ (the KKT condition of the problem restricted to the linear
    pieces, which is a convex QP per piece). The one-sided gradients are sampled at
    ``x̂ + eps v`` (``eps = 1e-6 (1 + max|x̂|)``, 28 directions: ``±r``, ``±grad g`` and 12
    random pairs over ``F``); for a ``Sequential`` network of ``Linear`` layers and
    activations (what :func:`mlp_to_torch` builds) the pieces are also enumerated exactly (ReLU
    units within ``1e-6 (1 + max |pre-activation|)`` of zero switched off and on, the 8
    closest at most). The angle is taken to the cone of these gradients (non-negative
    combinations, of either sign overall). On smooth models the samples agree with the
    gradient and change nothing.

    Trees. Tree scores are piecewise constant: there is no gradient and KKT does not apply.
    Tree answers report ``kkt_residual = NaN`` and ``stationary = False``; a single tree's
    answer is instead the certified global minimum (status ``"exact"``), a tree ensemble's an
    upper bound (``"approximate"``).
    """
    n = len(Xh)
    sin = np.zeros(n)
    z, J = scorer.jac_batch(Xh, rows)
    parts = []
    for i in range(n):
        interior = (dom.cont & ~dom.integer & (Xh[i] > dom.lo + 1e-9)
                    & (Xh[i] < dom.hi - 1e-9))
        r = (dom.w * (Xh[i] - X0[i]))[interior]
        if not interior.any() or np.linalg.norm(r) == 0:
            parts.append(None)
            continue
        zi, Ji, ci, ti = z[i], J[i], c[i], t[i]
        scale = 1 + abs(zi[ci])
        Oth = [Ji[ti] - Ji[k] for k in range(len(zi))
             if k not in (ci, ti) and zi[k] >= min(zi[ci], zi[ti]) - 1e-6 * scale]
        Oth = np.stack(Oth, axis=1)[interior] if Oth else np.empty((int(interior.sum()), 0))
        parts.append((interior, r, Oth))
        A = np.concatenate([(Ji[ci] - Ji[ti])[interior][:, None], Oth], axis=1)
        coef, *_ = np.linalg.lstsq(A, r, rcond=None)
        sin[i] = min(np.linalg.norm(A @ coef - r) / np.linalg.norm(r), 1.0)
    kink = np.zeros(n, dtype=bool)
    need = np.flatnonzero(_one_minus_cos(sin) > KKT_TOL)
    if kinks and len(need):
        # one-sided gradients of the tie: sampled at x̂ + eps v for directions v spanning the
        # free interior features (Clarke's generalised gradient, by gradient sampling)
        rng = np.random.default_rng(0)
        m = Xh.shape[1]
        dirs = []
        for i in need:
            interior, r, _ = parts[i]
            u = np.zeros(m)
            u[interior] = r / np.linalg.norm(r)
            g = (J[i, c[i]] - J[i, t[i]]) * interior
            gn = np.linalg.norm(g)
            R = rng.normal(size=(_N_RANDOM_DIRECTIONS, m)) * interior
            R /= np.maximum(np.linalg.norm(R, axis=1, keepdims=True), 1e-300)
            V = np.concatenate([u[None], (g / gn if gn > 0 else u)[None], R])
            dirs.append(np.concatenate([V, -V]))
        D = np.stack(dirs)  # (b, S, m)
        S = D.shape[1]
        eps = _SAMPLE_RADIUS * (1.0 + np.abs(Xh[need]).max(axis=1))
        P = np.clip(Xh[need][:, None, :] + eps[:, None, None] * D, dom.lo, dom.hi)
        _, G = scorer.g_grad(P.reshape(-1, m), np.repeat(rows[need], S), np.repeat(c[need], S),
                             np.repeat(t[need], S))
        G = G.reshape(len(need), S, m)
        pieces = getattr(scorer, "piece_grads", None)
        for q, i in enumerate(need):
            interior, r, Oth = parts[i]
            cols = [(J[i, c[i]] - J[i, t[i]])[None], G[q]]
            exact = pieces(Xh[i], int(c[i]), int(t[i])) if pieces is not None else None
            if exact is not None:  # the pieces of a ReLU network, enumerated
                cols.append(exact)
            A = np.concatenate(cols)[:, interior].T
            s_cone = _cone_residual(A, Oth, r)
            if s_cone < sin[i]:
                kink[i] = _one_minus_cos(s_cone) <= KKT_TOL
                sin[i] = s_cone
    return _one_minus_cos(sin), sin, kink


def _boundary_class(scorer: _Scorer, X: np.ndarray, Xh: np.ndarray, c: np.ndarray,
                    t: np.ndarray, ok: np.ndarray, steps: int = 40) -> np.ndarray:
    """The class on the other side of the target's boundary next to each ``x̂``: bisection on
    the segment ``x -> x̂`` for the last change into class ``t`` (class ``t`` at ``x̂`` or a
    tie there, not ``t`` at ``x``). ``c`` for a flip point of the input's own boundary; -1
    where ``ok`` is False. Only three or more classes can give anything but ``c``."""
    out = np.where(ok, c, -1)
    rows = np.flatnonzero(ok)
    if not len(rows):
        return out
    K = scorer.scores(X[:1], np.array([0])).shape[1]
    if K <= 2:
        return out
    x0, x1 = X[rows], Xh[rows]
    # the end point: a hair past x̂ (a tie at x̂ itself is resolved towards t)
    end = x0 + (1 + 1e-6) * (x1 - x0)
    zt = scorer.scores(end, rows)
    hit = zt.argmax(axis=1) == t[rows]
    a_lo, a_hi = np.zeros(len(rows)), np.ones(len(rows)) * (1 + 1e-6)
    # x̂ on the boundary: the class a hair before it along the segment
    near = scorer.scores(x0 + (1 - 1e-6) * (x1 - x0), rows).argmax(axis=1)
    a_lo = np.where(near != t[rows], 1 - 1e-6, a_lo)
    for _ in range(steps):
        mid = 0.5 * (a_lo + a_hi)
        cls = scorer.scores(x0 + mid[:, None] * (x1 - x0), rows).argmax(axis=1)
        yes = cls == t[rows]
        a_hi = np.where(yes, mid, a_hi)
        a_lo = np.where(yes, a_lo, mid)
    before = scorer.scores(x0 + a_lo[:, None] * (x1 - x0), rows).argmax(axis=1)
    out[rows] = np.where(hit, before, c[rows])
    return out
