"""Tests of captum_ext.flip_points: closed-form answers, brute force, constraints, verifier."""

import html

import numpy as np
import pytest
import shap
import torch
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from captum_ext.bridge import SklearnForward
from captum_ext.flip_points import FlipPoints, FlipResult, mlp_to_torch

from _data import linear_net

torch.set_num_threads(1)


@pytest.mark.parametrize("method", ["slsqp", "projection"])
def test_linear_closed_form(method):
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(2, 5)), rng.normal(size=2)
    X = torch.as_tensor(rng.normal(size=(25, 5)))
    res = FlipPoints(linear_net(W, b), progress=False).find(X, method=method)
    a, c0 = W[0] - W[1], b[0] - b[1]
    expected = np.abs(X.numpy() @ a + c0) / np.linalg.norm(a)
    assert np.abs(res.distance - expected).max() < 1e-6
    assert (res.status == "exact").all()
    # the flip point is the orthogonal projection onto the hyperplane
    proj = X.numpy() - ((X.numpy() @ a + c0) / (a @ a))[:, None] * a
    assert np.abs(res.x_hat - proj).max() < 1e-6


def test_two_layer_tanh_network_closed_form():
    # logit difference z1 - z0 = 2 tanh(w.x + 0.3) - 1: the boundary is w.x + 0.3 = atanh(0.5)
    w = np.array([1.0, -2.0, 0.5])
    net = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Tanh(), torch.nn.Linear(1, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(w[None]))
        net[0].bias.fill_(0.3)
        net[2].weight.copy_(torch.tensor([[0.0], [2.0]]))
        net[2].bias.copy_(torch.tensor([0.0, -1.0]))
    X = np.random.default_rng(1).normal(size=(20, 3))
    res = FlipPoints(net, progress=False).find(torch.tensor(X, dtype=torch.float32))
    expected = np.abs(X @ w + 0.3 - np.arctanh(0.5)) / np.linalg.norm(w)
    assert np.abs(res.distance - expected).max() < 1e-6
    assert (res.status == "exact").all()


class _AbsNet(torch.nn.Module):
    """Two ReLU units: class 1 iff |x_0| > 1, so the flip distance is 1 - |x_0| inside."""

    def forward(self, x):
        h = torch.relu(x[:, :1]) + torch.relu(-x[:, :1])
        return torch.cat([torch.ones_like(h), h], dim=1)


def test_relu_network_closed_form():
    X = np.array([[0.3, 2.0], [-0.6, 1.0], [0.95, -4.0]])
    res = FlipPoints(_AbsNet(), progress=False).find(torch.tensor(X))
    assert np.abs(res.distance - (1 - np.abs(X[:, 0]))).max() < 1e-6
    assert np.abs(res.x_hat[:, 1] - X[:, 1]).max() < 1e-9


def _grid(lo, hi, k=401):
    g = np.linspace(lo, hi, k)
    return np.stack(np.meshgrid(g, g), -1).reshape(-1, 2), g[1] - g[0]


def test_decision_tree_exact_matches_brute_force_grid():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, size=(300, 2))
    y = ((X[:, 0] > 4) & (X[:, 1] > 3)).astype(int) + (X[:, 0] > 8)
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    res = FlipPoints(tree, progress=False).find(X[:12])
    assert res.method == "tree-exact" and (res.status == "exact").all()
    G, h = _grid(-1, 11)
    pg = tree.predict(G)
    pred = tree.predict(X[:12])
    for i in range(12):
        grid_best = np.linalg.norm(G[pg != pred[i]] - X[i], axis=1).min()
        assert res.distance[i] <= grid_best + 1e-9
        assert res.distance[i] >= grid_best - h * np.sqrt(2)
        assert tree.predict(res.x_hat[i:i + 1])[0] == res.target_class[i] != pred[i]
    # a given target class: the closest point of that class
    t = np.where(pred == 0, 2, 0)
    res_t = FlipPoints(tree, progress=False).find(X[:12], target=t)
    assert (tree.predict(res_t.x_hat) == t).all()
    for i in range(12):
        grid_best = np.linalg.norm(G[pg == t[i]] - X[i], axis=1).min()
        assert grid_best - h * np.sqrt(2) <= res_t.distance[i] <= grid_best + 1e-9


