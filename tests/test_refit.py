"""The one refit helper (core/_refit): relabelling, prediction, and warnings shown once."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from shap_debug.blame import label_flip_check
from shap_debug.core import refit_predict, relabelled, show_warnings_once


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relabelled_swaps_only_the_rows_and_leaves_y_alone(seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array(["no", "yes"]), size=40)
    rows = rng.choice(40, size=int(rng.integers(1, 20)), replace=False)
    before = y.copy()
    got = relabelled(y, rows, np.array(["no", "yes"]))
    np.testing.assert_array_equal(y, before)
    other = np.ones(40, dtype=bool)
    other[rows] = False
    np.testing.assert_array_equal(got[other], y[other])
    assert (got[rows] != y[rows]).all()


def test_refit_predict_fits_a_clone_on_the_relabelled_rows():
    X = np.linspace(-2, 2, 60)[:, None]
    y = (X[:, 0] > 0).astype(int)
    template = LogisticRegression()
    plain = refit_predict(template, X, y, [0, 59])
    assert plain.labels.tolist() == [0, 1]
    flipped = refit_predict(template, X, y, [0, 59], relabel=np.arange(60))
    assert flipped.labels.tolist() == [1, 0]          # every label swapped: the model too
    assert not hasattr(template, "coef_")              # the template is never fitted
    assert plain.proba.shape == (2, 2) and plain.seconds >= 0


def _german_lr(max_iter: int):
    from shap_debug.datasets import encode, german

    X, y = german()
    Z, _ = encode(X.iloc[:300])
    return LogisticRegression(max_iter=max_iter, random_state=0), Z, y[:300]


def test_each_warning_of_the_user_model_shows_once_per_call():
    model, Z, y = _german_lr(max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Z, y)
    fits = [refit_predict(model, Z, y, [0]) for _ in range(3)]
    assert all(any(c is ConvergenceWarning for c, _ in f.warnings) for f in fits)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        show_warnings_once(w for f in fits for w in f.warnings)
    assert sum(issubclass(w.category, ConvergenceWarning) for w in caught) == 1
    # a label-flip check with several retraining trials: still one warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trials = label_flip_check(model, Z, y, 3, n_neighbors=20, spaces=["features"],
                                  progress=False, random_state=42)
    assert len(trials) == 3
    assert sum(issubclass(w.category, ConvergenceWarning) for w in caught) == 1


# ---------------------------------------------------------------------- shared refits (#29)
def test_refit_cache_keys_on_seed_rows_and_relabelled_labels():
    from shap_debug.core import RefitCache, refit_many

    model, Z, y = _german_lr(max_iter=3000)
    cache = RefitCache()
    rng = np.random.default_rng(3)
    rows = rng.choice(len(y), size=40, replace=False)
    a = cache.refit_predict(model, Z, y, [1, 2], relabel=rows, stage="a")
    # the same refit asked again, by another stage and in another order of the rows: a hit
    b = cache.refit_predict(model, Z.copy(), y.copy(), [1, 2], relabel=rows[::-1], stage="b")
    np.testing.assert_allclose(a.proba, b.proba)
    assert cache.counts() == {"a": 1, "b": 0} and cache.hits() == {"a": 0, "b": 1}
    # another seed, other rows relabelled, other training rows: three new fits
    other_seed = LogisticRegression(max_iter=3000, random_state=1)
    cache.refit_predict(other_seed, Z, y, [1], relabel=rows, stage="c")
    cache.refit_predict(model, Z, y, [1], relabel=rows[:-1], stage="c")
    cache.refit_predict(model, Z[1:], y[1:], [1], relabel=rows[rows < len(y) - 1],
                        stage="c")
    assert cache.counts()["c"] == 3 and cache.hits()["c"] == 0
    assert cache.n_fits == 4
    # refit_many: duplicates inside one batch fit once, even without a cache
    jobs = [(model, Z, y, [0], rows, None), (model, Z, y, [5], rows, None),
            (model, Z, y, [0], None, None)]
    own = RefitCache()
    fits = refit_many(jobs, cache=own, stage="s")
    assert own.summary()["s"]["fits"] == 2 and own.summary()["s"]["hits"] == 1
    np.testing.assert_allclose(fits[0].proba, refit_predict(model, Z, y, [0], relabel=rows).proba)
    plain = refit_many(jobs)
    np.testing.assert_allclose(plain[1].proba, fits[1].proba)


def test_label_flip_and_the_ladders_top_rung_fit_once():
    """On German credit: the ladder's top rung is the fixed-K check's refit; with one cache
    it is not fitted again, and both results are those of the runs without it."""
    from shap_debug.blame import dose_response
    from shap_debug.core import RefitCache
    from shap_debug.neighborhood import NeighborhoodModel

    model, Z, y = _german_lr(max_iter=3000)
    model.fit(Z, y)
    nbm = NeighborhoodModel(n_neighbors=60, model=model).fit(Z, y, progress=False)
    rows = nbm.anomalies_[:4]
    spaces = ["contributions", "features"]
    cache = RefitCache()
    lf = label_flip_check(nbm, rows, spaces=spaces, random_state=0, progress=False,
                          cache=cache)
    dr = dose_response(nbm, rows, spaces=spaces, search="ladder", random_state=0,
                       progress=False, cache=cache)
    lf0 = label_flip_check(nbm, rows, spaces=spaces, random_state=0, progress=False)
    dr0 = dose_response(nbm, rows, spaces=spaces, search="ladder", random_state=0,
                        progress=False)
    pd_testing = __import__("pandas").testing
    pd_testing.assert_frame_equal(lf.to_frame().drop(columns="time_s"),
                                  lf0.to_frame().drop(columns="time_s"))
    pd_testing.assert_frame_equal(dr.to_frame(), dr0.to_frame())
    searched = int((~dr.to_frame()["refit_changed"]).sum())
    s = cache.summary()
    assert s["label-flip"]["fits"] <= len(rows) * len(spaces)
    # every searched top rung and the dose-response floor's refit? the top rungs: hits
    assert s["dose-response"]["hits"] >= searched
    assert s["dose-response"]["fits"] == int(dr.to_frame()["retrains"].sum()) - s[
        "dose-response"]["hits"] + 1  # + the floor (unchanged labels)


@pytest.mark.parametrize("seed", [0, 1])
def test_cross_validated_probabilities_are_computed_once(seed):
    from shap_debug.audit import suspicious_rows
    from shap_debug.core import RefitCache

    model, Z, y = _german_lr(max_iter=3000)
    cache = RefitCache()
    first = suspicious_rows(model, Z, y, cv=3, random_state=seed, cache=cache)
    again = suspicious_rows(model, Z, y, cv=3, random_state=seed, cache=cache)
    plain = suspicious_rows(model, Z, y, cv=3, random_state=seed)
    np.testing.assert_allclose(again.proba, plain.proba)
    np.testing.assert_array_equal(first.ranking, plain.ranking)
    assert cache.summary()["suspicious"] == {"fits": 3, "hits": 3,
                                             "seconds": cache.summary()["suspicious"]["seconds"]}
    # another seed is another split: fitted again
    suspicious_rows(model, Z, y, cv=3, random_state=seed + 10, cache=cache)
    assert cache.counts()["suspicious"] == 6
    # a Generator in the state the int seed makes draws the same folds (a hit), and is
    # left where the refits would have left it
    g1, g2 = np.random.default_rng(seed), np.random.default_rng(seed)
    suspicious_rows(model, Z, y, cv=3, random_state=g1)
    suspicious_rows(model, Z, y, cv=3, random_state=g2, cache=cache)
    assert cache.hits()["suspicious"] == 6 and cache.counts()["suspicious"] == 6
    assert g1.integers(1 << 30) == g2.integers(1 << 30)


def test_the_bisection_takes_a_cached_top_rung_only_when_it_gets_there():
    from shap_debug.blame import dose_response
    from shap_debug.core import RefitCache
    from shap_debug.neighborhood import NeighborhoodModel

    model, Z, y = _german_lr(max_iter=3000)
    model.fit(Z, y)
    nbm = NeighborhoodModel(n_neighbors=40, model=model).fit(Z, y, progress=False)
    wrong = nbm.anomalies_
    rows = wrong[np.argsort(-nbm.proba_.max(1)[wrong], kind="stable")[:4]]  # hard to flip
    cache = RefitCache()
    label_flip_check(nbm, rows, spaces=["features"], random_state=0, progress=False,
                     cache=cache)
    got = dose_response(nbm, rows, spaces=["features"], random_state=0, progress=False,
                        cache=cache)
    plain = dose_response(nbm, rows, spaces=["features"], random_state=0, progress=False)
    __import__("pandas").testing.assert_frame_equal(got.to_frame(), plain.to_frame())
    tried_top = int((got.trials["k"] == got.k_max).sum())
    assert tried_top > 0                              # some searches reached the cap
    assert cache.hits()["dose-response"] == tried_top
    assert cache.counts()["dose-response"] == len(got.trials) - tried_top + 1  # + floor
