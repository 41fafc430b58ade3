"""Benchmark: neighborhood ALE, our batched engine vs PyALE 1.2, plus the COMPAS Fig. 4 case.

Adult (train split): a GradientBoosting model (ordinal codes -> ``GradientBoostingClassifier``,
100 trees) and an MLP (one-hot + standardised numbers -> ``MLPClassifier``), both taking the
raw DataFrame with ``category`` columns. The neighborhood is the 2,000 training rows nearest
(Euclidean) to the GradientBoosting model's most confidently misclassified training row in
contribution space (exact interventional TreeSHAP via ``shap_debug.explain``, towards each
row's predicted class); both models are analysed on the same rows.

A third configuration runs the same GradientBoosting model on a frame of float codes
(categorical columns passed as ``categorical=``), where a model call costs ~1 ms instead of
~20 ms: the two Pipelines are model-call bound, this one shows the bookkeeping.

For every Adult feature, in the same run: ``neighborhood_ale(model, X_nb, [feature])`` and
``PyALE.ale(X_nb.copy(), model, [feature], ...)`` (same feature type, ``grid_size=20``,
95 % intervals; ordered categoricals passed with their unused levels removed, which PyALE
needs), best of ``--repeats`` wall-clock times, the ratio, and the largest absolute
difference between the two curves. Also one call for all features at once.

COMPAS (``--no-compas`` to skip): the paper's Fig. 4 analysis. A GradientBoosting model on
two-year recidivism; for the most confidently misclassified training rows, the ALE of age,
race and priors count over the anomaly's 500-row influential neighborhood (contribution
space) versus the whole training set, and the bias view with ``protected=["race", "sex"]``,
for the 20 most confidently misclassified rows (all reported, none picked).
The first anomaly's curves are saved to ``docs/img/ale_compas_fig4.png`` and the bias view
to ``docs/img/ale_compas_bias.png``.

Usage: ``python benchmarks/ale.py [--quick]``; writes ``benchmarks/results/ale.json``.
"""

from __future__ import annotations

import logging
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PyALE import ale as pyale  # noqa: E402
from sklearn.compose import make_column_transformer  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler  # noqa: E402

from shap_debug import contribution_matrix, explain  # noqa: E402
from shap_debug.datasets import adult, compas, encode  # noqa: E402
from shap_debug.explanations.ale import ale_bias, neighborhood_ale  # noqa: E402
from shap_debug.plots import ale as ale_plot  # noqa: E402

from _common import ROOT, parser, run_info, write_result  # noqa: E402

IMG = ROOT / "docs" / "img"
logging.getLogger("PyALE._ALE_generic").setLevel(logging.WARNING)


def gbm_model(X: pd.DataFrame, y: np.ndarray, n_estimators: int, seed: int):
    """Ordinal codes -> GradientBoosting, on the raw frame; also the encoded parts."""
    Z, enc = encode(X, kind="ordinal")
    gb = GradientBoostingClassifier(n_estimators=n_estimators, max_depth=3,
                                    random_state=seed).fit(Z, y)
    pipe = make_pipeline(FunctionTransformer(enc.transform).fit(X), gb)   # no refit
    return pipe, gb, Z


def mlp_model(X: pd.DataFrame, y: np.ndarray, seed: int, max_iter: int):
    cats = [c for c in X if isinstance(X[c].dtype, pd.CategoricalDtype)]
    nums = [c for c in X if c not in cats]
    return make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), cats),
                                (StandardScaler(), nums)),
        MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=max_iter, random_state=seed),
    ).fit(X, y)


def contribution_neighborhood(gb, Z: np.ndarray, y: np.ndarray, k: int, n_background: int,
                              seed: int, n_anomalies: int = 1):
    """Most confidently misclassified rows and their k nearest rows in contribution space."""
    exp = explain(gb, Z, method="tree", n_background=n_background, random_state=seed,
                  progress=False)
    proba = gb.predict_proba(Z)
    pred = proba.argmax(1)
    C = contribution_matrix(exp, pred)
    wrong = np.flatnonzero(pred != y)
    order = wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")]
    anomalies = order[:n_anomalies]
    nn = NearestNeighbors(n_neighbors=k).fit(C)
    _, idx = nn.kneighbors(C[anomalies])
    return anomalies, idx, proba


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