def test_three_class_network_target_and_ordering():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))
    X = torch.randn(20, 4)
    with torch.no_grad():
        z = net(X).double().numpy()
    c = z.argmax(1)
    t = (c + 1) % 3
    fp = FlipPoints(net, progress=False)
    res = fp.find(X, target=t)
    assert res.valid.mean() >= 0.9
    ok = res.valid
    with torch.no_grad():
        zh = net.double()(torch.as_tensor(res.x_hat[ok])).numpy()
    ar = np.arange(ok.sum())
    assert np.abs(zh[ar, c[ok]] - zh[ar, t[ok]]).max() < 1e-5
    third = 3 - c[ok] - t[ok]
    assert (zh[ar, third] <= zh[ar, t[ok]] + 1e-6).all()
    assert (res.target_class == t).all()
    # target=None: the closest over both other classes, never farther than a fixed target
    res_any = fp.find(X)
    both = ok & res_any.valid
    assert (res_any.distance[both] <= res.distance[both] + 1e-6).all()


def test_three_class_linear_inactive_third_class_closed_form():
    W = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    b = np.array([0.0, 0.0, -100.0])
    X = np.array([[2.0, 0.5], [1.0, -1.0]])
    res = FlipPoints(linear_net(W, b), progress=False).find(torch.tensor(X), target=1)
    assert np.abs(res.distance - np.abs(X[:, 0] - X[:, 1]) / np.sqrt(2)).max() < 1e-6


def _small_mixed(seed=0, n=16):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    rng = np.random.default_rng(seed)
    X = np.hstack([rng.normal(size=(n, 2)), rng.integers(0, 5, size=(n, 1)),
                   np.eye(3)[rng.integers(0, 3, n)]])
    return net, X


def test_constraints_onehot_integer_immutable_and_inputs_untouched():
    net, X = _small_mixed()
    X0 = X.copy()
    fp = FlipPoints(net, data=X, progress=False, feature_names=list("abcdef"))
    res = fp.find(X, integer=["c"], onehot_groups={"cat": ["d", "e", "f"]}, immutable=["b"],
                  bounds=(-3.0, 5.0))
    assert np.array_equal(X, X0)
    ok = res.valid
    assert ok.sum() >= 5
    H = res.x_hat[ok]
    assert np.array_equal(H[:, 1], X[ok, 1])  # immutable never moves
    assert np.array_equal(H[:, 2], np.rint(H[:, 2]))  # integers stay integers
    assert set(np.unique(H[:, 3:])) <= {0.0, 1.0} and (H[:, 3:].sum(axis=1) == 1).all()
    assert (H >= -3).all() and (H <= 5).all()
    with torch.no_grad():
        pred = net.double()(torch.as_tensor(H)).numpy()
    # each verified point is tied or already of the target class
    tied = np.abs(pred[:, 0] - pred[:, 1]) < 1e-5
    assert (tied | (pred.argmax(1) == res.target_class[ok])).all()
    assert set(res.status) <= {"exact", "approximate", "infeasible", "failed"}


def test_free_subset_that_cannot_flip_is_reported_not_raised():
    net = linear_net(np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros(2))
    res = FlipPoints(net, progress=False).find(np.array([[1.0, 0.0], [2.0, 3.0]]), features=[1])
    assert (res.status == "infeasible").all()
    assert all("no flip point in this subspace" in m for m in res.message)
    assert np.isnan(res.distance).all()
    # with the useful feature free it flips at x_0 = 0
    res2 = FlipPoints(net, progress=False).find(np.array([[1.0, 0.0]]), features=[0])
    assert res2.status[0] == "exact" and abs(res2.distance[0] - 1.0) < 1e-9


def test_bounds_can_make_a_row_infeasible():
    net = linear_net(np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros(2))
    res = FlipPoints(net, progress=False).find(np.array([[1.0, 0.0]]), bounds=([0.5, -1.0], [2.0, 1.0]))
    assert res.status[0] == "infeasible"


