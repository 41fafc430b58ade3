"""Logic explanations: concepts, formulas, the LEN metrics and the extraction methods."""

import numpy as np
import pandas as pd
import pytest
import torch

from shap_debug import ShapDebugWarning
from shap_debug.datasets import compas, german
from shap_debug.explanations.logic import (
    METHODS,
    ConceptEncoder,
    Formula,
    LogicCVResult,
    LogicExplanation,
    anomaly_formula,
    concept_frequency,
    consistency,
    explain_formula,
    explanation_accuracy,
    fidelity,
    logic_cross_validation,
    neighborhood_formula,
    simplify,
    to_concepts,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def xor_data():
    """x1 XOR x10 plus noise concepts (names that are prefixes of each other)."""
    rng = np.random.default_rng(0)
    C = pd.DataFrame(rng.random((400, 6)) < 0.5, columns=["x1", "x10", "x2", "x100", "x3", "x11"])
    y = (C["x1"] ^ C["x10"]).to_numpy().astype(int)
    return C, y


XOR = {frozenset({("x1", True), ("x10", False)}), frozenset({("x1", False), ("x10", True)})}


def _terms(formula):
    return {frozenset(t) for t in formula.terms}


# ---------------------------------------------------------------- concepts
def test_to_concepts_names_kinds_and_bins():
    X = pd.DataFrame({
        "age": np.arange(30, dtype=float),
        "flag": [0, 1] * 15,
        "color": pd.Categorical(["red", "blue", "green"] * 10),
        "count": [0] * 25 + [1, 2, 3, 4, 5],
    })
    X_before = X.copy()
    C, enc = to_concepts(X)
    pd.testing.assert_frame_equal(X, X_before)
    assert list(C.columns) == ["age_LOW", "age_NORMAL", "age_HIGH", "flag", "color=blue",
                               "color=green", "color=red", "count_LOW", "count_HIGH"]
    assert C.dtypes.eq(bool).all()
    # quantile bins: ten rows each, exactly one level per column on
    assert C[["age_LOW", "age_NORMAL", "age_HIGH"]].sum().tolist() == [10, 10, 10]
    assert C.filter(like="color=").sum(axis=1).eq(1).all()
    # a skewed count column falls back to "at the median" vs "above"
    assert C["count_HIGH"].sum() == 5
    assert enc.kinds_ == {"age": "numeric", "flag": "flag", "color": "category",
                          "count": "numeric"}
    assert enc.definitions_["age_LOW"] == "age < 10"
    # the same bins apply to new rows; unseen levels switch every level off
    new = pd.DataFrame({"age": [0.0, 29.0], "flag": [1, 0], "color": ["red", "purple"],
                        "count": [0, 9]})
    Cn = enc.transform(new)
    assert Cn.loc[0, "age_LOW"] and Cn.loc[1, "age_HIGH"]
    assert Cn.loc[0, "color=red"] and not Cn.loc[1, Cn.columns.str.startswith("color=")].any()
    assert Cn.loc[1, "count_HIGH"]
    assert "age_LOW" in enc._repr_html_() and len(enc.to_frame()) == 9


def test_to_concepts_bad_input():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="n_bins"):
        to_concepts(X, n_bins=1)
    with pytest.raises(ValueError, match="strategy"):
        to_concepts(X, strategy="median")
    with pytest.raises(ValueError, match="columns seen at fit"):
        ConceptEncoder().fit(X).transform(X.rename(columns={"a": "b"}))
    with pytest.warns(ShapDebugWarning, match="constant"):
        C, _ = to_concepts(pd.DataFrame({"a": [1.0, 2.0, 3.0], "k": [5.0, 5.0, 5.0]}))
    assert list(C.columns) == ["a_LOW", "a_NORMAL", "a_HIGH"]


def test_to_concepts_real_data():
    X, _ = compas()
    C, enc = to_concepts(X)
    assert C.shape == (len(X), len(enc.concept_names_))
    for col, names in enc.groups_.items():  # every row in exactly one bin / level
        if enc.kinds_[col] in ("numeric", "category"):
            assert C[names].sum(axis=1).eq(1).all(), col


# ---------------------------------------------------------------- formulas
def test_formula_prefix_names_evaluate_correctly():
    C = pd.DataFrame({"x1": [True, False, False, True], "x10": [False, True, False, True],
                      "x100": [False, False, True, True]})
    assert Formula.parse("x1").evaluate(C).tolist() == [True, False, False, True]
    assert Formula.parse("x10").evaluate(C).tolist() == [False, True, False, True]
    assert Formula.parse("x1 & ~x10").evaluate(C).tolist() == [True, False, False, False]
    assert Formula.parse("~x1 & ~x10 | x100").evaluate(C).tolist() == [False, False, True, True]
    # column order does not matter: lookup is by exact name
    assert Formula.parse("x10").evaluate(C[["x100", "x10", "x1"]]).tolist() == [
        False, True, False, True]


