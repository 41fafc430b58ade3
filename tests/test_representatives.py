"""Representative selection: the objective, the pymoo GA and its baselines."""

import dataclasses
from itertools import combinations
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
import shap

from shap_debug.core import ShapDebugWarning
from shap_debug.explanations import Representatives, representative_fitness, select_representatives


def _toy(seed=0, n=12, m=6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, m)) * rng.uniform(0.2, 2.0, size=m)


def _best_by_enumeration(C, budget, n_top, dispersion):
    best, arg = -np.inf, None
    for comb in combinations(range(len(C)), budget):
        f = representative_fitness(C, np.array(comb), n_top_features=n_top,
                                   dispersion=dispersion)
        if f > best:
            best, arg = f, comb
    return best, np.array(arg)


def test_fitness_known_values():
    # rows' top-1 features: row0 -> f0 (w 2), row1 -> f1 (w 3), row2 -> f0 (w 1)
    C = np.array([[2.0, 0.5], [0.1, -3.0], [1.0, 0.0]])
    # {0, 1}: p = (1/2, 1/2); CV = 1, Var = 1/4; sums (2, 3)
    assert representative_fitness(C, [0, 1], n_top_features=1) == pytest.approx(5.0)
    assert representative_fitness(C, [0, 1], n_top_features=1, dispersion="var") == \
        pytest.approx(1.25)
    # {0, 2}: both carry f0 only: p = (1, 0); CV(f0) = 0 -> fitness 0
    assert representative_fitness(C, [0, 2], n_top_features=1) == pytest.approx(0.0)
    # {0, 1, 2}: p = (2/3, 1/3); CV = sqrt(1/2), sqrt(2); sums (3, 3)
    assert representative_fitness(C, [0, 1, 2], n_top_features=1) == pytest.approx(
        3 * np.sqrt(0.5) + 3 * np.sqrt(2.0))


@pytest.mark.parametrize("dispersion", ["cv", "var"])
def test_ga_finds_enumerated_optimum(dispersion):
    C = _toy(seed=3)
    best, arg = _best_by_enumeration(C, 3, 2, dispersion)
    rep = select_representatives(C, budget=3, n_top_features=2, dispersion=dispersion,
                                 pop_size=60, n_gen=40, random_state=1, polish=False)
    assert rep.fitness == pytest.approx(best)
    assert sorted(rep.positions.tolist()) == sorted(arg.tolist())


def test_baselines_do_not_beat_the_optimum_and_ga_beats_random():
    C = _toy(seed=5, n=14)
    best, _ = _best_by_enumeration(C, 4, 2, "cv")
    for method in ("greedy", "random"):
        rep = select_representatives(C, budget=4, n_top_features=2, method=method, random_state=0)
        assert rep.fitness <= best + 1e-12
        assert rep.method == method
    big = np.random.default_rng(0).normal(size=(800, 10))
    ga = select_representatives(big, budget=10, n_top_features=3, n_gen=30, random_state=0)
    rnd = [select_representatives(big, budget=10, n_top_features=3, method="random",
                                  random_state=s).fitness for s in range(5)]
    assert ga.fitness > max(rnd)


def test_distinct_sorted_and_mapped_through_indices():
    C = _toy(seed=1, n=200, m=8)
    idx = np.arange(200) * 3 + 1000
    rep = select_representatives(C, budget=10, n_top_features=3, indices=idx, n_gen=15, random_state=0)
    assert len(set(rep.positions.tolist())) == 10
    assert np.array_equal(rep.indices, idx[rep.positions])
    assert np.all(np.diff(rep.positions) > 0)
    assert rep.fitness == pytest.approx(
        representative_fitness(C, rep.positions, n_top_features=3))
    # elitist GA: best fitness never decreases; one entry per generation + the initial one
    assert len(rep.history) == 16
    assert np.all(np.diff(rep.history) >= -1e-12)
    assert rep.history[-1] <= rep.fitness + 1e-12  # the swap polish can only improve
    raw = select_representatives(C, budget=10, n_top_features=3, indices=idx, n_gen=15,
                                 polish=False, random_state=0)
    assert raw.history[-1] == pytest.approx(raw.fitness)
    assert rep.fitness >= raw.fitness - 1e-12


def test_same_seed_same_result():
    C = _toy(seed=2, n=300, m=8)
    a = select_representatives(C, budget=6, n_top_features=3, n_gen=20, random_state=7)
    b = select_representatives(C, budget=6, n_top_features=3, n_gen=20, random_state=7)
    assert np.array_equal(a.positions, b.positions)
    assert np.array_equal(a.history, b.history)
    r1 = select_representatives(C, budget=6, method="random", random_state=np.random.default_rng(3))
    r2 = select_representatives(C, budget=6, method="random", random_state=np.random.default_rng(3))
    assert np.array_equal(r1.positions, r2.positions)


