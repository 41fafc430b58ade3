"""Influence functions: closed form vs torch, sign vs actual removal, curvatures, Captum,
leave-one-out validation, candidates, neighbourhood bridge and bad input."""

import os
import warnings

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from captum_ext.influence import (
    CURVATURES,
    GRAD_RTOL,
    InfluenceFunction,
    KMostInfluentialResults,
    LOOValidation,
    compare_with_neighborhood,
    knn_candidates,
    loo_validation,
)
from shap_debug.core import ShapDebugWarning

torch.set_num_threads(1)


def _cos(a, b):
    a, b = torch.as_tensor(a).flatten(), torch.as_tensor(b).flatten()
    return float(a @ b / (a.norm() * b.norm()))


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.8 * rng.normal(size=300) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def three_class():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(240, 3))
    y = np.digitize(X[:, 0] + 0.5 * rng.normal(size=240), [-0.5, 0.5])
    return X, y


@pytest.fixture(scope="module")
def tanh_mlp(binary):
    X, y = binary
    mlp = MLPClassifier(hidden_layer_sizes=(6,), activation="tanh", alpha=1.0, solver="lbfgs",
                        max_iter=3000, tol=1e-10, random_state=0).fit(X, y)
    return mlp


def _linear_as_torch(lr, m):
    K = lr.coef_.shape[0]
    lin = torch.nn.Linear(m, K, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(lr.coef_))
    return lin


@pytest.mark.parametrize("data", ["binary", "three_class"])
def test_torch_path_equals_closed_form_logistic(data, request):
    X, y = request.getfixturevalue(data)
    C = 0.7
    lr = LogisticRegression(C=C, fit_intercept=False, tol=1e-12, max_iter=2000).fit(X, y)
    closed = InfluenceFunction(lr, X, y, progress=False)
    net = InfluenceFunction(_linear_as_torch(lr, X.shape[1]), X, y,
                            weight_decay=1.0 / (C * len(X)), progress=False)
    # same objective: scikit-learn's optimum is a stationary point of ours
    assert closed.gradient_norm() < 1e-6
    H1, H2 = closed.curvature_matrix(), net.curvature_matrix()
    assert float((H1 - H2).abs().max() / H1.abs().max()) <= 1e-6
    G1, G2 = closed.train_gradients(), net.train_gradients()
    assert float((G1 - G2).abs().max() / G1.abs().max()) <= 1e-6
    S1, S2 = closed.influence((X[:4], y[:4])), net.influence((X[:4], y[:4]))
    assert float((S1 - S2).abs().max() / S1.abs().max()) <= 1e-6
    s1, s2 = closed.self_influence(), net.self_influence()
    assert float((s1 - s2).abs().max() / s1.abs().max()) <= 1e-6


def test_sign_convention_against_actual_removal(binary):
    """Positive influence = removing the row raises the test loss; checked with sklearn."""
    X, y = binary
    X, y = X[:120], y[:120]
    lr = LogisticRegression(C=1.0, tol=1e-12, max_iter=5000).fit(X, y)
    inf = InfluenceFunction(lr, X, y, progress=False)
    x_t, y_t = X[:1] + 0.3, y[:1]
    scores = inf.influence((x_t, y_t))[0].numpy()
    base = -np.log(lr.predict_proba(x_t)[0, y_t[0]])
    for j in (int(np.argmax(scores)), int(np.argmin(scores))):
        keep = np.arange(len(X)) != j
        lr_j = LogisticRegression(C=1.0, tol=1e-12, max_iter=5000).fit(X[keep], y[keep])
        actual = -np.log(lr_j.predict_proba(x_t)[0, y_t[0]]) - base
        assert np.sign(actual) == np.sign(scores[j])
        assert abs(actual - scores[j]) < 0.25 * abs(actual)


