"""Table III of Rasouli & Yu (2021): diversity of quasi-global explanations, GA vs. Random.

For each data set (Adult, German credit, COMPAS) an MLP is trained (80/20 split, seed 42, as
in the reference experiment), contributions are computed for the training rows, and for a
sample of mispredicted training rows ("anomalies") the K nearest training rows in
contribution space form the neighbourhood (K = 2000 / 200 / 500 in the paper). B = 10
representatives with NF = 5 are chosen by the pymoo GA and at random; each representative is
explained by a local rule (:class:`shap_debug.explanations.rules.RuleExplainer`), and the set is scored
with :func:`shap_debug.explanations.rules.diversity_metrics`:

- SD: balance of anomalous vs. correctly predicted members (higher = more diverse),
- FS: mean pairwise Jaccard similarity of the rules' feature sets (lower = more diverse),
- LD: mean pairwise difference of rule lengths (higher = more diverse).

FS and LD are reported over distinct pairs (ours) and with self-pairs (the reference's
counting). The reference's own columns ``same_pred_anomaly`` / ``same_pred_ok`` (share of
members with the anomaly's label and prediction / with another label but the same
prediction) are reported too. Also: GA wall time per anomaly, GA fitness vs. random and vs.
greedy, and the time of a reference-style GA (per-individual fitness loop, roulette-wheel
selection, single-point crossover, duplicate sets penalised to 0) on the same neighbourhoods.

Run ``python benchmarks/table3.py --quick`` (about 10 minutes on 2 shared cores) or without
``--quick`` for the paper's settings (100 anomalies per data set, full training sets).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shap_debug import datasets  # noqa: E402
from shap_debug.contributions import explain  # noqa: E402
from shap_debug.explanations import select_representatives  # noqa: E402
from shap_debug.explanations._representatives import _fitness, _weights  # noqa: E402
from shap_debug.explanations.rules import RuleExplainer, diversity_metrics  # noqa: E402

PAPER_K = {"adult": 2000, "german": 200, "compas": 500}
# The paper's Table III values are not available to this project offline; only the
# direction it reports (GA has the higher SD on every data set) is checked.
PAPER_DIRECTION = "GA SD > Random SD on every data set"


def load(name):
    if name == "adult":
        return datasets.adult("train")
    if name == "german":
        return datasets.german()
    return datasets.compas()


def make_model(seed):
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_include="category")),
        remainder=StandardScaler())
    # early stopping keeps the network from memorising the small training sets (German
    # credit has 800 rows), which would leave almost no mispredicted training rows
    return make_pipeline(pre, MLPClassifier(hidden_layer_sizes=(100,), max_iter=300,
                                            early_stopping=True, random_state=seed))


def reference_style_ga(W, Wb, budget, rng, pop_size=300, n_gen=100, pc=0.8, pm=0.4):
    """The reference's GA shape, one individual at a time (for timing and fitness only)."""
    from scipy.stats import variation

    n = len(W)

    def fit(s):
        if len(np.unique(s)) != budget:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            w = variation(Wb[s], axis=0)
        w[np.isnan(w)] = 0.0
        return float(W[s].sum(axis=0) @ w)

    def roulette(pop, fits):
        pick = rng.uniform(0, fits.sum())
        acc = 0.0
        for p, f in zip(pop, fits):
            acc += f
            if acc > pick:
                return p
        return pop[-1]

    pop = [rng.integers(0, n, budget) for _ in range(pop_size)]
    fits = np.array([fit(p) for p in pop])
    n_cross = 2 * round(pc * pop_size / 2)
    n_mut = round(pm * pop_size)
    for _ in range(n_gen):
        children = []
        for _ in range(n_cross // 2):
            a, b = roulette(pop, fits), roulette(pop, fits)
            cut = rng.integers(0, budget)
            children += [np.concatenate([a[:cut], b[cut:]]), np.concatenate([b[:cut], a[cut:]])]
        for _ in range(n_mut):
            c = pop[rng.integers(0, pop_size)].copy()
            c[rng.integers(0, budget)] = rng.integers(0, n)
            children.append(c)
        allp = pop + children
        allf = np.concatenate([fits, [fit(c) for c in children]])
        order = np.argsort(-allf, kind="stable")[:pop_size]
        pop, fits = [allp[i] for i in order], allf[order]
    return pop[0], float(fits[0])


def mean_sd(values):
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "n": int(len(v))}


def with_self_pairs(value, b, self_value):
    """Pairwise mean over i < j turned into the reference's mean over i <= j."""
    pairs = b * (b - 1) / 2
    return (value * pairs + self_value * b) / (pairs + b)


