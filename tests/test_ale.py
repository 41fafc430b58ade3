"""Neighborhood ALE: PyALE equality on Adult, known answers, degenerate and bad input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import make_column_transformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from shap_debug.core import ShapDebugWarning
from shap_debug.datasets import adult
from shap_debug.explanations.ale import ALEBias, ALEResult, ale_bias, neighborhood_ale
from shap_debug.plots import ale as ale_plot


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def adult_setup():
    X, y = adult("train")
    X, y = X.iloc[:1500].reset_index(drop=True), y[:1500]
    cats = [c for c in X if isinstance(X[c].dtype, pd.CategoricalDtype)]
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), cats),
                                remainder="passthrough"),
        GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
    ).fit(X, y)
    # a neighbourhood: 200 training rows (capital-loss has 7 values there: discrete)
    return model, X, X.iloc[500:700]


def _assert_same_curves(a: ALEResult, b: ALEResult, tol: float = 1e-10):
    assert a.feature_names == b.feature_names
    for ca, cb in zip(a.curves, b.curves):
        assert ca.kind == cb.kind, ca.feature
        assert len(ca.grid) == len(cb.grid), ca.feature
        assert list(map(str, ca.grid)) == list(map(str, cb.grid)), ca.feature
        np.testing.assert_array_equal(ca.counts, cb.counts)
        np.testing.assert_allclose(ca.values, cb.values, atol=tol, rtol=0)
        for la, lb in ((ca.lower, cb.lower), (ca.upper, cb.upper)):
            np.testing.assert_array_equal(np.isnan(la), np.isnan(lb))
            np.testing.assert_allclose(la[~np.isnan(la)], lb[~np.isnan(lb)], atol=tol, rtol=0)


# --------------------------------------------------------------------------- PyALE oracle
def test_equals_pyale_on_adult_neighborhood(adult_setup):
    model, _, Xn = adult_setup
    before = Xn.copy(deep=True)
    ours = neighborhood_ale(model, Xn, progress=False)
    kinds = {c.kind for c in ours.curves}
    assert kinds == {"continuous", "discrete", "categorical"}
    assert ours.curve("capital-loss").kind == "discrete"
    assert ours.curve("age").kind == "continuous"
    assert ours.curve("race").kind == "categorical"
    # PyALE is slow on categorical features: every type, not every feature
    some = ["age", "hours-per-week", "capital-loss", "race", "occupation", "sex",
            "native-country"]
    ref = neighborhood_ale(model, Xn, some, engine="pyale", progress=False)
    sub = neighborhood_ale(model, Xn, some, progress=False)
    _assert_same_curves(sub, ref)
    np.testing.assert_allclose(sub.explanation.values, ref.explanation.values, atol=1e-10)
    for f in some:                    # a subset gives the same curves as all features
        np.testing.assert_array_equal(sub.curve(f).values, ours.curve(f).values)
    pd.testing.assert_frame_equal(Xn, before)          # never modified (PyALE mutates)


def test_equals_direct_pyale_call(adult_setup):
    """Against PyALE's own ``ale`` function, not only our wrapper of it."""
    from PyALE import ale as pyale

    model, X, Xn = adult_setup

    class Prob:
        def predict(self, frame):
            return model.predict_proba(frame)[:, 1]

    ours = neighborhood_ale(model, Xn, ["age", "education"], progress=False)
    ref_age = pyale(Xn.copy(), Prob(), ["age"], feature_type="continuous", grid_size=20,
                    plot=False)
    np.testing.assert_allclose(ours.curve("age").values, ref_age["eff"], atol=1e-10)
    np.testing.assert_array_equal(ours.curve("age").grid, ref_age.index.to_numpy(float))
    dtype = Xn["education"].dtype          # ordered; PyALE needs no unused levels
    Xp = Xn.copy()
    Xp["education"] = Xp["education"].cat.remove_unused_categories()
    ref_edu = pyale(Xp, Prob(), ["education"], feature_type="categorical", plot=False,
                    encode_fun=lambda d: d.astype(str).astype(dtype),
                    predictors=list(X.columns))
    assert list(ours.curve("education").grid) == [str(v) for v in ref_edu.index]
    np.testing.assert_allclose(ours.curve("education").values, ref_edu["eff"], atol=1e-10)


