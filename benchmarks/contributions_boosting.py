"""Benchmark: the XGBoost and LightGBM rows of the contributions benchmark.

Same setting as ``benchmarks/contributions.py`` (Adult train, ordinal codes, 12 features,
1,000 explained rows, 100 background rows), with an ``XGBClassifier`` and an
``LGBMClassifier`` (100 trees each, one thread):

- **TreeSHAP fast path**: the time of exact interventional TreeSHAP (``shap.TreeExplainer``,
  probability and raw log-odds output), what :func:`shap_debug.explain` and the Debugger
  pick for these models;
- **our estimator** (``method="sampling"``, two antithetic pairs): its time and its mean
  absolute error against exact references: brute-force Shapley values of the probability
  game (all 2^12 coalitions x 100 background rows) on the first ``--exact`` rows, TreeSHAP's
  probability output (not the probability game's Shapley value: a floor for everybody, as
  in the GradientBoosting benchmark) and TreeSHAP's raw output for ``output="log_odds"``
  (exact on that scale). Errors are means over ``--seeds`` seeds;
- **native categories**: the same libraries trained on the pandas ``category`` columns
  (``enable_categorical`` / LightGBM categories), where shap has only path-dependent
  TreeSHAP in log-odds: the time of that fast path, which the Debugger takes for them.

Usage: ``python benchmarks/contributions_boosting.py [--quick]``; writes
``benchmarks/results/contributions_boosting.json``.
"""

from __future__ import annotations

import itertools
import os
import time

import numpy as np
import shap

from shap_debug import explain
from shap_debug.datasets import adult, encode

from _common import parser, run_info, write_result


def brute_force(model, x, bg):
    """Exact interventional Shapley values of predict_proba[:, 1] for one row."""
    from math import factorial

    d = len(x)
    masks = np.array(list(itertools.product([0, 1], repeat=d)), dtype=bool)
    rows = np.where(masks[:, None, :], x[None, None, :], bg[None, :, :]).reshape(-1, d)
    v = model.predict_proba(rows)[:, 1].reshape(len(masks), len(bg)).mean(1)
    index = {tuple(m): k for k, m in enumerate(masks)}
    phi = np.zeros(d)
    for k, m in enumerate(masks):
        s = int(m.sum())
        for j in np.flatnonzero(~m):
            w = factorial(s) * factorial(d - s - 1) / factorial(d)
            with_j = m.copy()
            with_j[j] = True
            phi[j] += w * (v[index[tuple(with_j)]] - v[k])
    return phi


def timed(fn, repeats=1):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def treeshap(model, rows, bg, output):
    te = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional",
                            model_output=output)
    vals = np.asarray(te.shap_values(rows, check_additivity=False))
    return vals.reshape(len(rows), rows.shape[1], -1)[..., -1]


def bench_model(name, model, Z, rows, bg, n_exact, seeds):
    ref_p, t_p = timed(lambda: treeshap(model, rows, bg, "probability"), 3)
    ref_raw, t_raw = timed(lambda: treeshap(model, rows, bg, "raw"), 3)
    t0 = time.perf_counter()
    exact = np.array([brute_force(model, rows[i], bg) for i in range(n_exact)])
    t_exact = time.perf_counter() - t0
    out = {"model": name, "treeshap_probability_s": t_p, "treeshap_log_odds_s": t_raw,
           "bruteforce_rows": n_exact, "bruteforce_s": t_exact}
    for label, output, ref in (("probability", "probability", ref_p),
                               ("log_odds", "log_odds", ref_raw)):
        maes, maes_exact, times = [], [], []
        for seed in seeds:
            exp, secs = timed(lambda s=seed, o=output: explain(
                model, rows, bg, method="sampling", output=o, random_state=s,
                progress=False), 1)
            vals = exp.values[..., 1]
            times.append(secs)
            maes.append(float(np.abs(vals - ref).mean()))
            if output == "probability":
                maes_exact.append(float(np.abs(vals[:n_exact] - exact).mean()))
        res = {"seconds": times[0], "rows_per_s": len(rows) / times[0],
               "mae_vs_treeshap_mean": float(np.mean(maes)), "mae_vs_treeshap_by_seed": maes,
               "mean_abs_value": float(np.abs(ref).mean()),
               "slowdown_vs_treeshap": times[0] / (t_p if output == "probability" else t_raw)}
        if maes_exact:
            res["mae_vs_bruteforce_mean"] = float(np.mean(maes_exact))
            res["mae_vs_bruteforce_by_seed"] = maes_exact
            res["treeshap_mae_vs_bruteforce"] = float(np.abs(ref_p[:n_exact] - exact).mean())
        out[label] = res
    return out


