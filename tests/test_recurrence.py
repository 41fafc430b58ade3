"""recurring_rows: training rows ranked by lift in anomaly neighbourhoods, not raw count."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from shap_debug import ShapDebugWarning
from shap_debug.audit import collapsed_occurrence
from shap_debug.blame import RecurringRows, blame_stability, recurring_rows
from shap_debug.neighborhood import NeighborhoodModel

R, D, G, A = np.arange(100), np.arange(100, 130), np.arange(130, 150), np.arange(150, 156)


def scene(extra_copies=0, seed=0):
    """Left: 100 rows in the unit square and a dense blob D of 30 rows at its right edge.
    Far right (x = 3): 6 anomalies A (label 0) inside a planted group G of 20 rows
    mislabelled 1, so a 15-NN model predicts A as 1. With K = 80 every neighbourhood (of an
    anomaly or of a correct row on the left) reaches into D, but only the anomalies' reach G:
    D has the highest raw count and a lift near 1, G the highest lift."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.uniform(0, 1, size=(100, 2)),
                   rng.normal([0.8, 0.5], 0.01, size=(30, 2)),
                   rng.normal([3.0, 0.5], 0.05, size=(20, 2)),
                   rng.normal([3.0, 0.5], 0.01, size=(6, 2))])
    y = np.r_[np.ones(150, int), np.zeros(6, int)]
    if extra_copies:
        X = np.vstack([X, np.repeat(X[G[:1]], extra_copies, axis=0)])
        y = np.r_[y, np.ones(extra_copies, int)]
    knn = KNeighborsClassifier(15).fit(X, y)
    nbm = NeighborhoodModel(80, space="features", exclude_self=True).fit(knn, X, y)
    return nbm


@pytest.fixture(scope="module")
def nbm():
    m = scene()
    np.testing.assert_array_equal(m.anomalies_, A)
    return m


def test_planted_group_tops_the_lift_and_the_dense_blob_does_not(nbm):
    rec = recurring_rows(nbm, random_state=0, n_reference=40)
    assert isinstance(rec, RecurringRows)
    assert len(rec.anomalies) == 6 and len(rec.reference) == 40
    assert set(rec.top(20)) == set(G)
    # the dense blob is in every neighbourhood: the highest raw count, lift ~ 1
    assert (rec.anomaly_counts[D] == rec.anomaly_counts.max()).all()
    assert (rec.anomaly_counts[D] == 6).all()
    assert np.all(np.abs(rec.lift[D] - 1) < 0.3)
    assert rec.lift[G].min() > 5 * rec.lift[D].max()
    frame = rec.to_frame()
    assert list(frame.columns[:4]) == ["row", "lift", "anomaly_count", "reference_count"]
    assert np.all(np.diff(frame.lift.to_numpy()) <= 0)
    assert (frame.anomaly_count >= rec.min_count).all()
    # lift = (c_a / n_a) / ((c_r + prior) / n_r)
    r = frame.iloc[0]
    assert r.lift == pytest.approx((r.anomaly_count / 6) / ((r.reference_count + 1) / 40))


def test_counts_equal_the_occurrence_counts(nbm):
    rec = recurring_rows(nbm, random_state=0, collapse_duplicates=False)
    np.testing.assert_array_equal(rec.anomaly_counts, nbm.occurrence(exclude_self=True).counts)
    # default reference: as many correct rows as anomalies, of the anomalies' predicted class
    assert len(rec.reference) == len(rec.anomalies)
    assert (nbm.predicted_labels_[rec.reference] == nbm.y_[rec.reference]).all()
    assert (nbm.predicted_[rec.reference] == 1).all()
    small = recurring_rows(nbm, random_state=0, chunk_size=1, collapse_duplicates=False)
    np.testing.assert_array_equal(small.anomaly_counts, rec.anomaly_counts)
    np.testing.assert_array_equal(small.reference_counts, rec.reference_counts)
    np.testing.assert_array_equal(small.reference, rec.reference)  # same seed, same sample