def test_ordered_categorical_keeps_dtype_order_and_matches_pyale(adult_setup):
    model, X, Xn = adult_setup
    Xo = Xn.copy()
    present = [c for c in X["race"].cat.categories if c in set(Xo["race"])]
    Xo["race"] = Xo["race"].astype(pd.CategoricalDtype(present[::-1], ordered=True))

    class Wrap(BaseEstimator, ClassifierMixin):
        classes_ = np.array([0, 1])

        def predict_proba(self, frame):
            frame = frame.copy()
            frame["race"] = frame["race"].astype(str).astype(X["race"].dtype)
            return model.predict_proba(frame)

    ours = neighborhood_ale(Wrap(), Xo, ["race"], progress=False)
    assert list(ours.curve("race").grid) == present[::-1]
    ref = neighborhood_ale(Wrap(), Xo, ["race"], engine="pyale", progress=False)
    _assert_same_curves(ours, ref)


def test_array_input_with_categorical_codes_matches_pyale():
    rng = np.random.default_rng(1)
    n = 300
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 4, n), rng.integers(0, 3, n),
                         rng.normal(size=n)]).astype(float)
    y = ((X[:, 0] + (X[:, 2] == 1) - 0.5 * X[:, 1] + rng.normal(0, 0.5, n)) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    names = ["x0", "ordinal", "code", "x3"]
    ours = neighborhood_ale(model, X, feature_names=names, categorical=["code"],
                            progress=False)
    assert [c.kind for c in ours.curves] == ["continuous", "discrete", "categorical",
                                              "continuous"]
    ref = neighborhood_ale(model, X, feature_names=names, categorical=["code"], engine="pyale",
                           progress=False)
    _assert_same_curves(ours, ref)


# --------------------------------------------------------------------------- known answers
class Additive(BaseEstimator, ClassifierMixin):
    """P(class 1) = 0.5 + sum_j g_j(x_j) on a frame (x_cat categorical)."""

    classes_ = np.array([0, 1])
    table = {"a": 0.05, "b": -0.1, "c": 0.02}

    def g(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({
            "lin": 0.03 * X["lin"].to_numpy(float),
            "disc": np.array([0.0, 0.04, -0.02, 0.08, 0.01])[X["disc"].to_numpy(int)],
            "cat": X["cat"].astype(str).map(self.table).to_numpy(float),
            "wave": 0.05 * np.sin(X["wave"].to_numpy(float)),
        })

    def predict_proba(self, X):
        p = 0.5 + self.g(X).sum(axis=1).to_numpy()
        return np.column_stack([1 - p, p])


def test_additive_model_recovers_centred_components():
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({
        "lin": rng.uniform(-3, 3, n),
        "disc": rng.integers(0, 5, n),
        "cat": pd.Categorical(rng.choice(list("abc"), n, p=[0.5, 0.3, 0.2])),
        "wave": rng.uniform(-3, 3, n),
    })
    model = Additive()
    res = neighborhood_ale(model, X, grid_size=40, progress=False)
    g = model.g(X)
    expected = (g - g.mean()).to_numpy()
    vals = res.explanation.values
    np.testing.assert_allclose(vals[:, :3], expected[:, :3], atol=1e-12)
    # piecewise-linear interpolation of sin over 40 quantile bins
    assert np.abs(vals[:, 3] - expected[:, 3]).max() < 2e-3
    np.testing.assert_allclose(vals.mean(axis=0), 0.0, atol=1e-15)
    # an additive model: mean prediction + sum of ALE values = the prediction
    p = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(res.explanation.base_values + vals[:, :3].sum(1)
                               + expected[:, 3], p, atol=1e-12)
    # the categorical curve orders levels and the band is tight (no noise at all)
    cat = res.curve("cat")
    assert sorted(cat.grid) == ["a", "b", "c"]
    assert cat.range == pytest.approx(0.15, abs=1e-12)
    assert res.curve("disc").range == pytest.approx(0.10, abs=1e-12)


def test_constant_feature_gives_flat_zero_curve():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=100), "const": np.full(100, 5.0),
                      "cat1": pd.Categorical(["only"] * 100)})
    y = (X["x"] > 0).astype(int)
    model = LogisticRegression().fit(X[["x", "const"]].to_numpy(), y)

    class OnFrame(BaseEstimator, ClassifierMixin):
        classes_ = np.array([0, 1])

        def predict_proba(self, frame):
            return model.predict_proba(frame[["x", "const"]].to_numpy())

    for engine in ("vectorized", "pyale"):
        with pytest.warns(ShapDebugWarning, match="constant"):
            res = neighborhood_ale(OnFrame(), X, engine=engine, progress=False)
        for f in ("const", "cat1"):
            c = res.curve(f)
            assert len(c.grid) == 1 and c.values.tolist() == [0.0] and c.counts.tolist() == [100]
        assert np.all(res.explanation[:, "const"].values == 0)
        assert res.curve("x").range > 0.5


