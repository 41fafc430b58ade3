"""Over- and underfitting: a capacity sweep on a validation split of the training rows.

The model's own configuration and a short ladder of its family's configurations (tree depth,
regularisation strength, polynomial degree) are compared by 3-fold cross-validation on the
training rows (never the held-out rows, which stay for verifying the fix). A
configuration that beats the model's own by at least 2 points of validation accuracy, with a
paired one-sided z-test Bonferroni-corrected over the ladder, is a signal: **underfitting**
when it fits the training rows more closely (by over 1 point: add capacity), **overfitting**
otherwise (regularise). The train/held-out gap of the fitted model is reported with its interval; a
gap above 5 points that no configuration of the ladder closes stays ``suspected``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import clone_model, predict_labels
from ._signals import Signal

__all__ = ["capacity_grid", "fitting_signals"]

MIN_GAIN = 0.02
MIN_GAP = 0.05


def _final(model: Any) -> tuple[Any, str]:
    steps = getattr(model, "steps", None)
    if steps:
        return steps[-1][1], steps[-1][0] + "__"
    return model, ""


def capacity_grid(model: Any) -> list[dict] | None:
    """Configurations (parameter dicts in ``model``'s own names) from low to high capacity,
    or None for a family without a known ladder."""
    est, pre = _final(model)
    name = type(est).__name__
    grids = {
        "GradientBoostingClassifier": [
            {"max_depth": d, "learning_rate": 0.1, "n_estimators": 100, "min_samples_leaf": 1}
            for d in (1, 2, 3, 5)],
        "HistGradientBoostingClassifier": [
            {"max_depth": d, "max_leaf_nodes": 31, "learning_rate": 0.1, "max_iter": 100,
             "min_samples_leaf": 20, "l2_regularization": 0.0} for d in (1, 2, 4, None)],
        "DecisionTreeClassifier": [{"max_depth": d, "min_samples_leaf": 5} for d in (1, 2, 4, 8)],
        "RandomForestClassifier": [{"max_depth": d, "min_samples_leaf": 1}
                                   for d in (2, 4, 8, None)],
        "ExtraTreesClassifier": [{"max_depth": d, "min_samples_leaf": 1} for d in (2, 4, 8, None)],
        "XGBClassifier": [{"max_depth": d, "min_child_weight": 1} for d in (1, 2, 4, 6)],
        "LGBMClassifier": [{"num_leaves": k, "min_child_samples": 20} for k in (2, 4, 15, 31)],
        "MLPClassifier": [{"alpha": a} for a in (10.0, 1.0, 1e-2, 1e-4)],
        "LogisticRegression": [{"C": c} for c in (0.01, 0.1, 1.0, 10.0)],
    }
    if name not in grids:
        return None
    grid = [{pre + k: v for k, v in g.items()} for g in grids[name]]
    poly = [s for s, e in getattr(model, "steps", []) if type(e).__name__ == "PolynomialFeatures"]
    if poly and name == "LogisticRegression":
        grid = [{f"{poly[0]}__degree": d, pre + "C": c} for d in (1, 2) for c in (0.01, 0.1, 1.0)]
    return grid


def _fit(model: Any, params: dict | None, X: Any, y: np.ndarray, seed: int) -> Any:
    est = clone_model(model)
    if params:
        est.set_params(**params)
    keys = {k: seed for k in est.get_params() if k == "random_state"
            or k.endswith("__random_state")}
    if keys:
        est.set_params(**keys)
    return est.fit(X, y)


def _take(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


def fitting_signals(model: Any, X: Any, y: np.ndarray, X_test: Any, y_test: Any, *,
                    seed: int = 0, alpha: float = 0.05, max_rows: int = 5000) -> list[Signal]:
    """Over/underfitting signals of ``model`` (fitted) on the training rows ``X, y``."""
    from scipy.stats import norm
    from sklearn.model_selection import StratifiedKFold

    details: dict[str, Any] = {}
    gap = None
    if X_test is not None:
        a_tr = float(np.mean(predict_labels(model, X) == y))
        a_te = float(np.mean(predict_labels(model, X_test) == y_test))
        gap = a_tr - a_te
        se = np.sqrt(a_tr * (1 - a_tr) / len(y) + a_te * (1 - a_te) / len(y_test))
        details.update(train_accuracy=a_tr, test_accuracy=a_te,
                       gap_interval=[gap - 1.96 * se, gap + 1.96 * se])
    grid = None
    try:
        grid = capacity_grid(model)
        clone_model(model)
    except Exception:
        grid = None
    out: list[Signal] = []
    if grid:
        rows = np.arange(len(y))
        rng = np.random.default_rng(seed)
        if len(rows) > max_rows:
            rows = np.sort(rng.choice(rows, max_rows, replace=False))
        _, counts = np.unique(y[rows], return_counts=True)
        folds = int(min(3, counts.min()))
        try:
            if folds < 2:
                raise ValueError("a class has fewer than 2 rows")
            split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(
                np.zeros(len(rows)), y[rows])
            ok_cur = np.zeros(len(rows), bool)
            oks = [np.zeros(len(rows), bool) for _ in grid]
            fit_acc = np.zeros(len(grid) + 1)
            for fit_i, val_i in split:
                fr, vr = rows[fit_i], rows[val_i]
                Xf, yf, Xv, yv = _take(X, fr), y[fr], _take(X, vr), y[vr]
                for g, params in enumerate([None] + list(grid)):
                    est = _fit(model, params, Xf, yf, seed)
                    ok = predict_labels(est, Xv) == yv
                    if g == 0:
                        ok_cur[val_i] = ok
                    else:
                        oks[g - 1][val_i] = ok
                    fit_acc[g] += np.mean(predict_labels(est, Xf) == yf) / folds
            tr_cur = float(fit_acc[0])
            res = [(params, oks[g], float(fit_acc[g + 1])) for g, params in enumerate(grid)]
        except Exception as exc:  # a family that refuses a ladder step: say so, go on
            details["sweep_error"] = f"{type(exc).__name__}: {exc}"
            res = []
        if res:
            accs = [float(ok.mean()) for _, ok, _ in res]
            b = int(np.argmax(accs))
            params, ok, tr_best = res[b]
            d = ok.astype(float) - ok_cur.astype(float)
            gain = float(d.mean())
            se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
            p = float(min(1.0, (norm.sf(gain / se) if se > 0 else float(gain <= 0))
                          * len(grid)))
            details.update(validation_accuracy=float(ok_cur.mean()),
                           best_validation_accuracy=accs[b], fit_accuracy=tr_cur,
                           best_fit_accuracy=tr_best, n_validation=int(len(rows)),
                           sweep=[{"params": {k: v for k, v in g.items()}, "accuracy": a}
                                  for (g, _, _), a in zip(res, accs)])
            if p < alpha and gain >= MIN_GAIN:
                over = tr_best <= tr_cur + 0.01  # no closer fit to the training rows
                out.append(Signal(
                    "overfitting" if over else "underfitting", strength=gain,
                    measure="validation accuracy gain of the refit (training rows only)",
                    interval=(gain - 1.96 * se, gain + 1.96 * se), p_value=p,
                    verdict="confirmed", fix="regularise" if over else "add capacity",
                    fix_params={"params": params}, details=details))
                return out
    if gap is not None and details["gap_interval"][0] >= MIN_GAP:
        out.append(Signal("overfitting", strength=gap,
                          measure="training minus held-out accuracy",
                          interval=tuple(details["gap_interval"]), verdict="suspected",
                          details=details))
    return out
