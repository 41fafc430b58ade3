import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shap_debug.audit import Flag, collapsed_occurrence, duplicate_groups, integrity_flags
from shap_debug.datasets import german
from shap_debug.neighborhood import NeighborhoodModel


def _frame():
    X = pd.DataFrame({
        "a": [1, 1, 2, 3, 1, 5],
        "b": pd.Categorical(["x", "x", "y", "z", "x", "y"]),
        "c": [7, 7, 7, 7, 7, 7],
        "d": [10, 10, 20, 30, 10, 50],  # one-to-one with "a"
        "e": [0.1, 0.1, 0.5, 0.2, 0.1, 0.9],
    })
    y = np.array([0, 1, 0, 1, 0, 1])
    return X, y


def test_duplicates_conflicts_columns_and_leakage():
    X, y = _frame()
    X0 = X.copy()
    X_test = X.iloc[[2, 3]].reset_index(drop=True).copy()
    X_test.loc[1, "a"] = 99
    X_test.loc[1, "d"] = 990
    rep = integrity_flags(X, y, X_test)
    pd.testing.assert_frame_equal(X, X0)
    assert [g.tolist() for g in rep.duplicate_groups] == [[0, 1, 4]]
    assert rep.n_duplicate_rows == 2
    assert [g.tolist() for g in rep.conflicting_groups] == [[0, 1, 4]]
    assert rep.leaked_test_rows.tolist() == [0] and rep.leaked_train_rows.tolist() == [2]
    assert rep.constant_columns == ("c",)
    assert ("a", "d", "one-to-one") in rep.duplicate_columns
    np.testing.assert_allclose(rep.weights, [1 / 3, 1 / 3, 1, 1, 1 / 3, 1])
    flags = rep.flags()
    assert all(isinstance(f, Flag) and f.level in ("pass", "warn") for f in flags)
    assert sum(f.level == "warn" for f in flags) == 4
    kinds = set(rep.to_frame()["kind"])
    assert {"duplicate rows", "conflicting labels", "test rows in training set",
            "constant column", "duplicate columns"} <= kinds
    html = rep._repr_html_()
    assert "integrity" in html and "<script" not in html


def test_clean_data_passes_and_html_is_escaped():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"p": rng.normal(size=50), "q": rng.normal(size=50),
                      "<b>": pd.Categorical(rng.choice(["<i>u</i>", "v"], 50))})
    rep = integrity_flags(X, rng.integers(0, 2, 50), X_test=X.assign(p=X["p"] + 100))
    assert rep.ok
    assert all(f.level == "pass" for f in rep.flags())
    assert "<i>u</i>" not in rep._repr_html_()


def test_numeric_array_and_correlated_columns():
    rng = np.random.default_rng(1)
    a = rng.normal(size=200)
    X = np.column_stack([a, 2 * a + 1e-3 * rng.normal(size=200), rng.normal(size=200)])
    rep = integrity_flags(X)
    assert rep.duplicate_columns and rep.duplicate_columns[0][:2] == ("Feature 0", "Feature 1")
    assert rep.duplicate_columns[0][2].startswith("r = 0.99999")  # near, never printed as 1
    assert rep.conflicting_groups == ()


def test_duplicates_do_not_inflate_occurrence():
    X, y = german()
    Z = pd.get_dummies(X).to_numpy(dtype=float)[:300]
    Z = (Z - Z.mean(0)) / (Z.std(0) + 1e-9)
    y = y[:300]
    Zd = np.vstack([Z, np.repeat(Z[[5]], 9, axis=0)])  # row 5 appears ten times
    yd = np.r_[y, np.repeat(y[5], 9)]
    lr = LogisticRegression(C=0.1).fit(Zd, yd)
    k = 20
    nbm = NeighborhoodModel(n_neighbors=k, space="features").fit(lr, Zd, yd, progress=False)
    groups = duplicate_groups(Zd)
    assert len(np.unique(groups)) == 300
    _, idx = nbm.kneighbors(nbm.anomalies_)
    distinct = np.array([len(np.unique(groups[r])) for r in idx])
    assert distinct.min() < k  # plain neighbourhoods lose places to the copies
    col = collapsed_occurrence(nbm, group_of=groups)
    reps = col.representative == np.arange(len(yd))
    # collapsed: every neighbourhood holds k distinct groups, each counted once
    assert col.counts[reps].sum() == k * len(nbm.anomalies_)
    assert set(col.top(len(Zd)).tolist()).isdisjoint(set(range(300, 309)))
    with_copy = int(np.isin(idx, np.r_[5, 300:309]).any(axis=1).sum())
    assert with_copy >= 1 and col.counts[5] >= with_copy
    assert col.counts[5] <= len(nbm.anomalies_)
    df = col.to_frame()
    assert df["row"].is_unique and (df.loc[df.row == 5, "copies"] == 10).all()
    assert "collapsed" in col._repr_html_()


