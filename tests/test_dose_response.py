"""dose_response: the smallest number of relabelled neighbours that flips a prediction."""

import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from shap_debug import ShapDebugWarning
from shap_debug.blame import DoseResponse, dose_response, neighbours_by_space
from shap_debug.contributions import explain
from shap_debug.neighborhood import NeighborhoodModel


# --------------------------------------------------------------------------- known answers
@pytest.fixture(scope="module")
def line():
    """1-D, y = [x > 0], one isolated wrong label at the far right (row ``a``).

    An m-NN classifier predicts a training row from itself and its m - 1 nearest others:
    the anomaly (label 0) among m - 1 rows labelled 1 is predicted 1. Relabelling its k
    nearest others (1 -> 0) gives 1 + k zeros, so the prediction flips first at
    k = floor(m / 2); relabelling the anomaly itself too (the reference implementation)
    turns its own 0 into 1 and needs floor(m / 2) + 2 rows.
    """
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(-1, 1, size=200))[:, None]
    y = (X[:, 0] > 0).astype(int)
    a = int(np.argmax(X[:, 0]))
    y[a] = 0
    return X, y, a


def knn_model(line, m, k=40):
    X, y, _ = line
    knn = KNeighborsClassifier(n_neighbors=m).fit(X, y)
    return NeighborhoodModel(k, space="features", exclude_self=True).fit(knn, X, y)


@pytest.mark.parametrize("m, k_min, retrains", [(5, 2, 2), (9, 4, 4), (15, 7, 6)])
def test_known_minimum_and_retrain_count(line, m, k_min, retrains):
    nbm = knn_model(line, m)
    a = line[2]
    dr = dose_response(nbm, [a], spaces=["features"], progress=False, random_state=0)
    rec = dr.to_frame()
    assert list(rec.columns[:5]) == ["anomaly", "space", "k_min", "flipped", "retrains"]
    r = rec.iloc[0]
    assert (r.anomaly, r.space, r.k_min, bool(r.flipped)) == (a, "features", k_min, True)
    # doubling 1, 2, 4, ... then bisection: exactly these fits
    assert r.retrains == retrains
    assert r.k_below == k_min - 1
    tried = dr.trials.k.tolist()
    assert len(tried) == retrains and k_min in tried and k_min - 1 in tried
    assert dr.trials.set_index("k").loc[k_min, "flipped"]
    assert not dr.trials.set_index("k").loc[k_min - 1, "flipped"]


def test_relabelling_is_the_label_flip_checks(line):
    # include_anomaly=True also flips the anomaly's own label (0 -> 1), as the reference
    # implementation did: m=5 then needs the anomaly plus 3 others
    nbm = knn_model(line, 5)
    dr = dose_response(nbm, [line[2]], spaces=["features"], include_anomaly=True,
                       progress=False, random_state=0)
    assert dr.to_frame().k_min.iloc[0] == 4


def test_not_flipped_within_the_cap_is_explicit(line):
    nbm = knn_model(line, 9)
    dr = dose_response(nbm, [line[2]], spaces=["features"], k_max=3, progress=False, random_state=0)
    r = dr.to_frame().iloc[0]
    assert not r.flipped and pd.isna(r.k_min) and r.k_below == 3
    assert r.retrains == 3  # k = 1, 2 and the cap 3
    assert dr.table().loc[line[2], "features"] == "> 3"
    assert np.isinf(dr.k_matrix().loc[line[2], "features"])
    assert "cannot be told apart" in dr.verdict() and "cap of 3" in dr.verdict()
    assert dr.rate_at(3).rate.iloc[0] == 0.0


