"""Agnostic networks on Adult, protected concept ``sex`` (not an input).

Jia et al. 2018 ("Right for the Right Reason: Training Agnostic Networks"), Fig. 3 shape: an
alpha sweep 0 ... 0.95 of :class:`captum_ext.agnostic.AgnosticNetwork`, with for each alpha
the test accuracy, the *fresh*-probe recovery of sex from the representation (logistic and
MLP probes fitted on frozen representations of test rows, scored on held-out test rows),
demographic-parity / equalized-odds differences, and the in-training adversary's accuracy.
The peer in the same run is fairlearn's ``AdversarialFairnessClassifier`` (Zhang et al.
2018), which equalises *predictions*; its representation (the predictor's last hidden layer)
is probed the same way. Finally mean |attribution| (Captum IntegratedGradients and our SHAP
contributions) on sex's proxies, plain vs agnostic.

Usage::

    python benchmarks/agnostic_adult.py --quick     # 16k/8k rows; ~40 min on a busy 2-core box
    python benchmarks/agnostic_adult.py             # full data, more alphas

Every AgnosticNetwork runs at the class defaults (only ``alpha`` and the seed are set): the
``defaults`` block of the JSON is the default-setting fit, untuned.

Writes ``benchmarks/results/agnostic_adult.json`` and ``docs/img/agnostic_adult_frontier.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from captum_ext.agnostic import AgnosticNetwork, attribution_shift, probe_protected
from shap_debug.datasets import adult, encode

RESULTS = Path(__file__).resolve().parent / "results"
IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
PROXIES = ["relationship", "marital-status", "occupation"]
# (alpha, learning rate) of the fairlearn peer; its projection update (Zhang et al. 2018)
# trains slowly, so the larger alpha gets the smaller step its docs use
FAIRLEARN_SETTINGS = [(1.0, 1e-4), (0.1, 1e-3), (3.0, 1e-4)]


# ----------------------------------------------------------------------------- shared helpers
def machine_info() -> dict:
    import captum
    import shap
    import sklearn

    info = {"python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
            "torch": torch.__version__, "captum": captum.__version__,
            "shap": shap.__version__, "sklearn": sklearn.__version__,
            "numpy": np.__version__}
    try:
        import fairlearn

        info["fairlearn"] = fairlearn.__version__
    except ImportError:
        info["fairlearn"] = None
    return info


def _default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=_default) + "\n")
    return path


def encoded(Xtr, Xte):
    """One-hot + standardised matrices (what AgnosticNetwork feeds its own net)."""
    Ztr, enc = encode(Xtr, kind="onehot")
    Zte = enc.transform(Xte)
    mu, sd = Ztr.mean(0), Ztr.std(0)
    sd[sd < 1e-12] = 1.0
    return ((Ztr - mu) / sd).astype(np.float32), ((Zte - mu) / sd).astype(np.float32)


def fairlearn_peer(Ztr, ytr, atr, Zte, *, alpha, epochs, batch_size, seed, hidden=(64, 16),
                   lr=1e-3, constraints="demographic_parity"):
    """fairlearn's AdversarialFairnessClassifier on the same encoded inputs and predictor
    widths. Returns (test predictions, the predictor's last hidden layer on Zte, seconds)."""
    from fairlearn.adversarial import AdversarialFairnessClassifier

    layers: list = []
    for h in hidden:
        layers += [h, "relu"]
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):     # fairlearn seeds torch's global generator
        clf = AdversarialFairnessClassifier(
            backend="torch", predictor_model=layers, adversary_model=[32, "relu"],
            alpha=alpha, epochs=epochs, batch_size=batch_size, learning_rate=lr,
            shuffle=True, constraints=constraints, random_state=seed)
        clf.fit(Ztr, ytr, sensitive_features=atr)
    seconds = time.perf_counter() - t0
    pred = np.asarray(clf.predict(Zte))
    x = torch.as_tensor(Zte, dtype=torch.float32)
    with torch.no_grad():
        for layer in list(clf.backendEngine_.predictor_model.layers_)[:-2]:
            x = layer(x)                            # all but the output Linear and sigmoid
    return pred, x.numpy().astype(np.float64), seconds


def default_settings() -> dict:
    """AgnosticNetwork's default parameters (JSON-friendly)."""
    params = AgnosticNetwork().get_params()
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()
            if k not in ("encoder", "progress", "random_state")}


