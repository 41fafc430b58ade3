import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from shap_debug.audit import Flag, error_cohorts, integrity_flags, suspicious_rows
from shap_debug.blame import blame_stability, removal_curve, summary_flags


def _noisy(n=600, flips=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    flip = rng.choice(n, flips, replace=False)
    y[flip] = 1 - y[flip]
    Xt = rng.normal(size=(400, 3))
    yt = (Xt[:, 0] + 0.3 * Xt[:, 1] > 0).astype(int)
    return X, y, flip, Xt, yt


def test_removal_curve_beats_random_for_true_blame():
    X, y, flip, Xt, yt = _noisy()
    X0, y0 = X.copy(), y.copy()
    # a deep tree memorises the flips; removing them lets it fix its test errors
    tree = DecisionTreeClassifier(min_samples_leaf=1, random_state=0)
    rng = np.random.default_rng(1)
    curve = removal_curve(tree, X, y, {"flips": flip, "wrong": rng.permutation(600)[:60]},
                          X_test=Xt, y_test=yt, fractions=[0.05], n_random=3,
                          progress=False, anomalies=np.arange(600), random_state=0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    f = curve.to_frame()
    assert set(f["ranking"]) == {"flips", "wrong", "random"}
    acc = f.set_index("ranking")["test_accuracy"]
    assert acc["flips"] > acc["random"] + 0.02
    assert curve.lift("flips", "test_accuracy").iloc[0] > 0.02


def test_removal_curve_fix_rate_with_suspicious_ranking():
    X, y, flip, Xt, yt = _noisy(seed=2)
    sus = suspicious_rows(LogisticRegression(), X, y, cv=3, random_state=0)
    # anomalies: rows with a clean label that the noisy-trained model may get wrong
    curve = removal_curve(LogisticRegression(), X, y, {"suspicious": sus},
                          X_test=Xt, y_test=yt, fractions=[0.02, 0.07], n_random=2,
                          progress=False, random_state=0)
    f = curve.to_frame()
    assert list(f.columns) == ["ranking", "fraction", "n_removed", "fix_rate", "fix_rate_std",
                               "test_accuracy", "test_accuracy_std"]
    assert (f["n_removed"].isin([12, 42])).all()
    lift = curve.lift("suspicious")
    assert lift.loc[0.07] > 0.1  # flipped rows are the anomalies: removing them "fixes" them
    assert "fixes" in curve.verdicts()["suspicious"]
    assert curve.plot(show=False) is not None
    assert curve.plot("test_accuracy", show=False) is not None
    assert "removal" in curve._repr_html_()


def test_blame_stability():
    X, y, flip, _, _ = _noisy(seed=3)
    res = blame_stability(
        lambda s: suspicious_rows(LogisticRegression(), X, y, cv=3, random_state=s), k=10,
        seeds=[0, 1, 2])
    assert res.tops[0].shape == (10,) and res.overlap.shape == (3, 3)
    assert res.mean_overlap >= 0.7  # the most suspicious rows do not depend on the folds
    assert np.isin(res.stable_rows, flip).all()
    rng = np.random.default_rng(0)
    shaky = blame_stability([rng.permutation(600) for _ in range(4)], k=10)
    assert shaky.mean_overlap < 0.2
    exact = blame_stability([[1, 2, 3], [3, 2, 1]], k=3)
    assert exact.mean_overlap == 1.0 and exact.min_overlap == 1.0
    assert "row" in exact.to_frame().columns
    assert "Top-3" in exact._repr_html_()


def test_summary_flags():
    X, y, flip, Xt, yt = _noisy(seed=4)
    lr = LogisticRegression().fit(X, y)
    sus = suspicious_rows(LogisticRegression(), X, y, cv=3, random_state=0)
    coh = error_cohorts(lr, X, y, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    flags = summary_flags(integrity=integrity_flags(frame, y), cohorts=coh, suspicious=sus,
                          stability=blame_stability([sus.ranking, sus.ranking], k=5))
    assert all(isinstance(f, Flag) and f.level in ("pass", "warn") for f in flags)
    anchors = [f.anchor for f in flags]
    assert "#integrity" in anchors and "#cohorts" in anchors and "#suspicious" in anchors
    sus_flag = flags[anchors.index("#suspicious")]
    assert sus_flag.level == "warn" and str(sus.n_flagged) in sus_flag.message
    assert flags[anchors.index("#stability")].level == "pass"
    assert "<a href='#suspicious'>" in sus_flag._repr_html_()
    assert summary_flags() == []


def test_bad_input():
    X, y, flip, Xt, yt = _noisy()
    lr = LogisticRegression()
    with pytest.raises(TypeError, match="rankings"):
        removal_curve(lr, X, y, [flip])
    with pytest.raises(ValueError, match="reserved"):
        removal_curve(lr, X, y, {"random": flip})
    with pytest.raises(ValueError, match="fractions"):
        removal_curve(lr, X, y, {"a": flip}, fractions=[0.0])
    with pytest.raises(ValueError, match="out of range"):
        removal_curve(lr, X, y, {"a": [10_000]})
    with pytest.raises(ValueError, match="X_test"):
        removal_curve(lr, X, y, {"a": flip}, X_test=Xt)
    with pytest.raises(ValueError, match="at least 2"):
        blame_stability([[1, 2]], k=1)
    with pytest.raises(ValueError, match="fewer than k"):
        blame_stability([[1, 2], [2, 1]], k=5)
    with pytest.raises(ValueError, match="ambiguous_warn"):
        summary_flags(ambiguous_warn=2.0)


def test_summary_flags_protected_attributes_and_systematic():
    from sklearn.preprocessing import StandardScaler

    from shap_debug.audit import systematic_errors
    from shap_debug.datasets import encode, german
    from shap_debug.neighborhood import NeighborhoodModel

    X, y = german()
    Z, enc = encode(X)
    Z = StandardScaler().fit_transform(Z)
    names = enc.feature_names_out_
    lr = LogisticRegression(max_iter=1000).fit(Z, y)
    nbm = NeighborhoodModel(n_neighbors=30).fit(lr, Z, y, feature_names=names, progress=False)
    flags = summary_flags(neighborhood=nbm, protected=("personal_status_sex", "age"),
                          protected_warn=0.0)
    assert [f.anchor for f in flags] == ["#neighborhoods"] * 2
    assert all(f.level == "warn" and "%" in f.message for f in flags)  # threshold 0: warn
    strict = summary_flags(neighborhood=nbm, protected=("age",), protected_warn=1.0)
    assert strict[0].level == "pass"
    with pytest.raises(ValueError, match="unknown feature"):
        summary_flags(neighborhood=nbm, protected=("gender",))
    sysres = systematic_errors(lr, Z, y, {"first half": np.arange(500)}, auto=False, random_state=0)
    line = summary_flags(systematic=sysres)[0]
    assert line.anchor == "#systematic" and line.level in ("pass", "warn")


def test_no_concentration_warning_on_a_handful_of_errors():
    # issue 16 item 5: 143 rows, 6 errors, 4 of them in a 54-row cohort
    group = np.array(["rare"] * 2 + ["young"] * 54 + ["other"] * 87)
    X = pd.DataFrame({"group": pd.Categorical(group)})
    y = np.random.default_rng(0).integers(0, 2, len(group))
    pred = y.copy()
    wrong = np.r_[0, 2, 10, 20, 30, 100]
    pred[wrong] = 1 - pred[wrong]
    coh = error_cohorts(None, X, y, y_pred=pred, random_state=0)
    (flag,) = summary_flags(cohorts=coh)
    assert flag.anchor == "#cohorts" and flag.level == "pass"
    assert "fall in one cohort" not in flag.message and "too few" in flag.message
    # with the error minimum lifted, the cohort is still not significant: no warning
    (flag,) = summary_flags(cohorts=coh, min_errors=1)
    assert flag.level == "pass" and "significantly" in flag.message


def test_concentration_warning_on_a_large_significant_cohort():
    rng = np.random.default_rng(1)
    n = 1000
    X = pd.DataFrame({"shift": pd.Categorical(rng.choice(["day", "night"], n, p=[0.7, 0.3]))})
    y = rng.integers(0, 2, n)
    night = (X["shift"] == "night").to_numpy()
    wrong = np.where(night, rng.random(n) < 0.4, rng.random(n) < 0.02)
    pred = np.where(wrong, 1 - y, y)
    coh = error_cohorts(None, X, y, y_pred=pred, random_state=0)
    top = coh.slices[0]
    assert "night" in top.rule and top.significant and top.error_share >= 0.5
    (flag,) = summary_flags(cohorts=coh)
    assert flag.level == "warn" and "fall in one cohort" in flag.message
    (flag,) = summary_flags(cohorts=coh, concentration_warn=1.0)
    assert flag.level == "pass"
    with pytest.raises(ValueError, match="min_errors"):
        summary_flags(cohorts=coh, min_errors=0)
