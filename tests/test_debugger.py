import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from shap_debug.cli import main
from shap_debug.datasets import encode, german
from shap_debug.debugger import Debugger, Evidence, Inspection, Overview

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def german_debugger():
    X, y = german()
    X = X.rename(columns={"purpose": HOSTILE})
    X[HOSTILE] = X[HOSTILE].cat.rename_categories(
        {"radio/television": "<b>tv</b>"})  # hostile category label too
    Z, enc = encode(X)
    model = GradientBoostingClassifier(n_estimators=50, random_state=0).fit(Z[:800], y[:800])
    dbg = Debugger(model, Z[:800], y[:800], encoder=enc, X_test=Z[800:], y_test=y[800:],
                   protected=["personal_status_sex"], n_neighbors=100, budget=5,
                   progress=False)
    return dbg, Z, y


def test_anomalies_ranked_and_inspection_parts(german_debugger):
    dbg, Z, y = german_debugger
    an = dbg.anomalies()
    pred = dbg.model.predict(Z[:800])
    assert set(an["row"]) == set(np.flatnonzero(pred != y[:800]))
    assert (np.diff(an["confidence"]) <= 1e-12).all()
    i = int(an["row"].iloc[0])
    ins = dbg.inspect(i)
    assert ins.anomaly == i and ins.true_label == y[i] and ins.predicted_label == pred[i]
    assert len(ins.neighborhood.indices) == 100
    assert len(ins.representatives.indices) == 5
    assert set(ins.representatives.indices) <= set(ins.neighborhood.indices)
    assert ins.rules.to_frame().shape[0] == 6  # the anomaly + 5 representatives
    assert ins.ale.explanation.values.shape == (100, 20)
    assert ins.flip is not None, ins.notes
    assert len(ins.influential) == 10
    assert i not in set(ins.influential["row"])  # never its own influential row
    assert ins.sparser is not None and "touches" in ins.sparser.sentence
    assert "anomaly" in str(ins).lower()
    # cached: the same object, contributions not recomputed
    assert dbg.inspect(i) is ins


def test_report_structure_and_escaping(german_debugger, tmp_path):
    dbg, _, _ = german_debugger
    path = dbg.report(2, tmp_path / "report.html", label_flip=True)
    doc = path.read_text()
    assert doc.startswith("<!DOCTYPE html>")
    for anchor in ("summary", "occurrence", "cohorts", "suspicious", "integrity",
                   "label-flip", "global", "timings"):
        assert f'id="{anchor}"' in doc
    assert len(re.findall(r'id="anomaly-\d+"', doc)) == 2
    assert doc.count("data:image/png;base64,") >= 5
    assert HOSTILE not in doc and "<b>tv</b>" not in doc
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "<script" not in doc  # no scripts at all: opens offline, nothing to execute
    assert "http://" not in doc and "https://" not in doc
    assert 'class="error"' not in doc, re.findall(r'class="error">([^<]*)', doc)


def _section(doc, anchor):
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', doc, flags=re.S)
    assert match, f"no section {anchor}"
    return match.group(1)


def test_evidence_values_and_short_reprs(german_debugger):
    dbg, _, _ = german_debugger
    ev = dbg.evidence(1, label_flip=False)
    assert isinstance(ev, Evidence) and isinstance(ev.overview, Overview)
    assert ev.overview is dbg.overview()  # computed once
    (i,) = ev.anomalies
    assert isinstance(ev.inspections[i], Inspection)
    assert ev.overview.integrity is not None and ev.overview.flags
    assert not ev.failures and not ev.overview.failures, (ev.failures, ev.overview.failures)
    assert ev.overview.classes == (0, 1) and sum(ev.overview.class_counts.values()) == 800
    for obj in (dbg, ev, ev.overview, ev.inspections[i]):
        text = repr(obj)
        assert "\n" not in text and len(text) < 400, text
    assert repr(dbg).startswith("Debugger(GradientBoostingClassifier, n=800")
    assert repr(ev.inspections[i]).startswith(f"Inspection(anomaly={i}")
    html = dbg._repr_html_() + ev.inspections[i]._repr_html_()
    assert HOSTILE not in html and "<b>tv</b>" not in html