def test_verifier_rejects_wrong_points():
    W, b = np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros(2)
    fp = FlipPoints(linear_net(W, b), progress=False)
    X = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 1.0]])
    good = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    wrong = np.array([[0.5, 0.0],  # not on the boundary, same class
                      [0.0, 7.0],  # on the boundary but not the closest (not stationary)
                      [0.0, 1.0]])
    v_good = fp.verify(X, good)
    assert (v_good.status == "exact").all()
    v = fp.verify(X, wrong, immutable=None)
    assert v.status[0] == "failed" and "not on the boundary" in v.message[0]
    assert np.isnan(v.x_hat[0]).all()
    assert v.status[1] == "approximate" and v.stationarity[1] > 1e-3
    v_imm = fp.verify(X, good, immutable=[0])
    assert (v_imm.status == "failed").all() and "fixed feature" in v_imm.message[0]


def test_bad_inputs_raise_clear_errors():
    net = linear_net(np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros(2))
    fp = FlipPoints(net, progress=False)
    X = np.array([[1.0, 0.0]])  # predicted class 0
    with pytest.raises(ValueError, match="flip_to equals the predicted class"):
        fp.find(X, flip_to=0)
    with pytest.raises(ValueError, match="bounds exclude the inputs"):
        fp.find(X, bounds=(2.0, 3.0))
    with pytest.raises(ValueError, match="not one-hot"):
        fp.find(np.array([[1.0, 0.3, 0.7]]) @ np.eye(3)[:, :3], onehot_groups=[[1, 2]])
    with pytest.raises(ValueError, match="batch dimension"):
        fp.find(np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="target must be a class index"):
        fp.find(X, target=5)
    with pytest.raises(ValueError, match="unknown feature"):
        fp.find(X, features=["nope"])
    with pytest.raises(TypeError, match="forward_func"):
        FlipPoints(42)
    with pytest.raises(ValueError, match="method"):
        fp.find(X, method="magic")


def test_attribute_keeps_input_structure_and_result_views():
    torch.manual_seed(0)

    class TwoInputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(6, 2)

        def forward(self, a, b):
            return self.lin(torch.cat([a.flatten(1), b], dim=1))

    a, b = torch.randn(5, 2, 2), torch.randn(5, 2)
    a0 = a.clone()
    fp = FlipPoints(TwoInputs(), progress=False)
    da, db = fp.attribute((a, b))
    assert da.shape == a.shape and db.shape == b.shape and da.dtype == a.dtype
    assert torch.equal(a, a0)
    res = fp.find((a, b))
    assert isinstance(res, FlipResult)
    exp = res.as_explanation()
    assert isinstance(exp, shap.Explanation) and exp.values.shape == (5, 6)
    frame = res.to_frame()
    assert list(frame["status"]) == list(res.status)
    assert len(res.changes(0)) >= 1
    ax = res.plot(show=False)
    assert ax.get_title().startswith("Flip points")
    fp_named = FlipPoints(linear_net(np.eye(2), np.zeros(2)), progress=False,
                          feature_names=["<b>x</b>", "y"])
    out = fp_named.find(np.array([[2.0, 1.0]]))._repr_html_()
    assert "<b>x</b>" not in out and "Flip points" in out
    assert html.escape("exact") in out


def test_sklearn_paths_mlp_fd_and_ensemble():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    mlp = MLPClassifier((8,), max_iter=400, random_state=0).fit(X, y)
    net = mlp_to_torch(mlp)
    with torch.no_grad():
        logit = net(torch.as_tensor(X[:5])).numpy().ravel()
    p = 1 / (1 + np.exp(-logit))
    assert np.allclose(p, mlp.predict_proba(X[:5])[:, 1])
    res = FlipPoints(SklearnForward(mlp), progress=False).find(X[:10])
    assert res.method == "gradient" and res.valid.all()
    assert (mlp.predict(res.x_hat + 1e-3 * (res.x_hat - X[:10])) != mlp.predict(X[:10])).all()

    lr = LogisticRegression().fit(X, y)
    res_lr = FlipPoints(lr, progress=False).find(X[:10])
    assert res_lr.method == "finite-difference"
    expected = np.abs(lr.decision_function(X[:10])) / np.linalg.norm(lr.coef_)
    assert np.abs(res_lr.distance - expected).max() < 1e-6

    gb = GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0).fit(X, y)
    res_gb = FlipPoints(gb, data=X, progress=False, random_state=0).find(X[:8])
    assert res_gb.method == "tree-search"
    assert (res_gb.status == "approximate").all()
    assert (gb.predict(res_gb.x_hat) != gb.predict(X[:8])).all()
    # reproducible
    again = FlipPoints(gb, data=X, progress=False, random_state=0).find(X[:8])
    assert np.array_equal(again.x_hat, res_gb.x_hat)