class CodesModel:
    """The GradientBoosting model on a frame of float codes (no pandas encoding step)."""

    classes_ = np.array([0, 1])

    def __init__(self, gb):
        self.gb = gb

    def predict_proba(self, frame):
        return self.gb.predict_proba(np.asarray(frame, dtype=np.float64))


def bench_model(name: str, model, X_nb: pd.DataFrame, repeats: int,
                categorical: list | None = None) -> dict:
    """Per feature: ours vs PyALE. ``categorical``: columns of a numeric frame that hold
    category codes (ours gets ``categorical=``; PyALE gets them as ``category`` columns)."""
    cols = list(X_nb.columns)
    X_py = X_nb.copy()
    for c in cols:
        if isinstance(X_py[c].dtype, pd.CategoricalDtype) and X_py[c].cat.ordered:
            X_py[c] = X_py[c].cat.remove_unused_categories()
    for c in categorical or []:
        X_py[c] = X_py[c].astype("category")

    class Prob:                                  # PyALE wants .predict -> P(class 1)
        def predict(self, frame):
            if categorical:
                frame = frame.astype({c: np.float64 for c in categorical})
            return model.predict_proba(frame)[:, 1]

    kw_ours = dict(target=1, progress=False, categorical=categorical)
    neighborhood_ale(model, X_nb, cols[:1], **kw_ours)        # warm-up
    rows = []
    for f in cols:
        t_ours, res = _best(lambda f=f: neighborhood_ale(model, X_nb, [f], **kw_ours), repeats)
        curve = res.curve(f)
        dtype = X_nb[f].dtype
        kw = dict(feature_type=curve.kind, grid_size=20, include_CI=True, C=0.95, plot=False)
        if curve.kind == "categorical" and categorical:
            kw.update(encode_fun=lambda d: d.astype(np.float64), predictors=cols)
        elif curve.kind == "categorical":
            kw.update(encode_fun=lambda d, dtype=dtype: d.astype(str).astype(dtype),
                      predictors=cols)
        t_py, ref = _best(lambda f=f, kw=kw: pyale(X_py.copy(), Prob(), [f], **kw), repeats)
        if curve.kind == "categorical":
            same_grid = [str(g) for g in curve.grid] == [str(g) for g in ref.index]
        else:
            same_grid = len(curve.grid) == len(ref) and bool(
                np.all(curve.grid == ref.index.to_numpy(float)))
        diff = float(np.abs(curve.values - ref["eff"].to_numpy(float)).max()) if same_grid \
            else float("nan")
        lo_ref = ref[[c for c in ref.columns if c.startswith("lowerCI")][0]].to_numpy(float)
        ok = ~np.isnan(lo_ref)
        band_diff = float(np.abs(curve.lower[ok] - lo_ref[ok]).max()) if same_grid and ok.any() \
            else float("nan")
        rows.append({"feature": f, "kind": curve.kind, "grid_points": len(curve.grid),
                     "ours_s": t_ours, "pyale_s": t_py, "speedup": t_py / t_ours,
                     "same_grid": same_grid, "max_abs_diff_ale": diff,
                     "max_abs_diff_band": band_diff})
        print(f"  {name:4s} {f:15s} {curve.kind:11s} ours {t_ours * 1e3:8.1f} ms  "
              f"PyALE {t_py * 1e3:8.1f} ms  x{t_py / t_ours:6.1f}  |diff| {diff:.1e}")
    t_all, res_all = _best(lambda: neighborhood_ale(model, X_nb, **kw_ours), repeats)
    t0 = time.perf_counter()
    _ = res_all.explanation                     # the shap container is built on first access
    t_exp = time.perf_counter() - t0
    py_total = sum(r["pyale_s"] for r in rows)
    speedups = [r["speedup"] for r in rows]
    m = len(cols)
    for r in rows:        # our per-feature share of the all-features call
        r["ours_amortized_s"] = t_all / m
        r["speedup_amortized"] = r["pyale_s"] / (t_all / m)
    print(f"  {name:4s} all features in one call: ours {t_all:.3f} s vs PyALE "
          f"(sum) {py_total:.3f} s -> x{py_total / t_all:.1f}")
    by_kind = {}
    for k in sorted({r["kind"] for r in rows}):
        sp = [r["speedup"] for r in rows if r["kind"] == k]
        by_kind[k] = {"n_features": len(sp), "min_speedup_single_feature_call": min(sp),
                      "median_speedup_single_feature_call": float(np.median(sp))}
    return {"features": rows, "ours_all_features_one_call_s": t_all,
            "explanation_container_first_access_s": t_exp,
            "pyale_all_features_sum_s": py_total, "speedup_all": py_total / t_all,
            "min_speedup_per_feature": min(speedups),
            "median_speedup_per_feature": float(np.median(speedups)),
            "min_speedup_amortized": min(r["speedup_amortized"] for r in rows),
            "speedup_by_kind": by_kind,
            "features_at_least_5x_single_call": sum(s >= 5 for s in speedups),
            "max_abs_diff_ale": float(np.nanmax([r["max_abs_diff_ale"] for r in rows])),
            "all_grids_equal": all(r["same_grid"] for r in rows)}