def test_formula_print_parse_roundtrip_and_complexity():
    f = Formula.from_terms([["purpose=car (new)", "~age_HIGH"], ["x1"]])
    assert str(f) == "(purpose=car (new) & ~age_HIGH) | x1"
    assert Formula.parse(str(f)) == f
    assert f.complexity == 3 and f.concepts == ("purpose=car (new)", "age_HIGH", "x1")
    assert Formula.parse("a & a & b") == Formula.parse("a & b")  # duplicate literal dropped
    false, true = Formula(), Formula(((),))
    assert str(false) == "False" and Formula.parse("False") == false
    assert str(true) == "True" and Formula.parse("True") == true
    C = pd.DataFrame({"a": [True, False]})
    assert false.evaluate(C).tolist() == [False, False]
    assert true.evaluate(C).tolist() == [True, True]
    assert false.complexity == 0
    assert "&amp;" in Formula.parse("a & b")._repr_html_()
    assert f.to_frame()["literals"].tolist() == [2, 1]


def test_formula_bad_input():
    f = Formula.parse("a & b")
    with pytest.raises(ValueError, match="concept 'a' must be boolean"):
        f.evaluate(pd.DataFrame({"a": [0.2, 1.0], "b": [True, False]}))
    with pytest.raises(ValueError, match="lacks the concept"):
        f.evaluate(pd.DataFrame({"a": [True]}))
    with pytest.raises(ValueError, match="concept_names is required"):
        f.evaluate(np.ones((2, 2), dtype=bool))
    assert f.evaluate(np.array([[1, 1], [1, 0]]), ["a", "b"]).tolist() == [True, False]
    with pytest.raises(TypeError, match="literal"):
        Formula((("a",),))
    with pytest.raises(ValueError, match="empty literal"):
        Formula.parse("a & ~")


def test_simplify_is_equivalent_and_minimal():
    f = Formula.parse("(a & b & c) | (a & b & ~c) | (a & ~b) | (d & ~d)")
    s = simplify(f)
    assert str(s) == "a"
    rng = np.random.default_rng(1)
    C = pd.DataFrame(rng.random((64, 4)) < 0.5, columns=list("abcd"))
    g = Formula.parse("(a & ~b & c) | (a & b & c) | (~a & b & ~d) | (b & ~c & ~d)")
    assert (simplify(g).evaluate(C) == g.evaluate(C)).all()
    assert simplify(g).complexity < g.complexity


# ---------------------------------------------------------------- metrics
def test_metrics_match_hand_computed_values():
    C = pd.DataFrame({"a": [1, 1, 0, 0, 1], "b": [0, 1, 1, 0, 1]}).astype(bool)
    f = Formula.parse("a & ~b")  # -> [T, F, F, F, F]
    y = np.array([1, 1, 0, 0, 0])  # correct on rows 0, 2, 3, 4 -> 4/5
    assert explanation_accuracy(f, C, y) == pytest.approx(0.8)
    y_model = np.array([1, 0, 1, 0, 0])  # agrees on rows 0, 1, 3, 4 -> 4/5
    assert fidelity(f, C, y_model) == pytest.approx(0.8)
    assert explanation_accuracy("a | b", C, y) == pytest.approx(3 / 5)
    # other labels: class "yes" vs rest
    assert explanation_accuracy(f, C, np.array(["yes", "no", "no", "no", "no"]), "yes") == 1.0
    # consistency: concepts {a, b, c}: a in 2/2, b in 1/2, c in 1/2 -> (1 + .5 + .5) / 3
    assert consistency(["a & b", "a | ~c"]) == pytest.approx(2 / 3)
    assert consistency([Formula.parse("a"), Formula.parse("~a")]) == 1.0
    assert concept_frequency(["a & b", "a"]).to_dict() == {"a": 1.0, "b": 0.5}
    assert np.isnan(consistency(["False", "True"]))
    with pytest.raises(ValueError, match="at least one"):
        consistency([])
    with pytest.raises(TypeError, match="formula must be"):
        consistency([3])


