"""The global configuration: set_config / get_config / config_context, honoured by the
progress bars and the parallel map of both packages, and TQDM_DISABLE."""

from __future__ import annotations

import os

import numpy as np
import pytest

import shap_debug
from shap_debug.core import parallel_map, progress_iter


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    before = shap_debug.get_config()
    yield
    shap_debug.set_config(**before)


def _bar_text(capsys, fn) -> str:
    capsys.readouterr()
    fn()
    return capsys.readouterr().err


def test_defaults_set_get_and_context():
    assert shap_debug.get_config() == {"progress": True, "n_jobs": None}
    shap_debug.set_config(n_jobs=3)
    assert shap_debug.get_config() == {"progress": True, "n_jobs": 3}
    shap_debug.set_config(progress=False)  # a setting left out keeps its value
    assert shap_debug.get_config() == {"progress": False, "n_jobs": 3}
    got = shap_debug.get_config()
    got["n_jobs"] = 99                     # a copy
    assert shap_debug.get_config()["n_jobs"] == 3
    with pytest.raises(RuntimeError), shap_debug.config_context(progress=True, n_jobs=-1):
        assert shap_debug.get_config() == {"progress": True, "n_jobs": -1}
        raise RuntimeError("the block fails")
    assert shap_debug.get_config() == {"progress": False, "n_jobs": 3}


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"progress": 1}, TypeError, "progress must be True or False; got int 1"),
    ({"progress": None}, TypeError, "progress must be True or False"),
    ({"n_jobs": 2.0}, TypeError, "n_jobs must be an int or None; got float"),
    ({"n_jobs": True}, TypeError, "n_jobs must be an int or None; got bool"),
    ({"n_jobs": 0}, ValueError, "got 0"),
])
def test_bad_settings_are_refused_and_change_nothing(kwargs, error, match):
    before = shap_debug.get_config()
    with pytest.raises(error, match=match):
        shap_debug.set_config(**kwargs)
    with pytest.raises(error, match=match), shap_debug.config_context(**kwargs):
        pass
    assert shap_debug.get_config() == before


def test_progress_switch_silences_progress_iter_and_parallel_map(capsys):
    def run_both():
        assert list(progress_iter(range(5), progress=True, desc="iterbar")) == [0, 1, 2, 3, 4]
        assert parallel_map(abs, [-1, -2], progress=True, desc="mapbar") == [1, 2]

    shown = _bar_text(capsys, run_both)
    assert "iterbar" in shown and "mapbar" in shown
    shap_debug.set_config(progress=False)
    assert _bar_text(capsys, run_both) == ""
    with shap_debug.config_context(progress=True):
        assert "iterbar" in _bar_text(capsys, run_both)
    # a call that asks for no bar gets none, whatever the configuration
    assert _bar_text(capsys, lambda: list(progress_iter(range(3), progress=False))) == ""


@pytest.mark.parametrize(("value", "silent"), [("1", True), ("True", True), ("0", False),
                                                ("", False)])
def test_tqdm_disable_is_honoured(capsys, monkeypatch, value, silent):
    monkeypatch.setenv("TQDM_DISABLE", value)
    text = _bar_text(capsys, lambda: parallel_map(abs, [-1], progress=True, desc="envbar"))
    assert ("envbar" not in text) is silent


def test_a_public_api_honours_the_switch(capsys):
    from sklearn.linear_model import LogisticRegression

    from shap_debug.datasets import encode, german

    X, y = german()
    Z, _ = encode(X)
    Z = (Z - Z.mean(0)) / (Z.std(0) + 1e-9)
    model = LogisticRegression(max_iter=500)

    def run():
        shap_debug.suspicious_rows(model, Z[:300], y[:300], cv=2, progress=True)

    assert "it" in _bar_text(capsys, run)
    shap_debug.set_config(progress=False)
    assert _bar_text(capsys, run) == ""


def _pid(_):
    return os.getpid()


def test_n_jobs_none_takes_the_global_setting_and_an_int_wins():
    here = os.getpid()
    assert set(parallel_map(_pid, range(4), n_jobs=None)) == {here}   # joblib's default: 1
    with shap_debug.config_context(n_jobs=2):
        pids = parallel_map(_pid, range(8), n_jobs=None)
        assert here not in pids                                        # worker processes
        assert set(parallel_map(_pid, range(4), n_jobs=1)) == {here}   # the call's own wins
    assert np.array_equal(parallel_map(abs, [-1, 2], n_jobs=None), [1, 2])