def test_adult_onehot_network_real_data():
    from shap_debug.datasets import adult, encode

    Xr, y = adult()
    Xr, y = Xr.iloc[:1500], y[:1500]
    Z, enc = encode(Xr, kind="onehot")
    mu, sd = Z.mean(0), Z.std(0) + 1e-9
    num = [enc.groups_[c][0] for c in enc.columns_ if c not in enc.categories_]
    Zs = Z.copy()
    Zs[:, num] = (Z[:, num] - mu[num]) / sd[num]
    mlp = MLPClassifier((16,), max_iter=200, random_state=0).fit(Zs, y)
    groups = {c: g for c, g in enc.groups_.items() if c in enc.categories_}
    fp = FlipPoints(mlp, data=Zs, feature_names=enc.feature_names_out_, progress=False)
    res = fp.find(Zs[:15], onehot_groups=groups, immutable=["sex=Female", "sex=Male"],
                  bounds="data")
    assert res.valid.mean() >= 0.9
    H = res.x_hat[res.valid]
    for g in groups.values():
        assert (H[:, g].sum(axis=1) == 1).all()
    sex = enc.groups_["sex"]
    assert np.array_equal(H[:, sex], Zs[:15][res.valid][:, sex])


def test_additional_forward_args_are_sliced_per_row_and_torch_classifier_unwrapped():
    from captum_ext.bridge import TorchClassifier

    class Shifted(torch.nn.Module):
        def forward(self, x, shift):
            return torch.cat([torch.zeros_like(x[:, :1]), x[:, :1] - shift[:, None]], dim=1)

    X = torch.tensor([[0.0, 1.0], [5.0, 2.0], [1.0, 0.0]], dtype=torch.float64)
    shift = torch.tensor([1.5, 3.0, -1.0], dtype=torch.float64)
    res = FlipPoints(Shifted(), progress=False).find(X, additional_forward_args=(shift,))
    assert np.allclose(res.distance, np.abs(X[:, 0].numpy() - shift.numpy()), atol=1e-9)
    assert (res.status == "exact").all()
    net = linear_net(np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros(2))
    fp = FlipPoints(TorchClassifier(net), progress=False)
    assert fp.kind == "gradient"
    assert abs(fp.find(np.array([[2.0, 1.0]])).distance[0] - 2.0) < 1e-9


def test_category_switch_alone_is_kept_when_closer_than_any_tie():
    # z1 - z0 = -2 + 3 [cat = b] + 0.5 x0; x = (0, a): class 0
    W = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 3.0]])
    net = linear_net(W, np.array([2.0, 0.0]))
    x = np.array([[0.0, 1.0, 0.0]])
    fp = FlipPoints(net, progress=False)
    res = fp.find(x, onehot_groups=[[1, 2]])
    # switching to b alone flips it (distance sqrt 2); the closest tie needs sqrt(2 + 4)
    assert res.status[0] == "approximate" and "past the boundary" in res.message[0]
    assert np.allclose(res.x_hat[0], [0.0, 0.0, 1.0]) and abs(res.distance[0] - np.sqrt(2)) < 1e-12
    # an expensive switch: the continuous tie at x0 = 4 wins and is exact
    res_w = fp.find(x, onehot_groups=[[1, 2]], weights=[1.0, 10.0, 10.0])
    assert res_w.status[0] == "exact" and abs(res_w.distance[0] - 4.0) < 1e-9
    # the category held fixed: only the continuous move
    res_f = fp.find(x, onehot_groups=[[1, 2]], immutable=[1, 2])
    assert res_f.status[0] == "exact" and abs(res_f.distance[0] - 4.0) < 1e-9


