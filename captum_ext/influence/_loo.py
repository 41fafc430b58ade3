"""Ground truth for influence functions: leave-one-out retraining, and the bridge to the
contribution-space neighbourhood.

- :func:`loo_validation` retrains without each of the top-k rows (warm-started, same
  per-sample regularisation, converged) and compares the actual change of each test loss with
  the predicted one (Koh & Liang 2017, figure 2): Pearson, Spearman and slope.
- :func:`compare_with_neighborhood` puts an anomaly's contribution-space neighbourhood beside
  its most influential training rows: how much they overlap, and whether flipping the labels
  of either set (and retraining) changes the anomaly's prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from shap_debug.core import (
    Result,
    check_int,
    check_random_state,
    parallel_map,
    progress_iter,
    section_html,
    table_html,
    warn,
)

from ._influence import InfluenceFunction

__all__ = ["LOOValidation", "NeighborhoodComparison", "compare_with_neighborhood",
           "loo_validation"]


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` (with intercept)."""
    xc = x - x.mean()
    den = float(xc @ xc)
    return float(xc @ (y - y.mean()) / den) if den > 0 else float("nan")


def _corr(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from scipy.stats import pearsonr, spearmanr

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    return float(pearsonr(x, y)[0]), float(spearmanr(x, y)[0])


@dataclass(frozen=True, repr=False)
class LOOValidation(Result):
    """Predicted vs. actual change of test losses when single training rows are removed.

    Attributes
    ----------
    train_indices : ndarray (n_test, k)
        The top-k rows by |predicted influence| for each test point.
    predicted, actual : ndarray (n_test, k)
        Predicted (influence function) and actual (retrained) change of the test loss when
        the row is removed. Positive: the test loss rises without the row.
    pearson, spearman, slope : ndarray (n_test,)
        Agreement per test point; ``slope`` is the least-squares slope of actual on
        predicted (1 is perfect calibration).
    test_losses : ndarray (n_test,)
        Test losses of the converged full model.
    max_grad : float
        Largest gradient entry left at any retrained optimum (convergence check).
    curvature : str
    """

    train_indices: np.ndarray
    predicted: np.ndarray
    actual: np.ndarray
    pearson: np.ndarray
    spearman: np.ndarray
    slope: np.ndarray
    test_losses: np.ndarray
    max_grad: float
    curvature: str

    @property
    def mean_spearman(self) -> float:
        return float(np.nanmean(self.spearman))

    @property
    def mean_pearson(self) -> float:
        return float(np.nanmean(self.pearson))

    def to_frame(self) -> pd.DataFrame:
        """One row per test point: Pearson, Spearman, slope, test loss."""
        return pd.DataFrame({"pearson": self.pearson, "spearman": self.spearman,
                             "slope": self.slope, "test_loss": self.test_losses})

    def pairs_frame(self) -> pd.DataFrame:
        """One row per (test point, removed row): predicted and actual change."""
        t, k = self.train_indices.shape
        return pd.DataFrame({"test": np.repeat(np.arange(t), k),
                             "train_index": self.train_indices.ravel(),
                             "predicted": self.predicted.ravel(),
                             "actual": self.actual.ravel()})

    def summary(self) -> dict[str, Any]:
        """Test points, removed rows per test point, mean agreement, convergence."""
        t, k = self.train_indices.shape
        return {"n_test": int(t), "k": int(k), "curvature": self.curvature,
                "mean_pearson": self.mean_pearson, "mean_spearman": self.mean_spearman,
                "max_grad": float(self.max_grad)}

    def plot(self, ax: Any = None, show: bool = True) -> Any:
        """Actual vs. predicted change of test loss, one colour per test point, and y = x.

        See :func:`captum_ext.plots._influence.loo_plot`.
        """
        from ..plots import loo_plot

        return loo_plot(self, ax=ax, show=show)

    def _repr_html_(self) -> str:
        frame = pd.DataFrame({"test": np.arange(len(self.pearson)), "Pearson": self.pearson,
                              "Spearman": self.spearman, "slope": self.slope})
        return section_html(f"Leave-one-out check ({self.curvature})",
                            table_html(frame, max_rows=len(frame), float_format="{:.3f}"))


def loo_validation(influence: InfluenceFunction, inputs: Any, *, k: int = 40,
                   tol: float = 1e-10, max_iter: int = 500, n_jobs: int = 1,
                   progress: bool = True) -> LOOValidation:
    """Check predicted influences against actual leave-one-out retraining.

    The model is first re-converged on all rows (influence functions assume an optimum;
    a warning says when the given model was not converged), influences are computed there,
    and for each test point the ``k`` rows with the largest |influence| are removed one at
    a time and the model retrained — warm-started from the converged parameters, with the
    same per-sample regularisation (:meth:`InfluenceFunction.refit`) — until the largest
    gradient entry is below ``tol``.

    Parameters
    ----------
    influence : InfluenceFunction
    inputs : tuple (X_test, y_test)
    k : int, default 40
    tol, max_iter : convergence of each retraining.
    n_jobs : int, default 1
        Refits run in parallel threads (joblib; torch releases the GIL in its kernels).
    progress : bool, default True

    Returns
    -------
    LOOValidation

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    >>> inf = InfluenceFunction(LogisticRegression().fit(X, y), X, y, progress=False)
    >>> res = loo_validation(inf, (X[:2], y[:2]), k=10, progress=False)
    >>> bool(res.spearman.min() > 0.9)
    True
    """
    if not isinstance(influence, InfluenceFunction):
        raise TypeError(f"influence must be an InfluenceFunction; got {type(influence).__name__}")
    Xq, yq = influence._batch(inputs)
    k = check_int(k, "k", low=1)
    if k > influence.n_train_:
        raise ValueError(f"k={k} is larger than the number of training rows "
                         f"({influence.n_train_})")
    q_inputs = (Xq, influence.classes_[yq.numpy()])
    start = influence.gradient_norm()
    theta_ref = influence.refit(tol=tol, max_iter=max_iter)
    if start > 1e-4:
        warn(f"the model was not converged (largest gradient entry {start:.2g}); influences "
             "and the leave-one-out check use the re-converged parameters")
    inf = influence.at(theta_ref)
    scores = inf.influence(q_inputs, show_progress=False).numpy()
    base = inf.loss(q_inputs, theta_ref).numpy()
    top = np.argsort(-np.abs(scores), axis=1, kind="stable")[:, :k]
    rows = np.unique(top)
    n_jobs = check_int(n_jobs, "n_jobs", low=1)
    inf._preconditioner(theta_ref)  # factorise once, shared by every refit

    def one(j):
        w = torch.ones(inf.n_train_, dtype=inf.dtype)
        w[j] = 0.0
        theta_j = inf.refit(sample_weight=w, init=theta_ref, tol=tol, max_iter=max_iter)
        tj = theta_j.clone().requires_grad_(True)
        inf._problem.objective(tj, inf.X_, inf.y_, w).backward()
        return int(j), float(tj.grad.abs().max()), inf.loss(q_inputs, theta_j).numpy() - base

    # threads: torch releases the GIL in its kernels, and every refit shares ``inf``
    done = parallel_map(one, rows, n_jobs=n_jobs, progress=progress,
                        desc="leave-one-out refits", prefer="threads")
    actual_by_row = {j: a for j, _, a in done}
    max_grad = max((g for _, g, _ in done), default=0.0)
    if max_grad > 100 * tol:
        warn(f"some leave-one-out refits stopped with gradient entries up to {max_grad:.2g} "
             f"(tol={tol}); increase max_iter")
    t = len(Xq)
    pred = np.take_along_axis(scores, top, axis=1)
    act = np.array([[actual_by_row[int(j)][i] for j in top[i]] for i in range(t)])
    pear, spear = zip(*(_corr(pred[i], act[i]) for i in range(t)))
    slope = [_slope(pred[i], act[i]) for i in range(t)]
    return LOOValidation(top, pred, act, np.array(pear), np.array(spear), np.array(slope),
                         base, max_grad, influence.curvature)


@dataclass(frozen=True, repr=False)
class NeighborhoodComparison(Result):
    """An anomaly's contribution-space neighbourhood beside its most influential rows.

    Attributes
    ----------
    neighborhood, top_influence, random_rows : list of ndarray
        Training rows of each set per query (``random_rows``: a same-size random control).
    overlap : ndarray (n_queries,)
        ``|neighbourhood ∩ top influence| / k``.
    jaccard : ndarray (n_queries,)
    flip_neighborhood, flip_influence, flip_random : ndarray of bool (n_queries,)
        Whether flipping the labels of that set and retraining changed the query's
        predicted class (``None`` entries when ``flip=False``).
    predicted : ndarray
        The query's predicted class before any flip.
    """

    neighborhood: list
    top_influence: list
    random_rows: list
    overlap: np.ndarray
    jaccard: np.ndarray
    flip_neighborhood: np.ndarray
    flip_influence: np.ndarray
    flip_random: np.ndarray
    predicted: np.ndarray

    def summary(self) -> dict[str, float]:
        """Mean overlap and the flip rate of each set."""
        def rate(a):
            a = a[~pd.isna(a)] if a.dtype == object else a
            return float(np.mean(a.astype(float))) if len(a) else float("nan")

        return {"mean_overlap": float(np.mean(self.overlap)),
                "mean_jaccard": float(np.mean(self.jaccard)),
                "flip_rate_neighborhood": rate(self.flip_neighborhood),
                "flip_rate_influence": rate(self.flip_influence),
                "flip_rate_random": rate(self.flip_random)}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"overlap": self.overlap, "jaccard": self.jaccard,
                             "flip_neighborhood": self.flip_neighborhood,
                             "flip_influence": self.flip_influence,
                             "flip_random": self.flip_random,
                             "predicted": self.predicted})

    def plot(self, ax: Any = None, show: bool = True) -> Any:
        """Flip rates of the neighbourhood, the top-influence rows and random rows.

        See :func:`captum_ext.plots._influence.neighborhood_comparison_plot`.
        """
        from ..plots import neighborhood_comparison_plot

        return neighborhood_comparison_plot(self, ax=ax, show=show)

    def _repr_html_(self) -> str:
        frame = pd.DataFrame({"figure": list(self.summary()),
                              "value": list(self.summary().values())})
        return section_html("Neighbourhood vs. influence",
                            table_html(frame, float_format="{:.3f}"))


