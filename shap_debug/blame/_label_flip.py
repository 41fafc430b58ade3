"""Is a neighborhood influential? Flip its labels, retrain, and watch the anomaly.

The background (method, references, design choices) is in ``docs/neighborhood.md``, section
"Design notes", ``shap_debug.blame._label_flip``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..contributions import explain
from ..core import (
    RefitCache,
    Result,
    check_anomalies,
    check_classifier,
    check_explanation,
    check_float,
    check_int,
    check_option,
    check_random_state,
    check_X_y,
    classes_of,
    clone_model,
    escape,
    predict_proba_fn,
    refit_many,
    seed_from,
    seeded_clone,
    show_warnings_once,
    warm_startable,
    warn,
)
from ..neighborhood import SPACES, NeighborhoodModel, check_spaces

__all__ = ["LabelFlipCheck", "label_flip_check", "label_flip_summary", "label_flip_html"]

_COLUMNS = ["model", "anomaly", "space", "n_neighbors", "n_flipped", "label",
            "prediction_before", "prediction_after", "flipped", "proba_before",
            "proba_after", "time_s"]


@dataclass(frozen=True, repr=False)
class LabelFlipCheck(Result):
    """The trials of :func:`label_flip_check` and the settings they ran with.

    Attributes
    ----------
    trials : DataFrame, one row per (model, anomaly, space) (see :meth:`to_frame`)
    spaces : tuple of str, the spaces searched
    n_neighbors : int, ``K``
    include_anomaly, flip_fraction, reference, seed : the settings
    """

    trials: pd.DataFrame
    spaces: tuple[str, ...]
    n_neighbors: int
    include_anomaly: bool
    flip_fraction: float
    reference: str
    seed: int

    @property
    def n_trials(self) -> int:
        """The number of retraining trials."""
        return len(self.trials)

    def to_frame(self) -> pd.DataFrame:
        """One row per trial; ``attrs`` holds the settings."""
        df = self.trials.copy()
        df.attrs.update({"include_anomaly": self.include_anomaly,
                         "flip_fraction": self.flip_fraction, "reference": self.reference,
                         "n_neighbors": self.n_neighbors, "spaces": list(self.spaces),
                         "seed": self.seed})
        return df

    def rates(self, *, wide: bool = False) -> pd.DataFrame:
        """The share of changed predictions per model and space (:func:`label_flip_summary`)."""
        return label_flip_summary(self, wide=wide)

    def to_dict(self) -> dict[str, Any]:
        """Settings and trials as plain Python values."""
        out = {k: v for k, v in self.to_frame().attrs.items()}
        out["trials"] = self.trials.to_dict(orient="records")
        return out

    def summary(self) -> dict[str, Any]:
        """Key figures: trials, spaces, ``K`` and the rate per space."""
        rates = (self.trials.groupby("space", sort=False)["flipped"].mean()
                 if len(self.trials) else pd.Series(dtype=float))
        return {"n_trials": self.n_trials, "n_neighbors": self.n_neighbors,
                **{f"rate[{s}]": float(rates[s]) for s in self.spaces if s in rates.index}}

    def _repr_html_(self) -> str:
        return label_flip_html(self)


def _key(c: Any) -> Any:
    return c.item() if hasattr(c, "item") else c


def _as_models(model: Any) -> dict[str, Any]:
    if isinstance(model, Mapping):
        if not model:
            raise ValueError("model must not be an empty mapping")
        return {str(k): v for k, v in model.items()}
    if isinstance(model, (list, tuple)):
        if not model:
            raise ValueError("model must not be an empty sequence")
        out: dict[str, Any] = {}
        for m in model:
            name = type(m).__name__
            k = 2
            while name in out:
                name = f"{type(m).__name__}_{k}"
                k += 1
            out[name] = m
        return out
    return {type(model).__name__: model}


def _from_neighborhood_model(nbm: NeighborhoodModel, contributions: Any,
                             n_neighbors: int | None) -> tuple:
    """model, X, y, contributions and K taken from a fitted NeighborhoodModel."""
    if not all(hasattr(nbm, a) for a in ("model_", "X_", "y_", "nn_")):
        raise TypeError("neighborhood_model is a NeighborhoodModel that is not fitted (no "
                        "model_, X_, y_): call nbm.fit(X, y) first, or use "
                        "label_flip_check(model, anomalies, X=X, y=y)")
    if contributions is None:
        contributions = nbm.explanation_     # towards each row's prediction, declared so
    k = nbm.n_neighbors if n_neighbors is None else n_neighbors
    return nbm.model_, nbm.X_, nbm.y_, contributions, k


def _call_form(first: Any, args: tuple, anomalies: Any, X: Any, y: Any) -> tuple:
    """``(anomalies, X, y, legacy)`` from ``(nbm, anomalies)``, ``(model, anomalies, X=,
    y=)`` or the former ``(model, X, y[, anomalies])`` (``legacy``; ``anomalies`` may then
    be a keyword)."""
    if len(args) > 3:
        raise TypeError(f"label_flip_check takes at most 4 positional arguments; got "
                        f"{len(args) + 1}")
    if isinstance(first, NeighborhoodModel):
        if len(args) > 1 or X is not None or y is not None:
            raise TypeError("with a fitted NeighborhoodModel the model, X and y come from it: "
                            "call label_flip_check(nbm, anomalies, ...) without X and y")
        if args and anomalies is not None:
            raise TypeError("label_flip_check got anomalies twice")
        return (args[0] if args else anomalies), None, None, False
    legacy = len(args) >= 2 or (len(args) == 1 and X is None and (
        isinstance(args[0], pd.DataFrame) or np.ndim(args[0]) >= 2))
    if legacy:
        if X is not None or (len(args) >= 2 and y is not None):
            raise TypeError("label_flip_check(model, X, y, anomalies) takes X and y once")
        X, y = args[0], (args[1] if len(args) >= 2 else y)
        if y is None:
            raise TypeError("label_flip_check needs X and y (the training data): call "
                            "label_flip_check(model, anomalies, X=X, y=y)")
        if len(args) == 3:
            if anomalies is not None:
                raise TypeError("label_flip_check got anomalies twice")
            anomalies = args[2]
        return anomalies, X, y, True
    if args:
        if anomalies is not None:
            raise TypeError("label_flip_check got anomalies twice")
        anomalies = args[0]
    if X is None or y is None:
        raise TypeError("label_flip_check needs X and y (the training data) as keywords, or a "
                        "fitted NeighborhoodModel as its first argument: "
                        "label_flip_check(nbm, anomalies)")
    return anomalies, X, y, False


def label_flip_check(
    neighborhood_model: Any,
    *args: Any,
    anomalies: int | Sequence[int] | None = None,
    X: pd.DataFrame | np.ndarray | None = None,
    y: Any = None,
    spaces: Sequence[str] = SPACES,
    n_neighbors: int | None = None,
    contributions: Any = None,
    include_anomaly: bool = False,
    flip_fraction: float = 1.0,
    reference: str = "model",
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
    cache: RefitCache | None = None,
    warm_start: bool = False,
) -> LabelFlipCheck | pd.DataFrame:
    """Flip the labels of each anomaly's neighborhood, retrain, and check the prediction.

    Called as ``label_flip_check(neighborhood_model, anomalies, **options)`` or
    ``label_flip_check(model, anomalies, X=X, y=y, **options)``.

    Parameters
    ----------
    neighborhood_model : NeighborhoodModel, or classifier(s)
        A fitted :class:`~shap_debug.neighborhood.NeighborhoodModel` supplies the model,
        ``X``, ``y``, its contributions and ``n_neighbors``. Otherwise: binary classifiers
        trained on ``(X, y)`` that :func:`sklearn.base.clone` can copy (one, a dict
        ``{name: classifier}`` or a list), with ``X`` and ``y`` given as keywords.
    anomalies : int, sequence of int or None (second positional argument, or keyword)
        None: every anomaly (training row with ``predict != y``) of each model. An int
        ``q``: ``q`` anomalies of each model drawn at random (all if fewer). A sequence:
        these training rows, for every model.
    X : DataFrame or ndarray (n, m), keyword only
        The training data, exactly as the model was fitted on it (not with a
        NeighborhoodModel).
    y : array-like (n,), keyword only
        The training labels (two classes; not with a NeighborhoodModel).
    spaces : sequence of {"contributions", "features", "probabilities"}
        Where neighbourhoods are searched (see :class:`~shap_debug.neighborhood.NeighborhoodModel`).
    n_neighbors : int, optional
        ``K``, rows whose labels are flipped per trial (paper: 200 German credit, 500
        COMPAS, 2000 Adult). Default: the NeighborhoodModel's ``n_neighbors``, else 200.
    contributions : contribution source, or a dict ``{name: source}``, optional
        For the contribution space; None computes :func:`~shap_debug.contributions.explain`
        for each model.
    include_anomaly : bool, default False
        True reproduces the reference implementation: the anomaly is its own nearest
        neighbour and its own label is flipped as well. False flips ``K`` other rows.
    flip_fraction : float in (0, 1]
        Flip a random ``round(flip_fraction * K)`` of the neighbours (the reference's later
        ``perturb_percent``); 1 flips them all.
    reference : {"model", "refit"}
        Prediction the retrained one is compared with: the given fitted model's (the
        paper), or a clone refitted on the unflipped labels with the same seed (isolates
        the labels' effect when training is not deterministic; one extra fit per model).
    random_state : int or Generator
        Seeds the anomaly draw, the partial flips and any clone whose ``random_state``
        is None.
    n_jobs : int or None
        joblib workers for the retraining trials (works under
        ``joblib.parallel_backend("dask")``); None: one.
    progress : bool
        tqdm bar over the trials (and contribution computation).
    cache : RefitCache, optional
        Refits shared with other stages (:class:`~shap_debug.core.RefitCache`): a trial
        whose refit (same hyper-parameters and seed, rows and relabelled labels) the cache
        holds is not fitted again, and new fits are stored and counted under
        ``"label-flip"``. Trials that relabel the same rows are fitted once in any case.
    warm_start : bool, default False
        Start each retraining from the given fitted model's solution
        (:func:`~shap_debug.core.warm_startable` models: logistic regression, whose convex
        objective has one optimum; others are refitted from scratch, with a warning):
        fewer iterations, the same verdicts (``benchmarks/refits.py``: 30 of 30 trials on
        German credit).

    Returns
    -------
    LabelFlipCheck
        Its ``to_frame()`` has one row per (model, anomaly, space): ``model, anomaly,
        space, n_neighbors, n_flipped, label, prediction_before, prediction_after,
        flipped, proba_before, proba_after, time_s``: ``proba_*`` are the probabilities of
        ``prediction_before`` before and after the flip (a graded view of the influence
        that does not saturate at "flipped"), ``time_s`` the seconds to retrain and
        predict; ``attrs`` records the settings. ``rates()`` is :func:`label_flip_summary`.
        The former call ``label_flip_check(model, X, y, anomalies)`` still works, with a
        ``FutureWarning``, and returns that DataFrame.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, _ = encode(X)
    >>> lr = LogisticRegression(max_iter=3000, random_state=0).fit(Z, y)
    >>> check = label_flip_check(lr, 3, X=Z, y=y, n_neighbors=200, random_state=0,
    ...                          progress=False)
    >>> check.to_frame()[["anomaly", "space", "n_flipped", "flipped"]].shape
    (9, 4)
    >>> bool(check.rates()["rate"].between(0, 1).all())
    True

    After fitting a neighbourhood model, pass it instead of the model and data:

    >>> from shap_debug.neighborhood import NeighborhoodModel
    >>> nbm = NeighborhoodModel(n_neighbors=100, model=lr).fit(Z, y, progress=False)
    >>> label_flip_check(nbm, nbm.anomalies_[:2], spaces=["contributions"],
    ...                  progress=False).to_frame()["n_flipped"].tolist()
    [100, 100]
    """
    anomalies, X, y, legacy = _call_form(neighborhood_model, args, anomalies, X, y)
    if legacy:
        warnings.warn("label_flip_check(model, X, y, anomalies) is deprecated and returns a "
                      "DataFrame; call label_flip_check(model, anomalies, X=X, y=y) (or "
                      "label_flip_check(neighborhood_model, anomalies)), which returns a "
                      "LabelFlipCheck whose to_frame() is that DataFrame",
                      FutureWarning, stacklevel=2)
    model = neighborhood_model
    if isinstance(model, NeighborhoodModel):
        model, X, y, contributions, n_neighbors = _from_neighborhood_model(
            model, contributions, n_neighbors)
    models = _as_models(model)
    Xv, yv = check_X_y(X, y, allow_nan=True)
    spaces = list(check_spaces(spaces))
    k = _check_k(n_neighbors, include_anomaly, len(Xv))
    flip_fraction = check_float(flip_fraction, "flip_fraction", low=0.0, high=1.0)
    if flip_fraction == 0.0:
        raise ValueError("flip_fraction must be > 0; got 0.0")
    check_option(reference, "reference", ["model", "refit"])
    classes_y = np.unique(yv)
    if len(classes_y) != 2:
        raise ValueError(f"label flipping needs binary y; got {len(classes_y)} classes "
                         f"{classes_y[:5].tolist()}")
    contrib_of = _contributions_of(contributions, models, Xv)
    fixed_rows, n_draw = _check_anomalies(anomalies, len(Xv))
    rng = check_random_state(random_state)
    seed = seed_from(rng)

    # ---- neighborhoods (batched kNN queries) for every model and space
    tasks: list[tuple[str, int, str, np.ndarray]] = []
    templates: dict[str, Any] = {}
    before: dict[str, dict[int, Any]] = {}
    if not isinstance(warm_start, (bool, np.bool_)):
        raise TypeError(f"warm_start must be a bool; got {type(warm_start).__name__}")
    warm: dict[str, bool] = {}
    for name, m in models.items():
        warm[name] = bool(warm_start) and warm_startable(m)
        if warm_start and not warm[name]:
            warn(f"model {name!r} ({type(m).__name__}) is not warm-started (only convex "
                 "models reach a full refit's solution from the old one): its trials refit "
                 "from scratch")
        templates[name] = m if warm[name] else _template(name, m, seed, reference)
        pred, probs_of, rows = _anomalies_of(name, m, Xv, yv, classes_y, fixed_rows, n_draw, rng)
        if len(rows) == 0:
            warn(f"model {name!r} has no anomalies to check")
            continue
        contrib = contrib_of.get(name)
        if "contributions" in spaces and contrib is None:
            contrib = explain(m, Xv, random_state=rng, progress=progress)
        for space in spaces:
            tasks += _neighbourhoods(name, m, Xv, yv, rows, space, k, contrib, include_anomaly,
                                     flip_fraction, rng, progress)
        before[name] = {int(r): (pred[r], probs_of(r)) for r in rows}

    results = _run_trials(tasks, templates, before, Xv, yv, classes_y, reference,
                          1 if n_jobs is None else n_jobs, progress, cache, warm)
    check = LabelFlipCheck(_trial_frame(tasks, results, before, yv, k), tuple(spaces), k,
                           bool(include_anomaly), flip_fraction, reference, seed)
    return check.to_frame() if legacy else check


def _check_k(n_neighbors: Any, include_anomaly: Any, n: int) -> int:
    """``K`` checked against the rows there are (default 200)."""
    if not isinstance(include_anomaly, (bool, np.bool_)):
        raise TypeError(f"include_anomaly must be a bool; got {type(include_anomaly).__name__}")
    limit = n if include_anomaly else n - 1
    k = check_int(200 if n_neighbors is None else n_neighbors, "n_neighbors", low=1)
    if k > limit:
        raise ValueError(f"n_neighbors must be <= {limit} (the training set has {n} rows"
                         f"{'' if include_anomaly else ', minus the anomaly itself'}); got {k}")
    return k


def _contributions_of(contributions: Any, models: dict[str, Any], Xv: Any) -> dict[str, Any]:
    """``{model name: contribution source}`` for the models given one; checks every model."""
    if isinstance(contributions, Mapping):
        unknown = set(map(str, contributions)) - set(models)
        if unknown:
            raise ValueError(f"contributions has entries for unknown models {sorted(unknown)}; "
                             f"models are {sorted(models)}")
        contrib_of = {str(kk): v for kk, v in contributions.items()}
    elif contributions is not None:
        if len(models) > 1:
            raise ValueError("with several models, contributions must be a dict {name: source}")
        contrib_of = {next(iter(models)): contributions}
    else:
        contrib_of = {}
    for name, m in models.items():
        check_classifier(m, f"model[{name!r}]" if len(models) > 1 else "model")
        clone_model(m, f"model[{name!r}]" if len(models) > 1 else "model")
        if name in contrib_of:
            check_explanation(contrib_of[name], Xv, name="contributions")
    return contrib_of


def _check_anomalies(anomalies: Any, n: int) -> tuple[np.ndarray | None, int | None]:
    """Fixed rows, or how many anomalies to draw per model (None and None: all of them)."""
    if anomalies is None:
        return None, None
    if np.ndim(anomalies) == 0 and not isinstance(anomalies, (bool, np.bool_)) and isinstance(
            anomalies, (int, np.integer)):
        return None, check_int(anomalies, "anomalies", low=1)
    return check_anomalies(anomalies, n), None  # no duplicates, no negatives


def _template(name: str, model: Any, seed: int, reference: str) -> Any:
    """The unfitted clone every trial of ``model`` refits (seeded where it had no seed)."""
    est, seeded = seeded_clone(model, seed)
    if seeded and reference == "model":
        warn(f"model {name!r} has random_state=None: retrained clones get random_state="
             f"{seed}, so a changed prediction mixes training randomness with the labels' "
             "influence; use reference='refit' or fit the model with a fixed seed")
    return est


def _anomalies_of(name: str, model: Any, Xv: Any, yv: np.ndarray, classes_y: np.ndarray,
                  fixed_rows: np.ndarray | None, n_draw: int | None,
                  rng: np.random.Generator) -> tuple[np.ndarray, Any, np.ndarray]:
    """The model's predictions, ``row -> {class: p}`` and the rows to check."""
    proba = predict_proba_fn(model)(Xv)
    classes = classes_of(model, proba.shape[1])
    if len(classes) != 2 or not np.isin(classes_y, classes).all():
        raise ValueError(f"model {name!r} must be a binary classifier of y's classes "
                         f"{classes_y.tolist()}; its classes are {classes.tolist()}")
    pred = classes[proba.argmax(1)]
    if fixed_rows is not None:
        rows = fixed_rows
    else:
        rows = np.flatnonzero(pred != yv)
        if n_draw is not None and n_draw < len(rows):
            rows = np.sort(rng.choice(rows, size=n_draw, replace=False))

    def probs_of(r: int) -> dict:
        return {_key(c): float(p) for c, p in zip(classes, proba[r])}

    return pred, probs_of, rows


def _neighbourhoods(name: str, model: Any, Xv: Any, yv: np.ndarray, rows: np.ndarray,
                    space: str, k: int, contrib: Any, include_anomaly: bool,
                    flip_fraction: float, rng: np.random.Generator, progress: bool
                    ) -> list[tuple[str, int, str, np.ndarray]]:
    """One trial ``(model name, anomaly, space, rows to flip)`` per anomaly in ``space``."""
    nbm = NeighborhoodModel(n_neighbors=k, space=space, exclude_self=not include_anomaly,
                            model=model, random_state=rng)
    nbm.fit(Xv, yv, contributions=contrib if space == "contributions" else None,
            progress=progress)
    _, idx = nbm.kneighbors(rows)
    tasks = []
    for r, nb in zip(rows, idx):
        if flip_fraction < 1.0:
            size = max(1, int(round(flip_fraction * k)))
            nb = np.sort(rng.choice(nb, size=size, replace=False))
        tasks.append((name, int(r), space, nb))
    return tasks


def _run_trials(tasks: list, templates: dict[str, Any], before: dict, Xv: Any, yv: np.ndarray,
                classes_y: np.ndarray, reference: str, n_jobs: Any, progress: bool,
                cache: RefitCache | None = None, warm: dict | None = None) -> list:
    """The retraining trials (independent: joblib / Dask; a refit ``cache`` holds is not
    repeated); ``before`` gets the refitted references with ``reference="refit"``. Each
    distinct warning of the refits shows once."""
    jobs: list[tuple] = []
    if reference == "refit":
        for name in before:
            rows = np.fromiter(before[name], dtype=np.int64)
            jobs.append((templates[name], Xv, yv, rows, None, classes_y,
                         (warm or {}).get(name, False)))
    jobs += [(templates[name], Xv, yv, [r], nb, classes_y, (warm or {}).get(name, False))
             for name, r, _, nb in tasks]
    fits = refit_many(jobs, cache=cache, stage="label-flip", n_jobs=n_jobs,
                      progress=progress, desc="label-flip trials")
    show_warnings_once(w for fit in fits for w in fit.warnings)
    if reference == "refit":
        refs, fits = fits[:len(before)], fits[len(before):]
        for name, fit in zip(before, refs):
            before[name] = {int(r): (lab, {_key(c): float(p) for c, p in zip(fit.classes, pr)})
                            for r, lab, pr in zip(jobs[list(before).index(name)][3],
                                                  fit.labels, fit.proba)}
    return [(fit.labels[0], {_key(c): float(p) for c, p in zip(fit.classes, fit.proba[0])},
             fit.seconds, fit.warnings) for fit in fits]


def _trial_frame(tasks: list, results: list, before: dict, yv: np.ndarray, k: int
                 ) -> pd.DataFrame:
    records = []
    for (name, r, space, nb), (after, probs, secs, _) in zip(tasks, results):
        b, probs_before = before[name][r]
        records.append({
            "model": name, "anomaly": r, "space": space, "n_neighbors": k,
            "n_flipped": len(nb), "label": yv[r], "prediction_before": b,
            "prediction_after": after, "flipped": bool(after != b),
            "proba_before": probs_before.get(_key(b), np.nan),
            "proba_after": probs.get(_key(b), 0.0), "time_s": float(secs)})
    df = pd.DataFrame.from_records(records, columns=_COLUMNS)
    df["flipped"] = df["flipped"].astype(bool)
    return df


def label_flip_summary(trials: LabelFlipCheck | pd.DataFrame, *, wide: bool = False
                       ) -> pd.DataFrame:
    """Rate of changed predictions per model and space.

    Parameters
    ----------
    trials : LabelFlipCheck or DataFrame
        Output of :func:`label_flip_check` (or its ``to_frame()``).
    wide : bool
        False: one row per (model, space) with ``rate``, ``se`` (binomial standard error),
        ``mean_drop`` (mean fall of the probability of the original prediction), ``n`` and
        ``mean_time_s``. True: models as rows, spaces as columns, rates as values.

    Returns
    -------
    DataFrame
    """
    if isinstance(trials, LabelFlipCheck):
        trials = trials.to_frame()
    if not isinstance(trials, pd.DataFrame):
        raise TypeError(f"trials must be the result of label_flip_check; got "
                        f"{type(trials).__name__}")
    missing = {"model", "space", "flipped", "time_s"} - set(trials.columns)
    if missing:
        raise ValueError(f"trials is missing columns {sorted(missing)}")
    order = [s for s in SPACES if s in set(trials["space"])]
    g = trials.groupby(["model", "space"], sort=False)
    out = pd.DataFrame({
        "rate": g["flipped"].mean(),
        "n": g["flipped"].size(),
        "mean_time_s": g["time_s"].mean(),
    }).reset_index()
    if {"proba_before", "proba_after"} <= set(trials.columns):
        drop = (trials["proba_before"] - trials["proba_after"]).groupby(
            [trials["model"], trials["space"]], sort=False).mean()
        out["mean_drop"] = [float(drop.loc[(m, s)]) for m, s in zip(out["model"], out["space"])]
    out["se"] = np.sqrt(out["rate"] * (1 - out["rate"]) / out["n"].clip(lower=1))
    out["space"] = pd.Categorical(out["space"], categories=order, ordered=True)
    out = out.sort_values(["model", "space"], kind="stable").reset_index(drop=True)
    out = out[["model", "space", "rate", "se"]
              + (["mean_drop"] if "mean_drop" in out.columns else []) + ["n", "mean_time_s"]]
    if wide:
        return out.pivot(index="model", columns="space", values="rate")
    return out


def label_flip_html(trials: LabelFlipCheck | pd.DataFrame) -> str:
    """An HTML fragment (escaped) with the rate table of :func:`label_flip_summary`."""
    if isinstance(trials, LabelFlipCheck):
        trials = trials.to_frame()
    summ = label_flip_summary(trials)
    head = "".join(f"<th>{escape(c)}</th>" for c in summ.columns)
    body = "".join(
        "<tr>" + "".join(
            f"<td>{v:.3g}</td>" if isinstance(v, (float, np.floating))
            else f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
        for row in summ.itertuples(index=False))
    k = trials.attrs.get("n_neighbors", "")
    return (f"<div class='shap-debug-label-flip'><p><b>Label-flip influence check</b> "
            f"(K={escape(str(k))}): share of anomalies whose prediction changed after "
            f"their neighbourhood's labels were flipped and the model retrained.</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