def test_numpy_sequential_scorer_matches_autograd():
    from captum_ext.flip_points._scorers import _Scorer, _SequentialScorer

    torch.manual_seed(0)
    for out in (1, 3):
        net = torch.nn.Sequential(
            torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 4), torch.nn.Tanh(),
            torch.nn.Linear(4, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, out)).double()
        fast, ref = _SequentialScorer(net), _Scorer(lambda X, r, net=net: net(X), "logits")
        X = np.random.default_rng(0).normal(size=(9, 5))
        rows = np.arange(9)
        assert np.allclose(fast.scores(X, rows), ref.scores(X, rows), atol=1e-12)
        K = fast.scores(X, rows).shape[1]
        c, t = np.zeros(9, int), np.full(9, 1 if K == 2 else 2)
        assert np.allclose(fast.g_grad(X, rows, c, t)[1], ref.g_grad(X, rows, c, t)[1], atol=1e-12)
        assert np.allclose(fast.jac_batch(X, rows)[1], ref.jac_batch(X, rows)[1], atol=1e-12)


# ----------------------------------------------------------------- stationarity (issue 16.3)
def test_linear_model_flip_point_is_the_orthogonal_projection_on_the_free_features():
    # z1 - z0 = a.x + b0: the closest point moving only the free features F is
    # x - (a.x + b0) / |a_F|^2 a_F, a KKT point with a zero residual
    rng = np.random.default_rng(3)
    a, b0 = rng.normal(size=6), 0.4
    net = linear_net(np.vstack([np.zeros(6), a]), np.array([0.0, b0]))
    X = rng.normal(size=(30, 6))
    free = [0, 2, 3, 5]
    res = FlipPoints(net, progress=False).find(X, features=free)
    aF = np.zeros(6)
    aF[free] = a[free]
    expected = X - ((X @ a + b0) / (aF @ aF))[:, None] * aF
    assert np.abs(res.x_hat - expected).max() < 1e-6
    assert np.abs(res.distance - np.abs(X @ a + b0) / np.linalg.norm(aF)).max() < 1e-6
    assert res.stationary.all() and (res.status == "exact").all()
    assert np.nanmax(res.kkt_residual) < 1e-12 and np.nanmax(res.stationarity) < 1e-6
    # a boundary point that is not the closest one is reported as not stationary
    off = expected.copy()
    off[:, free[0]] += 1.0
    off[:, free[1]] -= a[free[0]] / a[free[1]]  # stays on the hyperplane
    v = FlipPoints(net, progress=False).verify(X, off, features=free)
    assert v.valid.all() and not v.stationary.any() and (v.kkt_residual > 1e-4).all()
    assert (v.status == "approximate").all()


def _tie_logit(mlp, H):
    p = np.clip(mlp.predict_proba(H), 1e-300, None)
    return np.log(p[:, 1]) - np.log(p[:, 0])


def _fd_grad(mlp, h, h_step=1e-6):
    E = np.eye(len(h)) * h_step
    return (_tie_logit(mlp, h + E) - _tie_logit(mlp, h - E)) / (2 * h_step)


def _mlp_problem(activation, n=150, m=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(600, m))
    y = (np.sin(X[:, 0]) + X[:, 1] * X[:, 2] - 0.5 * X[:, 3] > 0).astype(int)
    mlp = MLPClassifier((16, 8), activation=activation, max_iter=600, random_state=seed)
    mlp.fit(X, y)
    lo, hi = X.min(0), X.max(0)
    return mlp, X, X[:n], (lo, hi)


def _independent_checks(mlp, Xq, res, lo, hi, free):
    """Checks written without the library: sklearn's probabilities only."""
    H = res.x_hat
    ok = res.valid
    on_boundary = np.abs(_tie_logit(mlp, np.nan_to_num(H))) <= 1e-5
    interior = np.zeros_like(H, dtype=bool)
    interior[:, free] = True
    interior &= (H > lo + 1e-9) & (H < hi - 1e-9)
    return ok, on_boundary, interior


