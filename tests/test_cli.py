"""The ``shap-debug`` command (issues 26 item 7, 28 items 2-3): every bad argument is one
line on stderr and exit code 2 before any model is fitted, the output path is checked first,
the report is written atomically, ``--version``/``-q``/``python -m shap_debug`` work, and
progress off a terminal is plain lines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shap_debug import cli
from shap_debug.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_fit(monkeypatch):
    """Fail the test if the CLI gets as far as building (fitting) a model."""
    def forbidden(*args, **kwargs):
        raise AssertionError("a model was built before the arguments were checked")

    monkeypatch.setattr(cli, "build_model", forbidden)


def _one_line_error(capsys, rc: int, *words: str) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("shap-debug: error:"), err
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.choice(["x", "y"], 60),
                          "label": np.tile([0, 1], 30)})
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("argv, words", [
    (["--neighbors", "0"], ["--neighbors", ">= 1", "got 0"]),
    (["--neighbors", "-5"], ["--neighbors", "got -5"]),
    (["--seed", "-1"], ["--seed", ">= 0"]),
    (["--seed", "x"], ["--seed", "integer"]),
    (["--anomalies", "-2"], ["--anomalies"]),
    (["--jobs", "0"], ["--jobs"]),
    (["--chunk-size", "0"], ["--chunk-size must be >= 1"]),
    (["--dose", "-3"], ["--dose"]),
    (["--bogus"], ["unrecognized arguments: --bogus"]),
    (["--dataset", "nosuch"], ["nosuch", "no such file"]),
    (["--dataset", "german", "--protected", "sex", "colour"], ["--protected", "colour"]),
    (["--dataset", "german", "--neighbors", "5000"], ["--neighbors", "smaller than"]),
    (["--out", "{tmp}/missing/r.html"], ["--out", "does not exist"]),
    (["--out", "{tmp}/file.txt/r.html"], ["--out", "is not a directory"]),
    (["--out", "{tmp}"], ["--out", "is a directory"]),
    (["--model", "{tmp}/m.json"], ["--train"]),
    (["--model", "{tmp}/m.json", "--train", "{tmp}/d.csv", "--target", "label"],
     ["m.json", "no such file"]),
    (["--model", "{tmp}/m.bin", "--train", "{tmp}/d.csv", "--target", "label"],
     ["unknown model format"]),
    (["--dataset", "{tmp}/d.csv", "--target", "nope"], ["'nope'", "not in"]),
    (["--scheduler", "tcp://127.0.0.1:1", "--dataset", "german"], ["--scheduler"]),
    # the model-file mode honours --scheduler too (it used to ignore it)
    (["--scheduler", "tcp://127.0.0.1:1", "--model", "{tmp}/m.skops", "--train", "{tmp}/d.csv",
      "--target", "label"], ["--scheduler"]),
])
def test_bad_arguments_are_one_line_exit_2_before_any_fit(tmp_path, table, capsys, no_fit,
                                                           argv, words):
    (tmp_path / "file.txt").write_text("not a directory")
    if "{tmp}/m.skops" in argv:
        from sklearn.linear_model import LogisticRegression

        from shap_debug.io import save_model

        frame = pd.read_csv(table)
        save_model(LogisticRegression().fit(frame[["a"]], frame["label"]),
                   tmp_path / "m.skops")
        frame[["a", "label"]].to_csv(tmp_path / "d.csv", index=False)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--scheduler" in argv:
        pytest.importorskip("dask.distributed")
    t0 = time.perf_counter()
    rc = main(["report", *argv])
    took = time.perf_counter() - t0
    _one_line_error(capsys, rc, *words)
    assert took < (15 if "--scheduler" in argv else 5), took
    assert not (tmp_path / "debug-report.html").exists()


def test_version_help_and_python_m(capsys):
    from shap_debug import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"shap-debug {__version__}"
    assert main(["report", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--trust-code" in text and "-q, --quiet" in text
    assert "``" not in text and ":mod:" not in text and ":func:" not in text
    assert main(["--help"]) == 0
    assert "``" not in capsys.readouterr().out
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "shap_debug", "report", "--seed", "-1"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    proc = subprocess.run([sys.executable, "-m", "shap_debug", "--version"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_an_unwritable_out_fails_fast_in_a_fresh_process(tmp_path):
    """The acceptance check as a user meets it: a fresh interpreter, under 5 s, exit 2."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "shap_debug", "report", "--out",
                           str(tmp_path / "nowhere" / "r.html")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert time.perf_counter() - t0 < 5
    assert proc.returncode == 2 and "--out" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_failed_write_keeps_the_old_report(tmp_path, monkeypatch, capsys):
    """The run fails while the report is being written: the previous report stays whole and
    no temporary file is left beside it."""
    from shap_debug import report as report_pkg
    from shap_debug.io import write_text_atomic

    out = tmp_path / "r.html"
    out.write_text("<html>the old report</html>")

    def half_written(*args, **kwargs):
        class Boom:
            def __str__(self):
                raise OSError(28, "No space left on device")
        return "<html>" + "x" * 10_000 + str(Boom())

    monkeypatch.setattr(report_pkg, "render_report", half_written)
    with pytest.raises(OSError, match="No space"):
        main(["report", "--dataset", "german", "--model", "lr", "--anomalies", "0",
              "--neighbors", "20", "--no-label-flip", "--no-fixes", "--no-dose", "-q",
              "--jobs", "1", "--out", str(out)])
    assert out.read_text() == "<html>the old report</html>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]

    # the writer itself failing midway (the disk fills after half the bytes)
    real_open = open

    class Failing:
        def __init__(self, fh):
            self.fh = fh

        def write(self, text):
            self.fh.write(text[: len(text) // 2])
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    import shap_debug.io._files as files

    monkeypatch.setattr(files, "open", lambda *a, **k: Failing(real_open(*a, **k)),
                        raising=False)
    with pytest.raises(OSError):
        write_text_atomic(out, "<html>the new report</html>")
    assert out.read_text() == "<html>the old report</html>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    monkeypatch.undo()
    write_text_atomic(out, "<html>the new report</html>")
    assert out.read_text() == "<html>the new report</html>"


def test_a_bad_model_file_is_one_line(tmp_path, table, capsys):
    (tmp_path / "m.txt").write_text("tree\nversion=v4\nnot a model\n")
    rc = main(["report", "--model", str(tmp_path / "m.txt"), "--train", str(table),
               "--target", "label", "--out", str(tmp_path / "r.html")])
    _one_line_error(capsys, rc, "m.txt", "not a valid lightgbm model file")


def test_plain_progress_lines_when_stderr_is_not_a_terminal(capsys):
    from shap_debug.core import parallel_map, progress_iter

    assert list(progress_iter(range(30), progress=True, desc="rows")) == list(range(30))
    assert parallel_map(abs, [-1, 2, -3], progress=True, desc="abs") == [1, 2, 3]
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("rows: 30/30 it (100%)")
    assert lines[-1].startswith("abs: 3/3 it (100%)")


def test_csv_rows_keep_their_file_line_numbers(tmp_path):
    """load_table names each row by its line in the file (header = line 1), across blank
    lines and a quoted value spanning two lines; the model + data path keeps that index."""
    from shap_debug.io import load_table

    path = tmp_path / "t.csv"
    path.write_text('a,b,label\n1,x,0\n\n2,"two\nlines",1\n3,z,0\n')
    frame = load_table(path)
    assert frame.index.tolist() == [2, 4, 6] and frame.index.name == "line"
    assert frame.loc[4, "b"] == "two\nlines"
    (tmp_path / "dup.csv").write_text("a,b,a\n1,2,3\n")
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]"):
        load_table(tmp_path / "dup.csv")


def test_parquet_with_nested_columns_is_refused_by_name(tmp_path):
    pytest.importorskip("pyarrow")
    from shap_debug.io import load_table

    pd.DataFrame({"a": [1, 2], "tags": [[1, 2], [3]]}).to_parquet(tmp_path / "n.parquet")
    with pytest.raises(ValueError, match=r"nested .*\['tags'\]"):
        load_table(tmp_path / "n.parquet")


def test_report_from_files_keeps_file_lines(tmp_path):
    """The model-file mode gets the CSV's file lines as the row index."""
    xgb = pytest.importorskip("xgboost")
    from shap_debug.io import report_from_files, save_model

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    y = (X["a"] > 0).astype(int)
    save_model(xgb.XGBClassifier(n_estimators=3).fit(X, y), tmp_path / "m.json")
    X.assign(label=y).to_csv(tmp_path / "t.csv", index=False)
    inputs = report_from_files(tmp_path / "m.json", tmp_path / "t.csv", "label")
    assert inputs.X.index.tolist() == list(range(2, 82))
    assert not hasattr(inputs, "debugger")          # io never builds the Debugger
    assert set(inputs.arguments()) == {"model", "X", "y", "X_test", "y_test"}