def run_adult(args) -> dict:
    X, y = adult("train")
    rng = np.random.default_rng(args.seed)
    sub = np.sort(rng.choice(len(X), size=min(args.n_train, len(X)), replace=False))
    X, y = X.iloc[sub].reset_index(drop=True), y[sub]
    t0 = time.perf_counter()
    gbm, gb, Z = gbm_model(X, y, args.n_estimators, args.seed)
    mlp = mlp_model(X, y, args.seed, args.mlp_iter)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    anomalies, idx, _ = contribution_neighborhood(gb, Z, y, args.k, args.n_background,
                                                  args.seed)
    nb_s = time.perf_counter() - t0
    X_nb = X.iloc[idx[0]].reset_index(drop=True)
    print(f"Adult: {len(X)} training rows, neighborhood of {len(X_nb)} rows around row "
          f"{int(anomalies[0])} (fit {fit_s:.1f} s, contributions+kNN {nb_s:.1f} s)")
    out = {"n_train": len(X), "neighborhood_rows": len(X_nb), "anomaly_row": int(anomalies[0]),
           "models": {}}
    for name, model in (("GBM", gbm), ("MLP", mlp)):
        out["models"][name] = bench_model(name, model, X_nb, args.repeats)
    # the same GradientBoosting model on float codes: a cheap model call (no pandas step)
    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    Z_nb = pd.DataFrame(Z[idx[0]], columns=list(X.columns))
    out["models"]["GBM-codes"] = bench_model("GBMc", CodesModel(gb), Z_nb, args.repeats,
                                             categorical=cats)
    return out