def test_smooth_mlp_flip_points_are_stationary_by_an_independent_gradient_check():
    mlp, X, Xq, (lo, hi) = _mlp_problem("tanh")
    free = [0, 1, 2, 3, 5, 6]  # 4 and 7 immutable
    fp = FlipPoints(mlp, data=X, progress=False)
    raw = fp.find(Xq, features=free, bounds=(lo, hi), polish=False)
    res = fp.find(Xq, features=free, bounds=(lo, hi))
    ok, on_boundary, interior = _independent_checks(mlp, Xq, res, lo, hi, free)
    assert ok.all() and on_boundary.all()
    assert np.array_equal(res.x_hat[:, [4, 7]], Xq[:, [4, 7]])
    # 1 - |cos(x̂ - x, grad of the tie)| on the free coordinates off their bounds, with a
    # central finite-difference gradient of sklearn's own log-odds
    one_minus_cos = np.zeros(len(Xq))
    for i in range(len(Xq)):
        F = interior[i]
        d = (res.x_hat[i] - Xq[i])[F]
        g = _fd_grad(mlp, res.x_hat[i])[F]
        one_minus_cos[i] = 1 - abs(d @ g) / (np.linalg.norm(d) * np.linalg.norm(g))
    assert (one_minus_cos <= 1e-6).mean() >= 0.99
    assert res.stationary.mean() >= 0.99
    # polishing never moves a point farther from its input (up to the verifier's tie
    # tolerance: an unpolished tie may sit a hair short of the boundary)
    assert (res.distance <= raw.distance + 1e-6).all()
    assert res.stationary.sum() >= raw.stationary.sum()


def _relu_pieces(mlp, h, tol=1e-6):
    """Tie gradients of every linear piece of a ReLU MLP meeting at h (units within tol of
    zero switched off and on), from sklearn's weights."""
    import itertools

    pre, a = [], h
    for W, b in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1]):
        a = a @ W + b
        pre.append(a.copy())
        a = np.maximum(a, 0)
    near = [(q, j) for q, p in enumerate(pre) for j in np.flatnonzero(np.abs(p) < tol)]
    grads = []
    for signs in itertools.product([0.0, 1.0], repeat=len(near)):
        masks = [(p > 0).astype(float) for p in pre]
        for (q, j), s in zip(near, signs):
            masks[q][j] = s
        J = np.eye(len(h))
        for (W, _), mk in zip(zip(mlp.coefs_[:-1], mlp.intercepts_[:-1]), masks):
            J = (J @ W) * mk
        grads.append((J @ mlp.coefs_[-1])[:, 0])
    return np.array(grads), len(near)


def test_relu_mlp_flip_points_are_kkt_points_by_an_independent_check():
    from scipy.optimize import nnls

    mlp, X, Xq, (lo, hi) = _mlp_problem("relu", seed=1)
    free = list(range(8))
    fp = FlipPoints(mlp, data=X, progress=False)
    raw = fp.find(Xq, bounds=(lo, hi), polish=False)
    res = fp.find(Xq, bounds=(lo, hi))
    ok, on_boundary, interior = _independent_checks(mlp, Xq, res, lo, hi, free)
    assert ok.all() and on_boundary.all()
    # KKT on a piecewise-linear boundary (Clarke): the step lies in the cone of the tie
    # gradients of the pieces that meet at x̂; where x̂ is on no kink that is plain
    # parallelism with the gradient
    kkt, kinks = np.zeros(len(Xq)), np.zeros(len(Xq), dtype=int)
    for i in range(len(Xq)):
        F = interior[i]
        d = (res.x_hat[i] - Xq[i])[F]
        G, kinks[i] = _relu_pieces(mlp, res.x_hat[i])
        A = G[:, F].T / np.linalg.norm(G[:, F], axis=1)
        u = d / np.linalg.norm(d)
        sin = min(nnls(A, u)[1], nnls(-A, u)[1])
        kkt[i] = 1 - np.sqrt(1 - min(sin, 1.0) ** 2)
    assert (kkt <= 1e-8).mean() >= 0.99
    assert (kinks > 0).any()  # the check did meet kinks
    assert res.stationary.mean() >= 0.99
    assert (res.distance <= raw.distance + 1e-6).all()
    assert res.stationary.sum() >= raw.stationary.sum()
    # the result reports the KKT residual it certified
    assert (res.kkt_residual[res.stationary] <= 5e-9).all()
    frame = res.to_frame()
    assert {"kkt_residual", "stationary"} <= set(frame.columns)


