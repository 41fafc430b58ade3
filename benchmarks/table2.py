"""Reproduce Table II of Rasouli & Yu, "Explainable Debugger for Black-box ML Models".

For each data set (German credit, COMPAS, Adult) and model (GradientBoosting,
LogisticRegression, MLP; scikit-learn defaults, ``random_state=42``, 80/20 split with seed
42, label-encoded features as in the reference code), draw anomalies of the training set,
flip the labels of each anomaly's K nearest training rows in contribution space (N^c),
feature space (N^f, standardised) and probability space (N^p), retrain, and report the
share of anomalies whose prediction changed. K = 200 / 500 / 2000 as in the paper.

Contributions: ``shap_debug.contributions.explain`` on the encoded training matrix (exact
interventional TreeSHAP for GB, exact linear SHAP for LR, our sampling estimator for the
MLP; the MLP is a StandardScaler + MLPClassifier pipeline, see ``_mlp``).

Usage::

    python benchmarks/table2.py --quick            # minutes on a laptop
    python benchmarks/table2.py                    # full: 100 anomalies per cell
    python benchmarks/table2.py --datasets german --anomalies 50 --n-jobs 4

Writes ``benchmarks/results/table2.json`` (cells are written as they finish).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shap_debug.blame import label_flip_check, label_flip_summary  # noqa: E402
from shap_debug.contributions import explain  # noqa: E402
from shap_debug.datasets import adult, compas, encode, german  # noqa: E402

DATASETS = {
    "german": (lambda: german(), 200),
    "compas": (lambda: compas(target="decile_score"), 500),
    "adult": (lambda: adult(split="train"), 2000),
}
def _mlp(random_state: int):
    # MLPClassifier defaults behind a StandardScaler: on raw label codes (amounts in the
    # thousands) the default MLP predicts a single class on German credit (accuracy = base
    # rate, every "anomaly" is a positive row), which makes the cell meaningless.
    return make_pipeline(StandardScaler(), MLPClassifier(random_state=random_state))


MODELS = {
    "GB": GradientBoostingClassifier,
    "LR": LogisticRegression,
    "MLP": _mlp,
}
# anomalies per cell: --quick keeps German under 2 minutes and the 9 cells to about 10
# minutes on 2 busy cores; LR retrains in milliseconds, so its cells get more anomalies
QUICK_ANOMALIES = {"german": {"GB": 12, "LR": 50, "MLP": 12},
                   "compas": {"GB": 10, "LR": 40, "MLP": 6},
                   "adult": {"GB": 3, "LR": 40, "MLP": 2}}
FULL_ANOMALIES = {d: {m: 100 for m in ("GB", "LR", "MLP")} for d in ("german", "compas", "adult")}
# the paper's reported ranges over its 9 cells (its per-cell values are not bundled here)
PAPER_RANGES = {"contributions": [0.33, 0.99], "features": [0.21, 0.82],
                "probabilities": [0.08, 0.35]}
SHORT = {"contributions": "N^c", "features": "N^f", "probabilities": "N^p"}
NOTES = [
    "runs['quick'] is `--quick`; runs['full_german'] the full protocol (100 anomalies per "
    "cell, all when fewer) on German credit. The full protocol for COMPAS and Adult is "
    "documented but was not run on the shared 2-core machine (300 MLP retrains on Adult at "
    "~30-40 s each take ~3 h); the extended_* runs use 12-50 anomalies per cell instead.",
    "reference_german_include_anomaly reproduces the authors' code, which also flipped the "
    "anomaly's own label (include_anomaly=True).",
    "mean_probability_drop: mean fall of the probability of the original prediction after "
    "the flip; it ranks spaces where the rate saturates at 1.",
    "Paper numbers: only the ranges over the 9 cells are available here (paper_ranges).",
]


def machine_info() -> dict:
    import shap

    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "shap": shap.__version__,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def run_cell(ds: str, model_name: str, Ztr, ytr, Zte, yte, k: int, n_anomalies: int,
             args) -> dict:
    t_cell = time.perf_counter()
    model = MODELS[model_name](random_state=42)
    t0 = time.perf_counter()
    model.fit(Ztr, ytr)
    fit_s = time.perf_counter() - t0
    acc = float(model.score(Zte, yte))
    n_anom_total = int((model.predict(Ztr) != ytr).sum())

    t0 = time.perf_counter()
    exp = explain(model, Ztr, n_background=args.n_background, random_state=42,
                  progress=False)
    explain_s = time.perf_counter() - t0
    method = ("tree" if model_name == "GB" else "linear" if model_name == "LR"
              else "sampling")

    t0 = time.perf_counter()
    trials = label_flip_check(model, Ztr, ytr, n_anomalies, n_neighbors=k,
                              contributions=exp, include_anomaly=args.include_anomaly,
                              random_state=42, n_jobs=args.n_jobs, progress=False)
    trials_s = time.perf_counter() - t0
    summ = label_flip_summary(trials)
    rates = {r.space: float(r.rate) for r in summ.itertuples()}
    se = {r.space: float(r.se) for r in summ.itertuples()}
    drop = {r.space: float(r.mean_drop) for r in summ.itertuples()}
    time_by_space = trials.groupby("space")["time_s"].sum().to_dict()
    c, f, p = rates["contributions"], rates["features"], rates["probabilities"]
    return {
        "dataset": ds,
        "model": model_name,
        "K": k,
        "n_train": int(len(Ztr)),
        "test_accuracy": acc,
        "anomalies_in_train": n_anom_total,
        "anomalies_checked": int(trials["anomaly"].nunique()),
        "rates": rates,
        "standard_errors": se,
        "mean_probability_drop": drop,
        "order_of_drop_c_gt_f_gt_p": bool(drop["contributions"] > drop["features"]
                                          > drop["probabilities"]),
        "order_c_gt_f_gt_p": bool(c > f > p),
        "order_c_ge_f_ge_p": bool(c >= f >= p),
        "ratio_c_over_f": (c / f) if f > 0 else None,
        "ratio_f_over_p": (f / p) if p > 0 else None,
        "contribution_method": method,
        "times_s": {
            "fit": fit_s,
            "explain": explain_s,
            "trials_wall": trials_s,
            "retrain_sum_by_space": {kk: float(v) for kk, v in time_by_space.items()},
            "cell_wall": time.perf_counter() - t_cell,
        },
    }


def print_table(cells: list[dict]) -> None:
    head = (f"{'data':7s} {'model':5s} {'K':>5s} {'q':>4s}  "
            + "  ".join(f"{SHORT[s] + ' rate (drop)':>22s}" for s in PAPER_RANGES)
            + f"  {'c>f>p':>6s} {'time s':>8s}")
    print(head)
    print("-" * len(head))
    for c in cells:
        drop = c.get("mean_probability_drop", {})
        vals = "  ".join(
            f"{c['rates'][s]:5.2f}±{c['standard_errors'][s]:4.2f} ({drop.get(s, np.nan):5.2f})"
            .rjust(22) for s in PAPER_RANGES)
        print(f"{c['dataset']:7s} {c['model']:5s} {c['K']:5d} {c['anomalies_checked']:4d}  "
              f"{vals}  {str(c['order_c_gt_f_gt_p']):>6s} {c['times_s']['cell_wall']:8.1f}")
    print("-" * len(head))
    rng = "  ".join(f"{lo:.2f}-{hi:.2f}".rjust(22) for lo, hi in PAPER_RANGES.values())
    print(f"{'paper':7s} {'range':5s} {'':>5s} {'':>4s}  {rng}")


def make_figures(img_dir: Path) -> list[str]:
    """The docs' figures on German credit with GradientBoosting (Figs. 1 and 3 of the paper)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    from shap_debug.neighborhood import NeighborhoodModel, space_view

    X, y = german()
    Z, enc = encode(X, kind="ordinal")
    Ztr, _, ytr, _ = train_test_split(Z, y, test_size=0.2, random_state=42)
    gb = GradientBoostingClassifier(random_state=42).fit(Ztr, ytr)
    nbm = NeighborhoodModel(n_neighbors=200, exclude_self=True).fit(
        gb, Ztr, ytr, feature_names=enc.feature_names_out_, random_state=42, progress=False)
    img_dir.mkdir(parents=True, exist_ok=True)
    written = []

    axes = space_view(nbm).plot(show=False)
    axes[0].figure.tight_layout()
    path = img_dir / "neighborhood_space_view.png"
    axes[0].figure.savefig(path, dpi=110)
    written.append(str(path))

    fig, axs = plt.subplots(1, 2, figsize=(11, 4))
    occ = nbm.occurrence()
    occ.plot(kind="ranked", max_display=40, ax=axs[0], show=False)
    occ.plot(kind="hist", ax=axs[1], show=False)
    fig.tight_layout()
    path = img_dir / "neighborhood_occurrence.png"
    fig.savefig(path, dpi=110)
    written.append(str(path))

    nb = nbm.neighbors(int(nbm.anomalies_[0]))
    fig, axs = plt.subplots(1, 2, figsize=(12, 4.5))
    nb.plot(max_display=8, ax=axs[0], show=False)
    shap.plots.beeswarm(nb.explanation, max_display=8, ax=axs[1], show=False,
                        plot_size=None)
    fig.tight_layout()
    path = img_dir / "neighborhood_beeswarm.png"
    fig.savefig(path, dpi=110)
    written.append(str(path))
    plt.close("all")
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"few anomalies per cell {QUICK_ANOMALIES}")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--anomalies", type=int, default=None,
                    help="anomalies per cell (overrides the mode's default)")
    ap.add_argument("--n-background", type=int, default=None,
                    help="background rows for the MLP's sampling contributions "
                         "(default 30 quick, 100 full)")
    ap.add_argument("--include-anomaly", action="store_true",
                    help="also flip the anomaly's own label (the reference code's behaviour)")
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--label", default=None,
                    help="name of this run inside the JSON (default: the mode, plus "
                         "'_include_anomaly'); other runs already in the file are kept")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "table2.json"))
    ap.add_argument("--figures", action="store_true",
                    help="only draw the docs' figures to docs/img/neighborhood_*.png")
    args = ap.parse_args(argv)
    if args.figures:
        print("\n".join(make_figures(ROOT / "docs" / "img")))
        return
    if args.n_background is None:
        args.n_background = 30 if args.quick else 100
    warnings.filterwarnings("ignore")  # sklearn ConvergenceWarning with default settings

    mode = "quick" if args.quick else "full"
    label = args.label or mode + ("_include_anomaly" if args.include_anomaly else "")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {}
    if out.exists():
        try:
            doc = json.loads(out.read_text())
        except json.JSONDecodeError:
            doc = {}
    doc.setdefault("benchmark", "table2")
    doc["paper"] = ("Rasouli & Yu, Explainable Debugger for Black-box Machine Learning "
                    "Models (IJCNN 2021), Table II")
    doc["paper_ranges"] = PAPER_RANGES
    doc["notes"] = NOTES
    doc.setdefault("runs", {})
    result = {
        "mode": mode,
        "settings": {
            "anomalies_per_cell": {
                d: {m: args.anomalies or (QUICK_ANOMALIES if args.quick
                                          else FULL_ANOMALIES)[d][m] for m in args.models}
                for d in args.datasets},
            "n_background_mlp": args.n_background,
            "include_anomaly": args.include_anomaly,
            "n_jobs": args.n_jobs,
            "split": "80/20, train_test_split(random_state=42)",
            "encoding": "ordinal (label-encoded categories, as the reference code)",
            "feature_space": "numeric columns z-scored (StandardScaler)",
            "models": "scikit-learn defaults, random_state=42; MLP = StandardScaler + "
                      "MLPClassifier (an unscaled default MLP predicts one class on German)",
            "compas_target": "decile_score (the reference binarisation)",
            "adult_rows": "adult(split='train'), 32,561 rows",
        },
        "machine": machine_info(),
        "command": " ".join(["python", "benchmarks/table2.py", *(argv or sys.argv[1:])]),
        "complete": False,
        "cells": [],
    }

    def save():  # a run replaces an older one of the same label once it has a cell
        doc["runs"][label] = result
        out.write_text(json.dumps(doc, indent=2))

    t_all = time.perf_counter()
    for ds in args.datasets:
        loader, k = DATASETS[ds]
        X, y = loader()
        Z, _ = encode(X, kind="ordinal")
        Ztr, Zte, ytr, yte = train_test_split(Z, y, test_size=0.2, random_state=42)
        for m in args.models:
            q = result["settings"]["anomalies_per_cell"][ds][m]
            cell = run_cell(ds, m, Ztr, ytr, Zte, yte, k, q, args)
            result["cells"].append(cell)
            print(f"[{ds}/{m}] {cell['rates']} in {cell['times_s']['cell_wall']:.1f}s",
                  flush=True)
            result["total_wall_s"] = time.perf_counter() - t_all
            save()
    cells = result["cells"]
    result["summary"] = {
        "cells": len(cells),
        "cells_c_gt_f_gt_p": sum(c["order_c_gt_f_gt_p"] for c in cells),
        "cells_c_gt_f": sum(c["rates"]["contributions"] > c["rates"]["features"]
                            for c in cells),
        "cells_f_gt_p": sum(c["rates"]["features"] > c["rates"]["probabilities"]
                            for c in cells),
        "cells_c_gt_p": sum(c["rates"]["contributions"] > c["rates"]["probabilities"]
                            for c in cells),
        "cells_drop_c_gt_f_gt_p": sum(c["order_of_drop_c_gt_f_gt_p"] for c in cells),
        "mean_rate": {s: float(np.mean([c["rates"][s] for c in cells])) for s in PAPER_RANGES},
    }
    result["total_wall_s"] = time.perf_counter() - t_all
    result["complete"] = True
    save()
    print_table(cells)
    print(f"\n{result['summary']}\ntotal {result['total_wall_s']:.0f}s -> {out} [{label}]")


if __name__ == "__main__":
    main()