def test_two_row_neighborhood():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=50), "b": pd.Categorical(rng.choice(["u", "v"], 50))})
    y = (X["a"] > 0).astype(int).to_numpy()
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["b"]),
                                                  remainder="passthrough"),
                          LogisticRegression()).fit(X, y)
    first_u = int(np.flatnonzero(X["b"] == "u")[0])
    first_v = int(np.flatnonzero(X["b"] == "v")[0])
    two = X.iloc[[first_u, first_v]]
    res = neighborhood_ale(model, two, progress=False)
    assert res.explanation.values.shape == (2, 2)
    np.testing.assert_allclose(res.explanation.values.mean(0), 0.0, atol=1e-15)
    a = res.curve("a")
    assert a.kind == "discrete" and len(a.grid) == 2
    assert res.curve("b").kind == "categorical" and len(res.curve("b").grid) == 2
    p = model.predict_proba(two)[:, 1]
    assert res.explanation.base_values[0] == pytest.approx(p.mean())
    # the only difference for "a" is between the two rows' own values
    assert np.isfinite(a.values).all() and np.isnan(a.lower[0])


def test_target_defaults_and_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 2))
    y = np.array(["low", "mid", "high"])[np.digitize(X[:, 0], [-0.5, 0.5])]
    model = LogisticRegression().fit(X, y)                 # classes_ sorted: high, low, mid
    res = neighborhood_ale(model, X, target="high", progress=False)
    assert res.target == 0 and res.target_label == "high"
    assert res.curve(0).values[-1] > res.curve(0).values[0]   # P(high) grows with x0
    anomaly = np.array([-2.0, 0.0])
    res2 = neighborhood_ale(model, X, anomaly=anomaly, progress=False)
    assert res2.target_label == "low"
    assert res2.anomaly == {"Feature 0": -2.0, "Feature 1": 0.0}
    with pytest.raises(ValueError, match="target"):
        neighborhood_ale(model, X, target="nope", progress=False)


# --------------------------------------------------------------------------- native output
def test_explanation_works_with_shap_plots(adult_setup):
    model, _, Xn = adult_setup
    res = neighborhood_ale(model, Xn, ["age", "race", "capital-loss", "hours-per-week"],
                           progress=False)
    exp = res.explanation
    assert type(exp) is shap.Explanation
    assert exp.values.shape == (200, 4) and exp.feature_names[1] == "race"
    assert set(exp.display_data[:, 1]) <= set(Xn["race"].astype(str))
    np.testing.assert_allclose(exp.values.mean(0), 0.0, atol=1e-15)
    shap.plots.scatter(exp[:, "age"], show=False)
    plt.close("all")
    shap.plots.scatter(exp[:, "race"], show=False)
    plt.close("all")
    shap.plots.bar(exp, show=False)
    plt.close("all")
    shap.plots.beeswarm(exp, show=False)