def test_input_not_modified_and_explanation_accepted():
    C = _toy(seed=4, n=50, m=5)
    before = C.copy()
    exp = shap.Explanation(values=C, feature_names=[f"f{j}" for j in range(5)])
    rep = select_representatives(exp, budget=5, n_top_features=2, n_gen=5, random_state=0)
    assert np.array_equal(C, before)
    assert rep.feature_names == ["f0", "f1", "f2", "f3", "f4"]
    frame = rep.to_frame()
    assert list(frame.columns[:2]) == ["index", "position"]
    assert frame.shape == (5, 7)
    # W keeps |phi| at each row's top-2 features only
    assert np.all((frame.iloc[:, 2:].to_numpy() > 0).sum(axis=1) == 2)


def test_neighborhood_like_input_supplies_indices():
    C = _toy(seed=8, n=60, m=5)
    nb = SimpleNamespace(explanation=shap.Explanation(values=C, feature_names=list("abcde")),
                         indices=np.arange(60) + 500)
    rep = select_representatives(nb, budget=4, n_top_features=2, n_gen=5, random_state=0)
    same = select_representatives(C, budget=4, n_top_features=2, n_gen=5, random_state=0)
    assert np.array_equal(rep.positions, same.positions)
    assert np.array_equal(rep.indices, rep.positions + 500)
    assert rep.feature_names == list("abcde")
    with pytest.raises(ValueError, match="no explanation"):
        select_representatives(SimpleNamespace(explanation=None, indices=nb.indices))


def test_budget_equal_to_rows_returns_everything():
    C = _toy(n=5)
    rep = select_representatives(C, budget=5, n_top_features=2, random_state=0)
    assert rep.positions.tolist() == [0, 1, 2, 3, 4]


def test_all_zero_contributions_warn_and_fall_back():
    with pytest.warns(ShapDebugWarning, match="all zero"):
        rep = select_representatives(np.zeros((30, 4)), budget=5, n_top_features=2)
    assert rep.method == "random"
    assert len(set(rep.positions.tolist())) == 5
    assert rep.fitness == 0.0


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(budget=21), ValueError, "budget must be <= the number of rows"),
    (dict(budget=0), ValueError, "budget must be >= 1"),
    (dict(budget=2.5), TypeError, "budget must be an int"),
    (dict(n_top_features=7), ValueError, "n_top_features must be <= the number of features"),
    (dict(n_top_features=0), ValueError, "n_top_features must be >= 1"),
    (dict(method="tabu"), ValueError, "method must be one of"),
    (dict(dispersion="std"), ValueError, "dispersion must be one of"),
    (dict(crossover_prob=1.5), ValueError, "crossover_prob must be <= 1"),
    (dict(polish="yes"), TypeError, "polish must be a bool"),
    (dict(indices=np.arange(3)), ValueError, "indices must be 1-D with one entry"),
    (dict(indices=np.linspace(0, 1, 20)), TypeError, "indices must be integer"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        select_representatives(_toy(n=20), **kwargs)


def test_bad_contributions():
    with pytest.raises(ValueError, match="2-D"):
        select_representatives(np.zeros((5, 3, 2)), budget=2, n_top_features=1)
    with pytest.raises(ValueError, match="NaN"):
        select_representatives(np.array([[np.nan, 1.0], [1.0, 2.0]]), budget=1,
                               n_top_features=1)
    with pytest.raises(TypeError, match="numeric"):
        select_representatives(np.array([["a", "b"]]), budget=1, n_top_features=1)


def test_result_views():
    C = _toy(seed=6, n=40, m=4)
    rep = select_representatives(C, budget=4, n_top_features=2, n_gen=5,
                                 feature_names=["<b>x</b>", "y", "z", "w"], random_state=0)
    assert isinstance(rep, Representatives)
    page = rep._repr_html_()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    fig, ax = plt.subplots()
    assert rep.plot(ax=ax, show=False) is ax
    assert len(ax.lines) == 1 and len(ax.lines[0].get_xdata()) == len(rep.history)
    ax2 = rep.plot(kind="weights", max_display=3, show=False)
    assert len(ax2.get_yticklabels()) == 3
    with pytest.raises(ValueError, match="kind"):
        rep.plot(kind="pie", show=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.fitness = 0.0


def test_repr_is_short():
    from shap_debug.core import Result

    C = _toy(seed=7, n=400, m=20)
    rep = select_representatives(C, budget=12, n_top_features=3, n_gen=5, random_state=0)
    assert isinstance(rep, Result)
    text = repr(rep)
    assert text.startswith("Representatives(B=12, pool_size=400, method='ga', fitness=")
    assert "elapsed_s=" in text and "array" not in text and len(text) < 150