# ---------------------------------------------------------------- extraction
@pytest.mark.parametrize("method", ["tree", "pruning", "entropy"])
def test_xor_formula_is_recovered(xor_data, method):
    C, y = xor_data
    res = explain_formula(C, y, method, random_state=0)
    assert _terms(res.formula) == XOR, str(res.formula)
    assert res.explanation_accuracy == 1.0 and res.model_accuracy == 1.0
    assert res.fidelity == 1.0 and res.complexity == 4


def test_psi_recovers_a_two_concept_formula_with_fidelity_one(xor_data):
    C, _ = xor_data
    y = (C["x1"] & ~C["x10"]).to_numpy()
    res = explain_formula(C, y, "psi", random_state=0)
    assert _terms(res.formula) == {frozenset({("x1", True), ("x10", False)})}
    assert res.explanation_accuracy == 1.0 and res.fidelity == 1.0


def test_weights_method_loses_accuracy_as_in_len(xor_data):
    C, y = xor_data
    res = explain_formula(C, y, "weights", random_state=0)
    # the network learns XOR but its weight-based local explanations do not carry it over
    assert res.model_accuracy == 1.0
    assert res.explanation_accuracy < 0.9
    assert res.explanation_accuracy == pytest.approx(explanation_accuracy(res.formula, C, y))
    assert res.fidelity == pytest.approx(res.explanation_accuracy)  # model == labels here


def test_tree_formula_is_faithful_on_real_data_and_inputs_untouched():
    X, y = german()
    C, _ = to_concepts(X)
    C_before = C.copy()
    res = explain_formula(C.iloc[:600], y[:600], "tree", eval_concepts=C.iloc[600:],
                          eval_target=y[600:])
    pd.testing.assert_frame_equal(C, C_before)
    assert res.fidelity == 1.0  # the formula is the tree's positive paths
    assert res.complexity > 100  # and unconstrained trees give long formulas (LEN)
    assert res.evaluated_on == "eval" and res.n_rows == 400 and res.n_target == y[600:].sum()
    assert res.explanation_accuracy == pytest.approx(
        explanation_accuracy(res.formula, C.iloc[600:], y[600:]))
    frame = res.to_frame()
    assert frame.loc[0, "complexity"] == res.complexity
    terms = res.terms_frame()
    assert len(terms) == len(res.formula)
    # each tree path covers disjoint rows, so the term support adds up to the formula's
    assert terms["target_covered"].sum() == int((res.predict(C.iloc[600:]) & (y[600:] == 1)).sum())


def test_multiclass_target_class_and_reproducibility(xor_data):
    C, _ = xor_data
    labels = np.where(C["x1"] & C["x2"], "cat", np.where(C["x3"], "dog", "fish"))
    res = explain_formula(C, labels, "tree", target_class="cat")
    assert _terms(res.formula) == {frozenset({("x1", True), ("x2", True)})}
    assert res.target_class == "cat"
    a = explain_formula(C, labels, "entropy", target_class="dog", random_state=3)
    b = explain_formula(C, labels, "entropy", target_class="dog", random_state=3)
    assert a.formula == b.formula and a.model_accuracy == b.model_accuracy


def test_explain_formula_bad_input(xor_data):
    C, y = xor_data
    with pytest.raises(ValueError, match="method must be one of"):
        explain_formula(C, y, "lime")
    with pytest.raises(ValueError, match="absent"):
        explain_formula(C, y, target_class=2)
    with pytest.raises(ValueError, match="target_class is required"):
        explain_formula(C, np.where(y == 1, "a", "b"))
    with pytest.raises(ValueError, match="every row"):
        explain_formula(C, np.ones(len(C), dtype=int))
    with pytest.raises(ValueError, match="must be boolean"):
        explain_formula(C.astype(float) * 2, y)
    with pytest.raises(ValueError, match="has 3 entries"):
        explain_formula(C, y[:3])
    with pytest.raises(TypeError, match="unknown parameter"):
        explain_formula(C, y, "tree", fan_in=2)
    with pytest.raises(ValueError, match="fan_in must be >= 1"):
        explain_formula(C, y, "pruning", fan_in=0)
    with pytest.raises(ValueError, match="truth table over up to"):
        explain_formula(C, y, "psi", hidden=(), fan_in=20)
    with pytest.raises(ValueError, match="both eval_concepts"):
        explain_formula(C, y, eval_concepts=C)


def test_empty_formula_is_false_with_a_warning():
    C = pd.DataFrame({"a": [True, False] * 20, "b": [False] * 40})
    y = np.array([0] * 39 + [1])  # one positive row: the tree predicts it nowhere
    with pytest.warns(ShapDebugWarning, match="no formula"):
        res = explain_formula(C, y, "tree", max_depth=1)
    assert res.formula.is_false and res.complexity == 0
    assert res.explanation_accuracy == pytest.approx(39 / 40)
    assert "False" in res._repr_html_()


