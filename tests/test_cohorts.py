import numpy as np
import pandas as pd
import pytest

from shap_debug import ShapDebugWarning
from shap_debug.cohorts import error_cohorts


class _Fixed:
    """A 'model' that predicts given labels (known errors)."""

    def __init__(self, pred):
        self.pred = np.asarray(pred)
        self.classes_ = np.array([0, 1])

    def predict_proba(self, X):
        p = self.pred[: len(X)].astype(float)
        return np.column_stack([1 - p, p])


def _frame(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "job": pd.Categorical(rng.choice(["a", "b", "c", "d", "e"], n)),
        "hours": rng.normal(40, 5, n).round(),
    })
    y = rng.integers(0, 2, n)
    pred = y.copy()
    # the model fails on job in {b, d} with age > 50 (70 % errors), 2 % elsewhere
    region = X["job"].isin(["b", "d"]).to_numpy() & (X["age"] > 50).to_numpy()
    wrong = np.where(region, rng.random(n) < 0.7, rng.random(n) < 0.02)
    pred[wrong] = 1 - pred[wrong]
    return X, y, pred, region


def test_finds_injected_cohort_with_level_set():
    X, y, pred, region = _frame()
    X0 = X.copy()
    res = error_cohorts(None, X, y, max_depth=3, y_pred=pred)
    top = res.slices[0]
    assert "job in {b, d}" in top.rule and "age > " in top.rule
    m = top.mask(len(y))
    assert (m & region).sum() / (m | region).sum() > 0.7
    assert top.error_rate > 0.6 and top.error_share > 0.6
    # leaves partition the rows and account for every error
    assert sum(c.size for c in res.leaves) == len(y)
    assert sum(c.n_errors for c in res.leaves) == res.n_errors == int((pred != y).sum())
    pd.testing.assert_frame_equal(X, X0)
    # slices are de-duplicated
    masks = [c.mask(len(y)) for c in res.slices]
    for i in range(len(masks)):
        for j in range(i):
            inter = (masks[i] & masks[j]).sum()
            assert inter / (masks[i] | masks[j]).sum() <= 0.5


def test_model_predictions_and_views():
    X, y, pred, _ = _frame(500, seed=1)
    res = error_cohorts(_Fixed(pred), X[["age", "hours"]].to_numpy(dtype=float), y, max_depth=2,
                        display_data=X[["age", "hours"]])
    assert res.n_errors == int((pred != y).sum())
    df = res.to_frame()
    assert list(df.columns)[:6] == ["cohort", "rule", "size", "n_errors", "error_rate",
                                    "error_share"]
    assert "<table>" in res._repr_html_()
    assert res.plot(show=False) is not None


def test_heatmap_and_tree_reproducible():
    X, y, pred, region = _frame(seed=2)
    a = error_cohorts(None, X, y, y_pred=pred, random_state=3)
    b = error_cohorts(None, X, y, y_pred=pred, random_state=3)
    assert [c.rule for c in a.leaves] == [c.rule for c in b.leaves]
    np.testing.assert_array_equal(a.leaf_of, b.leaf_of)
    h1, h2 = a.heatmap("job", "age", bins=4), b.heatmap("job", "age", bins=4)
    np.testing.assert_array_equal(h1.counts, h2.counts)
    np.testing.assert_allclose(h1.rates, h2.rates)
    assert h1.counts.sum() == len(y) and h1.errors.sum() == a.n_errors
    assert h1.rows == ("a", "b", "c", "d", "e") and len(h1.cols) == 4
    rates = dict(zip(h1.rows, np.nanmax(h1.rates, axis=1)))
    assert rates["b"] > 0.5 and rates["a"] < 0.1
    assert len(h1.to_frame()) == 5 * 4
    assert h1.plot(show=False) is not None
    # a mass at zero becomes its own bin
    zeros = X.assign(gain=np.where(np.arange(len(y)) % 10 == 0, np.arange(len(y)) * 1.0, 0.0))
    h = error_cohorts(None, zeros, y, y_pred=pred).heatmap("gain", "job")
    assert h.rows == ("<= 0", "> 0")


def test_bad_input_and_no_errors():
    X, y, pred, _ = _frame(200)
    with pytest.raises(ValueError, match="max_depth"):
        error_cohorts(None, X, y, max_depth=0, y_pred=pred)
    with pytest.raises(ValueError, match="2 classes"):
        error_cohorts(None, X, np.ones(200, dtype=int), y_pred=pred)
    with pytest.raises(TypeError, match="predict_proba"):
        error_cohorts(None, X, y)
    with pytest.raises(ValueError, match="unknown feature"):
        error_cohorts(None, X, y, y_pred=pred).heatmap("nope", "age")
    with pytest.warns(ShapDebugWarning, match="no errors"):
        res = error_cohorts(None, X, y, y_pred=y)
    assert res.n_errors == 0 and res.leaves == () and "no errors" in res.message
    assert "no errors" in res._repr_html_()
    assert res.plot(show=False) is not None
    assert res.to_frame().empty
