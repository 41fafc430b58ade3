"""Agnostic networks (DANN with gradient reversal) and the fresh-probe measurement."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from captum_ext.agnostic import (
    AgnosticNetwork,
    AttributionShift,
    GradientReversal,
    ProbeReport,
    attribution_shift,
    ganin_lambda,
    grad_reverse,
    probe_protected,
)

torch.set_num_threads(1)


def proxy_table(n=3000, seed=0):
    """Protected ``s`` enters only through ``proxy``; the label depends on ``s`` and x1."""
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2, n)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    proxy = s + rng.normal(0, 0.35, n)
    y = (x1 + 0.8 * s + rng.normal(0, 0.5, n) > 0.4).astype(int)
    X = pd.DataFrame({"x1": x1, "x2": x2, "proxy": proxy})
    return X, y, s


FAST = dict(hidden=(32, 16), adversary_hidden=(64, 64), epochs=12, batch_size=128,
            lr=3e-3, progress=False)


@pytest.fixture(scope="module")
def fitted():
    X, y, s = proxy_table()
    Xtr, Xte = X.iloc[:2000], X.iloc[2000:]
    plain = AgnosticNetwork(alpha=0.0, **FAST).fit(Xtr, y[:2000], s[:2000])
    agn = AgnosticNetwork(alpha=0.9, adversary_steps=5, **dict(FAST, epochs=20)).fit(
        Xtr, y[:2000], s[:2000])
    return plain, agn, Xte, y[2000:], s[2000:]


# ----------------------------------------------------------------------------- GRL
def test_grl_forward_is_identity_and_gradient_is_minus_lambda():
    torch.manual_seed(0)
    x = torch.randn(5, 4, requires_grad=True)
    w = torch.randn(4, 3)

    def f(t):
        return torch.tanh(t @ w).pow(2).sum()

    f(x).backward()
    plain = x.grad.clone()
    for lam in (0.0, 0.3, 1.0, 2.5):
        x.grad = None
        out = grad_reverse(x, lam)
        assert torch.equal(out, x)
        f(out).backward()
        assert torch.allclose(x.grad, -lam * plain, atol=1e-7, rtol=0)
    x.grad = None
    f(GradientReversal(0.7)(x)).backward()
    assert torch.allclose(x.grad, -0.7 * plain, atol=1e-7, rtol=0)


def test_grl_bad_input():
    with pytest.raises(ValueError, match="lambda_"):
        GradientReversal(-1.0)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        grad_reverse(np.ones(3), 1.0)


def test_ganin_schedule_values():
    assert ganin_lambda(0.0) == 0.0
    assert ganin_lambda(0.5) == pytest.approx(2 / (1 + np.exp(-5)) - 1)
    assert ganin_lambda(1.0) == pytest.approx(0.9999092, abs=1e-7)
    assert ganin_lambda(0.1, lambda_max=2.0) == pytest.approx(2 * (2 / (1 + np.exp(-1)) - 1))
    arr = ganin_lambda(np.linspace(0, 1, 11))
    assert arr.shape == (11,) and np.all(np.diff(arr) > 0)
    with pytest.raises(ValueError, match="p must be"):
        ganin_lambda(1.5)
    with pytest.raises(ValueError, match="lambda_max"):
        ganin_lambda(0.5, lambda_max=-1)


# ----------------------------------------------------------------------------- agnosticism
def test_agnostic_hides_the_proxy(fitted):
    plain, agn, Xte, yte, ste = fitted
    rp = probe_protected(plain, Xte, ste, y=yte)
    ra = probe_protected(agn, Xte, ste, y=yte)
    # the plain representation carries s (through the proxy); the agnostic one much less
    assert rp.max_auc > 0.85
    assert ra.max_auc < rp.max_auc - 0.15
    # and it pays for it with label accuracy (s is genuinely predictive here), while the
    # predictions become fairer
    assert ra.demographic_parity_difference < rp.demographic_parity_difference
    assert 0.6 < ra.accuracy <= rp.accuracy + 0.02


def test_defaults_are_agnostic_on_a_proxy_case():
    """Issue 16.4: the *default* fit must hide a concept that enters through a proxy.

    ``s`` is not an input; ``proxy`` is ``s`` plus a little noise; the label depends on x1,
    x2 and (weakly) on the proxy. Before the fix the default fit stopped on a plateau, and
    a fresh probe still read ``s`` from the representation.
    """
    rng = np.random.default_rng(0)
    n = 2400
    s = rng.integers(0, 2, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    proxy = s + rng.normal(0, 0.3, n)
    y = (x1 + 0.5 * x2 + 0.3 * proxy + rng.normal(0, 0.3, n) > 0.2).astype(int)
    X = pd.DataFrame({"x1": x1, "x2": x2, "proxy": proxy})
    tr, te = slice(0, 1600), slice(1600, None)
    plain = AgnosticNetwork(alpha=0.0, progress=False).fit(X[tr], y[tr], s[tr])
    agn = AgnosticNetwork(progress=False).fit(X[tr], y[tr], s[tr])
    rp = probe_protected(plain, X[te], s[te], y=y[te])
    ra = probe_protected(agn, X[te], s[te], y=y[te])       # new probes, held-out rows
    assert rp.max_auc > 0.9                                 # the plain network carries s
    assert ra.max_auc <= 0.65
    assert ra.accuracy >= rp.accuracy - 0.03
    # early stopping watched the combined objective (label loss and the probe's leak)
    h = agn.history_
    np.testing.assert_allclose(
        h["val_score"], (1 - agn.alpha) * h["val_label_loss"] + agn.alpha * h["val_probe_leak"])
    assert agn.n_epochs_ >= agn.epochs // 2


def test_attribution_on_proxy_falls(fitted):
    plain, agn, Xte, _, _ = fitted
    shift = attribution_shift({"plain": plain, "agnostic": agn}, Xte, "proxy", max_rows=200)
    share = shift.focus_share()
    assert share["plain"] > 0.2
    assert share["agnostic"] < share["plain"] - 0.15
    assert isinstance(shift, AttributionShift)
    frame = shift.to_frame()
    assert set(frame["model"]) == {"plain", "agnostic"}
    assert frame.loc[frame.is_focus, "feature"].unique().tolist() == ["proxy"]
    ax = shift.plot(show=False)
    assert len(ax.patches) == 6
    assert "proxy" in shift._repr_html_()


def test_shap_attributions_agree(fitted):
    plain, agn, Xte, _, _ = fitted
    shift = attribution_shift({"plain": plain, "agnostic": agn}, Xte, ["proxy"],
                              method="shap", max_rows=40)
    share = shift.focus_share()
    assert share["agnostic"] < share["plain"]


def test_training_is_reproducible():
    X, y, s = proxy_table(600)
    kw = dict(FAST, epochs=3, alpha=0.5)
    a = AgnosticNetwork(random_state=3, **kw).fit(X, y, s)
    b = AgnosticNetwork(random_state=3, **kw).fit(X, y, s)
    c = AgnosticNetwork(random_state=4, **kw).fit(X, y, s)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))
    pd.testing.assert_frame_equal(a.history_, b.history_)


def test_estimator_contract_and_inputs_untouched():
    X, y, s = proxy_table(500)
    X = X.assign(colour=pd.Categorical(np.where(s == 1, "red", "blue")))
    X_before, y_before, s_before = X.copy(), y.copy(), s.copy()
    net = AgnosticNetwork(alpha=0.5, **dict(FAST, epochs=2))
    assert net.fit(X, y, s) is net
    pd.testing.assert_frame_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(s, s_before)
    proba = net.predict_proba(X)
    assert proba.shape == (500, 2) and np.allclose(proba.sum(1), 1)
    assert set(net.predict(X)) <= {0, 1}
    assert net.transform(X).shape == (500, 16)
    assert net.attribute(X.iloc[:5]).values.shape == (5, 4)
    assert list(net.history_.columns)[:3] == ["epoch", "alpha", "label_loss"]
    assert clone(net).get_params()["alpha"] == 0.5
    with pytest.raises(ValueError, match="not fitted"):
        AgnosticNetwork().predict(X)


def test_string_labels_and_multiclass_protected():
    X, y, s = proxy_table(600)
    labels = np.where(y == 1, "yes", "no")
    group = np.array(["a", "b", "c"])[(s + (X["x2"] > 1).to_numpy()).astype(int)]
    net = AgnosticNetwork(alpha=0.5, **dict(FAST, epochs=2)).fit(X.to_numpy(), labels, group)
    assert net.classes_.tolist() == ["no", "yes"]
    assert net.protected_classes_.tolist() == ["a", "b", "c"]
    assert set(net.predict(X.to_numpy())) <= {"no", "yes"}
    assert net.predict_protected_proba(X.to_numpy()).shape == (600, 3)


def test_separate_protected_set_and_cnn_encoder():
    """The paper's contextual setting: the concept is labelled on a separate image set."""
    rng = np.random.default_rng(0)
    imgs = rng.normal(size=(300, 1, 8, 8)).astype(np.float32)
    y = (imgs[:, 0, 2:6, 2:6].mean((1, 2)) > 0).astype(int)
    ctx = rng.normal(size=(200, 1, 8, 8)).astype(np.float32)
    ctx_label = rng.integers(0, 2, 200)
    ctx[:, :, 0, :] += 2 * ctx_label[:, None, None]          # concept in the top row
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())
    net = AgnosticNetwork(encoder=cnn, alpha=0.5, schedule="constant",
                          adversary_batchnorm=True, **dict(FAST, epochs=2)).fit(
        imgs, y, X_protected=ctx, protected_labels=ctx_label)
    assert net.representation_dim_ == 16
    assert isinstance(net.adversary_[0], torch.nn.BatchNorm1d)
    assert net.history_["alpha"].eq(0.5).all()
    assert net.predict_proba(imgs[:3]).shape == (3, 2)
    assert net.attribute(imgs[:3]).values.shape == (3, 64)
    # the user's encoder is copied, not trained in place
    assert net.encoder_ is not cnn
    assert not torch.equal(net.encoder_[0].weight, cnn[0].weight)


