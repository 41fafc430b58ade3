"""Benchmark: error cohorts, suspicious rows, blame stability and systematic errors on Adult.

Model: scikit-learn GradientBoostingClassifier (default settings, random_state=0) on the
ordinal-encoded Adult training set.

1. Error cohorts (test-set errors): our top slice vs. a decision-tree error-analysis
   baseline (sklearn tree of depth 3 on one-hot features, the leaf with most errors, as in
   Microsoft's Error Analysis) and SliceLine (``sliceline`` package, alpha=0.95): Jaccard
   overlap of the rows, time.
2. Uniform label noise (5 % and 10 % flips of the training labels): precision@k
   (k = number of flips) and AUROC of our suspicious-row ranking vs. the in-sample-loss
   baseline and cleanlab's ``CleanLearning`` (its own 5-fold CV), and the calibrated flag
   count against the true number of flips.
3. Stability of the top-10 suspicious rows across fold seeds (mean pairwise overlap), with
   one K-fold split and with 3 repeated splits averaged (``n_repeats=3``).
4. Consistent relabelling of one sub-population (every positive label of
   ``occupation = Exec-managerial and sex = Female`` set to 0): precision of loss-based
   rankings on the relabelled rows vs. :func:`systematic_errors`.
5. Occurrence blame (Rasouli & Yu's contribution-space neighbourhoods of the anomalies,
   K=50, duplicates collapsed): precision on the flipped rows and top-10 stability across
   seeds of the contributions' background sample.
6. Removal curve: retrain without the top 2/5/10 % rows of the suspicious and the
   occurrence rankings vs. random rows (10 % noise), test accuracy and anomalies fixed.

Run: ``python benchmarks/cohorts.py [--quick]``; writes ``benchmarks/results/cohorts.json``.
"""

from __future__ import annotations

import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from shap_debug.audit import (  # noqa: E402
    collapsed_occurrence,  # noqa: E402
    error_cohorts,
    suspicious_rows,  # noqa: E402
    systematic_errors,
)
from shap_debug.blame import blame_stability, removal_curve  # noqa: E402
from shap_debug.contributions import explain  # noqa: E402
from shap_debug.datasets import adult, encode  # noqa: E402
from shap_debug.neighborhood import NeighborhoodModel  # noqa: E402

from _common import parser, run_info, write_result  # noqa: E402


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def gb(seed: int = 0) -> GradientBoostingClassifier:
    return GradientBoostingClassifier(random_state=seed)


def p_at_k(ranking: np.ndarray, truth: np.ndarray) -> float:
    k = int(truth.sum())
    return float(truth[ranking[:k]].mean())


def bench_cohorts(model, Zt, Xt, yt, repeats: int) -> dict:
    pred = model.predict(Zt)
    errors = pred != yt
    n = len(yt)
    # ours (warm: the first call pays one-off imports)
    error_cohorts(model, Zt, yt, display_data=Xt, random_state=0)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours = error_cohorts(model, Zt, yt, display_data=Xt, random_state=0)
        times.append(time.perf_counter() - t0)
    top = ours.slices[0]
    m_ours = top.mask(n)
    # decision-tree error analysis baseline (one-hot features, leaf with most errors)
    t0 = time.perf_counter()
    onehot = pd.get_dummies(Xt).to_numpy(dtype=np.float64)
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=20, random_state=0)
    tree.fit(onehot, errors)
    leaf = tree.apply(onehot)
    leaves, inv = np.unique(leaf, return_inverse=True)
    n_err = np.bincount(inv, weights=errors)
    m_tree = inv == n_err.argmax()
    t_tree = time.perf_counter() - t0
    out = {
        "n_rows": n, "n_errors": int(errors.sum()), "error_rate": float(errors.mean()),
        "ours": {"rule": top.rule, "share_rows": top.size / n, "share_errors": top.error_share,
                 "error_rate": top.error_rate, "time_s_median": float(np.median(times)),
                 "n_slices": len(ours.slices), "n_leaves": len(ours.leaves)},
        "tree_baseline": {"share_rows": float(m_tree.mean()),
                          "share_errors": float(errors[m_tree].sum() / errors.sum()),
                          "error_rate": float(errors[m_tree].mean()), "time_s": t_tree},
        "jaccard_ours_vs_tree": jaccard(m_ours, m_tree),
    }
    try:
        from sliceline.slicefinder import Slicefinder

        t0 = time.perf_counter()
        disc = Xt.copy()
        for c in disc.columns:
            if not isinstance(disc[c].dtype, pd.CategoricalDtype):
                disc[c] = pd.qcut(disc[c], 5, duplicates="drop").astype(str)
            else:
                disc[c] = disc[c].astype(str)
        sf = Slicefinder(alpha=0.95, k=1, max_l=3, min_sup=int(0.01 * n), verbose=False)
        sf.fit(disc, errors.astype(float))
        m_sl = np.asarray(sf.transform(disc))[:, 0].astype(bool)
        t_sl = time.perf_counter() - t0
        slice_ = {c: v for c, v in zip(disc.columns, sf.top_slices_[0]) if v is not None}
        out["sliceline"] = {"slice": {k: str(v) for k, v in slice_.items()},
                            "share_rows": float(m_sl.mean()),
                            "share_errors": float(errors[m_sl].sum() / errors.sum()),
                            "error_rate": float(errors[m_sl].mean()), "time_s": t_sl}
        out["jaccard_ours_vs_sliceline"] = jaccard(m_ours, m_sl)
        out["jaccard_tree_vs_sliceline"] = jaccard(m_tree, m_sl)
    except ImportError as exc:  # pragma: no cover
        out["sliceline"] = f"not installed: {exc}"
    return out


