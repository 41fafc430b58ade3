"""Issue 17: diagnosis and fixes verified on held-out data (shap_debug.fixes)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shap_debug.datasets import adult, encode, german
from shap_debug.fixes import (
    FAMILIES,
    Diagnosis,
    FixAction,
    FixReport,
    diagnose,
    paired_interval,
    region_mask,
    rule_mask,
    verify_fixes,
)

NO_FLIP = [f for f in FAMILIES if "flip" not in f]


def _lr():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


# --------------------------------------------------------------------------- systematic error
@pytest.fixture(scope="module")
def relabelled():
    """Adult: 9000 training rows (one-hot) and the whole test file, with clean labels, as
    the user's test split; in the training rows half the positives of one sub-population
    (husbands in Prof-specialty, 71 % positive) are relabelled negative: a systematic error,
    not uniform noise.

    The sub-population is a pair of conditions holding well under half of either condition's
    rows: relabelling a whole level (all of Prof-specialty) could not be told from a real
    effect of that level, so no method working from the data alone could name it.
    """
    X, y = adult()
    Xt, yt = adult("test")
    rng = np.random.default_rng(0)
    idx = rng.choice(len(y), 9000, replace=False)
    X, y = X.iloc[idx].reset_index(drop=True), y[idx]
    Z, enc = encode(X, "onehot")
    Zt = enc.transform(Xt)

    def sub_of(D):
        return ((D["occupation"] == "Prof-specialty")
                & (D["relationship"] == "Husband")).to_numpy()

    y_noisy = y.copy()
    pos = np.flatnonzero(sub_of(X) & (y == 1))
    y_noisy[rng.choice(pos, len(pos) // 2, replace=False)] = 0
    rep = verify_fixes(_lr(), Z, y_noisy, X_test=Zt, y_test=yt, encoder=enc,
                       actions=NO_FLIP, random_state=0, progress=False)
    clean = _lr().fit(Z, y)  # the same rows with their true labels
    sub_te = sub_of(Xt)
    clean_acc = float((clean.predict(Zt)[sub_te] == yt[sub_te]).mean())
    return rep, sub_te, clean_acc


def test_systematic_error_is_named_fixable_and_the_top_action_recovers_it(relabelled):
    rep, sub_te, clean_acc = relabelled
    diag = Diagnosis.from_fixes(rep)
    # the diagnosis names the relabelled sub-population: its rule, exactly its held-out rows
    named = [c for c in rep.cohorts
             if c.rule == "occupation = Prof-specialty and relationship = Husband"]
    assert named, rep.cohort_frame()["rule"].tolist()
    c = named[0]
    np.testing.assert_array_equal(c.test_rows, np.flatnonzero(sub_te))
    verdict = diag.verdict(c.label)
    assert verdict.verdict == "fixable"
    # the top-ranked action recovers at least half the cohort's lost held-out accuracy
    top = rep.effect(rep.best, c.label)
    lost = clean_acc - top["before"]
    assert lost > 0.1  # the relabelling really hurt the cohort on clean held-out labels
    assert top["after"] - top["before"] >= 0.5 * lost
    assert top["low"] > 0 and rep.helps(rep.best)
    assert rep.best == verdict.best_action == diag.proposed[0]
    assert rep.action(rep.best).kind in ("relabel", "drop")
    assert rep.action(rep.best).cohort == c.label
    assert any(c.label in s.text and "fixable" in s.text for s in diag.sentences())
    assert "the labels, not the model, were the problem" in verdict.reason


def test_actions_that_do_not_help_are_shown_and_ranked(relabelled):
    rep = relabelled[0]
    f = rep.to_frame()
    assert list(f["rank"]) == list(range(1, len(f) + 1))
    assert f["delta"].is_monotonic_decreasing
    assert set(f["effect"]) - {"helps"}, "actions that do not help must be listed too"
    assert (f["helps"] == (f["low"] > 0)).all()
    assert {"action", "kind", "target", "rows_changed", "before", "after", "delta", "low",
            "high", "effect"} <= set(f.columns)
    for c in rep.cohorts:
        assert f"{c.label} delta" in f.columns
    # the delta is paired: after - before, every interval around its mean
    assert np.allclose(f["after"] - f["before"], f["delta"])
    assert ((f["low"] <= f["delta"] + 1e-12) & (f["delta"] <= f["high"] + 1e-12)).all()
    long = rep.to_frame("long")
    assert set(long["scope"]) == {"overall"} | {c.label for c in rep.cohorts}
    assert rep.holdout.startswith("user test split")
    assert rep.n_fits == 1 and rep.deterministic  # lbfgs ignores the seed: one fit each


def test_report_views_are_short_and_escaped(relabelled):
    rep = relabelled[0]
    text = repr(rep)
    assert text.startswith("FixReport(") and len(text) < 300 and "\n" not in text
    html = rep._repr_html_()
    assert "id='fixes'" in html and "no clear effect" in html
    diag = Diagnosis.from_fixes(rep)
    sents = diag.sentences()
    anchors = {s.anchor for s in sents}
    assert {"#fixes", "#suspicious"} <= anchors and anchors <= {
        "#cohorts", "#systematic", "#ambiguity", "#fixes", "#suspicious"}
    assert any("Best verified fix" in s.text for s in sents)
    assert all(s.text.endswith(".") for s in sents)
    assert len(repr(diag)) < 300
    assert "<script>" not in diag._repr_html_()


# --------------------------------------------------------------------------- ambiguity
@pytest.fixture(scope="module")
def ambiguous():
    """German with labels a linear model reproduces, plus a copy of every ``housing = rent``
    row with the opposite label: identical rows with conflicting labels, nothing else."""
    X, y = german()
    Z, enc = encode(X, "onehot")
    y = _lr().fit(Z, y).predict(Z)
    sub = np.flatnonzero((X["housing"] == "rent").to_numpy())
    X2 = pd.concat([X, X.iloc[sub]], ignore_index=True)
    y2 = np.r_[y, 1 - y[sub]]
    return diagnose(_lr(), enc.transform(X2), y2, encoder=enc, actions=NO_FLIP,
                    random_state=0, progress=False)


def test_conflicting_duplicates_are_ambiguous_and_get_no_relabelling(ambiguous):
    diag = ambiguous
    rep = diag.fixes
    assert rep.holdout.startswith("held out 25 % of training rows")
    rent = [v for v in diag.cohorts if v.rule == "housing = rent"]
    assert rent and rent[0].verdict == "ambiguous"
    assert "identical rows with conflicting labels" in rent[0].reason
    ambiguous_labels = {v.label for v in diag.cohorts if v.verdict == "ambiguous"}
    # no relabelling proposed, none even built for an ambiguous cohort
    assert not [a for a in diag.proposed if rep.action(a).kind == "relabel"]
    assert not [a for a in rep.actions
                if a.kind == "relabel" and a.cohort in ambiguous_labels]
    assert any("no relabelling is proposed" in why for _, why in rep.skipped)
    sents = diag.sentences()
    assert any(s.anchor == "#ambiguity" and "ambiguous" in s.text for s in sents)
    assert diag.to_frame().loc[lambda f: f.cohort == rent[0].label, "verdict"].item() == (
        "ambiguous")


# --------------------------------------------------------------------------- every family
def test_flip_points_feature_removal_and_seeds_on_german():
    X, y = german()
    Z, enc = encode(X, "onehot")
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=1)
    sgd = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0,
                                                        max_iter=50, tol=None))
    rep = verify_fixes(sgd, Z[tr], y[tr], X_test=Z[te], y_test=y[te], encoder=enc,
                       actions=["add flip points", "drop feature", "flip points along feature",
                                "drop suspicious"],
                       flagged_features=["age"], protected=["personal_status_sex"],
                       n_repeats=3, n_bootstrap=200, flip_rows=8, screen_regions=0,
                       random_state=3, progress=False)
    assert rep.n_fits == 3 and not rep.deterministic  # SGD depends on its seed
    names = {a.name for a in rep.actions} | {n for n, _ in rep.skipped}
    assert {"add flip points", "drop feature age", "drop feature personal_status_sex",
            "add flip points along age"} <= names
    drop_age = rep.action("drop feature age")
    assert drop_age.kind == "neutralise" and drop_age.n_changed == 0
    assert drop_age.columns == tuple(enc.groups_["age"])
    held = drop_age.transform(Z[te])
    assert np.all(held[:, enc.groups_["age"]] == drop_age.fill[0])
    sex = rep.action("drop feature personal_status_sex")
    block = sex.transform(Z[te])[:, enc.groups_["personal_status_sex"]]
    assert np.all(block.sum(axis=1) == 1)  # still a valid one-hot level
    flip = rep.action("add flip points")
    assert flip.kind == "augment" and 0 < flip.n_changed <= 8
    assert flip.X_add.shape[1] == Z.shape[1]


def test_custom_actions_and_reproducibility():
    X, y = german()
    Z, enc = encode(X, "onehot")
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)

    def peer(ev):  # a peer method sees the training rows only
        assert len(ev.y) == len(tr)
        return FixAction.drop("peer: drop 10 least confident", ev.suspicious.ranking[:10],
                              family="custom")

    kw = dict(X_test=Z[te], y_test=y[te], screen_regions=0, random_state=5, progress=False,
              n_bootstrap=300)
    own = FixAction.relabel("flip row 0", [0], [1 - y[tr][0]])
    a = verify_fixes(_lr(), Z[tr], y[tr], actions=["drop suspicious", peer, own], **kw)
    b = verify_fixes(_lr(), Z[tr], y[tr], actions=["drop suspicious", peer, own], **kw)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert {"peer: drop 10 least confident", "flip row 0"} <= set(a.ranked)
    assert a.action("flip row 0").n_changed == 1
    with pytest.raises(ValueError, match="out of range"):
        verify_fixes(_lr(), Z[tr], y[tr], actions=[FixAction.drop("bad", [10**6])], **kw)


def test_paired_interval():
    d = np.zeros((2, 50))
    assert paired_interval(d, n_bootstrap=200, random_state=0) == (0.0, 0.0, 0.0)
    rng = np.random.default_rng(0)
    d = rng.choice([-1.0, 0.0, 1.0], size=(3, 400), p=[0.1, 0.7, 0.2])
    m, lo, hi = paired_interval(d, n_bootstrap=500, random_state=1)
    assert lo < m < hi and lo > 0
    assert paired_interval(d, n_bootstrap=500, random_state=1) == (m, lo, hi)
    assert np.isnan(paired_interval(np.zeros((1, 0)), random_state=0)[0])


def test_rules_apply_to_new_rows():
    D = pd.DataFrame({"a": pd.Categorical(["x", "y", "x"]), "b": [1.0, 5.0, 9.0]})
    cond = {"a": ("in", ("x",), ("y",)), "b": ("range", 2.0, np.inf)}
    np.testing.assert_array_equal(rule_mask(cond, D), [False, False, True])
    np.testing.assert_array_equal(region_mask("a = x and b > 2", D), [False, False, True])
    np.testing.assert_array_equal(region_mask("a = y and 2 < b <= 6", D), [False, True, False])
    np.testing.assert_array_equal(region_mask("b <= 5", D), [True, True, False])
    assert region_mask("c = 1", D) is None


# --------------------------------------------------------------------------- bad input
class _NoParams:
    """predict_proba but no get_params/fit: cannot be refitted."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        return np.tile([0.5, 0.5], (len(X), 1))


