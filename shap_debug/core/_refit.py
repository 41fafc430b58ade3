"""Refit a clone of the user's model, optionally with some labels swapped, and predict.

Label-flip checks, dose-response searches and fix verification all refit the user's model
many times. The warnings a refit raises (a ``ConvergenceWarning``, say) are recorded with
the refit and shown once per distinct message and call by :func:`show_warnings_once`, not
once per refit (and not lost in a joblib worker).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._models import classes_of, clone_model, predict_proba_fn, take_rows

__all__ = ["Refit", "RefitCache", "predict_rows", "refit_many", "refit_predict", "relabelled",
           "show_warnings_once", "warm_startable"]

#: ``(category, message)`` pairs, as :func:`show_warnings_once` keeps them
Caught = tuple[tuple[type[Warning], str], ...]


@dataclass(frozen=True)
class Refit:
    """A refitted clone and what it predicts for the rows asked.

    Attributes
    ----------
    model : the fitted clone.
    labels : ndarray, the predicted class of each row.
    proba : ndarray (n_rows, n_classes), the class probabilities.
    classes : ndarray, the class order of ``proba``.
    warnings : tuple of ``(category, message)`` the fit raised.
    seconds : float, the time to fit and predict.
    """

    model: Any
    labels: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    warnings: Caught
    seconds: float


def relabelled(y: np.ndarray, rows: Any, classes: np.ndarray) -> np.ndarray:
    """A copy of binary ``y`` with the labels of ``rows`` swapped to the other class.

    Examples
    --------
    >>> relabelled(np.array([0, 1, 1, 0]), [0, 1], np.array([0, 1])).tolist()
    [1, 0, 1, 0]
    """
    y2 = np.array(y, copy=True)
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows):
        y2[rows] = np.where(y[rows] == classes[0], classes[1], classes[0])
    return y2


def warm_startable(model: Any) -> bool:
    """Whether refitting a copy of the fitted ``model`` with ``warm_start=True`` reaches what
    a refit from scratch reaches: models solved to a tolerance on a convex objective
    (:class:`~sklearn.linear_model.LogisticRegression`), which then only start nearer.

    Not an MLP: started from the trained weights it stays near them, and on German credit
    its label-flip verdicts agreed with full refits in 17 of 30 trials (flip rate 0.23
    against 0.67; ``benchmarks/refits.py``). Not ensembles or boosting either: there
    ``warm_start`` adds estimators to the fitted ones, so with the same settings nothing
    would be refitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.neural_network import MLPClassifier
    >>> warm_startable(LogisticRegression()), warm_startable(MLPClassifier())
    (True, False)
    """
    from sklearn.linear_model import LogisticRegression

    return isinstance(model, LogisticRegression) and "warm_start" in model.get_params()


def refit_predict(template: Any, X: Any, y: np.ndarray, rows: Any = None, *,
                  relabel: Any = None, classes: np.ndarray | None = None,
                  warm: bool = False) -> Refit:
    """Fit a clone of ``template`` on ``(X, y)``, with ``relabel`` swapped, and predict ``rows``.

    Parameters
    ----------
    template : an unfitted (or fitted) estimator; only a clone is fitted.
    X, y : the training rows and labels (``y`` is not modified).
    rows : indices of ``X`` to predict, or None for none.
    relabel : indices whose binary labels are swapped before the fit, or None.
    classes : the two classes of ``y`` (default: ``np.unique(y)``).
    warm : bool, default False
        ``template`` is a *fitted* model (:func:`warm_startable`): a copy of it is refitted
        with ``warm_start=True``, starting from its solution (fewer iterations; the same
        optimum for convex models).

    Returns
    -------
    Refit

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> refit_predict(LogisticRegression(), X, y, [0, 3], relabel=[0, 1, 2, 3]).labels.tolist()
    [1, 0]
    """
    t0 = time.perf_counter()
    y = np.asarray(y)
    if relabel is not None:
        y = relabelled(y, relabel, np.unique(y) if classes is None else classes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if warm:
            import copy

            est = copy.deepcopy(template)
            est.set_params(warm_start=True)
        else:
            est = clone_model(template)  # CatBoost: sklearn's clone refuses it
        fitted = est.fit(X, y)
    out = predict_rows(fitted, X, rows, tuple((w.category, str(w.message)) for w in caught))
    return Refit(out.model, out.labels, out.proba, out.classes, out.warnings,
                 time.perf_counter() - t0)


def show_warnings_once(caught: Iterable[tuple[type[Warning], str]]) -> None:
    """Show each distinct ``(category, message)`` of a batch of refits once.

    Call it once per public call with the warnings of all its refits (``Refit.warnings``).
    """
    for category, message in dict.fromkeys(caught):
        warnings.warn(message, category, stacklevel=3)


# --------------------------------------------------------------------------- shared refits
def _digest_of(obj: Any) -> str:
    """A content digest of training rows or labels (arrays, frames, sparse matrices)."""
    import hashlib

    import pandas as pd

    h = hashlib.blake2b(digest_size=16)
    if isinstance(obj, pd.DataFrame):
        h.update(repr([(str(c), str(t)) for c, t in obj.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(obj, index=False).to_numpy().tobytes())
        return h.hexdigest()
    if hasattr(obj, "tocsr") and hasattr(obj, "nnz"):  # scipy sparse
        m = obj.tocsr()
        h.update(repr((m.shape, str(m.dtype))).encode())
        for part in (m.data, m.indices, m.indptr):
            h.update(np.ascontiguousarray(part).tobytes())
        return h.hexdigest()
    a = np.asarray(obj)
    h.update(repr((a.shape, str(a.dtype))).encode())
    if a.dtype.kind == "O":  # objects: hash their values, not their addresses
        frame = pd.DataFrame(a.reshape(len(a), -1) if a.ndim else a.reshape(1, 1))
        h.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    else:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _template_key(template: Any) -> str:
    """The estimator's type and every (nested) hyper-parameter, seeds included."""
    if not hasattr(template, "get_params"):
        return f"{type(template).__qualname__}@{id(template)}"  # cannot tell: never shared
    parts = [type(template).__module__ + "." + type(template).__qualname__]
    for k, v in sorted(template.get_params(deep=True).items()):
        if hasattr(v, "get_params"):
            v = type(v).__qualname__
        elif isinstance(v, np.ndarray):
            v = _digest_of(v)
        parts.append(f"{k}={v!r}")
    return "|".join(parts)