def bench_noise(Z, y, rate: float, seed: int, with_cleanlab: bool) -> dict:
    rng = np.random.default_rng(seed)
    n = len(y)
    flip = rng.choice(n, int(round(rate * n)), replace=False)
    noisy = y.copy()
    noisy[flip] = 1 - noisy[flip]
    truth = np.zeros(n, dtype=bool)
    truth[flip] = True
    res = {"rate": rate, "n_flipped": len(flip)}
    # in-sample loss baseline
    t0 = time.perf_counter()
    m = gb().fit(Z, noisy)
    p = m.predict_proba(Z)[np.arange(n), noisy]
    loss_rank = np.argsort(p, kind="stable")
    res["loss_baseline"] = {"p_at_k": p_at_k(loss_rank, truth),
                            "auroc": float(roc_auc_score(truth, 1 - p)),
                            "time_s": time.perf_counter() - t0}
    # ours
    t0 = time.perf_counter()
    sus = suspicious_rows(gb(), Z, noisy, cv=5, random_state=0)
    t_ours = time.perf_counter() - t0
    flagged = truth[sus.flagged]
    res["ours"] = {"p_at_k": p_at_k(sus.ranking, truth),
                   "auroc": float(roc_auc_score(truth, sus.scores)), "time_s": t_ours,
                   "n_flagged": sus.n_flagged,
                   "flagged_precision": float(flagged.mean()) if len(flagged) else 0.0,
                   "flagged_recall": float(flagged.sum() / truth.sum())}
    res["ours_minus_loss_p_at_k"] = res["ours"]["p_at_k"] - res["loss_baseline"]["p_at_k"]
    t0 = time.perf_counter()
    sus3 = suspicious_rows(gb(), Z, noisy, cv=5, random_state=0, n_repeats=3)
    res["ours_repeated_cv3"] = {"p_at_k": p_at_k(sus3.ranking, truth),
                                "auroc": float(roc_auc_score(truth, sus3.scores)),
                                "time_s": time.perf_counter() - t0,
                                "n_flagged": sus3.n_flagged}
    if with_cleanlab:
        from cleanlab.classification import CleanLearning

        t0 = time.perf_counter()
        cl = CleanLearning(gb(), cv_n_folds=5, seed=0, verbose=False)
        issues = cl.find_label_issues(Z, noisy)
        t_cl = time.perf_counter() - t0
        q = issues["label_quality"].to_numpy()
        is_issue = issues["is_label_issue"].to_numpy()
        res["cleanlab"] = {"p_at_k": p_at_k(np.argsort(q, kind="stable"), truth),
                           "auroc": float(roc_auc_score(truth, 1 - q)), "time_s": t_cl,
                           "n_flagged": int(is_issue.sum()),
                           "flagged_precision": float(truth[is_issue].mean()),
                           "flagged_recall": float(truth[is_issue].sum() / truth.sum())}
    res["_suspicious"] = sus
    res["_noisy"] = noisy
    res["_truth"] = truth
    return res