def test_tree_answers_report_that_kkt_does_not_apply():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, size=(200, 2))
    y = (X[:, 0] > 5).astype(int)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    res = FlipPoints(tree, progress=False).find(X[:5])
    assert (res.status == "exact").all()
    assert np.isnan(res.kkt_residual).all() and not res.stationary.any()


def _tree_models():
    from catboost import CatBoostClassifier
    from lightgbm import LGBMClassifier
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from xgboost import XGBClassifier

    return {
        "rf": RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0),
        "et": ExtraTreesClassifier(n_estimators=10, max_depth=4, random_state=0),
        "gb": GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0),
        "hgb": HistGradientBoostingClassifier(max_iter=10, random_state=0),
        "xgb": XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1),
        "lgbm": LGBMClassifier(n_estimators=10, num_leaves=4, n_jobs=1, verbose=-1),
        "cat": CatBoostClassifier(iterations=10, depth=2, verbose=0, thread_count=1),
    }


@pytest.mark.parametrize("name", ["rf", "et", "gb", "hgb", "xgb", "lgbm", "cat", "lgb-booster"])
def test_every_tree_ensemble_takes_the_tree_path_and_says_so(name):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] - 0.7 * X[:, 1] > 0).astype(int)
    if name == "lgb-booster":  # a LightGBM model file, as shap-debug's io loads it
        import lightgbm as lgb

        from shap_debug.io import BoosterClassifier

        booster = lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1,
                             "num_threads": 1}, lgb.Dataset(X, y), num_boost_round=10)
        model = BoosterClassifier(booster)
    else:
        model = _tree_models()[name].fit(X, y)
    res = FlipPoints(model, data=X, progress=False, random_state=0).find(X[:6])
    assert res.method == "tree-search"
    assert set(res.solver[res.valid]) == {"tree search"}
    assert (res.solver[~res.valid] == "none").all()
    assert res.valid.sum() >= 5
    pred = model.predict_proba(res.x_hat[res.valid]).argmax(1)
    assert (pred != model.predict_proba(X[:6][res.valid]).argmax(1)).all()
    assert res.to_frame()["solver"].tolist() == res.solver.tolist()


def test_solver_field_names_the_gradient_stages():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(2, 4)), rng.normal(size=2)
    res = FlipPoints(linear_net(W, b), progress=False).find(rng.normal(size=(5, 4)))
    assert res.valid.all()
    assert all(s.split(" + ")[0] in ("projection", "slsqp", "multi-start", "category switch")
               for s in res.solver)
    assert res.summary()["solver"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_l1_distance_on_a_linear_model_moves_the_single_cheapest_feature(seed):
    # min sum_j w_j |d_j| subject to a.(x + d) + b = 0 is a vertex: only the feature with the
    # largest |a_j| / w_j moves, by |g(x)| / |a_j|
    rng = np.random.default_rng(seed)
    m = int(rng.integers(3, 7))
    W, b = rng.normal(size=(2, m)), rng.normal(size=2)
    w = rng.uniform(0.5, 2.0, size=m)
    X = rng.normal(size=(5, m))
    res = FlipPoints(linear_net(W, b), progress=False).find(X, distance="l1", weights=w)
    a = W[1] - W[0]
    g = X @ a + (b[1] - b[0])
    j = np.argmax(np.abs(a) / w)
    assert res.distance_kind == "l1" and res.valid.all()
    assert np.allclose(res.distance, np.abs(g) * w[j] / np.abs(a[j]), rtol=1e-4)
    moved = np.abs(res.delta) > 1e-6 * (1 + np.abs(res.delta).max())
    assert (moved.sum(axis=1) == 1).all() and moved[:, j].all()
    assert (res.solver == "reweighted l2").all() and (res.status == "approximate").all()
    l2 = FlipPoints(linear_net(W, b), progress=False).find(X, weights=w)
    assert ((np.abs(l2.delta) > 1e-6).sum(axis=1) > 1).all()  # L2 moves every feature


def test_l1_distance_on_a_single_tree_is_exact_by_brute_force():
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(400, 2))
    y = (X[:, 0] + X[:, 1] > 0.2).astype(int)
    tree = DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, y)
    q = X[:4]
    res = FlipPoints(tree, progress=False).find(q, distance="l1")
    G, h = _grid(-1.5, 1.5, 301)
    pg = tree.predict(G)
    assert (res.status == "exact").all() and (res.solver == "leaf enumeration").all()
    for i in range(len(q)):
        other = G[pg != tree.predict(q[i:i + 1])[0]]
        best = np.abs(other - q[i]).sum(axis=1).min()
        assert best - 2 * h <= res.distance[i] <= best + 1e-6
        assert np.isclose(res.distance[i], np.abs(res.delta[i]).sum())
        assert tree.predict(res.x_hat[i:i + 1])[0] != tree.predict(q[i:i + 1])[0]


