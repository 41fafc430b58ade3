"""NeighborhoodModel as a scikit-learn estimator (issue 26 conventions, issue 24 vocabulary).

``check_estimator`` runs on a model that wraps an unfitted LogisticRegression (cloned and
fitted on each check's data), in the feature and the contribution space; the checks it
cannot pass are listed, each with its reason, in ``EXPECTED_FAILED_CHECKS`` (scikit-learn
>= 1.6 runs them as expected failures).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from shap_debug.neighborhood import NeighborhoodModel

SKLEARN_1_6 = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 6)

#: ``{check name: why NeighborhoodModel cannot pass it}``
EXPECTED_FAILED_CHECKS = {
    "check_dtype_object": "an object-dtype array is refused with our own message asking for a "
                          "DataFrame with category columns (the readable route for mixed "
                          "data), not scikit-learn's 'argument must be a string or a number'",
}


if SKLEARN_1_6:   # expected_failed_checks and the estimator tags came with scikit-learn 1.6

    @parametrize_with_checks(
        [NeighborhoodModel(3, space="features", model=LogisticRegression(), random_state=0),
         NeighborhoodModel(3, space="contributions", model=LogisticRegression(),
                           random_state=0)],
        expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
    def test_sklearn_compatible(estimator, check):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # "no anomalies" on easy check data
            check(estimator)


@pytest.fixture(scope="module")
def frame_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120),
                      "c": pd.Categorical(rng.choice(["x", "y"], 120))})
    y = (X["a"] + 0.5 * rng.normal(size=120) > 0).astype(int).to_numpy()
    Z = X.assign(c=X["c"].cat.codes)
    return X, Z, y


def test_fitted_attributes_follow_the_estimator_conventions(frame_data):
    _, Z, y = frame_data
    lr = LogisticRegression().fit(Z, y)
    nbm = NeighborhoodModel(10, model=lr, random_state=0).fit(Z, y, progress=False)
    assert nbm.model_ is lr                      # a fitted model is used as it is
    assert nbm.n_features_in_ == 3
    assert nbm.feature_names_in_.tolist() == ["a", "b", "c"]
    plain = NeighborhoodModel(10, model=lr).fit(Z.to_numpy(), y, progress=False)
    assert plain.n_features_in_ == 3 and not hasattr(plain, "feature_names_in_")
    # an unfitted model is cloned and fitted on (X, y); the parameter stays unfitted
    unfitted = LogisticRegression()
    own = NeighborhoodModel(10, model=unfitted, random_state=0).fit(Z, y, progress=False)
    assert own.model_ is not unfitted and not hasattr(unfitted, "coef_")
    np.testing.assert_allclose(own.model_.coef_, lr.coef_)
    assert clone(own).get_params()["random_state"] == 0


def test_random_state_in_the_constructor_makes_fits_reproducible(frame_data):
    X, Z, y = frame_data
    from sklearn.neighbors import KNeighborsClassifier  # explained by the sampling estimator

    knn = KNeighborsClassifier(7).fit(Z, y)
    a = NeighborhoodModel(10, model=knn, random_state=4).fit(Z, y, progress=False)
    b = NeighborhoodModel(10, model=knn, random_state=4).fit(Z, y, progress=False)
    c = NeighborhoodModel(10, model=knn, random_state=5).fit(Z, y, progress=False)
    np.testing.assert_array_equal(a.contributions_, b.contributions_)
    assert not np.array_equal(a.contributions_, c.contributions_)
    rng = np.random.default_rng(4)
    d = NeighborhoodModel(10, model=knn, random_state=rng).fit(Z, y, progress=False)
    assert d.contributions_.shape == a.contributions_.shape


def test_the_former_fit_call_still_works_with_a_future_warning(frame_data):
    _, Z, y = frame_data
    lr = LogisticRegression().fit(Z, y)
    new = NeighborhoodModel(10, model=lr, random_state=0).fit(Z, y, progress=False)
    with pytest.warns(FutureWarning, match="give the model to the constructor"):
        old = NeighborhoodModel(10).fit(lr, Z, y, progress=False)
    with pytest.warns(FutureWarning, match="random_state"):
        seeded = NeighborhoodModel(10).fit(lr, Z, y, new.explanation_, random_state=0,
                                           progress=False)
    np.testing.assert_array_equal(old.kneighbors([0, 1])[1], new.kneighbors([0, 1])[1])
    np.testing.assert_array_equal(seeded.contributions_, new.contributions_)
    with pytest.raises(TypeError, match="needs a model"):
        NeighborhoodModel(10).fit(Z, y)
    with pytest.raises(ValueError, match="requires y"):
        NeighborhoodModel(10, model=lr).fit(Z)
