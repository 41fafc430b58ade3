import numpy as np
import pandas as pd
import pytest

from shap_debug import ShapDebugWarning
from shap_debug.audit import error_cohorts


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
    res = error_cohorts(None, X, y, max_depth=3, y_pred=pred, random_state=0)
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
                        display_data=X[["age", "hours"]], random_state=0)
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
    h = error_cohorts(None, zeros, y, y_pred=pred, random_state=0).heatmap("gain", "job")
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


# --------------------------------------------------------------------------- ambiguity & systematic
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402

from shap_debug.audit import (  # noqa: E402
    ambiguity_report,
    suspicious_rows,  # noqa: E402
    systematic_errors,
)


def _base(n, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    D = pd.DataFrame({"x1": x1, "x2": x2,
                      "g": pd.Categorical(rng.choice(list("abcd"), n)),
                      "h": pd.Categorical(rng.choice(list("uvw"), n))})
    y = (x1 + 0.5 * x2 > 0).astype(int)
    return rng, D, y


def _enc(D):
    return np.column_stack([D.x1, D.x2, D.g.cat.codes, D.h.cat.codes]).astype(float)


def _gb(depth=2, n=40):
    return GradientBoostingClassifier(n_estimators=n, max_depth=depth, learning_rate=0.2,
                                      random_state=0)


def test_mislabelled_cluster_is_fixable_and_flagged():
    rng, D, y = _base(1000, 1)
    region = (D.g == "d").to_numpy() & (D.x1 > 0.5).to_numpy()
    flipped = region & (rng.random(len(y)) < 0.25)  # a noisy batch from one source
    y[flipped] = 1 - y[flipped]
    Z = _enc(D)
    m = _gb().fit(Z, y)
    coh = error_cohorts(m, Z, y, display_data=D, max_depth=2, random_state=0)
    rep = ambiguity_report(m, Z, y, coh, display_data=D, cv=3, random_state=0)
    top = rep.cohorts[0]
    assert "g = d" in top.cohort.rule and "x1 >" in top.cohort.rule
    assert top.verdict == "fixable"
    # its flagged rows are the flipped ones
    assert np.isin(top.suspicious_rows, np.flatnonzero(flipped)).mean() >= 0.8
    recheck = rep.rows_to_recheck()
    assert np.isin(recheck, np.flatnonzero(flipped)).mean() >= 0.8
    # the clean rest is not called fixable
    assert all(d.verdict != "fixable" for d in rep.cohorts if "g != d" in d.cohort.rule)
    assert list(rep.to_frame().columns[:6]) == ["cohort", "rule", "size", "error_rate",
                                                "error_share", "verdict"]
    assert "fixable" in rep._repr_html_()
    assert rep.plot(show=False) is not None


def test_ambiguous_region_is_not_blamed_on_rows():
    rng, D, y = _base(1000, 1)
    region = (D.x2 > 1.0).to_numpy()
    y[region] = rng.integers(0, 2, region.sum())  # the label is a coin flip there
    Z = _enc(D)
    m = _gb().fit(Z, y)
    coh = error_cohorts(m, Z, y, display_data=D, max_depth=2, random_state=0)
    rep = ambiguity_report(m, Z, y, coh, display_data=D, cv=3, random_state=0)
    top = rep.cohorts[0]
    assert "x2 >" in top.cohort.rule and top.cohort.error_share > 0.5
    assert top.verdict == "ambiguous"
    assert top.fixable_share < 0.15
    assert rep.ambiguous_error_share > 0.8
    kinds = rep.row_kind[region & (rep.row_kind != "")]
    assert np.mean(kinds == "fixable") < 0.1


def _relabelled(n=1000, seed=0):
    rng, D, y = _base(n, seed)
    sub = (D.g == "c").to_numpy() & (D.h == "u").to_numpy()
    relab = sub & (y == 1)
    y[relab] = 0  # one labeller never says "1" for this sub-population
    return D, y, sub, relab


def test_systematic_relabelling_found_although_loss_rankings_miss_it():
    D, y, sub, relab = _relabelled()
    Z = _enc(D)
    y0 = y.copy()
    m = _gb(depth=3, n=60).fit(Z, y)  # flexible enough to learn the relabelled pocket
    k = int(relab.sum())
    # loss-based rankings miss the relabelled rows: the model learned them
    loss = -np.log(m.predict_proba(Z)[np.arange(len(y)), y])
    assert np.isin(np.argsort(-loss)[:k], np.flatnonzero(relab)).mean() < 0.2
    cv_rank = suspicious_rows(m, Z, y, cv=3, random_state=0).top(k)
    assert np.isin(cv_rank, np.flatnonzero(relab)).mean() < 0.2
    res = systematic_errors(m, Z, y, display_data=D, max_regions=4, random_state=0)
    np.testing.assert_array_equal(y, y0)
    assert len(res.fixable) == 1
    r = res.fixable[0]
    assert r.name == "g = c and h = u" and r.source == "auto"
    assert r.label == 1 and r.shift < -0.25 and r.z < -6
    recheck = res.rows_to_recheck()
    assert np.isin(np.flatnonzero(relab), recheck).mean() >= 0.8
    assert np.isin(recheck, np.flatnonzero(relab)).mean() >= 0.6
    assert res.to_frame().iloc[0]["fixable"]
    assert "fixable" in res._repr_html_() and "g = c and h = u" in res.message


def test_systematic_given_regions_and_clean_data():
    D, y, sub, relab = _relabelled(seed=2)
    Z = _enc(D)
    m = _gb(depth=3, n=60).fit(Z, y)
    other = (D.g == "a").to_numpy() & (D.h == "v").to_numpy()
    res = systematic_errors(m, Z, y, {"source A": sub, "source B": np.flatnonzero(other)}, random_state=0)
    by = {r.name: r for r in res.regions}
    assert by["source A"].fixable and not by["source B"].fixable
    assert by["source A"].source == "given"
    # clean labels: nothing is called fixable
    _, Dc, yc = _base(1000, 3)
    Zc = _enc(Dc)
    clean = systematic_errors(_gb().fit(Zc, yc), Zc, yc, display_data=Dc, max_regions=3, random_state=0)
    assert clean.fixable == () and "no systematic" in clean.message
    assert len(clean.rows_to_recheck()) == 0


def test_ambiguity_and_systematic_bad_input():
    _, D, y = _base(200, 0)
    Z = _enc(D)
    m = _gb().fit(Z, y)
    with pytest.raises(TypeError, match="band"):
        ambiguity_report(m, Z, y, band=0.5)
    with pytest.raises(TypeError, match="cohorts"):
        ambiguity_report(m, Z, y, cohorts="leaves")
    with pytest.raises(ValueError, match="2 classes"):
        systematic_errors(m, Z, np.zeros(200, dtype=int))
    with pytest.raises(ValueError, match="out of range"):
        systematic_errors(m, Z, y, {"r": [0, 5000]})
    # a perfect model: no errors, nothing to diagnose
    perfect = _Fixed(y)
    with pytest.warns(ShapDebugWarning):
        rep = ambiguity_report(perfect, Z, y)
    assert rep.cohorts == () and "no errors" in rep.message


def test_ambiguity_rejects_mismatched_evidence():
    _, D, y = _base(300, 0)
    Z = _enc(D)
    m = _gb().fit(Z, y)
    other = suspicious_rows(_gb(), Z[:200], y[:200], cv=3, random_state=0)
    with pytest.raises(ValueError, match="same 300 rows"):
        ambiguity_report(m, Z, y, suspicious=other)
    with pytest.raises(ValueError, match="which"):
        error_cohorts(m, Z, y).to_frame("nodes")


def test_plots_draw_on_the_given_axes():
    import matplotlib.pyplot as plt

    from shap_debug.plots import cohort_plot, error_heatmap

    X, y, pred, _ = _frame(400, seed=4)
    res = error_cohorts(None, X, y, y_pred=pred, max_depth=2, random_state=0)
    fig, (a1, a2) = plt.subplots(1, 2)
    n_figs = len(plt.get_fignums())
    assert cohort_plot(res, max_display=3, ax=a1, show=False) is a1
    assert error_heatmap(res.heatmap("job", "hours"), ax=a2, show=False) is a2
    assert len(plt.get_fignums()) == n_figs
    assert len(a1.get_yticklabels()) == 3


# --------------------------------------------------------------------------- support & significance
def _small_test_set():
    """Issue 16 item 5: 143 test rows, 6 errors: 1 in a 2-row cohort, 4 in a 54-row one."""
    group = np.array(["rare"] * 2 + ["young"] * 54 + ["other"] * 87)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"group": pd.Categorical(group)})
    y = rng.integers(0, 2, len(group))
    pred = y.copy()
    wrong = np.r_[0, 2, 10, 20, 30, 100]  # rare: 1, young: 4, other: 1
    pred[wrong] = 1 - pred[wrong]
    return X, y, pred


