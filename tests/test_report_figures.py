"""The report debugs: no empty or degenerate section, legible figures (issue 17, items 5-6).

One small German credit run (GradientBoosting on 600 rows, one anomaly duplicated in the
training set) is rendered; every section is audited for empty tables and placeholders, and
every figure the report embeds is drawn and its tick labels, axis labels and titles checked
for overlaps with matplotlib's renderer.
"""

import itertools
import re
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402

from shap_debug.datasets import encode, german  # noqa: E402
from shap_debug.debugger import (  # noqa: E402
    Debugger,  # noqa: E402
    influential_table,
    sparser_flip,
)
from shap_debug.plots import cohort_plot  # noqa: E402
from shap_debug.report import render_report, report_figures  # noqa: E402

N = 600


@pytest.fixture(scope="module")
def run():
    X, y = german()
    Z, enc = encode(X)
    model = GradientBoostingClassifier(n_estimators=40, random_state=0).fit(Z[:N], y[:N])
    proba = model.predict_proba(Z[:N])
    wrong = np.flatnonzero(model.predict(Z[:N]) != y[:N])
    dup = int(wrong[np.argmax(proba[wrong].max(axis=1))])
    # an exact copy of an anomaly (same inputs, same label) joins the training rows
    Ztr, ytr = np.vstack([Z[:N], Z[[dup]]]), np.append(y[:N], y[dup])
    dbg = Debugger(model, Ztr, ytr, encoder=enc, X_test=Z[N:], y_test=y[N:],
                   protected=["personal_status_sex"], n_neighbors=60, budget=4,
                   progress=False)
    other = int(next(a for a in dbg.anomalies()["row"] if a not in (dup, N)))
    ev = dbg.evidence([dup, other], label_flip=False)
    return SimpleNamespace(dbg=dbg, ev=ev, dup=dup, copy=N, other=other,
                           doc=render_report(ev))


def _sections(doc):
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', doc, flags=re.S))


# ---------------------------------------------------------------------------- item 5
def test_no_section_renders_an_empty_table_or_a_placeholder(run):
    doc = run.doc
    assert not run.ev.failures and not run.ev.overview.failures
    for anchor, body in _sections(doc).items():
        for table in re.findall(r"<table.*?</table>", body, flags=re.S):
            assert "<td" in table, f"empty table in section {anchor!r}: {table[:300]}"
    assert "(0 of 0)" not in doc and "(none)" not in doc
    assert "Not computed." not in doc
    assert 'class="error"' not in doc, re.findall(r'class="error">([^<]*)', doc)


def test_the_formula_is_never_a_constant(run):
    formula = run.ev.overview.formula
    text = str(formula.formula)
    assert text not in ("True", "False")
    logic = _sections(run.doc)["global"].split('id="logic"')[1]
    assert "&lArr;" not in logic  # never "True <= False"
    assert not re.search(r"<code>\s*(True|False)\s*</code>", logic)
    if formula.is_trivial:
        assert formula.reason and formula.reason in logic.replace("&#x27;", "'")
    else:
        assert "tends to be an anomaly" in logic and formula.recall > 0


def test_the_anomaly_is_not_among_its_influential_rows_and_copies_are_marked(run):
    for i, ins in run.ev.inspections.items():
        assert i not in set(ins.influential["row"]), i
        section = _sections(run.doc)[f"anomaly-{i}"].split("Most influential training rows")[1]
        rows = re.findall(r"<tr>\s*<td>(\d+)</td>", section)
        assert rows and str(i) not in rows
    table = run.ev.inspections[run.dup].influential
    marked = table.loc[table["row"] == run.copy, "duplicate"]
    assert list(marked) == ["exact duplicate of the anomaly"]
    assert (table.loc[table["row"] != run.copy, "duplicate"] == "").all()
    assert "exact duplicate of the anomaly" in _sections(run.doc)[f"anomaly-{run.dup}"]


def test_protected_attribute_table_has_the_protected_rows(run):
    effects = run.ev.protected_effects
    assert effects is not None and set(effects["feature"]) == {"personal_status_sex"}
    assert set(effects["anomaly"]) == set(run.ev.inspections)