def _three_classes(n=180):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "c": rng.normal(size=n)})
    y = np.digitize(X.a + 0.5 * X.b + rng.normal(0, 0.5, n), [-0.5, 0.5])
    return X, y


def test_three_class_report_says_in_its_section_why_label_flips_are_missing(tmp_path):
    X, y = _three_classes()
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    dbg = Debugger(lr, X, y, n_neighbors=20, budget=3, progress=False)
    ev = dbg.evidence(1)
    assert "3 classes" in ev.skipped["label-flip"] and ev.label_flips is None
    doc = dbg.report(1, tmp_path / "three.html").read_text()
    flips = _section(doc, "label-flip")
    assert "binary-only" in flips and "3 classes (0, 1, 2)" in flips
    assert 'class="missing"' in flips
    assert len(re.findall(r'id="anomaly-\d+"', doc)) == 1
    assert 'class="error"' not in doc, re.findall(r'class="error">([^<]*)', doc)


def test_zero_anomalies_report_says_in_each_section_why_it_is_empty(tmp_path):
    X, y = _three_classes()
    y = (y > 0).astype(int)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)  # no training error
    dbg = Debugger(tree, X, y, n_neighbors=20, budget=3, progress=False)
    with pytest.warns(UserWarning, match="no anomalies"):
        ev = dbg.evidence(3)
    assert ev.anomalies == () and ev.overview.n_anomalies == 0
    assert set(ev.overview.skipped) == {"occurrence", "logic"}
    doc = dbg.report(3, tmp_path / "zero.html").read_text()
    logic = _section(doc, "global").split("logic formula")[1]
    assert "No formula" in logic and "every training row correctly" in logic
    assert "every training row correctly" in _section(doc, "occurrence")
    assert "nothing to retrain" in _section(doc, "label-flip")
    assert 'class="error"' not in doc, re.findall(r'class="error">([^<]*)', doc)


def test_a_failing_part_is_a_value_shown_in_its_section(german_debugger):
    dbg, _, _ = german_debugger
    ev = dbg.evidence(1, label_flip=False)
    broken = Evidence(overview=Overview(**{**ev.overview.__dict__, "cohorts": None,
                                           "failures": {"cohorts": "ValueError: boom"}}),
                      anomalies=ev.anomalies, inspections=ev.inspections)
    from shap_debug.report import render_report

    cohorts = _section(render_report(broken), "cohorts")
    assert 'class="error"' in cohorts and "ValueError: boom" in cohorts


def test_debugger_bad_input():
    X, y = german()
    Z, enc = encode(X)
    lr = LogisticRegression(max_iter=3000).fit(Z, y)
    with pytest.raises(ValueError, match="y has"):
        Debugger(lr, Z, y[:10])
    with pytest.raises(ValueError, match="protected"):
        Debugger(lr, Z, y, encoder=enc, protected=["nope"])
    with pytest.raises(ValueError, match="explanation"):
        Debugger(lr, Z, y, explanation=np.zeros((5, 20)))
    with pytest.raises(TypeError, match="predict_proba"):
        Debugger(object(), Z, y)
    with pytest.raises(ValueError, match="two classes"):
        Debugger(lr, Z, np.zeros(len(Z), dtype=int))


def test_cli_end_to_end_on_german(tmp_path, capsys):
    out = tmp_path / "german.html"
    code = main(["report", "--dataset", "german", "--anomalies", "2", "--out", str(out),
                 "--quiet", "--neighbors", "100"])
    assert code == 0
    doc = out.read_text()
    assert len(re.findall(r'id="anomaly-\d+"', doc)) == 2
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("report written to") and "total" in line


