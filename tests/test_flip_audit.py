"""Tests of captum_ext.flip_audit: individual report, group audit, dependency, augmentation."""

import numpy as np
import pandas as pd
import pytest
import shap
import torch
from sklearn.neural_network import MLPClassifier

from captum_ext.flip_audit import (
    augment_with_flip_points,
    feature_dependency,
    group_audit,
    individual_report,
)
from captum_ext.flip_points import FlipPoints

from _data import linear_net

torch.set_num_threads(1)


def test_individual_report_single_pairs_groups_known_answers():
    # z1 - z0 = x0 + x1 - 3 (x2 ignored): x = (1, 1, 5) needs +1 in total
    net = linear_net(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]), np.array([3.0, 0.0]))
    data = np.array([[0.0, 0.0, 0.0], [1.5, 3.0, 9.0]])
    fp = FlipPoints(net, data=data, feature_names=["a", "b", "c"], progress=False)
    rep = individual_report(fp, np.array([1.0, 1.0, 5.0]), feature_groups={"ab": ["a", "b"]})
    assert rep.flip.status[0] == "exact"
    assert abs(rep.flip.distance[0] - 1 / np.sqrt(2)) < 1e-6
    s = rep.singles.set_index("features")
    assert s.loc["a", "can_flip"] and s.loc["b", "can_flip"] and not s.loc["c", "can_flip"]
    assert abs(s.loc["a", "distance"] - 1.0) < 1e-6
    # a must reach 2 but the training data stop at 1.5: flagged
    assert s.loc["a", "outside_range"] and not s.loc["b", "outside_range"]
    assert "no flip point in this subspace" in s.loc["c", "change"]
    p = rep.pairs.set_index("features")
    assert p["can_flip"].to_dict() == {"a + b": True, "a + c": True, "b + c": True}
    assert rep.groups.iloc[0]["can_flip"]
    text = rep.to_text()
    assert "c" in text and "outside the training range" in text
    assert set(rep.to_frame()["kind"]) == {"single", "pair", "group"}
    assert rep.plot(show=False).get_title()
    assert "<table" in rep._repr_html_()


def test_individual_report_on_adult_with_labels():
    from shap_debug.datasets import adult, encode

    Xr, y = adult()
    Xr, y = Xr.iloc[:1200], y[:1200]
    Z, enc = encode(Xr, kind="onehot")
    mlp = MLPClassifier((12,), max_iter=150, random_state=0)
    num = [enc.groups_[c][0] for c in enc.columns_ if c not in enc.categories_]
    mu, sd = Z[:, num].mean(0), Z[:, num].std(0)

    def scale(A):
        A = A.copy()
        A[:, num] = (A[:, num] - mu) / sd
        return A

    def decode(A):
        A = A.copy()
        A[:, num] = A[:, num] * sd + mu
        return enc.inverse_transform(A)

    Zs = scale(Z)
    mlp.fit(Zs, y)
    fp = FlipPoints(mlp, data=Zs, feature_names=enc.feature_names_out_, progress=False)
    rep = individual_report(fp, Zs[3], encoder=enc, decode=decode, pairs=False,
                            immutable=enc.groups_["sex"] + enc.groups_["race"])
    assert set(rep.singles["features"]) == set(enc.columns_) - {"sex", "race"}
    assert rep.flip.valid[0]
    # category labels are shown, not one-hot columns
    cats = rep.changes[rep.changes["feature"].isin(list(enc.categories_))]
    for _, r in cats.iterrows():
        assert r["flip_value"] in enc.categories_[r["feature"]]


