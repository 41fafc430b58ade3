"""Representative neighbours: a small, diverse set of rows picked from a contribution matrix.

The background (method, references, design choices) is in ``docs/quasi_global.md``, section
"Design notes", ``shap_debug.explanations._representatives``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shap

from ..core import (
    Result,
    check_float,
    check_int,
    check_option,
    check_random_state,
    section_html,
    seed_from,
    table_html,
    warn,
)

__all__ = ["Representatives", "select_representatives", "representative_fitness"]


# --------------------------------------------------------------------------- objective
def _weights(C: np.ndarray, n_top: int) -> tuple[np.ndarray, np.ndarray]:
    """``W`` (|contributions| at each row's top-``n_top`` features) and ``Wb = W > 0``."""
    A = np.abs(C)
    top = np.argpartition(-A, n_top - 1, axis=1)[:, :n_top]
    W = np.zeros_like(A)
    rows = np.arange(len(A))[:, None]
    W[rows, top] = A[rows, top]
    return W, (W > 0).astype(np.float64)


def _dispersion(p: np.ndarray, dispersion: str) -> np.ndarray:
    """Dispersion of a 0/1 column whose share of ones is ``p``."""
    if dispersion == "var":
        return p * (1.0 - p)
    # coefficient of variation sqrt(p(1-p)) / p; undefined at p = 0, where the summed
    # weight is 0 too (any value gives the same fitness)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, np.sqrt(np.clip(1.0 - p, 0.0, None) / p), 1.0)


def _fitness(W: np.ndarray, Wb: np.ndarray, X: np.ndarray, dispersion: str) -> np.ndarray:
    """Fitness of every set (row of ``X``, shape (P, B)) in one vectorised call."""
    values = W[X].sum(axis=1)                      # (P, m)
    p = Wb[X].mean(axis=1)                         # share of members with feature j
    return (values * _dispersion(p, dispersion)).sum(axis=1)


def representative_fitness(
    contributions: Any,
    positions: Any,
    *,
    n_top_features: int = 5,
    dispersion: str = "cv",
) -> float:
    """Fitness of one set of row positions under the objective of :func:`select_representatives`.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> representative_fitness(C, [0, 1], n_top_features=1)
    3.0
    """
    C = _check_contributions(contributions)
    n_top = check_int(n_top_features, "n_top_features", low=1, high=C.shape[1])
    check_option(dispersion, "dispersion", ["cv", "var"])
    pos = np.asarray(positions)
    if pos.ndim != 1 or not np.issubdtype(pos.dtype, np.integer):
        raise TypeError(f"positions must be a 1-D integer array; got {pos.dtype} {pos.shape}")
    if pos.size == 0 or pos.min() < 0 or pos.max() >= len(C):
        raise ValueError(f"positions must be non-empty and within [0, {len(C)})")
    W, Wb = _weights(C, n_top)
    return float(_fitness(W, Wb, pos[None, :].astype(np.int64), dispersion)[0])


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class Representatives(Result):
    """A chosen set of representative rows.

    Attributes
    ----------
    indices : ndarray of int, shape (B,)
        The chosen rows as indices into the training set (``positions`` mapped through the
        ``indices`` given to :func:`select_representatives`; equal to ``positions`` when
        none was given).
    positions : ndarray of int, shape (B,)
        The chosen rows as positions in the contribution matrix that was searched.
    fitness : float
        Objective value of the chosen set.
    history : ndarray of float
        Best fitness after each generation (GA), after each added row (greedy), or one
        value (random).
    method, dispersion : str
        How the set was found, and the dispersion measure of the objective.
    n_top_features : int
    elapsed_s : float
        Wall time of the search.
    feature_names : list of str
    weights : ndarray, shape (B, m)
        ``W`` of the chosen rows: |contribution| at each row's top features, 0 elsewhere.
    pool_size : int or None
        Number of rows the set was chosen from (None when unknown).
    """

    indices: np.ndarray
    positions: np.ndarray
    fitness: float
    history: np.ndarray
    method: str
    dispersion: str
    n_top_features: int
    elapsed_s: float
    feature_names: list = field(default_factory=list)
    weights: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    pool_size: int | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def summary(self) -> dict[str, Any]:
        """Budget ``B``, pool size, method, fitness and search time (never the arrays)."""
        return {"B": len(self), "pool_size": self.pool_size, "method": self.method,
                "fitness": self.fitness, "elapsed_s": self.elapsed_s}

    def to_frame(self) -> pd.DataFrame:
        """One row per representative: index, position and its top features' weights."""
        df = pd.DataFrame(self.weights, columns=self.feature_names)
        df.insert(0, "position", self.positions)
        df.insert(0, "index", self.indices)
        return df

    def plot(self, kind: str = "history", *, max_display: int = 10, ax: Any = None,
             show: bool = True):
        """``kind="history"``: best fitness per generation; ``kind="weights"``: a heat map of
        the chosen rows' top-feature weights (features with the largest total first)."""
        from ..plots import representatives_plot

        return representatives_plot(self, kind=kind, max_display=max_display, ax=ax,
                                    show=show)

    def _repr_html_(self) -> str:
        note = (f"{self.method}, dispersion={self.dispersion}: fitness {self.fitness:.4g}, "
                f"{self.elapsed_s * 1000:.0f} ms")
        frame = self.to_frame()
        return section_html(f"{len(self)} representatives",
                            table_html(frame, max_rows=max(len(frame), 1), float_format="{:.3g}"),
                            note)


# --------------------------------------------------------------------------- validation
def _check_contributions(contributions: Any) -> np.ndarray:
    if isinstance(contributions, shap.Explanation):
        C = np.asarray(contributions.values, dtype=np.float64)
    elif hasattr(contributions, "detach"):
        C = contributions.detach().cpu().double().numpy()
    else:
        C = np.asarray(contributions)
        if C.dtype == object or not np.issubdtype(C.dtype, np.number):
            raise TypeError(
                "contributions must be a numeric (n, m) array or a 2-D shap.Explanation; got "
                f"{type(contributions).__name__} of dtype {C.dtype}")
        C = C.astype(np.float64)
    if C.ndim != 2:
        raise ValueError(
            f"contributions must be 2-D (n_rows, n_features); got shape {C.shape}. "
            "Use shap_debug.contribution_matrix to keep each row's predicted class.")
    if len(C) == 0 or C.shape[1] == 0:
        raise ValueError(f"contributions must be non-empty; got shape {C.shape}")
    if not np.isfinite(C).all():
        raise ValueError("contributions contains NaN or infinite values")
    return C


def _names_of(contributions: Any, m: int, feature_names: Any) -> list[str]:
    if feature_names is not None:
        names = [str(f) for f in feature_names]
    elif isinstance(contributions, shap.Explanation) and contributions.feature_names is not None:
        names = [str(f) for f in contributions.feature_names]
    elif isinstance(contributions, pd.DataFrame):
        names = [str(c) for c in contributions.columns]
    else:
        names = [f"Feature {j}" for j in range(m)]
    if len(names) != m:
        raise ValueError(f"feature_names has {len(names)} names but contributions has {m} columns")
    return names


# --------------------------------------------------------------------------- searches
def _random_set(n: int, budget: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=budget, replace=False))


