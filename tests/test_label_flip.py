"""label_flip_check: the influence check of Table II."""

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from shap_debug import ShapDebugWarning
from shap_debug.blame import label_flip_check, label_flip_html, label_flip_summary
from shap_debug.contributions import explain
from shap_debug.datasets import encode, german


@pytest.fixture(scope="module")
def german_lr():
    X, y = german()
    Z, _ = encode(X.iloc[:500], kind="ordinal")
    y = y[:500]
    Z = (Z - Z.mean(0)) / Z.std(0)  # so that the default lbfgs converges quickly
    lr = LogisticRegression(random_state=42).fit(Z, y)
    exp = explain(lr, Z, random_state=0, progress=False)
    return Z, y, lr, exp


def test_flipping_the_mislabelled_pocket_fixes_the_prediction(pocket):
    X, y, pocket_rows, true_rows, knn = pocket
    X0, y0 = X.copy(), y.copy()
    k = len(pocket_rows) - 1  # every other row of the pocket
    trials = label_flip_check(knn, true_rows, X=X, y=y, spaces=["contributions", "probabilities"],
                              n_neighbors=k, progress=False, random_state=42).to_frame()
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    c = trials[trials.space == "contributions"]
    assert len(c) == len(true_rows) and (c.n_flipped == k).all()
    # the pocket's labels were the cause: flipping them makes the model predict the true label
    assert c.flipped.all()
    assert (c.prediction_after == c.label).all() and (c.prediction_before == 1).all()
    # graded view: the probability of the original prediction falls below 1/2
    np.testing.assert_allclose(c.proba_before, knn.predict_proba(X[c.anomaly])[:, 1])
    assert (c.proba_before > 0.5).all() and (c.proba_after < 0.5).all()
    summ = label_flip_summary(trials)
    rate = dict(zip(summ.space, summ.rate))
    assert rate["contributions"] == 1.0
    drop = dict(zip(summ.space, summ.mean_drop))
    assert drop["contributions"] == pytest.approx((c.proba_before - c.proba_after).mean())
    assert drop["contributions"] > 0.3
    assert summ.n.tolist() == [len(true_rows)] * 2


def test_include_anomaly_reproduces_reference():
    # 3-NN: row 0 (label 0) sits with rows 1, 2 (label 1) and is predicted 1, an anomaly
    X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [5.3]])
    y = np.array([0, 1, 1, 0, 0, 0, 1])
    knn = KNeighborsClassifier(n_neighbors=3).fit(X, y)
    kw = dict(spaces=["features"], n_neighbors=1, progress=False, random_state=42)
    # default: the nearest *other* row (1) is flipped to 0 -> two 0s out of three -> predicts 0
    off = label_flip_check(knn, [0], X=X, y=y, **kw).to_frame()
    assert off.flipped.iloc[0] and off.prediction_after.iloc[0] == 0
    # reference behaviour: the anomaly is its own nearest neighbour, its own label becomes 1
    # (agreeing with its prediction) and nothing changes
    on = label_flip_check(knn, [0], X=X, y=y, include_anomaly=True, **kw).to_frame()
    assert not on.flipped.iloc[0] and on.prediction_after.iloc[0] == 1
    assert on.attrs["include_anomaly"] and not off.attrs["include_anomaly"]
    # all anomalies by default
    every = label_flip_check(knn, None, X=X, y=y, **kw).to_frame()
    assert sorted(every.anomaly) == sorted(np.flatnonzero(knn.predict(X) != y))


def test_flip_fraction_and_reference_refit(pocket):
    X, y, pocket_rows, true_rows, knn = pocket
    k = len(pocket_rows) - 1
    half = label_flip_check(knn, true_rows[:2], X=X, y=y, spaces=["contributions"],
                            n_neighbors=k, flip_fraction=0.5, reference="refit",
                            progress=False, random_state=42).to_frame()
    assert (half.n_flipped == round(0.5 * k)).all()
    assert (half.prediction_before == 1).all()
    again = label_flip_check(knn, true_rows[:2], X=X, y=y, spaces=["contributions"],
                             n_neighbors=k, flip_fraction=0.5, reference="refit",
                             progress=False, random_state=42).to_frame()
    np.testing.assert_array_equal(half.flipped, again.flipped)  # reproducible