def test_loo_validation_logistic_with_intercept(binary):
    X, y = binary
    lr = LogisticRegression(C=0.5).fit(X, y)
    inf = InfluenceFunction(lr, X, y, progress=False)
    res = loo_validation(inf, (X[:2] + 0.1, y[:2]), k=15, progress=False)
    assert isinstance(res, LOOValidation)
    assert res.pearson.min() > 0.97 and res.spearman.min() > 0.9
    assert np.all((res.slope > 0.8) & (res.slope < 1.25))
    assert res.max_grad < 1e-8
    assert res.to_frame().shape == (2, 4) and res.pairs_frame().shape == (30, 4)
    assert "<table" in res._repr_html_()
    assert res.plot(show=False) is not None


def test_multinomial_loo(three_class):
    X, y = three_class
    lr = LogisticRegression(C=1.0).fit(X, y)
    inf = InfluenceFunction(lr, X, y, progress=False)
    res = loo_validation(inf, (X[:2], y[:2]), k=10, progress=False)
    assert res.pearson.min() > 0.95


def test_curvatures_agree_on_logistic(binary):
    X, y = binary
    lr = LogisticRegression(C=0.5).fit(X, y)
    test = (X[:3], y[:3])
    exact = InfluenceFunction(lr, X, y, progress=False).influence(test)
    for curv in ("cg", "gauss_newton"):
        other = InfluenceFunction(lr, X, y, curvature=curv, progress=False).influence(test)
        assert _cos(exact, other) >= 0.999, curv
    lissa = InfluenceFunction(lr, X, y, curvature="lissa", lissa_depth=500,
                              progress=False).influence(test)
    assert torch.isfinite(lissa).all() and _cos(exact, lissa) > 0.98
    for curv in ("fisher", "identity"):
        other = InfluenceFunction(lr, X, y, curvature=curv, progress=False).influence(test)
        assert 0.5 < _cos(exact, other) < 0.9999, curv


def test_mlp_front_end_and_curvatures(binary, tanh_mlp):
    X, y = binary
    inf = InfluenceFunction(tanh_mlp, X, y, damping=1e-4, progress=False)
    assert np.allclose(inf.predict_proba(X), tanh_mlp.predict_proba(X), atol=1e-12)
    test = (X[:3], y[:3])
    exact = inf.influence(test)
    cg = InfluenceFunction(tanh_mlp, X, y, damping=1e-4, curvature="cg",
                           progress=False).influence(test)
    assert _cos(exact, cg) >= 0.999
    for curv in ("gauss_newton", "lissa", "fisher"):
        other = InfluenceFunction(tanh_mlp, X, y, damping=1e-4, curvature=curv,
                                  lissa_depth=400, progress=False).influence(test)
        assert torch.isfinite(other).all(), curv
        assert _cos(exact, other) > 0.7, curv
    last = InfluenceFunction(tanh_mlp, X, y, last_layer=True, progress=False)
    assert last._problem.names == ["2.weight", "2.bias"]
    assert last.influence(test).shape == (3, len(X))


def test_mlp_loo(binary, tanh_mlp):
    X, y = binary
    inf = InfluenceFunction(tanh_mlp, X, y, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShapDebugWarning)  # sklearn's lbfgs stops early
        res = loo_validation(inf, (X[:2], y[:2]), k=12, progress=False)
    assert res.max_grad < 1e-8
    assert res.mean_spearman > 0.7 and res.pearson.min() > 0.8


def test_lissa_never_nan_and_guards():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = rng.integers(0, 2, 80)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=2.0)
    # far from an optimum the Hessian is indefinite: a clear error, never NaN
    with pytest.raises(ValueError, match="damping"):
        InfluenceFunction(net, X, y, curvature="lissa", progress=False).influence((X[:2], y[:2]))
    inf = InfluenceFunction(net, X, y, curvature="lissa", damping=5.0, lissa_depth=300,
                            progress=False)
    out = inf.influence((X[:2], y[:2]))
    assert torch.isfinite(out).all()
    ref = InfluenceFunction(net, X, y, curvature="exact", damping=5.0,
                            progress=False).influence((X[:2], y[:2]))
    assert _cos(out, ref) > 0.95
    with pytest.raises(ValueError, match="lissa_scale"):
        InfluenceFunction(net, X, y, curvature="lissa", damping=5.0, lissa_scale=0.1,
                          progress=False).influence((X[:2], y[:2]))