def _greedy(W: np.ndarray, Wb: np.ndarray, budget: int, dispersion: str):
    """Add the row that raises the fitness most, one at a time (ties: lowest position)."""
    n = len(W)
    chosen = [int(np.argmax(W.sum(axis=1)))]   # a single member has no dispersion
    S, cnt = W[chosen[0]].copy(), Wb[chosen[0]].copy()
    history = [float(_fitness(W, Wb, np.array([chosen]), dispersion)[0])]
    free = np.ones(n, dtype=bool)
    free[chosen[0]] = False
    for size in range(2, budget + 1):
        values = S[None, :] + W                    # (n, m) if row c were added
        disp = _dispersion((cnt[None, :] + Wb) / size, dispersion)
        gain = np.where(free, (values * disp).sum(axis=1), -np.inf)
        c = int(np.argmax(gain))
        chosen.append(c)
        free[c] = False
        S += W[c]
        cnt += Wb[c]
        history.append(float(gain[c]))
    return np.sort(np.array(chosen, dtype=np.int64)), np.array(history)


def _polish(W, Wb, pos, dispersion, max_passes=20):
    """Best-improvement single swaps until none helps (a local optimum for one swap).

    Each member in turn is replaced by the row that raises the fitness most; every
    candidate of one position is scored in one vectorised call (n sets).
    """
    n = len(W)
    pos = pos.copy()
    cur = float(_fitness(W, Wb, pos[None, :], dispersion)[0])
    for _ in range(max_passes):
        improved = False
        for b in range(len(pos)):
            cand = np.repeat(pos[None, :], n, axis=0)
            cand[:, b] = np.arange(n)
            f = _fitness(W, Wb, cand, dispersion)
            f[np.delete(pos, b)] = -np.inf          # keep members distinct
            j = int(np.argmax(f))
            if f[j] > cur + 1e-12 * max(1.0, abs(cur)):
                pos[b], cur, improved = j, float(f[j]), True
        if not improved:
            break
    return np.sort(pos)


