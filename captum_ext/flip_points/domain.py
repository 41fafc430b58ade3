"""The constraint set of a flip-point problem (free features, box, integers, one-hot groups,
weights) and the independent verifier of candidate points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .scorers import _Scorer


@dataclass
class _Domain:
    free: np.ndarray  # (m,) bool: may move
    lo: np.ndarray
    hi: np.ndarray
    integer: np.ndarray  # (m,) bool
    groups: list  # list of int arrays (one-hot groups)
    w: np.ndarray
    in_group: np.ndarray  # (m,) bool

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
    outright (a point just past the boundary). Tie points also get a stationarity number:
    the relative residual of ``w (x̂ - x)`` projected off the span of the active constraint
    gradients over the free interior features (0 at a KKT point).
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
    tie_ok = np.flatnonzero(tie & ordered & crosses & np.array([not m for m in dmsg]))
    if tie_required and len(tie_ok):
        stationarity[tie_ok] = _stationarity(scorer, X[tie_ok], Xs[tie_ok], rows[tie_ok],
                                             c[tie_ok], t[tie_ok], dom)
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
                if stationarity[i] <= 1e-4:
                    status[i] = "exact"
                    message[i] = "verified tie, stationary"
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
    return {"ok": ok, "status": status, "message": message, "residual": residual,
            "stationarity": stationarity}


def _stationarity(scorer, X0, Xh, rows, c, t, dom: _Domain) -> np.ndarray:
    """Relative residual of ``w (x̂ - x)`` off the span of the active constraint gradients,
    over the free interior continuous features (0 at a first-order KKT point); batched."""
    z, J = scorer.jac_batch(Xh, rows)
    out = np.zeros(len(Xh))
    for i in range(len(Xh)):
        interior = (dom.cont & (Xh[i] > dom.lo + 1e-9) & (Xh[i] < dom.hi - 1e-9)
                    & ~dom.integer)
        r = (dom.w * (Xh[i] - X0[i]))[interior]
        nr = np.linalg.norm(r)
        if not interior.any() or nr == 0:
            continue
        zi, Ji, ci, ti = z[i], J[i], c[i], t[i]
        scale = 1 + abs(zi[ci])
        cols = [Ji[ci] - Ji[ti]]
        for k in range(len(zi)):
            if k not in (ci, ti) and zi[k] >= min(zi[ci], zi[ti]) - 1e-6 * scale:
                cols.append(Ji[ti] - Ji[k])
        A = np.stack(cols, axis=1)[interior]
        coef, *_ = np.linalg.lstsq(A, r, rcond=None)
        out[i] = np.linalg.norm(A @ coef - r) / nr
    return out