def test_agrees_with_captum_naive_influence(tmp_path):
    from captum.influence import NaiveInfluenceFunction
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    n = 40
    X = torch.randn(n, 3, dtype=torch.float64)
    y = (X[:, 0] + 0.5 * torch.randn(n, dtype=torch.float64) > 0).long()
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                              torch.nn.Linear(4, 2)).double()
    opt = torch.optim.LBFGS(net.parameters(), max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(X), y) + 1e-2 * sum(
            (p ** 2).sum() for p in net.parameters())
        loss.backward()
        return loss

    opt.step(closure)
    ck = os.path.join(tmp_path, "model.pt")
    torch.save(net.state_dict(), ck)
    n_params = sum(p.numel() for p in net.parameters())
    reg = 5.0  # damps H_sum enough to be positive definite (Captum drops negative eigenvalues)
    captum = NaiveInfluenceFunction(
        net, DataLoader(TensorDataset(X, y), batch_size=n), ck,
        loss_fn=torch.nn.CrossEntropyLoss(reduction="none"), batch_size=n,
        projection_dim=n_params, hessian_reg=reg, hessian_inverse_tol=1e-12)
    ours = InfluenceFunction(net, X, y, damping=reg / n, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShapDebugWarning)
        mine = ours.influence((X[:5], y[:5]))
    theirs = captum.influence((X[:5], y[:5]))
    assert float((mine - theirs).abs().max()) <= 1e-5
    top_c = captum.influence((X[:5], y[:5]), k=3)
    top_o = ours.influence((X[:5], y[:5]), k=3)
    assert torch.equal(top_c.indices, top_o.indices)


def test_k_most_influential_and_candidates(binary):
    X, y = binary
    lr = LogisticRegression().fit(X, y)
    inf = InfluenceFunction(lr, X, y, progress=False)
    test = (X[:2], y[:2])
    full = inf.influence(test)
    top = inf.influence(test, k=5)
    assert isinstance(top, KMostInfluentialResults)
    idx, sc = top  # unpacks like Captum's
    assert torch.equal(sc, full.gather(1, idx))
    assert torch.all(sc[:, :-1] >= sc[:, 1:])
    opp = inf.influence(test, k=5, proponents=False)
    assert torch.all(opp.influence_scores[:, 0] == full.min(1).values)
    cand = np.arange(50, 120)
    part = inf.influence(test, candidates=cand)
    assert torch.isnan(part[:, :50]).all()
    assert torch.allclose(part[:, cand], full[:, cand])
    topc = inf.influence(test, k=3, candidates=cand)
    assert np.isin(topc.indices.numpy(), cand).all()
    per = [np.array([1, 2, 3]), np.array([7, 8, 9, 10])]
    assert np.isin(inf.influence(test, k=2, candidates=per).indices[1].numpy(), per[1]).all()
    knn = inf.influence(test, k=3, candidates="knn", n_candidates=20)
    near = knn_candidates(X, X[:2], 20)
    assert all(np.isin(knn.indices[i].numpy(), near[i]).all() for i in range(2))
    frame = top.to_frame()
    assert list(frame.columns) == ["test", "rank", "train_index", "influence"]
    assert "<table" in top._repr_html_()
    assert top.plot(show=False) is not None


def test_self_influence_finds_flipped_labels():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    flipped = rng.choice(400, 20, replace=False)
    y[flipped] = 1 - y[flipped]
    lr = LogisticRegression().fit(X, y)
    si = InfluenceFunction(lr, X, y, progress=False).self_influence().numpy()
    assert (si >= 0).all()
    hits = np.isin(np.argsort(-si)[:20], flipped).mean()
    assert hits >= 0.6