def test_plots_and_bias_view(adult_setup):
    model, X, Xn = adult_setup
    anomaly = Xn.iloc[0]
    nb = neighborhood_ale(model, Xn, anomaly=anomaly, progress=False)
    gl = neighborhood_ale(model, X.iloc[:600], target=nb.target, progress=False)
    fig, axes = plt.subplots(1, 3)
    out = ale_plot(nb, ["age", "race", "capital-loss"], global_result=gl, ax=axes, show=False)
    assert len(out) == 3 and out[1].get_title() == "race"
    assert [t.get_text() for t in out[1].get_xticklabels()] == list(nb.curve("race").grid)
    ax = nb.plot("age", show=False)
    assert ax.get_title() == "age"
    axes = ale_plot(nb, max_display=4, show=False)
    assert len(axes) == 4
    with pytest.raises(ValueError, match="single Axes"):
        ale_plot(nb, ["age", "race"], ax=ax, show=False)
    bias = ale_bias(nb, gl, protected=["race", "sex"], threshold=0.0)
    assert isinstance(bias, ALEBias)
    tab = bias.to_frame()
    assert list(tab["range_neighborhood"]) == sorted(tab["range_neighborhood"], reverse=True)
    assert set(bias.flagged) == {f for f in ("race", "sex") if nb.curve(f).range > 0}
    bias.plot(show=False)
    assert "<table>" in bias._repr_html_() and "<html" not in nb._repr_html_()
    assert len(nb.to_frame()) == sum(len(c.grid) for c in nb.curves)


def test_bias_flags_protected_feature_only_in_region():
    rng = np.random.default_rng(0)
    n = 800
    X = pd.DataFrame({"x": rng.uniform(-2, 2, n),
                      "race": pd.Categorical(rng.choice(["p", "q"], n)),
                      "z": rng.normal(size=n)})

    class Biased(BaseEstimator, ClassifierMixin):
        classes_ = np.array([0, 1])

        def predict_proba(self, frame):
            region = frame["x"].to_numpy() > 1
            p = 0.3 + 0.1 * np.tanh(frame["z"].to_numpy()) + 0.4 * region * (
                frame["race"].astype(str).to_numpy() == "q")
            return np.column_stack([1 - p, p])

    model = Biased()
    nb = neighborhood_ale(model, X[X["x"] > 1], progress=False)
    gl = neighborhood_ale(model, X, progress=False)
    bias = ale_bias(nb, gl, protected=["race"], threshold=0.1)
    assert bias.flagged == ("race",)
    assert bias.table.index[0] == "race"
    assert bias.table.loc["race", "range_neighborhood"] == pytest.approx(0.4, abs=1e-12)
    assert bias.table.loc["race", "range_global"] < 0.2
    assert ale_bias(gl, gl, protected=["race"], threshold=0.2).flagged == ()
    with pytest.raises(ValueError, match="unknown"):
        ale_bias(nb, gl, protected=["religion"])
    with pytest.raises(TypeError, match="ALEResult"):
        ale_bias(nb, "global")


def test_html_is_escaped():
    X = pd.DataFrame({"<b>x</b>": np.linspace(0, 1, 40), "c": pd.Categorical(["<i>"] * 20 + ["k"] * 20)})
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)

    class M(BaseEstimator, ClassifierMixin):
        classes_ = np.array(["<no>", "yes"])

        def predict_proba(self, frame):
            p = frame.iloc[:, 0].to_numpy() * 0.5 + 0.2
            return np.column_stack([1 - p, p])

    res = neighborhood_ale(M(), X, progress=False)
    h = res._repr_html_()
    assert "<b>x</b>" not in h and "&lt;b&gt;x&lt;/b&gt;" in h
    assert y.sum() == 20