def native(name, X, y, n_rows):
    import lightgbm as lgb
    import xgboost as xgb

    Xs = X.iloc[:n_rows]
    if name == "xgboost":
        model = xgb.XGBClassifier(n_estimators=100, max_depth=4, enable_categorical=True,
                                  tree_method="hist", n_jobs=1).fit(X, y)
    else:
        model = lgb.LGBMClassifier(n_estimators=100, n_jobs=1, verbose=-1).fit(X, y)
    from shap_debug.contributions import explain_plan

    plan = explain_plan(model, Xs, output="auto")
    exp, secs = timed(lambda: explain(model, Xs, method=plan.method, output=plan.output,
                                      progress=False, random_state=0), 3)
    p = model.predict_proba(Xs)[:, 1]
    err = float(np.abs(exp.values[..., 1].sum(1) + exp.base_values[:, 1]
                       - np.log(p / (1 - p))).max())
    return {"model": name, "method": plan.description, "seconds": secs,
            "rows_per_s": n_rows / secs, "efficiency_max_error": err}


def main():
    import lightgbm as lgb
    import xgboost as xgb

    info = run_info(("xgboost", "lightgbm"))
    info["machine"]["load_average_at_start"] = list(os.getloadavg())
    ap = parser("contributions_boosting", __doc__, quick="20 exact rows, 2 seeds")
    ap.add_argument("--exact", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=None)
    args = ap.parse_args()
    n_exact = args.exact or (20 if args.quick else 50)
    seeds = list(range(args.seeds or (2 if args.quick else 3)))
    X, y = adult()
    Z, _ = encode(X, kind="ordinal")
    rng = np.random.default_rng(args.seed)   # the rows explained and the background
    rows = Z[rng.choice(len(Z), 1000, replace=False)]
    bg = Z[rng.choice(len(Z), 100, replace=False)]
    models = {
        "xgboost": xgb.XGBClassifier(n_estimators=100, max_depth=4, n_jobs=1).fit(Z, y),
        "lightgbm": lgb.LGBMClassifier(n_estimators=100, n_jobs=1, verbose=-1).fit(Z, y),
    }
    results = {
        "setting": {
            "data": "Adult train (ordinal codes, 12 features)",
            "models": "XGBClassifier(n_estimators=100, max_depth=4), "
                      "LGBMClassifier(n_estimators=100); one thread each",
            "explained_rows": len(rows), "background_rows": len(bg),
            "exact_rows": n_exact, "seeds": seeds, "quick": args.quick,
            "timing": "TreeSHAP: best of 3; ours: seed 0's run; OMP_NUM_THREADS=1",
        },
        "ordinal_codes": [bench_model(k, m, Z, rows, bg, n_exact, seeds)
                          for k, m in models.items()],
        "native_categories": [native(k, X, y, 1000) for k in ("xgboost", "lightgbm")],
    }
    write_result(args.out, "contributions_boosting", info, args, results)
    for r in results["ordinal_codes"]:
        print(f"{r['model']}: TreeSHAP {r['treeshap_probability_s']:.2f} s; ours "
              f"{r['probability']['seconds']:.2f} s, MAE vs brute force "
              f"{r['probability']['mae_vs_bruteforce_mean']:.5f}, vs TreeSHAP log-odds "
              f"{r['log_odds']['mae_vs_treeshap_mean']:.4f}")
    for r in results["native_categories"]:
        print(f"{r['model']} (categories): {r['method']}, {r['seconds']:.2f} s")


if __name__ == "__main__":
    main()
