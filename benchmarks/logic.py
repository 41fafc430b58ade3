"""Benchmark: logic explanations, the LEN comparison (Ciravegna et al., "Logic Explained
Networks", 2023) on our bundled data and a clinical stand-in for MIMIC-II.

For each data set the features become LOW/NORMAL/HIGH, flag and category-level concepts
(:func:`shap_debug.explanations.logic._concepts.to_concepts`), and the five extraction methods of
:func:`shap_debug.explanations.logic.explain_formula` (tree, pruning, weights, psi, entropy) are compared
by stratified 10-fold cross-validation on the held-out folds: model accuracy, explanation
accuracy, fidelity, complexity, consistency and time.

MIMIC-II cannot be downloaded here; as the stand-in we use scikit-learn's breast-cancer
data (569 patients, 30 numeric measurements) discretised LOW/NORMAL/HIGH as the MIMIC recipe
does, explaining "malignant".

Peer in the same run: the reference implementation of the entropy LEN, torch-explain 1.5.1
(``EntropyLinear`` + ``entropy.explain_class``), trained and explained on the very same folds
and concepts; its formula is translated into our :class:`~shap_debug.explanations.logic.Formula` and scored
by the same code (torch-explain's own ``test_explanation`` with ``mask=None`` returns an
all-or-nothing accuracy). It runs when torch-explain is importable, e.g. after
``pip install --no-deps --target /tmp/te_peer torch-explain==1.5.1`` and
``--peer-path /tmp/te_peer`` (``--no-deps``: it must never change torch).

Usage: ``python benchmarks/logic.py [--quick] [--peer-path DIR]``; writes
``benchmarks/results/logic.json``. ``--quick`` subsamples Adult to 4,000 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from shap_debug import ShapDebugWarning  # noqa: E402
from shap_debug.datasets import adult, compas, german  # noqa: E402
from shap_debug.explanations.logic import (
    METHODS,
    Formula,
    consistency,
    logic_cross_validation,
    to_concepts,  # noqa: E402
)

RESULTS = Path(__file__).parent / "results" / "logic.json"
METRICS = ["model_accuracy", "explanation_accuracy", "fidelity", "complexity", "time"]


def load(name: str, quick: bool, seed: int = 0):
    if name == "breast_cancer_mimic_standin":
        data = load_breast_cancer(as_frame=True)
        return data.data, (data.target.to_numpy() == 0).astype(int), "malignant"
    if name == "german":
        X, y = german()
        return X, y, "bad credit risk"
    if name == "compas":
        X, y = compas("two_year_recid")
        return X, y, "two-year recidivism"
    if name == "adult":
        X, y = adult("train")
        if quick:
            rng = np.random.default_rng(seed)
            idx = np.sort(rng.choice(len(X), 4000, replace=False))
            X, y = X.iloc[idx].reset_index(drop=True), y[idx]
        return X, y, "income > 50K"
    raise ValueError(name)


def peer_entropy(C: np.ndarray, t: np.ndarray, names: list[str], folds, epochs: int,
                 max_literals: int, seed: int):
    """torch-explain 1.5.1's entropy LEN on the same folds; scored by our Formula code."""
    import torch_explain as te
    from torch_explain.logic.nn import entropy

    rows, formulas = [], []
    index = {f"feature{j:010}": names[j] for j in range(len(names))}
    for k, (tr, tst) in enumerate(folds):
        torch.manual_seed(seed + k)  # torch-explain draws from the global generator
        x = torch.as_tensor(C[tr], dtype=torch.float32)
        y1h = torch.nn.functional.one_hot(torch.as_tensor(t[tr].astype(np.int64)), 2).float()
        start = time.perf_counter()
        model = torch.nn.Sequential(
            te.nn.EntropyLinear(C.shape[1], 10, n_classes=2), torch.nn.LeakyReLU(),
            torch.nn.Linear(10, 4), torch.nn.LeakyReLU(), torch.nn.Linear(4, 1))
        opt = torch.optim.AdamW(model.parameters(), lr=0.01)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        for _ in range(epochs):
            opt.zero_grad()
            loss = loss_fn(model(x).squeeze(-1), y1h) + 1e-4 * te.nn.functional.entropy_logic_loss(model)
            loss.backward()
            opt.step()
        mask = torch.arange(len(tr))
        text, _ = entropy.explain_class(model, x, y1h, mask, mask, target_class=1,
                                        max_minterm_complexity=max_literals,
                                        topk_explanations=100, try_all=False, simplify=True)
        elapsed = time.perf_counter() - start
        formula = _from_peer(text, index)
        formulas.append(formula)
        Ct = pd.DataFrame(C[tst], columns=names)
        with torch.no_grad():
            m_pred = (model(torch.as_tensor(C[tst], dtype=torch.float32)).squeeze(-1)[:, 1] > 0).numpy()
        f_pred = formula.evaluate(Ct)
        rows.append({"fold": k, "model_accuracy": float(np.mean(m_pred == t[tst])),
                     "explanation_accuracy": float(np.mean(f_pred == t[tst])),
                     "fidelity": float(np.mean(f_pred == m_pred)),
                     "complexity": formula.complexity, "time": elapsed,
                     "formula": str(formula)})
    return pd.DataFrame(rows), formulas


