"""Verify candidate fixes on held-out rows: retrain a clone per action and seed, measure.

Protocol: the diagnosis (suspicious rows, error cohorts, ambiguity, label shifts) sees only
the training rows; every action changes those rows, a clone of the model is refitted on them
with each of ``n_repeats`` seeds, and its held-out accuracy is compared with the baseline
clone refitted on the unchanged rows *with the same seed* (paired). The interval of the
difference is a two-level bootstrap: seeds and held-out rows are resampled together, so it
holds both the refit's randomness and the test sample's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    RefitCache,
    check_classifier,
    check_float,
    check_frame_or_array,
    check_int,
    check_missing_supported,
    check_random_state,
    check_test_split,
    check_X_y,
    check_y,
    clone_model,
    parallel_map,
    predict_labels,
    refit_many,
    refit_predict,
    seed_from,
    show_warnings_once,
)
from ._actions import FixAction, candidate_actions, resolve_actions
from ._evidence import gather_evidence, split_rows
from ._result import FixReport

__all__ = ["verify_fixes", "paired_interval", "check_refittable"]


def check_refittable(model: Any, name: str = "model") -> None:
    """Raise a TypeError naming the model's type unless a clone of it can be refitted."""
    kind = type(model).__name__
    if not callable(getattr(model, "fit", None)) or not callable(
            getattr(model, "get_params", None)):
        raise TypeError(
            f"{name} must be a scikit-learn style estimator that can be cloned and refitted "
            f"(get_params and fit): fixes are verified by retraining a clone; {kind} cannot "
            "be refitted")
    try:
        clone_model(model)  # CatBoost too, which sklearn.base.clone refuses
    except Exception as exc:
        raise TypeError(f"{name} must be cloneable with sklearn.base.clone to verify fixes "
                        f"by retraining; {kind} is not: {exc}") from exc


def _seed_params(est: Any, seed: int) -> Any:
    params = est.get_params()
    keys = [k for k in params if k == "random_state" or k.endswith("__random_state")]
    if keys:
        est.set_params(**{k: seed for k in keys})
    return est


def _has_seed(model: Any) -> bool:
    return any(k == "random_state" or k.endswith("__random_state")
               for k in model.get_params())


def _fit(model: Any, X: Any, y: np.ndarray, seed: int, cache: RefitCache | None = None
         ) -> tuple[Any, tuple]:
    """A clone fitted with every ``random_state`` set to ``seed`` (taken from ``cache`` when
    it holds it), and its fit's warnings."""
    template = _seed_params(clone_model(model), seed)
    fit = (refit_predict(template, X, y) if cache is None
           else cache.refit_predict(template, X, y, stage="fixes"))
    return fit.model, fit.warnings


def _prepared(action: FixAction | None, X: Any, y: np.ndarray, X_test: Any, model: Any
              ) -> tuple[Any, np.ndarray, Any, Any] | str:
    """The training rows, labels and held-out rows after ``action``, and the model to refit
    (an action that changes the model's parameters gives it: ``refit_model``, where
    actions have it); an error message when the action cannot be applied."""
    if action is None:
        return X, y, X_test, model
    try:
        refit_model = getattr(action, "refit_model", None)
        if callable(refit_model):
            model = refit_model(model)  # new parameters, same data
        Xa, ya = action.apply(X, y)
        return Xa, ya, action.transform(X_test), model
    except Exception as exc:  # a changed training set a model cannot take: say so
        return f"refit failed: {type(exc).__name__}: {exc}"


