"""Agnostic networks on COMPAS (two-year recidivism), protected concept ``race``.

``race`` is not an input; its rare levels (Asian, Native American) join "Other", leaving four
groups. For an alpha sweep of :class:`captum_ext.agnostic.AgnosticNetwork` the script reports
test accuracy, the fresh-probe recovery of race from the representation (macro one-vs-rest
ROC-AUC of logistic and MLP probes), demographic-parity / equalized-odds differences over the
four groups, and the in-training adversary's accuracy; fairlearn's
``AdversarialFairnessClassifier`` is the peer in the same run. Mean |IntegratedGradients| on
race's likely proxies (priors_count, age, juvenile counts) is compared plain vs agnostic.

Usage::

    python benchmarks/agnostic_compas.py --quick

Every AgnosticNetwork runs at the class defaults (only ``alpha`` and the seed are set): the
``defaults`` block of the JSON is the default-setting fit, untuned.

Writes ``benchmarks/results/agnostic_compas.json`` and ``docs/img/agnostic_compas_frontier.png``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from agnostic_adult import (
    FAIRLEARN_SETTINGS,
    IMG,
    alpha_sweep,
    default_settings,
    defaults_block,
    encoded,
    fairlearn_peer,
    frontier_plot,
    machine_info,
    print_table,
    row_of,
    write_json,
)

from captum_ext.agnostic import AgnosticNetwork, attribution_shift, probe_protected
from shap_debug.datasets import compas

PROXIES = ["priors_count", "age", "juv_misd_count", "juv_other_count", "juv_fel_count"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fairlearn", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    info = machine_info()
    rng = np.random.default_rng(args.seed)

    X, y = compas()
    race = X["race"].astype(str).to_numpy()
    race = np.where(np.isin(race, ["Asian", "Native American"]), "Other", race)
    X = X.drop(columns=["race"])
    perm = rng.permutation(len(X))
    cut = int(0.7 * len(X))
    tr, te = perm[:cut], perm[cut:]
    Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y[tr], y[te]
    rtr, rte = race[tr], race[te]

    alphas = [0.0, 0.5, 0.8, 0.9] if args.quick else [0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95]
    # the class defaults, untuned (issue 16 item 4): only alpha and the seed are set
    defaults = default_settings()
    epochs = defaults["epochs"]
    common = dict(random_state=args.seed, progress=False)
    rows, models, inputs_probe = alpha_sweep(
        Xtr, ytr, rtr, Xte, yte, rte, alphas, common, args.seed,
        lambda a, rep, row, sec: (
            f"alpha={a:<5} acc={rep.accuracy:.4f} race probe AUC={rep.max_auc:.3f} "
            f"dp={rep.demographic_parity_difference:.3f} "
            f"eo={rep.equalized_odds_difference:.3f} ({sec:.0f}s)"))
    plain = rows[0]

    peers = []
    if not args.no_fairlearn:
        Ztr, Zte = encoded(Xtr, Xte)
        for a, lr in FAIRLEARN_SETTINGS[: 2 if args.quick else None]:
            pred, R, sec = fairlearn_peer(Ztr, ytr, rtr, Zte, alpha=a, lr=lr, epochs=epochs,
                                          batch_size=defaults["batch_size"], seed=args.seed,
                                          hidden=tuple(defaults["hidden"]))
            rep = probe_protected(R, protected=rte, y=yte, predictions=pred,
                                  random_state=args.seed)
            peers.append(row_of("fairlearn AdversarialFairnessClassifier", a, rep, sec,
                                {"learning_rate": lr}))
            peers[-1]["accuracy_cost_vs_alpha0"] = round(plain["accuracy"] - rep.accuracy, 4)
            print(f"fairlearn alpha={a} acc={rep.accuracy:.4f} race probe AUC={rep.max_auc:.3f}"
                  f" dp={rep.demographic_parity_difference:.3f} ({sec:.0f}s)", flush=True)

    # the agnostic model closest to the Adult goal's terms: lowest AUC within 3 points
    ok = [r for r in rows[1:] if r["accuracy"] >= plain["accuracy"] - 0.03]
    best = min(ok or rows[1:], key=lambda r: r["max_auc"])
    default_alpha = AgnosticNetwork().alpha
    ig = attribution_shift({"plain": models[0.0], "agnostic": models[default_alpha]}, Xte,
                           PROXIES, max_rows=300 if args.quick else 1000,
                           random_state=args.seed)
    cols = ["model", "alpha", "accuracy", "logistic_roc_auc", "mlp_roc_auc", "majority_rate",
            "demographic_parity_difference", "equalized_odds_difference",
            "accuracy_cost_vs_alpha0", "seconds"]
    print_table(rows + peers, cols)
    print("proxy share of mean |IG|:", ig.focus_share().round(3).to_dict())
    frontier_plot(rows, peers, IMG / "agnostic_compas_frontier.png",
                  "COMPAS, protected = race (4 groups, not an input)")

    payload = {
        "benchmark": "agnostic_compas", "mode": "quick" if args.quick else "full",
        "machine": info, "seed": args.seed,
        "data": {"n_train": len(Xtr), "n_test": len(Xte), "target": "two_year_recid",
                 "protected": "race (African-American, Caucasian, Hispanic, Other)",
                 "protected_counts_test": {k: int(v) for k, v in zip(
                     *np.unique(rte, return_counts=True))},
                 "inputs": list(Xtr.columns)},
        "settings": dict(defaults, random_state=args.seed),
        "defaults": defaults_block(rows),
        "probe": "probe_protected: fresh LogisticRegression and MLPClassifier(64, 64) on a "
                 "stratified 70/30 split of the test rows' frozen representations; macro "
                 "one-vs-rest ROC-AUC over the four groups",
        "inputs_probe": {k: v for k, v in inputs_probe.items() if v is not None},
        "sweep": rows, "peer": peers,
        "chosen": {"rule": "lowest probe AUC within 3 accuracy points of alpha=0",
                   "alpha": best["alpha"], "max_auc": best["max_auc"],
                   "accuracy": best["accuracy"], "plain_accuracy": plain["accuracy"],
                   "plain_max_auc": plain["max_auc"]},
        "attributions": {"proxies": PROXIES,
                         "models": f"plain (alpha 0) vs the default fit (alpha {default_alpha})",
                         "integrated_gradients_share": ig.focus_share().round(4).to_dict(),
                         "integrated_gradients_mean_abs": ig.mean_abs.round(5).to_dict()},
    }
    if peers:
        payload["peer_vs_ours"] = {
            "ours_default_max_auc": payload["defaults"]["max_auc"],
            "fairlearn_max_auc": [p["max_auc"] for p in peers],
            "auc_ratio_fairlearn_over_ours": [
                round(p["max_auc"] / payload["defaults"]["max_auc"], 3) for p in peers]}
    print("defaults:", payload["defaults"])
    print("wrote", write_json("agnostic_compas", payload))


if __name__ == "__main__":
    main()