def test_diagnosis_opens_the_report_and_links_to_its_evidence(run):
    ev, doc = run.ev, run.doc
    assert ev.diagnosis and all(isinstance(s, str) and a for s, a in ev.diagnosis)
    assert doc.index('id="diagnosis"') < doc.index('id="summary"')
    for _, anchor in ev.diagnosis:
        assert f'id="{anchor}"' in doc, anchor
    anchors = {a for _, a in ev.diagnosis}
    assert "cohorts" in anchors and "suspicious" in anchors
    assert {f"anomaly-{i}-flip" for i in ev.inspections} <= anchors
    # fixes, recurring rows and the dose-response ladder run by default and render in
    # their sections; the diagnosis carries the dose-response's verdict
    assert ev.fixes is not None and ev.recurring is not None and ev.dose is not None
    assert "fixes" in anchors and 'id="fixes"' in doc and 'id="recurring"' in doc
    assert ev.dose.search == "ladder" and set(ev.dose.anomalies) == set(ev.anomalies)
    assert "dose" in anchors and 'id="dose"' in doc


def test_each_flip_says_whether_a_sparser_change_exists(run):
    for i, ins in run.ev.inspections.items():
        assert ins.flip is not None, ins.notes
        sp = ins.sparser
        assert sp is not None and sp.n_changed == len(ins.flip.changes)
        closer = sp.best is not None and sp.best["distance"] < sp.distance
        if closer:  # the sparser change is also closer: it is named as the closest known
            assert sp.sentence.startswith("Changing only") and "closest change known" in \
                sp.sentence and f"{sp.n_changed}-feature change" in sp.sentence
        else:
            assert f"touches {sp.n_changed} feature" in sp.sentence
        assert len(sp.tried) <= 2 * run.dbg.X.shape[1]  # bounded: singles and <= 6 pairs
        if sp.best is not None:
            assert sp.best["n_features"] < sp.n_changed
            assert closer or "flips it too" in sp.sentence
        elif sp.n_changed > 1:
            assert "no change of at most" in sp.sentence
        flip = _sections(run.doc)[f"anomaly-{i}"].split(f'id="anomaly-{i}-flip"')[1]
        assert "Sparser change?" in flip


def test_sparser_flip_sentences():
    changes = pd.DataFrame({"feature": list("abcdef")})
    none = pd.DataFrame({"features": list("ab"), "can_flip": [False, False],
                         "distance": [np.nan] * 2, "change": ["", ""],
                         "outside_range": [False] * 2})
    pairs = pd.DataFrame({"features": ["a + b"], "can_flip": [True], "distance": [3.0],
                          "change": ["a: 1 → 2, b: x → y"], "outside_range": [True]})
    res = sparser_flip(changes, 2.0, none, pairs)
    assert res.best["features"] == "a + b"
    assert res.sentence.startswith("The closest change found touches 6 features")
    assert "no single feature flips it alone, but changing only `a` and `b`" in res.sentence
    assert "outside the training range" in res.sentence
    res = sparser_flip(changes, 2.0, none, pairs.assign(can_flip=False))
    assert res.best is None and "no change of at most 2 features flips it" in res.sentence
    assert "touches 1 feature" in sparser_flip(changes.head(1), 1.0, none).sentence
    res = sparser_flip(changes, 4.0, none, pairs)  # the pair is closer than the search's
    assert res.sentence.startswith("Changing only `a` and `b` flips it at distance 3")
    assert "closest change known" in res.sentence and "6-feature change at distance 4" in \
        res.sentence and "touches" not in res.sentence


def test_influential_table_leaves_the_anomaly_out_and_marks_copies():
    frame = pd.DataFrame({"a": [1, 2, 1, 3], "b": ["x", "y", "x", "z"]})
    X = np.array([[1, 0], [2, 1], [1, 0], [3, 2]])
    out = influential_table(frame, X, np.array([0, 1, 1, 0]), 0, [0, 2, 1, 3],
                            [0.0, 0.0, 0.5, 0.7], k=2)
    assert list(out["row"]) == [2, 1]
    assert list(out["duplicate"]) == ["exact duplicate of the anomaly", ""]


