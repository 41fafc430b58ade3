"""Is a neighborhood influential? Flip its labels, retrain, and watch the anomaly.

Rasouli & Yu, "Explainable Debugger for Black-box Machine Learning Models" (IJCNN 2021),
Table II: for an anomaly (a training row the model mispredicts), take its ``K`` nearest
training rows in a space, flip their labels, retrain a clone of the model (same
hyper-parameters, same seed) and record whether the anomaly's prediction changes. A space
whose neighborhoods change the prediction more often holds the rows that really shaped it.
The paper compares contribution space (N^c), feature space (N^f) and probability space (N^p).

What the reference implementation did
-------------------------------------
The authors' script (``neighborhood_influence.py`` in XdebugML) queried the kNN index with
the anomaly itself, which is part of the training set, so the anomaly was its own nearest
neighbour and **its own label was flipped too** (later versions flipped a random 50-75 % of
the neighbours). An anomaly's label disagrees with its prediction, so flipping it makes the
label *agree* with the current prediction: a push against the change being measured, mixed
into every space's rate. Here ``include_anomaly=False`` (the default) leaves the anomaly out
and flips its ``K`` nearest *other* rows; ``include_anomaly=True`` reproduces the reference.
``flip_fraction`` reproduces the partial flipping.

Trials are independent and run through :mod:`joblib`, so the same call scales out on a Dask
cluster::

    from dask.distributed import Client, LocalCluster
    import joblib
    with Client(LocalCluster()), joblib.parallel_backend("dask"):
        trials = label_flip_check(model, X, y, 50, n_jobs=-1)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..contributions import explain
from ..core import (
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
    parallel_map,
    predict_proba_fn,
    seed_from,
    seeded_clone,
    warn,
)
from ..neighborhood import SPACES, NeighborhoodModel

__all__ = ["label_flip_check", "label_flip_summary", "label_flip_html"]

_COLUMNS = ["model", "anomaly", "space", "n_neighbors", "n_flipped", "label",
            "prediction_before", "prediction_after", "flipped", "proba_before",
            "proba_after", "time_s"]


def _take_rows(X: Any, idx: Any) -> Any:
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else X[idx]


def _retrain_predict(est: Any, X: Any, y: np.ndarray, flip: np.ndarray, row: int,
                     classes: np.ndarray) -> tuple[Any, dict, float]:
    """Fit a fresh clone on labels with ``flip`` rows swapped; the predicted label of
    ``row``, its class probabilities ``{class: p}`` and the seconds it took."""
    t0 = time.perf_counter()
    y2 = y.copy()
    if len(flip):
        y2[flip] = np.where(y[flip] == classes[0], classes[1], classes[0])
    fitted = clone_model(est).fit(X, y2)  # CatBoost: sklearn's clone refuses it
    proba = np.asarray(fitted.predict_proba(_take_rows(X, [row])), dtype=np.float64)[0]
    cls = classes_of(fitted, len(proba))
    label = cls[int(proba.argmax())]
    return label, {_key(c): float(p) for c, p in zip(cls, proba)}, time.perf_counter() - t0


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


def _from_neighborhood_model(nbm: NeighborhoodModel, X: Any, y: Any, anomalies: Any,
                             contributions: Any, n_neighbors: int | None) -> tuple:
    """model, X, y, anomalies, contributions and K taken from a fitted NeighborhoodModel."""
    if not all(hasattr(nbm, a) for a in ("model_", "X_", "y_", "nn_")):
        raise TypeError("model is a NeighborhoodModel that is not fitted (no model_, X_, y_): "
                        "call nbm.fit(model, X, y) first, or use "
                        "label_flip_check(model, X, y, anomalies)")
    if y is not None or (X is not None and anomalies is not None):
        raise TypeError("with a fitted NeighborhoodModel the model, X and y come from it: call "
                        "label_flip_check(nbm, anomalies, ...) without X and y")
    if X is not None:   # label_flip_check(nbm, anomalies): the second argument is anomalies
        anomalies = X
    if contributions is None:
        contributions = nbm.explanation_     # towards each row's prediction, declared so
    k = nbm.n_neighbors if n_neighbors is None else n_neighbors
    return nbm.model_, nbm.X_, nbm.y_, anomalies, contributions, k


def label_flip_check(
    model: Any,
    X: pd.DataFrame | np.ndarray | Any = None,
    y: Any = None,
    anomalies: int | Sequence[int] | None = None,
    *,
    spaces: Sequence[str] = SPACES,
    n_neighbors: int | None = None,
    contributions: Any = None,
    include_anomaly: bool = False,
    flip_fraction: float = 1.0,
    reference: str = "model",
    random_state: int | np.random.Generator | None = 42,
    n_jobs: int | None = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """Flip the labels of each anomaly's neighborhood, retrain, and check the prediction.

    Parameters
    ----------
    model : fitted classifier, dict ``{name: classifier}`` or list of them, or NeighborhoodModel
        Binary classifiers trained on ``(X, y)`` that :func:`sklearn.base.clone` can copy.
        A fitted :class:`~shap_debug.neighborhood.NeighborhoodModel` supplies the model,
        ``X``, ``y``, its contributions and ``n_neighbors``: call
        ``label_flip_check(nbm, anomalies, ...)`` (the second argument is then
        ``anomalies``).
    X : DataFrame or ndarray (n, m)
        The training data, exactly as the model was fitted on it (not with a
        NeighborhoodModel).
    y : array-like (n,)
        The training labels (two classes; not with a NeighborhoodModel).
    anomalies : int, sequence of int or None
        None: every anomaly (training row with ``predict != y``) of each model. An int
        ``q``: ``q`` anomalies of each model drawn at random (all if fewer). A sequence:
        these training rows, for every model.
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
        ``joblib.parallel_backend("dask")``).
    progress : bool
        tqdm bar over the trials (and contribution computation).

    Returns
    -------
    DataFrame
        One row per (model, anomaly, space): ``model, anomaly, space, n_neighbors,
        n_flipped, label, prediction_before, prediction_after, flipped, proba_before,
        proba_after, time_s``: ``proba_*`` are the probabilities of ``prediction_before``
        before and after the flip (a graded view of the influence that does not saturate
        at "flipped"), ``time_s`` the seconds to retrain and predict. ``attrs`` records the settings. Summarise with
        :func:`label_flip_summary`.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, _ = encode(X)
    >>> lr = LogisticRegression(max_iter=3000, random_state=0).fit(Z, y)
    >>> trials = label_flip_check(lr, Z, y, 3, n_neighbors=200, progress=False)
    >>> trials[["anomaly", "space", "n_flipped", "flipped"]].shape
    (9, 4)
    >>> bool(label_flip_summary(trials)["rate"].between(0, 1).all())
    True

    After fitting a neighbourhood model, pass it instead of the model and data:

    >>> from shap_debug.neighborhood import NeighborhoodModel
    >>> nbm = NeighborhoodModel(n_neighbors=100).fit(lr, Z, y, progress=False)
    >>> label_flip_check(nbm, nbm.anomalies_[:2], spaces=["contributions"],
    ...                  progress=False)["n_flipped"].tolist()
    [100, 100]
    """
    # ---- validation, before any heavy work
    if isinstance(model, NeighborhoodModel):
        model, X, y, anomalies, contributions, n_neighbors = _from_neighborhood_model(
            model, X, y, anomalies, contributions, n_neighbors)
    elif X is None or y is None:
        raise TypeError("label_flip_check needs X and y (the training data), or a fitted "
                        "NeighborhoodModel as its first argument: label_flip_check(nbm, anomalies)")
    if n_neighbors is None:
        n_neighbors = 200
    models = _as_models(model)
    Xv, yv = check_X_y(X, y, allow_nan=True)
    n = len(Xv)
    if isinstance(spaces, str):
        spaces = [spaces]
    spaces = list(spaces)
    if not spaces:
        raise ValueError("spaces must name at least one space")
    for s in spaces:
        check_option(s, "spaces", SPACES)
    if len(set(spaces)) != len(spaces):
        raise ValueError(f"spaces has duplicates: {spaces}")
    if not isinstance(include_anomaly, (bool, np.bool_)):
        raise TypeError(f"include_anomaly must be a bool; got {type(include_anomaly).__name__}")
    limit = n if include_anomaly else n - 1
    k = check_int(n_neighbors, "n_neighbors", low=1)
    if k > limit:
        raise ValueError(f"n_neighbors must be <= {limit} (the training set has {n} rows"
                         f"{'' if include_anomaly else ', minus the anomaly itself'}); got {k}")
    flip_fraction = check_float(flip_fraction, "flip_fraction", low=0.0, high=1.0)
    if flip_fraction == 0.0:
        raise ValueError("flip_fraction must be > 0; got 0.0")
    check_option(reference, "reference", ["model", "refit"])
    classes_y = np.unique(yv)
    if len(classes_y) != 2:
        raise ValueError(f"label flipping needs binary y; got {len(classes_y)} classes "
                         f"{classes_y[:5].tolist()}")
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
    fixed_rows = None
    n_draw = None
    if anomalies is not None:
        if np.ndim(anomalies) == 0 and not isinstance(anomalies, (bool, np.bool_)) and isinstance(
                anomalies, (int, np.integer)):
            n_draw = check_int(anomalies, "anomalies", low=1)
        else:
            fixed_rows = check_anomalies(anomalies, n)  # no duplicates, no negatives

    rng = check_random_state(random_state)
    seed = seed_from(rng)

    # ---- neighborhoods (batched kNN queries) for every model and space
    tasks: list[tuple[str, int, str, np.ndarray]] = []
    templates: dict[str, Any] = {}
    before: dict[str, dict[int, Any]] = {}
    labels_of: dict[str, np.ndarray] = {}
    for name, m in models.items():
        est, seeded = seeded_clone(m, seed)
        templates[name] = est
        if seeded and reference == "model":
            warn(f"model {name!r} has random_state=None: retrained clones get random_state="
                 f"{seed}, so a changed prediction mixes training randomness with the labels' "
                 "influence; use reference='refit' or fit the model with a fixed seed")
        proba = predict_proba_fn(m)(Xv)
        classes = classes_of(m, proba.shape[1])
        if len(classes) != 2 or not np.isin(classes_y, classes).all():
            raise ValueError(f"model {name!r} must be a binary classifier of y's classes "
                             f"{classes_y.tolist()}; its classes are {classes.tolist()}")
        pred = classes[proba.argmax(1)]
        labels_of[name] = pred
        if fixed_rows is not None:
            rows = fixed_rows
        else:
            rows = np.flatnonzero(pred != yv)
            if n_draw is not None and n_draw < len(rows):
                rows = np.sort(rng.choice(rows, size=n_draw, replace=False))
        if len(rows) == 0:
            warn(f"model {name!r} has no anomalies to check")
            continue
        contrib = contrib_of.get(name)
        if "contributions" in spaces and contrib is None:
            contrib = explain(m, Xv, random_state=rng, progress=progress)
        for space in spaces:
            nbm = NeighborhoodModel(n_neighbors=k, space=space, exclude_self=not include_anomaly)
            nbm.fit(m, Xv, yv, contrib if space == "contributions" else None,
                    random_state=rng, progress=progress)
            _, idx = nbm.kneighbors(rows)
            for r, nb in zip(rows, idx):
                if flip_fraction < 1.0:
                    size = max(1, int(round(flip_fraction * k)))
                    nb = np.sort(rng.choice(nb, size=size, replace=False))
                tasks.append((name, int(r), space, nb))
        before[name] = {int(r): (pred[r], {_key(c): float(p) for c, p in zip(classes, proba[r])})
                        for r in rows}

    # ---- the retraining trials (independent: joblib / Dask)
    jobs: list[tuple] = []
    if reference == "refit":
        for name in before:
            rows = np.fromiter(before[name], dtype=np.int64)
            jobs.append((_refit_reference, templates[name], Xv, yv, rows, classes_y))
    jobs += [(_retrain_predict, templates[name], Xv, yv, nb, r, classes_y)
             for name, r, _, nb in tasks]
    results = parallel_map(_call, jobs, n_jobs=n_jobs, progress=progress,
                           desc="label-flip trials", unit="fit", star=True)
    if reference == "refit":
        refs, results = results[:len(before)], results[len(before):]
        for name, ref in zip(before, refs):
            before[name] = ref

    records = []
    for (name, r, space, nb), (after, probs, secs) in zip(tasks, results):
        b, probs_before = before[name][r]
        records.append({
            "model": name, "anomaly": r, "space": space, "n_neighbors": k,
            "n_flipped": len(nb), "label": yv[r], "prediction_before": b,
            "prediction_after": after, "flipped": bool(after != b),
            "proba_before": probs_before.get(_key(b), np.nan),
            "proba_after": probs.get(_key(b), 0.0), "time_s": float(secs)})
    df = pd.DataFrame.from_records(records, columns=_COLUMNS)
    df["flipped"] = df["flipped"].astype(bool)
    df.attrs.update({"include_anomaly": bool(include_anomaly), "flip_fraction": flip_fraction,
                     "reference": reference, "n_neighbors": k, "spaces": spaces,
                     "seed": seed})
    return df


def _call(fn: Any, *args: Any) -> Any:
    """``fn(*args)``: one parallel_map over trials of two kinds."""
    return fn(*args)


def _refit_reference(est: Any, X: Any, y: np.ndarray, rows: np.ndarray,
                     classes: np.ndarray) -> dict[int, tuple[Any, dict]]:
    fitted = clone_model(est).fit(X, y)
    proba = np.asarray(fitted.predict_proba(_take_rows(X, rows)), dtype=np.float64)
    cls = classes_of(fitted, proba.shape[1])
    labels = cls[proba.argmax(1)]
    return {int(r): (lab, {_key(c): float(p) for c, p in zip(cls, pr)})
            for r, lab, pr in zip(rows, labels, proba)}


def label_flip_summary(trials: pd.DataFrame, *, wide: bool = False) -> pd.DataFrame:
    """Rate of changed predictions per model and space.

    Parameters
    ----------
    trials : DataFrame
        Output of :func:`label_flip_check`.
    wide : bool
        False: one row per (model, space) with ``rate``, ``se`` (binomial standard error),
        ``mean_drop`` (mean fall of the probability of the original prediction), ``n`` and
        ``mean_time_s``. True: models as rows, spaces as columns, rates as values.

    Returns
    -------
    DataFrame
    """
    if not isinstance(trials, pd.DataFrame):
        raise TypeError(f"trials must be the DataFrame from label_flip_check; got "
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


def label_flip_html(trials: pd.DataFrame) -> str:
    """An HTML fragment (escaped) with the rate table of :func:`label_flip_summary`."""
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
