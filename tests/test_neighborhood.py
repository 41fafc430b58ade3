"""NeighborhoodModel, Occurrence, SpaceView and their plots."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import shap
import torch
from sklearn.linear_model import LogisticRegression

from shap_debug.contributions import explain
from shap_debug.datasets import encode, german
from shap_debug.neighborhood import (
    Neighborhood,
    NeighborhoodModel,
    Occurrence,
    SpaceView,
    space_view,
)
from shap_debug.plots import neighborhood_plot, occurrence_plot, space_view_plot


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def german_lr():
    X, y = german()
    X, y = X.iloc[:400], y[:400]
    Z, _ = encode(X, kind="ordinal")
    lr = LogisticRegression(max_iter=5000).fit(Z, y)
    exp = explain(lr, Z, random_state=0, progress=False)
    return X, Z, y, lr, exp


# --------------------------------------------------------------------------- synthetic
def test_pocket_anomalies_and_neighbourhood(pocket):
    X, y, pocket_rows, true_rows, knn = pocket
    nbm = NeighborhoodModel(n_neighbors=30, exclude_self=True).fit(knn, X, y, progress=False)
    # the correctly labelled rows inside the mislabelled pocket are the model's anomalies
    assert set(true_rows) <= set(nbm.anomalies_.tolist())
    np.testing.assert_array_equal(nbm.anomalies_, np.flatnonzero(knn.predict(X) != y))
    for nb in nbm.neighbors(true_rows):
        assert isinstance(nb, Neighborhood)
        assert nb.anomaly not in nb.indices
        # the contribution-space neighbourhood is (almost) the pocket itself
        assert np.isin(nb.indices, pocket_rows).mean() >= 0.9
        assert nb.anomaly_label == 0 and nb.anomaly_predicted == 1
    occ = nbm.occurrence(true_rows)
    assert np.isin(occ.top(20), pocket_rows).all()


def test_probability_space_misses_the_pocket(pocket):
    X, y, pocket_rows, true_rows, knn = pocket
    c = NeighborhoodModel(30, "contributions", True).fit(knn, X, y, progress=False)
    p = NeighborhoodModel(30, "probabilities", True).fit(knn, X, y)
    _, ic = c.kneighbors(true_rows)
    _, ip = p.kneighbors(true_rows)
    assert np.isin(ic, pocket_rows).mean() > np.isin(ip, pocket_rows).mean()
    assert p.explanation_ is None and p.contributions_ is None
    np.testing.assert_allclose(p.space_matrix_, knn.predict_proba(X))


def test_feature_space_is_standardised():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(0, 1000, 200), rng.normal(0, 0.001, 200)])
    y = (X[:, 1] > 0).astype(int)
    lr = LogisticRegression().fit(X / X.std(0), y)

    class Scaled:  # a classifier on raw X that standardises inside
        classes_ = lr.classes_

        def predict_proba(self, Z):
            return lr.predict_proba(np.asarray(Z) / X.std(0))

    nbm = NeighborhoodModel(5, space="features").fit(Scaled(), X, y)
    np.testing.assert_allclose(nbm.space_matrix_.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(nbm.space_matrix_.std(0), 1, atol=1e-12)


def test_exclude_self_with_duplicates():
    X = np.array([[0.0], [0.0], [0.0], [5.0], [6.0]])
    y = np.array([0, 0, 1, 1, 1])
    lr = LogisticRegression().fit(X, y)
    contrib = np.column_stack([X[:, 0]])
    nbm = NeighborhoodModel(2, exclude_self=True).fit(lr, X, y, contrib)
    d, idx = nbm.kneighbors([0, 1, 2])
    for r, row in zip([0, 1, 2], idx):
        assert r not in row and len(row) == 2
    assert set(idx[0]) == {1, 2}
    d, idx = nbm.kneighbors([3], exclude_self=False, n_neighbors=1)
    assert idx[0, 0] == 3 and d[0, 0] == 0


# --------------------------------------------------------------------------- German credit
def test_german_neighbourhood(german_lr):
    X, Z, y, lr, exp = german_lr
    Z0, y0 = Z.copy(), y.copy()
    nbm = NeighborhoodModel(n_neighbors=25, exclude_self=False).fit(
        lr, Z, y, exp, feature_names=list(X.columns))
    np.testing.assert_array_equal(Z, Z0)  # inputs untouched
    np.testing.assert_array_equal(y, y0)
    assert nbm.contributions_.shape == Z.shape
    pred = lr.predict_proba(Z).argmax(1)
    np.testing.assert_allclose(nbm.contributions_, exp.values[np.arange(len(Z)), :, pred])
    np.testing.assert_array_equal(nbm.anomalies_, np.flatnonzero(lr.predict(Z) != y))
    assert nbm.explanation_.feature_names == list(X.columns)

    a = nbm.anomalies_[:6]
    d, idx = nbm.kneighbors(a)
    assert d.shape == idx.shape == (6, 25)
    assert (np.diff(d, axis=1) >= -1e-12).all()
    # a batched query equals one query per row, and equals brute force
    for r, row in zip(a, idx):
        np.testing.assert_array_equal(nbm.kneighbors(int(r))[1][0], row)
        brute = np.linalg.norm(nbm.contributions_ - nbm.contributions_[r], axis=1)
        np.testing.assert_allclose(nbm.kneighbors(int(r))[0][0], np.sort(brute)[:25], atol=1e-6)
    assert (idx[:, 0] == a).all()  # a training row is its own nearest neighbour

    nb = nbm.neighbors(int(a[0]))
    assert nb.explanation.values.shape == (25, Z.shape[1])
    np.testing.assert_allclose(nb.explanation.values, nbm.contributions_[nb.indices])
    frame = nb.to_frame()
    assert list(frame.columns[:4]) == ["row", "distance", "label", "predicted"]
    assert len(frame) == 25
    ax = shap.plots.beeswarm(nb.explanation, show=False)
    assert ax is not None
    assert "Neighborhood of row" in nb._repr_html_()


def test_german_dataframe_and_other_sources(german_lr):
    X, Z, y, lr, exp = german_lr

    class FrameModel:  # a model that takes the raw DataFrame (category columns)
        classes_ = lr.classes_

        def predict_proba(self, frame):
            return lr.predict_proba(encode(frame)[0] if isinstance(frame, pd.DataFrame)
                                    else frame)

    fm = FrameModel()
    X0 = X.copy()
    nbm = NeighborhoodModel(10, space="features").fit(fm, X, y, exp.values)
    pd.testing.assert_frame_equal(X, X0)
    nb = nbm.neighbors(int(nbm.anomalies_[0]))
    frame = nb.to_frame()
    assert list(frame.columns[5:]) == list(X.columns)
    # readable category labels, the neighbours' own rows
    assert frame["checking_status"].tolist() == X["checking_status"].iloc[nb.indices].tolist()
    assert nb.explanation.display_data.shape == (10, X.shape[1])
    # 2-D single-output array (positive class) and a Captum-style tensor give the same matrix
    two_d = exp.values[:, :, 1]
    a = NeighborhoodModel(10).fit(lr, Z, y, two_d).contributions_
    b = NeighborhoodModel(10, single_output="predicted").fit(
        lr, Z, y, torch.as_tensor(exp.values[np.arange(len(Z)), :, lr.predict(Z)])).contributions_
    np.testing.assert_allclose(a, b)


def test_occurrence(german_lr):
    X, Z, y, lr, exp = german_lr
    nbm = NeighborhoodModel(20, exclude_self=True).fit(lr, Z, y, exp)
    occ = nbm.occurrence()
    assert isinstance(occ, Occurrence)
    assert occ.counts.sum() == len(nbm.anomalies_) * 20
    frame = occ.to_frame()
    assert (np.diff(frame["count"].to_numpy()) <= 0).all()
    _, idx = nbm.kneighbors(nbm.anomalies_)
    r = frame["row"].iloc[0]
    assert frame["count"].iloc[0] == (idx == r).any(1).sum()
    ax = occ.plot(show=False)
    assert ax.get_title().startswith("Occurrence")
    assert occ.plot(kind="hist", show=False) is not None


def test_space_view(german_lr):
    X, Z, y, lr, exp = german_lr
    nbm = NeighborhoodModel(20).fit(lr, Z, y, exp)
    view = space_view(nbm, random_state=0)
    assert isinstance(view, SpaceView)
    assert view.contributions_2d.shape == view.features_2d.shape == (len(Z), 2)
    np.testing.assert_array_equal(view.anomalies, nbm.anomalies_)
    assert 0 < view.explained_variance["contributions"] <= 1
    frame = view.to_frame()
    assert frame["anomaly"].sum() == len(nbm.anomalies_)
    sub = space_view(nbm, max_rows=100, random_state=0)
    assert sub.contributions_2d.shape == (100, 2)
    fig, axes = plt.subplots(1, 2)
    n_figs = len(plt.get_fignums())
    out = space_view_plot(view, ax=axes, show=False)
    assert out[0] is axes[0] and len(plt.get_fignums()) == n_figs
    with pytest.raises(ValueError, match="without contributions"):
        space_view(NeighborhoodModel(5, space="features").fit(lr, Z, y))


def test_plots_use_given_axes(german_lr):
    X, Z, y, lr, exp = german_lr
    nbm = NeighborhoodModel(15).fit(lr, Z, y, exp)
    nb = nbm.neighbors(int(nbm.anomalies_[0]))
    fig, ax = plt.subplots()
    n_figs = len(plt.get_fignums())
    assert neighborhood_plot(nb, max_display=5, ax=ax, show=False) is ax
    assert len(ax.get_yticklabels()) == 5
    assert occurrence_plot(nbm.occurrence(), ax=ax, show=False) is ax
    assert len(plt.get_fignums()) == n_figs


def test_html_is_escaped():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": pd.Categorical(["<b>x</b>"] * 4)})
    y = np.array([0, 1, 1, 0])

    class M:
        classes_ = np.array([0, 1])

        def predict_proba(self, frame):
            p = np.asarray(frame["a"], dtype=float) / 3
            return np.column_stack([1 - p, p])

    nbm = NeighborhoodModel(2, space="probabilities").fit(M(), X, y)
    html_text = nbm.neighbors(0)._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html_text and "<b>x</b>" not in html_text
    assert "<html" not in html_text


# --------------------------------------------------------------------------- bad input
def test_bad_input(german_lr):
    X, Z, y, lr, exp = german_lr
    with pytest.raises(ValueError, match="n_neighbors"):
        NeighborhoodModel(len(Z) + 1).fit(lr, Z, y, exp)
    with pytest.raises(ValueError, match="n_neighbors"):
        NeighborhoodModel(len(Z), exclude_self=True).fit(lr, Z, y, exp)
    with pytest.raises(ValueError, match="n_neighbors"):
        NeighborhoodModel(0).fit(lr, Z, y, exp)
    with pytest.raises(TypeError, match="n_neighbors"):
        NeighborhoodModel(2.5).fit(lr, Z, y, exp)
    with pytest.raises(ValueError, match="space"):
        NeighborhoodModel(5, space="shap").fit(lr, Z, y, exp)
    with pytest.raises(ValueError, match="contributions"):
        NeighborhoodModel(5).fit(lr, Z, y, exp.values[:-1])
    with pytest.raises(ValueError, match="contributions"):
        NeighborhoodModel(5).fit(lr, Z, y, exp.values[:, :-1])
    with pytest.raises(ValueError, match="y has"):
        NeighborhoodModel(5).fit(lr, Z, y[:-1], exp)
    with pytest.raises(TypeError, match="model"):
        NeighborhoodModel(5).fit(object(), Z, y, exp)
    with pytest.raises(ValueError, match="feature_names"):
        NeighborhoodModel(5).fit(lr, Z, y, exp, feature_names=["a"])
    nbm = NeighborhoodModel(5).fit(lr, Z, y, exp)
    with pytest.raises(ValueError, match="anomaly out of range"):
        nbm.neighbors(len(Z))
    with pytest.raises(ValueError, match="rows out of range"):
        nbm.kneighbors([-1])
    with pytest.raises(ValueError, match="n_neighbors"):
        nbm.kneighbors([0], n_neighbors=len(Z) + 1)
    with pytest.raises(ValueError, match="not fitted"):
        NeighborhoodModel(5).neighbors(0)


def test_kneighbors_vectors_matches_row_queries(german_lr):
    X, Z, y, lr, exp = german_lr
    nbm = NeighborhoodModel(10, space="features", exclude_self=False).fit(lr, Z, y)
    rows = [3, 7]
    d1, i1 = nbm.kneighbors(rows)
    d2, i2 = nbm.kneighbors_vectors(nbm.feature_scaler_.transform(Z[rows]))
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2)
    with pytest.raises(ValueError, match="vectors must have shape"):
        nbm.kneighbors_vectors(np.zeros((1, 3)))


def test_is_a_scikit_learn_estimator():
    from sklearn.base import clone

    nbm = NeighborhoodModel(n_neighbors=7, space="features", exclude_self=True)
    assert clone(nbm).get_params() == nbm.get_params()
    assert nbm.get_params()["n_neighbors"] == 7
    assert "n_neighbors=7" in repr(nbm)


# --------------------------------------------------------------------------- issue 16
@pytest.fixture(scope="module")
def cancer_gb():
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True)
    gb = GradientBoostingClassifier(n_estimators=50, max_depth=2, random_state=0).fit(X, y)
    return X, y, gb


def test_neighbourhood_explanation_stays_additive_for_a_single_output_source(cancer_gb):
    # issue 16.1: rows predicted 0 had their values negated but not their base values, so
    # base_values + values.sum(1) gave 3.18 where decision_function said -0.80
    X, y, gb = cancer_gb
    exp = shap.TreeExplainer(gb)(X)              # 2-D, log-odds of class 1
    nbm = NeighborhoodModel(n_neighbors=40, exclude_self=True).fit(gb, X, y, exp)
    e = nbm.explanation_
    towards = np.where(nbm.predicted_ == 1, 1.0, -1.0) * gb.decision_function(X)
    assert (nbm.predicted_ == 0).any()
    np.testing.assert_allclose(e.base_values + e.values.sum(1), towards, atol=1e-6)
    assert "log-odds of the predicted class" in e.output_names
    # the distance space still points towards each row's prediction
    np.testing.assert_allclose(nbm.contributions_,
                               exp.values * np.where(nbm.predicted_ == 1, 1, -1)[:, None])
    for r in (int(np.flatnonzero(nbm.predicted_ == 0)[0]), int(nbm.anomalies_[0])):
        nb = nbm.neighbors(r)
        ex = nb.explanation
        np.testing.assert_allclose(ex.base_values + ex.values.sum(1), towards[nb.indices],
                                   atol=1e-6)
        assert ex.output_names == e.output_names      # survives slicing
    # one row's waterfall shows the f(x) of its own class
    row = int(np.flatnonzero(nbm.predicted_ == 0)[0])
    ax = shap.plots.waterfall(e[row], show=False)
    assert ax is not None
    plt.close("all")


def test_neighbourhood_explanation_of_single_output_probabilities(cancer_gb):
    # on the probability scale class 0's output is 1 - p1, not -p1
    X, y, gb = cancer_gb
    exp = explain(gb, X[:150], X[:60], progress=False, random_state=0)[:, :, 1]
    nbm = NeighborhoodModel(10).fit(gb, X[:150], y[:150], exp)
    e = nbm.explanation_
    p = gb.predict_proba(X[:150])
    np.testing.assert_allclose(e.base_values + e.values.sum(1), p.max(1), atol=1e-6)
    assert e.output_names.startswith("probability of the predicted class")


def test_exclude_self_is_the_default_and_duplicates_are_marked():
    # issue 16.9: an anomaly was its own first neighbour by default
    assert NeighborhoodModel().exclude_self is True
    X = np.array([[0.0], [0.0], [0.0], [5.0], [6.0], [0.5]])
    y = np.array([0, 0, 1, 1, 1, 0])
    lr = LogisticRegression().fit(X, y)
    nbm = NeighborhoodModel(3, space="features").fit(lr, X, y)
    nb = nbm.neighbors(2)
    assert 2 not in nb.indices
    # the two other copies of row 2 stay in its neighbourhood, marked
    np.testing.assert_array_equal(np.sort(nb.indices[nb.duplicates]), [0, 1])
    frame = nb.to_frame()
    assert frame["duplicate"].tolist() == nb.duplicates.tolist()
    assert nb.summary()["n_duplicates"] == 2
    assert not nbm.neighbors(3).duplicates.any()


# --------------------------------------------------------------------------- issue 19
def _one_query(nbm, rows, k=None, exclude_self=True):
    """The pre-chunking query: every row in one call of the index."""
    from shap_debug.neighborhood._query import _query_chunk

    k = nbm.n_neighbors if k is None else k
    return _query_chunk(nbm.nn_, nbm.space_matrix_[rows], rows if exclude_self else None, k)


@pytest.mark.parametrize("chunk_size", [1, 7, 100])
def test_chunked_queries_equal_one_query_on_adult(adult_gb, chunk_size):
    Z, y, gb, exp = adult_gb.Z, adult_gb.y, adult_gb.model, adult_gb.explanation
    ref = NeighborhoodModel(n_neighbors=600).fit(gb, Z, y, exp, progress=False)
    small = NeighborhoodModel(n_neighbors=600, chunk_size=chunk_size).fit(gb, Z, y, exp,
                                                                            progress=False)
    np.testing.assert_array_equal(small.anomalies_, ref.anomalies_)
    rows = ref.anomalies_
    d0, i0 = _one_query(ref, rows)
    d1, i1 = small.kneighbors(rows)
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_array_equal(d1, d0)
    counts = np.bincount(i0.ravel(), minlength=len(y))
    np.testing.assert_array_equal(small.occurrence().counts, counts)
    np.testing.assert_array_equal(ref.occurrence().counts, counts)
    parts = list(small.iter_kneighbors(rows[:20], progress=False))
    assert max(len(r) for r, _, _ in parts) == min(chunk_size, 20)
    np.testing.assert_array_equal(np.concatenate([i for _, _, i in parts]), i0[:20])
    nb = small.neighbors(int(rows[0]))
    np.testing.assert_array_equal(nb.indices, i0[0])
    # in the index's order: other chunks, the same neighbours for every row
    got = {int(r): i for rr, _, ii in small.iter_kneighbors(rows, in_order=False,
                                                            progress=False)
           for r, i in zip(rr, ii)}
    assert list(got) != rows.tolist()
    np.testing.assert_array_equal(np.array([got[int(r)] for r in rows]), i0)


def test_chunked_queries_with_threads_brute_force_and_without_exclusion(german_lr):
    X, Z, y, lr, exp = german_lr
    ref = NeighborhoodModel(n_neighbors=40, algorithm="brute").fit(lr, Z, y, exp,
                                                                   progress=False)
    par = NeighborhoodModel(n_neighbors=40, algorithm="brute", chunk_size=9, n_jobs=2).fit(
        lr, Z, y, exp, progress=False)
    rows = np.arange(len(y))
    for excl in (True, False):
        d0, i0 = _one_query(ref, rows, exclude_self=excl)
        d1, i1 = par.kneighbors(rows, exclude_self=excl)
        np.testing.assert_array_equal(i1, i0)
        # brute force computes |a|^2 - 2ab + |b|^2 by blocks: the last bits depend on the batch
        np.testing.assert_allclose(d1, d0, rtol=0, atol=1e-7)
        np.testing.assert_array_equal(par.occurrence(rows, exclude_self=excl).counts,
                                      np.bincount(i0.ravel(), minlength=len(y)))
    v = par.space_matrix_[:25]
    np.testing.assert_array_equal(par.kneighbors_vectors(v)[1], ref.nn_.kneighbors(v, 40)[1])


def test_occurrence_memory_is_one_chunk(german_lr, monkeypatch):
    """No (n_anomalies, K) matrix: each index call sees at most chunk_size rows."""
    import shap_debug.neighborhood._query as q

    X, Z, y, lr, exp = german_lr
    nbm = NeighborhoodModel(n_neighbors=30, chunk_size=5).fit(lr, Z, y, exp, progress=False)
    seen = []
    original = q._query_chunk

    def spy(nn, vectors, rows, k):
        seen.append(len(vectors))
        return original(nn, vectors, rows, k)

    monkeypatch.setattr("shap_debug.neighborhood._model._query_chunk", spy)
    occ = nbm.occurrence()
    assert max(seen) == 5 and sum(seen) == len(nbm.anomalies_)
    assert occ.counts.sum() == 30 * len(nbm.anomalies_)
    seen.clear()
    assert nbm.occurrence() is occ and not seen  # the default result is kept
    with pytest.raises(ValueError, match="chunk_size"):
        NeighborhoodModel(n_neighbors=30, chunk_size=0).fit(lr, Z, y, exp, progress=False)


# ------------------------------------------------------- distinct-vector index (#29 item 6)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("space", ["features", "probabilities"])
def test_distinct_index_gives_the_full_index_neighbours_on_tied_rows(seed, space):
    """German credit rows replicated 1-6 times at random (many exact ties): the index on
    distinct vectors holds fewer points, keeps exactly K rows with the full index's
    distances, the same rows wherever the K-th distance is not tied, and at a tie the rows
    in row order (a brute-force reference with that order)."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = german()
    Z, _ = encode(X)
    Z = np.asarray(Z, dtype=np.float64)
    rng = np.random.default_rng(seed)
    base = rng.choice(len(y), 250, replace=False)
    rows = rng.permutation(np.repeat(base, rng.integers(1, 7, size=len(base))))
    Zr, yr = Z[rows], y[rows]
    model = RandomForestClassifier(n_estimators=20, min_samples_leaf=5,
                                   random_state=seed).fit(Zr, yr)
    k = int(rng.integers(20, 80))
    full = NeighborhoodModel(k, space=space, model=model).fit(Zr, yr, progress=False)
    dist_nm = NeighborhoodModel(k, space=space, model=model, distinct=True).fit(
        Zr, yr, progress=False)
    assert dist_nm.nn_.n_distinct_ < len(np.unique(rows)) + 1 < len(rows)
    M = full.space_matrix_
    for excl in (True, False):
        q = np.arange(len(yr))
        d0, i0 = full.kneighbors(q, exclude_self=excl)
        d1, i1 = dist_nm.kneighbors(q, exclude_self=excl)
        assert i1.shape == (len(q), k) and (np.diff(d1, axis=1) >= 0).all()
        np.testing.assert_allclose(d1, d0, rtol=0, atol=1e-6)  # brute force: last bits
        tied_at_edge = 0
        for r in q:
            edge = d0[r, -1]
            inside = d0[r] < edge - 1e-6
            assert set(i0[r, inside]) == set(i1[r, d1[r] < edge - 1e-6])
            tied_at_edge += int((~inside).sum() > 0)
            # the reference: every row by (distance, row number), the row itself left out
            dd = np.sqrt(((M - M[r]) ** 2).sum(1))
            order = np.lexsort((np.arange(len(M)), dd))
            if excl:
                order = order[order != r]
            np.testing.assert_array_equal(i1[r], order[:k])
        assert tied_at_edge > 0                                 # the ties were exercised
    # the chunked queries, the vector queries and the tree-order walk agree
    parts = list(dist_nm.iter_kneighbors(np.arange(len(yr)), in_order=False, progress=False))
    seen = np.concatenate([p[0] for p in parts])
    assert sorted(seen.tolist()) == list(range(len(yr)))
    dv, iv = dist_nm.kneighbors_vectors(M[:5])
    np.testing.assert_allclose(dv, full.kneighbors_vectors(M[:5])[0], rtol=0, atol=1e-6)


def test_distinct_must_be_a_bool():
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 2
    lr = LogisticRegression().fit(X, y)
    with pytest.raises(TypeError, match="distinct must be a bool"):
        NeighborhoodModel(5, space="features", model=lr, distinct="yes").fit(X, y)