def test_bad_input():
    X, y, s = proxy_table(200)
    net = AgnosticNetwork(**dict(FAST, epochs=1))
    with pytest.raises(ValueError, match="protected has 199 entries but X has 200"):
        net.fit(X, y, s[:-1])
    with pytest.raises(ValueError, match="at least 2 distinct values"):
        net.fit(X, y, np.zeros(200))
    with pytest.raises(ValueError, match="alpha must be <= 1"):
        AgnosticNetwork(alpha=1.5).fit(X, y, s)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        AgnosticNetwork(alpha=-0.1).fit(X, y, s)
    with pytest.raises(ValueError, match="y has 10 entries"):
        net.fit(X, y[:10], s)
    with pytest.raises(ValueError, match="either protected"):
        net.fit(X, y, s, X_protected=X, protected_labels=s)
    with pytest.raises(ValueError, match="protected is required"):
        net.fit(X, y)
    with pytest.raises(ValueError, match="protected_labels has 5 entries"):
        net.fit(X, y, X_protected=X, protected_labels=s[:5])
    with pytest.raises(TypeError, match="encoder must be a torch.nn.Module"):
        AgnosticNetwork(encoder="mlp").fit(X, y, s)
    # an encoder that does not produce (n, d) representations for the heads
    with pytest.raises(ValueError, match=r"representation of shape \(n, d\)"):
        AgnosticNetwork(encoder=torch.nn.Conv2d(1, 2, 3), epochs=1, progress=False).fit(
            np.zeros((20, 1, 5, 5)), y[:20], s[:20])
    with pytest.raises(ValueError, match="encoder cannot read inputs"):
        AgnosticNetwork(encoder=torch.nn.Linear(7, 4), epochs=1, progress=False).fit(
            X, y, s)
    fitted = AgnosticNetwork(**dict(FAST, epochs=1)).fit(X.to_numpy(), y, s)
    with pytest.raises(ValueError, match="X must have shape"):
        fitted.predict(np.zeros((3, 5)))


