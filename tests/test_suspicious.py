import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shap_debug.audit import confident_joint, suspicious_rows


def _blobs(n=600, flips=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    flip = rng.choice(n, flips, replace=False)
    y_noisy = y.copy()
    y_noisy[flip] = 1 - y_noisy[flip]
    return X, y_noisy, flip


def test_finds_flipped_labels_and_counts_them():
    X, y, flip = _blobs()
    res = suspicious_rows(LogisticRegression(), X, y, cv=5, random_state=0)
    top = set(res.top(len(flip)).tolist())
    assert len(top & set(flip.tolist())) / len(flip) >= 0.8
    # the calibrated count is in the right range (30 injected, plus a few borderline rows)
    assert 20 <= res.n_flagged <= 60
    assert res.scores.shape == (len(y),)
    assert sorted(res.ranking.tolist()) == list(range(len(y)))
    assert np.all(np.diff(res.scores[res.ranking]) <= 1e-12)


def test_count_matches_cleanlab():
    cleanlab_count = pytest.importorskip("cleanlab.count")
    X, y, _ = _blobs(seed=1)
    res = suspicious_rows(LogisticRegression(), X, y, cv=3, random_state=1)
    ref = cleanlab_count.num_label_issues(
        y, res.proba, estimation_method="off_diagonal_calibrated")
    # independent implementation; cleanlab rounds the calibrated joint to integer counts
    assert abs(res.n_flagged - int(ref)) <= 2


def test_reproducible_and_inputs_untouched():
    X, y, _ = _blobs(n=300, flips=15)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    X0, y0 = frame.copy(), y.copy()
    a = suspicious_rows(LogisticRegression(), frame, y, cv=3, random_state=7)
    b = suspicious_rows(LogisticRegression(), frame, y, cv=3, random_state=7)
    np.testing.assert_array_equal(a.ranking, b.ranking)
    pd.testing.assert_frame_equal(frame, X0)
    np.testing.assert_array_equal(y, y0)
    df = a.to_frame()
    assert list(df.columns) == ["row", "rank", "score", "label", "predicted", "flagged"]
    assert df["flagged"].sum() == a.n_flagged
    assert "<table>" in a._repr_html_()
    assert a.plot(show=False) is not None


def test_precomputed_proba_and_confident_joint():
    y = np.array([0, 0, 0, 1, 1, 1])
    proba = np.array([[.9, .1], [.8, .2], [.1, .9], [.2, .8], [.1, .9], [.3, .7]])
    res = suspicious_rows(None, np.zeros((6, 1)), y, proba=proba, random_state=0)
    assert res.ranking[0] == 2
    assert res.n_flagged == 1
    C = confident_joint(proba, y, calibrate=False)
    # row 5 (p=.7 for its label 1) reaches no class threshold, so it is not counted
    assert C[0, 1] == 1 and C.sum() == 5


def test_bad_input():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="2 classes"):
        suspicious_rows(LogisticRegression(), X, np.zeros(10))
    with pytest.raises(ValueError, match="cv"):
        suspicious_rows(LogisticRegression(), X, np.r_[np.zeros(8), np.ones(2)], cv=5)
    with pytest.raises(ValueError, match="proba"):
        suspicious_rows(None, X, np.r_[np.zeros(5), np.ones(5)], proba=np.zeros((10, 3)))
    with pytest.raises(TypeError, match="cv"):
        suspicious_rows(LogisticRegression(), X, np.r_[np.zeros(5), np.ones(5)], cv=2.5)


def test_repeated_cv_averages_probabilities():
    X, y, flip = _blobs(n=300, flips=15)
    one = suspicious_rows(LogisticRegression(), X, y, cv=3, random_state=0)
    rep = suspicious_rows(LogisticRegression(), X, y, cv=3, random_state=0, n_repeats=3)
    assert rep.method == "cv3x3_self_confidence"
    assert not np.allclose(one.proba, rep.proba)
    np.testing.assert_allclose(rep.proba.sum(axis=1), 1.0)
    assert len(set(rep.top(15)) & set(flip.tolist())) >= 12
    with pytest.raises(ValueError, match="n_repeats"):
        suspicious_rows(LogisticRegression(), X, y, n_repeats=0)