def test_bad_input():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(TypeError, match="_NoParams"):
        verify_fixes(_NoParams(), X, y, progress=False)
    with pytest.raises(TypeError, match="_NoParams"):
        diagnose(_NoParams(), X, y, progress=False)
    lr = LogisticRegression()
    with pytest.raises(ValueError, match="X_test and y_test"):
        verify_fixes(lr, X, y, X_test=X)
    with pytest.raises(ValueError, match="actions: unknown family"):
        verify_fixes(lr, X, y, actions=["relabel everything"])
    with pytest.raises(TypeError, match="actions"):
        verify_fixes(lr, X, y, actions=42)
    with pytest.raises(ValueError, match="n_repeats"):
        verify_fixes(lr, X, y, n_repeats=0)
    with pytest.raises(TypeError, match="n_repeats"):
        verify_fixes(lr, X, y, n_repeats=2.5)
    with pytest.raises(ValueError, match="test_size"):
        verify_fixes(lr, X, y, test_size=0.9)
    with pytest.raises(ValueError, match="2 classes"):
        verify_fixes(lr, X, np.zeros(120, dtype=int))
    with pytest.raises(ValueError, match="flagged_features"):
        verify_fixes(lr, X, y, flagged_features=["nope"])
    with pytest.raises(ValueError, match="protected"):
        verify_fixes(lr, X, y, protected=["nope"])
    with pytest.raises(ValueError, match="suspicious"):
        verify_fixes(lr, X, y, suspicious=object())
    with pytest.raises(ValueError, match="columns"):
        verify_fixes(lr, X, y, X_test=X[:, :2], y_test=y)
    with pytest.raises(ValueError, match="display_data"):
        verify_fixes(lr, X, y, display_data=pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="FixAction objects"):
        verify_fixes(lr, X, y, actions=[FixAction.drop("d", [0])])
    with pytest.raises(ValueError, match="kind"):
        FixAction("x", "delete")
    with pytest.raises(ValueError, match="labels"):
        FixAction.relabel("x", [0, 1], [1])
    with pytest.raises(TypeError, match="FixReport"):
        Diagnosis.from_fixes("not a report")