def test_bad_input():
    X, y = _frame()
    with pytest.raises(ValueError, match="y has 3 entries"):
        integrity_flags(X, y[:3])
    with pytest.raises(ValueError, match="same columns"):
        integrity_flags(X, y, X_test=X[["a"]])
    with pytest.raises(ValueError, match="quasi_constant"):
        integrity_flags(X, y, quasi_constant=0.1)
    with pytest.raises(ValueError, match="fitted"):
        collapsed_occurrence(NeighborhoodModel())


def test_correlated_columns_are_near_duplicates_not_duplicates():
    """Issue 16 item 11: mean radius and mean perimeter (r = 0.998) are near-duplicates."""
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    rep = integrity_flags(X)
    assert ("mean radius", "mean perimeter", "r = 0.998") in rep.duplicate_columns
    assert ("worst radius", "worst perimeter", "r = 0.994") in rep.duplicate_columns
    (flag,) = [f for f in rep.flags() if "redundant" in f.message]
    assert "near-duplicate (r = 0.998): mean radius ~ mean perimeter" in flag.message
    assert "duplicate:" not in flag.message and "one-to-one" not in flag.message
    frame = rep.to_frame()
    near = frame[frame.kind == "near-duplicate columns"]
    assert near.detail.tolist() == ["mean radius ~ mean perimeter (r = 0.998)",
                                    "worst radius ~ worst perimeter (r = 0.994)"]
    assert "duplicate columns" not in set(frame.kind)
    # an exact recoding next to a near-duplicate: worded apart
    X = X.assign(radius_mm=X["mean radius"] * 10)
    msg = [f for f in integrity_flags(X).flags() if "redundant" in f.message][0].message
    assert "duplicate (one-to-one): mean radius = radius_mm" in msg
    assert "near-duplicate (r = 0.998): mean radius ~ mean perimeter" in msg


def test_short_reprs():
    X, y = _frame()
    rep = integrity_flags(X, y)
    assert repr(rep) == ("IntegrityReport(n_rows=6, duplicate_rows=2, conflicting_rows=3, "
                         "leaked_test_rows=0, constant_columns=1, duplicate_columns=3)")


# --------------------------------------------------------------------------- issue 19
def _reference_groups(D):
    """The pairwise-free but hash-less grouping before issue 19: one groupby on all columns."""
    from shap_debug.audit._integrity import _keys

    tmp = _keys(D)
    return tmp.groupby(list(tmp.columns), sort=False, dropna=False).ngroup().to_numpy(np.int64)


def _messy_frame(seed, n=400):
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, 40, n)  # 40 distinct rows, repeated
    num = rng.choice([0.0, -0.0, 1.5, 3.0], 40)[pick]
    cat = pd.Categorical(rng.choice(["a", "b", "nan"], 40)[pick], categories=["b", "a",
                                                                                  "nan", "z"])
    txt = np.array(rng.choice(["x", "y", "1.5"], 40), dtype=object)[pick]
    flag = rng.choice([True, False], 40)[pick]
    ints = rng.integers(0, 3, 40)[pick]
    return pd.DataFrame({"num": num, "cat": cat, "txt": txt, "flag": flag, "int": ints})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hashed_groups_equal_the_groupby(seed):
    D = _messy_frame(seed)
    np.testing.assert_array_equal(duplicate_groups(D), _reference_groups(D))
    np.testing.assert_array_equal(duplicate_groups(D, chunk_rows=7), _reference_groups(D))
    rep = integrity_flags(D, np.arange(len(D)) % 2, X_test=_messy_frame(seed + 10, 50))
    assert sum(len(g) for g in rep.duplicate_groups) == len(D)  # every row has copies
    T = _messy_frame(seed + 10, 50)
    both = _reference_groups(pd.concat([D, T], ignore_index=True))
    leaked = np.flatnonzero(np.isin(both[len(D):], both[:len(D)]))
    np.testing.assert_array_equal(rep.leaked_test_rows, leaked)
    np.testing.assert_array_equal(
        rep.leaked_train_rows, np.flatnonzero(np.isin(both[:len(D)], both[len(D):][leaked])))