def defaults_block(rows, seed_check=()) -> dict:
    """The default-alpha fit next to the plain network (alpha 0), and the 0.65 target."""
    alpha = AgnosticNetwork().alpha
    plain = rows[0]
    d = next(r for r in rows if r["alpha"] == alpha)
    out = {"alpha": alpha, "max_auc": d["max_auc"], "logistic_roc_auc": d["logistic_roc_auc"],
           "mlp_roc_auc": d["mlp_roc_auc"], "accuracy": d["accuracy"],
           "plain_accuracy": plain["accuracy"], "plain_max_auc": plain["max_auc"],
           "accuracy_cost": round(plain["accuracy"] - d["accuracy"], 4),
           "epochs_run": d.get("epochs_run"), "best_epoch": d.get("best_epoch"),
           "target": "fresh-probe AUC <= 0.65 at the default settings",
           "met": bool(d["max_auc"] <= 0.65)}
    other = [c for c in seed_check if c["alpha"] == alpha]
    if other:
        out["other_seeds"] = [{"seed": c["seed"], "max_auc": round(c["max_auc"], 4),
                               "accuracy": round(c["accuracy"], 4)} for c in other]
        out["other_seeds_plain"] = [
            {"seed": c["seed"], "max_auc": round(c["max_auc"], 4),
             "accuracy": round(c["accuracy"], 4)} for c in seed_check if c["alpha"] == 0.0]
    return out


def row_of(name, alpha, report, seconds, extra=None):
    d = {"model": name, "alpha": alpha, "seconds": round(seconds, 2)}
    d.update({k: (round(v, 4) if isinstance(v, float) else v)
              for k, v in report.summary().items()})
    d.update(extra or {})
    return d


def print_table(rows, cols):
    print(" | ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print(" | ".join(f"{r.get(c, ''):>14.4f}" if isinstance(r.get(c), float)
                         else f"{str(r.get(c, '')):>14}" for c in cols))