def _retrain_all(model: Any, work: list[tuple], data: tuple, cache: RefitCache | None,
                 n_jobs: int, progress: bool) -> list[tuple[np.ndarray | str, tuple]]:
    """Held-out predictions (or an error message) and warnings of a clone refitted after
    each ``(action or None, seed)``; refits ``cache`` holds are not repeated. With one job
    the actions are applied one at a time (one changed copy of the rows in memory)."""
    def predict(fit: Any, Xte: Any) -> tuple[np.ndarray | str, tuple]:
        if isinstance(fit, str):
            return fit, ()
        try:
            return predict_labels(fit.model, Xte), fit.warnings
        except Exception as exc:
            return f"refit failed: {type(exc).__name__}: {exc}", ()

    def job(prep: Any, seed: int) -> tuple:
        return (_seed_params(clone_model(prep[3]), seed), prep[0], prep[1], None, None, None)

    if n_jobs == 1:
        out = []
        for action, seed in parallel_map(lambda w: w, work, progress=progress,
                                         desc="verifying fixes", unit="fit"):
            prep = _prepared(action, *data, model)
            if isinstance(prep, str):
                out.append((prep, ()))
                continue
            fit = refit_many([job(prep, seed)], cache=cache, stage="fixes", errors="return")[0]
            out.append(predict(fit, prep[2]))
        return out
    preps = [_prepared(action, *data, model) for action, _ in work]
    ok = [i for i, p in enumerate(preps) if not isinstance(p, str)]
    fits = refit_many([job(preps[i], work[i][1]) for i in ok], cache=cache, stage="fixes",
                      n_jobs=n_jobs, progress=progress, desc="verifying fixes",
                      errors="return")
    out = [(p, ()) if isinstance(p, str) else None for p in preps]
    for i, fit in zip(ok, fits):
        out[i] = predict(fit, preps[i][2])
    return out


