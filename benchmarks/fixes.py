"""Benchmark: every automatic fix, verified on held-out rows, on Adult, German and COMPAS.

For each data set and model (scikit-learn ``GradientBoostingClassifier(subsample=0.8)`` on
ordinal codes, a stochastic model so the seeds matter; ``StandardScaler`` +
``LogisticRegression`` on one-hot codes) :func:`shap_debug.fixes.verify_fixes` builds every
action it can take on its own (relabel/drop suspicious rows globally and per failing cohort,
relabel/drop labels a leave-region-out refit contradicts, drop conflicting duplicates, flip
points unconstrained and along each protected attribute, neutralise each protected
attribute), retrains a clone per action and seed and measures held-out accuracy with a
paired bootstrap interval (seeds and rows resampled).

The peer action, measured in the same run on the same training rows and the same
cross-validated probabilities: cleanlab's ``filter.find_label_issues`` (default
``prune_by_noise_rate``) and a retrain without the rows it finds, which is what cleanlab's
``CleanLearning`` does.

Held-out rows: Adult's own test file; German and COMPAS have none, so 25 % of the rows are
held out (stratified) and play no part in the diagnosis. A fourth case injects a
systematic label error into Adult's training rows (half the positives of
``occupation = Prof-specialty and relationship = Husband`` relabelled 0; test labels clean)
to show what the actions do when there is something to fix.

Run: ``python benchmarks/fixes.py [--quick]``; writes ``benchmarks/results/fixes.json``.
``--quick`` subsamples Adult (6000 training and 4000 test rows), uses 3 seeds and 40 flip
rows; the full run uses all rows, 5 seeds and 100 flip rows.
"""

from __future__ import annotations

import json
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from shap_debug.datasets import adult, compas, encode, german  # noqa: E402
from shap_debug.fixes import Diagnosis, FixAction, verify_fixes  # noqa: E402

from _common import parser, run_info, write_result  # noqa: E402

PROTECTED = {"adult": ["sex", "race"], "german": ["personal_status_sex", "age"],
             "compas": ["race", "sex"], "adult_relabelled": ["sex", "race"]}


def models() -> dict:
    return {
        "GB": ("ordinal", lambda: GradientBoostingClassifier(subsample=0.8, random_state=0)),
        "LR": ("onehot", lambda: make_pipeline(StandardScaler(),
                                               LogisticRegression(max_iter=3000))),
    }


def cleanlab_peer(timing: dict):
    """cleanlab's find_label_issues on the same cross-validated probabilities, then drop."""
    from cleanlab.filter import find_label_issues

    def build(ev):
        t0 = time.perf_counter()
        y_idx = np.searchsorted(ev.suspicious.classes, ev.y)
        issues = np.flatnonzero(find_label_issues(labels=y_idx,
                                                  pred_probs=ev.suspicious.proba))
        timing["cleanlab_s"] = time.perf_counter() - t0
        return FixAction.drop("cleanlab: drop label issues", issues, family="peer",
                              note="cleanlab.filter.find_label_issues (prune_by_noise_rate) "
                                   "on the same out-of-sample probabilities")
    return build


