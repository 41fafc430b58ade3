"""Issue 25: every planted bug kind on German credit (a few seeds), found by ``audit.scan``.

For each kind the generator must plant what it says (checked against the clean data), and the
detector must name the kind among its first three signals and localise it (the right
feature, or rows/cohort with Jaccard >= 0.5). Clean controls must raise no confirmed signal.
Label noise and cohort relabelling are found by the suspicious-row and cohort analyses, not
by ``scan``; their checks use ``suspicious_rows``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shap_debug.audit import scan, suspicious_rows
from shap_debug.datasets import encode, german
from shap_debug.fixes import rule_mask
from shap_debug.testing import BUG_KINDS, FIXABLE, InjectedBug, inject

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def data():
    X, y = german()
    Z, enc = encode(X, "ordinal")
    Z = pd.DataFrame(Z, columns=enc.feature_names_out_)
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:700], order[700:]
    return Z.iloc[tr], y[tr], Z.iloc[te], y[te]


def gb():
    return HistGradientBoostingClassifier(max_depth=3, max_iter=60, random_state=0)


def lr():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / max(len(a | b), 1)


def found(bug: InjectedBug, model) -> tuple[list, object]:
    m = (bug.model if bug.model is not None else model).fit(bug.X, bug.y)
    sig = scan(m, bug.X, bug.y, bug.X_test, bug.y_test, random_state=0)
    hits = [s for s in sig[:3] if s.kind == bug.kind]
    return hits, sig


def localised(bug: InjectedBug, s) -> bool:
    if bug.kind in ("leakage", "id_column", "shortcut", "sentinel") and \
            bug.features[0] in s.features[:1]:
        return bug.kind != "sentinel" or jaccard(bug.rows, s.rows) >= 0.5
    if bug.kind == "under_represented":
        return jaccard(bug.rows, s.rows) >= 0.5
    if bug.kind == "cohort_shift":
        if s.features[:1] == bug.features[:1]:
            return True
        T = bug.X_test
        return s.rule is not None and jaccard(bug.test_rows, T.index[rule_mask(s.rule, T)]) >= 0.5
    if bug.kind == "conflicting_duplicates":
        return jaccard(bug.rows, s.rows) >= 0.5
    return bug.kind in ("overfitting", "underfitting")


# --------------------------------------------------------------------------- the generator
def test_kinds_and_validation(data):
    assert set(FIXABLE) == set(BUG_KINDS)
    with pytest.raises(ValueError, match="kind must be one of"):
        inject("typo", *data)
    X, y, T, yt = data
    with pytest.raises(ValueError, match="y and y_test"):
        inject("clean", X, y[:-1], T, yt)
    with pytest.raises(TypeError, match="both be DataFrames"):
        inject("clean", X, y, T.to_numpy(), yt)


@pytest.mark.parametrize("kind", BUG_KINDS)
def test_inputs_untouched_and_seeded(data, kind):
    X, y, T, yt = data
    before = (X.copy(), y.copy(), T.copy(), yt.copy())
    a = inject(kind, X, y, T, yt, random_state=3)
    b = inject(kind, X, y, T, yt, random_state=3)
    pd.testing.assert_frame_equal(X, before[0])
    pd.testing.assert_frame_equal(T, before[2])
    assert np.array_equal(y, before[1]) and np.array_equal(yt, before[3])
    assert a.rows == b.rows and a.features == b.features and a.rule == b.rule
    assert np.array_equal(a.y, b.y)
    assert len(a.X) == len(a.y) and len(a.X_test) == len(a.y_test)
    assert a.to_dict()["kind"] == kind and len(a.to_frame()) == 1
    assert a.plot(show=False).get_title().startswith(kind) and "<" in a._repr_html_()


def test_seeds_draw_different_bugs(data):
    rules = {str(inject("systematic_relabelling", *data, random_state=s).rule) for s in SEEDS}
    cols = {inject("sentinel", *data, random_state=s).features for s in range(5)}
    assert len(rules) == 3 and len(cols) >= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_label_kinds_planted(data, seed):
    X, y, T, yt = data
    noise = inject("label_noise", *data, random_state=seed)
    flipped = X.index[noise.y != y]
    assert set(flipped) == set(noise.rows) and 0.05 <= len(flipped) / len(y) <= 0.2
    rel = inject("systematic_relabelling", *data, random_state=seed)
    inside = rule_mask(rel.rule, X)
    changed = rel.y != y
    assert len(rel.rule) == 2 and changed.any() and not (changed & ~inside).any()
    assert set(X.index[changed]) == set(rel.rows) and inside.mean() >= 0.02


@pytest.mark.parametrize("seed", SEEDS)
def test_column_kinds_planted(data, seed):
    from sklearn.metrics import roc_auc_score

    X, y, T, yt = data
    leak = inject("leakage", *data, random_state=seed)
    f = leak.features[0]
    assert f not in X.columns and list(leak.X_clean.columns) == list(X.columns)
    assert roc_auc_score(leak.y, leak.X[f]) > 0.9 and roc_auc_score(leak.y_test, leak.X_test[f]) > 0.85
    sc = inject("shortcut", *data, random_state=seed)
    f = sc.features[0]
    assert (sc.X[f] == sc.y).mean() > 0.8 and abs((sc.X_test[f] == sc.y_test).mean() - 0.5) < 0.15
    ident = inject("id_column", *data, random_state=seed)
    v = ident.X[ident.features[0]]
    assert v.is_unique and roc_auc_score(ident.y, v) > 0.6
    assert ident.X_test[ident.features[0]].min() > v.max()


# --------------------------------------------------------------------------- detection
SCAN_KINDS = ["leakage", "id_column", "shortcut", "under_represented", "sentinel",
              "conflicting_duplicates", "cohort_shift", "overfitting", "underfitting"]


@pytest.mark.parametrize("kind", SCAN_KINDS)
def test_scan_names_and_localises(data, kind):
    misses = []
    for seed in (0, 1):
        bug = inject(kind, *data, random_state=seed, model=gb())
        hits, sig = found(bug, gb())
        if not hits or not localised(bug, hits[0]):
            misses.append((seed, bug.features, bug.rule,
                           [(s.kind, s.features, s.rule) for s in sig[:3]]))
    assert not misses, misses


@pytest.mark.parametrize("kind", ["leakage", "sentinel", "overfitting", "underfitting",
                                  "shortcut"])
def test_scan_with_a_linear_model(data, kind):
    bug = inject(kind, *data, random_state=5, model=lr())
    hits, sig = found(bug, lr())
    assert hits and localised(bug, hits[0]), [(s.kind, s.features) for s in sig]


def test_label_noise_found_by_suspicious_rows(data):
    bug = inject("label_noise", *data, random_state=1)
    sus = suspicious_rows(gb(), bug.X, bug.y, cv=3, random_state=0)
    flagged = set(bug.X.index[sus.flagged])
    precision = len(flagged & set(bug.rows)) / max(len(flagged), 1)
    rate = len(bug.rows) / len(bug.y)
    assert precision > 2 * rate


@pytest.mark.parametrize("model", [gb, lr], ids=["GB", "LR"])
@pytest.mark.parametrize("seed", (0, 1))
def test_clean_control_quiet(data, model, seed):
    bug = inject("clean", *data, random_state=seed)
    m = model().fit(bug.X, bug.y)
    sig = scan(m, bug.X, bug.y, bug.X_test, bug.y_test, random_state=seed)
    assert not [s for s in sig if s.verdict == "confirmed"], sig