def _replicates(diff: np.ndarray, n_bootstrap: int, random_state: Any) -> np.ndarray:
    """Bootstrap replicates of the mean of ``diff`` (seeds x rows), seeds and rows drawn
    with replacement."""
    S, n = diff.shape
    rng = check_random_state(random_state)
    reps = np.empty(n_bootstrap)
    chunk = max(1, min(n_bootstrap, 2_000_000 // max(n * S, 1)))
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        rows = rng.integers(0, n, size=(b, n))
        seeds = rng.integers(0, S, size=(b, S))
        per_seed = diff[:, rows].mean(axis=2)  # (S, b): each seed's mean over drawn rows
        reps[start:start + b] = per_seed[seeds.T, np.arange(b)].mean(axis=0)
    return reps


def paired_interval(diff: np.ndarray, *, n_bootstrap: int = 1000, confidence: float = 0.95,
                    random_state: int | np.random.Generator | None = None) -> tuple[float, float, float]:
    """Mean of ``diff`` (seeds x rows) and a two-level bootstrap interval of it.

    Each replicate draws the seeds and the rows with replacement (the same draws for every
    call with the same ``random_state``, so actions are compared on common resamples).

    Examples
    --------
    >>> d = np.array([[1.0, 0.0, 0.0, 1.0]])
    >>> m, lo, hi = paired_interval(d, n_bootstrap=200)
    >>> m, lo <= m <= hi
    (0.5, True)
    """
    m, lo, hi, _ = _summarise(np.asarray(diff, dtype=np.float64), n_bootstrap, confidence,
                              random_state)
    return m, lo, hi


def _summarise(diff: np.ndarray, n_bootstrap: int, confidence: float, random_state: Any
               ) -> tuple[float, float, float, float]:
    """Mean, percentile interval and one-sided p-value of "no gain" (normal approximation
    with the bootstrap standard error, so it is not floored at ``1 / n_bootstrap``)."""
    from scipy.stats import norm

    if diff.shape[1] == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    reps = _replicates(diff, n_bootstrap, random_state)
    a = (1 - confidence) / 2
    lo, hi = np.quantile(reps, [a, 1 - a])
    mean, se = float(diff.mean()), float(reps.std(ddof=1))
    p = float(norm.sf(mean / se)) if se > 0 else (0.0 if mean > 0 else 1.0)
    return mean, float(lo), float(hi), p


def _check_features(features: Any, name: str, columns: Sequence[str]) -> list[str]:
    if features is None:
        return []
    if isinstance(features, str):
        features = [features]
    out = [str(f) for f in features]
    unknown = [f for f in out if f not in columns]
    if unknown:
        raise ValueError(f"{name}: unknown features {unknown}; known: {list(columns)}")
    return out


def verify_fixes(
    model: Any,
    X: Any,
    y: Any,
    *,
    X_test: Any = None,
    y_test: Any = None,
    display_data: pd.DataFrame | None = None,
    display_test: pd.DataFrame | None = None,
    encoder: Any = None,
    actions: Any = "auto",
    cohorts: Any = None,
    suspicious: Any = None,
    flagged_features: Sequence[str] | None = None,
    protected: Sequence[str] | None = None,
    n_repeats: int = 5,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    test_size: float = 0.25,
    max_cohorts: int = 3,
    screen_regions: int = 6,
    flip_rows: int = 100,
    cv: int = 5,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    sequential: bool = False,
    min_effect: float = 0.0,
    cache: RefitCache | None = None,
) -> FixReport:
    """Try every fix the debugger can make on its own and measure it on held-out rows.

    Actions (``actions="auto"``; see :data:`~shap_debug.fixes.FAMILIES`): relabel or drop
    the suspicious rows (confident learning, cross-validated) globally and inside each
    failing cohort; relabel or drop the labels a leave-region-out refit contradicts in each
    label-shift region; drop conflicting duplicates; add flip points (Yousefzadeh & O'Leary's
    augmentation), unconstrained and along each flagged feature; neutralise each flagged or
    protected feature. Each one changes the training rows, a clone of ``model`` is refitted
    with ``n_repeats`` seeds, and held-out accuracy (overall and inside every failing cohort)
    is compared with the clone refitted on the unchanged rows with the same seeds.

    Parameters
    ----------
    model : classifier
        A scikit-learn style estimator (``get_params``/``fit``/``predict_proba``); only
        clones are fitted. Others raise a ``TypeError`` naming their type.
    X, y : training rows (in the form the model takes) and labels
    X_test, y_test : optional
        The user's held-out split: the diagnosis uses all of ``X`` and the fixes are
        measured on these rows. Without them a stratified ``test_size`` share of ``X`` is
        held out (``FixReport.holdout`` says which).
    display_data, display_test : DataFrame, optional
        Readable rows for cohort rules and duplicates (default: ``encoder`` decoding, or
        ``X``).
    encoder : FrameEncoder, optional
        When ``X`` is an encoded matrix: its encoder (readable rules, one-hot groups for
        flip points and feature removal).
    actions : "auto" or list
        Family names (``"auto"`` for every family), :class:`FixAction` objects (rows relative to the training rows; only
        with a user test split) or callables ``f(evidence) -> FixAction`` (e.g. a peer
        method; ``evidence`` is the :class:`~shap_debug.fixes._evidence.FixEvidence`).
    cohorts : ErrorCohorts, optional
        Error cohorts of the training rows (``X``; needs ``X_test``). Default: from the
        cross-validated errors of the training rows.
    suspicious : SuspiciousRows, optional
        Suspicious rows of ``X`` (needs ``X_test``). Default: computed with ``cv`` folds.
    flagged_features : sequence of str, optional
        Features the ALE-bias or protected-attribute checks flag (readable names).
    protected : sequence of str, optional
        Protected attributes; added to ``flagged_features``.
    n_repeats : int, default 5
        Seeds per action (the model's ``random_state``). A model whose refits do not depend
        on the seed is fitted once per action.
    n_bootstrap : int, default 1000
    confidence : float, default 0.95
        Level of the delta's interval; an action *helps* when the interval is above 0.
    test_size : float, default 0.25
    max_cohorts : int, default 3
        Failing error cohorts (significant slices) and label-shift regions kept, each.
    screen_regions : int, default 6
        Candidate two-condition regions screened for label shifts (0: only the cohorts).
    flip_rows : int, default 100
        Misclassified training rows the flip-point augmentation starts from (sampled).
    cv : int, default 5
    random_state : int, Generator or None, default None
    n_jobs : int, default 1
        Refits in parallel (joblib).
    progress : bool, default True
    sequential : bool, default False
        Spend seeds where they decide something: the seeds are fitted one round at a
        time, and after each round from the second on (before the last) an action stops
        being refitted once its overall interval, at the stricter level
        ``1 - (1 - confidence) / (n_repeats - 2)`` (Bonferroni over the looks), excludes
        zero (its verdict is decided), lies within ``±min_effect`` (no effect worth more
        fits), or lies below the best action's lower bound (it cannot become the best).
        Its effects are then computed on the seeds it had (paired with the baseline's
        same seeds); ``FixReport.effects.attrs["seeds_used"]`` says how many each action
        got and ``attrs["fits_saved"]`` how many refits were not made. Deterministic given
        ``random_state``. Needs ``n_repeats >= 3`` to save anything (and a model whose
        refits depend on the seed).
    min_effect : float, default 0.0
        The margin of "clearly no effect" for ``sequential`` (0: never stop for it).
    cache : RefitCache, optional
        Refits shared with other stages (:class:`~shap_debug.core.RefitCache`): a refit
        it holds (same hyper-parameters and seed, rows and labels) is not repeated; fits
        are counted under ``"fixes"``. With ``suspicious`` left None, the cross-validated
        probabilities are shared through it as well.

    Returns
    -------
    FixReport
        Before/after per action, ranked by the overall change of accuracy.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(400, random_state=0)
    >>> y[:30] = 1 - y[:30]
    >>> rep = verify_fixes(LogisticRegression(), X, y, actions=["drop suspicious"],
    ...                    screen_regions=0, progress=False)
    >>> rep.holdout.startswith("held out 25 %")
    True
    """
    X, y, X_test, y_test = _check_data(model, X, y, X_test, y_test, display_data,
                                       display_test, encoder)
    families, custom = resolve_actions(actions)
    n_repeats = check_int(n_repeats, "n_repeats", low=1)
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", low=100)
    confidence = check_float(confidence, "confidence", low=0.5, high=0.999)
    test_size = check_float(test_size, "test_size", low=0.05, high=0.5)
    max_cohorts = check_int(max_cohorts, "max_cohorts", low=0)
    screen_regions = check_int(screen_regions, "screen_regions", low=0)
    flip_rows = check_int(flip_rows, "flip_rows", low=1)
    cv = check_int(cv, "cv", low=2)
    n_jobs = check_int(n_jobs, "n_jobs", low=-1)
    min_effect = _check_sequential(sequential, min_effect, cache)
    rng = check_random_state(random_state)
    _check_given(y, X_test, custom, suspicious, cohorts)

    parts = split_rows(X, y, X_test, y_test, display_data, display_test, encoder, test_size,
                       seed_from(rng))
    parts["encoder"] = encoder
    names = [str(c) for c in parts["display"].columns]
    flagged = _check_features(flagged_features, "flagged_features", names)
    flagged += [p for p in _check_features(protected, "protected", names) if p not in flagged]
    if parts["y_test"].size == 0:
        raise ValueError("the held-out split is empty")
    check_y(parts["y_test"], "y_test")
    check_frame_or_array(parts["X_test"], "X_test", allow_nan=True)

    seeds = [seed_from(rng) for _ in range(n_repeats)]
    Xtr, ytr, Xte, yte = parts["X"], parts["y"], parts["X_test"], parts["y_test"]
    baseline, base_pred, seeds, deterministic, caught = _baseline(model, Xtr, ytr, Xte, seeds,
                                                                  cache)

    ev_seed = seed_from(rng)
    if suspicious is None and cache is not None:  # what gather_evidence computes, shared
        from ..audit import suspicious_rows

        suspicious = suspicious_rows(model, Xtr, ytr, cv=cv, random_state=ev_seed,
                                     n_jobs=n_jobs, cache=cache)
    ev = gather_evidence(model, baseline, parts, cohorts=cohorts, suspicious=suspicious,
                         max_cohorts=max_cohorts, screen_regions=screen_regions, cv=cv,
                         random_state=ev_seed, n_jobs=n_jobs, progress=progress)
    acts, skipped = candidate_actions(ev, families, custom, flagged_features=flagged,
                                      flip_rows=flip_rows, random_state=seed_from(rng))

    base_rows, preds, seeds_used = _run_rounds(
        model, acts, (Xtr, ytr, Xte), yte, seeds, base_pred, caught, cache,
        sequential, min_effect, confidence, n_bootstrap,
        seeds[0] + 1, n_jobs, progress)  # looks' bootstrap: from the seeds, not rng
    base = np.stack(base_rows) == yte[None, :]
    kept, results = [], []
    for a, got in zip(acts, preds):
        bad = [g for g in got if isinstance(g, str)]
        if bad:
            skipped.append((a.name, bad[0]))
            continue
        kept.append(a)
        results.append(np.stack(got) == yte[None, :])
    scopes = [("overall", np.arange(len(yte)))] + [
        (c.label, c.test_rows) for c in ev.failing]
    effects = _effects(kept, results, base, scopes, n_bootstrap, confidence, seed_from(rng))
    effects.attrs["seeds_used"] = {a.name: int(r.shape[0]) for a, r in zip(kept, results)}
    effects.attrs["fits_saved"] = int(sum(len(seeds) - n for n in seeds_used))
    base_acc = {scope: (float(base[:, rows].mean()) if rows is not None and len(rows)
                        else float("nan")) for scope, rows in scopes}
    return FixReport(
        actions=tuple(kept), effects=effects, cohorts=ev.failing, skipped=tuple(skipped),
        holdout=ev.holdout, n_train=len(ytr), n_test=len(yte), n_fits=len(seeds),
        deterministic=deterministic, confidence=confidence, n_bootstrap=n_bootstrap,
        baseline_accuracy=base_acc, evidence=ev)


def _check_sequential(sequential: Any, min_effect: Any, cache: Any) -> float:
    """The sequential-testing settings checked; returns ``min_effect`` as a float."""
    if not isinstance(sequential, (bool, np.bool_)):
        raise TypeError(f"sequential must be a bool; got {type(sequential).__name__}")
    if cache is not None and not isinstance(cache, RefitCache):
        raise TypeError(f"cache must be a RefitCache; got {type(cache).__name__}")
    return check_float(min_effect, "min_effect", low=0.0, high=1.0)


def _check_data(model: Any, X: Any, y: Any, X_test: Any, y_test: Any, display_data: Any,
                display_test: Any, encoder: Any) -> tuple[Any, np.ndarray, Any, Any]:
    """The model, the training and test rows and the readable frames, checked."""
    check_refittable(model)
    check_classifier(model)
    X, y = check_X_y(X, y, allow_nan=True)
    check_missing_supported(model, X)  # NaN only where the model takes it
    X_test, y_test = check_test_split(X, X_test, y_test)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"y must contain at least 2 classes; got only {classes.tolist()}")
    for nm, D, rows in (("display_data", display_data, len(y)),
                        ("display_test", display_test, None if X_test is None else len(X_test))):
        if D is None:
            continue
        if not isinstance(D, pd.DataFrame):
            raise TypeError(f"{nm} must be a DataFrame; got {type(D).__name__}")
        if rows is None:
            raise ValueError(f"{nm} needs X_test")
        if len(D) != rows:
            raise ValueError(f"{nm} has {len(D)} rows but needs {rows}")
    if display_data is not None and X_test is not None and display_test is None and (
            encoder is None):
        raise ValueError("display_test is needed with display_data and X_test")
    if encoder is not None and not hasattr(encoder, "inverse_transform"):
        raise TypeError(f"encoder must be a fitted FrameEncoder; got {type(encoder).__name__}")
    if X_test is None and counts.min() < 2:
        raise ValueError(f"holding out a stratified split needs at least 2 rows of every "
                         f"class; class {classes[counts.argmin()]!r} has {counts.min()}")
    return X, y, X_test, y_test


def _check_given(y: np.ndarray, X_test: Any, custom: Any, suspicious: Any, cohorts: Any
                 ) -> None:
    """Custom actions and precomputed diagnoses fit the split (they need a user test split)."""
    if X_test is None and custom and any(isinstance(a, FixAction) for a in custom):
        raise ValueError("actions: FixAction objects refer to training rows, so they need "
                         "a user test split (X_test, y_test); pass a callable instead")
    for nm, given in (("suspicious", suspicious), ("cohorts", cohorts)):
        if given is None:
            continue
        if X_test is None:
            raise ValueError(f"{nm} computed on X needs X_test: without a test split part "
                             "of X is held out and must play no part in the diagnosis")
        n_of = len(given.scores) if nm == "suspicious" else getattr(given, "n_rows", -1)
        if n_of != len(y):
            raise ValueError(f"{nm} must describe the {len(y)} rows of X; got {n_of} rows")


def _run_rounds(model: Any, acts: list[FixAction], data: tuple,
                yte: np.ndarray, seeds: list[int], base_pred: list[np.ndarray], caught: list,
                cache: RefitCache | None, sequential: bool, min_effect: float,
                confidence: float, n_bootstrap: int, boot_seed: int, n_jobs: int,
                progress: bool) -> tuple[list[np.ndarray], list[list], list[int]]:
    """The baseline's held-out predictions per seed, each action's per seed it got, and
    how many seeds each action got. One batch of refits, or (``sequential``) one round
    per seed with the stopping rules of :func:`verify_fixes`."""
    S = len(seeds)
    base_rows = list(base_pred)
    preds: list[list] = [[] for _ in acts]
    active = [True] * len(acts)
    lows: dict[int, float] = {}  # lower bound of each action at its last look
    rounds = [list(range(S))] if not sequential or S < 3 else [[r] for r in range(S)]
    look = 1 - (1 - confidence) / max(1, S - 2)
    for rnd in rounds:
        work: list[tuple] = [(None, seeds[r]) for r in rnd if r >= len(base_rows)]
        n_base = len(work)
        order = [(i, r) for r in rnd for i in range(len(acts)) if active[i]]
        work += [(acts[i], seeds[r]) for i, r in order]
        done = _retrain_all(model, work, data, cache, n_jobs, progress and not sequential)
        caught += [w for _, ws in done for w in ws]
        base_rows += [p for p, _ in done[:n_base]]
        for (i, _), (p, _) in zip(order, done[n_base:]):
            preds[i].append(p)
            if isinstance(p, str):
                active[i] = False
        k = rnd[-1] + 1  # seeds every active action has had
        if sequential and 2 <= k < S:
            _stop(active, preds, base_rows, yte, k, look, min_effect, n_bootstrap, boot_seed,
                  lows)
    show_warnings_once(caught)
    return base_rows, preds, [len(p) for p in preds]


def _stop(active: list[bool], preds: list[list], base_rows: list[np.ndarray],
          yte: np.ndarray, k: int, look: float, min_effect: float, n_bootstrap: int,
          boot_seed: int, lows: dict[int, float]) -> None:
    """Stop the actions whose overall interval (``look`` level, ``k`` seeds) is decided,
    shows no effect beyond ``min_effect``, or lies below the best lower bound seen (an
    action stopped before keeps the lower bound of its last look)."""
    base = np.stack(base_rows[:k]) == yte[None, :]
    bounds = {}
    for i, on in enumerate(active):
        if on:
            diff = (np.stack(preds[i][:k]) == yte[None, :]).astype(float) - base
            _, lo, hi, _ = _summarise(diff, n_bootstrap, look, boot_seed)
            bounds[i] = (lo, hi)
            lows[i] = lo
    if not bounds:
        return
    best_low = max(lows.values())
    for i, (lo, hi) in bounds.items():
        decided = lo > 0 or hi < 0
        no_effect = min_effect > 0 and -min_effect < lo and hi < min_effect
        if decided or no_effect or hi < best_low:
            active[i] = False


def _baseline(model: Any, Xtr: Any, ytr: np.ndarray, Xte: Any, seeds: list[int],
              cache: RefitCache | None = None
              ) -> tuple[Any, list[np.ndarray], list[int], bool, list]:
    """The baseline clone, its held-out predictions, the seeds to use (one when refits do
    not depend on the seed), whether they do not, and the fits' warnings."""
    baseline, caught = _fit(model, Xtr, ytr, seeds[0], cache)
    base_pred = [predict_labels(baseline, Xte)]
    caught = list(caught)
    deterministic = not _has_seed(model)
    if not deterministic and len(seeds) > 1:
        second, more = _fit(model, Xtr, ytr, seeds[1], cache)
        caught += more
        p0 = np.asarray(baseline.predict_proba(Xte))
        deterministic = bool(np.allclose(p0, np.asarray(second.predict_proba(Xte)),
                                         rtol=0, atol=1e-12))
        if not deterministic:
            base_pred.append(predict_labels(second, Xte))
    if deterministic or len(seeds) == 1:
        seeds = seeds[:1]
    return baseline, base_pred, seeds, deterministic, caught


def _effects(kept: list[FixAction], results: list[np.ndarray], base: np.ndarray,
             scopes: list[tuple[str, Any]], n_bootstrap: int, confidence: float,
             boot_seed: int) -> pd.DataFrame:
    """One line per (action, scope): accuracy before and after, the paired delta, its
    interval and p-value."""
    lines = []
    for a, corr in zip(kept, results):
        for scope, rows in scopes:
            line = {"action": a.name, "scope": scope}
            if rows is None or len(rows) == 0:
                line.update(n_test=0, before=np.nan, after=np.nan, delta=np.nan, low=np.nan,
                            high=np.nan, p_value=np.nan)
            else:  # paired with the baseline's same seeds (fewer when stopped early)
                b = base[:corr.shape[0]]
                diff = corr[:, rows].astype(float) - b[:, rows].astype(float)
                d, lo, hi, p = _summarise(diff, n_bootstrap, confidence, boot_seed)
                line.update(n_test=len(rows), before=float(b[:, rows].mean()),
                            after=float(corr[:, rows].mean()), delta=d, low=lo, high=hi,
                            p_value=p)
            lines.append(line)
    return pd.DataFrame(lines, columns=["action", "scope", "n_test", "before", "after",
                                        "delta", "low", "high", "p_value"])