def test_result_html_is_escaped_and_plots(xor_data):
    C, y = xor_data
    C = C.rename(columns={"x1": "<b>x1</b>"})
    res = explain_formula(C, y, "tree")
    page = res._repr_html_()
    assert "<b>x1</b>" not in page and "&lt;b&gt;x1&lt;/b&gt;" in page
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert res.plot(ax=ax, show=False) is ax
    assert len(ax.patches) == 2 * len(res.formula)


# ---------------------------------------------------------------- cross-validation
def test_cross_validation_metrics_and_consistency(xor_data):
    C, y = xor_data
    cv = logic_cross_validation(C, y, ["tree", "entropy"], n_splits=3, progress=False,
                                params={"entropy": {"epochs": 200}}, random_state=0)
    assert isinstance(cv, LogicCVResult)
    assert len(cv.folds) == 6 and set(cv.folds["fold"]) == {0, 1, 2}
    table = cv.to_frame()
    assert list(table.index) == ["tree", "entropy"]
    assert table.loc["tree", "fidelity"] == 1.0
    assert table.loc["tree", "explanation_accuracy"] == 1.0
    # every fold finds x1 XOR x10: same concepts each time
    assert table.loc["entropy", "consistency"] == 1.0
    assert table.loc["tree", "consistency"] == pytest.approx(
        consistency(cv.formulas["tree"]))
    assert "<table" in cv._repr_html_()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert cv.plot(ax=ax, show=False) is ax
    # explicit folds (to score another implementation on the very same rows)
    folds = [(np.arange(0, 200), np.arange(200, 400)), (np.arange(200, 400), np.arange(0, 200))]
    cv2 = logic_cross_validation(C, y, ["tree"], cv=folds, progress=False, random_state=0)
    assert cv2.n_splits == 2 and cv2.folds["n_rows"].tolist() == [200, 200]
    with pytest.raises(ValueError, match="methods must be one of"):
        logic_cross_validation(C, y, ["tree", "nope"], progress=False)
    with pytest.raises(ValueError, match="n_splits"):
        logic_cross_validation(C, y, ["tree"], n_splits=1, progress=False)
    with pytest.raises(ValueError, match="not in methods"):
        logic_cross_validation(C, y, ["tree"], params={"psi": {}}, progress=False)


# ---------------------------------------------------------------- debugging uses
def test_anomaly_and_neighborhood_formulas_on_real_data():
    X, _ = german()
    odd = ((X["housing"] == "rent") & (X["job"] == "unskilled resident")).to_numpy()
    res = anomaly_formula(X, odd, random_state=0)
    assert isinstance(res, LogicExplanation)
    assert str(res.formula) == "housing=rent & job=unskilled resident"
    assert res.explanation_accuracy == 1.0 and res.n_target == odd.sum()
    # contrast only with a reference set: rows outside both are left out
    ref = np.arange(len(X)) < 300
    res_ref = anomaly_formula(X, np.nonzero(odd)[0], reference=ref, random_state=0)
    assert res_ref.n_rows == int((odd | ref).sum())
    # neighborhood vs the rest
    members = np.nonzero((X["duration"] >= 24).to_numpy() & (X["age"] >= 40).to_numpy())[0]
    nb = neighborhood_formula(X, members, random_state=0)
    assert set(nb.formula.concepts) >= {"duration_HIGH"}
    assert nb.explanation_accuracy > 0.9
    with pytest.raises(ValueError, match="min_anomalies must be >= 1"):
        anomaly_formula(X, odd, min_anomalies=0)
    with pytest.raises(ValueError, match="out of range"):
        neighborhood_formula(X, [len(X)])
    with pytest.raises(ValueError, match="boolean mask of length"):
        anomaly_formula(X, np.zeros(3, dtype=bool))