def _set_crossover(X1, X2, rng):
    """Two children per mating, each ``b`` distinct members of the parents' union."""
    n_mat, b = X1.shape
    U = np.sort(np.concatenate([X1, X2], axis=1), axis=1)                 # (n_mat, 2b)
    dup = np.zeros(U.shape, dtype=bool)
    dup[:, 1:] = U[:, 1:] == U[:, :-1]
    order = np.argsort(rng.random(U.shape) + dup * 2.0, axis=1)          # repeats last
    ranked = np.take_along_axis(U, order, axis=1)
    u = (~dup).sum(axis=1, keepdims=True)                                # union size >= b
    c1 = ranked[:, :b]
    c2 = np.take_along_axis(ranked, (u - b) + np.arange(b)[None, :], axis=1)
    return c1, c2


def _set_mutation(X, n, rng):
    """Swap one member of each row for a uniformly drawn row position."""
    X = X.copy()
    X[np.arange(len(X)), rng.integers(0, X.shape[1], size=len(X))] = rng.integers(
        0, n, size=len(X))
    return X


def _repair(X, n, rng):
    """Sort each row and redraw repeated members until all are distinct (no penalty)."""
    X = np.sort(X, axis=1)
    while True:
        dup = np.zeros(X.shape, dtype=bool)
        dup[:, 1:] = X[:, 1:] == X[:, :-1]
        if not dup.any():
            return X
        X[dup] = rng.integers(0, n, size=int(dup.sum()))
        X.sort(axis=1)