def test_group_audit_ranks_the_only_relevant_feature_first():
    # only features 0 (strongly) and 2 (weakly) matter
    W = np.array([[0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.5, 0.0]])
    net = linear_net(W, np.zeros(2))
    X = torch.as_tensor(np.random.default_rng(0).normal(size=(40, 4)))
    audit = group_audit(FlipPoints(net, progress=False, feature_names=list("abcd")), X,
                        protected="d")
    df = audit.to_frame()
    assert df.iloc[0]["feature"] == "a" and audit.rank_of("a") == 1
    assert audit.rank_of("c") == 2 and audit.rank_of("a", by="pca") == 1
    assert np.allclose(audit.change_rate[[1, 3]], 0) and np.allclose(audit.change_rate[[0, 2]], 1)
    assert audit.protected_changed == 0
    # class 0 rows move up, class 1 rows move down
    up = (X.numpy()[:, 0] * 3 + 0.5 * X.numpy()[:, 2] < 0).mean()
    assert abs(audit.increase_rate[0] - up) < 1e-12
    assert audit.explained > 0.99
    exp = audit.as_explanation()
    assert isinstance(exp, shap.Explanation) and exp.values.shape == (40, 4)
    shap.plots.bar(exp, show=False)  # the flip directions summarise like attributions
    assert np.allclose(np.abs(exp.values).mean(0)[[1, 3]], 0)
    assert audit.plot(show=False) is not None
    assert "Group flip-point audit" in audit._repr_html_()
    # a protected attribute that does move
    audit2 = group_audit(audit.result, protected="a")
    assert audit2.protected_changed == 40
    with pytest.raises(TypeError):
        group_audit(audit.result, X)
    with pytest.raises(ValueError, match="unknown feature"):
        group_audit(audit.result, protected="zz")


def test_feature_dependency_finds_copies_and_onehot_levels():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(100, 3))
    oh = np.eye(3)[rng.integers(0, 3, 100)]
    X = pd.DataFrame(np.c_[A, A[:, 0] - 2 * A[:, 1], oh],
                     columns=["a", "b", "c", "a-2b", "k=x", "k=y", "k=z"])
    dep = feature_dependency(X)
    assert dep.rank == 5
    assert len(dep.dependent) == 2
    assert len({"a", "b", "a-2b"} & set(dep.dependent)) == 1
    assert len({"k=x", "k=y", "k=z"} & set(dep.dependent)) == 1
    assert dep.condition > 1e8 and dep.condition_independent < 100
    assert dep.to_frame()["dependent"].sum() == 2
    assert dep.plot(show=False) is not None and "rank 5" in dep._repr_html_()


def test_augment_with_flip_points_reports_before_and_after():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + X[:, 1] + 0.3 * rng.normal(size=400) > 0).astype(int)
    X0 = X.copy()
    mlp = MLPClassifier((8,), max_iter=300, random_state=0).fit(X[:300], y[:300])
    res = augment_with_flip_points(mlp, X[:300], y[:300], X[300:], y[300:], "age",
                                   feature_names=["age", "b", "c"], audit_rows=40)
    assert np.array_equal(X, X0)
    # default rows: the correctly classified ones (issue 27: misclassified rows' flip points
    # taught the model to lean more on the feature)
    assert res.n_rows == int((mlp.predict(X[:300]) == y[:300]).sum())
    assert 0 < res.n_added <= res.n_rows
    assert 0.5 < res.accuracy_before <= 1 and 0.5 < res.accuracy_after <= 1
    assert 1 <= res.rank_before <= 3 and 1 <= res.rank_after <= 3
    frame = res.to_frame()
    assert frame.shape == (5, 2)
    assert res.plot(show=False) is not None and "test accuracy" in res._repr_html_()
    # the refitted model saw the added points
    assert res.model_after is not mlp


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparser_change_honours_immutable_and_finds_the_planted_pair(seed):
    from captum_ext.flip_audit import sparser_change

    # g = a.x - b on the box [-1, 1]^5 from x = 0: no single feature can reach b, any two of
    # the movable ones can; one randomly chosen feature (the strongest) is immutable
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.8, 1.2, size=5)
    frozen = int(rng.integers(0, 5))
    a[frozen] = 2.0  # the most useful feature, which must not move
    b = 0.5 * (a[np.arange(5) != frozen].max() + np.sort(a[np.arange(5) != frozen])[:2].sum())
    net = torch.nn.Linear(5, 2).double()
    with torch.no_grad():
        net.weight.copy_(torch.as_tensor(np.vstack([np.zeros(5), a])))
        net.bias.copy_(torch.tensor([0.0, -b], dtype=torch.float64))
    fp = FlipPoints(net, progress=False)
    x = np.zeros(5)
    res = sparser_change(fp, x, bounds=(-1.0, 1.0), immutable=[frozen], k=4)
    assert res.n_changed == 4 and res.verdict == "pair"
    assert not res.singles["can_flip"].any()
    assert len(res.pairs) == 6 and res.pairs["can_flip"].all()
    assert all(f"Feature {frozen}" not in p for p in res.pairs["features"])
    assert np.abs(res.report.flip.x_hat[0, frozen]) == 0.0
    assert res.best["n_features"] == 2
    # the pair with the two largest coefficients is the closest
    top2 = sorted(np.argsort(-np.where(np.arange(5) == frozen, -np.inf, a))[:2])
    assert set(res.best["features"].split(" + ")) == {f"Feature {j}" for j in top2}
    # without immutable the frozen feature flips alone... if its coefficient reaches b
    free = sparser_change(fp, x, bounds=(-1.0, 1.0))
    assert free.verdict in ("single", "already_sparse")
    assert res.to_frame()["n_features"].tolist() == sorted(res.to_frame()["n_features"])
    with pytest.raises(ValueError, match="contributions"):
        sparser_change(fp, x, contributions=np.ones(3))