# ----------------------------------------------------------------------------- probes
def test_probe_known_answers():
    rng = np.random.default_rng(1)
    n = 1500
    s = rng.integers(0, 2, n)
    informative = np.c_[s + rng.normal(0, 0.3, n), rng.normal(size=n)]
    # s is recoverable only non-linearly (by |r|): the MLP probe must find what LR cannot
    radius = np.where(s == 1, 2.0, 0.7) + rng.normal(0, 0.15, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    ring = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    noise = rng.normal(size=(n, 3))
    r_inf = probe_protected(informative, protected=s)
    r_ring = probe_protected(ring, protected=s)
    r_noise = probe_protected(noise, protected=s)
    assert r_inf.max_auc > 0.95
    assert r_ring.probes.loc["logistic", "roc_auc"] < 0.65 < 0.9 < r_ring.probes.loc[
        "mlp", "roc_auc"]
    assert abs(r_noise.max_auc - 0.5) < 0.07
    assert r_noise.majority_rate == pytest.approx(max(s.mean(), 1 - s.mean()), abs=0.03)
    frame = r_noise.to_frame()
    assert list(frame.index) == ["logistic", "mlp", "majority"]
    assert frame.loc["majority", "roc_auc"] == 0.5


def test_probe_fairness_metrics_match_fairlearn():
    fl = pytest.importorskip("fairlearn.metrics")
    rng = np.random.default_rng(2)
    n = 800
    g = rng.choice(["f", "m", "x"], n, p=[0.4, 0.5, 0.1])
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)
    pred[(g == "m") & (rng.random(n) < 0.2)] = 1
    rep = probe_protected(rng.normal(size=(n, 2)), protected=g, y=y, predictions=pred)
    assert rep.demographic_parity_difference == pytest.approx(
        fl.demographic_parity_difference(y, pred, sensitive_features=g))
    assert rep.equalized_odds_difference == pytest.approx(
        fl.equalized_odds_difference(y, pred, sensitive_features=g))
    assert rep.accuracy == pytest.approx(np.mean(pred == y))
    assert len(rep.protected_classes) == 3 and 0 <= rep.max_auc <= 1


