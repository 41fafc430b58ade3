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
    check_classifier,
    check_float,
    check_frame_or_array,
    check_int,
    check_missing_supported,
    check_random_state,
    check_X_y,
    check_y,
    clone_model,
    parallel_map,
    predict_labels,
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


def _fit(model: Any, X: Any, y: np.ndarray, seed: int) -> tuple[Any, tuple]:
    """A clone fitted with every ``random_state`` set to ``seed``, and its fit's warnings."""
    fit = refit_predict(_seed_params(clone_model(model), seed), X, y)
    return fit.model, fit.warnings


def _retrain(model: Any, X: Any, y: np.ndarray, X_test: Any, seed: int,
             action: FixAction | None) -> tuple[np.ndarray | str, tuple]:
    """Predicted held-out labels of a clone refitted after ``action`` (an error message when
    the refit fails), and the refit's warnings."""
    try:
        if action is not None:
            model = action.refit_model(model)  # refit_params: new parameters, same data
            X, y = action.apply(X, y)
            X_test = action.transform(X_test)
        fitted, caught = _fit(model, X, y, seed)
        return predict_labels(fitted, X_test), caught
    except Exception as exc:  # a changed training set a model cannot fit: say so
        return f"refit failed: {type(exc).__name__}: {exc}", ()


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
    baseline, base_pred, seeds, deterministic, caught = _baseline(model, Xtr, ytr, Xte, seeds)

    ev = gather_evidence(model, baseline, parts, cohorts=cohorts, suspicious=suspicious,
                         max_cohorts=max_cohorts, screen_regions=screen_regions, cv=cv,
                         random_state=seed_from(rng), n_jobs=n_jobs, progress=progress)
    acts, skipped = candidate_actions(ev, families, custom, flagged_features=flagged,
                                      flip_rows=flip_rows, random_state=seed_from(rng))

    tasks = [(model, Xtr, ytr, Xte, s, None) for s in seeds[len(base_pred):]]
    tasks += [(model, Xtr, ytr, Xte, s, a) for a in acts for s in seeds]
    done = parallel_map(_retrain, tasks, n_jobs=n_jobs, progress=progress,
                        desc="verifying fixes", unit="fit", star=True)
    show_warnings_once([*caught, *(w for _, ws in done for w in ws)])
    preds = [p for p, _ in done]
    n_extra = len(seeds) - len(base_pred)
    base = np.stack(base_pred + [p for p in preds[:n_extra]]) == yte[None, :]
    kept, results = [], []
    for i, a in enumerate(acts):
        got = preds[n_extra + i * len(seeds):n_extra + (i + 1) * len(seeds)]
        bad = [g for g in got if isinstance(g, str)]
        if bad:
            skipped.append((a.name, bad[0]))
            continue
        kept.append(a)
        results.append(np.stack(got) == yte[None, :])
    scopes = [("overall", np.arange(len(yte)))] + [
        (c.label, c.test_rows) for c in ev.failing]
    effects = _effects(kept, results, base, scopes, n_bootstrap, confidence, seed_from(rng))
    base_acc = {scope: (float(base[:, rows].mean()) if rows is not None and len(rows)
                        else float("nan")) for scope, rows in scopes}
    return FixReport(
        actions=tuple(kept), effects=effects, cohorts=ev.failing, skipped=tuple(skipped),
        holdout=ev.holdout, n_train=len(ytr), n_test=len(yte), n_fits=len(seeds),
        deterministic=deterministic, confidence=confidence, n_bootstrap=n_bootstrap,
        baseline_accuracy=base_acc, evidence=ev)


def _check_data(model: Any, X: Any, y: Any, X_test: Any, y_test: Any, display_data: Any,
                display_test: Any, encoder: Any) -> tuple[Any, np.ndarray, Any, Any]:
    """The model, the training and test rows and the readable frames, checked."""
    check_refittable(model)
    check_classifier(model)
    X, y = check_X_y(X, y, allow_nan=True)
    check_missing_supported(model, X)  # NaN only where the model takes it
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together")
    if X_test is not None:
        X_test, y_test = check_X_y(X_test, y_test, x_name="X_test", y_name="y_test",
                                   allow_nan=True)
        if X_test.shape[1] != X.shape[1]:
            raise ValueError(f"X_test has {X_test.shape[1]} columns but X has {X.shape[1]}")
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


def _baseline(model: Any, Xtr: Any, ytr: np.ndarray, Xte: Any, seeds: list[int]
              ) -> tuple[Any, list[np.ndarray], list[int], bool, list]:
    """The baseline clone, its held-out predictions, the seeds to use (one when refits do
    not depend on the seed), whether they do not, and the fits' warnings."""
    baseline, caught = _fit(model, Xtr, ytr, seeds[0])
    base_pred = [predict_labels(baseline, Xte)]
    caught = list(caught)
    deterministic = not _has_seed(model)
    if not deterministic and len(seeds) > 1:
        second, more = _fit(model, Xtr, ytr, seeds[1])
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
            else:
                diff = corr[:, rows].astype(float) - base[:, rows].astype(float)
                d, lo, hi, p = _summarise(diff, n_bootstrap, confidence, boot_seed)
                line.update(n_test=len(rows), before=float(base[:, rows].mean()),
                            after=float(corr[:, rows].mean()), delta=d, low=lo, high=hi,
                            p_value=p)
            lines.append(line)
    return pd.DataFrame(lines, columns=["action", "scope", "n_test", "before", "after",
                                        "delta", "low", "high", "p_value"])