class RefitCache:
    """Fitted clones shared between the stages that refit the user's model, with counts.

    A refit is keyed by the estimator's hyper-parameters (its seed included), the training
    rows and the labels it was fitted on (so "these rows relabelled" is part of the key).
    The label-flip check, the dose-response ladder's top rung, the dose-response noise floor
    and the fix verification ask it before fitting: given the same cache object, a refit
    one of them already made is reused, not repeated. Cross-validated probabilities
    (:meth:`cross_val_proba`) are kept the same way, keyed by the model, rows, labels,
    folds and seed.

    Counts are per stage (the name each caller passes): :meth:`counts` gives the number of
    model fits each stage made, :meth:`summary` adds the hits (fits saved) and seconds.

    Parameters
    ----------
    max_models : int, default 256
        Fitted clones kept (least recently used dropped first); counts are kept for all.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> cache = RefitCache()
    >>> a = cache.refit_predict(LogisticRegression(), X, y, [0], relabel=[0], stage="a")
    >>> b = cache.refit_predict(LogisticRegression(), X, y, [3], relabel=[0], stage="b")
    >>> cache.counts(), cache.hits()
    ({'a': 1, 'b': 0}, {'a': 0, 'b': 1})
    """

    def __init__(self, max_models: int = 256) -> None:
        from collections import OrderedDict

        if not isinstance(max_models, (int, np.integer)) or max_models < 0:
            raise ValueError(f"max_models must be an int >= 0; got {max_models!r}")
        self.max_models = int(max_models)
        self._fits: OrderedDict[tuple, tuple[Any, Caught, float]] = OrderedDict()
        self._proba: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._digests: dict[int, tuple[Any, str]] = {}  # id -> (weakref, digest)
        self._stats: dict[str, list[float]] = {}  # stage -> [fits, hits, seconds]

    # ---- keys
    def digest(self, obj: Any) -> str:
        """Content digest of ``obj``, remembered while the object lives."""
        import weakref

        got = self._digests.get(id(obj))
        if got is not None and got[0]() is obj:
            return got[1]
        d = _digest_of(obj)
        try:
            ref = weakref.ref(obj)
        except TypeError:  # not weakly referable: not remembered
            return d
        if len(self._digests) > 64:
            self._digests.clear()
        self._digests[id(obj)] = (ref, d)
        return d

    def key(self, template: Any, X: Any, y: np.ndarray, relabel: Any = None,
            classes: np.ndarray | None = None, warm: bool = False) -> tuple:
        """The key of fitting ``template`` on ``(X, y)`` with ``relabel`` swapped (``warm``:
        a warm-started copy of the fitted ``template``, never the same as a full refit)."""
        y = np.asarray(y)
        if relabel is not None:
            y = relabelled(y, relabel, np.unique(y) if classes is None else classes)
        key = (_template_key(template), self.digest(X), _digest_of(y))
        return ("warm", id(template), *key) if warm else key  # from this fitted object

    # ---- counts
    def _stat(self, stage: str) -> list[float]:
        return self._stats.setdefault(str(stage), [0, 0, 0.0])

    def record(self, stage: str, fits: int = 1, seconds: float = 0.0, hits: int = 0) -> None:
        """Count fits made outside the cache (e.g. in a worker) for ``stage``."""
        s = self._stat(stage)
        s[0] += int(fits)
        s[1] += int(hits)
        s[2] += float(seconds)

    def counts(self) -> dict[str, int]:
        """Model fits made per stage."""
        return {k: int(v[0]) for k, v in self._stats.items()}

    def hits(self) -> dict[str, int]:
        """Fits saved per stage (asked for a refit the cache already held)."""
        return {k: int(v[1]) for k, v in self._stats.items()}

    def summary(self) -> dict[str, dict[str, float]]:
        """Per stage: ``fits``, ``hits`` (fits saved) and ``seconds`` spent fitting."""
        return {k: {"fits": int(v[0]), "hits": int(v[1]), "seconds": float(v[2])}
                for k, v in self._stats.items()}

    @property
    def n_fits(self) -> int:
        """Model fits made, all stages together."""
        return sum(self.counts().values())

    # ---- fitted clones
    def get(self, key: tuple, stage: str) -> tuple[Any, Caught] | None:
        """The fitted clone and warnings stored under ``key`` (counted as a hit), or None."""
        got = self._fits.get(key)
        if got is None:
            return None
        self._fits.move_to_end(key)
        self._stat(stage)[1] += 1
        return got[0], got[1]

    def put(self, key: tuple, model: Any, caught: Caught, seconds: float, stage: str) -> None:
        """Store a clone fitted outside the cache and count its fit for ``stage``."""
        self.record(stage, 1, seconds)
        if self.max_models == 0:
            return
        self._fits[key] = (model, tuple(caught), float(seconds))
        self._fits.move_to_end(key)
        while len(self._fits) > self.max_models:
            self._fits.popitem(last=False)

    def refit_predict(self, template: Any, X: Any, y: np.ndarray, rows: Any = None, *,
                      relabel: Any = None, classes: np.ndarray | None = None,
                      stage: str = "refit") -> Refit:
        """:func:`refit_predict`, fitting only when this refit is not held yet."""
        key = self.key(template, X, y, relabel, classes)
        got = self.get(key, stage)
        if got is None:
            fit = refit_predict(template, X, y, rows, relabel=relabel, classes=classes)
            self.put(key, fit.model, fit.warnings, fit.seconds, stage)
            return fit
        return predict_rows(got[0], X, rows, got[1])

    # ---- cross-validated probabilities
    def cross_val_proba(self, key: tuple, compute: Any, stage: str = "suspicious",
                        n_fits: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``compute()`` (out-of-fold ``(proba, classes)``) once per ``key``; ``n_fits`` is
        what computing costs, counted for ``stage`` on a miss."""
        got = self._proba.get(key)
        if got is not None:
            self._stat(stage)[1] += int(n_fits)
            return got[0].copy(), got[1].copy()
        t0 = time.perf_counter()
        proba, classes = compute()
        self.record(stage, n_fits, time.perf_counter() - t0)
        self._proba[key] = (np.array(proba, copy=True), np.array(classes, copy=True))
        return proba, classes


def predict_rows(fitted: Any, X: Any, rows: Any, caught: Caught = ()) -> Refit:
    """A :class:`Refit` of an already fitted clone: its predictions for ``rows``."""
    t0 = time.perf_counter()
    rows = np.empty(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows):
        proba = np.asarray(predict_proba_fn(fitted)(take_rows(X, rows)), dtype=np.float64)
        cls = classes_of(fitted, proba.shape[1])
        labels = cls[proba.argmax(1)]
    else:
        cls = classes_of(fitted)
        proba, labels = np.empty((0, len(cls))), cls[:0]
    return Refit(fitted, labels, proba, cls, tuple(caught), time.perf_counter() - t0)


def refit_many(jobs: list[tuple], *, cache: RefitCache | None = None, stage: str = "refit",
               n_jobs: int = 1, progress: bool = False, desc: str = "refits",
               errors: str = "raise") -> list[Refit | str]:
    """:func:`refit_predict` of every job ``(template, X, y, rows, relabel, classes[,
    warm])``.

    Jobs with the same key (hyper-parameters with the seed, rows, labels after relabelling)
    are fitted once; with a ``cache``, a refit it holds is not fitted again and new fits
    are stored in it and counted for ``stage``. The fits left run over ``n_jobs`` joblib
    workers. ``errors="return"`` puts ``"refit failed: <type>: <message>"`` in place of
    a fit that raised (nothing is stored for it).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> lr, cache = LogisticRegression(), RefitCache()
    >>> out = refit_many([(lr, X, y, [0], [0], None), (lr, X, y, [1], [0], None)], cache=cache)
    >>> cache.summary()["refit"]["fits"], cache.summary()["refit"]["hits"]
    (1, 1)
    """
    from ._parallel import parallel_map, progress_iter

    local = RefitCache(max_models=0) if cache is None else cache
    keys = [local.key(*j[:3], j[4], j[5], warm=len(j) > 6 and bool(j[6])) for j in jobs]
    todo: dict[tuple, int] = {}
    for i, k in enumerate(keys):
        if k not in todo and local._fits.get(k) is None:
            todo[k] = i
    items = [(jobs[i], errors) for i in todo.values()]
    if n_jobs == 1 or len(items) <= 1:  # no workers to feed: fit here, in order
        fits = [_fit_job(*item) for item in progress_iter(
            items, progress=progress and len(items) > 1, desc=desc, unit="fit")]
    else:
        fits = parallel_map(_fit_job, items, n_jobs=n_jobs, progress=progress, desc=desc,
                            unit="fit", star=True)
    new = dict(zip(todo, fits))
    out: list[Refit | str] = []
    for i, (k, job) in enumerate(zip(keys, jobs)):
        if isinstance(new.get(k), str):
            out.append(new[k])
            continue
        if k in new and todo[k] == i:
            fit = new[k]
            local.put(k, fit.model, fit.warnings, fit.seconds, stage)
            out.append(fit)
            continue
        if k in new:  # a duplicate of a fit made in this call
            local._stat(stage)[1] += 1
            got = (new[k].model, new[k].warnings)
        else:
            got = local.get(k, stage)
            if got is None:  # dropped from a small cache meanwhile: fit it here
                fit = _fit_job(job, "raise")
                local.put(k, fit.model, fit.warnings, fit.seconds, stage)
                out.append(fit)
                continue
        out.append(predict_rows(got[0], job[1], job[3], got[1]))
    return out


def _fit_job(job: tuple, errors: str) -> Refit | str:
    template, X, y, rows, relabel, classes = job[:6]
    try:
        return refit_predict(template, X, y, rows, relabel=relabel, classes=classes,
                             warm=len(job) > 6 and bool(job[6]))
    except Exception as exc:
        if errors == "raise":
            raise
        return f"refit failed: {type(exc).__name__}: {exc}"