def test_tiny_cohorts_do_not_rank_first():
    X, y, pred = _small_test_set()
    res = error_cohorts(None, X, y, y_pred=pred, random_state=0)
    assert res.n_rows == 143 and res.n_errors == 6 and res.min_support == 20
    by_rule = {c.rule: c for c in res.leaves}
    tiny, young = by_rule["group = rare"], by_rule["group = young"]
    assert (tiny.size, tiny.n_errors, young.size, young.n_errors) == (2, 1, 54, 4)
    # the tree still has the 2-row leaf, but it is below the minimum support: never a slice
    assert res.slices[0].rule == "group = young"
    assert all(c.size >= 20 for c in res.slices)
    # shrunk rates: the 2-row cohort's 50 % rests on one error
    assert tiny.rate_lower < tiny.error_rate and young.rate_lower < young.error_rate
    assert young.score > tiny.score
    # 4 of 6 errors in 54 of 143 rows is what chance gives often: not significant
    assert not tiny.significant and np.isnan(tiny.p_adjusted)
    assert not young.significant and young.p_value > 0.1
    assert young.p_adjusted >= young.p_value
    assert "not significantly" in res.message
    assert "not significant" in res._repr_html_()
    assert {"rate_lower", "p_value", "p_adjusted", "significant"} <= set(res.to_frame().columns)
    # an explicit smaller support lets the 2-row cohort in, but the shrunk rate ranks it low
    loose = error_cohorts(None, X, y, y_pred=pred, min_support=2, random_state=0)
    rules = [c.rule for c in loose.slices]
    assert rules.index("group = young") < rules.index("group = rare")


def test_significant_cohort_and_support_options():
    X, y, pred, region = _frame()
    res = error_cohorts(None, X, y, y_pred=pred, random_state=0)
    top = res.slices[0]
    assert top.significant and top.p_adjusted < 1e-6
    # significant slices come first
    flags = [c.significant for c in res.slices]
    assert flags == sorted(flags, reverse=True)
    assert error_cohorts(None, X, y, y_pred=pred, min_support=0.1, random_state=0).min_support == 200
    assert error_cohorts(None, X, y, y_pred=pred, min_support=50, random_state=0).min_support == 50
    with pytest.raises(ValueError, match="min_support"):
        error_cohorts(None, X, y, y_pred=pred, min_support=0)
    with pytest.raises(ValueError, match="significance"):
        error_cohorts(None, X, y, y_pred=pred, significance=0.0)
    # no cohort of enough rows fails more often: the fallback is all rows, said plainly
    few = error_cohorts(None, X.iloc[:30], y[:30], y_pred=pred[:30], random_state=0)
    assert few.slices[0].rule == "all rows" and not few.slices[0].significant
    assert "no cohort of at least 20 rows" in few.message