def bench_systematic(Z, X, y, max_regions: int) -> dict:
    sub = ((X["occupation"] == "Exec-managerial") & (X["sex"] == "Female")).to_numpy()
    relab = sub & (y == 1)
    yr = y.copy()
    yr[relab] = 0
    n, k = len(y), int(relab.sum())
    m = gb().fit(Z, yr)
    acc_sub_clean = float((m.predict(Z[sub]) == y[sub]).mean())
    loss = -np.log(np.clip(m.predict_proba(Z)[np.arange(n), yr], 1e-12, 1))
    loss_p = float(relab[np.argsort(-loss, kind="stable")[:k]].mean())
    sus = suspicious_rows(gb(), Z, yr, cv=5, random_state=0)
    cv_p = float(relab[sus.ranking[:k]].mean())
    from sklearn.neighbors import NearestNeighbors

    Zs = (Z - Z.mean(0)) / (Z.std(0) + 1e-12)
    _, idx = NearestNeighbors(n_neighbors=11).fit(Zs).kneighbors(Zs)
    disagree = (yr[idx[:, 1:]] != yr[:, None]).mean(axis=1)
    knn_p = float(relab[np.argsort(-disagree, kind="stable")[:k]].mean())
    t0 = time.perf_counter()
    res = systematic_errors(m, Z, yr, display_data=X, max_regions=max_regions, n_jobs=1, random_state=0)
    t_sys = time.perf_counter() - t0
    recheck = res.rows_to_recheck()
    found = [r.name for r in res.fixable]
    clean = systematic_errors(gb().fit(Z, y), Z, y, display_data=X, max_regions=max_regions, random_state=0)
    return {
        "region": "occupation = Exec-managerial and sex = Female, positives relabelled 0",
        "n_region": int(sub.sum()), "n_relabelled": k,
        "accuracy_in_region_vs_clean_labels": acc_sub_clean,
        "accuracy_in_region_clean_model": float((gb().fit(Z, y).predict(Z[sub]) == y[sub]).mean()),
        "precision_at_k": {"in_sample_loss": loss_p, "cv_self_confidence": cv_p,
                           "knn_label_disagreement": knn_p},
        "systematic_errors": {
            "fixable_regions": found,
            "top_region_z": res.fixable[0].z if res.fixable else None,
            "top_region_shift": res.fixable[0].shift if res.fixable else None,
            "top_region_estimated_wrong_labels": res.fixable[0].n_wrong if res.fixable else 0,
            "n_recheck": len(recheck),
            "recheck_precision": float(relab[recheck].mean()) if len(recheck) else 0.0,
            "recheck_recall": float(relab[recheck].sum() / k),
            "n_screened": res.n_screened, "n_refitted": len(res.regions), "time_s": t_sys},
        "clean_labels_false_positives": [r.name for r in clean.fixable],
    }