# --------------------------------------------------------------------------- plot
def test_forest_plot(relabelled):
    import matplotlib.pyplot as plt

    rep = relabelled[0]
    ax = rep.plot(show=False)
    fig = ax.figure
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.get_yticklabels() if t.get_text()]
    assert len(boxes) == min(12, len(rep.actions))
    for a, b in zip(boxes, boxes[1:]):
        assert not a.overlaps(b), "tick labels overlap"
    assert all(len(line) <= 40 for t in ax.get_yticklabels()
               for line in t.get_text().split("\n"))
    _, own = plt.subplots()
    n = len(plt.get_fignums())
    c = rep.cohorts[0].label
    assert rep.plot(scope=c, max_display=3, ax=own, show=False) is own
    assert len(plt.get_fignums()) == n and len(own.get_yticklabels()) == 3
    with pytest.raises(ValueError, match="scope"):
        rep.plot(scope="C99", show=False)
    assert isinstance(rep, FixReport)


def test_a_small_significant_gain_is_worded_in_proportion():
    """+1 point on a 15-point gap is 'fixable' but not 'the labels were the problem'."""
    from types import SimpleNamespace

    from shap_debug.fixes._diagnosis import _verdict

    def report(delta):
        eff = {"delta": delta, "p_value": 1e-4, "before": 0.71, "after": 0.71 + delta,
               "low": delta / 2, "high": 2 * delta, "effect": "helps"}
        return SimpleNamespace(
            baseline_accuracy={"overall": 0.86, "C1": 0.71}, confidence=0.95,
            actions=[SimpleNamespace(kind="relabel", cohort="C1", name="relabel C1")],
            effect=lambda name, label=None: eff)

    cohort = SimpleNamespace(label="C1", rule="a > 1", source="cohort", irreducible=False,
                             test_rows=np.arange(300), ambiguity="fixable")
    small = _verdict(report(0.01), cohort)
    assert small.verdict == "fixable" and "closes 7% of its 15-point gap" in small.reason
    assert "only part of the problem" in small.reason and "not the model" not in small.reason
    big = _verdict(report(0.10), cohort)
    assert "the labels, not the model, were the problem" in big.reason


