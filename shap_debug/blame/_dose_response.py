"""Dose-response of the label-flip check: how many neighbours must be relabelled?

The background (method, references, design choices) is in ``docs/neighborhood.md``, section
"Design notes", ``shap_debug.blame._dose_response``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    RefitCache,
    Result,
    check_float,
    check_indices,
    check_int,
    check_option,
    check_random_state,
    escape,
    parallel_map,
    predict_rows,
    refit_many,
    refit_predict,
    section_html,
    seed_from,
    seeded_clone,
    show_warnings_once,
    table_html,
    warn,
)
from ..neighborhood import SPACES, NeighborhoodModel, check_spaces

__all__ = ["DoseResponse", "dose_response", "neighbours_by_space"]



# --------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class DoseResponse(Result):
    """Smallest number of relabelled nearest neighbours that flips each anomaly's prediction.

    Attributes
    ----------
    records : DataFrame
        One row per (anomaly, space): ``anomaly, space, k_min`` (nullable int; missing when
        the prediction did not flip within ``k_max``), ``flipped``, ``retrains`` (fits spent
        by the search), ``k_below`` (the largest ``k`` tried that did not flip, 0 if none),
        ``label``, ``prediction_before`` and ``refit_changed`` (True when a clone refitted on
        the *unchanged* labels already predicts differently: such an anomaly is not searched,
        ``k_min`` is 0).
    trials : DataFrame
        One row per retrain: ``anomaly, space, k, flipped, proba_before`` (the retrained
        model's probability of the original prediction), in the order the search ran them.
    spaces : tuple of str
    anomalies : ndarray of int
    k_max : int
        The cap of the search.
    n_neighbors : int
        ``K`` of the neighbourhood model (the fixed-K label-flip check's size).
    include_anomaly : bool
    seed : int
        Seed given to clones whose ``random_state`` was None.
    time_s : float
    search : str
        ``"doubling+bisection"`` (``k_min`` exact) or ``"ladder"`` (``k_min`` is the
        smallest rung that flipped: the true minimum lies in ``(k_below, k_min]``).
    """

    records: pd.DataFrame = field(repr=False)
    trials: pd.DataFrame = field(repr=False)
    spaces: tuple[str, ...]
    anomalies: np.ndarray = field(repr=False)
    k_max: int
    n_neighbors: int
    include_anomaly: bool = False
    seed: int = 0
    time_s: float = 0.0
    search: str = "doubling+bisection"

    # ------------------------------------------------------------------ tables
    def to_frame(self) -> pd.DataFrame:
        """Long table, one row per (anomaly, space): ``anomaly, space, k_min, flipped,
        retrains`` then ``k_below, label, prediction_before, refit_changed``."""
        return self.records.copy()

    def table(self) -> pd.DataFrame:
        """Wide table for people: anomalies as rows, spaces as columns, ``k_min`` as text
        (``"> 2000"`` where the prediction did not flip within the cap)."""
        rec = self.records
        out = pd.DataFrame(index=pd.Index(self.anomalies, name="anomaly"))
        for s in self.spaces:
            r = rec[rec.space == s].set_index("anomaly")
            out[s] = [self._fmt(r.loc[a]) for a in self.anomalies]
        return out

    def _fmt(self, row: pd.Series) -> str:
        if bool(row["refit_changed"]):
            return "0 (refit alone)"
        if not bool(row["flipped"]):
            return f"> {self.k_max}"
        lo, hi = int(row["k_below"]), int(row["k_min"])
        if self.search != "ladder" or hi <= lo + 1:
            return str(hi)
        return f"{lo + 1}–{hi}"  # the ladder brackets the minimum

    def k_matrix(self) -> pd.DataFrame:
        """Numeric wide table: ``k_min`` per anomaly and space, ``inf`` where not flipped
        within the cap, NaN where a plain refit already changed the prediction."""
        out = pd.DataFrame(index=pd.Index(self.anomalies, name="anomaly"))
        for s in self.spaces:
            r = self.records[self.records.space == s].set_index("anomaly").loc[self.anomalies]
            k = r["k_min"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.inf)
            out[s] = np.where(r["refit_changed"].to_numpy(bool), np.nan, k)
        return out

    def rate_at(self, k: int | None = None) -> pd.DataFrame:
        """Fixed-``k`` flip rate per space (the paper's Table II number), read off the search.

        The share of anomalies whose ``k_min <= k``: under the search's monotonicity
        assumption, the rate at which relabelling the ``k`` nearest neighbours flips the
        prediction. The search tried ``k_max`` itself whenever nothing below flipped, so at
        ``k = k_max`` a "not flipped" is measured, a "flipped" is implied by a smaller ``k``.
        :func:`~shap_debug.blame._label_flip.label_flip_check` measures it directly.

        Parameters
        ----------
        k : int, optional
            Default ``min(n_neighbors, k_max)``.

        Returns
        -------
        DataFrame with ``space, k, rate, n``
        """
        k = min(self.n_neighbors, self.k_max) if k is None else check_int(
            k, "k", low=1, high=self.k_max)
        M = self.k_matrix()
        rows = []
        for s in self.spaces:
            v = M[s].to_numpy()
            v = v[~np.isnan(v)]
            rows.append({"space": s, "k": k, "rate": float(np.mean(v <= k)) if len(v) else
                         float("nan"), "n": int(len(v))})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ words
    def medians(self) -> dict[str, float]:
        """Median ``k_min`` per space over the searched anomalies (``inf`` when more than
        half did not flip within the cap)."""
        M = self.k_matrix()
        out = {}
        for s in self.spaces:
            v = M[s].to_numpy()
            v = v[~np.isnan(v)]
            out[s] = float(np.median(v)) if len(v) else float("nan")
        return out

    def verdict_code(self, margin: float = 1.5) -> dict[str, Any]:
        """The comparison of the spaces as numbers and a case code (no words).

        A space needs *clearly* fewer relabelled neighbours than another on an anomaly when
        its ``k_min`` times ``margin`` is at most the other's (a prediction not flipped
        within the cap counts as infinitely many; two such are a tie). The space with the
        smallest median is told apart from another when it needs clearly fewer on more than
        half of the anomalies and clearly more on fewer of them than that.

        Returns
        -------
        dict
            ``case`` (``"none_searched"``, ``"none_flip"``, ``"single_space"``, ``"one_row"``
            or ``"many_rows"``), ``n`` anomalies, ``best`` space, ``order`` (spaces, best
            first), ``k`` per space (a :meth:`k_code`: the median, or the one anomaly's
            k), ``wins``/``losses`` (anomalies where ``best`` needs clearly fewer / more),
            ``apart`` and ``together`` (spaces told apart from ``best`` or not), ``row``,
            ``k_max`` and ``margin``. :func:`shap_debug.debugger.dose_sentence` says it.
        """
        margin = check_float(margin, "margin", low=1.0)
        M = self.k_matrix().dropna()
        n = len(M)
        spaces = list(self.spaces)
        out: dict[str, Any] = {"n": n, "k_max": int(self.k_max), "margin": float(margin),
                               "spaces": spaces}
        if n == 0:
            return {**out, "case": "none_searched"}
        if np.isinf(M.to_numpy()).all():
            return {**out, "case": "none_flip"}
        med = {s: float(np.median(M[s])) for s in spaces}
        gmean = {s: float(np.mean(np.log(np.minimum(M[s], 10 * self.k_max)))) for s in spaces}
        order = sorted(spaces, key=lambda s: (med[s], gmean[s], spaces.index(s)))
        best = order[0]
        out.update(best=best, order=order)
        if len(spaces) == 1:
            return {**out, "case": "single_space", "k": {best: self.k_code(med[best])}}
        wins, losses = {}, {}
        a = M[best].to_numpy()
        for s in order[1:]:
            b = M[s].to_numpy()
            wins[s] = int(np.sum(_clearly_fewer(a, b, margin)))
            losses[s] = int(np.sum(_clearly_fewer(b, a, margin)))
        apart = [s for s in order[1:] if wins[s] > n / 2 and losses[s] < wins[s]]
        together = [s for s in order[1:] if s not in apart]
        out.update(wins=wins, losses=losses, apart=apart, together=together)
        if n == 1:
            return {**out, "case": "one_row", "row": int(M.index[0]),
                    "k": {s: self.k_code(M[s].iloc[0]) for s in order}}
        return {**out, "case": "many_rows", "k": {s: self.k_code(med[s]) for s in order}}

    def verdict(self, margin: float = 1.5) -> str:
        """One sentence comparing the spaces: :meth:`verdict_code` in words
        (:func:`shap_debug.debugger.dose_sentence`).

        Parameters
        ----------
        margin : float >= 1
        """
        # the words live with the findings (the one home of sentences); a module, not the
        # facade package, so the lower stage does not import the facade
        from ..debugger._findings import dose_sentence

        return dose_sentence(self.verdict_code(margin))

    def k_code(self, k: float) -> dict[str, Any]:
        """A number of relabelled rows as the search knows it: ``{"kind": "exact", "k"}``,
        ``{"kind": "above_cap", "k_max"}``, ``{"kind": "bracket", "low", "high"}`` (a rung of
        the ladder: the minimum lies above the next rung down) or ``{"kind": "at_most", "k"}``
        (a median between two rungs)."""
        if np.isinf(k):
            return {"kind": "above_cap", "k_max": int(self.k_max)}
        if self.search != "ladder" or k <= 1:
            return {"kind": "exact", "k": float(k)}
        rungs = [self.k_max]
        while rungs[-1] > 1:
            rungs.append(rungs[-1] // LADDER_FACTOR)
        if k in rungs:
            return {"kind": "bracket", "low": float(k // LADDER_FACTOR + 1), "high": float(k)}
        return {"kind": "at_most", "k": float(k)}

    # ------------------------------------------------------------------ views
    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        out: dict[str, Any] = {"n_anomalies": len(self.anomalies), "k_max": self.k_max,
                               "retrains": int(self.records["retrains"].sum())}
        for s, m in self.medians().items():
            out[f"median_{s}"] = m
        return out

    def plot(self, max_display: int = 20, ax: Any = None, show: bool = True):
        """Dot plot of ``k_min`` per anomaly and space (see
        :func:`shap_debug.plots._evidence.dose_response_plot`)."""
        from ..plots import dose_response_plot

        return dose_response_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        how = ("rungs k_max, k_max/4, ... down to the first that does not flip; a range is "
               "where the minimum lies" if self.search == "ladder" else
               "doubling then bisection")
        note = (f"Smallest number of an anomaly's nearest neighbours whose relabelling flips "
                f"its prediction ({how}, cap {self.k_max}, "
                f"{int(self.records['retrains'].sum())} retrains).")
        body = f"<p>{escape(self.verdict())}</p>" + table_html(self.table(), index=True)
        return section_html("Dose-response of the label-flip check", body, note)


def _clearly_fewer(a: np.ndarray, b: np.ndarray, margin: float) -> np.ndarray:
    return np.isfinite(a) & (a * margin <= b)





# --------------------------------------------------------------------------- helpers


def _check_model(nbm: Any) -> NeighborhoodModel:
    if not isinstance(nbm, NeighborhoodModel):
        raise TypeError("neighborhood_model must be a fitted NeighborhoodModel; got "
                        f"{type(nbm).__name__}")
    if not hasattr(nbm, "nn_"):
        raise ValueError("neighborhood_model is not fitted yet; call fit(X, y)")
    return nbm


def _check_spaces(spaces: Any, nbm: NeighborhoodModel) -> tuple[str, ...]:
    spaces = check_spaces(spaces)
    if "contributions" in spaces and nbm.contributions_ is None:
        raise ValueError("spaces includes 'contributions' but neighborhood_model was fitted "
                         "without contributions; pass contributions to fit or drop the space")
    return spaces


def _select_anomalies(anomalies: Any, nbm: NeighborhoodModel) -> np.ndarray:
    n = len(nbm.y_)
    if isinstance(anomalies, (bool, np.bool_)):
        raise TypeError("anomalies must be an int or a sequence of row indices; got a bool")
    if isinstance(anomalies, (int, np.integer)):
        q = check_int(anomalies, "anomalies", low=1)
        idx = np.asarray(nbm.anomalies_, dtype=np.int64)
        conf = nbm.proba_[idx, nbm.predicted_[idx]]
        return idx[np.argsort(-conf, kind="stable")][:q]
    if anomalies is None:
        raise TypeError("anomalies must be an int (the most confidently wrong rows) or a "
                        "sequence of training row indices; got None")
    rows = check_indices(anomalies, n, "anomalies")
    if len(rows) == 0:
        raise ValueError("anomalies is empty")
    if len(np.unique(rows)) != len(rows):
        raise ValueError("anomalies has duplicate rows")
    return rows


def neighbours_by_space(neighborhood_model: NeighborhoodModel, rows: Any,
                        spaces: Sequence[str] = SPACES, *, n_neighbors: int | None = None,
                        exclude_self: bool = True) -> dict[str, np.ndarray]:
    """Nearest training rows of ``rows`` in each space, nearest first.

    Spaces other than the model's own are indexed by a clone of the
    :class:`~shap_debug.neighborhood.NeighborhoodModel` refitted with that ``space`` on the
    same model and data (and, for contributions, the same contribution vectors), so every
    space is built exactly as the neighbourhood model builds it.

    Returns
    -------
    dict space -> ndarray of int, shape (len(rows), n_neighbors)
    """
    from sklearn.base import clone

    nbm = _check_model(neighborhood_model)
    spaces = _check_spaces(spaces, nbm)
    rows = check_indices(rows, len(nbm.y_), "rows")
    out = {}
    for s in spaces:
        if s == nbm.space:
            model = nbm
        else:
            model = clone(nbm).set_params(space=s, exclude_self=bool(exclude_self),
                                          single_output="predicted", model=nbm.model_)
            model.fit(nbm.X_, nbm.y_,
                      contributions=nbm.contributions_ if s == "contributions" else None,
                      feature_names=nbm.feature_names_, progress=False)
        _, idx = model.kneighbors(rows, n_neighbors=n_neighbors, exclude_self=bool(exclude_self))
        out[s] = idx
    return out


# --------------------------------------------------------------------------- the searches
#: ratio between consecutive rungs of ``search="ladder"``
LADDER_FACTOR = 4


def _search(template: Any, X: Any, y: np.ndarray, classes: np.ndarray, row: int,
            before: Any, neighbours: np.ndarray, k_max: int,
            search: str = "doubling+bisection", known: dict | None = None) -> dict[str, Any]:
    """Doubling 1, 2, 4, ... (then ``k_max``) until the prediction flips, then bisection
    between the last ``k`` that did not flip and the first that did; or the ladder
    ``k_max, k_max // 4, ...`` down to the first rung that does not flip. ``known``:
    ``{k: Refit}`` of refits made before (the top rung), not fitted again."""
    trace: list[tuple[int, bool, float]] = []
    caught: list[tuple[type[Warning], str]] = []
    fitted = [0, 0.0]  # fits made here and their seconds

    def flips(k: int) -> bool:
        fit = (known or {}).get(k)
        if fit is None:
            fit = refit_predict(template, X, y, [row], relabel=neighbours[:k], classes=classes)
            fitted[0] += 1
            fitted[1] += fit.seconds
        caught.extend(fit.warnings)
        hit = np.flatnonzero(fit.classes == before)
        p_before = float(fit.proba[0, hit[0]]) if len(hit) else 0.0
        changed = bool(fit.labels[0] != before)
        trace.append((k, changed, p_before))
        return changed

    k_min, k_below = (_ladder if search == "ladder" else _bisect)(flips, k_max)
    return {"k_min": k_min, "k_below": k_below, "trace": trace, "warnings": caught,
            "fits": fitted[0], "fit_seconds": fitted[1]}


def _ladder(flips: Any, k_max: int) -> tuple[int | None, int]:
    hi, lo, k = None, 0, k_max
    while k >= 1:
        if not flips(k):
            lo = k
            break
        hi, k = k, k // LADDER_FACTOR
    return hi, (k_max if hi is None else lo)


def _bisect(flips: Any, k_max: int) -> tuple[int | None, int]:
    lo, hi, k = 0, None, 1
    while True:
        k = min(k, k_max)
        if flips(k):
            hi = k
            break
        lo = k
        if k == k_max:
            break
        k *= 2
    if hi is not None:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if flips(mid):
                hi = mid
            else:
                lo = mid
    return hi, lo


# --------------------------------------------------------------------------- entry point
def dose_response(
    neighborhood_model: NeighborhoodModel,
    anomalies: int | Sequence[int],
    *,
    spaces: Sequence[str] = SPACES,
    k_max: int | None = None,
    search: str = "doubling+bisection",
    include_anomaly: bool = False,
    n_jobs: int | None = 1,
    random_state: int | np.random.Generator | None = None,
    progress: bool = True,
    cache: RefitCache | None = None,
) -> DoseResponse:
    """Smallest number of an anomaly's nearest neighbours whose relabelling flips it.

    For each anomaly and space, the anomaly's ``k`` nearest other training rows in that
    space have their labels swapped to the other class (exactly the relabelling of
    :func:`~shap_debug.blame._label_flip.label_flip_check`: ``y -> the other of the two labels``,
    whatever the anomaly's own label), a clone of the model (same hyper-parameters; a
    ``random_state`` left at None gets one fixed seed, the same for every fit) is refitted on
    the whole training set, and the anomaly's prediction is compared with the given
    model's. The search tries ``k = 1, 2, 4, ...`` until the prediction flips or ``k_max``
    is reached (``k_max`` itself is tried), then bisects between the last ``k`` that did not
    flip and the first that did. It assumes that flipping is monotone in ``k`` (if ``k``
    relabelled neighbours flip the prediction, so do more); when that fails the result is
    the smallest ``k`` *this search* found, not necessarily the global minimum. It spends
    about ``2 log2(k_min)`` retrains per anomaly and space (``retrains`` column), and
    ``log2(k_max) + 1`` when nothing flips ("not flipped within the cap" is recorded as
    ``flipped=False`` with a missing ``k_min``).

    Before searching, one clone is refitted on the unchanged labels: an anomaly whose
    prediction already changes then is reported with ``k_min = 0`` and
    ``refit_changed=True`` (with a warning) and not searched, since any flip could be
    training noise.

    Parameters
    ----------
    neighborhood_model : NeighborhoodModel
        Fitted on the model, its training data and labels (binary); it must hold
        contributions when ``"contributions"`` is among ``spaces``. Its model must be
        cloneable with :func:`sklearn.base.clone`.
    anomalies : int or sequence of int
        An int ``q``: the ``q`` most confidently wrong training rows (the report's choice).
        A sequence: these training rows (rows the model predicts correctly are allowed, with
        a warning: the search then measures what it takes to make it wrong).
    spaces : sequence of {"contributions", "features", "probabilities"}
    k_max : int, optional
        Cap of the search; default ``min(K, 2000)`` with ``K`` the neighbourhood model's
        ``n_neighbors``. At most the number of other training rows.
    search : {"doubling+bisection", "ladder"}
        ``"ladder"`` is the cheap one: it tries ``k_max`` (the fixed-K check), then
        ``k_max // 4``, ``k_max // 16``, ... and stops at the first rung that does not flip,
        so it spends 1 + (rungs that flip) retrains and brackets the minimum within a factor
        of 4 (``k_below`` < minimum <= ``k_min``); the report runs it by default.
    include_anomaly : bool, default False
        True also relabels the anomaly itself, as its own nearest neighbour (the reference
        implementation of the label-flip check; see its docs). False relabels ``k`` other
        rows.
    n_jobs : int or None
        joblib workers; each (anomaly, space) search is one job (its retrains are
        sequential).
    random_state : int or Generator
        Seeds clones whose ``random_state`` is None. Nothing else is random.
    progress : bool
        tqdm bar over the (anomaly, space) searches.
    cache : RefitCache, optional
        Refits shared with other stages (:class:`~shap_debug.core.RefitCache`): the noise
        floor and the ladder's top rung (``k_max`` relabelled neighbours: the fixed-K
        label-flip check's refit when ``k_max`` is its ``K``) are taken from it when it
        holds them, and stored in it otherwise; every fit is counted under
        ``"dose-response"``. Searches that relabel the same rows share their top rung in
        any case.

    Returns
    -------
    DoseResponse

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(200, 1)); y = (X[:, 0] > 0).astype(int)
    >>> y[np.argmax(X[:, 0])] = 0        # one isolated wrong label far from the boundary
    >>> knn = KNeighborsClassifier(n_neighbors=5).fit(X, y)
    >>> nbm = NeighborhoodModel(20, space="features", model=knn).fit(X, y)
    >>> dr = dose_response(nbm, [int(np.argmax(X[:, 0]))], spaces=["features"],
    ...                    progress=False)
    >>> dr.to_frame()[["k_min", "flipped", "retrains"]].values.tolist()
    [[2, True, 2]]
    """
    nbm = _check_model(neighborhood_model)
    spaces = _check_spaces(spaces, nbm)
    k_max, classes_y = _check_settings(nbm, search, include_anomaly, progress, n_jobs, k_max)
    rows = _select_anomalies(anomalies, nbm)
    if len(rows) == 0:
        raise ValueError("the neighborhood model has no anomalies to search")
    correct = nbm.predicted_labels_[rows] == nbm.y_[rows]
    if correct.any():
        warn(f"{int(correct.sum())} of the rows are predicted correctly "
             f"({rows[correct][:5].tolist()}): their k_min is what it takes to make them wrong")
    rng = check_random_state(random_state)
    seed = seed_from(rng)
    template, _ = seeded_clone(nbm.model_, seed)

    t0 = time.perf_counter()
    X, y = nbm.X_, np.asarray(nbm.y_)
    before = nbm.predicted_labels_[rows]
    # ---- a refit on the unchanged labels: the noise floor of "the prediction changed"
    floor = refit_many([(template, X, y, rows, None, classes_y)], cache=cache,
                       stage="dose-response")[0]
    refit_changed = floor.labels != before
    if refit_changed.any():
        warn(f"a clone refitted on the unchanged labels already predicts "
             f"{int(refit_changed.sum())} of the anomalies differently "
             f"({rows[refit_changed][:5].tolist()}); they are not searched (k_min=0)")

    nbrs = neighbours_by_space(nbm, rows, spaces, n_neighbors=k_max,
                               exclude_self=not include_anomaly)
    tasks = [(int(r), s, before[i], nbrs[s][i])
             for i, r in enumerate(rows) if not refit_changed[i] for s in spaces]
    known = _top_rungs(template, X, y, classes_y, tasks, k_max, search, cache, n_jobs or 1,
                       progress)
    found = parallel_map(partial(_search, template, X, y, classes_y),
                         [(t[0], t[2], t[3], k_max, search, kn) for t, kn in zip(tasks, known)],
                         n_jobs=n_jobs or 1,
                         progress=progress, desc="dose-response", unit="search", star=True)
    if cache is not None:
        used = sum(bool(kn) and any(k == k_max for k, _, _ in f["trace"])
                   for kn, f in zip(known, found)) if search != "ladder" else 0
        cache.record("dose-response", sum(f["fits"] for f in found),
                     sum(f["fit_seconds"] for f in found), hits=used)
    show_warnings_once([*floor.warnings, *(w for f in found for w in f["warnings"])])
    by_key = {(t[0], t[1]): f for t, f in zip(tasks, found)}
    rec, tri = _tables(rows, spaces, before, by_key, nbm.y_)
    return DoseResponse(records=rec, trials=tri, spaces=spaces, anomalies=rows, k_max=k_max,
                        n_neighbors=int(nbm.n_neighbors), include_anomaly=bool(include_anomaly),
                        seed=seed, time_s=time.perf_counter() - t0, search=search)


def _top_rungs(template: Any, X: Any, y: np.ndarray, classes: np.ndarray, tasks: list,
               k_max: int, search: str, cache: RefitCache | None, n_jobs: int,
               progress: bool) -> list[dict]:
    """``{k_max: Refit}`` per search where it is known up front: the ladder starts there,
    so its top rungs are fitted here (once per distinct relabelling, or taken from
    ``cache``); the bisection tries ``k_max`` last, so only a cached one is used."""
    if search == "ladder":
        fits = refit_many([(template, X, y, [t[0]], t[3][:k_max], classes) for t in tasks],
                          cache=cache, stage="dose-response", n_jobs=n_jobs,
                          progress=progress, desc="dose-response top rungs")
        return [{k_max: f} for f in fits]
    out: list[dict] = []
    for t in tasks:
        got = None if cache is None else cache._fits.get(  # a hit is counted when used
            cache.key(template, X, y, t[3][:k_max], classes))
        out.append({} if got is None else {k_max: predict_rows(got[0], X, [t[0]], got[1])})
    return out


def _check_settings(nbm: NeighborhoodModel, search: str, include_anomaly: Any, progress: Any,
                    n_jobs: Any, k_max: Any) -> tuple[int, np.ndarray]:
    """Validate the search settings; ``k_max`` resolved and the two classes of ``y``."""
    check_option(search, "search", ["doubling+bisection", "ladder"])
    if not isinstance(include_anomaly, (bool, np.bool_)):
        raise TypeError(f"include_anomaly must be a bool; got {type(include_anomaly).__name__}")
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be a bool; got {type(progress).__name__}")
    if n_jobs is not None and check_int(n_jobs, "n_jobs") == 0:
        raise ValueError("n_jobs must be a positive int, -1 or None; got 0")
    n = len(nbm.y_)
    limit = n if include_anomaly else n - 1
    if k_max is None:
        k_max = min(int(nbm.n_neighbors), 2000, limit)
    k_max = check_int(k_max, "k_max", low=1, high=limit)
    classes_y = np.unique(nbm.y_)
    if len(classes_y) != 2 or len(nbm.classes_) != 2:
        raise ValueError(f"relabelling needs a binary target; y has {len(classes_y)} classes "
                         f"and the model {len(nbm.classes_)}")
    return k_max, classes_y


def _tables(rows: np.ndarray, spaces: Sequence[str], before: np.ndarray,
            by_key: dict[tuple[int, str], dict[str, Any]], labels: np.ndarray
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-(anomaly, space) records and the per-retrain trials of the searches."""
    records, trials = [], []
    for i, r in enumerate(rows):
        for s in spaces:
            res = by_key.get((int(r), s))
            if res is None:  # refit alone changed it
                records.append({"anomaly": int(r), "space": s, "k_min": 0, "flipped": True,
                                "retrains": 0, "k_below": 0, "label": labels[r],
                                "prediction_before": before[i], "refit_changed": True})
                continue
            records.append({"anomaly": int(r), "space": s, "k_min": res["k_min"],
                            "flipped": res["k_min"] is not None,
                            "retrains": len(res["trace"]), "k_below": res["k_below"],
                            "label": labels[r], "prediction_before": before[i],
                            "refit_changed": False})
            trials += [{"anomaly": int(r), "space": s, "k": k, "flipped": f, "proba_before": p}
                       for k, f, p in res["trace"]]
    rec = pd.DataFrame.from_records(records, columns=[
        "anomaly", "space", "k_min", "flipped", "retrains", "k_below", "label",
        "prediction_before", "refit_changed"])
    rec["k_min"] = rec["k_min"].astype("Int64")
    rec["flipped"] = rec["flipped"].astype(bool)
    rec["refit_changed"] = rec["refit_changed"].astype(bool)
    tri = pd.DataFrame.from_records(trials, columns=["anomaly", "space", "k", "flipped",
                                                      "proba_before"])
    return rec, tri