def test_real_data_adult_logistic():
    from shap_debug.datasets import adult, encode

    Xdf, y = adult()
    rng = np.random.default_rng(0)
    rows = rng.choice(len(Xdf), 1500, replace=False)
    Z, enc = encode(Xdf.iloc[rows], kind="onehot")
    Z = (Z - Z.mean(0)) / np.where(Z.std(0) > 0, Z.std(0), 1.0)
    yy = y[rows]
    lr = LogisticRegression(C=0.1).fit(Z, yy)
    inf = InfluenceFunction(lr, Z, yy, progress=False)
    loss = -np.log(lr.predict_proba(Z)[np.arange(len(yy)), yy])
    worst = np.argsort(-loss)[:1]
    res = loo_validation(inf, (Z[worst], yy[worst]), k=10, progress=False)
    assert res.pearson[0] > 0.95


def test_compare_with_neighborhood(binary):
    X, y = binary
    lr = LogisticRegression().fit(X, y)
    inf = InfluenceFunction(lr, X, y, progress=False)
    queries = np.array([0, 5])
    scores = inf.influence((X[queries], lr.predict(X[queries])))
    own = []
    for i, q in enumerate(queries):
        s = scores[i].clone()
        s[q] = -np.inf
        own.append(np.argsort(-s.numpy())[:8])
    same = compare_with_neighborhood(inf, queries, own, flip=False, progress=False)
    assert np.allclose(same.overlap, 1.0)
    knn = [np.argsort(((X - X[q]) ** 2).sum(1))[1:9] for q in queries]
    res = compare_with_neighborhood(inf, queries, knn, progress=False)
    assert ((res.overlap >= 0) & (res.overlap <= 1)).all()
    assert set(res.flip_influence.tolist()) <= {True, False}
    assert set(res.summary()) >= {"mean_overlap", "flip_rate_influence", "flip_rate_random"}

    class Neigh:
        def neighbors(self, i):
            return type("N", (), {"indices": knn[list(queries).index(i)]})()

    via_model = compare_with_neighborhood(inf, queries, Neigh(), flip=False, progress=False)
    assert np.allclose(via_model.overlap, res.overlap)
    assert res.plot(show=False) is not None and "<table" in res._repr_html_()