# ------------------------------------------------------------ sequential verification (#29)
@pytest.mark.parametrize("seed", [0, 1])
def test_sequential_verification_keeps_the_verdicts_with_fewer_fits(seed):
    """Adult, positives planted as negatives at a random rate: restoring them is known to
    help, flipping a random quarter of the labels to hurt (or at least not help), dropping a
    few random rows to do nothing. Stopping each action once its verdict is decided gives
    the full path's verdicts and best action, with fewer refits."""
    from sklearn.ensemble import RandomForestClassifier

    from shap_debug.core import RefitCache
    from shap_debug.datasets import adult, encode
    from shap_debug.fixes import FixAction

    X, y = adult()
    Z, _ = encode(X)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), 2400, replace=False)
    Z, y = np.asarray(Z)[idx], y[idx]
    Xtr, ytr, Xte, yte = Z[:1600], y[:1600].copy(), Z[1600:], y[1600:]
    pos = np.flatnonzero(ytr == 1)
    planted = rng.choice(pos, int(rng.uniform(0.4, 0.6) * len(pos)), replace=False)
    ytr[planted] = 0
    noise = rng.choice(1600, 400, replace=False)
    acts = [FixAction.relabel("restore planted", planted, np.ones(len(planted), int)),
            FixAction.relabel("flip random quarter", noise, 1 - ytr[noise]),
            FixAction.drop("drop 5 rows", rng.choice(1600, 5, replace=False)),
            FixAction.drop("drop 10 rows", rng.choice(1600, 10, replace=False))]
    model = RandomForestClassifier(n_estimators=20, min_samples_leaf=2, random_state=0)
    runs = {}
    for seq in (False, True):
        cache = RefitCache()
        rep = verify_fixes(model, Xtr, ytr, X_test=Xte, y_test=yte, actions=acts,
                           screen_regions=0, n_repeats=5, random_state=seed, progress=False,
                           sequential=seq, cache=cache)
        runs[seq] = (rep, cache.counts()["fixes"])
    full, seq = runs[False][0], runs[True][0]
    assert full.best == seq.best == "restore planted"

    def verdicts(rep):
        eff = rep.effects.query("scope == 'overall'")
        return {a: ("helps" if lo > 0 else "hurts" if hi < 0 else "unclear")
                for a, lo, hi in zip(eff["action"], eff["low"], eff["high"])}

    assert verdicts(full) == verdicts(seq)
    assert verdicts(full)["restore planted"] == "helps"
    assert verdicts(full)["flip random quarter"] != "helps"
    used = seq.effects.attrs["seeds_used"]
    assert used["restore planted"] < 5                       # decided early
    assert full.effects.attrs["fits_saved"] == 0
    saved = seq.effects.attrs["fits_saved"]
    assert saved == sum(5 - n for n in used.values()) > 0
    assert runs[True][1] == runs[False][1] - saved            # the fits really not made
    # actions refitted with every seed get exactly the full path's numbers
    for a, n in used.items():
        if n == 5:
            pd.testing.assert_frame_equal(
                full.effects[full.effects["action"] == a].reset_index(drop=True),
                seq.effects[seq.effects["action"] == a].reset_index(drop=True))