def data(name: str, quick: bool, rng: np.random.Generator):
    """(X, y, X_test, y_test, note) with readable frames; X_test None for a hold-out."""
    if name.startswith("adult"):
        X, y = adult("train")
        Xt, yt = adult("test")
        if quick:
            i = np.sort(rng.choice(len(y), 6000, replace=False))
            j = np.sort(rng.choice(len(yt), 4000, replace=False))
            X, y, Xt, yt = X.iloc[i].reset_index(drop=True), y[i], Xt.iloc[j].reset_index(
                drop=True), yt[j]
        note = "Adult train/test files" + (" (6000/4000-row subsamples)" if quick else "")
        if name == "adult_relabelled":
            sub = ((X["occupation"] == "Prof-specialty")
                   & (X["relationship"] == "Husband")).to_numpy()
            pos = np.flatnonzero(sub & (y == 1))
            flip = rng.choice(pos, len(pos) // 2, replace=False)
            y = y.copy()
            y[flip] = 0
            note += (f"; {len(flip)} of {len(pos)} positive labels of occupation = "
                     "Prof-specialty and relationship = Husband set to 0 in the training rows")
        return X, y, Xt, yt, note
    if name == "german":
        X, y = german()
        return X, y, None, None, "German credit, 25 % held out"
    X, y = compas()
    return X, y, None, None, "COMPAS two-year recidivism, 25 % held out"


def run_case(name: str, model_name: str, quick: bool, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    X, y, Xt, yt, note = data(name, quick, rng)
    kind, make = models()[model_name]
    Z, enc = encode(X, kind)
    Zt = None if Xt is None else enc.transform(Xt)
    timing: dict = {}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = verify_fixes(make(), Z, y, X_test=Zt, y_test=yt, encoder=enc,
                           actions=["auto", cleanlab_peer(timing)],
                           protected=PROTECTED[name], n_repeats=3 if quick else 5,
                           flip_rows=40 if quick else 100, random_state=seed, progress=False)
    elapsed = time.perf_counter() - t0
    diag = Diagnosis.from_fixes(rep)
    table = rep.to_frame()
    keep = ["rank", "action", "kind", "target", "rows_changed", "before", "after", "delta",
            "low", "high", "effect"]
    rows = table[keep].to_dict(orient="records")
    for r in rows:
        a = rep.action(r["action"])
        r["family"] = a.family
        r["cohort"] = a.cohort
        if a.cohort:
            e = rep.effect(a.name, a.cohort)
            r["in_cohort"] = {k: e[k] for k in ("n_test", "before", "after", "delta", "low",
                                                "high", "effect")}
    return {
        "data": note, "model": model_name, "encoding": kind, "holdout": rep.holdout,
        "n_train": rep.n_train, "n_test": rep.n_test, "n_fits": rep.n_fits,
        "deterministic": rep.deterministic, "baseline_accuracy": rep.baseline_accuracy,
        "cohorts": rep.cohort_frame().to_dict(orient="records"),
        "verdicts": diag.to_frame().drop(columns=["reason"]).to_dict(orient="records"),
        "actions": rows, "skipped": [list(s) for s in rep.skipped],
        "proposed": list(diag.proposed), "best": rep.best,
        "sentences": [s.text for s in diag.sentences()],
        "time_s": elapsed, "cleanlab_time_s": timing.get("cleanlab_s"),
    }


def show(case: str, res: dict) -> None:
    print(f"\n== {case}: {res['data']} [{res['model']}] held out: {res['holdout']}; "
          f"baseline {res['baseline_accuracy']['overall']:.3f}; {res['n_fits']} fit(s) per "
          f"action; {res['time_s']:.0f} s")
    f = pd.DataFrame(res["actions"])
    f["delta [95 % interval]"] = [f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                                  for d, lo, hi in zip(f["delta"], f["low"], f["high"])]
    with pd.option_context("display.width", 160, "display.max_colwidth", 44):
        print(f[["rank", "action", "rows_changed", "before", "after",
                 "delta [95 % interval]", "effect"]].to_string(index=False))
    for v in res["verdicts"]:
        print(f"  {v['cohort']} {v['verdict']:<13} {v['rule'][:90]}")


def markdown(results: dict) -> str:
    """The docs tables (docs/fixes.md) from a results JSON."""
    out = [f"*{results['mode']} run of `benchmarks/fixes.py` "
           f"({results.get('total_time_s', 0) / 60:.0f} min on {results['machine']['cpu_count']}"
           f" shared cores); {results['protocol']}.*", "",
           "| case | held-out rows | baseline | helps / no clear effect / hurts | best action "
           "(delta, points [95 %]) | cleanlab peer | cohort verdicts |",
           "|---|---:|---:|---|---|---|---|"]

    def fmt(a):
        return (f"{100 * a['delta']:+.1f} [{100 * a['low']:+.1f}, {100 * a['high']:+.1f}]")

    for case, r in results["cases"].items():
        acts = r["actions"]
        counts = [sum(a["effect"] == e for a in acts)
                  for e in ("helps", "no clear effect", "hurts")]
        best = acts[0]
        peer = next((a for a in acts if a["family"] == "peer"), None)
        verdicts = ", ".join(f"{v['cohort']} {v['verdict']}" for v in r["verdicts"]) or "-"
        out.append(f"| {case} | {r['n_test']} | {r['baseline_accuracy']['overall']:.3f} | "
                   f"{counts[0]} / {counts[1]} / {counts[2]} | {best['action']} {fmt(best)} | "
                   f"{fmt(peer) + ' (rank ' + str(peer['rank']) + ')' if peer else '-'} | "
                   f"{verdicts} |")
    out.append("")
    for case, r in results["cases"].items():
        out += [f"**{case}** — {r['data']}; held out: {r['holdout']}; baseline accuracy "
                f"{r['baseline_accuracy']['overall']:.3f}; {r['n_fits']} fit(s) per action; "
                f"{r['time_s']:.0f} s.", "",
                "| rank | action | rows changed | after | delta [95 % interval] | effect |",
                "|---:|---|---:|---:|---|---|"]
        for a in r["actions"]:
            out.append(f"| {a['rank']} | {a['action']} | {a['rows_changed']} | {a['after']:.3f} | "
                       f"{100 * a['delta']:+.1f} [{100 * a['low']:+.1f}, "
                       f"{100 * a['high']:+.1f}] | {a['effect']} |")
        if r["verdicts"]:
            out.append("")
            out.append("Cohorts: " + "; ".join(
                f"{v['cohort']} `{v['rule']}` — {v['verdict']}" for v in r["verdicts"]) + ".")
        out.append("")
    return "\n".join(out)


def main() -> None:
    info = run_info(("cleanlab",))
    ap = parser("fixes", __doc__, quick="subsample Adult, 3 seeds, 40 flip rows (a few minutes)")
    ap.add_argument("--markdown", action="store_true",
                    help="print the docs tables from the results JSON and exit")
    args = ap.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.out.read_text())))
        return
    results = {
        "mode": "quick" if args.quick else "full",
        "protocol": ("diagnosis on the training rows only; each action retrains a clone per "
                     "seed; delta = accuracy after - before on held-out rows, paired with the "
                     "unchanged refit of the same seed; 95 % interval from 1000 bootstrap "
                     "replicates resampling seeds and held-out rows; 'helps' = interval "
                     "above 0"),
        "cases": {},
    }
    t_all = time.perf_counter()
    for name in ("adult", "german", "compas", "adult_relabelled"):
        for model_name in ("GB", "LR"):
            case = f"{name}/{model_name}"
            res = run_case(name, model_name, args.quick, args.seed)
            results["cases"][case] = res
            show(case, res)
            write_result(args.out, "fixes", info, args, _clean(results))  # after each case
    results["total_time_s"] = time.perf_counter() - t_all
    write_result(args.out, "fixes", info, args, _clean(results))
    print(f"\nwrote {args.out} in {results['total_time_s']:.0f} s")


def _clean(v):
    """JSON-safe: numpy scalars to Python, NaN to null."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_clean(x) for x in v.tolist()]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if np.isnan(v) else float(v)
    if v is None or isinstance(v, str):
        return v
    return str(v)


if __name__ == "__main__":
    main()