def test_bad_input(binary, tanh_mlp):
    X, y = binary
    lr = LogisticRegression().fit(X, y)
    relu = MLPClassifier(hidden_layer_sizes=(3,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        relu.fit(X, y)
    with pytest.raises(ValueError, match="twice differentiable"):
        InfluenceFunction(relu, X, y, curvature="exact")
    InfluenceFunction(relu, X, y, curvature="gauss_newton", progress=False)  # fine
    with pytest.raises(ValueError, match="never seen"):
        InfluenceFunction(lr, X, y, progress=False).influence((X[:1], np.array([7])))
    with pytest.raises(ValueError, match="damping"):
        InfluenceFunction(lr, X, y, damping=-1.0)
    with pytest.raises(ValueError, match="larger than the number of training rows"):
        InfluenceFunction(lr, X, y, progress=False).influence((X[:1], y[:1]), k=len(X) + 1)
    with pytest.raises(ValueError, match="twice differentiable"):
        InfluenceFunction(LogisticRegression(l1_ratio=1.0, solver="saga").fit(X, y), X, y)
    with pytest.raises(TypeError, match="differentiable model"):
        InfluenceFunction(RandomForestClassifier(n_estimators=3).fit(X, y), X, y)
    with pytest.raises(TypeError, match="tuple"):
        InfluenceFunction(lr, X, y, progress=False).influence(X[:1])
    with pytest.raises(ValueError, match="curvature"):
        InfluenceFunction(lr, X, y, curvature="newton")
    with pytest.raises(ValueError, match="cg"):
        InfluenceFunction(lr, X, y, curvature="exact", max_dense_params=2)


def test_inputs_not_modified(binary):
    X, y = binary
    X0, y0 = X.copy(), y.copy()
    lr = LogisticRegression().fit(X, y)
    inf = InfluenceFunction(lr, X, y, progress=False)
    inf.influence((X[:2], y[:2]), k=3)
    loo_validation(inf, (X[:1], y[:1]), k=3, progress=False)
    assert np.array_equal(X, X0) and np.array_equal(y, y0)
    assert np.array_equal(lr.coef_, LogisticRegression().fit(X0, y0).coef_)


def test_loo_parallel_matches_serial(binary):
    X, y = binary
    lr = LogisticRegression(C=0.5, tol=1e-10, max_iter=1000).fit(X, y)
    inf = InfluenceFunction(lr, X, y, progress=False)
    a = loo_validation(inf, (X[:2], y[:2]), k=6, progress=False)
    b = loo_validation(inf, (X[:2], y[:2]), k=6, n_jobs=2, progress=False)
    assert np.array_equal(a.train_indices, b.train_indices)
    assert np.allclose(a.actual, b.actual, rtol=1e-8, atol=1e-14)


def test_refit_matrix_free_path_converges(binary):
    """Above max_dense_params refits use L-BFGS + Newton-CG without a dense preconditioner."""
    X, y = binary
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    inf = InfluenceFunction(net, X, y, curvature="cg", weight_decay=1e-2, damping=1e-3,
                            max_dense_params=5, progress=False)
    theta = inf.refit(tol=1e-9)
    assert inf.gradient_norm(theta) <= 1e-9
    w = np.ones(len(X))
    w[0] = 0.0
    theta0 = inf.refit(sample_weight=w, init=theta, tol=1e-9)
    moved = inf.at(theta).influence((X[:1], y[:1]))
    assert torch.isfinite(moved).all() and not torch.equal(theta0, theta)


def _mislabelled_row_data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    bad = int(np.argmax(X[:, 0] + X[:, 1]))  # deep inside class 1, labelled 0
    y[bad] = 0
    near = np.argsort(-(X[:, 0] + X[:, 1]))[1:4]  # its nearest class-1 neighbours
    return X, y, bad, near


def test_not_converged_model_warns_for_every_curvature():
    """Issue 16.12: a ReLU MLP after two SGD epochs ranked an injected mislabelled row as the
    top proponent of its neighbours' predictions with curvature='gauss_newton', silently."""
    X, y, bad, near = _mislabelled_row_data()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 2)).double()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    for _ in range(2):
        for s in range(0, len(X), 32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(Xt[s:s + 32]), yt[s:s + 32]).backward()
            opt.step()
    with pytest.warns(ShapDebugWarning, match=r"not at an optimum.*gradient norm.*threshold"):
        inf = InfluenceFunction(net, X, y, curvature="gauss_newton", damping=1e-3,
                                weight_decay=1e-2, progress=False)
    assert inf.grad_norm_ > 100 * GRAD_RTOL * inf.grad_scale_
    for curv in CURVATURES:
        with pytest.warns(ShapDebugWarning, match="Train longer"):
            InfluenceFunction(net, X, y, curvature=curv, damping=1e-3, allow_nonsmooth=True,
                              progress=False)
    # the advice works: re-converged, no warning, and the mislabelled row no longer leads
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShapDebugWarning)
        conv = inf.at(inf.refit(tol=1e-9))
    assert conv.grad_norm_ <= GRAD_RTOL * conv.grad_scale_
    pred = conv.predict_proba(X[near]).argmax(1)
    assert bad not in conv.influence((X[near], pred), k=1).indices.numpy()


def test_converged_model_does_not_warn():
    X, y, _, _ = _mislabelled_row_data()
    lr = LogisticRegression(tol=1e-10, max_iter=1000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShapDebugWarning)
        for curv in CURVATURES:
            inf = InfluenceFunction(lr, X, y, curvature=curv, progress=False)
            assert inf.grad_norm_ <= GRAD_RTOL * inf.grad_scale_