def test_cli_errors_are_messages_not_tracebacks(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    pd.DataFrame({"a": [1, 2, 3, 4], "t": [0, 1, 2, 1]}).to_csv(csv, index=False)
    assert main(["report", "--dataset", str(csv), "--target", "nope"]) == 2
    assert "not in" in capsys.readouterr().err
    assert main(["report", "--dataset", str(csv), "--target", "t"]) == 2
    assert "class 0 has only 1 row in" in capsys.readouterr().err
    pd.DataFrame({"a": range(40), "t": np.linspace(0, 1, 40)}).to_csv(csv, index=False)
    assert main(["report", "--dataset", str(csv), "--target", "t"]) == 2
    assert "40 distinct values" in capsys.readouterr().err
    pd.DataFrame({"a": range(40), "t": ["x"] * 40}).to_csv(csv, index=False)
    assert main(["report", "--dataset", str(csv), "--target", "t"]) == 2
    assert "at least two classes" in capsys.readouterr().err
    assert main(["report", "--dataset", str(tmp_path / "missing.csv"), "--target", "t"]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00\x00garbage")
    assert main(["report", "--dataset", str(bad), "--target", "t"]) == 2
    assert main(["report", "--dataset", "german", "--chunk-size", "0"]) == 2
    assert "--chunk-size must be >= 1" in capsys.readouterr().err


def test_chunk_size_bounds_the_queries_without_changing_the_overview(capsys):
    """A tiny query chunk gives the same occurrence counts, and each part is announced."""
    X, y = german()
    Z, enc = encode(X)
    lr = LogisticRegression(max_iter=3000).fit(Z, y)
    small = Debugger(lr, Z, y, encoder=enc, n_neighbors=50, chunk_size=7, progress=True)
    assert small.neighborhood_model.chunk_size == 7
    big = Debugger(lr, Z, y, encoder=enc, n_neighbors=50, progress=False)
    a, b = small.neighborhood_model.occurrence(), big.neighborhood_model.occurrence()
    assert np.array_equal(a.counts, b.counts)
    small.overview()
    err = capsys.readouterr().err
    for part in ("integrity", "cohorts", "suspicious", "occurrence", "logic"):
        assert f"shap-debug overview: {part}" in err


def test_cli_runs_a_user_csv(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=300), "colour": rng.choice(["red", "blue"], 300)})
    frame["label"] = np.where(frame.x1 + (frame.colour == "red") + rng.normal(0, .5, 300) > 0.5,
                              "yes", "no")
    csv = tmp_path / "mine.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "mine.html"
    assert main(["report", "--dataset", str(csv), "--target", "label", "--model", "lr",
                 "--anomalies", "1", "--out", str(out), "--quiet", "--no-label-flip"]) == 0
    assert 'id="anomaly-' in out.read_text()


def test_cli_runs_a_three_class_csv_with_class_names(tmp_path, capsys):
    X, y = _three_classes(240)
    frame = X.assign(grade=np.array(["low", "mid", "high"])[y])
    csv = tmp_path / "three.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "three.html"
    assert main(["report", "--dataset", str(csv), "--target", "grade", "--model", "lr",
                 "--anomalies", "1", "--neighbors", "20", "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "target 'grade': 3 classes (multi-class): high (" in err and "binary-only" in err
    doc = out.read_text()
    assert "3 classes: high (" in _section(doc, "summary")
    assert "binary-only" in _section(doc, "label-flip")
    anomaly = re.search(r'<section id="anomaly-\d+">.*?</section>', doc, flags=re.S).group(0)
    assert re.search(r"true label <b>(low|mid|high)</b>", anomaly)
    assert 'class="error"' not in doc, re.findall(r'class="error">([^<]*)', doc)


def test_cli_says_how_missing_values_were_filled(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200),
                          "colour": rng.choice(["red", "blue"], 200)})
    frame["label"] = np.where(frame.x1 + rng.normal(0, 0.5, 200) > 0, "yes", "no")
    frame.loc[[3, 7, 9], "colour"] = np.nan
    frame.loc[[4, 8], "x2"] = np.nan
    frame.loc[[5], "x2"] = 1.0
    csv = tmp_path / "holes.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "holes.html"
    assert main(["report", "--dataset", str(csv), "--target", "label", "--model", "lr",
                 "--anomalies", "1", "--out", str(out), "--quiet", "--no-label-flip"]) == 0
    err = capsys.readouterr().err
    median = frame["x2"].median()
    numeric = f"column 'x2': 2 missing values filled with the median ({median:.4g})"
    text = "column 'colour': 3 missing values became the category 'missing'"
    assert numeric in err and text in err
    summary = _section(out.read_text(), "summary")
    assert "How the data were prepared" in summary
    assert numeric.replace("'", "&#x27;") in summary and text.replace("'", "&#x27;") in summary


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it)")
def test_report_opens_in_headless_chromium(german_debugger, tmp_path):
    dbg, _, _ = german_debugger
    path = dbg.report(1, tmp_path / "r.html", label_flip=False)
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1280,2000",
         path.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    console_errors = [ln for ln in proc.stderr.splitlines()
                      if "CONSOLE" in ln and ("error" in ln.lower() or "Uncaught" in ln)]
    assert not console_errors, console_errors
    docs = Path(__file__).resolve().parents[1] / "docs" / "img"
    if docs.is_dir() and not (docs / "report.png").exists():
        shutil.copy(shot, docs / "report.png")


