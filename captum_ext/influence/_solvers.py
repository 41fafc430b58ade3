"""Numerical kernels of the influence functions: conjugate gradient (batched and
preconditioned), a backtracking line search, a symmetric solve, and the curvature solver
(``C⁻¹ g`` for every curvature: dense factorisation, CG, LiSSA) that
:class:`~captum_ext.influence.InfluenceFunction` inherits."""

from __future__ import annotations

import math

import numpy as np
import torch

from shap_debug.core import warn


def _pcg(matvec, b: torch.Tensor, precond, tol: float, max_iter: int) -> torch.Tensor:
    """Preconditioned conjugate gradient for one right-hand side (stops at negative
    curvature, returning the preconditioned gradient step if nothing better was found)."""
    x = torch.zeros_like(b)
    r = b.clone()
    z = precond(r)
    p = z.clone()
    rz = r @ z
    bnorm = float(b.norm())
    for _ in range(max_iter):
        Ap = matvec(p)
        pAp = p @ Ap
        if float(pAp) <= 0:
            return x if bool(x.abs().max() > 0) else precond(b)
        alpha = rz / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        if float(r.norm()) <= tol * bnorm:
            break
        z = precond(r)
        rz_new = r @ z
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x


def _line_search(obj, gfn, theta, f, g, step):
    """Backtracking (Armijo) along ``-step``; near the optimum, where the objective no
    longer resolves the decrease, a step that shrinks the gradient is accepted."""
    gmax = float(g.abs().max())
    slope = float(g @ step)
    t = 1.0
    while t > 1e-10:
        cand = theta - t * step
        fc = obj(cand)
        if bool(torch.isfinite(fc)):
            if fc <= f - 1e-4 * t * slope:
                return cand, fc
            if fc <= f + 1e-13 * abs(float(f)) and float(gfn(cand).abs().max()) < gmax:
                return cand, fc
        t *= 0.5
    return None


def _cg_solve(matvec, B: torch.Tensor, tol: float, max_iter: int
              ) -> tuple[torch.Tensor, bool, bool]:
    """Batched conjugate gradient for the rows of ``B``.

    Returns the solutions, whether all converged and whether negative curvature was met
    (iteration stops there, keeping the last iterate).
    """
    X = torch.zeros_like(B)
    R = B.clone()
    P = R.clone()
    rs = (R * R).sum(1)
    bnorm = B.norm(dim=1)
    active = bnorm > 0
    if not bool(active.any()):
        return X, True, False
    for _ in range(max_iter):
        AP = matvec(P)
        pAp = (P * AP).sum(1)
        if bool(((pAp <= 0) & active).any()):
            return X, False, True
        alpha = torch.where(active, rs / torch.where(active, pAp, torch.ones_like(pAp)),
                            torch.zeros_like(rs))
        X = X + alpha[:, None] * P
        R = R - alpha[:, None] * AP
        rs_new = (R * R).sum(1)
        active = active & (rs_new.sqrt() > tol * bnorm)
        if not bool(active.any()):
            return X, True, False
        beta = torch.where(active, rs_new / torch.where(rs > 0, rs, torch.ones_like(rs)),
                           torch.zeros_like(rs))
        P = R + beta[:, None] * P
        rs = rs_new
    return X, False, False

def _psd_solve(A: torch.Tensor, B: torch.Tensor, pinv: bool = False) -> torch.Tensor:
    """Rows of ``B`` times ``A⁻¹`` for a symmetric ``A`` (Cholesky, else eigen-solve)."""
    if not pinv:
        L, info = torch.linalg.cholesky_ex(A)
        if int(info) == 0:
            return torch.cholesky_solve(B.T, L).T
    evals, evecs = torch.linalg.eigh(A)
    tol = evals.abs().max() * A.shape[0] * torch.finfo(A.dtype).eps * 10
    inv = torch.where(evals.abs() > tol, 1.0 / evals, torch.zeros_like(evals))
    return ((B @ evecs) * inv) @ evecs.T