def run_dataset(name, args, rng):
    from sklearn.model_selection import train_test_split

    X, y = load(name)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    cap = args.max_train.get(name)
    if cap and len(X_train) > cap:
        keep = np.sort(rng.choice(len(X_train), size=cap, replace=False))
        X_train, y_train = X_train.iloc[keep], y_train[keep]
    X_train = X_train.reset_index(drop=True)
    K = min(PAPER_K[name], len(X_train) // 2)
    info = {"n_train": len(X_train), "K": K, "B": args.budget, "NF": args.n_top}

    t = time.perf_counter()
    model = make_model(42).fit(X_train, y_train)
    info["fit_s"] = time.perf_counter() - t
    info["test_accuracy"] = float(model.score(X_test, y_test))

    t = time.perf_counter()
    exp = explain(model, X_train, n_background=args.n_background, random_state=0,
                  progress=False)
    info["contributions_s"] = time.perf_counter() - t

    from shap_debug.neighborhood import NeighborhoodModel

    nbm = NeighborhoodModel(n_neighbors=K).fit(model, X_train, y_train, contributions=exp,
                                               progress=False)
    pred = nbm.predicted_labels_
    anomalies = nbm.anomalies_
    chosen = np.sort(rng.choice(anomalies, size=min(args.n_anomalies, len(anomalies)),
                                replace=False))
    info["n_anomalies_total"] = int(len(anomalies))
    info["n_anomalies_used"] = int(len(chosen))
    _, neigh = nbm.kneighbors(chosen)

    rules = RuleExplainer(model, X_train, n_samples=args.n_samples, random_state=0)
    cache, rule_times = {}, []

    def rule_of(i):
        if i not in cache:
            t0 = time.perf_counter()
            cache[i] = rules.explain(int(i))
            rule_times.append(time.perf_counter() - t0)
        return cache[i]

    rows = []
    for k, (a, idx) in enumerate(zip(chosen, neigh)):
        C = nbm.contributions_[idx]
        seed = int(rng.integers(0, 2**31 - 1))
        cpu = time.process_time()
        ga = select_representatives(C, args.budget, args.n_top, method="ga", indices=idx,
                                    random_state=seed)
        ga_cpu = time.process_time() - cpu
        rnd = select_representatives(C, args.budget, args.n_top, method="random", indices=idx,
                                     random_state=seed)
        gr = select_representatives(C, args.budget, args.n_top, method="greedy", indices=idx)
        rec = {"anomaly": int(a), "ga_s": ga.elapsed_s, "ga_cpu_s": ga_cpu,
               "fit_ga": ga.fitness, "fit_ga_unpolished": float(ga.history[-1]),
               "fit_random": rnd.fitness, "fit_greedy": gr.fitness}
        if k < args.n_reference:
            W, Wb = _weights(C, args.n_top)
            t0, cpu = time.perf_counter(), time.process_time()
            best, _ = reference_style_ga(W, Wb, args.budget, np.random.default_rng(seed))
            rec["reference_ga_s"] = time.perf_counter() - t0
            rec["reference_ga_cpu_s"] = time.process_time() - cpu
            # scored with our objective (the reference sets NaN weights to 0: same value)
            rec["fit_reference_ga"] = (float(_fitness(W, Wb, np.sort(best)[None, :], "cv")[0])
                                       if len(np.unique(best)) == args.budget else 0.0)
        for tag, rep in (("ga", ga), ("random", rnd)):
            members = rep.indices
            rs = [rule_of(i) for i in members]
            is_anom = y_train[members] != pred[members]
            m = diversity_metrics(rs, is_anom)
            b = len(rs)
            rec[f"{tag}_SD"] = m["SD"]
            rec[f"{tag}_anomalous_share"] = m["anomalous_share"]
            rec[f"{tag}_FS"] = m["FS"]
            rec[f"{tag}_LD"] = m["LD"]
            rec[f"{tag}_FS_ref"] = with_self_pairs(m["FS"], b, 1.0)
            rec[f"{tag}_LD_ref"] = with_self_pairs(m["LD"], b, 0.0)
            same_pred = pred[members] == pred[a]
            rec[f"{tag}_same_pred_anomaly"] = float(np.mean(
                (y_train[members] == y_train[a]) & same_pred))
            rec[f"{tag}_same_pred_ok"] = float(np.mean(
                (y_train[members] != y_train[a]) & same_pred))
        rows.append(rec)
        if args.verbose:
            print(f"  {name} anomaly {k + 1}/{len(chosen)}: GA {ga.elapsed_s:.2f}s "
                  f"SD {rec['ga_SD']:.2f}/{rec['random_SD']:.2f}", flush=True)

    df = pd.DataFrame(rows)
    summary = {}
    for col in df.columns:
        if col != "anomaly":
            summary[col] = mean_sd(df[col])
    fits = df[["fit_ga", "fit_random", "fit_greedy"]].to_numpy()
    summary["ga_over_random"] = mean_sd(fits[:, 0] / np.where(fits[:, 1] > 0, fits[:, 1], np.nan))
    summary["ga_over_greedy"] = mean_sd(fits[:, 0] / np.where(fits[:, 2] > 0, fits[:, 2], np.nan))
    summary["ga_ge_greedy_share"] = float(np.mean(fits[:, 0] >= fits[:, 2] - 1e-12))
    unpol = df["fit_ga_unpolished"].to_numpy()
    summary["ga_unpolished_over_greedy"] = mean_sd(unpol / np.where(fits[:, 2] > 0, fits[:, 2],
                                                                      np.nan))
    summary["ga_unpolished_ge_greedy_share"] = float(np.mean(unpol >= fits[:, 2] - 1e-12))
    if "reference_ga_s" in df:
        ref = df.dropna(subset=["reference_ga_s"])
        summary["reference_ga_speed_ratio"] = float(ref["reference_ga_s"].mean()
                                                    / ref["ga_s"].mean())
        summary["reference_ga_cpu_ratio"] = float(ref["reference_ga_cpu_s"].mean()
                                                  / ref["ga_cpu_s"].mean())
    summary["rule_s"] = mean_sd(rule_times)
    summary["rules_explained"] = len(cache)
    summary["rule_fidelity"] = mean_sd([r.fidelity for r in cache.values()])
    summary["rule_coverage"] = mean_sd([r.coverage for r in cache.values()])
    summary["rule_length"] = mean_sd([r.length for r in cache.values()])
    return info, summary, df.to_dict("records")


def figures(out_dir: Path, seed: int = 0) -> dict:
    """Table I and the GA's convergence for one German-credit anomaly, as PNGs for the docs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.model_selection import train_test_split

    from shap_debug.explanations.rules import rule_table
    from shap_debug.neighborhood import NeighborhoodModel

    X, y = load("german")
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=42)
    X_train = X_train.reset_index(drop=True)
    model = make_model(42).fit(X_train, y_train)
    exp = explain(model, X_train, n_background=30, random_state=seed, progress=False)
    nbm = NeighborhoodModel(n_neighbors=200).fit(model, X_train, y_train, contributions=exp,
                                                 progress=False)
    a = int(nbm.anomalies_[0])
    _, idx = nbm.kneighbors([a])
    rep = select_representatives(nbm.contributions_[idx[0]], 10, 5, indices=idx[0],
                                 feature_names=nbm.feature_names_, random_state=seed)
    rnd = select_representatives(nbm.contributions_[idx[0]], 10, 5, method="random",
                                 indices=idx[0], random_state=seed)
    table = rule_table(RuleExplainer(model, X_train, random_state=seed), a, rep, y_train)
    out_dir.mkdir(parents=True, exist_ok=True)
    ax = table.plot(show=False)
    ax.figure.savefig(out_dir / "quasi_global_table.png", dpi=110, bbox_inches="tight")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    rep.plot(ax=axes[0], show=False)
    axes[0].axhline(rnd.fitness, color="gray", ls="--", label="random set")
    axes[0].legend()
    rep.plot(kind="weights", ax=axes[1], show=False)
    fig.tight_layout()
    fig.savefig(out_dir / "quasi_global_ga.png", dpi=110, bbox_inches="tight")
    plt.close("all")
    return {"anomaly": a, "fitness_ga": rep.fitness, "fitness_random": rnd.fitness,
            "table": table.to_frame().astype(str).to_dict("records"), "metrics": table.metrics}


def fmt(s):
    if not s or s.get("mean") is None:
        return "n/a"
    return f"{s['mean']:.3f}±{s['std']:.3f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer anomalies, subsampled Adult/COMPAS training sets")
    p.add_argument("--datasets", nargs="+", default=["adult", "german", "compas"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-anomalies", dest="n_anomalies_override", type=int, default=None, help="override the mode's count")
    p.add_argument("--n-reference", dest="n_reference_override", type=int, default=None,
                   help="anomalies also run through the reference-style GA")
    p.add_argument("--figures", action="store_true",
                   help="only draw docs/img/quasi_global_*.png (one German anomaly) and exit")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "table3.json"))
    args = p.parse_args(argv)
    if args.figures:
        info = figures(ROOT / "docs" / "img", args.seed)
        print(json.dumps({k: v for k, v in info.items() if k != "table"}, indent=2))
        for row in info["table"]:
            print(row["role"], row["index"], row["rule"], "->", row["rule prediction"],
                  "| true", row["true label"], "pred", row["prediction"])
        return
    args.budget, args.n_top = 10, 5
    if args.quick:
        args.n_anomalies, args.n_reference, args.n_samples = 15, 1, 1000
        args.max_train = {"adult": 4000, "compas": 2500}
        args.n_background = 30
    else:
        args.n_anomalies, args.n_reference, args.n_samples = 100, 5, 1000
        args.max_train = {}
        args.n_background = 100
    if args.n_anomalies_override is not None:
        args.n_anomalies = args.n_anomalies_override
    if args.n_reference_override is not None:
        args.n_reference = args.n_reference_override

    import pymoo
    import shap
    import sklearn

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    rng = np.random.default_rng(args.seed)
    results = {
        "benchmark": "table3",
        "mode": "quick" if args.quick else "full",
        "command": "python benchmarks/table3.py " + " ".join(argv if argv is not None
                                                             else sys.argv[1:]),
        "settings": {"B": args.budget, "NF": args.n_top, "n_anomalies": args.n_anomalies,
                     "pop_size": 300, "n_gen": 100, "crossover_prob": 0.8,
                     "mutation_prob": 0.4, "dispersion": "cv", "polish": True,
                     "rule_n_samples": args.n_samples, "max_train": args.max_train,
                     "n_background": args.n_background, "model": "MLP (100,), sklearn",
                     "paper_K": PAPER_K},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_start": list(os.getloadavg()),
                    "processor": platform.processor(), "cpu_count": os.cpu_count(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "versions": {"numpy": np.__version__, "pandas": pd.__version__,
                     "sklearn": sklearn.__version__, "shap": shap.__version__,
                     "pymoo": pymoo.__version__},
        "paper": {"table3": None, "direction": PAPER_DIRECTION,
                  "note": "numeric values of the paper's Table III were not available; "
                          "reference GA time from the issue: ~22 s per anomaly"},
        "datasets": {},
    }
    t_all = time.perf_counter()
    for name in args.datasets:
        t = time.perf_counter()
        info, summary, per_anomaly = run_dataset(name, args, rng)
        info["total_s"] = time.perf_counter() - t
        results["datasets"][name] = {"info": info, "summary": summary,
                                     "per_anomaly": per_anomaly}
        print(f"{name}: done in {info['total_s']:.0f}s", flush=True)
    results["total_s"] = time.perf_counter() - t_all
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    checks = {n: (d["summary"]["ga_SD"]["mean"] or 0) > (d["summary"]["random_SD"]["mean"] or 0)
              for n, d in results["datasets"].items()}
    results["direction_holds"] = checks

    print()
    print(f"Table III ({results['mode']} mode, B=10, NF=5, MLP); paper values: n/a, "
          f"paper direction: {PAPER_DIRECTION}")
    head = (f"{'data':8} {'K':>5} {'n':>4} | {'SD GA':>12} {'SD Rnd':>12} | {'FS GA':>12} "
            f"{'FS Rnd':>12} | {'LD GA':>12} {'LD Rnd':>12}")
    print(head)
    print("-" * len(head))
    for n, d in results["datasets"].items():
        s, i = d["summary"], d["info"]
        print(f"{n:8} {i['K']:>5} {i['n_anomalies_used']:>4} | {fmt(s['ga_SD']):>12} "
              f"{fmt(s['random_SD']):>12} | {fmt(s['ga_FS']):>12} {fmt(s['random_FS']):>12} | "
              f"{fmt(s['ga_LD']):>12} {fmt(s['random_LD']):>12}")
    print()
    print(f"{'data':8} | {'GA s/anomaly':>13} {'GA cpu s':>12} {'ref-style s':>12} "
          f"{'speed-up':>9} | "
          f"{'GA/random':>12} {'GA/greedy':>12} {'GA>=greedy':>10} | {'rule s':>12} "
          f"{'fidelity':>12}")
    for n, d in results["datasets"].items():
        s = d["summary"]
        ref = s.get("reference_ga_s")
        print(f"{n:8} | {fmt(s['ga_s']):>13} {fmt(s['ga_cpu_s']):>12} {fmt(ref):>12} "
              f"{s.get('reference_ga_speed_ratio', float('nan')):>8.0f}x | "
              f"{fmt(s['ga_over_random']):>12} {fmt(s['ga_over_greedy']):>12} "
              f"{s['ga_ge_greedy_share']:>10.2f} | {fmt(s['rule_s']):>12} "
              f"{fmt(s['rule_fidelity']):>12}")
    print(f"\nGA SD > Random SD: {checks}; total {results['total_s']:.0f}s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
