"""Benchmark: planted bugs the library was not tuned on (issue 25).

Every kind of :func:`shap_debug.testing.inject` (plus clean controls) x Adult, German, COMPAS
and scikit-learn's breast cancer (not bundled) x two model families (``HistGradientBoosting``
with depth 3 and 100 iterations; ``StandardScaler`` + ``LogisticRegression``) x 3 seeds, on
ordinal codes. Adult and COMPAS are subsampled to 3000 rows; 30 % of the rows are held out.

Per cell:

- **detected**: the planted kind is among the first three findings (``detected_confirmed``:
  and that finding is confirmed; suspicious rows yield a ``label_noise`` finding on any data,
  so its plain detection says little);
- **localised**: that finding names the planted feature, or its rows / cohort overlap the
  planted ones with Jaccard >= 0.5 (model-side kinds: the kind suffices);
- **fixed** (fixable kinds): the best verified fix (interval of the held-out accuracy change
  above 0) recovers >= 50 % of the held-out accuracy gap between the model trained on the
  bugged data and the reference trained on the clean version (cells with a gap under 1
  point are left out: nothing to recover);
- **false alarm** (clean controls): a confirmed finding with a fix.

Findings come from ``Debugger(...).findings()`` when the debugger has it; otherwise from
:func:`shap_debug.audit.scan` plus the verified fixes of
:func:`shap_debug.fixes.verify_fixes` (suspicious rows -> ``label_noise``, label-shift
regions whose relabelling is verified -> ``systematic_relabelling``), with the scan's signals
turned into actions by :func:`shap_debug.fixes.signal_actions`.

Peers in the same run, each on its own kinds, scored by the same localisation rule:
cleanlab's ``find_label_issues`` on 3-fold cross-validated probabilities (label noise,
relabelling, conflicting duplicates: rows); an error-analysis tree (a depth-3 decision tree
on the held-out error indicator; its worst leaf, for under-represented and shifted cohorts;
on the cross-validated training errors for relabelled cohorts); deepchecks' checks where it
imports (``FeatureLabelCorrelation`` for leakage and ID columns, ``FeatureLabelCorrelationChange``
for shortcuts, ``ConflictingLabels``, ``FeatureDrift`` for cohort shifts).

Run: ``python benchmarks/bugs.py [--quick | --one-seed]``; writes
``benchmarks/results/bugs.json`` (``bugs_quick.json`` with ``--quick``: one seed, one data set
and model per kind, rotating, plus the clean controls of every data set and model, about 2
minutes on 2 cores; ``bugs_one_seed.json`` with ``--one-seed``: every cell of the full grid with
seed 0, about 10 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import traceback
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

import shap_debug  # noqa: E402
from shap_debug.audit import Signal, cross_val_proba, scan  # noqa: E402
from shap_debug.datasets import adult, compas, encode, german  # noqa: E402
from shap_debug.fixes import rule_mask, signal_actions, verify_fixes  # noqa: E402
from shap_debug.testing import BUG_KINDS, FIXABLE, inject  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FAMILIES = ["relabel suspicious", "drop suspicious", "relabel in cohort", "drop in cohort",
            "drop conflicting duplicates"]
ROW_KINDS = ("label_noise", "systematic_relabelling", "conflicting_duplicates")
PEER_KINDS = {
    "cleanlab": ("label_noise", "systematic_relabelling", "conflicting_duplicates"),
    "error tree": ("under_represented", "cohort_shift", "systematic_relabelling"),
    "deepchecks": ("leakage", "id_column", "shortcut", "conflicting_duplicates",
                   "cohort_shift"),
}


# --------------------------------------------------------------------------- data, models
def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer(as_frame=True)
    return d.data, d.target.to_numpy()


def load(name: str, max_rows: int = 3000):
    X, y = {"adult": adult, "german": german, "compas": compas,
            "breast_cancer": _breast_cancer}[name]()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))[:max_rows]
    X, y = X.iloc[idx].reset_index(drop=True), y[idx]
    if any(not pd.api.types.is_numeric_dtype(t) for t in X.dtypes):
        Z, enc = encode(X, "ordinal")
        X = pd.DataFrame(Z, columns=enc.feature_names_out_)
    n = int(0.7 * len(y))
    return X.iloc[:n], y[:n], X.iloc[n:], y[n:]


MODELS = {
    "GB": lambda: HistGradientBoostingClassifier(max_depth=3, max_iter=100, random_state=0),
    "LR": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
}


def accuracy(model, X, y) -> float:
    return float(np.mean(model.predict(X) == y))


# --------------------------------------------------------------------------- findings
def _labels(X, pos) -> tuple:
    return tuple(X.index.to_numpy()[np.asarray(pos, dtype=np.int64)])


def fallback_findings(model, bug, seed: int) -> tuple[list[Signal], dict]:
    """scan + the verified fixes (label noise and relabelled regions from their evidence)."""
    signals = list(scan(model, bug.X, bug.y, bug.X_test, bug.y_test, random_state=seed))
    acts = signal_actions(signals, bug.X, bug.y)
    rep = verify_fixes(model, bug.X, bug.y, X_test=bug.X_test, y_test=bug.y_test,
                       actions=FAMILIES + acts, n_repeats=1, n_bootstrap=500, cv=3,
                       screen_regions=4, max_cohorts=3, random_state=seed, progress=False)
    eff = rep.effects[rep.effects["scope"] == "overall"].set_index("action")
    fams = {a.name: a.family for a in rep.actions}

    def best(names):
        names = [n for n in names if n in eff.index]
        if not names:
            return None, None
        n = max(names, key=lambda k: eff.loc[k, "delta"])
        return n, eff.loc[n]

    ev = rep.evidence
    out = []
    flagged = ev.suspicious.flagged
    if len(flagged):
        n, line = best([a for a in eff.index if fams.get(a) in ("relabel suspicious",
                                                               "drop suspicious")])
        ok = line is not None and line["low"] > 0
        out.append(Signal("label_noise", rows=_labels(bug.X, flagged),
                          strength=len(flagged) / len(bug.y), measure="share flagged",
                          p_value=None if line is None else float(line["p_value"]),
                          verdict="confirmed" if ok else "suspected",
                          fix=n and fams[n], details={"fix_action": n}))
    for c in ev.failing:
        if c.source != "label shift" and not len(c.contradicted):
            continue
        n, line = best([a.name for a in rep.actions if a.cohort == c.label])
        ok = line is not None and line["low"] > 0
        rows = c.contradicted if len(c.contradicted) else c.train_rows
        out.append(Signal("systematic_relabelling", rows=_labels(bug.X, rows),
                          strength=float(c.shift) if np.isfinite(c.shift) else 0.0,
                          measure="label shift", details={"rule": c.rule,
                                                          "cohort_rows": _labels(bug.X, c.train_rows),
                                                          "fix_action": n},
                          p_value=None if line is None else float(line["p_value"]),
                          verdict="confirmed" if ok else "suspected", fix=n and fams[n]))
    ranked = sorted(signals + out, key=lambda s: (s.verdict != "confirmed",
                                                  0.0 if s.p_value is None else s.p_value))
    helped = eff[eff["low"] > 0]
    top = None if helped.empty else helped["delta"].idxmax()
    return ranked, {"best_fix": top, "best_fix_delta": None if top is None else float(
        helped.loc[top, "delta"]), "best_fix_family": None if top is None else fams[top]}


def debugger_findings(model, bug, seed: int):
    from shap_debug.debugger import Debugger

    fs = Debugger(model, bug.X, bug.y, X_test=bug.X_test, y_test=bug.y_test,
                  random_state=seed, progress=False).findings()
    helped = [f for f in fs if f.fix_effect is not None and f.fix_interval is not None
              and f.fix_interval[0] > 0]
    top = max(helped, key=lambda f: f.fix_effect, default=None)
    return list(fs), {"best_fix": None if top is None else top.fix,
                      "best_fix_delta": None if top is None else top.fix_effect / 100.0,
                      "best_fix_family": None}


# --------------------------------------------------------------------------- scoring
def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / max(len(a | b), 1)


def localised(bug, f) -> bool:
    k = bug.kind
    feats = tuple(getattr(f, "features", ()) or ())
    rows = tuple(getattr(f, "rows", ()) or ())
    rule = getattr(f, "rule", None)
    if k in ("overfitting", "underfitting"):
        return True
    if k in ("leakage", "id_column", "shortcut"):
        return bool(feats) and feats[0] == bug.features[0]
    if k == "sentinel":
        return bool(feats) and feats[0] == bug.features[0] and jaccard(rows, bug.rows) >= 0.5
    if k == "cohort_shift":
        if feats and feats[0] == bug.features[0]:
            return True
        return isinstance(rule, dict) and jaccard(
            bug.test_rows, bug.X_test.index[rule_mask(rule, bug.X_test)]) >= 0.5
    if k == "systematic_relabelling":
        truth = bug.X.index[rule_mask(bug.rule, bug.X)]
        cohort = (getattr(f, "details", {}) or {}).get("cohort_rows", ())
        return jaccard(rows, bug.rows) >= 0.5 or jaccard(cohort, truth) >= 0.5
    return jaccard(rows, bug.rows) >= 0.5


def peer_cleanlab(model, bug, proba) -> tuple:
    from cleanlab.filter import find_label_issues

    mask = find_label_issues(np.searchsorted(np.unique(bug.y), bug.y), proba)
    return tuple(bug.X.index[mask])


def _worst_leaf(X, wrong, seed: int) -> np.ndarray:
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=max(10, len(wrong) // 50),
                                  random_state=seed).fit(X, wrong)
    leaf = tree.apply(X)
    rates = pd.Series(wrong).groupby(leaf).mean()
    return leaf == rates.idxmax()


def peer_tree(model, bug, proba, seed: int) -> dict:
    out = {}
    if bug.kind in ("under_represented", "cohort_shift"):
        wrong = (model.predict(bug.X_test) != bug.y_test).astype(int)
        m = _worst_leaf(bug.X_test, wrong, seed)
        out["localised"] = jaccard(bug.X_test.index[m], bug.test_rows) >= 0.5
    elif bug.kind == "systematic_relabelling":
        wrong = (np.unique(bug.y)[proba.argmax(1)] != bug.y).astype(int)
        m = _worst_leaf(bug.X, wrong, seed)
        truth = bug.X.index[rule_mask(bug.rule, bug.X)]
        out["localised"] = (jaccard(bug.X.index[m], truth) >= 0.5
                            or jaccard(bug.X.index[m], bug.rows) >= 0.5)
    return out


def peer_deepchecks(model, bug) -> dict:
    from deepchecks.tabular import Dataset
    from deepchecks.tabular import checks as dc

    tr = Dataset(bug.X.assign(_label=bug.y), label="_label", cat_features=[])
    te = Dataset(bug.X_test.assign(_label=bug.y_test), label="_label", cat_features=[])
    k = bug.kind
    if k in ("leakage", "id_column"):
        v = dc.FeatureLabelCorrelation().run(tr).value
        top = max(v, key=v.get)
        return {"localised": top == bug.features[0] and v[top] >= 0.8}
    if k == "shortcut":
        v = dc.FeatureLabelCorrelationChange().run(tr, te).value
        diff = {f: v["train"][f] - v["test"][f] for f in v["train"]}
        top = max(diff, key=diff.get)
        return {"localised": top == bug.features[0] and diff[top] > 0.2}
    if k == "conflicting_duplicates":
        v = dc.ConflictingLabels().run(tr).value
        return {"localised": float(v.get("percent_of_conflicting_samples", 0)) > 0}
    if k == "cohort_shift":
        v = dc.FeatureDrift().run(tr, te, model=model).value
        top = max(v, key=lambda f: v[f]["Drift score"])
        return {"localised": top == bug.features[0]}
    return {}


# --------------------------------------------------------------------------- one cell
def run_cell(data: str, fam: str, kind: str, seed: int, split, use_debugger: bool,
             deepchecks_ok: bool) -> dict:
    t0 = time.time()
    base = MODELS[fam]()
    bug = inject(kind, *split, random_state=seed, model=base)
    model = (bug.model if bug.model is not None else base).fit(bug.X, bug.y)
    ref = (bug.clean_model if bug.clean_model is not None else MODELS[fam]())
    ref.fit(bug.X_clean, bug.y_clean)
    acc_bug = accuracy(model, bug.X_test, bug.y_test)
    acc_ref = accuracy(ref, bug.X_test_clean, bug.y_test_clean)
    if use_debugger:
        findings, fix = debugger_findings(model, bug, seed)
    else:
        findings, fix = fallback_findings(model, bug, seed)
    cell = {"data": data, "model": fam, "kind": kind, "seed": seed, "acc_bug": acc_bug,
            "acc_ref": acc_ref, "top3": [f.kind for f in findings[:3]], **fix,
            "confirmed": [f.kind for f in findings if f.verdict == "confirmed"]}
    if kind == "clean":
        cell["false_alarm"] = any(f.verdict == "confirmed" and (f.fix or getattr(
            f, "fix_effect", None)) for f in findings)
    else:
        hit = [f for f in findings[:3] if f.kind == kind]
        cell["detected"] = bool(hit)
        cell["detected_confirmed"] = any(f.verdict == "confirmed" for f in hit)
        cell["localised"] = bool(hit) and localised(bug, hit[0])
        if kind in ROW_KINDS:
            cell["jaccard"] = jaccard(hit[0].rows, bug.rows) if hit else 0.0
        gap = acc_ref - acc_bug
        if FIXABLE[kind] and gap >= 0.01:
            gain = fix["best_fix_delta"] or 0.0
            cell.update(gap=gap, recovery=gain / gap, fixed=gain / gap >= 0.5)
    peers = {}
    need = [p for p, ks in PEER_KINDS.items() if kind in ks]
    proba = None
    if {"cleanlab", "error tree"} & set(need):
        proba, _ = cross_val_proba(MODELS[fam]() if bug.model is None else bug.model,
                                   bug.X, bug.y, cv=3, random_state=seed)
    for p in need:
        try:
            if p == "cleanlab":
                rows = peer_cleanlab(model, bug, proba)
                peers[p] = {"localised": localised(bug, Signal("label_noise", rows=rows)),
                            "jaccard": jaccard(rows, bug.rows)}
            elif p == "error tree":
                peers[p] = peer_tree(model, bug, proba, seed)
            elif deepchecks_ok:
                peers[p] = peer_deepchecks(model, bug)
        except Exception as exc:
            peers[p] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    cell["peers"] = peers
    cell["seconds"] = round(time.time() - t0, 1)
    return cell


# --------------------------------------------------------------------------- main
def summarise(cells: list[dict]) -> dict:
    df = pd.DataFrame(cells)
    out = {}
    bugs = df[df["kind"] != "clean"]
    for kind, g in bugs.groupby("kind"):
        line = {"cells": len(g), "detected": float(g["detected"].mean()),
                "detected_confirmed": float(g["detected_confirmed"].mean()),
                "localised": float(g["localised"].mean())}
        if "fixed" in g and g["fixed"].notna().any():
            f = g[g["fixed"].notna()]
            line.update(fix_cells=len(f), fixed=float(f["fixed"].astype(bool).mean()),
                        median_recovery=float(f["recovery"].median()))
        if kind in ROW_KINDS and "jaccard" in g:
            line["row_jaccard"] = float(g["jaccard"].mean())
        for p, ks in PEER_KINDS.items():
            if kind in ks and p == "cleanlab" and kind in ROW_KINDS:
                jac = [c.get(p, {}).get("jaccard") for c in g["peers"]]
                jac = [v for v in jac if v is not None]
                line["peer cleanlab row_jaccard"] = float(np.mean(jac)) if jac else None
            if kind in ks:
                vals = [c.get(p, {}).get("localised") for c in g["peers"]]
                vals = [v for v in vals if v is not None]
                errs = [c.get(p, {}).get("error") for c in g["peers"] if c.get(p, {}).get("error")]
                line[f"peer {p} localised"] = float(np.mean(vals)) if vals else None
                if errs:
                    line[f"peer {p} error"] = errs[0]
        out[kind] = line
    clean = df[df["kind"] == "clean"]
    totals = {"detected": float(bugs["detected"].mean()) if len(bugs) else None,
              "localised": float(bugs["localised"].mean()) if len(bugs) else None,
              "detected_confirmed": float(bugs["detected_confirmed"].mean()) if len(bugs)
              else None,
              "false_alarm_rate": float(clean["false_alarm"].mean()) if len(clean) else None,
              # kinds a clean control shows among its first three findings (any verdict)
              "clean_top3_kinds": clean["top3"].explode().value_counts().to_dict()
              if len(clean) else {},
              "clean_cells": len(clean)}
    if "recovery" in bugs and bugs["recovery"].notna().any():
        totals["median_recovery"] = float(bugs["recovery"].median())
    return {"per_kind": out, "totals": totals}


def markdown(summary: dict) -> str:
    """The per-kind table of ``docs/bugs.md``."""
    def pct(v):
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.0f} %"

    lines = ["| kind | cells | detected | detected (confirmed) | localised | fixed (cells) | "
             "median recovery | peers (localised) |", "|---|---|---|---|---|---|---|---|"]
    for kind, r in summary["per_kind"].items():
        peers = "; ".join(f"{k[5:-10]} {pct(v)}" for k, v in r.items()
                          if k.startswith("peer ") and k.endswith(" localised") and v is not None)
        if r.get("row_jaccard") is not None:
            peers += f" (row Jaccard: ours {r['row_jaccard']:.2f}"
            if r.get("peer cleanlab row_jaccard") is not None:
                peers += f", cleanlab {r['peer cleanlab row_jaccard']:.2f}"
            peers += ")"
        fixed = f"{pct(r['fixed'])} ({r['fix_cells']})" if "fixed" in r else "-"
        rec = f"{r['median_recovery']:.2f}" if "median_recovery" in r else "-"
        lines.append(f"| {kind} | {r['cells']} | {pct(r['detected'])} | "
                     f"{pct(r['detected_confirmed'])} | {pct(r['localised'])} | {fixed} | "
                     f"{rec} | {peers} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--one-seed", action="store_true",
                    help="every kind x data set x model with seed 0 (a third of the full run)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    datasets = ["adult", "german", "compas", "breast_cancer"]
    splits = {d: load(d) for d in datasets}
    plan = []
    if args.quick:
        kinds = [k for k in BUG_KINDS if k != "clean"]
        combos = [(d, m) for m in MODELS for d in datasets]
        plan = [(combos[i % len(combos)][0], combos[i % len(combos)][1], k, 0)
                for i, k in enumerate(kinds)]
        plan += [(d, m, "clean", 0) for d in datasets for m in MODELS]
    else:
        plan = [(d, m, k, s) for d in datasets for m in MODELS for k in BUG_KINDS
                for s in range(1 if args.one_seed else 3)]
    from shap_debug.debugger import Debugger

    use_debugger = hasattr(Debugger, "findings")
    try:
        import deepchecks  # noqa: F401
        deepchecks_ok, deepchecks_error = True, None
    except Exception as exc:
        deepchecks_ok, deepchecks_error = False, f"{type(exc).__name__}: {exc}"
    cells = []
    t0 = time.time()
    for d, m, k, s in plan:
        try:
            cell = run_cell(d, m, k, s, splits[d], use_debugger, deepchecks_ok)
        except Exception as exc:
            cell = {"data": d, "model": m, "kind": k, "seed": s,
                    "error": f"{type(exc).__name__}: {exc}",
                    "trace": traceback.format_exc()[-800:]}
        cells.append(cell)
        flag = ("ERROR " + cell["error"]) if "error" in cell else (
            f"false_alarm={cell['false_alarm']}" if k == "clean" else
            f"detected={cell['detected']} localised={cell['localised']} "
            f"fixed={cell.get('fixed')} recovery={cell.get('recovery', float('nan')):.2f}")
        print(f"{d:14s} {m} {k:24s} s{s} {flag} top3={cell.get('top3')} "
              f"peers={cell.get('peers')} ({cell.get('seconds')} s)", flush=True)
    ok = [c for c in cells if "error" not in c]
    summary = summarise(ok)
    print(markdown(summary))
    print(summary["totals"], f"{time.time() - t0:.0f} s")
    out = {"benchmark": "bugs", "quick": args.quick, "one_seed": args.one_seed,
           "findings_from": "Debugger.findings"
           if use_debugger else "audit.scan + verify_fixes (Debugger.findings not on this branch)",
           "deepchecks": "imported" if deepchecks_ok else deepchecks_error,
           "seconds": round(time.time() - t0, 1), "summary": summary,
           "errors": [c for c in cells if "error" in c], "cells": ok,
           "versions": {"shap_debug": getattr(shap_debug, "__version__", "dev"),
                        "sklearn": sklearn.__version__, "python": platform.python_version()}}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("bugs_quick.json" if args.quick else
                      "bugs_one_seed.json" if args.one_seed else "bugs.json")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1, default=lambda v: v.item()
                              if isinstance(v, np.generic) else str(v)))
    tmp.replace(path)
    print("wrote", path)


if __name__ == "__main__":
    main()