def _ga(W, Wb, budget, dispersion, pop_size, n_gen, crossover_prob, mutation_prob, seed,
        progress):
    """pymoo GA over sets of ``budget`` distinct row positions (see the module docstring).

    pymoo's stock operators read and write the population one individual at a time, which
    costs more than the whole fitness evaluation here; the mating (binary tournament, set
    crossover, one-swap mutation, repair, duplicate elimination) and the elitist survival are
    therefore written on whole arrays and plugged into pymoo's ``GA`` as its ``mating`` and
    ``survival``.
    """
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.callback import Callback
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.infill import InfillCriterion
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem
    from pymoo.core.sampling import Sampling
    from pymoo.core.survival import Survival
    from pymoo.optimize import minimize
    from tqdm.auto import tqdm

    n = len(W)
    # pymoo >= 0.6.2 hands its seeded Generator to operators; older versions pass None
    fallback = np.random.default_rng(seed)

    class SetProblem(Problem):
        def __init__(self):
            super().__init__(n_var=budget, n_obj=1, xl=0, xu=n - 1, vtype=int)

        def _evaluate(self, X, out, *args, **kwargs):
            out["F"] = -_fitness(W, Wb, np.asarray(X, dtype=np.int64), dispersion)

    class SetSampling(Sampling):
        def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
            keys = (random_state or fallback).random((n_samples, n))
            return np.sort(np.argpartition(keys, budget - 1, axis=1)[:, :budget], axis=1)

    class SetMating(InfillCriterion):
        def do(self, problem, pop, n_offsprings, random_state=None, **kwargs):
            rng = random_state or fallback
            X = np.array([ind.X for ind in pop], dtype=np.int64)
            F = np.array([ind.F[0] for ind in pop])
            seen = {row.tobytes() for row in X}
            kept: list[np.ndarray] = []
            for _ in range(10):  # a few refills when children repeat known sets
                need = n_offsprings - len(kept)
                if need <= 0:
                    break
                n_mat = (need + 1) // 2
                T = rng.integers(0, len(X), size=(2 * n_mat, 2))            # binary tournament
                win = np.where(F[T[:, 0]] <= F[T[:, 1]], T[:, 0], T[:, 1]).reshape(n_mat, 2)
                P1, P2 = X[win[:, 0]], X[win[:, 1]]
                C1, C2 = P1.copy(), P2.copy()
                cross = rng.random(n_mat) < crossover_prob
                if cross.any():
                    C1[cross], C2[cross] = _set_crossover(P1[cross], P2[cross], rng)
                C = np.concatenate([C1, C2])
                mut = rng.random(len(C)) < mutation_prob
                C[mut] = _set_mutation(C[mut], n, rng)
                for row in _repair(C, n, rng):
                    key = row.tobytes()
                    if key not in seen:
                        seen.add(key)
                        kept.append(row)
            if not kept:
                return Population.create()
            return Population.new("X", np.array(kept[:n_offsprings]))

    class Elitist(Survival):
        def __init__(self):
            super().__init__(filter_infeasible=False)

        def _do(self, problem, pop, *args, n_survive=None, **kwargs):
            F = np.array([ind.F[0] for ind in pop])
            return pop[np.argsort(F, kind="stable")[:n_survive]]

    bar = tqdm(total=n_gen, desc="representatives", unit="gen", disable=not progress)
    history: list[float] = []

    class Record(Callback):
        def notify(self, algorithm):
            history.append(-float(algorithm.opt[0].F[0]))
            if algorithm.n_gen > 1:
                bar.update(1)

    class SetGA(GA):
        def _set_optimum(self):  # the elitist survival keeps the population sorted
            self.opt = self.pop[[0]]

    algorithm = SetGA(pop_size=pop_size, sampling=SetSampling(), mating=SetMating(),
                      survival=Elitist(), eliminate_duplicates=False,
                      evaluator=Evaluator(evaluate_values_of=["F"]))  # no constraints
    res = minimize(SetProblem(), algorithm, ("n_gen", n_gen + 1), seed=seed,
                   callback=Record(), verbose=False, copy_algorithm=False)
    bar.close()
    best = np.sort(np.asarray(res.X, dtype=np.int64).ravel())
    return best, np.array(history)