def test_duplicates_collapse_like_collapsed_occurrence():
    m = scene(extra_copies=4)
    rec = recurring_rows(m, random_state=0, n_reference=40)
    np.testing.assert_array_equal(rec.anomaly_counts, collapsed_occurrence(m).counts)
    copies = np.r_[G[:1], np.arange(156, 160)]
    assert (rec.group_size[copies] == 5).all() and (rec.representative[copies] == G[0]).all()
    frame = rec.to_frame()
    assert not np.isin(np.arange(156, 160), frame.row).any()  # one row per group
    assert frame.set_index("row").loc[G[0], "copies"] == 5
    chunked = recurring_rows(m, random_state=0, n_reference=40, chunk_size=3)
    np.testing.assert_array_equal(chunked.anomaly_counts, rec.anomaly_counts)
    np.testing.assert_array_equal(chunked.reference_counts, rec.reference_counts)


def test_views(nbm):
    import matplotlib.pyplot as plt

    rec = recurring_rows(nbm, random_state=0, n_reference=40, top=5)
    text = repr(rec)
    assert text.startswith("RecurringRows(") and "array" not in text and "ranked=" in text
    html = rec._repr_html_()
    assert "Recurring rows" in html and html.count("<tr") == 6  # header + top 5
    fig, ax = plt.subplots()
    assert rec.plot(ax=ax, show=False) is ax and len(plt.get_fignums()) == 1
    assert {t.get_text() for t in ax.get_yticklabels()} == {f"row {r}" for r in rec.top(5)}
    assert len(rec.by_count(3)) == 3
    # a ranking the blame tools read (its .ranking)
    again = recurring_rows(nbm, random_state=0, n_reference=40)
    assert blame_stability([rec, again], k=5).mean_overlap == 1
    # labels are data: escaped in HTML
    y = np.where(nbm.y_ == 1, "<b>yes</b>", "no")
    knn = KNeighborsClassifier(15).fit(nbm.X_, y)
    m = NeighborhoodModel(80, space="features", exclude_self=True).fit(knn, nbm.X_, y)
    html = recurring_rows(m, random_state=0, n_reference=40)._repr_html_()
    assert "<b>yes" not in html and "&lt;b&gt;yes" in html


def test_empty_and_degenerate(nbm):
    with pytest.warns(ShapDebugWarning, match="no anomalies"):
        rec = recurring_rows(nbm, random_state=0, anomalies=[], n_reference=10)
    assert len(rec.ranking) == 0 and rec.to_frame().empty
    ax = rec.plot(show=False)
    assert ax is not None
    # every row wrong: no reference, lift undefined
    knn = KNeighborsClassifier(1).fit(nbm.X_, 1 - nbm.y_)
    m = NeighborhoodModel(20, space="features", exclude_self=True).fit(knn, nbm.X_, nbm.y_)
    with pytest.warns(ShapDebugWarning, match="no reference"):
        rec = recurring_rows(m, random_state=0)
    assert np.isnan(rec.lift).all() and len(rec.ranking) == 0


def test_bad_input(nbm):
    with pytest.raises(TypeError, match="NeighborhoodModel"):
        recurring_rows(object())
    with pytest.raises(ValueError, match="not fitted"):
        recurring_rows(NeighborhoodModel(5))
    with pytest.raises(ValueError, match="anomalies out of range"):
        recurring_rows(nbm, random_state=0, anomalies=[10_000])
    with pytest.raises(ValueError, match="duplicate"):
        recurring_rows(nbm, random_state=0, anomalies=[150, 150])
    with pytest.raises(ValueError, match="k must be"):
        recurring_rows(nbm, random_state=0, k=len(nbm.y_))
    with pytest.raises(ValueError, match="n_reference"):
        recurring_rows(nbm, random_state=0, n_reference=0)
    with pytest.raises(ValueError, match="prior"):
        recurring_rows(nbm, random_state=0, prior=0)
    with pytest.raises(ValueError, match="prior"):
        recurring_rows(nbm, random_state=0, prior=-1.0)
    with pytest.raises(ValueError, match="chunk_size"):
        recurring_rows(nbm, random_state=0, chunk_size=0)
    with pytest.raises(ValueError, match="min_count"):
        recurring_rows(nbm, random_state=0, min_count=0)
    with pytest.raises(TypeError, match="stratify"):
        recurring_rows(nbm, random_state=0, stratify="yes")
    with pytest.raises(TypeError, match="top"):
        recurring_rows(nbm, random_state=0, top=2.0)