def run_compas(args) -> dict:
    X, y = compas()
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(len(X))
    tr = np.sort(perm[: int(0.8 * len(X))])
    X, y = X.iloc[tr].reset_index(drop=True), y[tr]
    gbm, gb, Z = gbm_model(X, y, 100, args.seed)
    anomalies, idx, proba = contribution_neighborhood(gb, Z, y, args.compas_k,
                                                      args.n_background, args.seed,
                                                      n_anomalies=args.compas_anomalies)
    glob = neighborhood_ale(gbm, X, progress=False, target=1)
    cases = []
    first = None
    for a, rows in zip(anomalies, idx):
        X_nb = X.iloc[rows].reset_index(drop=True)
        nb = neighborhood_ale(gbm, X_nb, anomaly=X.iloc[a], target=1, progress=False)
        bias = ale_bias(nb, glob, protected=["race", "sex"], threshold=0.1)
        race = nb.curve("race")
        cases.append({
            "anomaly_row": int(a), "label": int(y[a]), "p_recid": float(proba[a, 1]),
            "anomaly_race": str(X["race"].iloc[a]), "anomaly_age": int(X["age"].iloc[a]),
            "anomaly_priors": int(X["priors_count"].iloc[a]),
            "ranking": list(bias.table.index[:5]),
            "range_neighborhood": {f: float(bias.table.loc[f, "range_neighborhood"])
                                   for f in bias.table.index},
            "race_curve": dict(zip([str(g) for g in race.grid], map(float, race.values))),
            "race_counts": dict(zip([str(g) for g in race.grid], map(int, race.counts))),
            "flagged": list(bias.flagged)})
        if first is None:
            first = (nb, bias)
    nb, bias = first
    IMG.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    ale_plot(nb, ["age", "race", "priors_count"], global_result=glob, ax=axes, show=False)
    fig.suptitle(f"COMPAS, anomaly row {cases[0]['anomaly_row']}: ALE of P(two-year recid) "
                 f"over its {args.compas_k}-row neighborhood (blue) vs all training rows "
                 "(grey)", fontsize=10)
    fig.tight_layout()
    fig.savefig(IMG / "ale_compas_fig4.png", dpi=110)
    plt.close(fig)
    ax = bias.plot(show=False)
    ax.set_title("COMPAS: ALE range, neighborhood vs global (protected: race, sex)",
                 fontsize=9)
    ax.figure.tight_layout()
    ax.figure.savefig(IMG / "ale_compas_bias.png", dpi=110)
    plt.close(ax.figure)
    g_range = {c.feature: c.range for c in glob.curves}
    summary = {
        "n_train": len(X), "neighborhood_rows": args.compas_k,
        "global_range": g_range,
        "global_race_curve": dict(zip([str(g) for g in glob.curve("race").grid],
                                      map(float, glob.curve("race").values))),
        "cases": cases,
        "race_flagged_share": float(np.mean(["race" in c["flagged"] for c in cases])),
        "race_range_neighborhoods": {
            "min": float(min(c["range_neighborhood"]["race"] for c in cases)),
            "median": float(np.median([c["range_neighborhood"]["race"] for c in cases])),
            "max": float(max(c["range_neighborhood"]["race"] for c in cases)),
            "global": float(g_range["race"])},
        "figures": ["docs/img/ale_compas_fig4.png", "docs/img/ale_compas_bias.png"]}
    for c in cases[:5]:
        print(f"  COMPAS anomaly {c['anomaly_row']} (label {c['label']}, p={c['p_recid']:.2f},"
              f" {c['anomaly_race']}, age {c['anomaly_age']}, priors {c['anomaly_priors']}): "
              f"top {c['ranking'][:3]}, race range "
              f"{c['range_neighborhood']['race']:.3f} (global {g_range['race']:.3f}), "
              f"flagged {c['flagged']}")
    rr = summary["race_range_neighborhoods"]
    print(f"  race ALE range over {len(cases)} anomaly neighborhoods: min {rr['min']:.3f}, "
          f"median {rr['median']:.3f}, max {rr['max']:.3f} (global {rr['global']:.3f}); "
          f"flagged in {summary['race_flagged_share']:.0%}")
    return summary


def main() -> None:
    info = run_info(("PyALE", "torch"))
    p = parser("ale", __doc__,
               quick="fewer training rows / trees / repeats (same 2,000-row neighborhood)")
    p.add_argument("--k", type=int, default=2000, help="neighborhood size on Adult")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-estimators", type=int, default=100)
    p.add_argument("--n-background", type=int, default=100)
    p.add_argument("--mlp-iter", type=int, default=200)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--compas-k", type=int, default=500)
    p.add_argument("--compas-anomalies", type=int, default=20)
    p.add_argument("--no-compas", action="store_true")
    args = p.parse_args()
    if args.n_train is None:
        args.n_train = 8000 if args.quick else 32561
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    t0 = time.perf_counter()
    info["machine"]["torch_threads"] = 1
    result = {"mode": "quick" if args.quick else "full", "adult": run_adult(args)}
    if not args.no_compas:
        result["compas"] = run_compas(args)
    result["total_s"] = time.perf_counter() - t0
    write_result(args.out, "ale", info, args, result)
    print(f"wrote {args.out} ({result['total_s']:.0f} s)")


if __name__ == "__main__":
    main()