# --------------------------------------------------------------------------- bad input
def test_bad_input_errors(adult_setup):
    model, _, Xn = adult_setup
    with pytest.raises(ValueError, match="unknown feature 'agee'"):
        neighborhood_ale(model, Xn, ["agee"], progress=False)
    reg = LinearRegression().fit(np.random.default_rng(0).normal(size=(20, 2)), np.arange(20))
    with pytest.raises(TypeError, match="predict_proba"):
        neighborhood_ale(reg, np.zeros((5, 2)), progress=False)
    with pytest.raises(ValueError, match="empty"):
        neighborhood_ale(model, Xn.iloc[:0], progress=False)
    with pytest.raises(TypeError, match="feature_names"):
        neighborhood_ale(model, Xn.to_numpy(dtype=object), progress=False)
    with pytest.raises(ValueError, match="grid_size"):
        neighborhood_ale(model, Xn, grid_size=0, progress=False)
    with pytest.raises(ValueError, match="engine"):
        neighborhood_ale(model, Xn, engine="fast", progress=False)
    with pytest.raises(ValueError, match="confidence"):
        neighborhood_ale(model, Xn, confidence=1.0, progress=False)
    with pytest.raises(ValueError, match="categorical: unknown feature"):
        neighborhood_ale(model, np.zeros((5, 2)), categorical=["race"], progress=False)


def test_object_array_with_feature_names_works(adult_setup):
    model, X, Xn = adult_setup
    cols = list(X.columns)

    class OnArray(BaseEstimator, ClassifierMixin):
        classes_ = np.array([0, 1])

        def predict_proba(self, arr):
            frame = pd.DataFrame(arr, columns=cols)
            for c in cols:
                frame[c] = frame[c].astype(X[c].dtype)
            return model.predict_proba(frame)

    arr = Xn.to_numpy(dtype=object)
    before = arr.copy()
    res = neighborhood_ale(OnArray(), arr, ["race", "age"], feature_names=cols, progress=False)
    ref = neighborhood_ale(model, Xn, ["race", "age"], progress=False)
    _assert_same_curves(res, ref)
    assert (arr == before).all()


def test_torch_module_on_array():
    import torch

    torch.manual_seed(0)
    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight[:] = torch.tensor([[2.0, 0.0]])
        net.bias[:] = 0.0
    X = np.random.default_rng(0).normal(size=(150, 2)).astype(np.float32)
    res = neighborhood_ale(net, X, progress=False)
    assert res.target == 1
    x0 = res.curve(0)
    assert np.all(np.diff(x0.values) > 0)           # sigmoid(2 x0) increases with x0
    assert res.curve(1).range < 1e-12                 # x1 is ignored by the network
    np.testing.assert_allclose(res.mean_prediction,
                               torch.sigmoid(net(torch.as_tensor(X))).mean().item(), atol=1e-6)


# --------------------------------------------------------------------------- layout
def test_results_are_core_results_with_short_repr():
    from shap_debug.core import Result

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 30))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    res = neighborhood_ale(model, X, progress=False)
    bias = ale_bias(res, res, protected=["Feature 0"])
    for obj in (res, res.curves[0], bias):
        assert isinstance(obj, Result)
        text = repr(obj)
        assert "\n" not in text and len(text) < 300 and "array(" not in text
    assert repr(res.curves[0]).startswith("ALECurve(feature='Feature 0', kind='continuous'")
    assert "n_rows=300" in repr(res) and "flagged=" in repr(bias)


def test_chunked_model_calls_give_the_same_curves(monkeypatch):
    import shap_debug.explanations.ale._core as ale_core

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.integers(0, 4, 300),
                      "c": pd.Categorical(rng.choice(list("xyz"), 300))})
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["c"]), remainder="passthrough"),
        LogisticRegression()).fit(X, (X["a"] > 0).astype(int))
    whole = neighborhood_ale(model, X, progress=False)
    monkeypatch.setattr(ale_core, "_CHUNK_ROWS", 97)
    chunked = neighborhood_ale(model, X, progress=False)
    _assert_same_curves(whole, chunked, tol=0.0)
    np.testing.assert_array_equal(whole.values, chunked.values)


def test_plots_module_does_not_import_the_computation():
    import ast
    import inspect

    import shap_debug.plots._ale as plots_ale

    tree = ast.parse(inspect.getsource(plots_ale))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            name = "." * node.level + (node.module or "")
            assert name not in ("..ale", "shap_debug.explanations.ale") and not name.startswith(
                ("..ale.", "shap_debug.explanations.ale.")), name
            assert not (node.level == 2 and node.module is None
                        and any(a.name == "ale" for a in node.names))
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("shap_debug.explanations.ale") for a in node.names)
