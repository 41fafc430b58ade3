"""Local rules: neighbourhood, surrogate path reading, metrics and the rule table."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from shap_debug.datasets import german
from shap_debug.explanations.rules import (
    Condition,
    Rule,
    RuleExplainer,
    RuleTable,
    diversity_metrics,
    rule_table,
)


class BoxModel:
    """Class 1 inside the box 0.5 < x0 and x1 <= 0.2 (a known rule), class 0 outside."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        p = ((X[:, 0] > 0.5) & (X[:, 1] <= 0.2)).astype(float)
        return np.column_stack([1 - p, p])


class ColourAgeModel:
    """'yes' iff colour is red and age > 40, on a DataFrame (string labels)."""

    classes_ = np.array(["no", "yes"])

    def predict_proba(self, X):
        assert isinstance(X, pd.DataFrame) and isinstance(X["colour"].dtype, pd.CategoricalDtype)
        assert pd.api.types.is_integer_dtype(X["age"])
        p = ((X["colour"] == "red") & (X["age"] > 40)).to_numpy(dtype=float)
        return np.column_stack([1 - p, p])


@pytest.fixture(scope="module")
def box_data():
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, size=(600, 3))


@pytest.fixture(scope="module")
def colour_data():
    rng = np.random.default_rng(1)
    n = 500
    return pd.DataFrame({
        "age": rng.integers(18, 80, size=n),
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
        "score": rng.normal(size=n),
    })


def test_box_rule_recovers_the_known_box(box_data):
    ex = RuleExplainer(BoxModel(), box_data, n_samples=800, random_state=0)
    x = np.array([0.8, -0.5, 0.0])
    rule = ex.explain(x)
    assert rule.prediction == 1
    assert set(rule.features) == {"Feature 0", "Feature 1"}
    c0 = next(c for c in rule.conditions if c.feature == "Feature 0")
    c1 = next(c for c in rule.conditions if c.feature == "Feature 1")
    assert c0.low == pytest.approx(0.5, abs=0.1) and c0.high is None
    assert c1.high == pytest.approx(0.2, abs=0.1) and c1.low is None
    assert rule.fidelity > 0.9
    assert rule.holds(x[None, :])[0]
    assert rule.length == len(rule.conditions) == 2
    assert str(rule).startswith("IF ") and str(rule).endswith("THEN 1")


def test_fidelity_and_coverage_are_recomputable(box_data):
    ex = RuleExplainer(BoxModel(), box_data, n_samples=500, random_state=3)
    for i in (0, 5, 11):
        rule = ex.explain(i)
        Z, labels = ex.neighborhood(i)
        covered = rule.holds(Z)
        assert covered[0]  # the explained row satisfies its own premise
        assert covered.sum() == rule.support
        assert rule.fidelity == pytest.approx(np.mean(labels[covered] == rule.prediction))
        assert rule.coverage == pytest.approx(rule.holds(box_data).mean())
        assert np.array_equal(Z[0], box_data[i])
        assert np.array_equal(labels, BoxModel().predict_proba(Z).argmax(1))


def test_categorical_rule_on_dataframe(colour_data):
    before = colour_data.copy()
    ex = RuleExplainer(ColourAgeModel(), colour_data, n_samples=600, random_state=0)
    row = pd.DataFrame({"age": [55], "colour": pd.Categorical(["red"], categories=["blue",
                        "green", "red"]), "score": [0.1]})
    rule = ex.explain(row)
    assert rule.prediction == "yes"
    colour = next(c for c in rule.conditions if c.feature == "colour")
    assert colour.op == "=" and colour.value == "red"
    assert str(colour) == "colour = red"
    age = next(c for c in rule.conditions if c.feature == "age")
    assert age.low == 40 and age.high is None  # integer threshold read exactly
    assert "score" not in rule.features
    assert rule.holds(row)[0]
    Z, labels = ex.neighborhood(row)
    assert set(Z["colour"].astype(str)) <= {"red", "green", "blue"}
    assert pd.api.types.is_integer_dtype(Z["age"])
    assert rule.fidelity == pytest.approx(np.mean(labels[rule.holds(Z)] == "yes"))
    pd.testing.assert_frame_equal(colour_data, before)
    # the 'no' side: a green row is explained by its colour
    green = ex.explain(pd.Series({"age": 60, "colour": "green", "score": 0.0}))
    assert green.prediction == "no"
    assert any(c.feature == "colour" and "red" not in c.levels for c in green.conditions)


def test_same_seed_same_rule_whatever_came_before(box_data):
    a = RuleExplainer(BoxModel(), box_data, n_samples=300, random_state=5)
    b = RuleExplainer(BoxModel(), box_data, n_samples=300, random_state=5)
    b.explain(7)
    assert a.explain(3) == b.explain(3)


def test_condition_wording_and_masks():
    c = Condition("age", 0, low=40.0, high=53.0)
    assert str(c) == "40 < age <= 53" and c.op == "range" and c.value == (40.0, 53.0)
    assert c.holds([40, 41, 53, 54]).tolist() == [False, True, True, False]
    cats = ("a", "b", "c", "d")
    assert Condition("k", 1, levels=frozenset("abc"), categories=cats).op == "!="
    two = Condition("k", 1, levels=frozenset("ab"), categories=cats)
    assert two.op == "in" and str(two) == "k in {a, b}"
    three = Condition("k", 1, levels=frozenset("abc"), categories=cats + ("e",))
    assert three.op == "not in" and three.value == frozenset("de")
    rule = Rule((c, Condition("k", 1, levels=frozenset("a"), categories=cats)), 1, 1.0, 0.1,
                2, "IF 40 < age <= 53 AND k = a THEN 1")
    X = pd.DataFrame({"age": [45, 45, 60], "k": ["a", "b", "a"]})
    assert rule.holds(X).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="categorical"):
        rule.holds(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="no column"):
        rule.holds(X[["age"]])
    assert rule.to_frame()["op"].tolist() == ["range", "="]