def frontier_plot(rows, peers, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from shap.plots import colors

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    al = [r["alpha"] for r in rows]
    a1.plot(al, [r["accuracy"] for r in rows], "o-", color=colors.blue_rgb,
            label="target accuracy")
    a1.plot(al, [r["mlp_roc_auc"] for r in rows], "s-", color=colors.red_rgb,
            label="fresh MLP probe AUC (protected)")
    a1.plot(al, [r["logistic_roc_auc"] for r in rows], "^--", color=colors.red_rgb,
            alpha=0.6, label="fresh logistic probe AUC")
    a1.plot(al, [r["adversary_val_accuracy"] for r in rows], "x:", color="#888888",
            label="in-training adversary accuracy")
    a1.axhline(0.5, color="#bbbbbb", lw=0.8)
    a1.axhline(rows[0]["majority_rate"], color="#888888", lw=0.8, ls=":")
    a1.annotate("protected majority rate", (al[0], rows[0]["majority_rate"]), fontsize=7,
                xytext=(0, 3), textcoords="offset points", color="#888888")
    a1.set_xlabel("alpha")
    a1.set_title(title)
    a1.legend(fontsize=7, frameon=False)
    a2.plot([r["max_auc"] for r in rows], [r["accuracy"] for r in rows], "o-",
            color=colors.blue_rgb, label="AgnosticNetwork (alpha sweep)")
    for r in rows:
        a2.annotate(f"{r['alpha']:g}", (r["max_auc"], r["accuracy"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    for p in peers:
        a2.plot(p["max_auc"], p["accuracy"], "D", color=colors.red_rgb)
        a2.annotate(f"fairlearn a={p['alpha']:g}", (p["max_auc"], p["accuracy"]), fontsize=7,
                    xytext=(3, -9), textcoords="offset points")
    a2.set_xlabel("best fresh-probe AUC for the protected concept (0.5 = agnostic)")
    a2.set_ylabel("test accuracy")
    a2.set_title("frontier")
    for ax in (a1, a2):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- experiment
def alpha_sweep(Xtr, ytr, s_tr, Xte, yte, s_te, alphas, common, seed, describe):
    """Train an AgnosticNetwork per alpha and probe it; ``describe(alpha, report, row, s)``
    gives the progress line. Returns (rows, models, raw-input probe summary)."""
    rows, models = [], {}
    for a in alphas:
        t0 = time.perf_counter()
        net = AgnosticNetwork(alpha=a, **common).fit(Xtr, ytr, s_tr)
        sec = time.perf_counter() - t0
        rep = probe_protected(net, Xte, s_te, y=yte, random_state=seed)
        h = net.history_
        adv = (float(h["val_adversary_accuracy"].iloc[net.best_epoch_ - 1])
               if a > 0 else float("nan"))
        rows.append(row_of("AgnosticNetwork", a, rep, sec,
                           {"epochs_run": int(net.n_epochs_), "best_epoch": int(net.best_epoch_),
                            "adversary_val_accuracy": adv}))
        models[a] = net
        print(describe(a, rep, rows[-1], sec), flush=True)
    # ceiling: how much of the concept the raw (encoded) inputs themselves carry
    _, Zin = encoded(Xtr, Xte)
    inputs_probe = probe_protected(Zin, protected=s_te, random_state=seed).summary()
    print(f"fresh-probe AUC on the raw inputs: {inputs_probe['max_auc']:.3f}", flush=True)
    for r in rows:
        r["accuracy_cost_vs_alpha0"] = round(rows[0]["accuracy"] - r["accuracy"], 4)
    return rows, models, inputs_probe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="subsample and fewer alphas/epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fairlearn", action="store_true")
    ap.add_argument("--extra-seeds", type=int, default=2,
                    help="refit plain and the chosen alpha with this many other seeds")
    args = ap.parse_args()
    torch.set_num_threads(1)
    info = machine_info()
    rng = np.random.default_rng(args.seed)

    Xtr, ytr = adult("train")
    Xte, yte = adult("test")
    if args.quick:
        tr = rng.choice(len(Xtr), 16000, replace=False)
        te = rng.choice(len(Xte), 8000, replace=False)
        Xtr, ytr, Xte, yte = Xtr.iloc[tr], ytr[tr], Xte.iloc[te], yte[te]
    str_, ste = Xtr["sex"].to_numpy(str), Xte["sex"].to_numpy(str)
    Xtr, Xte = Xtr.drop(columns=["sex"]), Xte.drop(columns=["sex"])
    alphas = [0.0, 0.5, 0.8, 0.9, 0.95] if args.quick else [0.0, 0.2, 0.4, 0.6, 0.8, 0.9,
                                                             0.95, 0.98]
    # the class defaults, untuned (issue 16 item 4): only alpha and the seed are set
    defaults = default_settings()
    epochs = defaults["epochs"]
    common = dict(random_state=args.seed, progress=False)

    rows, models, inputs_probe = alpha_sweep(
        Xtr, ytr, str_, Xte, yte, ste, alphas, common, args.seed,
        lambda a, rep, row, sec: (
            f"alpha={a:<5} acc={rep.accuracy:.4f} probe AUC lr={row['logistic_roc_auc']:.3f}"
            f" mlp={row['mlp_roc_auc']:.3f} dp={rep.demographic_parity_difference:.3f}"
            f" ({sec:.0f}s)"))
    plain = rows[0]

    peers = []
    if not args.no_fairlearn:
        Ztr, Zte = encoded(Xtr, Xte)
        for a, lr in FAIRLEARN_SETTINGS[: 2 if args.quick else None]:
            pred, R, sec = fairlearn_peer(Ztr, ytr, str_, Zte, alpha=a, lr=lr, epochs=epochs,
                                          batch_size=defaults["batch_size"], seed=args.seed)
            rep = probe_protected(R, protected=ste, y=yte, predictions=pred,
                                  random_state=args.seed)
            peers.append(row_of("fairlearn AdversarialFairnessClassifier", a, rep, sec,
                                {"learning_rate": lr}))
            peers[-1]["accuracy_cost_vs_alpha0"] = round(plain["accuracy"] - rep.accuracy, 4)
            print(f"fairlearn alpha={a} acc={rep.accuracy:.4f} probe AUC={rep.max_auc:.3f} "
                  f"dp={rep.demographic_parity_difference:.3f} ({sec:.0f}s)", flush=True)

    # the goal: fresh-probe AUC <= 0.65 within 3 accuracy points of the plain network
    ok = [r for r in rows[1:] if r["max_auc"] <= 0.65
          and r["accuracy"] >= plain["accuracy"] - 0.03]
    best = (min(ok, key=lambda r: r["max_auc"]) if ok
            else min(rows[1:], key=lambda r: r["max_auc"] + max(
                0.0, plain["accuracy"] - 0.03 - r["accuracy"])))
    # the default fit (not the best of the sweep) is compared and attributed
    default_alpha = AgnosticNetwork().alpha
    chosen = models[default_alpha]
    # is the default's result a lucky seed? refit plain and the default with other seeds
    seed_check = []
    for sd in range(args.seed + 1, args.seed + 1 + args.extra_seeds):
        for a in (0.0, default_alpha):
            kw = dict(common, random_state=sd)
            net = AgnosticNetwork(alpha=a, **kw).fit(Xtr, ytr, str_)
            rep = probe_protected(net, Xte, ste, y=yte, random_state=sd)
            seed_check.append({"seed": sd, "alpha": a, "accuracy": rep.accuracy,
                               "max_auc": rep.max_auc})
            print(f"seed {sd} alpha={a}: acc={rep.accuracy:.4f} probe AUC={rep.max_auc:.3f}",
                  flush=True)
    t0 = time.perf_counter()
    ig = attribution_shift({"plain": models[0.0], "agnostic": chosen}, Xte, PROXIES,
                           max_rows=300 if args.quick else 1000, random_state=args.seed)
    sh = attribution_shift({"plain": models[0.0], "agnostic": chosen}, Xte, PROXIES,
                           method="shap", max_rows=60 if args.quick else 200,
                           random_state=args.seed)
    attr_sec = time.perf_counter() - t0

    cols = ["model", "alpha", "accuracy", "logistic_roc_auc", "mlp_roc_auc",
            "majority_rate", "demographic_parity_difference", "equalized_odds_difference",
            "accuracy_cost_vs_alpha0", "seconds"]
    print_table(rows + peers, cols)
    print("proxy share of mean |attribution| (IG):",
          ig.focus_share().round(3).to_dict(), " (SHAP):", sh.focus_share().round(3).to_dict())

    frontier_plot(rows, peers, IMG / "agnostic_adult_frontier.png",
                  "Adult, protected = sex (not an input)")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ig.plot(ax=ax, show=False)
    fig.tight_layout()
    fig.savefig(IMG / "agnostic_adult_attributions.png", dpi=110)
    plt.close(fig)

    payload = {
        "benchmark": "agnostic_adult", "mode": "quick" if args.quick else "full",
        "machine": info, "seed": args.seed,
        "data": {"n_train": len(Xtr), "n_test": len(Xte), "protected": "sex",
                 "inputs": list(Xtr.columns)},
        "settings": dict(defaults, random_state=args.seed),
        "defaults": defaults_block(rows, seed_check),
        "probe": "probe_protected: fresh LogisticRegression and MLPClassifier(64, 64) on a "
                 "stratified 70/30 split of the test rows' frozen representations",
        "inputs_probe": {k: v for k, v in inputs_probe.items() if v is not None},
        "sweep": rows, "peer": peers,
        "goal": {"target": "fresh-probe AUC <= 0.65 with accuracy within 3 points of alpha=0",
                 "met": bool(ok), "best_alpha": best["alpha"],
                 "best_max_auc": best["max_auc"], "best_accuracy": best["accuracy"],
                 "plain_accuracy": plain["accuracy"], "plain_max_auc": plain["max_auc"]},
        "seed_check": seed_check,
        "attributions": {
            "proxies": PROXIES, "seconds": round(attr_sec, 1),
            "models": f"plain (alpha 0) vs the default fit (alpha {default_alpha})",
            "integrated_gradients_share": ig.focus_share().round(4).to_dict(),
            "shap_share": sh.focus_share().round(4).to_dict(),
            "integrated_gradients_mean_abs": ig.mean_abs.round(5).to_dict(),
        },
    }
    if peers:
        payload["peer_vs_ours"] = {
            "note": "fairlearn equalises predictions (its adversary reads y_hat), not the "
                    "representation; compare the probe AUC at similar accuracy",
            "ours_default_max_auc": payload["defaults"]["max_auc"],
            "fairlearn_max_auc": [p["max_auc"] for p in peers],
            "auc_ratio_fairlearn_over_ours": [
                round(p["max_auc"] / payload["defaults"]["max_auc"], 3) for p in peers]}
    print("defaults:", payload["defaults"])
    print("wrote", write_json("agnostic_adult", payload))


if __name__ == "__main__":
    main()