def test_a_hash_collision_never_merges_rows(monkeypatch):
    import shap_debug.audit._integrity as integ

    D = _messy_frame(0)
    monkeypatch.setattr(integ, "_row_hashes",
                        lambda D, chunk_rows=0: np.zeros(len(D), dtype=np.uint64))
    np.testing.assert_array_equal(duplicate_groups(D), _reference_groups(D))


def test_integrity_on_adult_equals_the_groupby_version():
    from shap_debug.datasets import adult

    X, y = adult()
    train, test = X.iloc[:26000], X.iloc[26000:].reset_index(drop=True)
    rep = integrity_flags(train, y[:26000], test)
    groups = _reference_groups(train)
    np.testing.assert_array_equal(rep.group_of, groups)
    sizes = np.bincount(groups)
    order = np.argsort(groups, kind="stable")
    splits = np.split(order, np.cumsum(sizes)[:-1])
    expected = [splits[g] for g in np.flatnonzero(sizes > 1)]
    assert len(rep.duplicate_groups) == len(expected) > 0
    assert all(np.array_equal(a, b) for a, b in zip(rep.duplicate_groups, expected))
    both = _reference_groups(pd.concat([train, test], ignore_index=True))
    leaked = np.flatnonzero(np.isin(both[26000:], both[:26000]))
    np.testing.assert_array_equal(rep.leaked_test_rows, leaked)
    assert rep.duplicate_columns == () and rep.constant_columns == ()


def _reference_collapsed(nbm, group_of):
    """collapsed_occurrence before issue 19: all anomalies in one query, a loop per row."""
    n, k = len(nbm.y_), int(nbm.n_neighbors)
    sizes = np.bincount(group_of)
    counts = np.zeros(len(sizes), dtype=np.int64)
    depth = min(n - 1, k + int(min(n - len(sizes), 2 * k)))
    _, idx = nbm.kneighbors(nbm.anomalies_, n_neighbors=depth)
    for row_groups in group_of[idx]:
        _, first = np.unique(row_groups, return_index=True)
        counts[row_groups[np.sort(first)][:k]] += 1
    return counts[group_of]


def test_collapsed_occurrence_in_small_chunks_equals_one_query():
    X, y = german()
    Z = pd.get_dummies(X).to_numpy(dtype=float)[:300]
    Zd = np.vstack([Z, np.repeat(Z[[5]], 9, axis=0), np.repeat(Z[[7]], 3, axis=0)])
    yd = np.r_[y[:300], np.repeat(y[5], 9), 1 - np.repeat(y[7], 3)]
    lr = LogisticRegression(C=0.1, max_iter=2000).fit(Zd, yd)
    groups = duplicate_groups(Zd)
    ref = None
    for chunk in (None, 1, 4):
        nbm = NeighborhoodModel(n_neighbors=20, space="features", chunk_size=chunk).fit(
            lr, Zd, yd, progress=False)
        ref = _reference_collapsed(nbm, groups) if ref is None else ref
        np.testing.assert_array_equal(collapsed_occurrence(nbm, group_of=groups).counts, ref)
    # without copies: the plain occurrence, no second query
    nbm = NeighborhoodModel(n_neighbors=20, space="features", chunk_size=3).fit(
        lr, Z, y[:300], progress=False)
    col = collapsed_occurrence(nbm)
    np.testing.assert_array_equal(col.counts, nbm.occurrence().counts)
    np.testing.assert_array_equal(col.counts, _reference_collapsed(nbm, np.arange(300)))