def main() -> None:
    info = run_info(("cleanlab", "sliceline"))
    ap = parser("cohorts", __doc__, quick="subsample the training set to 12000 rows, fewer "
                "repeats (drawn with --seed)")
    args = ap.parse_args()
    X, y = adult("train")
    Xt, yt = adult("test")
    if args.quick:
        keep = np.random.default_rng(args.seed).choice(len(y), 12000, replace=False)
        X, y = X.iloc[np.sort(keep)].reset_index(drop=True), y[np.sort(keep)]
    Z, enc = encode(X)
    Zt = enc.transform(Xt)
    t_all = time.perf_counter()
    results: dict = {
        "mode": "quick" if args.quick else "full",
        "data": {"train_rows": len(y), "test_rows": len(yt)},
        "model": "GradientBoostingClassifier(random_state=0) on ordinal codes",
    }
    model = gb().fit(Z, y)
    results["test_accuracy"] = float((model.predict(Zt) == yt).mean())
    print("== error cohorts (test set errors)")
    results["cohorts"] = bench_cohorts(model, Zt, Xt, yt, repeats=3 if args.quick else 5)
    c = results["cohorts"]
    print(f"ours: {c['ours']['rule']}\n  rows {c['ours']['share_rows']:.1%} errors "
          f"{c['ours']['share_errors']:.1%} time {c['ours']['time_s_median']:.3f}s")
    print(f"jaccard ours/tree {c['jaccard_ours_vs_tree']:.3f}  ours/sliceline "
          f"{c.get('jaccard_ours_vs_sliceline', float('nan')):.3f}")

    print("== uniform label noise")
    results["label_noise"] = []
    keep_for_curve = None
    for rate in (0.05, 0.10):
        r = bench_noise(Z, y, rate, seed=1, with_cleanlab=True)
        if rate == 0.10:
            keep_for_curve = (r.pop("_suspicious"), r.pop("_noisy"), r.pop("_truth"))
        else:
            for key in ("_suspicious", "_noisy", "_truth"):
                r.pop(key)
        results["label_noise"].append(r)
    print(f"{'rate':>5} {'method':>18} {'P@k':>6} {'AUROC':>6} {'flagged':>8} {'time s':>7}")
    for r in results["label_noise"]:
        for name in ("ours", "ours_repeated_cv3", "loss_baseline", "cleanlab"):
            v = r[name]
            print(f"{r['rate']:>5.2f} {name:>18} {v['p_at_k']:>6.3f} {v['auroc']:>6.3f} "
                  f"{v.get('n_flagged', '-')!s:>8} {v['time_s']:>7.1f}")
    results["acceptance_ours_not_worse_than_loss_by_0.02"] = all(
        r["ours_minus_loss_p_at_k"] >= -0.02 for r in results["label_noise"])

    print("== stability of the top-10 suspicious rows across fold seeds (10 % noise)")
    _, noisy, truth = keep_for_curve
    seeds = [0, 1, 2] if args.quick else [0, 1, 2, 3, 4]
    results["stability"] = {"k": 10, "seeds": seeds}
    for reps in (1, 3):
        t0 = time.perf_counter()
        stab = blame_stability(
            lambda s, r=reps: suspicious_rows(gb(), Z, noisy, cv=5, random_state=s,
                                              n_repeats=r), k=10, seeds=seeds)
        results["stability"][f"n_repeats={reps}"] = {
            "mean_overlap": stab.mean_overlap, "min_overlap": stab.min_overlap,
            "time_s": time.perf_counter() - t0, "acceptance_ge_0.8": stab.mean_overlap >= 0.8}
        print(f"n_repeats={reps}: mean overlap {stab.mean_overlap:.3f}  "
              f"min {stab.min_overlap:.3f}")

    print("== occurrence blame (contribution-space neighbourhoods of the anomalies)")
    noisy_model = gb().fit(Z, noisy)
    occ_rankings = []
    t0 = time.perf_counter()
    for s_ in seeds:  # the background sample of the contributions changes with the seed
        exp = explain(noisy_model, Z, random_state=s_, progress=False)
        nbm = NeighborhoodModel(n_neighbors=50, model=noisy_model).fit(
            Z, noisy, contributions=exp, progress=False)
        occ_rankings.append(collapsed_occurrence(nbm))
    t_occ = (time.perf_counter() - t0) / len(seeds)
    occ_stab = blame_stability(occ_rankings, k=10)
    occ_top = occ_rankings[0].top(int(truth.sum()))
    results["occurrence_blame"] = {
        "n_neighbors": 50, "n_anomalies": int(len(nbm.anomalies_)),
        "flip_precision_at_k": float(truth[occ_top].mean()),
        "stability_top10_across_background_seeds": occ_stab.mean_overlap,
        "stability_min": occ_stab.min_overlap, "time_s_per_seed": t_occ}
    print(f"precision@k of occurrence on flips {truth[occ_top].mean():.3f}; top-10 overlap "
          f"across background seeds {occ_stab.mean_overlap:.3f}")

    print("== removal curve (10 % noise, suspicious / occurrence ranking vs random)")
    sus = keep_for_curve[0]
    t0 = time.perf_counter()
    curve = removal_curve(gb(), Z, noisy, {"suspicious": sus, "occurrence": occ_rankings[0]},
                          X_test=Zt, y_test=yt, fractions=[0.02, 0.05, 0.1], n_random=2,
                          progress=False, random_state=0)
    results["removal_curve"] = {"frame": curve.to_frame().to_dict(orient="records"),
                                "baseline_test_accuracy": curve.baseline_accuracy,
                                "n_anomalies": curve.n_anomalies,
                                "verdicts": curve.verdicts(),
                                "time_s": time.perf_counter() - t0}
    print(curve.to_frame().to_string(index=False))

    print("== consistent relabelling of one sub-population")
    results["systematic"] = bench_systematic(Z, X, y, max_regions=4 if args.quick else 8)
    s = results["systematic"]
    print(json.dumps(s, indent=1))
    results["total_time_s"] = time.perf_counter() - t_all
    write_result(args.out, "cohorts", info, args, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