def test_probe_report_views_and_escaping():
    rng = np.random.default_rng(3)
    g = np.where(rng.random(300) < 0.5, "<b>x</b>", "y&z")
    rep = probe_protected(rng.normal(size=(300, 2)), protected=g, probes=["logistic"])
    assert isinstance(rep, ProbeReport)
    out = rep._repr_html_()
    assert "<b>x</b>" not in out and "&lt;b&gt;x&lt;/b&gt;" in out and "y&amp;z" in out
    assert not out.lstrip().startswith("<html")
    ax = rep.plot(show=False)
    assert len(ax.patches) == 2
    assert set(rep.summary()) >= {"max_auc", "majority_rate", "logistic_roc_auc"}


def test_probe_bad_input():
    R = np.zeros((50, 2))
    s = np.arange(50) % 2
    with pytest.raises(ValueError, match="protected has 49 entries"):
        probe_protected(R, protected=s[:-1])
    with pytest.raises(ValueError, match="at least 2 distinct values"):
        probe_protected(R, protected=np.ones(50))
    with pytest.raises(ValueError, match="2-D"):
        probe_protected(np.zeros(50), protected=s)
    with pytest.raises(ValueError, match="probes entry"):
        probe_protected(R, protected=s, probes=["svm"])
    with pytest.raises(ValueError, match="test_size"):
        probe_protected(R, protected=s, test_size=1.0)
    with pytest.raises(ValueError, match="without predictions"):
        probe_protected(R, protected=s, y=s)


@pytest.mark.parametrize("frame", [True, False])
def test_attribute_says_its_class_and_neighborhood_model_keeps_its_signs(fitted, frame):
    # issue 27 item 5: a DataFrame attribution was read as class 1's and the rows predicted
    # 0 negated; now output_names carries target=predicted and nothing is re-signed
    from shap_debug.neighborhood import NeighborhoodModel

    plain, _, Xte, yte, _ = fitted
    X = Xte.iloc[:120]
    if not frame:  # tensors in, through the bridge
        Xa, ya, sa = proxy_table(800, seed=1)
        plain = AgnosticNetwork(alpha=0.0, **dict(FAST, epochs=4)).fit(Xa.to_numpy(), ya, sa)
        X = X.to_numpy()
    exp = plain.attribute(X, n_steps=64)
    assert "target=predicted" in exp.output_names
    logits = plain.decision_function(X)
    pred = logits.argmax(1)
    assert (pred == 0).any() and (pred == 1).any()
    # additivity: base + sum = the predicted class's logit (IG's delta is small)
    total = exp.base_values + exp.values.sum(1)
    assert np.abs(total - logits[np.arange(len(pred)), pred]).max() < 2e-2
    nbm = NeighborhoodModel(n_neighbors=10).fit(plain, X, yte[:120], contributions=exp,
                                                progress=False)
    np.testing.assert_allclose(nbm.contributions_, exp.values)
    ex = nbm.explanation_
    np.testing.assert_allclose(ex.base_values + ex.values.sum(1), total)
    # a fixed target says so too
    e1 = plain.attribute(X[:5] if not frame else X.iloc[:5], target=1)
    assert "target=1" in e1.output_names