def test_fixed_target_on_another_class_boundary_is_said():
    # three classes along x0: class 0 for x0 < 0, 1 on (0, 1), 2 for x0 > 1; from x0 = -1 the
    # closest point of class 2 borders class 1, not the input's class 0
    net = linear_net(np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]), np.array([0.0, 0.0, -1.0]))
    x = torch.tensor([[-1.0, 0.0], [-2.0, 0.5]])
    res = FlipPoints(net, progress=False).find(x, target=2)
    assert (res.target_class == 2).all() and res.valid.all()
    assert (res.boundary_class == 1).all()
    assert (res.status == "approximate").all()
    assert all("class 1, not the input's class 0" in m for m in res.message)
    z = res.x_hat @ np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]).T + [0.0, 0.0, -1.0]
    assert (z[:, 2] >= z[:, 1] - 1e-9).all() and (z[:, 2] > z[:, 0]).all()
    # the input's own boundary: boundary_class is the input's class
    own = FlipPoints(net, progress=False).find(x)
    assert (own.boundary_class == own.original_class).all() and (own.target_class == 1).all()
    # flip_to is the same as target
    again = FlipPoints(net, progress=False).find(x, flip_to=2)
    assert np.allclose(again.x_hat, res.x_hat)
    with pytest.raises(ValueError, match="not both"):
        FlipPoints(net, progress=False).find(x, target=2, flip_to=2)
    with pytest.raises(ValueError, match="distance"):
        FlipPoints(net, progress=False).find(x, distance="l3")


def test_captum_target_and_noise_tunnel():
    from captum.attr import Attribution, NoiseTunnel

    # three classes along x0 (0 below 0, 1 on (0, 1), 2 above 1); x1 is irrelevant
    W, b = np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]), np.array([0.0, 0.0, -1.0])
    net = linear_net(W, b)
    fp = FlipPoints(net, progress=False)
    assert isinstance(fp, Attribution)
    x = torch.tensor([[-0.5, 0.3], [0.4, -0.2], [1.7, 0.0]], dtype=torch.float64)
    pred = torch.as_tensor(x.numpy() @ W.T + b).argmax(1)
    # target = the predicted class: away from it, to the closest other class
    away = fp.attribute(x, target=pred)
    assert torch.allclose(away, torch.tensor([[0.5, 0.0], [-0.4, 0.0], [-0.7, 0.0]],
                                             dtype=torch.float64), atol=1e-6)
    # a mixed per-row target: row 0 flips to class 1 (not predicted), rows 1 and 2 away
    mixed = fp.find(x, target=[1, 1, 2])
    assert mixed.target_class.tolist() == [1, 0, 1]
    assert np.allclose(mixed.distance, [0.5, 0.4, 0.7], atol=1e-6)
    # flip_to keeps the old meaning and refuses the predicted class
    to2 = fp.find(x[:2], flip_to=2)
    assert (to2.target_class == 2).all()
    with pytest.raises(ValueError, match="flip_to equals the predicted class"):
        fp.find(x, flip_to=pred)
    # Captum's NoiseTunnel runs it on noisy copies and averages
    torch.manual_seed(0)
    nt = NoiseTunnel(fp).attribute(x, nt_samples=6, stdevs=0.01, target=pred)
    assert nt.shape == x.shape and torch.isfinite(nt).all()
    assert torch.allclose(nt[:, 0], away[:, 0], atol=0.05)
