"""The detectors behind ``audit.scan`` on small synthetic cases with known answers, and the
fix actions they propose (``recode``, ``refit_params``, ``upsample``) verified on held-out
rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from shap_debug.audit import Signal, capacity_grid, scan, single_feature_auc
from shap_debug.audit._columns import _id_like, explained_within_class
from shap_debug.audit._sentinel import sentinel_signals
from shap_debug.fixes import FixAction, signal_actions, verify_fixes


def table(seed=0, n=600):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = a + rng.normal(0, 0.5, n)  # a correlated sibling
    c = rng.uniform(20, 70, n).round()
    y = ((a + 0.5 * rng.normal(size=n)) > 0).astype(int)
    return pd.DataFrame({"a": a, "b": b, "c": c}), y


def test_scan_validates_before_work():
    X, y = table()
    m = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="together"):
        scan(m, X, y, X_test=X)
    with pytest.raises(ValueError, match="columns"):
        scan(m, X, y, X.iloc[:, :2], y)
    with pytest.raises(TypeError):
        scan(object(), X, y)


def test_leakage_needs_independence_from_the_other_columns():
    X, y = table()
    rng = np.random.default_rng(1)
    yk = y.astype(int)
    # a strong real feature: explained by its sibling; a leak: label + noise
    strong = X.assign(s=3 * X["a"] + rng.normal(0, 0.05, len(y)))
    leak = X.assign(s=y + rng.normal(0, 0.2, len(y)))
    assert explained_within_class(strong, "s", yk, 0) > 0.5
    assert explained_within_class(leak, "s", yk, 0) < 0.1
    auc = single_feature_auc(leak, yk).set_index("feature")["auc"]
    assert auc["s"] > 0.95 and auc["c"] < 0.65


def test_id_like_and_sentinel_rules():
    n = 300
    assert _id_like(pd.Series(np.arange(1000, 1000 + 2 * n, 2)))
    assert not _id_like(pd.Series(np.exp(np.random.default_rng(0).normal(5, 1, n)).round()))
    assert not _id_like(pd.Series(np.arange(n) + 0.5))
    rng = np.random.default_rng(0)
    age = rng.integers(18, 80, n).astype(float)
    age[:30] = -999
    gains = np.where(rng.random(n) < 0.9, 0.0, rng.uniform(100, 9000, n))  # a real mass
    D = pd.DataFrame({"age": age, "gains": gains})
    sig = sentinel_signals(D, np.arange(n))
    assert [s.features for s in sig] == [("age",)]
    assert set(sig[0].rows) == set(range(30)) and sig[0].fix_params["value"] == -999
    lo, hi = sig[0].interval
    assert lo < 0.1 < hi


def test_capacity_grid_families():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    assert capacity_grid(GradientBoostingClassifier())[0] == {
        "max_depth": 1, "learning_rate": 0.1, "n_estimators": 100, "min_samples_leaf": 1}
    pipe = make_pipeline(PolynomialFeatures(), StandardScaler(), LogisticRegression())
    keys = set().union(*capacity_grid(pipe))
    assert keys == {"polynomialfeatures__degree", "logisticregression__C"}
    assert capacity_grid(object()) is None


def test_fix_actions_new_kinds():
    X = pd.DataFrame({"a": [1, -999, 3, -999], "b": [0.5, 0.1, 0.2, 0.3]})
    y = np.array([0, 1, 0, 1])
    rec = FixAction.recode("recode", [0], [-999], [2])
    X2, y2 = rec.apply(X, y)
    assert X2["a"].tolist() == [1, 2, 3, 2] and X["a"].tolist() == [1, -999, 3, -999]
    assert rec.transform(X.to_numpy())[:, 0].tolist() == [1, 2, 3, 2]
    up = FixAction.upsample("up", [1, 3], X, y, times=2)
    X3, y3 = up.apply(X, y)
    assert len(X3) == 8 and y3.tolist() == [0, 1, 0, 1, 1, 1, 1, 1] and up.n_changed == 4
    ref = FixAction.refit_params("depth", {"max_depth": 1})
    assert ref.refit_model(GradientBoostingClassifier()).max_depth == 1
    with pytest.raises(ValueError, match="params"):
        FixAction("p", "refit_params")
    with pytest.raises(ValueError, match="match"):
        FixAction("r", "recode", columns=(0,), fill=(1,))


def test_signal_actions_and_verified_refit():
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    n, k = 3000, 1000
    X = rng.normal(size=(n, 10))
    y = ((X[:, 0] + X[:, 1] + rng.normal(0, 0.5, n)) > 0).astype(int)
    over = DecisionTreeClassifier(random_state=0)  # grown until every leaf is pure
    sig = scan(over.fit(X[:k], y[:k]), X[:k], y[:k], X[k:], y[k:], random_state=0)
    fit = [s for s in sig if s.kind == "overfitting" and s.verdict == "confirmed"]
    assert fit and fit[0].fix == "regularise"
    acts = signal_actions(sig, X[:k], y[:k])
    assert [a.kind for a in acts if a.family == "regularise"] == ["refit_params"]
    rep = verify_fixes(over, X[:k], y[:k], X_test=X[k:], y_test=y[k:],
                       actions=acts, n_repeats=1, screen_regions=0, cv=3, progress=False)
    eff = rep.effects.query("scope == 'overall'").set_index("action")
    name = [a.name for a in acts if a.family == "regularise"][0]
    assert eff.loc[name, "delta"] > 0.02 and eff.loc[name, "low"] > 0


def test_signal_actions_skip_unconfirmed_and_check_types():
    s = Signal("leakage", features=("a",), verdict="suspected", fix="drop feature",
               fix_params={"feature": "a"})
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert signal_actions([s], X, [0, 1]) == []
    acts = signal_actions([s], X, [0, 1], include_suspected=True)
    assert acts[0].kind == "neutralise" and acts[0].columns == (0,)
    with pytest.raises(TypeError, match="Signal"):
        signal_actions(["leakage"], X, [0, 1])


def test_multiclass_arrays_strong_feature_is_not_a_leak():
    from sklearn.datasets import load_iris

    from shap_debug.testing import inject

    X, y = load_iris(return_X_y=True)
    p = np.random.default_rng(0).permutation(len(y))
    X, y = X[p], y[p]
    clean = inject("clean", X[:100], y[:100], X[100:], y[100:], random_state=0)
    m = LogisticRegression(max_iter=500).fit(clean.X, clean.y)
    # petal length separates the species almost alone, but its siblings explain it
    assert scan(m, clean.X, clean.y, clean.X_test, clean.y_test, random_state=0) == ()
    ident = inject("id_column", X[:100], y[:100], X[100:], y[100:], random_state=0)
    m = LogisticRegression(max_iter=500).fit(ident.X, ident.y)
    sig = scan(m, ident.X, ident.y, ident.X_test, ident.y_test, random_state=0)
    assert [(s.kind, s.features) for s in sig] == [("id_column", ident.features)]
    assert ident.features == ("Feature 4",)
