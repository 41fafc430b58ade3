import itertools

import matplotlib.pyplot as plt
import numpy as np
import shap
import torch
from captum.attr import IntegratedGradients, ShapleyValueSampling
from sklearn.linear_model import LogisticRegression

from captum_ext import SklearnForward, TorchClassifier, attributions_to_explanation
from shap_debug import explain
from shap_debug.datasets import encode, german


def _net(m):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(m, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def test_integrated_gradients_to_explanation_plots():
    X, _ = german()
    Z, enc = encode(X)
    Z = (Z - Z.mean(0)) / Z.std(0)
    net = _net(Z.shape[1])
    x = torch.tensor(Z[:40], dtype=torch.float32)
    attr, delta = IntegratedGradients(net).attribute(x, target=1, return_convergence_delta=True)
    with torch.no_grad():
        out = net(x)[:, 1] - net(torch.zeros_like(x))[:, 1]
    exp = attributions_to_explanation(attr, x, feature_names=enc.feature_names_out_,
                                      base_values=net(torch.zeros_like(x))[:, 1])
    assert exp.values.shape == (40, 20)
    # IG completeness: attributions sum to f(x) - f(baseline)
    np.testing.assert_allclose(exp.values.sum(1), out.numpy(), atol=1e-2)
    ax = shap.plots.bar(exp, show=False)
    assert ax is not None
    shap.plots.beeswarm(exp, show=False)
    assert len(plt.gcf().axes) >= 1


def test_sklearn_forward_with_captum_matches_our_estimator_sign():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    lr = LogisticRegression().fit(X, y)
    fwd = SklearnForward(lr)
    x = torch.tensor(X[:10])
    base = torch.tensor(X[10:11]).repeat(10, 1)
    torch.manual_seed(0)
    svs = ShapleyValueSampling(fwd).attribute(x, baselines=base, target=1, n_samples=300)
    ours = explain(lr, X[:10], X[10:11], method="sampling", n_permutations=8,
                   progress=False).values[:, :, 1]
    # one background row: the same 3-player game; both sample permutations
    np.testing.assert_allclose(svs.numpy().sum(1), ours.sum(1), atol=1e-5)  # captum works in float32
    # exact Shapley values of the 3-player game, over all 6 orders
    x0, b0 = X[:10], X[10]
    exact = np.zeros((10, 3))
    for order in itertools.permutations(range(3)):
        cur = np.repeat(b0[None], 10, axis=0)
        prev = lr.predict_proba(cur)[:, 1]
        for j in order:
            cur[:, j] = x0[:, j]
            now = lr.predict_proba(cur)[:, 1]
            exact[:, j] += (now - prev) / 6
            prev = now
    np.testing.assert_allclose(ours, exact, atol=0.01)
    np.testing.assert_allclose(svs.numpy(), exact, atol=0.05)


def test_torch_classifier_drops_into_explain():
    net = _net(4)
    clf = TorchClassifier(net)
    X = np.random.default_rng(0).normal(size=(30, 4))
    p = clf.predict_proba(X)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    exp = explain(clf, X[:5], X[5:], method="sampling", progress=False)
    np.testing.assert_allclose(exp.values.sum(1) + exp.base_values, p[:5], atol=1e-6)
    exp_mod = explain(net, X[:5], X[5:], method="sampling", progress=False)  # a bare module too
    np.testing.assert_allclose(exp_mod.values, exp.values, atol=1e-6)
