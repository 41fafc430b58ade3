"""Benchmark: model fits the retraining stages share or skip (issue 29, items 1 and 2).

- ``shared``: the label-flip check and the dose-response ladder on Adult (GradientBoosting,
  the report's defaults: the most confidently wrong anomalies, every space), run without and
  with one :class:`shap_debug.core.RefitCache`: fits per stage, seconds, and whether both
  give the same results (the ladder's top rung is the fixed-K check's refit; the ladder's
  noise floor is the refit on the unchanged labels).
- ``sequential``: :func:`shap_debug.fixes.verify_fixes` with ``n_repeats=5`` on Adult rows
  whose positives were relabelled negative at a random rate (restoring them is known to
  help, flipping a random quarter of the labels to hurt or do nothing, dropping a few random
  rows to do nothing), full path vs ``sequential=True``: fits, seconds, verdicts, best.
- ``warm_start``: the label-flip check on German credit with each trial refitted from
  scratch vs warm-started from the fitted model (``warm_start=True``; LogisticRegression,
  convex, and a small MLP, warm-started here by force although ``warm_startable`` refuses
  it): agreement of the verdicts (prediction flipped or not), the largest difference of the
  retrained probability, and seconds (contributions for the contribution space included).

Run: ``python benchmarks/refits.py [--quick]``; results in ``benchmarks/results/refits.json``.
``--quick``: a 3,000-row sample of Adult and K=200 for ``shared``, seeds 0-1 for
``sequential`` (about two minutes).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent)]
from _common import parser, run_info, write_result  # noqa: E402


def shared(quick: bool, seed: int) -> dict:
    from sklearn.ensemble import GradientBoostingClassifier

    from shap_debug.blame import dose_response, label_flip_check
    from shap_debug.core import RefitCache
    from shap_debug.datasets import adult, encode
    from shap_debug.neighborhood import NeighborhoodModel

    X, y = adult()
    n = 3000 if quick else 8000
    take = np.sort(np.random.default_rng(seed).choice(len(y), n, replace=False))
    Z, _ = encode(X.iloc[take], kind="ordinal")
    y = y[take]
    gb = GradientBoostingClassifier(random_state=seed).fit(Z, y)
    k = 200 if quick else 1000
    nbm = NeighborhoodModel(k, model=gb, random_state=seed).fit(Z, y, progress=False)
    wrong = nbm.anomalies_
    conf = nbm.proba_.max(1)[wrong]
    chosen = wrong[np.argsort(-conf, kind="stable")[:3]]
    out: dict = {"n_rows": n, "k": k, "anomalies": chosen.tolist()}
    runs = {}
    for label, cache in (("separate", None), ("one cache", RefitCache())):
        t0 = time.perf_counter()
        lf = label_flip_check(nbm, chosen, random_state=seed, progress=False, cache=cache)
        t1 = time.perf_counter()
        dr = dose_response(nbm, chosen, search="ladder", random_state=seed, progress=False,
                           cache=cache)
        t2 = time.perf_counter()
        fits = ({"label-flip": len(lf.trials),
                 "dose-response": int(dr.to_frame()["retrains"].sum()) + 1}
                if cache is None else cache.counts())
        runs[label] = (lf, dr)
        out[label] = {"fits": fits, "total_fits": sum(fits.values()),
                      "hits": None if cache is None else cache.hits(),
                      "label_flip_s": round(t1 - t0, 2), "dose_response_s": round(t2 - t1, 2)}
    a, b = runs["separate"], runs["one cache"]
    out["same_results"] = bool(
        a[0].to_frame().drop(columns="time_s").equals(b[0].to_frame().drop(columns="time_s"))
        and a[1].to_frame().equals(b[1].to_frame()))
    out["fits_saved"] = out["separate"]["total_fits"] - out["one cache"]["total_fits"]
    return out


def sequential(seeds: list[int]) -> dict:
    from sklearn.ensemble import RandomForestClassifier

    from shap_debug.core import RefitCache
    from shap_debug.datasets import adult, encode
    from shap_debug.fixes import FixAction, verify_fixes

    X, y0 = adult()
    Z0, _ = encode(X)
    out = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(y0), 2400, replace=False)
        Z, y = np.asarray(Z0)[idx], y0[idx]
        Xtr, ytr, Xte, yte = Z[:1600], y[:1600].copy(), Z[1600:], y[1600:]
        pos = np.flatnonzero(ytr == 1)
        planted = rng.choice(pos, int(rng.uniform(0.4, 0.6) * len(pos)), replace=False)
        ytr[planted] = 0
        noise = rng.choice(1600, 400, replace=False)
        acts = [FixAction.relabel("restore planted", planted, np.ones(len(planted), int)),
                FixAction.relabel("flip random quarter", noise, 1 - ytr[noise]),
                FixAction.drop("drop 5 rows", rng.choice(1600, 5, replace=False)),
                FixAction.drop("drop 10 rows", rng.choice(1600, 10, replace=False))]
        model = RandomForestClassifier(n_estimators=20, min_samples_leaf=2, random_state=0)
        res = {}
        for seq in (False, True):
            cache = RefitCache()
            t0 = time.perf_counter()
            rep = verify_fixes(model, Xtr, ytr, X_test=Xte, y_test=yte, actions=acts,
                               screen_regions=0, n_repeats=5, random_state=seed,
                               progress=False, sequential=seq, cache=cache)
            eff = rep.effects.query("scope == 'overall'")
            res["sequential" if seq else "full"] = {
                "seconds": round(time.perf_counter() - t0, 2),
                "fixes_fits": cache.counts()["fixes"],
                "fits_saved": rep.effects.attrs["fits_saved"],
                "seeds_used": rep.effects.attrs["seeds_used"], "best": rep.best,
                "verdicts": {a: ("helps" if lo > 0 else "hurts" if hi < 0 else "unclear")
                             for a, lo, hi in zip(eff["action"], eff["low"], eff["high"])}}
        res["same_verdicts"] = res["full"]["verdicts"] == res["sequential"]["verdicts"]
        res["same_best"] = res["full"]["best"] == res["sequential"]["best"]
        out[f"seed {seed}"] = res
    return out


def warm(quick: bool, seed: int) -> dict:
    """Label-flip trials refitted from scratch vs warm-started from the fitted model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    import shap_debug.blame._label_flip as lfm
    from shap_debug.blame import label_flip_check
    from shap_debug.datasets import encode, german

    allowed = lfm.warm_startable

    X, y = german()
    Z, _ = encode(X)
    Z = np.asarray(Z, dtype=np.float64)
    models = {
        "LogisticRegression": LogisticRegression(max_iter=5000, random_state=seed),
        "MLPClassifier": MLPClassifier((16,), max_iter=300, random_state=seed),
    }
    out = {}
    for name, m in models.items():
        m.fit(StandardScaler().fit_transform(Z) if name == "MLPClassifier" else Z, y)
        Zm = StandardScaler().fit_transform(Z) if name == "MLPClassifier" else Z
        res = {}
        for w in (False, True):
            t0 = time.perf_counter()
            # the MLP is not warm_startable (this measurement is why): force it to show
            lfm.warm_startable = (lambda _: True) if name == "MLPClassifier" else allowed
            try:
                lf = label_flip_check(m, 10 if quick else 40, X=Zm, y=y, n_neighbors=100,
                                      random_state=seed, progress=False, warm_start=w)
            finally:
                lfm.warm_startable = allowed
            res["warm" if w else "full"] = (time.perf_counter() - t0, lf.to_frame())
        (tf, a), (tw, b) = res["full"], res["warm"]
        out[name] = {"trials": len(a), "full_s": round(tf, 2), "warm_s": round(tw, 2),
                     "same_flipped": int((a["flipped"] == b["flipped"]).sum()),
                     "rate_full": round(float(a["flipped"].mean()), 3),
                     "rate_warm": round(float(b["flipped"].mean()), 3),
                     "max_abs_proba_diff": round(float(
                         (a["proba_after"] - b["proba_after"]).abs().max()), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    info = run_info(("sklearn",))
    args = parser("refits", __doc__, quick="3,000 Adult rows, K=200; seeds 0-1").parse_args(
        argv)
    warnings.simplefilter("ignore")
    res = {"shared": shared(args.quick, args.seed),
           "sequential": sequential([0, 1] if args.quick else [0, 1, 2, 3, 4]),
           "warm_start": warm(args.quick, args.seed)}
    print(res)
    write_result(args.out, "refits", info, args, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