def _flipped(labels: np.ndarray, rows: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Labels with ``rows`` moved to the most probable *other* class."""
    out = labels.copy()
    p = proba[rows].copy()
    p[np.arange(len(rows)), labels[rows]] = -np.inf
    out[rows] = p.argmax(axis=1)
    return out


def compare_with_neighborhood(influence: InfluenceFunction, queries: Any, neighborhoods: Any,
                              *, k: int | None = None, flip: bool = True,
                              exclude_self: bool = True, random_state: Any = 0,
                              progress: bool = True) -> NeighborhoodComparison:
    """Compare each anomaly's contribution-space neighbourhood with its top influential rows.

    For each query, the top-``k`` proponents of its *predicted* class (training rows whose
    removal would most raise the loss of the prediction: "the rows that made this
    prediction") are compared with its neighbourhood by overlap, and — with ``flip=True`` —
    by an intervention: the labels of each set (and of a same-size random control set) are
    moved to another class, the model is retrained warm-started, and we record whether the
    query's predicted class changes.

    Parameters
    ----------
    influence : InfluenceFunction
    queries : int array of training-row indices, or a tuple (X_query,) of new rows
    neighborhoods : object with ``neighbors(i).indices`` (e.g.
        ``shap_debug.neighborhood.NeighborhoodModel`` fitted on the same training rows;
        needs index queries) or a sequence of training-row index arrays, one per query.
    k : int, optional
        Size of the top-influence set (default: each neighbourhood's size).
    flip : bool, default True
    exclude_self : bool, default True
        Drop an index query from its own sets.
    random_state : int or Generator
    progress : bool, default True

    Returns
    -------
    NeighborhoodComparison
    """
    if not isinstance(influence, InfluenceFunction):
        raise TypeError(f"influence must be an InfluenceFunction; got {type(influence).__name__}")
    rng = check_random_state(random_state)
    n = influence.n_train_
    if isinstance(queries, tuple):
        Xq = queries[0]
        q_idx = None
    else:
        q_idx = np.atleast_1d(np.asarray(queries))
        influence._check_rows(q_idx, "queries")
        q_idx = q_idx.astype(np.int64)
        Xq = influence.X_[q_idx]
    if hasattr(neighborhoods, "neighbors"):
        if q_idx is None:
            raise ValueError("neighborhoods given as a model need index queries (training rows)")
        neigh = [np.asarray(neighborhoods.neighbors(int(i)).indices, dtype=np.int64)
                 for i in q_idx]
    else:
        neigh = list(neighborhoods)
    if len(neigh) != len(Xq):
        raise ValueError(f"neighborhoods has {len(neigh)} entries but there are {len(Xq)} "
                         "queries")
    neigh = [influence._check_rows(a, f"neighborhoods[{i}]") for i, a in enumerate(neigh)]
    proba = influence.predict_proba(Xq)
    pred = proba.argmax(axis=1)
    scores = influence.influence((Xq, influence.classes_[pred]), show_progress=False).numpy()
    tops, rands, overlap, jacc = [], [], [], []
    for i, nb in enumerate(neigh):
        s = scores[i].copy()
        if exclude_self and q_idx is not None:
            nb = nb[nb != q_idx[i]]
            s[q_idx[i]] = -np.inf
        kk = len(nb) if k is None else check_int(k, "k", low=1, high=n - 1)
        top = np.sort(np.argsort(-s, kind="stable")[:kk])
        pool = np.setdiff1d(np.arange(n), [] if q_idx is None else [q_idx[i]])
        rands.append(np.sort(rng.choice(pool, kk, replace=False)))
        tops.append(top)
        neigh[i] = nb
        inter = len(np.intersect1d(nb, top))
        overlap.append(inter / kk)
        union = len(np.union1d(nb, top))
        jacc.append(inter / union if union else 0.0)
    t = len(Xq)
    flips = {name: np.full(t, None, dtype=object) for name in ("n", "i", "r")}
    if flip:
        y_all = influence.y_.numpy()
        p_train = influence.predict_proba(influence.X_)
        theta0 = influence.params_
        jobs = [(name, i, rows) for i in range(t)
                for name, rows in (("n", neigh[i]), ("i", tops[i]), ("r", rands[i]))]
        for name, i, rows in progress_iter(jobs, progress=progress, desc="label-flip refits"):
            labels = influence.classes_[_flipped(y_all, rows, p_train)]
            theta = influence.refit(labels=labels, init=theta0)
            new = influence.predict_proba(Xq[i:i + 1], theta).argmax(axis=1)[0]
            flips[name][i] = bool(new != pred[i])
    return NeighborhoodComparison(neigh, tops, rands, np.array(overlap), np.array(jacc),
                                  flips["n"], flips["i"], flips["r"],
                                  influence.classes_[pred])