def test_inputs_untouched_and_reproducible(line):
    X, y, a = line
    X0, y0 = X.copy(), y.copy()
    nbm = knn_model(line, 9)
    one = dose_response(nbm, [a], spaces=["features", "probabilities"], progress=False, random_state=0)
    two = dose_response(nbm, [a], spaces=["features", "probabilities"], progress=False, random_state=0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    pd.testing.assert_frame_equal(one.to_frame(), two.to_frame())
    pd.testing.assert_frame_equal(one.trials, two.trials)
    with joblib.parallel_backend("threading"):
        par = dose_response(nbm, [a], spaces=["features", "probabilities"], n_jobs=2,
                            progress=False, random_state=0)
    pd.testing.assert_frame_equal(one.to_frame(), par.to_frame())


# --------------------------------------------------------------------------- spaces compared
@pytest.fixture(scope="module")
def padded():
    """y = [x0 > 0] with 5 wrong labels far from the boundary, plus 8 pure-noise columns.

    A depth-3 tree never splits on the noise, so the anomalies' contribution vectors equal
    those of the rows in their own leaf, and relabelling those flips the leaf; in the
    z-scored feature space the noise columns dominate the distance and the nearest rows are
    scattered across the leaf and beyond, so many more must be relabelled.
    """
    rng = np.random.default_rng(0)
    n = 300
    X2 = rng.uniform(-1, 1, size=(n, 2))
    y = (X2[:, 0] > 0).astype(int)
    cand = np.flatnonzero(np.abs(X2[:, 0]) > 0.5)[:5]
    y[cand] = 1 - y[cand]
    X = np.hstack([X2, rng.normal(size=(n, 8))])
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=20, random_state=0).fit(X, y)
    exp = explain(tree, X, progress=False, random_state=0)
    nbm = NeighborhoodModel(100, exclude_self=True).fit(tree, X, y, exp, progress=False)
    rows = cand[np.isin(cand, nbm.anomalies_)]
    assert len(rows) == 5
    return nbm, tree, rows


def test_contribution_space_needs_fewer_than_noise_padded_features(padded):
    nbm, tree, rows = padded
    dr = dose_response(nbm, rows, progress=False, random_state=0)
    assert dr.spaces == ("contributions", "features", "probabilities")
    M = dr.k_matrix()
    assert np.isfinite(M.to_numpy()).all()
    assert (M["contributions"] < M["features"]).all()
    # never more than the anomaly's whole leaf
    leaf = tree.apply(nbm.X_)
    sizes = np.array([np.sum(leaf == leaf[r]) for r in rows])
    assert (M["contributions"].to_numpy() <= sizes).all()
    med = dr.medians()
    assert med["contributions"] * 1.5 <= med["features"]
    # probability space is as good here (a tree's probabilities are its leaves): the verdict
    # sets feature space apart and says the other two cannot be told apart
    assert "needs fewer relabelled neighbours than feature space" in dr.verdict()
    two = dose_response(nbm, rows, spaces=["contributions", "features"], progress=False, random_state=0)
    assert two.verdict().startswith("Contribution-space neighbours flip the predictions with "
                                    "the fewest relabelled rows: median")
    assert "5 of 5 anomalies" in two.verdict()
    # fixed-K rate (the paper's number) read off the search, for every space
    rate = dr.rate_at()
    assert list(rate.space) == list(dr.spaces) and (rate.k == 100).all()
    assert (rate.rate == 1.0).all() and (rate.n == 5).all()
    # the search spends about 2 log2(k_min) fits, well under K
    assert dr.to_frame().retrains.max() <= 2 * np.log2(100) + 1
    assert "retrains=" in repr(dr) and "array" not in repr(dr)


def test_neighbours_by_space_match_each_spaces_model(padded):
    nbm, tree, rows = padded
    got = neighbours_by_space(nbm, rows, n_neighbors=30)
    for s in ("features", "probabilities"):
        own = NeighborhoodModel(30, space=s, exclude_self=True).fit(tree, nbm.X_, nbm.y_)
        np.testing.assert_array_equal(got[s], own.kneighbors(rows)[1])
    np.testing.assert_array_equal(got["contributions"],
                                  nbm.kneighbors(rows, n_neighbors=30, exclude_self=True)[1])


def test_int_anomalies_are_the_most_confidently_wrong(padded):
    nbm, _, _ = padded
    dr = dose_response(nbm, 2, spaces=["contributions"], progress=False, random_state=0)
    idx = nbm.anomalies_
    conf = nbm.proba_[idx, nbm.predicted_[idx]]
    np.testing.assert_array_equal(dr.anomalies, idx[np.argsort(-conf, kind="stable")][:2])