def _from_peer(text: str, index: dict[str, str]) -> Formula:
    """torch-explain's placeholder DNF string -> our Formula (parsed, never evaluated)."""
    text = (text or "").replace("(", "").replace(")", "").strip()
    if text in ("", "False"):
        return Formula(())
    if text == "True":
        return Formula(((),))
    terms = []
    for part in text.split("|"):
        lits = []
        for tok in part.split("&"):
            tok = tok.strip()
            neg = tok.startswith("~")
            name = tok[1:] if neg else tok
            if not re.fullmatch(r"feature\d{10}", name):
                raise ValueError(f"unexpected token {tok!r} in a torch-explain formula")
            lits.append((index[name], not neg))
        terms.append(tuple(lits))
    return Formula(tuple(terms))


def summarise(frame: pd.DataFrame) -> dict:
    out = {}
    for m in METRICS:
        v = frame[m].to_numpy(dtype=float)
        out[m] = float(v.mean())
        out[f"{m}_sem"] = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="Adult subsampled to 4,000 rows")
    ap.add_argument("--n-splits", type=int, default=10)
    ap.add_argument("--datasets", nargs="+", default=["breast_cancer_mimic_standin", "german",
                                                      "compas", "adult"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--peer-path", default=None, help="folder holding torch_explain")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--peer-max-rows", type=int, default=7000,
                    help="skip the (slow, sympy-based) peer on larger data sets")
    ap.add_argument("--output", default=str(RESULTS))
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ShapDebugWarning)
    if args.peer_path:
        sys.path.insert(0, args.peer_path)
    peer_ok = False
    if not args.no_peer:
        try:
            import torch_explain  # noqa: F401

            peer_ok = True
        except ImportError:
            print("torch-explain not importable: the peer column is skipped")

    results = {
        "setting": {
            "protocol": f"stratified {args.n_splits}-fold CV (shuffled, seed 0); metrics on the "
                        "held-out fold; formulas describe the positive class vs the rest",
            "concepts": "to_concepts(X, n_bins=3): quantile LOW/NORMAL/HIGH, flags, one "
                        "concept per category level",
            "method_params": "explain_formula defaults",
            "quick": args.quick,
            "adult_rows": 4000 if args.quick else 32561,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(), "torch_threads": 1},
            "versions": {"torch": torch.__version__, "sklearn": sklearn.__version__,
                         "numpy": np.__version__, "pandas": pd.__version__},
            "note": "timed on a shared 2-core machine while other work ran; compare "
                    "times within this run only",
        },
        "datasets": {},
    }
    if peer_ok:
        import torch_explain

        results["setting"]["peer"] = (f"torch-explain {torch_explain.__version__} entropy LEN "
                                      "(EntropyLinear 10-4-1, AdamW lr 0.01, entropy loss 1e-4, "
                                      "same epochs, explain_class(max_minterm_complexity=8, "
                                      "topk_explanations=100, simplify=True)), same folds")
    total = time.perf_counter()
    for name in args.datasets:
        X, y, label = load(name, args.quick)
        C, enc = to_concepts(X)
        t = y == 1
        folds = list(StratifiedKFold(args.n_splits, shuffle=True, random_state=0).split(C, t))
        start = time.perf_counter()
        cv = logic_cross_validation(C, y, args.methods, cv=folds, random_state=0,
                                    progress=False)
        elapsed = time.perf_counter() - start
        table = cv.to_frame()
        entry = {"rows": len(X), "concepts": C.shape[1], "positive_class": label,
                 "positive_rate": float(t.mean()), "cv_seconds": elapsed, "methods": {}}
        for m in args.methods:
            folds_m = cv.folds[cv.folds["method"] == m]
            entry["methods"][m] = {**summarise(folds_m),
                                   "consistency": float(table.loc[m, "consistency"]),
                                   "example_formula": str(cv.formulas[m][0])[:400]}
        if peer_ok and "entropy" in args.methods and len(X) > args.peer_max_rows:
            entry["peer_torch_explain_entropy"] = (
                f"skipped: {len(X)} rows > --peer-max-rows {args.peer_max_rows} (its sympy "
                "formula evaluation takes minutes per fold here)")
        elif peer_ok and "entropy" in args.methods:
            pf, pforms = peer_entropy(C.to_numpy(), t, list(C.columns), folds, epochs=300,
                                      max_literals=8, seed=0)
            ours = entry["methods"]["entropy"]
            peer = {**summarise(pf), "consistency": consistency(pforms),
                    "example_formula": pf.loc[0, "formula"][:400]}
            entry["peer_torch_explain_entropy"] = peer
            entry["ratios_ours_over_peer_entropy"] = {
                m: (ours[m] / peer[m] if peer[m] else None)
                for m in ("explanation_accuracy", "fidelity", "complexity", "time")}
        # The LEN notebook's pattern, checked on this run.
        ms = entry["methods"]
        pattern = {}
        if "tree" in ms:
            pattern["tree_fidelity_1"] = ms["tree"]["fidelity"] == 1.0
            pattern["tree_complexity_over_100"] = ms["tree"]["complexity"] > 100
        for m in ("pruning", "psi"):
            if m in ms:
                pattern[f"{m}_complexity_under_10"] = ms[m]["complexity"] < 10
                pattern[f"{m}_expl_acc_within_5pts_of_its_model"] = (
                    ms[m]["model_accuracy"] - ms[m]["explanation_accuracy"] <= 0.05)
                if "tree" in ms:
                    pattern[f"{m}_expl_acc_minus_tree_model_acc"] = (
                        ms[m]["explanation_accuracy"] - ms["tree"]["model_accuracy"])
        majority = max(t.mean(), 1 - t.mean())
        entry["majority_class_accuracy"] = float(majority)
        if "weights" in ms:
            w = ms["weights"]
            pattern["weights_accuracy_drop"] = w["model_accuracy"] - w["explanation_accuracy"]
            gain = w["model_accuracy"] - majority
            # LEN's "loses most of the accuracy", measured above the majority-class baseline
            pattern["weights_share_of_model_gain_over_majority_kept"] = (
                (w["explanation_accuracy"] - majority) / gain if gain > 0.005 else None)
        entry["len_pattern"] = pattern
        results["datasets"][name] = entry

        print(f"\n{name}: {len(X)} rows, {C.shape[1]} concepts, {elapsed:.1f}s")
        print(f"{'method':<10}{'model acc':>11}{'expl acc':>10}{'fidelity':>10}"
              f"{'complexity':>12}{'consist.':>10}{'time s':>9}")
        show = list(ms.items())
        if isinstance(entry.get("peer_torch_explain_entropy"), dict):
            show.append(("te-entropy", entry["peer_torch_explain_entropy"]))
        for m, r in show:
            print(f"{m:<10}{r['model_accuracy']:>11.3f}{r['explanation_accuracy']:>10.3f}"
                  f"{r['fidelity']:>10.3f}{r['complexity']:>12.1f}{r['consistency']:>10.2f}"
                  f"{r['time']:>9.2f}")
    results["setting"]["total_seconds"] = time.perf_counter() - total
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2, default=float))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