def test_german_paper_ordering_and_several_models(german_lr):
    Z, y, lr, exp = german_lr
    lr2 = LogisticRegression(C=0.1, random_state=42).fit(Z, y)
    models = {"lr": lr, "lr_c01": lr2}
    trials = label_flip_check(models, 12, X=Z, y=y, n_neighbors=100, contributions={"lr": exp},
                              progress=False, random_state=42).to_frame()
    assert set(trials.model) == {"lr", "lr_c01"}
    assert len(trials) == 2 * 12 * 3
    assert (trials.time_s > 0).all()
    for name, m in models.items():
        sub = trials[trials.model == name]
        anomalies = np.flatnonzero(m.predict(Z) != y)
        assert np.isin(sub.anomaly, anomalies).all()
        assert (sub.prediction_before == m.predict(Z)[sub.anomaly]).all()
    wide = label_flip_summary(trials, wide=True)
    assert list(wide.columns) == ["contributions", "features", "probabilities"]
    # the paper's finding on German credit: N^c beats N^p
    assert (wide["contributions"] >= wide["probabilities"]).all()
    assert wide.loc["lr", "contributions"] > wide.loc["lr", "probabilities"]
    html_text = label_flip_html(trials)
    assert "<table>" in html_text and "lr_c01" in html_text


def test_runs_on_a_dask_cluster(german_lr):
    distributed = pytest.importorskip("dask.distributed")
    Z, y, lr, exp = german_lr
    serial = label_flip_check(lr, 3, X=Z, y=y, spaces=["contributions", "features"],
                              n_neighbors=50, contributions=exp, progress=False,
                              random_state=42).to_frame()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        remote = label_flip_check(lr, 3, X=Z, y=y, spaces=["contributions", "features"],
                                  n_neighbors=50, contributions=exp, n_jobs=-1, progress=False,
                                  random_state=42).to_frame()
    cols = ["model", "anomaly", "space", "n_flipped", "prediction_after", "flipped"]
    assert serial[cols].equals(remote[cols])


def test_unseeded_model_warns(german_lr):
    Z, y, lr, exp = german_lr
    unseeded = LogisticRegression().fit(Z, y)  # lbfgs ignores the seed, but it is None
    with pytest.warns(ShapDebugWarning, match="random_state=None"):
        label_flip_check(unseeded, 1, X=Z, y=y, spaces=["probabilities"], n_neighbors=10,
                         progress=False)


def test_bad_input(german_lr):
    Z, y, lr, exp = german_lr
    n = len(Z)
    with pytest.raises(ValueError, match="n_neighbors"):
        label_flip_check(lr, 2, X=Z, y=y, n_neighbors=n, contributions=exp, progress=False)
    with pytest.raises(ValueError, match="n_neighbors"):
        label_flip_check(lr, 2, X=Z, y=y, n_neighbors=0, contributions=exp, progress=False)
    with pytest.raises(ValueError, match="contributions"):
        label_flip_check(lr, 2, X=Z, y=y, contributions=exp.values[:-3], progress=False)
    with pytest.raises(ValueError, match="spaces"):
        label_flip_check(lr, 2, X=Z, y=y, spaces=["shap"], contributions=exp, progress=False)
    with pytest.raises(ValueError, match="anomalies out of range"):
        label_flip_check(lr, [n + 5], X=Z, y=y, contributions=exp, progress=False)
    with pytest.raises(ValueError, match="flip_fraction"):
        label_flip_check(lr, 2, X=Z, y=y, flip_fraction=0.0, contributions=exp, progress=False)
    with pytest.raises(ValueError, match="reference"):
        label_flip_check(lr, 2, X=Z, y=y, reference="x", contributions=exp, progress=False)
    with pytest.raises(ValueError, match="binary"):
        label_flip_check(lr, 2, X=Z, y=np.arange(n) % 3, contributions=exp, progress=False)

    class NotCloneable:  # predict_proba but no get_params
        classes_ = np.array([0, 1])

        def predict_proba(self, X):
            return lr.predict_proba(X)

    with pytest.raises(TypeError, match="model must be cloneable"):
        label_flip_check(NotCloneable(), 2, X=Z, y=y, contributions=exp, progress=False)
    with pytest.raises(TypeError, match="trials"):
        label_flip_summary(np.zeros(3))


def test_accepts_a_fitted_neighborhood_model(german_lr):
    # issue 16.10: label_flip_check(nbm, a) is the natural call after fitting one
    from shap_debug.neighborhood import NeighborhoodModel

    Z, y, lr, exp = german_lr
    nbm = NeighborhoodModel(n_neighbors=30).fit(lr, Z, y, exp)
    a = nbm.anomalies_[:3]
    spaces = ["contributions", "features"]
    new = label_flip_check(nbm, a, spaces=spaces, progress=False, random_state=42).to_frame()
    old = label_flip_check(lr, a, X=Z, y=y, spaces=spaces, n_neighbors=30, contributions=exp,
                           progress=False, random_state=42).to_frame()
    assert (new.n_neighbors == 30).all()
    cols = ["anomaly", "space", "n_flipped", "flipped", "prediction_after", "proba_after"]
    assert new[cols].equals(old[cols])
    assert label_flip_check(nbm, anomalies=a[:1], spaces=["features"], n_neighbors=5,
                            progress=False, random_state=42).n_trials == 1
    with pytest.raises(TypeError, match="not fitted"):
        label_flip_check(NeighborhoodModel(5), a, progress=False)
    with pytest.raises(TypeError, match="without X and y"):
        label_flip_check(nbm, Z, y, a, progress=False)
    with pytest.raises(TypeError, match="needs X and y"):
        label_flip_check(lr, Z, progress=False)