def test_debugger_and_cli_on_a_dask_cluster(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    X, y = german()
    Z, enc = encode(X)
    # a model without an exact explainer, so the sampling estimator's chunks go to the cluster
    model = KNeighborsClassifier(n_neighbors=15).fit(Z[:300], y[:300])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dbg = Debugger(model, Z[:300], y[:300], encoder=enc, n_neighbors=30, budget=3,
                       client=client, progress=False)
        local = Debugger(model, Z[:300], y[:300], encoder=enc, n_neighbors=30, budget=3,
                         progress=False)
        # the same contributions whether the chunks ran on the cluster or here
        np.testing.assert_allclose(dbg.neighborhood_model.contributions_,
                                   local.neighborhood_model.contributions_)
        assert dbg.parallel_jobs == -1
        path = dbg.report(1, tmp_path / "dask.html")
        assert 'id="label-flip"' in path.read_text()
        out = tmp_path / "cli.html"
        assert main(["report", "--dataset", "german", "--anomalies", "1", "--neighbors", "50",
                     "--no-label-flip", "--quiet", "--out", str(out),
                     "--scheduler", cluster.scheduler_address]) == 0
        assert out.exists()


def test_cli_dose_options():
    """The ladder by default, the exact search with --dose [CAP], none with --no-dose."""
    from argparse import Namespace

    from shap_debug.cli import _dose

    assert _dose(Namespace(dose=None, no_dose=False)) == "ladder"
    assert _dose(Namespace(dose=0, no_dose=False)) is True
    assert _dose(Namespace(dose=300, no_dose=False)) == 300
    assert _dose(Namespace(dose=None, no_dose=True)) is False


def test_bad_anomalies_and_test_columns_are_refused_before_any_heavy_work():
    import time

    from sklearn.linear_model import LogisticRegression

    from shap_debug.datasets import encode, german

    X, y = german()
    Z, _ = encode(X)
    Z = pd.DataFrame(Z) if not isinstance(Z, pd.DataFrame) else Z
    model = LogisticRegression(max_iter=2000).fit(Z, y)
    dbg = Debugger(model, Z, y, progress=False, random_state=0)
    t0 = time.perf_counter()
    for bad in ([10**6], [3, 3], [-1]):
        with pytest.raises(ValueError, match="anomalies"):
            dbg.evidence(bad)
    assert time.perf_counter() - t0 < 5  # no contributions were computed
    assert set(dbg._cache) <= {"readable"}  # no contributions, neighbours or fits
    with pytest.raises(ValueError, match="X_test must have the columns of X"):
        Debugger(model, Z, y, X_test=Z.iloc[:50, :5], y_test=y[:50], progress=False)