# ---------------------------------------------------------------------------- item 6
def _view_filter(ax, axis):
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    pad = 1e-9 * max(1.0, abs(hi - lo))

    def inside(label):
        pos = label.get_position()[0 if axis == "x" else 1]
        return lo - pad <= pos <= hi + pad

    return inside


def _texts(fig):
    """Per Axes: its visible, non-empty tick labels per axis, axis labels and title."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        ticks = {}
        for axis, obj in (("x", ax.xaxis), ("y", ax.yaxis)):
            inside = _view_filter(ax, axis)
            ticks[axis] = [(lab.get_text(), lab.get_window_extent(renderer))
                           for lab in obj.get_ticklabels() if obj.get_visible()
                           and lab.get_visible() and lab.get_text().strip() and inside(lab)]
        others = [(t.get_text(), t.get_window_extent(renderer))
                  for t in (ax.xaxis.label, ax.yaxis.label, ax.title)
                  if t.get_visible() and t.get_text().strip()]
        out.append((ax, ticks, others))
    return out


def _overlaps(a, b, tol=0.5):
    return a.padded(-tol).overlaps(b.padded(-tol))


def overlapping_labels(fig):
    """Pairs of texts of ``fig`` whose boxes overlap: tick labels on one axis, an axis label
    or title over that Axes' tick labels, and texts of two different Axes."""
    found = []
    texts = _texts(fig)
    for _ax, ticks, others in texts:
        for axis, boxes in ticks.items():
            for (t1, b1), (t2, b2) in itertools.combinations(boxes, 2):
                if _overlaps(b1, b2):
                    found.append(f"{axis} tick labels {t1!r} and {t2!r}")
        every = ticks["x"] + ticks["y"]
        for (t1, b1) in others:
            found += [f"{t1!r} over tick label {t2!r}" for t2, b2 in every if _overlaps(b1, b2)]
    for (_, t1, o1), (_, t2, o2) in itertools.combinations(texts, 2):
        one = t1["x"] + t1["y"] + o1
        two = t2["x"] + t2["y"] + o2
        found += [f"{a!r} and {b!r} (two panels)" for a, b1 in one for b, b2 in two
                  if _overlaps(b1, b2)]
    return found


def test_no_report_figure_has_overlapping_labels(run):
    figures = report_figures(run.ev)
    try:
        names = [n for n, _ in figures]
        assert {"occurrence", "cohorts", "suspicious", "space view"} <= set(names), names
        assert sum(n.startswith(f"anomaly-{run.dup} ALE") for n in names) >= 2
        bad = {name: found for name, fig in figures if (found := overlapping_labels(fig))}
        assert not bad, bad
        # the report embeds exactly these figures
        assert run.doc.count("data:image/png;base64,") == len(figures)
    finally:
        for _, fig in figures:
            plt.close(fig)


def test_the_overlap_check_catches_crowded_labels():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_xticks(range(20))
    ax.set_xticklabels([f"long label {k}" for k in range(20)])
    try:
        assert overlapping_labels(fig)
    finally:
        plt.close(fig)


def _cohorts_with_long_rules(n):
    rules = [" and ".join(f"feature_{k}_{j} in {{level a, level b, level c}}"
                          for j in range(k % 4 + 1)) for k in range(n)]
    leaves = tuple(SimpleNamespace(rule=r, size=100 + k, error_share=0.5 / (k + 1),
                                   error_rate=0.3) for k, r in enumerate(rules))
    return SimpleNamespace(leaves=leaves, slices=leaves, n_rows=2000, error_rate=0.13)


@pytest.mark.parametrize("n", [1, 4, 10])
def test_cohort_chart_wraps_long_rules_and_grows_with_the_bars(n):
    ax = cohort_plot(_cohorts_with_long_rules(n), max_display=10, show=False,
                     kind="slices", numbered=True)
    fig = ax.figure
    try:
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert all(len(lab.splitlines()) <= 3 for lab in labels)
        assert labels[0].startswith("#1 ")
        assert fig.get_size_inches()[1] >= 0.5 * n
        assert not overlapping_labels(fig)
    finally:
        plt.close(fig)
