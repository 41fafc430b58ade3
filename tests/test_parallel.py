"""``n_jobs=2`` really runs in two worker processes in every parallel API (issue 28 item 5).

The picklability check used to use plain ``pickle`` while joblib sends work through
cloudpickle, so the library's own lambdas and closures failed the check and every loop ran
serially with a warning. Here each API's ``parallel_map`` is wrapped so that each task
records the process it ran in; with ``n_jobs=2`` the tasks must run in two processes other
than this one, with no fallback warning. Data and models are tiny: the point is where the
work runs, not what it computes.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import shap_debug.core._parallel as par
from shap_debug.core import ShapDebugWarning


@pytest.fixture
def pids(tmp_path, monkeypatch):
    """A folder where each task run by ``parallel_map`` leaves a file named by its PID."""
    import importlib

    for name in ("shap_debug.contributions", "shap_debug.explanations", "shap_debug.blame",
                 "shap_debug.audit", "shap_debug.fixes", "captum_ext.influence"):
        importlib.import_module(name)  # their modules bind parallel_map at import
    folder = tmp_path / "pids"
    folder.mkdir()
    real = par.parallel_map

    def spy(fn, items, *args, **kwargs):
        where = str(folder)

        def logged(*a):
            import threading

            Path(where, f"{os.getpid()}-{threading.get_ident()}").touch()
            time.sleep(0.05)  # long enough that both workers get tasks
            return fn(*a)

        return real(logged, items, *args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.startswith(("shap_debug", "captum_ext")) and getattr(
                module, "parallel_map", None) is real:
            monkeypatch.setattr(module, "parallel_map", spy)
    yield folder


def _check_two_processes(folder: Path, record):
    assert not [w for w in record if issubclass(w.category, ShapDebugWarning)
                and "falls back to 1" in str(w.message)], [str(w.message) for w in record]
    seen = {int(p.name.split("-")[0]) for p in folder.iterdir()}
    assert os.getpid() not in seen and len(seen) >= 2, seen


def _run(folder, call, threads=False):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        call()
    if not threads:
        _check_two_processes(folder, record)
        return
    seen = {tuple(map(int, p.name.split("-"))) for p in folder.iterdir()}
    assert {pid for pid, _ in seen} == {os.getpid()} and len(seen) >= 2, seen


def _data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


def test_explain_sampling(pids):
    from shap_debug import explain

    X, y = _data()
    lr = LogisticRegression().fit(X, y)
    # a small batch_rows so that 40 rows make several chunks
    _run(pids, lambda: explain(lr, X[:40], X[:30], method="sampling", n_jobs=2,
                               batch_rows=2000, progress=False))


def test_logic_cross_validation(pids):
    from shap_debug import logic_cross_validation

    rng = np.random.default_rng(0)
    C = pd.DataFrame(rng.random((200, 4)) < 0.5, columns=list("abcd"))
    y = (C["a"] & C["b"]).to_numpy()
    _run(pids, lambda: logic_cross_validation(C, y, ["tree"], n_splits=4, n_jobs=2,
                                              progress=False))


def test_removal_curve(pids):
    from shap_debug import removal_curve

    X, y = _data()
    y[:15] = 1 - y[:15]
    _run(pids, lambda: removal_curve(LogisticRegression(), X, y, {"flips": np.arange(15)},
                                     fractions=[0.05, 0.1], n_jobs=2, progress=False))


def test_systematic_errors(pids):
    from sklearn.tree import DecisionTreeClassifier

    from shap_debug import systematic_errors

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=600), "g": rng.integers(0, 4, 600)})
    y = (X["x"] > 0).to_numpy().astype(int)
    y[np.flatnonzero((X["g"] == 2) & (X["x"] > 0))] = 0  # a labeller who never says "1"
    y[np.flatnonzero((X["g"] == 1) & (X["x"] < 0))] = 1
    m = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    regions = {f"g = {g}": np.flatnonzero(X["g"] == g) for g in range(4)}
    _run(pids, lambda: systematic_errors(m, X, y, regions, n_jobs=2, progress=False))


def test_verify_fixes(pids):
    from sklearn.datasets import make_classification

    from shap_debug import verify_fixes

    X, y = make_classification(300, random_state=0)
    y[:30] = 1 - y[:30]
    _run(pids, lambda: verify_fixes(LogisticRegression(), X, y,
                                    actions=["drop suspicious", "relabel suspicious"],
                                    screen_regions=0, n_jobs=2, progress=False))


def test_dose_response(pids):
    from sklearn.neighbors import KNeighborsClassifier

    from shap_debug import NeighborhoodModel, dose_response

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 1))
    y = (X[:, 0] > 0).astype(int)
    far = np.argsort(np.abs(X[:, 0] - 0.5))[:1].tolist() + np.argsort(
        np.abs(X[:, 0] + 0.5))[:1].tolist()          # two isolated wrong labels
    y[far] = 1 - y[far]
    knn = KNeighborsClassifier(n_neighbors=5).fit(X, y)
    nbm = NeighborhoodModel(20, space="features", exclude_self=True).fit(knn, X, y)
    _run(pids, lambda: dose_response(nbm, far, spaces=["features"], n_jobs=2,
                                     progress=False))


def test_loo_validation(pids):
    """Leave-one-out refits run in threads by design (torch releases the GIL and every
    refit shares the influence object): two threads, in this process."""
    pytest.importorskip("torch")
    from captum_ext import InfluenceFunction, loo_validation

    X, y = _data(n=200)
    inf = InfluenceFunction(LogisticRegression().fit(X, y), X, y, progress=False)
    _run(pids, lambda: loo_validation(inf, (X[:3], y[:3]), k=4, n_jobs=2, progress=False),
         threads=True)