class _CurvatureSolver:
    """``C⁻¹ g`` for the fitted object's curvature (mixed into ``InfluenceFunction``).

    Uses the attributes the public class sets: ``_problem``, ``curvature``, ``damping``,
    ``batch_size``, ``max_dense_params``, ``X_``, ``y_``, ``_hrows``, ``_factor``, the CG and
    LiSSA settings, ``_rng`` and ``_gen``.
    """

    def _hdata(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._hrows is None:
            return self.X_, self.y_
        return self.X_[self._hrows], self.y_[self._hrows]

    def _dense_matrix(self) -> torch.Tensor:
        Xh, yh = self._hdata()
        prob, c = self._problem, self.batch_size
        if self.curvature == "exact":
            M = prob.hessian(Xh, yh, c)
        elif self.curvature == "gauss_newton":
            M = prob.ggn(Xh, yh, c)
        else:  # fisher
            M = torch.diag(prob.reg.clone())
            for s in range(0, len(Xh), c):
                G = prob.grads(Xh[s:s + c], yh[s:s + c])
                M = M + G.T @ G / len(Xh)
        return M + self.damping * torch.eye(len(M), dtype=M.dtype)

    def curvature_matrix(self) -> torch.Tensor:
        """The dense damped curvature ``C`` (for "exact", "gauss_newton", "fisher")."""
        if self.curvature not in ("exact", "gauss_newton", "fisher"):
            raise ValueError(f"curvature={self.curvature!r} is matrix-free; no dense matrix")
        return self._dense_matrix()

    def _matvec(self, V: torch.Tensor, rows: np.ndarray | None = None) -> torch.Tensor:
        prob, c = self._problem, self.batch_size
        if rows is None:
            Xh, yh = self._hdata()
        else:
            Xh, yh = self.X_[rows], self.y_[rows]
        if self.curvature in ("cg", "lissa", "exact"):
            out = prob.hvp(V, Xh, yh, c)
        elif self.curvature == "gauss_newton":
            out = prob.ggn_vp(V, Xh, yh, c)
        else:  # fisher
            out = V * prob.reg
            for s in range(0, len(Xh), c):
                G = prob.grads(Xh[s:s + c], yh[s:s + c])
                out = out + (V @ G.T) @ G / len(Xh)
        return out + self.damping * V

    def _is_dense(self) -> bool:
        return self.curvature == "exact" or (
            self.curvature in ("gauss_newton", "fisher")
            and self._problem.n_params <= self.max_dense_params)

    def solve(self, G: torch.Tensor) -> torch.Tensor:
        """``C⁻¹ g`` for each row ``g`` of ``G`` (n_vectors, n_params)."""
        G = G.to(self.dtype)
        if self.curvature == "identity":
            return G.clone()
        if self._is_dense():
            if self._factor is None:
                M = self._dense_matrix()
                L, info = torch.linalg.cholesky_ex(M)
                if int(info) == 0 and not self._problem.dense_pinv:
                    self._factor = ("chol", L)
                else:
                    evals, evecs = torch.linalg.eigh(M)
                    if evals.min() < -1e-8 * evals.abs().max():
                        warn(f"the {self.curvature} curvature has negative eigenvalues (min "
                             f"{float(evals.min()):.3g}); increase damping (now "
                             f"{self.damping}) for stable influences")
                    self._factor = ("eig", evals, evecs)
            if self._factor[0] == "chol":
                return torch.cholesky_solve(G.T, self._factor[1]).T
            _, evals, evecs = self._factor
            tol = evals.abs().max() * len(evals) * torch.finfo(evals.dtype).eps * 10
            inv = torch.where(evals.abs() > tol, 1.0 / evals, torch.zeros_like(evals))
            return ((G @ evecs) * inv) @ evecs.T
        if self.curvature == "lissa":
            return self._lissa(G)
        return self._cg(G)

    def _cg(self, B: torch.Tensor) -> torch.Tensor:
        X, converged, negative = _cg_solve(self._matvec, B, self.cg_tol, self.cg_max_iter)
        if negative:
            warn("conjugate gradient met negative curvature; the curvature is not positive "
                 f"definite: increase damping (now {self.damping})")
        elif not converged:
            warn(f"conjugate gradient did not reach cg_tol={self.cg_tol} in cg_max_iter="
                 f"{self.cg_max_iter} iterations; increase damping or cg_max_iter")
        return X

    def _power(self, shift: float = 0.0, iters: int = 30) -> float:
        """Largest eigenvalue of ``C - shift·I`` by power iteration (full-data HVPs)."""
        v = torch.randn(self._problem.n_params, generator=self._gen, dtype=self.dtype)
        v = v / v.norm()
        lam = 0.0
        for _ in range(iters):
            w = self._matvec(v[None])[0] - shift * v
            lam = float(v @ w)
            nw = w.norm()
            if not torch.isfinite(nw) or nw == 0:
                break
            v = w / nw
        return lam

    def _lissa(self, B: torch.Tensor) -> torch.Tensor:
        scale = self.lissa_scale
        if scale is None:
            lam_max = self._power()
            lam_min = lam_max + self._power(shift=lam_max)
            if lam_min <= 0:
                raise ValueError(
                    f"LiSSA would diverge: the curvature has a non-positive eigenvalue "
                    f"({lam_min:.3g}); increase damping (now {self.damping}) to at least "
                    f"{self.damping - lam_min + 1e-3 * abs(lam_max):.3g}")
            scale = 1.5 * lam_max
        self.lissa_scale_ = scale
        n = len(self._hdata()[0])
        base = np.arange(n) if self._hrows is None else self._hrows
        bsz = min(self.lissa_batch_size, n)
        bnorm = float(B.norm(dim=1).max())
        est = torch.zeros_like(B)
        for _ in range(self.lissa_repeats):
            V = B.clone()
            for t in range(self.lissa_depth):
                rows = base[self._rng.choice(n, bsz, replace=False)]
                V = B + V - self._matvec(V, rows) / scale
                vn = float(V.norm(dim=1).max())
                if not math.isfinite(vn) or vn > 10 * (t + 2) * bnorm:
                    raise ValueError(
                        f"LiSSA diverged at step {t} (|v| = {vn:.3g}): increase damping (now "
                        f"{self.damping}) or lissa_scale (now {scale:.3g})")
            est = est + V / scale
        return est / self.lissa_repeats
