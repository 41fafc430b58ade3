import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from shap_debug import contribution_matrix, explain
from shap_debug.contributions import check_explanation
from shap_debug.datasets import encode, german


class PairwiseModel:
    """p(class 1) = 0.5 + main effects + one pairwise interaction: a game of order 2."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        p = (0.5 + 0.1 * np.sin(X[:, 0]) + 0.05 * np.tanh(X[:, 1]) * np.tanh(X[:, 2])
             + 0.03 * np.tanh(X[:, 3]))
        return np.column_stack([1 - p, p])


class ThreeWayModel(PairwiseModel):
    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        p = 0.5 + 0.1 * np.tanh(X[:, 0]) * np.tanh(X[:, 1]) * np.tanh(X[:, 2]) + 0.05 * X[:, 3]
        return np.column_stack([1 - p, p])


def brute_force(model, x, bg):
    d = len(x)
    masks = np.array(list(itertools.product([0, 1], repeat=d)), dtype=bool)
    rows = np.where(masks[:, None, :], x, bg[None]).reshape(-1, d)
    v = model.predict_proba(rows)[:, 1].reshape(len(masks), len(bg)).mean(1)
    index = {tuple(m): i for i, m in enumerate(masks)}
    phi = np.zeros(d)
    for i, m in enumerate(masks):
        s = m.sum()
        for j in np.flatnonzero(~m):
            w = math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d)
            m2 = m.copy()
            m2[j] = True
            phi[j] += w * (v[index[tuple(m2)]] - v[i])
    return phi


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


def test_antithetic_walks_are_exact_for_pairwise_games(rng):
    X = rng.normal(size=(6, 5))
    bg = rng.normal(size=(8, 5))
    bg[:, 4] = X[0, 4]  # a null player for row 0
    exp = explain(PairwiseModel(), X, bg, method="sampling", progress=False, random_state=0)
    exact = np.array([brute_force(PairwiseModel(), x, bg) for x in X])
    np.testing.assert_allclose(exp.values[:, :, 1], exact, atol=1e-12)
    np.testing.assert_allclose(exp.values[:, :, 0], -exact, atol=1e-12)


def test_control_variate_keeps_pairwise_games_exact(rng):
    # pairs agree exactly on a pairwise game, so the pair-difference weight is 0
    X = rng.normal(size=(6, 5))
    bg = rng.normal(size=(8, 5))
    exp = explain(PairwiseModel(), X, bg, method="sampling", control_variate=True,
                  progress=False, random_state=0)
    exact = np.array([brute_force(PairwiseModel(), x, bg) for x in X])
    np.testing.assert_allclose(exp.values[:, :, 1], exact, atol=1e-12)


def test_control_variate_is_exact_for_logistic_models(rng):
    # a logistic regression is additive on the logit scale: the surrogate is the model,
    # so the corrected estimate is exact (up to the surrogate's float32 enumeration)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + rng.normal(size=300) > 0).astype(int)
    lr = LogisticRegression().fit(X, y)
    rows, bg = X[:5], X[100:130]
    exact = np.array([brute_force(lr, x, bg) for x in rows])
    plain = explain(lr, rows, bg, method="sampling", progress=False, random_state=0).values[:, :, 1]
    cv = explain(lr, rows, bg, method="sampling", control_variate=True,
                 progress=False, random_state=0).values[:, :, 1]
    assert np.abs(plain - exact).mean() > 1e-4
    np.testing.assert_allclose(cv, exact, atol=1e-6)
    # 3 classes: softmax of additive log-probabilities, exact the same way
    y3 = np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.5, 0.5])
    lr3 = LogisticRegression(max_iter=1000).fit(X, y3)
    exp3 = explain(lr3, rows, bg, method="sampling", control_variate=True, progress=False, random_state=0)
    for k in range(3):
        class Column:
            classes_ = np.array([0, 1])

            def predict_proba(self, A, k=k):
                p = lr3.predict_proba(A)[:, k]
                return np.column_stack([1 - p, p])

        exact_k = np.array([brute_force(Column(), x, bg) for x in rows])
        np.testing.assert_allclose(exp3.values[:, :, k], exact_k, atol=1e-6)


def test_three_way_interaction_converges(rng):
    X = rng.normal(size=(4, 5))
    bg = rng.normal(size=(10, 5))
    exact = np.array([brute_force(ThreeWayModel(), x, bg) for x in X])
    one = explain(ThreeWayModel(), X, bg, method="sampling", progress=False, random_state=0).values[:, :, 1]
    many = explain(ThreeWayModel(), X, bg, method="sampling", n_permutations=64,
                   progress=False, random_state=0).values[:, :, 1]
    err_one, err_many = np.abs(one - exact).mean(), np.abs(many - exact).mean()
    assert err_one > 1e-6  # not exact: there is a 3-way interaction
    assert err_many < err_one and err_many < 2e-3


def test_agrees_with_exact_treeshap_and_efficiency(adult_gb):
    model, Z = adult_gb.model, adult_gb.Z
    bg, rows = Z[:100], Z[100:300]
    ours = explain(model, rows, bg, method="sampling", progress=False, random_state=0)
    tree = explain(model, rows, bg, method="tree", progress=False, random_state=0)
    assert ours.values.shape == tree.values.shape == (200, 12, 2)
    # efficiency: phi sums to f(x) - E f, row by row, to machine precision
    np.testing.assert_allclose(ours.values.sum(1) + ours.base_values,
                               model.predict_proba(rows), atol=1e-12)
    np.testing.assert_allclose(ours.base_values[0], model.predict_proba(bg).mean(0))
    # TreeSHAP's probability output is itself ~0.002 from the exact probability game
    mae = np.abs(ours.values[:, :, 1] - tree.values[:, :, 1]).mean()
    assert mae < 0.004
    corr = np.corrcoef(ours.values[:, :, 1].ravel(), tree.values[:, :, 1].ravel())[0, 1]
    assert corr > 0.99


def test_log_odds_output_matches_exact_raw_treeshap(adult_gb):
    model, Z = adult_gb.model, adult_gb.Z
    bg, rows = Z[:100], Z[100:160]
    ours = explain(model, rows, bg, method="sampling", output="log_odds", progress=False, random_state=0)
    tree = explain(model, rows, bg, output="log_odds", progress=False, random_state=0)   # auto -> tree, raw
    margin = model.decision_function(rows)
    for e, atol in ((ours, 1e-12), (tree, 1e-6)):   # shap's trees sum in float32
        np.testing.assert_allclose(e.values[:, :, 1].sum(1) + e.base_values[:, 1], margin,
                                   atol=atol)
        np.testing.assert_allclose(e.values[:, :, 0], -e.values[:, :, 1])
    # on this scale TreeSHAP is exact, so the gap is the estimator's own error
    err = np.abs(ours.values[:, :, 1] - tree.values[:, :, 1]).mean()
    assert err < 0.01 * np.abs(tree.values[:, :, 1]).mean() + 2e-3


def test_auto_method_and_reproducibility(adult_gb):
    model, Z = adult_gb.model, adult_gb.Z
    auto = explain(model, Z[:20], Z[:50], progress=False, random_state=0)
    tree = explain(model, Z[:20], Z[:50], method="tree", progress=False, random_state=0)
    np.testing.assert_allclose(auto.values, tree.values)
    a = explain(model, Z[:20], method="sampling", n_background=30, random_state=3, progress=False)
    b = explain(model, Z[:20], method="sampling", n_background=30, random_state=3, progress=False)
    c = explain(model, Z[:20], method="sampling", n_background=30, random_state=4, progress=False)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


@pytest.mark.parametrize("cv, atol", [(False, 1e-12), (True, 1e-7)])
def test_chunking_and_jobs_do_not_change_the_values(adult_gb, cv, atol):
    model, Z = adult_gb.model, adult_gb.Z
    one = explain(model, Z[:30], Z[:40], method="sampling", control_variate=cv,
                  random_state=0, progress=False)
    exp = explain(model, Z[:30], Z[:40], method="sampling", control_variate=cv,
                  batch_rows=2000, n_jobs=2, random_state=0, progress=False)
    np.testing.assert_allclose(exp.values.sum(1) + exp.base_values,
                               model.predict_proba(Z[:30]), atol=1e-12)
    # permutations belong to background rows, not chunks; the control variate's weight
    # is pooled over all chunks (its float32 surrogate sums round differently per chunk)
    np.testing.assert_allclose(exp.values, one.values, atol=atol)


def test_shared_rows_are_found_by_packed_keys_and_by_hashing(adult_gb, monkeypatch):
    import shap_debug.contributions._estimator as contributions

    model, Z = adult_gb.model, adult_gb.Z
    calls = []

    class Counting:
        classes_ = model.classes_

        def predict_proba(self, A):
            calls.append(len(A))
            return model.predict_proba(A)

    packed = explain(Counting(), Z[:40], Z[:50], method="sampling", random_state=0,
                     progress=False)
    n_packed = sum(calls)
    monkeypatch.setattr(contributions, "_PACKED_BITS", 0)   # force the Zobrist hashes
    calls.clear()
    hashed = explain(Counting(), Z[:40], Z[:50], method="sampling", random_state=0,
                     progress=False)
    np.testing.assert_array_equal(packed.values, hashed.values)
    assert sum(calls) == n_packed
    # categorical rows share many walk rows: far fewer model rows than walk steps
    walk_steps = 2 * 2 * 40 * 50 * (Z.shape[1] - 1)
    assert n_packed < 0.7 * walk_steps


def test_control_variate_reduces_error_on_gradient_boosting(adult_gb):
    model, Z = adult_gb.model, adult_gb.Z
    rows, bg = Z[300:312], Z[:100]
    exact = np.array([brute_force(model, x, bg) for x in rows])
    errs = {}
    for cv in (False, True):
        exp = explain(model, rows, bg, method="sampling", control_variate=cv,
                      random_state=0, progress=False)
        np.testing.assert_allclose(exp.values.sum(1) + exp.base_values,
                                   model.predict_proba(rows), atol=1e-12)
        errs[cv] = np.abs(exp.values[:, :, 1] - exact).mean()
    assert errs[True] < 0.85 * errs[False]


def test_linear_method_is_exact_in_log_odds():
    X, y = german()
    Z, _ = encode(X, kind="onehot")
    lr = LogisticRegression(max_iter=2000).fit(Z, y)
    exp = explain(lr, Z[:10], Z[:200], progress=False, random_state=0)  # auto -> linear
    margin = lr.decision_function(Z[:10])
    np.testing.assert_allclose(exp.values[:, :, 1].sum(1) + exp.base_values[:, 1], margin)
    np.testing.assert_allclose(exp.values[:, :, 0], -exp.values[:, :, 1])


def test_pipeline_with_string_columns_one_value_per_raw_column():
    X, y = german()
    Xs = X.astype({c: str for c in X.select_dtypes("category").columns})
    before = Xs.copy()
    cats = list(X.select_dtypes("category").columns)
    pipe = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), cats)],
                          remainder="passthrough"),
        LogisticRegression(max_iter=2000)).fit(Xs, y)
    exp = explain(pipe, Xs.iloc[:15], Xs.iloc[100:160], progress=False, random_state=0)
    assert exp.values.shape == (15, 20, 2)
    assert exp.feature_names == list(X.columns)
    assert exp.display_data[0, 0] == "< 0 DM"
    np.testing.assert_allclose(exp.values.sum(1) + exp.base_values,
                               pipe.predict_proba(Xs.iloc[:15]), atol=1e-12)
    pd.testing.assert_frame_equal(Xs, before)
    # categorical dtype frames work the same way
    pipe_cat = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), cats)],
                          remainder="passthrough"),
        LogisticRegression(max_iter=2000)).fit(X, y)
    exp2 = explain(pipe_cat, X.iloc[:5], X.iloc[100:130], progress=False, random_state=0)
    np.testing.assert_allclose(exp2.values.sum(1) + exp2.base_values,
                               pipe_cat.predict_proba(X.iloc[:5]), atol=1e-12)


def test_contribution_matrix_binary_and_multiclass():
    vals = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    out = contribution_matrix(vals, [1, 0])
    np.testing.assert_array_equal(out, [vals[0, :, 1], vals[1, :, 0]])
    three = np.random.default_rng(0).normal(size=(4, 3, 3))
    out3 = contribution_matrix(three, np.array([2, 0, 1, 2]))
    for i, k in enumerate([2, 0, 1, 2]):
        np.testing.assert_array_equal(out3[i], three[i, :, k])
    two_d = np.array([[0.2, -0.1], [0.3, 0.4]])
    np.testing.assert_array_equal(contribution_matrix(two_d, [1, 0]), [[0.2, -0.1], [-0.3, -0.4]])
    np.testing.assert_array_equal(
        contribution_matrix(two_d, [1, 0], single_output="predicted"), two_d)
    captum = (torch.ones(2, 2), torch.zeros(2, 1, 2))
    assert contribution_matrix(captum, [0, 1], single_output="predicted").shape == (2, 4)


def test_contribution_matrix_on_real_multiclass_explanation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0] + 0.3 * X[:, 1], [-0.5, 0.5])
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    exp = explain(lr, X[:20], X[:100], method="sampling", progress=False, random_state=0)
    assert exp.values.shape == (20, 4, 3)
    pred = lr.predict_proba(X[:20]).argmax(1)
    cm = contribution_matrix(exp, pred)
    np.testing.assert_allclose(cm.sum(1), lr.predict_proba(X[:20])[np.arange(20), pred]
                               - lr.predict_proba(X[:100]).mean(0)[pred], atol=1e-12)


def test_bad_input_is_rejected_before_work():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    lr = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        explain(lr, bad, progress=False)
    with pytest.raises(ValueError, match="output"):
        explain(lr, X, output="margin", progress=False)
    with pytest.raises(ValueError, match="probability"):
        explain(lr, X, method="sampling", output="log_odds", control_variate=True,
                progress=False)
    with pytest.raises(ValueError, match="n_permutations >= 2"):
        explain(lr, X, method="sampling", n_permutations=1, control_variate=True,
                progress=False)
    with pytest.raises(TypeError, match="control_variate"):
        explain(lr, X, method="sampling", control_variate="yes", progress=False)
    y3 = np.digitize(X[:, 0], [-0.5, 0.5])
    lr3 = LogisticRegression().fit(X, y3)
    with pytest.raises(ValueError, match="binary"):
        explain(lr3, X, method="sampling", output="log_odds", progress=False)
    with pytest.raises(ValueError, match="columns"):
        explain(lr, X, X[:, :2], progress=False)
    with pytest.raises(TypeError, match="predict_proba"):
        explain(object(), X, progress=False)
    with pytest.raises(ValueError, match="method"):
        explain(lr, X, method="kernel", progress=False)
    with pytest.raises(ValueError, match="predicted"):
        contribution_matrix(np.zeros((3, 2, 2)), [0, 1])
    with pytest.raises(ValueError, match="explanation"):
        check_explanation(np.zeros((20, 2)), X)
    with pytest.raises(ValueError, match="2-D"):
        explain(lr, X[0], progress=False)
    from shap_debug.core import check_X_y
    with pytest.raises(ValueError, match="y has 19"):
        check_X_y(X, np.zeros(19))