def test_the_result_is_a_frozen_value_and_the_former_call_still_works(german_lr):
    import dataclasses

    import pandas as pd

    from shap_debug.blame import LabelFlipCheck

    Z, y, lr, exp = german_lr
    kw = dict(spaces=["features"], n_neighbors=20, contributions=exp, progress=False,
              random_state=3)
    check = label_flip_check(lr, 4, X=Z, y=y, **kw)
    assert isinstance(check, LabelFlipCheck) and check.n_trials == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.n_neighbors = 5
    frame = check.to_frame()
    frame.loc[:, "flipped"] = ~frame["flipped"]         # a copy: the value is unchanged
    assert not check.to_frame()["flipped"].equals(frame["flipped"])
    assert frame.attrs["n_neighbors"] == 20 and frame.attrs["spaces"] == ["features"]
    assert check.rates().equals(label_flip_summary(check.to_frame()))
    assert "LabelFlipCheck(n_trials=4" in repr(check)
    assert "<table>" in check._repr_html_()
    assert check.to_dict()["n_neighbors"] == 20 and len(check.to_dict()["trials"]) == 4
    with pytest.warns(FutureWarning, match="deprecated"):
        old = label_flip_check(lr, Z, y, 4, **kw)
    assert isinstance(old, pd.DataFrame)
    same = old.drop(columns="time_s").equals(check.to_frame().drop(columns="time_s"))
    assert same and old.attrs == check.to_frame().attrs


def test_every_call_form_reads_the_same_trials(german_lr):
    import pandas as pd

    from shap_debug.neighborhood import NeighborhoodModel

    Z, y, lr, exp = german_lr
    kw = dict(spaces=["features"], n_neighbors=15, contributions=exp, progress=False,
              random_state=2)
    rows = [3, 7]
    cols = ["anomaly", "space", "n_flipped", "flipped", "proba_after"]
    new = label_flip_check(lr, rows, X=Z, y=y, **kw).to_frame()
    assert label_flip_check(lr, anomalies=rows, X=Z, y=y, **kw).to_frame()[cols].equals(
        new[cols])
    with pytest.warns(FutureWarning):
        legacy = [label_flip_check(lr, Z, y, rows, **kw),
                  label_flip_check(lr, Z, y, anomalies=rows, **kw),
                  label_flip_check(lr, Z, y=y, anomalies=rows, **kw)]
    for old in legacy:
        assert isinstance(old, pd.DataFrame) and old[cols].equals(new[cols])
    nbm = NeighborhoodModel(15, space="features", model=lr).fit(Z, y, progress=False)
    a = nbm.anomalies_[:2]
    by_nbm = label_flip_check(nbm, a, spaces=["features"], progress=False, random_state=42).to_frame()
    assert by_nbm[cols].equals(
        label_flip_check(nbm, anomalies=a, spaces=["features"], progress=False, random_state=42).to_frame()[cols])
    with pytest.raises(TypeError, match="twice"):
        label_flip_check(lr, rows, anomalies=rows, X=Z, y=y, **kw)


def test_warm_started_trials_give_the_full_refits_verdicts():
    """Logistic regression on German credit (convex: one optimum): trials warm-started from
    the fitted model flip exactly the predictions full refits flip, the user's model is
    left as it was; a model that cannot be warm-started is refitted from scratch, said."""
    from sklearn.ensemble import GradientBoostingClassifier

    from shap_debug.datasets import encode, german

    X, y = german()
    Z, _ = encode(X.iloc[:400])
    Z, y = np.asarray(Z, dtype=np.float64), y[:400]
    lr = LogisticRegression(max_iter=5000, random_state=0).fit(Z, y)
    coef = lr.coef_.copy()
    kw = dict(X=Z, y=y, n_neighbors=60, spaces=["features", "probabilities"],
              random_state=0, progress=False)
    full = label_flip_check(lr, 6, **kw).to_frame()
    warm = label_flip_check(lr, 6, warm_start=True, **kw).to_frame()
    np.testing.assert_array_equal(full["flipped"], warm["flipped"])
    np.testing.assert_allclose(full["proba_after"], warm["proba_after"], atol=0.02)
    np.testing.assert_array_equal(lr.coef_, coef)
    assert not lr.warm_start
    gb = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(Z, y)
    with pytest.warns(ShapDebugWarning, match="not warm-started"):
        label_flip_check(gb, 2, warm_start=True, **kw)
    with pytest.raises(TypeError, match="warm_start must be a bool"):
        label_flip_check(lr, 2, warm_start="yes", **kw)