# --------------------------------------------------------------------------- verdict
def _made(ks, spaces=("contributions", "features"), k_max=100):
    """A DoseResponse from a table {space: [k_min or None per anomaly]}."""
    rows = []
    n = len(next(iter(ks.values())))
    for a in range(n):
        for s in spaces:
            k = ks[s][a]
            rows.append({"anomaly": a, "space": s, "k_min": k, "flipped": k is not None,
                         "retrains": 1, "k_below": 0, "label": 0, "prediction_before": 1,
                         "refit_changed": False})
    rec = pd.DataFrame(rows)
    rec["k_min"] = rec["k_min"].astype("Int64")
    return DoseResponse(records=rec, trials=pd.DataFrame(), spaces=tuple(spaces),
                        anomalies=np.arange(n), k_max=k_max, n_neighbors=k_max)


def test_verdict_sentences():
    one = _made({"contributions": [12], "features": [140]}, k_max=2000)
    assert one.verdict() == ("Contribution-space neighbours flip row 0's prediction with 12 "
                             "relabelled rows, against 140 in feature space.")
    capped = _made({"contributions": [12], "features": [None]})
    assert "more than 100 (the cap) in feature space" in capped.verdict()
    same = _made({"contributions": [10, 20, 30], "features": [11, 19, 31]})
    v = same.verdict()
    assert v.startswith("The spaces cannot be told apart on these 3 anomalies")
    assert "clearly fewer for 0 of 3 anomalies, clearly more for 0" in v
    mixed = _made({"contributions": [5, 50, 5, 50], "features": [50, 5, 50, 5]})
    assert "cannot be told apart" in mixed.verdict()
    feat = _made({"contributions": [80, 90, None], "features": [4, 6, 5]})
    assert feat.verdict().startswith("Feature-space neighbours flip the predictions with the "
                                     "fewest relabelled rows: median 5, against 90 in contribution space")
    three = _made({"contributions": [4, 5, 6], "features": [60, 70, 80],
                   "probabilities": [5, 5, 5]},
                  spaces=("contributions", "features", "probabilities"))
    assert three.verdict().startswith(
        "Contribution space needs fewer relabelled neighbours than feature space (median 5 "
        "against 70")
    assert "cannot be told apart from probability space" in three.verdict()
    with pytest.raises(ValueError, match="margin"):
        one.verdict(margin=0.5)


