"""Benchmark: label-flip dose-response per space on Adult GB, and what the lift ranking of
recurring rows is worth.

1. Dose-response (issue 17 item 3). The ``make report`` setting (``shap_debug.cli``): Adult
   (``adult()``, 32,561 rows), ordinal codes, stratified 80/20 split with seed 0,
   ``GradientBoostingClassifier(random_state=0)`` on the training part, contributions from
   ``explain`` (TreeSHAP), ``K = clip(n // 5, 10, 2000)``. For the ``--anomalies`` most
   confidently wrong training rows (the report inspects 3), :func:`dose_response` finds in
   each space (contributions / features / probabilities) the smallest number of the
   anomaly's nearest other rows whose relabelling flips its prediction (doubling then
   bisection, cap ``min(K, 2000)``). Acceptance: contributions need fewer relabelled
   neighbours than features for most inspected anomalies -- or the docs say it does not.
2. Recurring rows (issue 17 item 4). The setting of ``benchmarks/cohorts.py``'s occurrence
   blame (12,000-row Adult subsample, 10 % of the labels flipped with seed 1, GB on the
   noisy labels, contribution-space neighbourhoods of K = 50): precision on the flipped
   rows of the top of the lift ranking (:func:`recurring_rows`) against the raw-count
   ranking (duplicates collapsed) and the noise rate.

Run: ``python benchmarks/dose_response.py [--quick] [--anomalies N] [--n-jobs J]``; writes
``benchmarks/results/dose_response.json``. ``--quick`` subsamples Adult to 6,000 rows before
the split (so K = 960) and inspects 10 anomalies; the full run refits GB on 26,048 rows
(several seconds a fit) about 2 log2(k) times per anomaly and space.
"""

from __future__ import annotations

import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.stats import binomtest  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from shap_debug.audit import collapsed_occurrence, duplicate_groups  # noqa: E402
from shap_debug.blame import (
    dose_response,  # noqa: E402
    recurring_rows,  # noqa: E402
)
from shap_debug.contributions import explain  # noqa: E402
from shap_debug.datasets import adult, encode  # noqa: E402
from shap_debug.neighborhood import NeighborhoodModel  # noqa: E402

from _common import parser, run_info, write_result  # noqa: E402


