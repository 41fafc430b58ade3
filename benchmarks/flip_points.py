"""Benchmark: flip points (captum_ext.flip_points) against DiCE counterfactuals.

For Adult (one-hot, 105 inputs), German credit (63) and COMPAS (19): an MLP is trained on
the standardised one-hot encoding; for held-out rows we find

- our flip points, exact path (batched projection + SLSQP per point) and batched path
  (projection only), with one-hot groups kept valid and bounds = the training range
  (widened to hold the query rows);
- DiCE counterfactuals (dice-ml, methods "random" and "genetic", ``total_CFs=1``,
  ``desired_class="opposite"``) on the *same* model (a scikit-learn Pipeline that applies the
  same encoding) and the same data.

Reported per data set: verified-valid rate, median distance, median time per point, the
share of flip points that are KKT points of the distance (``stationary``, with the KKT
residuals), and for each DiCE method the share of rows where our flip point is closer (L2 and L1 in the
standardised one-hot space; DiCE optimises its own L1/MAD-style loss). Validity of every
point is re-checked with scikit-learn's own ``predict_proba`` (independently of our torch
copy of the network): a flip point must tie the two classes (|p1 - p0| <= 1e-6) with
different classes a small step to either side, or be of the other class; a DiCE
counterfactual must be of the opposite class. Stationarity is re-checked the same way, from
the scikit-learn weights alone: the step ``x̂ - x`` on the free continuous coordinates off
their bounds must lie in the cone of the tie gradients of the linear pieces of the ReLU
network that meet at x̂ (units within 1e-6 of zero switched off and on; plain parallelism
with the gradient where x̂ is on no kink), ``1 - cos <= 5e-9``; the single-gradient version
of that check (what an autograd cosine measures, blind to kinks) is reported beside it. The
exact path also runs once unpolished (``polish=False``) to show what polishing changes.

Usage: ``python benchmarks/flip_points.py [--quick] [--rows 500] [--dice-rows 500]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from captum_ext.flip_points import FlipPoints  # noqa: E402
from shap_debug.datasets import adult, compas, encode, german  # noqa: E402

torch.set_num_threads(1)
warnings.filterwarnings("ignore")


class _Prep(BaseEstimator, TransformerMixin):
    """Raw frame -> standardised one-hot matrix (the same encoding the MLP sees)."""

    def __init__(self, enc=None, num=None, mu=None, sd=None):
        self.enc, self.num, self.mu, self.sd = enc, num, mu, sd

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        A = self.enc.transform(X[self.enc.columns_].copy())
        A[:, self.num] = (A[:, self.num] - self.mu) / self.sd
        return A


def _load(name):
    if name == "adult":
        Xtr, ytr = adult("train")
        Xte, yte = adult("test")
        return Xtr, ytr, Xte, yte
    X, y = german() if name == "german" else compas()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    cut = len(X) // 2 if name == "german" else int(0.7 * len(X))  # German: 500 test rows
    return (X.iloc[idx[:cut]].reset_index(drop=True), y[idx[:cut]],
            X.iloc[idx[cut:]].reset_index(drop=True), y[idx[cut:]])


def _as_strings(X, enc):
    df = X.copy()
    for c in enc.categories_:
        df[c] = df[c].astype(str)
    return df


def _independent_kkt(mlp, Zq, H, cont, lo, hi, tol=1e-6, max_units=10):
    """``1 - cos`` of the angle between the step and the cone of the one-sided tie gradients
    (and the single-gradient version), from the scikit-learn weights only; 0 where the
    continuous features did not move, NaN where there is no point."""
    from scipy.optimize import nnls

    Ws, bs = mlp.coefs_, mlp.intercepts_
    cone = np.full(len(Zq), np.nan)
    single = np.full(len(Zq), np.nan)
    for i in range(len(Zq)):
        h = H[i]
        if not np.isfinite(h).all():
            continue
        F = cont & (h > lo + 1e-9) & (h < hi - 1e-9)
        d = (h - Zq[i])[F]
        if not F.any() or np.linalg.norm(d) == 0:
            cone[i] = single[i] = 0.0
            continue
        pre, a = [], h
        for W, b in zip(Ws[:-1], bs[:-1]):
            a = a @ W + b
            pre.append(a.copy())
            a = np.maximum(a, 0.0)
        near = sorted(((abs(p[j]), q, j) for q, p in enumerate(pre)
                       for j in np.flatnonzero(np.abs(p) <= tol * (1 + np.abs(p).max()))))
        near = near[:max_units]
        J = np.eye(len(h))
        for W, p in zip(Ws[:-1], pre):
            J = (J @ W) * (p > 0)
        g_one = (J @ Ws[-1])[:, 0][F]  # the gradient autograd returns at x̂
        grads = [g_one]
        for bits in range(2 ** len(near)):
            masks = [(p > 0).astype(float) for p in pre]
            for k, (_, q, j) in enumerate(near):
                masks[q][j] = (bits >> k) & 1
            J = np.eye(len(h))
            for W, mk in zip(Ws[:-1], masks):
                J = (J @ W) * mk
            grads.append((J @ Ws[-1])[:, 0][F])
        A = np.array(grads).T
        A = A / np.maximum(np.linalg.norm(A, axis=0), 1e-300)
        u = d / np.linalg.norm(d)
        s_cone = min(nnls(A, u)[1], nnls(-A, u)[1])
        s_one = np.sqrt(max(0.0, 1 - (u @ A[:, 0]) ** 2))
        cone[i] = s_cone ** 2 / (1 + np.sqrt(max(0.0, 1 - s_cone ** 2)))
        single[i] = s_one ** 2 / (1 + np.sqrt(max(0.0, 1 - s_one ** 2)))
    return cone, single


def run_dataset(name, rows, dice_rows, train_rows, methods, seed=0):
    Xtr, ytr, Xte, yte = _load(name)
    if train_rows and len(Xtr) > train_rows:
        keep = np.random.default_rng(seed).choice(len(Xtr), train_rows, replace=False)
        Xtr, ytr = Xtr.iloc[keep].reset_index(drop=True), ytr[keep]
    Ztr, enc = encode(Xtr, "onehot")
    num = [enc.groups_[c][0] for c in enc.columns_ if c not in enc.categories_]
    mu, sd = Ztr[:, num].mean(0), Ztr[:, num].std(0) + 1e-12
    prep = _Prep(enc, num, mu, sd)
    Ztr_s = prep.transform(Xtr)
    mlp = MLPClassifier((32, 16), max_iter=300, random_state=seed).fit(Ztr_s, ytr)
    pipe = Pipeline([("prep", prep), ("mlp", mlp)])
    Xq = Xte.iloc[:rows].reset_index(drop=True)
    Zq = prep.transform(Xq)
    groups = {c: g for c, g in enc.groups_.items() if c in enc.categories_}
    # the training range, widened to hold the query rows (a test row may lie outside it)
    lo, hi = np.minimum(Ztr_s.min(0), Zq.min(0)), np.maximum(Ztr_s.max(0), Zq.max(0))
    out = {"dataset": name, "n_inputs": Zq.shape[1], "n_train": len(Xtr), "rows": len(Xq),
           "test_accuracy": float((mlp.predict(prep.transform(Xte)) == yte).mean())}

    def sk_check_flip(Zq, H):
        """Independent check with scikit-learn: tie of the two probabilities, class change."""
        ok = np.isfinite(H).all(axis=1)
        Hs = np.where(ok[:, None], H, Zq)
        p = mlp.predict_proba(Hs)
        tie = np.abs(p[:, 1] - p[:, 0]) <= 1e-6
        d = Hs - Zq
        d[:, list(np.concatenate(list(groups.values())))] = 0.0
        nrm = np.linalg.norm(d, axis=1)
        u = d / np.maximum(nrm, 1e-12)[:, None]
        eps = 1e-4 * np.maximum(nrm, 1e-3)
        # the class differs on the two sides of x̂ (a category switch can make the continuous
        # move approach the boundary from the target's side)
        changed = mlp.predict(Hs + eps[:, None] * u) != mlp.predict(Hs - eps[:, None] * u)
        onehot = np.ones(len(H), dtype=bool)
        for g in groups.values():
            onehot &= (np.isin(Hs[:, g], (0.0, 1.0)).all(axis=1)) & (Hs[:, g].sum(axis=1) == 1)
        inside = ((Hs >= lo - 1e-9) & (Hs <= hi + 1e-9)).all(axis=1)
        return ok & onehot & inside & ((tie & changed) | (mlp.predict(Hs) != mlp.predict(Zq)))

    fp = FlipPoints(mlp, data=Ztr_s, feature_names=enc.feature_names_out_, progress=False,
                    random_state=seed)
    cont = np.ones(Zq.shape[1], dtype=bool)
    cont[list(np.concatenate(list(groups.values())))] = False
    ours = {}
    for method, polish in (("slsqp", True), ("projection", True), ("slsqp", False)):
        key = method if polish else f"{method}_unpolished"
        tic, cpu = time.perf_counter(), time.process_time()
        res = fp.find(Zq, onehot_groups=groups, bounds=(lo, hi), method=method, polish=polish)
        total, cpu = time.perf_counter() - tic, time.process_time() - cpu
        sk_ok = sk_check_flip(Zq, res.x_hat)
        ours[key] = res
        ind_kkt, ind_single = _independent_kkt(mlp, Zq, res.x_hat, cont, lo, hi)
        tie = res.valid & np.isfinite(res.kkt_residual) & (res.status != "failed")
        kr = res.kkt_residual[tie]
        out[f"ours_{key}"] = {
            "verified_valid_rate": float(res.valid.mean()),
            "exact_rate": float((res.status == "exact").mean()),
            "status_counts": pd.Series(res.status).value_counts().to_dict(),
            "sklearn_checked_valid_rate": float(sk_ok.mean()),
            "median_distance_l2": float(np.nanmedian(res.distance)),
            "median_ms_per_point": float(np.median(res.seconds) * 1e3),
            "mean_ms_per_point": float(total / len(Zq) * 1e3),
            "cpu_ms_per_point": float(cpu / len(Zq) * 1e3),
            "p90_ms_per_point": float(np.percentile(res.seconds, 90) * 1e3),
            "total_s": total,
            "stationary_rate": float(res.stationary.mean()),
            "independent_stationary_rate": float((sk_ok & (ind_kkt <= 5e-9)).mean()),
            "independent_single_gradient_stationary_rate": float(
                (sk_ok & (ind_single <= 5e-9)).mean()),
            "kkt_residual_median": float(np.median(kr)) if len(kr) else None,
            "kkt_residual_p99": float(np.percentile(kr, 99)) if len(kr) else None,
            "kkt_residual_max": float(np.max(kr)) if len(kr) else None,
            "independent_kkt_residual_max": float(np.nanmax(ind_kkt)),
            "at_kink_rate": float(np.mean(["at a kink" in m for m in res.message])),
        }
    raw, pol = ours["slsqp_unpolished"], ours["slsqp"]
    both = raw.valid & pol.valid
    out["polishing"] = {
        "rows_changed": int((np.abs(np.nan_to_num(pol.x_hat - raw.x_hat)) > 0).any(axis=1).sum()),
        "stationary_before": float(raw.stationary.mean()),
        "stationary_after": float(pol.stationary.mean()),
        "max_distance_increase": float(np.max(pol.distance[both] - raw.distance[both])),
        "rows_closer": int((pol.distance[both] < raw.distance[both] - 1e-9).sum()),
        "mean_distance_decrease": float(np.mean(raw.distance[both] - pol.distance[both])),
        "median_ms_per_point_unpolished": out["ours_slsqp_unpolished"]["median_ms_per_point"],
        "mean_ms_per_point_unpolished": out["ours_slsqp_unpolished"]["mean_ms_per_point"],
    }
    best = ours["slsqp"]
    dist_ours_l2 = best.distance
    dist_ours_l1 = np.abs(best.delta).sum(axis=1)

    per_row = {}
    if methods:
        import dice_ml

        df_tr = _as_strings(Xtr, enc).assign(_y=ytr)
        d = dice_ml.Data(dataframe=df_tr, outcome_name="_y",
                         continuous_features=[c for c in enc.columns_ if c not in enc.categories_])
        dm = dice_ml.Model(model=pipe, backend="sklearn")
        Xq_s = _as_strings(Xq, enc)
        for meth in methods:
            exp = dice_ml.Dice(d, dm, method=meth)
            n_d = min(dice_rows, len(Xq))
            l2 = np.full(n_d, np.nan)
            l1 = np.full(n_d, np.nan)
            secs = np.zeros(n_d)
            cpu = time.process_time()
            valid = np.zeros(n_d, dtype=bool)
            for i in range(n_d):
                kw = {"random_seed": seed + i} if meth == "random" else {}
                tic = time.perf_counter()
                try:
                    r = exp.generate_counterfactuals(Xq_s.iloc[[i]], total_CFs=1,
                                                     desired_class="opposite", verbose=False,
                                                     **kw)
                    cfs = r.cf_examples_list[0].final_cfs_df
                except Exception:  # DiCE raises when it finds nothing
                    cfs = None
                secs[i] = time.perf_counter() - tic
                if cfs is None or not len(cfs):
                    continue
                C = prep.transform(cfs.drop(columns=["_y"]).astype(
                    {c: str for c in enc.categories_}))
                flipped = mlp.predict(C) != mlp.predict(Zq[i:i + 1])
                if not flipped.any():
                    continue
                C = C[flipped]
                dd = np.linalg.norm(C - Zq[i], axis=1)
                k = int(np.argmin(dd))
                valid[i] = True
                l2[i], l1[i] = dd[k], np.abs(C[k] - Zq[i]).sum()
            cpu = time.process_time() - cpu
            per_row[meth] = l2
            both = valid & best.valid[:n_d]
            closer_l2 = float(np.mean(dist_ours_l2[:n_d][both] < l2[both])) if both.any() else None
            closer_l1 = float(np.mean(dist_ours_l1[:n_d][both] < l1[both])) if both.any() else None
            ours_med = float(np.median(best.seconds[:n_d]))
            ours_proj_med = float(np.median(ours["projection"].seconds[:n_d]))
            out[f"dice_{meth}"] = {
                "rows": n_d, "valid_rate": float(valid.mean()),
                "median_distance_l2": float(np.nanmedian(l2)),
                "median_ms_per_point": float(np.median(secs) * 1e3),
                "cpu_ms_per_point": float(cpu / n_d * 1e3),
                "ours_closer_share_l2": closer_l2, "ours_closer_share_l1": closer_l1,
                "speedup_exact_path": float(np.median(secs) / ours_med),
                "speedup_batched_path": float(np.median(secs) / ours_proj_med),
                "speedup_exact_path_cpu": float(cpu / n_d / (
                    out["ours_slsqp"]["cpu_ms_per_point"] / 1e3)),
                "median_distance_ratio_ours_over_dice": float(np.nanmedian(
                    dist_ours_l2[:n_d][both] / l2[both])) if both.any() else None,
            }
    if per_row:
        n_d = min(len(v) for v in per_row.values())
        D = np.stack([v[:n_d] for v in per_row.values()], axis=1)
        ours_d = dist_ours_l2[:n_d]
        # a DiCE method that found nothing for a row counts as farther
        closer_all = np.isfinite(ours_d) & (ours_d[:, None] < np.where(np.isnan(D), np.inf, D)).all(1)
        out["ours_closer_than_every_dice_method_share"] = float(closer_all.mean())
        r = out[f"dice_{methods[0]}"] if "random" not in methods else out["dice_random"]
        out["targets"] = {
            "verified_valid_ge_99.5pct": out["ours_slsqp"]["verified_valid_rate"] >= 0.995,
            "stationary_ge_99pct": out["ours_slsqp"]["stationary_rate"] >= 0.99,
            "independent_stationary_ge_99pct":
                out["ours_slsqp"]["independent_stationary_rate"] >= 0.99,
            "exact_path_median_le_50ms": out["ours_slsqp"]["median_ms_per_point"] <= 50,
            "batched_median_le_5ms": out["ours_projection"]["median_ms_per_point"] <= 5,
            "ge_20x_faster_than_dice_random_median_wall": r["speedup_exact_path"] >= 20,
            "ge_20x_faster_than_dice_random_cpu": r["speedup_exact_path_cpu"] >= 20,
            "closer_than_every_dice_method_ge_95pct": float(closer_all.mean()) >= 0.95,
        }
    return out


# --------------------------------------------------------------------------- local minima
def _np_tie(mlp):
    """``g(x) = z_1(x) - z_0(x)`` of a binary scikit-learn MLP and its gradient, from the
    scikit-learn weights in numpy (independent of the library's torch copy)."""
    Ws, bs = mlp.coefs_, mlp.intercepts_
    act = mlp.activation
    if Ws[-1].shape[1] != 1:
        raise ValueError("the local-minimum verifier handles binary MLPs")

    def g_grad(x):
        a, pres = x, []
        for W, b in zip(Ws[:-1], bs[:-1]):
            p = a @ W + b
            pres.append(p)
            a = np.maximum(p, 0.0) if act == "relu" else np.tanh(p)
        g = float((a @ Ws[-1] + bs[-1])[0])
        d = Ws[-1][:, 0]
        for W, p in zip(Ws[-2::-1], pres[::-1]):
            d = d * ((p > 0) if act == "relu" else (1.0 - np.tanh(p) ** 2))
            d = W @ d
        return g, d

    return g_grad


def _local_search(g_grad, x, h, F, lo, hi, rng, radius=0.1, n_perturb=6, improve=1e-3):
    """Independent test that ``h`` is a local minimum of ``|x' - x|`` on ``g(x') = 0``.

    Constrained local searches (scipy SLSQP on the continuous features ``F``, the one-hot part
    of ``h`` held) from ``h`` and from ``n_perturb`` random perturbations of it (sizes 1 % and
    10 % of the neighbourhood), each inside the ball of radius ``radius * |h - x|`` around
    ``h``. A search that ends on the boundary (linearised distance to ``g = 0`` below 1e-5 of
    the distance) strictly closer than ``(1 - improve) |h - x|`` proves ``h`` is not a local
    minimum. Returns ``(is_local_min, best relative improvement found)``.
    """
    from scipy.optimize import minimize

    d0 = float(np.linalg.norm(h - x))
    if d0 == 0 or not F.any():
        return True, 0.0
    fixed2 = float(((h - x)[~F] ** 2).sum())  # one-hot switches: constant
    rho = radius * d0
    xf, hf = x[F], h[F]

    def full(v):
        z = h.copy()
        z[F] = v
        return z

    cons = [{"type": "eq", "fun": lambda v: g_grad(full(v))[0],
             "jac": lambda v: g_grad(full(v))[1][F]},
            {"type": "ineq", "fun": lambda v: rho ** 2 - ((v - hf) ** 2).sum(),
             "jac": lambda v: -2 * (v - hf)}]
    starts = [hf]
    for k in range(n_perturb):
        u = rng.normal(size=hf.shape)
        u *= (0.01 if k % 2 == 0 else 0.1) * rho / np.linalg.norm(u)
        starts.append(np.clip(hf + u, lo[F], hi[F]))
    best = 0.0
    for s in starts:
        r = minimize(lambda v: float(((v - xf) ** 2).sum()), s, jac=lambda v: 2 * (v - xf),
                     method="SLSQP", bounds=list(zip(lo[F], hi[F])), constraints=cons,
                     options={"maxiter": 300, "ftol": 1e-15})
        v = np.clip(r.x, lo[F], hi[F])
        g, G = g_grad(full(v))
        gn = np.linalg.norm(G[F])
        if gn == 0 or abs(g) / gn > 1e-5 * d0 or ((v - hf) ** 2).sum() > rho ** 2 * (1 + 1e-9):
            continue
        d = np.sqrt(((v - xf) ** 2).sum() + fixed2)
        best = max(best, 1.0 - d / d0)
    return best <= improve, best


def local_minima(name, rows, train_rows, activation, seed=0):
    """Train a (32, 16) MLP with ``activation`` and judge its flip points by
    :func:`_local_search` (rows with a verified flip point)."""
    Xtr, ytr, Xte, yte = _load(name)
    if train_rows and len(Xtr) > train_rows:
        keep = np.random.default_rng(seed).choice(len(Xtr), train_rows, replace=False)
        Xtr, ytr = Xtr.iloc[keep].reset_index(drop=True), ytr[keep]
    Ztr, enc = encode(Xtr, "onehot")
    num = [enc.groups_[c][0] for c in enc.columns_ if c not in enc.categories_]
    mu, sd = Ztr[:, num].mean(0), Ztr[:, num].std(0) + 1e-12
    prep = _Prep(enc, num, mu, sd)
    Ztr_s = prep.transform(Xtr)
    mlp = MLPClassifier((32, 16), activation=activation, max_iter=300,
                        random_state=seed).fit(Ztr_s, ytr)
    Zq = prep.transform(Xte.iloc[:rows].reset_index(drop=True))
    groups = {c: g for c, g in enc.groups_.items() if c in enc.categories_}
    lo, hi = np.minimum(Ztr_s.min(0), Zq.min(0)), np.maximum(Ztr_s.max(0), Zq.max(0))
    F = np.ones(Zq.shape[1], dtype=bool)
    F[list(np.concatenate(list(groups.values())))] = False
    fp = FlipPoints(mlp, data=Ztr_s, feature_names=enc.feature_names_out_, progress=False,
                    random_state=seed)
    tic = time.perf_counter()
    res = fp.find(Zq, onehot_groups=groups, bounds=(lo, hi))
    wall = time.perf_counter() - tic
    g_grad = _np_tie(mlp)
    rng = np.random.default_rng(seed)
    is_min = np.zeros(len(Zq), dtype=bool)
    gain = np.full(len(Zq), np.nan)
    for i in np.flatnonzero(res.valid):
        is_min[i], gain[i] = _local_search(g_grad, Zq[i], res.x_hat[i], F, lo, hi, rng)
    n_valid = int(res.valid.sum())
    return {
        "dataset": name, "activation": activation, "rows": len(Zq), "valid": n_valid,
        "local_minima": int(is_min.sum()),
        "local_minimum_rate": float(is_min[res.valid].mean()) if n_valid else None,
        "library_stationary_rate": float(res.stationary.mean()),
        "not_minima_rows": np.flatnonzero(res.valid & ~is_min).tolist(),
        "not_minima_solver": res.solver[res.valid & ~is_min].tolist(),
        "not_minima_message": res.message[res.valid & ~is_min].tolist(),
        "not_minima_improvement": gain[res.valid & ~is_min].tolist(),
        "max_improvement_found": float(np.nanmax(gain)) if n_valid else None,
        "solver_counts": pd.Series(res.solver).value_counts().to_dict(),
        "mean_ms_per_point": wall / len(Zq) * 1e3,
        "target_ge_99.5pct": bool(n_valid and is_min[res.valid].mean() >= 0.995),
    }


# --------------------------------------------------------------------------- tree ensembles
def tree_paths(rows=20, train_rows=8000, seed=0):
    """Every tree ensemble on Adult (one-hot): the solver actually used and the time per
    anomaly (the tree search), with LightGBM's time against XGBoost's."""
    from catboost import CatBoostClassifier
    from lightgbm import LGBMClassifier
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from xgboost import XGBClassifier

    Xtr, ytr, Xte, _ = _load("adult")
    keep = np.random.default_rng(seed).choice(len(Xtr), min(train_rows, len(Xtr)), replace=False)
    Xtr, ytr = Xtr.iloc[keep].reset_index(drop=True), ytr[keep]
    Ztr, enc = encode(Xtr, "onehot")
    Zq = enc.transform(Xte.iloc[:rows].reset_index(drop=True))
    groups = {c: g for c, g in enc.groups_.items() if c in enc.categories_}
    lo, hi = np.minimum(Ztr.min(0), Zq.min(0)), np.maximum(Ztr.max(0), Zq.max(0))
    models = {
        "RandomForest": RandomForestClassifier(100, max_depth=8, n_jobs=1, random_state=seed),
        "ExtraTrees": ExtraTreesClassifier(100, max_depth=8, n_jobs=1, random_state=seed),
        "GradientBoosting": GradientBoostingClassifier(n_estimators=100, random_state=seed),
        "HistGradientBoosting": HistGradientBoostingClassifier(random_state=seed),
        "XGBoost": XGBClassifier(n_estimators=100, max_depth=4, n_jobs=1),
        "LightGBM": LGBMClassifier(n_estimators=100, n_jobs=1, verbose=-1),
        "CatBoost": CatBoostClassifier(iterations=100, depth=4, verbose=0, thread_count=1),
    }
    out = {}
    for name, model in models.items():
        model.fit(Ztr, ytr)
        fp = FlipPoints(model, data=Ztr, feature_names=enc.feature_names_out_, progress=False,
                        random_state=seed)
        tic = time.perf_counter()
        res = fp.find(Zq, onehot_groups=groups, bounds=(lo, hi))
        wall = time.perf_counter() - tic
        out[name] = {"kind": fp.kind, "solver": pd.Series(res.solver).value_counts().to_dict(),
                     "valid_rate": float(res.valid.mean()),
                     "s_per_anomaly": wall / len(Zq),
                     "median_distance": float(np.nanmedian(res.distance))}
        print(f"{name:<22}{fp.kind:<14}{out[name]['valid_rate']:>7.2f}"
              f"{out[name]['s_per_anomaly']:>9.3f} s/anomaly")
    ratio = out["LightGBM"]["s_per_anomaly"] / out["XGBoost"]["s_per_anomaly"]
    return {"rows": len(Zq), "models": out, "lightgbm_over_xgboost_time": ratio,
            "all_tree_path": all(v["kind"] == "tree-search" for v in out.values()),
            "target_lightgbm_within_2x_of_xgboost": bool(ratio <= 2.0)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="DiCE on 60 rows per data set (ours always on --rows)")
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--dice-rows", type=int, default=None)
    ap.add_argument("--train-rows", type=int, default=8000)
    ap.add_argument("--datasets", nargs="+", default=["adult", "german", "compas"])
    ap.add_argument("--dice", nargs="*", default=["random", "genetic"])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "flip_points.json"))
    args = ap.parse_args()
    dice_rows = args.dice_rows if args.dice_rows is not None else (60 if args.quick else args.rows)
    import importlib.metadata as md

    def ver(p):
        try:
            return md.version(p)
        except md.PackageNotFoundError:
            return None

    results = {
        "benchmark": "flip_points", "mode": "quick" if args.quick else "full",
        "rows": args.rows, "dice_rows": dice_rows, "train_rows_cap": args.train_rows,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "threads": "OMP_NUM_THREADS=1, torch 1 thread, BLAS limited to 1"},
        "versions": {p: ver(p) for p in ("torch", "scipy", "numpy", "scikit-learn", "dice-ml",
                                         "pandas", "shap", "captum")},
        "datasets": [],
    }
    for name in args.datasets:
        tic = time.perf_counter()
        res = run_dataset(name, args.rows, dice_rows, args.train_rows, args.dice)
        res["wall_s"] = time.perf_counter() - tic
        results["datasets"].append(res)
        print(f"\n== {name}: {res['n_inputs']} inputs, {res['rows']} rows, "
              f"test accuracy {res['test_accuracy']:.3f}")
        print(f"{'method':<24}{'valid':>8}{'exact':>8}{'stat.':>8}{'indep.':>8}"
              f"{'median dist':>13}{'ms/pt':>9}{'closer(L2)':>12}{'speedup':>9}")
        for key in ("ours_slsqp", "ours_projection", "ours_slsqp_unpolished"):
            r = res[key]
            print(f"{key:<24}{r['verified_valid_rate']:>8.3f}{r['exact_rate']:>8.3f}"
                  f"{r['stationary_rate']:>8.3f}{r['independent_stationary_rate']:>8.3f}"
                  f"{r['median_distance_l2']:>13.4f}{r['median_ms_per_point']:>9.2f}")
        for meth in args.dice:
            r = res[f"dice_{meth}"]
            cl = r["ours_closer_share_l2"]
            print(f"{'dice_' + meth:<24}{r['valid_rate']:>8.3f}{'':>24}"
                  f"{r['median_distance_l2']:>13.4f}{r['median_ms_per_point']:>9.1f}"
                  f"{(cl if cl is not None else float('nan')):>12.3f}"
                  f"{r['speedup_exact_path']:>8.0f}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