def test_table_html_and_plot():
    import matplotlib.pyplot as plt

    dr = _made({"contributions": [3, None, 7], "features": [30, 40, None],
                "probabilities": [None, None, 2]},
               spaces=("contributions", "features", "probabilities"))
    tab = dr.table()
    assert tab.loc[1, "contributions"] == "> 100" and tab.loc[0, "features"] == "30"
    html = dr._repr_html_()
    assert "Dose-response" in html and "&gt; 100" in html and "<script" not in html
    fig, ax = plt.subplots()
    out = dr.plot(ax=ax, show=False)
    assert out is ax and len(plt.get_fignums()) == 1
    assert [t.get_text() for t in ax.get_yticklabels()] == ["row 2", "row 1", "row 0"]
    assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == 3
    ax2 = dr.plot(show=False, max_display=2)
    assert len(ax2.get_yticks()) == 2
    # markers of different spaces on one anomaly never share a position
    pts = np.vstack([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    assert len(np.unique(pts, axis=0)) == len(pts)


def test_refit_that_already_changes_the_prediction_is_not_searched(line):
    X, y, _ = line
    # a model fitted on the opposite labels: every row is wrong, a plain refit fixes them
    lr = LogisticRegression().fit(X, 1 - y)
    nbm = NeighborhoodModel(20, space="features", exclude_self=True).fit(lr, X, y)
    with pytest.warns(ShapDebugWarning, match="refitted on the unchanged labels"):
        dr = dose_response(nbm, [0, 1], spaces=["features"], progress=False)
    rec = dr.to_frame()
    assert rec.refit_changed.all() and (rec.k_min == 0).all() and (rec.retrains == 0).all()
    assert dr.verdict().startswith("No anomaly could be searched")
    assert (dr.table()["features"] == "0 (refit alone)").all()


# --------------------------------------------------------------------------- bad input
def test_bad_input(line, padded):
    nbm = knn_model(line, 5)
    a = line[2]
    with pytest.raises(TypeError, match="NeighborhoodModel"):
        dose_response("model", [a])
    with pytest.raises(ValueError, match="not fitted"):
        dose_response(NeighborhoodModel(5), [a])
    with pytest.raises(ValueError, match="spaces"):
        dose_response(nbm, [a], spaces=["pixels"])
    with pytest.raises(ValueError, match="duplicates"):
        dose_response(nbm, [a], spaces=["features", "features"])
    with pytest.raises(ValueError, match="at least one"):
        dose_response(nbm, [a], spaces=[])
    with pytest.raises(ValueError, match="without contributions"):
        dose_response(nbm, [a], spaces=["contributions"])
    with pytest.raises(ValueError, match="k_max"):
        dose_response(nbm, [a], spaces=["features"], k_max=0)
    with pytest.raises(ValueError, match="k_max"):
        dose_response(nbm, [a], spaces=["features"], k_max=200)
    with pytest.raises(TypeError, match="k_max"):
        dose_response(nbm, [a], spaces=["features"], k_max=2.5)
    with pytest.raises(ValueError, match="search"):
        dose_response(nbm, [a], spaces=["features"], search="grid")
    with pytest.raises(ValueError, match="anomalies out of range"):
        dose_response(nbm, [500], spaces=["features"])
    with pytest.raises(TypeError, match="anomalies"):
        dose_response(nbm, None, spaces=["features"])
    with pytest.raises(TypeError, match="anomalies"):
        dose_response(nbm, True, spaces=["features"])
    with pytest.raises(ValueError, match="empty"):
        dose_response(nbm, [], spaces=["features"])
    with pytest.raises(ValueError, match="duplicate"):
        dose_response(nbm, [a, a], spaces=["features"])
    with pytest.raises(TypeError, match="include_anomaly"):
        dose_response(nbm, [a], spaces=["features"], include_anomaly=1)
    with pytest.raises(ValueError, match="n_jobs"):
        dose_response(nbm, [a], spaces=["features"], n_jobs=0)
    X, y, _ = line
    y3 = y.copy()
    y3[:10] = 2
    knn3 = KNeighborsClassifier(5).fit(X, y3)
    nbm3 = NeighborhoodModel(10, space="features", exclude_self=True).fit(knn3, X, y3)
    with pytest.raises(ValueError, match="binary"):
        dose_response(nbm3, [a], spaces=["features"])
    # a correctly predicted row is allowed, with a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ShapDebugWarning, match="predicted correctly"):
            dose_response(nbm, [0], spaces=["features"], k_max=2, progress=False)


def test_ladder_brackets_the_exact_minimum(line):
    """The ladder K, K/4, ... brackets the known minimum floor(m / 2) with fewer retrains,
    starts with the fixed-K check, and the table shows the bracket."""
    a = line[2]
    for m, k_exact, cell, retrains in [(9, 4, "2–4", 4), (15, 7, "5–16", 3), (41, 20, "17–64", 2)]:
        nbm = knn_model(line, m, k=64)
        dr = dose_response(nbm, [a], spaces=["features"], search="ladder", progress=False, random_state=0)
        r = dr.records.iloc[0]
        assert dr.search == "ladder" and bool(r.flipped)
        assert int(r.k_below) < k_exact <= int(r.k_min) <= 4 * k_exact
        assert dr.trials.k.iloc[0] == 64 and r.retrains == retrains
        assert dr.table().iloc[0, 0] == cell
        assert f"with {cell} relabelled rows" in dr.verdict()
        assert "a range is where the minimum lies" in dr._repr_html_()
    with pytest.raises(ValueError, match="search"):
        dose_response(nbm, [a], spaces=["features"], search="bisect", progress=False)