def _credit_case(seed, n=3000):
    """Outcome from x1, x2 only; 70 % of the young training rows labelled 0 dropped, so the
    trained model learns a spurious 'young -> 1' that augmentation should undo."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    age = rng.uniform(-1.7, 1.7, size=n)
    y = (x1 + 0.5 * x2 + 0.5 * rng.normal(size=n) > 0).astype(int)
    X = np.column_stack([x1, x2, age])
    tr = np.arange(n) < 2000
    drop = tr & (age < -0.5) & (y == 0) & (rng.uniform(size=n) < 0.7)
    return X[tr & ~drop], y[tr & ~drop], X[~tr], y[~tr]


def _reliance(model, X, j=2, h=1e-3):
    Xp = X.copy()
    Xp[:, j] += h
    return float(np.mean(np.abs(model.predict_proba(Xp)[:, 1] - model.predict_proba(X)[:, 1])) / h)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_augmentation_never_increases_reliance_on_the_feature(seed):
    from sklearn.linear_model import LogisticRegression

    Xtr, ytr, Xte, yte = _credit_case(seed)
    lr = LogisticRegression().fit(Xtr, ytr)
    res = augment_with_flip_points(lr, Xtr, ytr, Xte, yte, 2, max_rows=600, audit_rows=60,
                                   random_state=seed)
    before, after = _reliance(lr, Xte), _reliance(res.model_after, Xte)
    assert after < 0.85 * before
    assert res.accuracy_after >= res.accuracy_before - 0.01
    assert set(res.directions) == {0, 1} and res.directions[0] == -res.directions[1]
    assert res.label == "same" and res.n_added > 0
    # what the old default did (misclassified rows, no direction filter) raises it
    wrong = np.flatnonzero(lr.predict(Xtr) != ytr)
    old = augment_with_flip_points(lr, Xtr, ytr, Xte, yte, 2, rows=wrong, directions=None,
                                   audit_rows=60, random_state=seed)
    assert _reliance(old.model_after, Xte) > before
    # the flip label (1/2, 1/2): every point added once per class
    half = augment_with_flip_points(lr, Xtr, ytr, Xte, yte, 2, max_rows=100, audit_rows=30,
                                    label="half", random_state=seed)
    assert half.n_added % 2 == 0 and half.label == "half"
    with pytest.raises(ValueError, match="directions"):
        augment_with_flip_points(lr, Xtr, ytr, Xte, yte, 2, directions={0: 2})
    with pytest.raises(ValueError, match="label"):
        augment_with_flip_points(lr, Xtr, ytr, Xte, yte, 2, label="soft")
