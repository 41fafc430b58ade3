"""The one refit helper (core/_refit): relabelling, prediction, and warnings shown once."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from shap_debug.blame import label_flip_check
from shap_debug.core import refit_predict, relabelled, show_warnings_once


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relabelled_swaps_only_the_rows_and_leaves_y_alone(seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array(["no", "yes"]), size=40)
    rows = rng.choice(40, size=int(rng.integers(1, 20)), replace=False)
    before = y.copy()
    got = relabelled(y, rows, np.array(["no", "yes"]))
    np.testing.assert_array_equal(y, before)
    other = np.ones(40, dtype=bool)
    other[rows] = False
    np.testing.assert_array_equal(got[other], y[other])
    assert (got[rows] != y[rows]).all()


def test_refit_predict_fits_a_clone_on_the_relabelled_rows():
    X = np.linspace(-2, 2, 60)[:, None]
    y = (X[:, 0] > 0).astype(int)
    template = LogisticRegression()
    plain = refit_predict(template, X, y, [0, 59])
    assert plain.labels.tolist() == [0, 1]
    flipped = refit_predict(template, X, y, [0, 59], relabel=np.arange(60))
    assert flipped.labels.tolist() == [1, 0]          # every label swapped: the model too
    assert not hasattr(template, "coef_")              # the template is never fitted
    assert plain.proba.shape == (2, 2) and plain.seconds >= 0


def _german_lr(max_iter: int):
    from shap_debug.datasets import encode, german

    X, y = german()
    Z, _ = encode(X.iloc[:300])
    return LogisticRegression(max_iter=max_iter, random_state=0), Z, y[:300]


def test_each_warning_of_the_user_model_shows_once_per_call():
    model, Z, y = _german_lr(max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Z, y)
    fits = [refit_predict(model, Z, y, [0]) for _ in range(3)]
    assert all(any(c is ConvergenceWarning for c, _ in f.warnings) for f in fits)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        show_warnings_once(w for f in fits for w in f.warnings)
    assert sum(issubclass(w.category, ConvergenceWarning) for w in caught) == 1
    # a label-flip check with several retraining trials: still one warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trials = label_flip_check(model, Z, y, 3, n_neighbors=20, spaces=["features"],
                                  progress=False, random_state=42)
    assert len(trials) == 3
    assert sum(issubclass(w.category, ConvergenceWarning) for w in caught) == 1