# --------------------------------------------------------------------------- public API
def select_representatives(
    contributions: Any,
    budget: int = 10,
    n_top_features: int = 5,
    method: str = "ga",
    dispersion: str = "cv",
    indices: Any = None,
    *,
    pop_size: int = 300,
    n_gen: int = 100,
    crossover_prob: float = 0.8,
    mutation_prob: float = 0.4,
    polish: bool = True,
    feature_names: Any = None,
    random_state: int | np.random.Generator | None = None,
    progress: bool = False,
) -> Representatives:
    """Pick ``budget`` diverse, representative rows of a contribution matrix.

    Follows Algorithm 2 of Rasouli & Yu (2021), "Explainable Debugger for Black-box Machine
    Learning Models": maximise ``sum_j (sum_R W_j) * dispersion_R(Wb_j)`` over sets ``R`` of
    ``budget`` distinct rows (see the module docstring for ``W``, ``Wb`` and the two
    dispersion measures).

    Parameters
    ----------
    contributions : ndarray, 2-D shap.Explanation or Neighborhood, shape (n, m)
        One row per neighbour (e.g. ``NeighborhoodModel.contributions_[neighbour rows]`` or
        :func:`shap_debug.contribution_matrix`). A
        :class:`~shap_debug.neighborhood.Neighborhood` (anything with an ``explanation`` and
        ``indices``) is read as its explanation, with its ``indices`` as the default
        ``indices``.
    budget : int
        Number of rows to pick, ``1 <= budget <= n``.
    n_top_features : int
        NF: features kept per row, ``1 <= NF <= m``.
    method : {"ga", "greedy", "random"}
        pymoo genetic algorithm (the paper's), greedy forward selection, or a uniform
        random draw (the paper's baseline).
    dispersion : {"cv", "var"}
        Coefficient of variation (the reference implementation's) or variance (the paper's
        formula).
    indices : array-like of int, shape (n,), optional
        Training-set index of each contribution row; the result's ``indices`` are mapped
        through it.
    pop_size, n_gen, crossover_prob, mutation_prob :
        GA settings: population, generations, probability that a mating is crossed and that
        an offspring is mutated (defaults: the reference's 300 / 100 / 0.8 / 0.4).
    polish : bool
        After the GA, replace members one at a time by the best swap until no swap raises
        the fitness (a few vectorised passes, ~20 ms at K = 2000). The GA alone does not
        always reach the greedy baseline at K = 2000; with the polish it matched or beat it
        on every neighbourhood we measured (``benchmarks/table3.py``). ``history`` stays
        the GA's; ``fitness`` is the polished set's.
    feature_names : list of str, optional
        Names for :meth:`Representatives.to_frame` (default: the Explanation's, or
        ``"Feature j"``).
    random_state : int, Generator or None
        Seeds the search; equal seeds give equal results.
    progress : bool
        Show a tqdm bar over GA generations.

    Returns
    -------
    Representatives

    Notes
    -----
    An all-zero contribution matrix makes every set equally fit: a ``ShapDebugWarning`` is
    issued and a random set is returned (``method="random"``). With ``budget == n`` every
    row is returned without a search.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> C = rng.normal(size=(500, 8))
    >>> rep = select_representatives(C, budget=5, n_top_features=3, n_gen=20)
    >>> len(rep), len(set(rep.indices.tolist()))
    (5, 5)
    """
    if hasattr(contributions, "explanation") and hasattr(contributions, "indices"):
        if contributions.explanation is None:
            raise ValueError("the neighborhood has no explanation: fit the NeighborhoodModel "
                             "with contributions")
        if indices is None:
            indices = contributions.indices
        contributions = contributions.explanation
    C = _check_contributions(contributions)
    n, m = C.shape
    budget = check_int(budget, "budget", low=1)
    if budget > n:
        raise ValueError(
            f"budget must be <= the number of rows to choose from ({n}); got {budget}")
    n_top = check_int(n_top_features, "n_top_features", low=1)
    if n_top > m:
        raise ValueError(
            f"n_top_features must be <= the number of features ({m}); got {n_top}")
    check_option(method, "method", ["ga", "greedy", "random"])
    check_option(dispersion, "dispersion", ["cv", "var"])
    pop_size = check_int(pop_size, "pop_size", low=2)
    n_gen = check_int(n_gen, "n_gen", low=1)
    crossover_prob = check_float(crossover_prob, "crossover_prob", low=0.0, high=1.0)
    mutation_prob = check_float(mutation_prob, "mutation_prob", low=0.0, high=1.0)
    if not isinstance(polish, (bool, np.bool_)):
        raise TypeError(f"polish must be a bool; got {type(polish).__name__}")
    if indices is None:
        index_map = np.arange(n, dtype=np.int64)
    else:
        index_map = np.asarray(indices)
        if index_map.ndim != 1 or len(index_map) != n:
            raise ValueError(
                f"indices must be 1-D with one entry per contribution row ({n}); "
                f"got shape {index_map.shape}")
        if index_map.size and not np.issubdtype(index_map.dtype, np.integer):
            raise TypeError(f"indices must be integer row indices; got dtype {index_map.dtype}")
        index_map = index_map.astype(np.int64)
    names = _names_of(contributions, m, feature_names)
    rng = check_random_state(random_state)

    start = time.perf_counter()
    W, Wb = _weights(C, n_top)
    if not W.any():
        warn("contributions are all zero: every set is equally fit; returning a random set")
        method = "random"
    if budget == n:
        pos, history = np.arange(n, dtype=np.int64), None
    elif method == "random":
        pos, history = _random_set(n, budget, rng), None
    elif method == "greedy":
        pos, history = _greedy(W, Wb, budget, dispersion)
    else:
        pos, history = _ga(W, Wb, budget, dispersion, pop_size, n_gen, crossover_prob,
                           mutation_prob, seed_from(rng), progress)
        if polish:
            pos = _polish(W, Wb, pos, dispersion)
    fit = float(_fitness(W, Wb, pos[None, :], dispersion)[0])
    if history is None:
        history = np.array([fit])
    elapsed = time.perf_counter() - start
    return Representatives(
        indices=index_map[pos], positions=pos, fitness=fit, history=history, method=method,
        dispersion=dispersion, n_top_features=n_top, elapsed_s=elapsed, feature_names=names,
        weights=W[pos], pool_size=n)
