import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest
import shap
import torch
from captum.attr import IntegratedGradients, ShapleyValueSampling
from sklearn.linear_model import LogisticRegression

from captum_ext import SklearnForward, TorchClassifier, attributions_to_explanation
from shap_debug import ShapDebugWarning, explain
from shap_debug.contributions import contribution_matrix, explanation_target
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
                   progress=False, random_state=0).values[:, :, 1]
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
    exp = explain(clf, X[:5], X[5:], method="sampling", progress=False, random_state=0)
    np.testing.assert_allclose(exp.values.sum(1) + exp.base_values, p[:5], atol=1e-6)
    exp_mod = explain(net, X[:5], X[5:], method="sampling", progress=False, random_state=0)  # a bare module too
    np.testing.assert_allclose(exp_mod.values, exp.values, atol=1e-6)


# --------------------------------------------------------------------------- issue 16.2
def _class_net(k, m=4):
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(m, 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, k)).double()


@pytest.mark.parametrize("k", [2, 3])
def test_integrated_gradients_with_target_pred_are_used_as_they_are(k):
    # issue 16.2: IG(net).attribute(X, target=pred) was re-signed in the 2-class case and
    # refused in the 3-class case without naming the option that fixes it
    from shap_debug.neighborhood import NeighborhoodModel

    X = np.random.default_rng(0).normal(size=(90, 4))
    net = _class_net(k)
    clf = TorchClassifier(net, dtype=torch.float64)
    x = torch.tensor(X)
    pred = net(x).argmax(1)
    y = clf.predict(X).copy()
    y[:6] = (y[:6] + 1) % k                        # a few anomalies
    attr = IntegratedGradients(net).attribute(x, target=pred, n_steps=200)
    exp = attributions_to_explanation(attr, x, target=pred, forward_func=net)
    assert exp.output_names == "forward_func output (target=predicted)"
    with torch.no_grad():
        f0 = net(torch.zeros_like(x)).numpy()[np.arange(len(X)), pred.numpy()]
        fx = net(x).numpy()[np.arange(len(X)), pred.numpy()]
    np.testing.assert_allclose(exp.base_values, f0)           # f(baseline), not 0
    np.testing.assert_allclose(exp.base_values + exp.values.sum(1), fx, atol=1e-6)
    assert explanation_target(exp[:5]) == "predicted"        # survives slicing
    nbm = NeighborhoodModel(10).fit(clf, X, y, exp)
    np.testing.assert_allclose(nbm.contributions_, attr.numpy())   # never re-signed
    e = nbm.explanation_
    np.testing.assert_allclose(e.base_values + e.values.sum(1), fx, atol=1e-6)
    # raw tensors say nothing about their target: the error names the options
    with pytest.raises(ValueError, match="single_output='predicted'"):
        NeighborhoodModel(10).fit(clf, X, y, attr)
    with pytest.raises(ValueError, match="single_output='predicted'"):
        contribution_matrix(attr, pred.numpy())
    np.testing.assert_allclose(
        NeighborhoodModel(10, single_output="predicted").fit(clf, X, y, attr).contributions_,
        attr.numpy())


def test_a_declared_target_that_is_not_the_prediction_is_refused():
    from shap_debug.neighborhood import NeighborhoodModel

    X = np.random.default_rng(0).normal(size=(90, 4))
    net = _class_net(3)
    clf = TorchClassifier(net, dtype=torch.float64)
    x = torch.tensor(X)
    pred = net(x).argmax(1).numpy()
    assert len(np.unique(pred)) > 1
    attr = IntegratedGradients(net).attribute(x, target=1, n_steps=200)
    exp = attributions_to_explanation(attr, x, target=1, forward_func=net)
    assert explanation_target(exp) == 1
    with pytest.raises(ValueError, match="output 1 for every row.*single_output="):
        NeighborhoodModel(10).fit(clf, X, clf.predict(X), exp)
    only_ones = pred == 1
    np.testing.assert_allclose(contribution_matrix(exp[only_ones], pred[only_ones]),
                               attr.numpy()[only_ones])
    # a per-row target that is not the prediction (e.g. the labels) is refused too
    labels = (pred + 1) % 3
    attr_y = IntegratedGradients(net).attribute(x, target=torch.as_tensor(labels))
    exp_y = attributions_to_explanation(attr_y, x, target=labels, forward_func=net, atol=1.0)
    assert explanation_target(exp_y) == "per-row"
    with pytest.raises(ValueError, match="single_output="):
        contribution_matrix(exp_y, pred)
    # a 2-D array read the shap way on a 3-class model names the option as well
    with pytest.raises(ValueError, match="single_output='predicted'"):
        contribution_matrix(attr.numpy(), pred)


def test_bridge_base_values_and_additivity_warning():
    X = np.random.default_rng(0).normal(size=(20, 4))
    net = _class_net(2)
    x = torch.tensor(X)
    base = torch.tensor(X[:1]).repeat(20, 1)
    svs = ShapleyValueSampling(net).attribute(x, baselines=base, target=0, n_samples=5)
    exp = attributions_to_explanation(svs, x, target=0, forward_func=net, baselines=base)
    with torch.no_grad():
        np.testing.assert_allclose(exp.base_values, net(base)[:, 0].numpy())
        np.testing.assert_allclose(exp.base_values + exp.values.sum(1), net(x)[:, 0].numpy(),
                                   atol=1e-6)
    coarse = IntegratedGradients(net).attribute(x, target=0, n_steps=2)
    with pytest.warns(ShapDebugWarning, match="misses forward_func"):
        attributions_to_explanation(coarse, x, target=0, forward_func=net)
    with pytest.raises(ValueError, match="pass target="):
        attributions_to_explanation(coarse, x, forward_func=net)
    # without forward_func nothing is computed: base 0 unless given, target still recorded
    plain = attributions_to_explanation(coarse, x, target=0)
    assert plain.output_names == "forward_func output (target=0)"
    np.testing.assert_array_equal(plain.base_values, 0.0)