def test_sequential_and_cache_inputs_are_checked():
    X, y = np.random.default_rng(0).normal(size=(80, 3)), np.arange(80) % 2
    with pytest.raises(TypeError, match="sequential"):
        verify_fixes(LogisticRegression(), X, y, sequential="yes", progress=False)
    with pytest.raises(TypeError, match="cache must be a RefitCache"):
        verify_fixes(LogisticRegression(), X, y, cache={}, progress=False)
    with pytest.raises(ValueError, match="min_effect"):
        verify_fixes(LogisticRegression(), X, y, min_effect=-1.0, progress=False)


def test_an_action_that_changes_the_models_parameters_is_refitted_with_them():
    """An action may bring new parameters (``refit_model``): the refit is the model with
    them (C=1e-6: nearly always the majority class), not the model as given."""
    from dataclasses import dataclass

    from sklearn.base import clone

    from shap_debug.fixes import FixAction

    @dataclass(frozen=True, repr=False)
    class Regularise(FixAction):
        def refit_model(self, model):
            return clone(model).set_params(C=1e-6)

    X, y = german()
    Z, _ = encode(X)
    Z = np.asarray(Z, dtype=np.float64)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, random_state=0, stratify=y)
    act = Regularise("regularise", "drop", rows=np.empty(0, np.int64))
    rep = verify_fixes(LogisticRegression(max_iter=3000), Z[tr], y[tr], X_test=Z[te],
                       y_test=y[te], actions=[act], screen_regions=0, random_state=0,
                       progress=False)
    after = rep.effects.query("scope == 'overall'")["after"].iloc[0]
    direct = LogisticRegression(max_iter=3000, C=1e-6).fit(Z[tr], y[tr]).predict(Z[te])
    assert after == pytest.approx(np.mean(direct == y[te]))
    assert abs(np.mean(direct == np.bincount(y[tr]).argmax()) - 1) < 0.05  # nearly majority
    assert rep.effects.query("scope == 'overall'")["before"].iloc[0] != pytest.approx(after)
