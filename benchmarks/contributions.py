"""Benchmark: our Shapley estimator vs shap.PermutationExplainer on Adult + GradientBoosting.

Explains 1,000 Adult training rows (100 background rows) with both estimators in the same
run and measures the mean absolute error of each against exact references:

- **probability** (what ``explain`` returns by default): brute-force exact Shapley values of
  the probability game (all 2^12 coalitions x 100 background rows) on the first 100 rows,
  and exact interventional TreeSHAP (``model_output="probability"``), the reference the
  issue names. TreeSHAP's probability output is not the probability game's Shapley value
  (it rescales log-odds values; 0.002 off brute force), so that column is floored for
  everybody and is reported for completeness;
- **log-odds** (``output="log_odds"``; the peer explains ``decision_function``): exact
  interventional TreeSHAP with ``model_output="raw"``, exact on this scale.

Errors are means over ``--seeds`` seeds for both estimators: ours shares one base order
per background row across all explained rows, so its errors are correlated across rows and
one seed's MAE moves by ~10 % (the peer's, with independent permutations per row, by 2-5 %).

Also: our estimator on both cores, with the control variate, with one pair; the whole Adult
training set; a Pipeline with string columns (one contribution per raw column); how much
the K nearest neighbours in contribution space move between the estimate and the truth.

Usage: ``python benchmarks/contributions.py [--quick]``; writes
``benchmarks/results/contributions.json``.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import shap
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shap_debug import explain
from shap_debug.datasets import adult, encode

from _common import parser, run_info, write_result


def brute_force(model, x, bg):
    """Exact interventional Shapley values of predict_proba[:, 1] for one row."""
    d = len(x)
    masks = np.array(list(itertools.product([0, 1], repeat=d)), dtype=bool)
    rows = np.where(masks[:, None, :], x[None, None, :], bg[None, :, :]).reshape(-1, d)
    v = model.predict_proba(rows)[:, 1].reshape(len(masks), len(bg)).mean(1)
    code = masks @ (1 << np.arange(d)[::-1])
    pos = np.empty(1 << d, dtype=np.int64)
    pos[code] = np.arange(len(masks))
    sizes = masks.sum(1)
    w = np.array([math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d)
                  if s < d else 0.0 for s in sizes])
    phi = np.zeros(d)
    for j in range(d):
        without = ~masks[:, j]
        with_j = pos[code[without] | (1 << (d - 1 - j))]
        phi[j] = (w[without] * (v[with_j] - v[without])).sum()
    return phi


def knn_overlap(a, b, k):
    ia = NearestNeighbors(n_neighbors=k).fit(a).kneighbors(a, return_distance=False)
    ib = NearestNeighbors(n_neighbors=k).fit(b).kneighbors(b, return_distance=False)
    return float(np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(ia, ib)]))


def timed(fn, repeat=1):
    """(result, best wall time over ``repeat`` runs)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main() -> None:
    info = run_info()
    ap = parser("contributions", __doc__, quick="fewer rows for the slow peer")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--exact-rows", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=5, help="seeds the errors are averaged over")
    args = ap.parse_args()
    n_rows = 200 if args.quick else args.rows

    X, y = adult()
    Z, _ = encode(X)
    model = GradientBoostingClassifier(random_state=0).fit(Z, y)
    rng = np.random.default_rng(args.seed)   # the rows explained and the background
    bg = Z[np.sort(rng.choice(len(Z), 100, replace=False))]
    rows = Z[rng.choice(len(Z), n_rows, replace=False)]
    ne = min(args.exact_rows, n_rows)

    def mae(a, b):
        return float(np.abs(a - b).mean())

    # exact references
    tree, t_tree = timed(lambda: explain(model, rows, bg, method="tree",
                                         progress=False, random_state=0).values[:, :, 1])
    tree_raw = explain(model, rows, bg, method="tree", output="log_odds",
                       progress=False, random_state=0).values[:, :, 1]
    exact, t_exact = timed(lambda: np.array([brute_force(model, r, bg) for r in rows[:ne]]))

    # ours: each configuration timed as the best of 3 runs (the peer, at ~25 s, once)
    explain(model, rows[:20], bg, method="sampling", progress=False, random_state=0)   # warm imports/caches
    configs = {
        "ours": {},
        "ours_1_pair": {"n_permutations": 1},
        "ours_control_variate": {"control_variate": True},
        "ours_4_pairs_control_variate": {"n_permutations": 4, "control_variate": True},
    }
    res_ours = {}
    for name, kw in configs.items():
        vals, t = timed(lambda kw=kw: explain(model, rows, bg, method="sampling",
                                              random_state=0, progress=False,
                                              **kw).values[:, :, 1], repeat=3)
        res_ours[name] = (vals, t, kw)
    ours = res_ours["ours"][0]
    seeds = range(1, args.seeds)

    def errors(kw, first, ref, n):
        """MAE against ``ref`` on the first ``n`` rows, for seed 0 (``first``) and the others."""
        out = [mae(first[:n], ref[:n])]
        for sd in seeds:
            v = explain(model, rows[:n], bg, method="sampling", random_state=sd,
                        progress=False, **kw).values[:, :, 1]
            out.append(mae(v, ref[:n]))
        return out

    ours_raw, t_raw = timed(lambda: explain(model, rows, bg, method="sampling",
                                            output="log_odds", random_state=0,
                                            progress=False).values[:, :, 1], repeat=3)
    ours_raw3, t_raw3 = timed(lambda: explain(model, rows, bg, method="sampling",
                                              output="log_odds", n_permutations=3,
                                              random_state=0,
                                              progress=False).values[:, :, 1], repeat=3)
    by_seed = {name: errors(kw, vals, exact, ne) for name, (vals, _, kw) in res_ours.items()}
    raw_by_seed = {"ours": errors({"output": "log_odds"}, ours_raw, tree_raw, n_rows),
                   "ours_3_pairs": errors({"output": "log_odds", "n_permutations": 3},
                                          ours_raw3, tree_raw, n_rows)}
    # both cores: the first call pays joblib's worker start-up, later ones are warm
    explain(model, rows, bg, method="sampling", n_jobs=2, progress=False, random_state=0)
    _, t_par = timed(lambda: explain(model, rows, bg, method="sampling", n_jobs=2,
                                     batch_rows=500_000, progress=False, random_state=0), repeat=3)

    # the peer, on the same function for each scale
    pe = shap.PermutationExplainer(lambda A: model.predict_proba(A)[:, 1],
                                   shap.maskers.Independent(bg, max_samples=len(bg)), seed=0)
    pe(rows[:5], silent=True)   # warm-up outside the timing (shap compiles numba code)
    perm, t_perm = timed(lambda: pe(rows, silent=True).values)
    pe_raw = shap.PermutationExplainer(model.decision_function,
                                       shap.maskers.Independent(bg, max_samples=len(bg)),
                                       seed=0)
    pe_raw(rows[:5], silent=True)
    perm_raw, t_perm_raw = timed(lambda: pe_raw(rows, silent=True).values)
    # the peer's error for more seeds (fresh explainers; numba is compiled by now)
    peer_by_seed = [mae(perm[:ne], exact)] + [mae(shap.PermutationExplainer(
        lambda A: model.predict_proba(A)[:, 1], shap.maskers.Independent(bg, max_samples=len(bg)),
        seed=sd)(rows[:ne], silent=True).values, exact) for sd in seeds]
    peer_raw_by_seed = [mae(perm_raw, tree_raw)] + [mae(shap.PermutationExplainer(
        model.decision_function, shap.maskers.Independent(bg, max_samples=len(bg)),
        seed=sd)(rows, silent=True).values, tree_raw) for sd in seeds]

    # seed study on the exact rows: how far one seed's MAE moves, and that the average of
    # many seeds converges to the brute-force values (unbiased), not to TreeSHAP's
    study = [explain(model, rows[:ne], bg, method="sampling", random_state=sd,
                     progress=False).values[:, :, 1] for sd in range(16)]
    seed_study = {
        "seeds": 16,
        "ours_mae_vs_bruteforce": [mae(v, exact) for v in study],
        "ours_mae_vs_treeshap": [mae(v, tree[:ne]) for v in study],
        "average_of_16_mae_vs_bruteforce": mae(np.mean(study, 0), exact),
        "average_of_16_mae_vs_treeshap": mae(np.mean(study, 0), tree[:ne]),
        "peer_seed0_mae_vs_treeshap": mae(perm[:ne], tree[:ne]),
        "bruteforce_mae_vs_treeshap": mae(exact, tree[:ne]),
    }

    full, t_full = timed(lambda: explain(model, Z, bg, method="sampling", progress=False, random_state=0))
    eff = float(np.abs(full.values.sum(1) + full.base_values - model.predict_proba(Z)).max())

    # a Pipeline that takes the raw frame with string columns: one contribution per column
    Xs = X.astype({c: str for c in X.select_dtypes("category").columns})
    cats = list(X.select_dtypes("category").columns)
    pipe = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), cats)],
                          remainder="passthrough"),
        GradientBoostingClassifier(random_state=0)).fit(Xs, y)
    ridx = rng.choice(len(Xs), n_rows, replace=False)
    _, t_pipe = timed(lambda: explain(
        pipe, Xs.iloc[ridx], Xs.iloc[np.sort(rng.choice(len(Xs), 100, replace=False))],
        progress=False, random_state=0))

    # the control variate on models that are not near-additive in log-odds (20 rows)
    others = {
        "random_forest": RandomForestClassifier(100, min_samples_leaf=5, random_state=0),
        "mlp": make_pipeline(StandardScaler(), MLPClassifier((64, 32), max_iter=200,
                                                             random_state=0)),
    }
    cv_other = {}
    for name, m in others.items():
        m.fit(Z[:8000], y[:8000])
        ex = np.array([brute_force(m, r, bg) for r in rows[:20]])
        errs = [mae(explain(m, rows[:20], bg, method="sampling", control_variate=cv,
                            progress=False, random_state=0).values[:, :, 1], ex) for cv in (False, True)]
        cv_other[name] = {"mae_without": errs[0], "mae_with": errs[1],
                          "ratio": errs[1] / errs[0]}

    peer = {"seconds": t_perm, "rows_per_s": n_rows / t_perm,
            "mae_vs_bruteforce": mae(perm[:ne], exact), "mae_vs_treeshap": mae(perm, tree),
            "mae_vs_bruteforce_by_seed": peer_by_seed,
            "mae_vs_bruteforce_mean": float(np.mean(peer_by_seed))}
    out = {}
    for name, (vals, t, kw) in res_ours.items():
        out[name] = {"options": kw, "seconds": t, "rows_per_s": n_rows / t,
                     "speedup_vs_permutation": t_perm / t,
                     "mae_vs_bruteforce": mae(vals[:ne], exact),
                     "mae_vs_treeshap": mae(vals, tree),
                     "mae_vs_bruteforce_by_seed": by_seed[name],
                     "mae_vs_bruteforce_mean": float(np.mean(by_seed[name]))}
        out[name]["target_met"] = bool(out[name]["speedup_vs_permutation"] >= 30
                                       and out[name]["mae_vs_bruteforce_mean"]
                                       <= peer["mae_vs_bruteforce_mean"])
    k = 50
    res = {
        "setting": {
            "data": "Adult train (ordinal codes, 12 features)",
            "model": "GradientBoostingClassifier(random_state=0), 100 trees",
            "background_rows": len(bg), "explained_rows": n_rows,
            "exact_rows": ne, "quick": args.quick,
            "timing": "ours: best of 3 runs; peer: one run after a warm-up call; one core, "
                      "OMP_NUM_THREADS=1, otherwise idle machine",
            "errors": f"mean over seeds 0..{args.seeds - 1} for both estimators (seed 0 is "
                      "the timed run); target_met compares the means",
        },
        "probability": {
            **out,
            "ours_two_cores": {"seconds_warm": t_par, "speedup_vs_permutation": t_perm / t_par},
            "permutation_explainer": peer,
            "treeshap": {"seconds": t_tree, "mae_vs_bruteforce": mae(tree[:ne], exact)},
            "bruteforce_seconds": t_exact,
            "seed_study_on_exact_rows": seed_study,
        },
        "log_odds": {
            "reference": "exact interventional TreeSHAP, model_output='raw'",
            "ours": {"seconds": t_raw, "mae_vs_treeshap": mae(ours_raw, tree_raw),
                     "speedup_vs_permutation": t_perm_raw / t_raw,
                     "mae_vs_treeshap_by_seed": raw_by_seed["ours"],
                     "mae_vs_treeshap_mean": float(np.mean(raw_by_seed["ours"]))},
            "ours_3_pairs": {"options": {"n_permutations": 3}, "seconds": t_raw3,
                             "mae_vs_treeshap": mae(ours_raw3, tree_raw),
                             "speedup_vs_permutation": t_perm_raw / t_raw3,
                             "mae_vs_treeshap_by_seed": raw_by_seed["ours_3_pairs"],
                             "mae_vs_treeshap_mean": float(np.mean(raw_by_seed["ours_3_pairs"]))},
            "permutation_explainer": {"seconds": t_perm_raw,
                                      "mae_vs_treeshap": mae(perm_raw, tree_raw),
                                      "mae_vs_treeshap_by_seed": peer_raw_by_seed,
                                      "mae_vs_treeshap_mean": float(np.mean(peer_raw_by_seed))},
        },
        "full_training_set": {"rows": len(Z), "seconds": t_full,
                              "max_efficiency_error": eff},
        "pipeline_with_string_columns": {"rows": n_rows, "seconds": t_pipe},
        "control_variate_other_models": cv_other,
        f"knn{k}_overlap_with_bruteforce": {
            "ours": knn_overlap(ours[:ne], exact, min(k, ne - 1)),
            "permutation_explainer": knn_overlap(perm[:ne], exact, min(k, ne - 1))},
    }
    for name in ("ours", "ours_3_pairs"):
        res["log_odds"][name]["target_met"] = bool(
            res["log_odds"][name]["speedup_vs_permutation"] >= 30
            and res["log_odds"][name]["mae_vs_treeshap_mean"]
            <= res["log_odds"]["permutation_explainer"]["mae_vs_treeshap_mean"])
    write_result(args.out, "contributions", info, args, res)

    def spread(v):
        return f"{np.mean(v):.6f} ({min(v):.6f}-{max(v):.6f})"

    print(f"probability scale ({n_rows} rows; exact = brute force on {ne} rows; "
          f"MAE vs exact: mean (range) over {args.seeds} seeds; vs TreeSHAP: seed 0)")
    print(f"{'estimator':<30}{'seconds':>8}{'speed-up':>10}{'MAE vs exact':>32}"
          f"{'vs TreeSHAP':>13}")
    for name, r in out.items():
        print(f"{name:<30}{r['seconds']:>8.2f}{r['speedup_vs_permutation']:>9.1f}x"
              f"{spread(r['mae_vs_bruteforce_by_seed']):>32}{r['mae_vs_treeshap']:>13.6f}")
    print(f"{'PermutationExplainer':<30}{t_perm:>8.2f}{'1.0x':>10}"
          f"{spread(peer_by_seed):>32}{peer['mae_vs_treeshap']:>13.6f}")
    print(f"{'TreeSHAP (probability output)':<30}{t_tree:>8.2f}{'':>10}"
          f"{res['probability']['treeshap']['mae_vs_bruteforce']:>32.6f}{'-':>13}")
    st = seed_study
    print(f"on the {ne} exact rows, 16 seeds of ours: MAE vs exact "
          f"{spread(st['ours_mae_vs_bruteforce'])}, vs TreeSHAP {spread(st['ours_mae_vs_treeshap'])}; "
          f"their average: {st['average_of_16_mae_vs_bruteforce']:.6f} vs exact, "
          f"{st['average_of_16_mae_vs_treeshap']:.6f} vs TreeSHAP; peer seed 0 vs TreeSHAP "
          f"{st['peer_seed0_mae_vs_treeshap']:.6f}; exact vs TreeSHAP "
          f"{st['bruteforce_mae_vs_treeshap']:.6f}")
    print(f"ours on both cores (n_jobs=2, warm): {t_par:.2f} s ({t_perm / t_par:.1f}x)")
    lo = res["log_odds"]
    print(f"log-odds scale vs exact TreeSHAP (raw), MAE mean (range) over {args.seeds} seeds:")
    for name in ("ours", "ours_3_pairs"):
        print(f"  {name:<14}{lo[name]['seconds']:>7.2f} s {lo[name]['speedup_vs_permutation']:>6.1f}x"
              f"  MAE {spread(lo[name]['mae_vs_treeshap_by_seed'])}")
    print(f"  {'peer':<14}{t_perm_raw:>7.2f} s {'1.0x':>7}  MAE {spread(peer_raw_by_seed)}")
    print(f"whole Adult training set ({len(Z)} rows): {t_full:.1f} s, "
          f"max |sum(phi) - (f(x) - E f)| = {eff:.1e}")
    print(f"Pipeline with string columns, {n_rows} rows: {t_pipe:.2f} s")
    for name, r in cv_other.items():
        print(f"control variate on {name} (20 rows): MAE {r['mae_without']:.6f} -> "
              f"{r['mae_with']:.6f} ({r['ratio']:.2f}x)")
    print(f"kNN-{k} overlap with the exact neighbourhoods: "
          f"{res[f'knn{k}_overlap_with_bruteforce']}")


if __name__ == "__main__":
    main()
