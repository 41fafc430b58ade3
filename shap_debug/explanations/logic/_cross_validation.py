"""K-fold comparison of the formula extraction methods with the four LEN metrics
(Ciravegna et al., "Logic Explained Networks", 2023): the LEN notebook's table."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ...core import (
    Result,
    ShapDebugWarning,
    check_indices,
    check_int,
    check_option,
    check_random_state,
    check_y,
    escape,
    parallel_map,
    section_html,
    seed_from,
    table_html,
)
from ._formula import _check_concepts, consistency
from ._methods import METHODS, _params, _plain, _resolve_target, explain_formula

_METRICS = ("model_accuracy", "explanation_accuracy", "fidelity", "complexity", "time")


@dataclass(frozen=True, repr=False)
class LogicCVResult(Result):
    """K-fold comparison of extraction methods (the LEN notebook's table).

    Attributes
    ----------
    folds : DataFrame
        One row per (method, fold): the held-out metrics and the formula.
    formulas : dict
        Method -> tuple of the fold formulas.
    target_class : object
    n_splits : int
    """

    folds: pd.DataFrame
    formulas: dict
    target_class: Any
    n_splits: int

    def consistency(self) -> pd.Series:
        """LEN consistency of each method's fold formulas."""
        return pd.Series({m: consistency(fs) for m, fs in self.formulas.items()},
                         name="consistency")

    def to_frame(self) -> pd.DataFrame:
        """One row per method: mean and standard error over folds, and consistency."""
        g = self.folds.groupby("method", sort=False)[list(_METRICS)]
        mean = g.mean()
        sem = g.sem(ddof=1).add_suffix("_sem")
        out = pd.concat([mean, sem], axis=1)
        out["consistency"] = self.consistency()
        cols = [c for m in _METRICS for c in (m, f"{m}_sem")] + ["consistency"]
        return out[cols]

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"methods": list(self.formulas), "n_splits": self.n_splits,
                "target_class": self.target_class}

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        table = pd.DataFrame({
            "method": list(frame.index),
            **{name: [f"{r[c]:.3f} \u00b1 {r[c + '_sem']:.3f}" for _, r in frame.iterrows()]
               for name, c in (("model acc.", "model_accuracy"),
                               ("explanation acc.", "explanation_accuracy"),
                               ("fidelity", "fidelity"))},
            "complexity": [f"{v:.1f}" for v in frame["complexity"]],
            "consistency": [f"{v:.2f}" for v in frame["consistency"]],
            "time (s)": [f"{v:.2f}" for v in frame["time"]]})
        return section_html("Logic cross-validation", table_html(table)
                            + f"<p>{self.n_splits}-fold cross-validation, class "
                            f"{escape(self.target_class)}.</p>")

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Grouped bars: model accuracy, explanation accuracy and fidelity per method."""
        from ...plots import logic_cv_plot

        return logic_cv_plot(self, max_display=max_display, ax=ax, show=show)


def logic_cross_validation(concepts: Any, target: Any, methods: Sequence[str] = METHODS, *,
                           n_splits: int = 10, target_class: Any = None,
                           concept_names: Sequence[str] | None = None,
                           params: Mapping[str, Mapping[str, Any]] | None = None,
                           cv: Iterable[tuple[Any, Any]] | None = None,
                           random_state: Any = None, n_jobs: int = 1, progress: bool = True
                           ) -> LogicCVResult:
    """Stratified K-fold comparison of formula extraction methods, LEN style.

    Each method learns on K-1 folds and is scored on the held-out fold; consistency is
    computed over the K formulas of each method.

    Parameters
    ----------
    concepts, target, target_class, concept_names
        As in :func:`explain_formula`.
    methods : sequence of str
        Any of ``"tree"``, ``"pruning"``, ``"weights"``, ``"psi"``, ``"entropy"``.
    n_splits : int, default 10
    params : dict, optional
        Method -> its parameters (e.g. ``{"tree": {"max_depth": 4}}``).
    cv : iterable of (train_indices, test_indices), optional
        Folds to use instead of a shuffled ``StratifiedKFold(n_splits)`` (e.g. to score
        another implementation on the very same folds); ``n_splits`` is then ignored.
    random_state : int or Generator
        Seeds the fold split and each fit.
    n_jobs : int
        Parallel fits through joblib (a Dask cluster can run them via
        ``joblib.parallel_backend("dask")``).
    progress : bool
        Show a tqdm bar over the fits.

    Returns
    -------
    LogicCVResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> C = pd.DataFrame(rng.random((300, 5)) < 0.5, columns=list("abcde"))
    >>> y = (C["a"] & C["b"]).to_numpy()
    >>> cv = logic_cross_validation(C, y, ["tree"], n_splits=3, progress=False)
    >>> float(cv.to_frame().loc["tree", "explanation_accuracy"])
    1.0
    """
    from sklearn.model_selection import StratifiedKFold

    methods = [check_option(m, "methods", METHODS) for m in methods]
    if not methods:
        raise ValueError("methods must name at least one method")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods has duplicates: {methods}")
    n_splits = check_int(n_splits, "n_splits", low=2)
    check_int(n_jobs, "n_jobs")
    C, names = _check_concepts(concepts, concept_names, "concepts")
    target = check_y(target, "target", n=len(C))
    target_class = _resolve_target(target, target_class, "target")
    params = dict(params or {})
    unknown = set(params) - set(methods)
    if unknown:
        raise ValueError(f"params names methods {sorted(unknown)} that are not in methods")
    for m in methods:  # validate before any fit
        _params(m, params.get(m, {}))
    t = target == target_class
    rng = check_random_state(random_state)
    if cv is None:
        if min(t.sum(), (~t).sum()) < n_splits:
            raise ValueError(f"n_splits={n_splits} is more than the rows of the smaller class "
                             f"({min(t.sum(), (~t).sum())})")
        skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed_from(rng))
        splits = list(skf.split(C, t))
    else:
        splits = [(check_indices(tr, len(C), "cv train indices"),
                   check_indices(te, len(C), "cv test indices")) for tr, te in cv]
        if not splits:
            raise ValueError("cv must hold at least one (train, test) split")
        n_splits = len(splits)
    jobs = [(m, k, tr, te, int(rng.integers(0, 2**31 - 1)))
            for k, (tr, te) in enumerate(splits) for m in methods]

    def run(m, k, tr, te, seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShapDebugWarning)
            res = explain_formula(C[tr], t[tr], m, target_class=True, concept_names=names,
                                  eval_concepts=C[te], eval_target=t[te], random_state=seed,
                                  **params.get(m, {}))
        return m, k, res

    results = parallel_map(run, jobs, n_jobs=n_jobs, progress=progress, desc="logic CV",
                           star=True)
    rows, formulas = [], {m: [None] * n_splits for m in methods}
    for m, k, res in results:
        row = res.to_frame().iloc[0].to_dict()
        row.update(method=m, fold=k, target_class=_plain(target_class))
        rows.append(row)
        formulas[m][k] = res.formula
    folds = pd.DataFrame(rows)[["method", "fold", *_METRICS, "formula", "n_rows", "n_target"]]
    return LogicCVResult(folds=folds, formulas={m: tuple(f) for m, f in formulas.items()},
                         target_class=_plain(target_class), n_splits=n_splits)