def test_anomaly_formula_separates_gb_mistakes_from_correct_rows():
    """Regression (issues 16.6, 17.5): the report showed ``True <= False`` (complexity 0) for
    a gradient-boosting model's mistakes, because an unweighted depth-3 tree has no leaf where
    the rare mistakes are the majority."""
    import warnings

    from sklearn.ensemble import GradientBoostingClassifier

    X, y = german()
    Xn = pd.get_dummies(X, dtype=float)
    model = GradientBoostingClassifier(n_estimators=50, random_state=0).fit(Xn, y)
    wrong = model.predict(Xn) != y
    assert 0.02 < wrong.mean() < 0.3  # rare: a majority-vote leaf would never be "wrong"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShapDebugWarning)  # no warning on stderr either
        res = anomaly_formula(X, wrong, reference=~wrong, max_depth=3, random_state=0)
    assert not res.is_trivial and res.reason == ""
    assert res.complexity >= 1 and not res.formula.is_true
    # scored independently: the rows the formula holds for are mistakes more often than the
    # base rate, and so is at least one of its terms
    C, _ = to_concepts(X)
    covered = res.formula.evaluate(C)
    base = wrong.mean()
    assert covered.any() and wrong[covered].mean() > base
    assert res.precision == pytest.approx(wrong[covered].mean()) and res.lift > 1
    assert res.base_rate == pytest.approx(base)
    assert any(wrong[Formula((t,)).evaluate(C)].mean() > base for t in res.formula.terms)
    page = res._repr_html_()
    assert "<table" in page and "precision" in page
    assert "formula=" in repr(res) and len(repr(res)) < 250


def test_anomaly_formula_without_a_formula_is_trivial_with_a_reason():
    import warnings

    X, _ = german()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no exception, no Python warning
        none = anomaly_formula(X, np.zeros(len(X), dtype=bool), random_state=0)
    assert none.is_trivial and none.formula.complexity == 0 and none.n_target == 0
    assert "no anomalies" in none.reason and none.reason.endswith(".")
    assert np.isnan(none.explanation_accuracy)
    page = none._repr_html_()
    assert none.reason in page and "<table" not in page
    assert "is_trivial=True" in repr(none)
    few = anomaly_formula(X, [1, 2, 3], random_state=0)
    assert few.is_trivial and "too few" in few.reason and few.n_target == 3
    assert anomaly_formula(X, [1, 2, 3], min_anomalies=3, random_state=0).complexity >= 1
    everyone = anomaly_formula(X, np.ones(len(X), dtype=bool), random_state=0)
    assert everyone.is_trivial and "no other rows" in everyone.reason
    assert neighborhood_formula(X, [], random_state=0).is_trivial
    # concepts that cannot tell the anomalies apart: every fit is a constant
    flat = pd.DataFrame({"a": [True] * 40, "b": [False] * 40})
    res = anomaly_formula(flat, np.arange(10), random_state=0)
    assert res.is_trivial and "better than chance" in res.reason
    assert res.formula.is_false and res.reason in res._repr_html_()


def test_methods_constant_lists_all_five():
    assert METHODS == ("tree", "pruning", "weights", "psi", "entropy")


def test_negations_implied_by_an_exclusive_level_are_dropped():
    C = pd.DataFrame({"c=red": [1, 0, 0, 1, 0, 1], "c=blue": [0, 1, 0, 0, 1, 0],
                      "c=green": [0, 0, 1, 0, 0, 0], "x": [1, 1, 0, 0, 1, 1]}).astype(bool)
    y = (C["c=red"] & C["x"]).to_numpy()
    groups = {"c": ["c=red", "c=blue", "c=green"], "x": ["x"]}
    from shap_debug.explanations.logic._methods import _drop_implied

    f = Formula.parse("(~c=blue & c=red & x) | (~c=red & ~c=green & x) | (c=blue & ~c=blue)")
    g = _drop_implied(f, groups)
    # ~c=blue goes (c=red implies it); ~c=red and ~c=green stay (no other level is asserted)
    # and a contradiction stays a contradiction
    assert str(g) == "(c=red & x) | (~c=red & ~c=green & x) | (c=blue & ~c=blue)"
    assert (g.evaluate(C) == f.evaluate(C)).all()
    assert _drop_implied(f, None) == f
    assert str(explain_formula(C, y, "tree", groups=groups).formula) == "c=red & x"
    with pytest.raises(ValueError, match="not columns"):
        explain_formula(C, y, "tree", groups={"c": ["c=pink"]})
    # anomaly formulas use the encoder's groups: never "level A & ~level B" of one column
    X, _ = german()
    odd = ((X["job"] == "skilled employee / official") & (X["housing"] == "rent")).to_numpy()
    res = anomaly_formula(X, odd, random_state=0)
    enc_cols = {n: n.split("=")[0] for n in res.formula.concepts}
    for term in res.formula.terms:
        pos_cols = {enc_cols[n] for n, p in term if p}
        assert not any(not p and enc_cols[n] in pos_cols and "=" in n for n, p in term)
    assert res.explanation_accuracy == 1.0