def bench_dose(quick: bool, n_anomalies: int, n_jobs: int, seed: int = 0) -> dict:
    X, y = adult()
    if quick:
        keep = np.sort(np.random.default_rng(seed).choice(len(y), 6000, replace=False))
        X, y = X.iloc[keep].reset_index(drop=True), y[keep]
    Z, _ = encode(X, kind="ordinal")
    tr, te = train_test_split(np.arange(len(Z)), test_size=0.2, random_state=seed, stratify=y)
    Ztr, ytr = Z[tr], y[tr]
    t0 = time.perf_counter()
    model = GradientBoostingClassifier(random_state=seed).fit(Ztr, ytr)
    t_fit = time.perf_counter() - t0
    k = int(np.clip(len(ytr) // 5, 10, 2000))
    t0 = time.perf_counter()
    nbm = NeighborhoodModel(n_neighbors=k, model=model, random_state=seed).fit(
        Ztr, ytr, progress=False)
    t_nbm = time.perf_counter() - t0
    print(f"train rows {len(ytr)}, K = {k}, anomalies {len(nbm.anomalies_)}, "
          f"GB fit {t_fit:.1f} s, contributions + index {t_nbm:.1f} s")
    dr = dose_response(nbm, n_anomalies, n_jobs=n_jobs, random_state=seed, progress=True)
    table = dr.table()
    print(table.to_string())
    verdict = dr.verdict()
    print(verdict)
    M = dr.k_matrix().dropna()
    fewer = int(np.sum(M["contributions"] < M["features"]))
    more = int(np.sum(M["contributions"] > M["features"]))
    rate = dr.rate_at()
    print("fixed-K rate (read off the search):",
          ", ".join(f"{r.space} {r.rate:.2f}" for r in rate.itertuples()))
    rec = dr.to_frame()
    # identical copies of each anomaly (same features): the nearest feature-space rows
    groups = duplicate_groups(Ztr)
    copies = []
    for a in dr.anomalies:
        same = np.setdiff1d(np.flatnonzero(groups == groups[a]), [a])
        copies.append({"anomaly": int(a), "identical_rows": int(len(same)),
                       "identical_rows_with_its_label": int(np.sum(ytr[same] == ytr[a]))})
    print("identical copies of the anomalies:",
          ", ".join(f"{c['anomaly']}: {c['identical_rows']}" for c in copies))
    return {
        "setting": {"data": "adult() subsample of 6000 rows" if quick else "adult() 32561 rows",
                    "split": f"train_test_split(test_size=0.2, random_state={seed}, "
                             "stratify=y)",
                    "train_rows": int(len(ytr)), "model": "GradientBoostingClassifier("
                    f"random_state={seed}) on ordinal codes", "K": k, "k_max": dr.k_max,
                    "anomalies": f"{n_anomalies} most confidently wrong training rows",
                    "relabelling": "k nearest other rows get the other label (label-flip "
                    "check, include_anomaly=False)", "search": "doubling+bisection"},
        "n_train_anomalies": int(len(nbm.anomalies_)),
        "identical_copies": copies,
        "confidence": [float(nbm.proba_[a, nbm.predicted_[a]]) for a in dr.anomalies],
        "records": json.loads(rec.astype({"k_min": "float64"}).to_json(orient="records")),
        "table": {str(a): row for a, row in table.to_dict(orient="index").items()},
        "medians": {s: (None if not np.isfinite(v) else v) for s, v in dr.medians().items()},
        "medians_note": "null: more than half of the anomalies did not flip within k_max",
        "rate_at_K": rate.to_dict(orient="records"),
        "verdict": verdict,
        "contributions_fewer_than_features": fewer,
        "contributions_more_than_features": more,
        "n_compared": int(len(M)),
        "acceptance_contributions_fewer_for_most": bool(fewer > len(M) / 2),
        "retrains": int(rec["retrains"].sum()),
        "trials": json.loads(dr.trials.to_json(orient="records")),
        "time_s": dr.time_s,
        "mean_fit_s": dr.time_s / max(int(rec["retrains"].sum()) + 1, 1),
        "gb_fit_s": t_fit,
    }


def bench_recurrence(seed: int = 0) -> dict:
    X, y = adult("train")
    keep = np.random.default_rng(seed).choice(len(y), 12000, replace=False)
    X, y = X.iloc[np.sort(keep)].reset_index(drop=True), y[np.sort(keep)]
    Z, _ = encode(X)
    rng = np.random.default_rng(seed + 1)
    n = len(y)
    flip = rng.choice(n, int(round(0.10 * n)), replace=False)
    noisy = y.copy()
    noisy[flip] = 1 - noisy[flip]
    truth = np.zeros(n, dtype=bool)
    truth[flip] = True
    model = GradientBoostingClassifier(random_state=seed).fit(Z, noisy)
    exp = explain(model, Z, random_state=seed, progress=False)
    nbm = NeighborhoodModel(n_neighbors=50, model=model).fit(Z, noisy, contributions=exp,
                                                              progress=False)
    t0 = time.perf_counter()
    rec = recurring_rows(nbm, random_state=seed)
    t_rec = time.perf_counter() - t0
    count = collapsed_occurrence(nbm).top(n)
    out = {"setting": "12000-row Adult subsample, 10 % labels flipped (seed 1), GB on the "
                      "noisy labels, contribution space, K=50, exclude_self=True",
           "n_flipped": int(truth.sum()), "noise_rate": float(truth.mean()),
           "n_anomalies": int(len(rec.anomalies)), "n_reference": int(len(rec.reference)),
           "n_ranked_by_lift": int(len(rec.ranking)), "min_count": rec.min_count,
           "prior": rec.prior, "time_s": t_rec, "precision": {}}
    lift_rank = rec.ranking
    rate = float(truth.mean())
    for k in (15, 100, 500, int(truth.sum())):
        hits_l, hits_c = int(truth[lift_rank[:k]].sum()), int(truth[count[:k]].sum())
        m = int(min(k, len(lift_rank)))
        out["precision"][str(k)] = {
            "lift": hits_l / m if m else None, "lift_rows": m,
            "lift_p_value": float(binomtest(hits_l, m, rate, "greater").pvalue) if m else None,
            "count": hits_c / k,
            "count_p_value": float(binomtest(hits_c, k, rate, "greater").pvalue)}
    top = rec.to_frame().head(15)
    out["top15"] = json.loads(top[["row", "lift", "anomaly_count", "reference_count",
                                   "count_rank", "copies"]].to_json(orient="records"))
    out["top15_flipped"] = int(truth[top["row"].to_numpy()].sum())
    return out


def main() -> None:
    info = run_info()
    ap = parser("dose_response", __doc__,
                quick="Adult subsampled to 6000 rows before the split, 10 anomalies")
    ap.add_argument("--anomalies", type=int, default=None,
                    help="most confidently wrong rows to search (default 3, quick 10)")
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--skip-recurrence", action="store_true")
    args = ap.parse_args()
    n_anom = args.anomalies or (10 if args.quick else 3)
    t_all = time.perf_counter()
    results: dict = {
        "mode": "quick" if args.quick else "full", **info,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
    }
    print("== dose-response per space (Adult GB)")
    results["dose_response"] = bench_dose(args.quick, n_anom, args.n_jobs, args.seed)
    if not args.skip_recurrence:
        print("== recurring rows: lift vs raw count on 10 % label noise")
        r = bench_recurrence(args.seed)
        results["recurring_rows"] = r
        for k, v in r["precision"].items():
            print(f"precision@{k}: lift {v['lift']:.3f} (p={v['lift_p_value']:.2g}), "
                  f"count {v['count']:.3f} (p={v['count_p_value']:.2g}); noise rate "
                  f"{r['noise_rate']:.3f}")
    results["total_time_s"] = time.perf_counter() - t_all
    if args.out.exists():  # keep the other mode's run beside this one
        old = json.loads(args.out.read_text())
        runs = old.get("runs", {}) if "runs" in old else {old.get("mode", "old"): old}
    else:
        runs = {}
    runs[results["mode"]] = results
    write_result(args.out, "dose_response", info, args, {"runs": runs})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