def test_bad_inputs(box_data, colour_data):
    with pytest.raises(TypeError, match="predict_proba"):
        RuleExplainer(object(), box_data)
    with pytest.raises(ValueError, match="n_samples must be >= 10"):
        RuleExplainer(BoxModel(), box_data, n_samples=5)
    ex = RuleExplainer(BoxModel(), box_data, n_samples=100, random_state=0)
    with pytest.raises(ValueError, match="1-D array of 3 values"):
        ex.explain(np.zeros(4))
    with pytest.raises(ValueError, match="out of range"):
        ex.explain(10_000)
    exc = RuleExplainer(ColourAgeModel(), colour_data, n_samples=100, random_state=0)
    with pytest.raises(ValueError, match="not a level seen"):
        exc.explain(pd.Series({"age": 30, "colour": "purple", "score": 0.0}))


def test_diversity_metrics_known_values():
    def rule(features):
        conds = tuple(Condition(f, k, low=0.0) for k, f in enumerate(features))
        return Rule(conds, 0, 1.0, 0.1, len(conds), "")

    rules = [rule("ab"), rule("ab"), rule("c")]
    m = diversity_metrics(rules, [True, False, False])
    # pairs: (ab, ab) J=1 dL=0; (ab, c) J=0 dL=1; (ab, c) J=0 dL=1 -> self-pairs excluded
    assert m["FS"] == pytest.approx(1 / 3)
    assert m["LD"] == pytest.approx(2 / 3)
    assert m["anomalous_share"] == pytest.approx(1 / 3)
    assert m["SD"] == pytest.approx(2 / 3)
    assert diversity_metrics(rules, [False] * 3)["SD"] == 0.0
    with pytest.raises(ValueError, match="is_anomaly has 2 entries"):
        diversity_metrics(rules, [True, False])
    with pytest.raises(TypeError, match="Rule"):
        diversity_metrics(["IF a THEN b"], [True])


def test_rule_table_on_german():
    X, y = german()
    X, y = X.iloc[:300].reset_index(drop=True), y[:300]
    Z = X.apply(lambda s: s.cat.codes if isinstance(s.dtype, pd.CategoricalDtype) else s)
    rf = RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0).fit(Z, y)

    class OnFrame:  # the forest behind a DataFrame-with-categories interface
        classes_ = rf.classes_

        def predict_proba(self, F):
            return rf.predict_proba(F.apply(
                lambda s: s.cat.codes if isinstance(s.dtype, pd.CategoricalDtype) else s))

    ex = RuleExplainer(OnFrame(), X, n_samples=300, random_state=0)
    pred = rf.predict(Z)
    anomaly = int(np.flatnonzero(pred != y)[0])
    reps = np.setdiff1d(np.arange(7), [anomaly])[:5]
    table = rule_table(ex, anomaly, reps, y)
    assert isinstance(table, RuleTable)
    df = table.to_frame()
    assert df["role"].tolist() == ["anomaly"] + ["representative"] * 5
    rows = [anomaly, *reps.tolist()]
    assert df["index"].tolist() == rows
    assert df["mispredicted"].iloc[0]
    assert np.array_equal(df["prediction"].to_numpy(), pred[rows])
    assert np.array_equal(df["true label"].to_numpy(), y[rows])
    for k, i in enumerate(table.indices):
        assert table.rules[k].holds(X.iloc[[i]])[0]
    assert table.metrics == diversity_metrics(table.rules[1:], table.is_anomaly[1:])
    html = table._repr_html_()
    assert html.startswith("<table>") and "<html" not in html
    fig, ax = plt.subplots()
    assert table.plot(ax=ax, show=False) is ax
    with pytest.raises(ValueError, match="out of range"):
        rule_table(ex, anomaly, [10_000], y)
    again = rule_table(ex, anomaly, np.array([anomaly, *reps[:2]]), y)
    assert again.indices.tolist() == rows[:3]
    assert again.rules[1] == table.rules[1]
    with pytest.raises(ValueError, match="other than the anomaly"):
        rule_table(ex, anomaly, [anomaly], y)


def test_html_escapes_levels():
    c = Condition("k<", 0, levels=frozenset(["<script>"]), categories=("<script>", "b"))
    r = Rule((c,), "<i>", 1.0, 0.5, 1, "IF k< = <script> THEN <i>")
    t = RuleTable(np.array([0, 1]), (r, r), np.array(["a", "b"]), np.array(["a", "a"]),
                  diversity_metrics([r], [True]))
    page = t._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<script>" not in r._repr_html_()


def test_rule_and_table_repr_are_short():
    from shap_debug.core import Result

    c = Condition("a", 0, low=1.0)
    r = Rule((c,), 1, 1.0, 0.5, 1, "IF a > 1 THEN 1")
    t = RuleTable(np.arange(12), (r,) * 12, np.ones(12, int), np.r_[np.zeros(3, int), np.ones(9, int)],
                  diversity_metrics([r] * 11, [True] * 3 + [False] * 8))
    assert isinstance(r, Result) and isinstance(t, Result)
    assert repr(r) == "Rule(text='IF a > 1 THEN 1', fidelity=1, coverage=0.5, length=1)"
    assert repr(t).startswith("RuleTable(n_rows=12, n_mispredicted=3, SD=")
    assert "array" not in repr(t) and "\n" not in repr(t)
    assert r == Rule((c,), 1, 1.0, 0.5, 1, "IF a > 1 THEN 1")
