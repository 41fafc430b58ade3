"""``explain``: a classifier's contributions as a real ``shap.Explanation``.

Exact TreeSHAP / linear SHAP where they apply, otherwise the sampling estimator of
:mod:`shap_debug.contributions._estimator`.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shap

from ..core import (
    FrameCodec,
    check_frame_or_array,
    check_inputs,
    check_int,
    check_option,
    check_probabilities,
    check_random_state,
    classes_of,
    feature_names_of,
    is_linear_model,
    parallel_map,
    predict_proba_fn,
    progress_iter,
    warn,
)
from ._estimator import _sampling_values
from ._treeshap import explain_plan, quiet_c_output, tree_explainer_mode

__all__ = ["explain", "explain_auto"]


# --------------------------------------------------------------------------- exact paths
def _tree_explainer(mode, B):
    """The TreeSHAP explainer of ``mode`` (:class:`~shap_debug.contributions.TreeMode`) on background rows ``B``."""
    return mode.explainer(mode.prepare(B))


def _tree_chunk(mode, Xa, B, te=None):
    """TreeSHAP values of the rows ``Xa`` (each row is computed on its own, so chunks give
    the values one call gives), in X's column order."""
    te = _tree_explainer(mode, B) if te is None else te
    with contextlib.redirect_stderr(io.StringIO()):  # shap's C bar (chunks have our bar)
        return mode.values(te, Xa)


def _tree_values(mode, Xa, B, progress, n_jobs=1, batch_rows=1_000_000):
    raw = mode.model_output == "raw"
    n, m = Xa.shape
    # TreeSHAP's work per row grows with the background and the features: chunks of about
    # batch_rows (row, background row, feature) triples, each chunk's values on their own
    rows = max(1, batch_rows // max(len(B) * m, 1))
    if n <= rows:
        te = _tree_explainer(mode, B)
        with quiet_c_output(not progress):
            vals = mode.values(te, Xa)
    else:
        starts = range(0, n, rows)
        if n_jobs == 1:
            te = _tree_explainer(mode, B)
            parts = [_tree_chunk(mode, Xa[s:s + rows], B, te) for s in progress_iter(
                starts, progress=progress, desc="contributions (TreeSHAP)", total=len(starts),
                unit="chunk")]
        else:  # joblib workers, or a Dask cluster's under joblib.parallel_backend("dask")
            parts = parallel_map(_tree_chunk, [(mode, Xa[s:s + rows], B) for s in starts],
                                 n_jobs=n_jobs, progress=progress,
                                 desc="contributions (TreeSHAP)", unit="chunk", star=True)
            te = _tree_explainer(mode, B)
        # older shap returns a list over classes: (classes, rows, m)
        vals = np.concatenate(parts, axis=1 if parts[0].shape[0] != min(rows, n) else 0)
    base = np.atleast_1d(np.asarray(te.expected_value, dtype=np.float64))
    if vals.ndim == 2:  # single output: the positive class of a binary model
        vals = np.stack([-vals, vals], axis=2)
        base = np.array([-base[0] if raw else 1.0 - base[0], base[0]])
    elif vals.shape[0] != n:  # older shap: list over classes
        vals = np.moveaxis(vals, 0, 2)
    return vals, np.broadcast_to(base, (n, vals.shape[2])).copy()


def _linear_values(model, Xa, B):
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    mu = B.mean(0)
    if coef.shape[0] == 1:  # binary: one margin for class 1, its negative for class 0
        coef = np.vstack([-coef, coef])
        intercept = np.array([-intercept[0], intercept[0]])
    vals = (Xa - mu)[:, :, None] * coef.T[None, :, :]
    base = intercept + coef @ mu
    return vals, np.broadcast_to(base, (len(Xa), len(base))).copy()


def explain(
    model: Any,
    X: pd.DataFrame | np.ndarray,
    background: pd.DataFrame | np.ndarray | None = None,
    *,
    method: str = "auto",
    n_background: int = 100,
    n_permutations: int = 2,
    control_variate: bool = False,
    output: str = "probability",
    feature_names: Sequence[str] | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    batch_rows: int = 1_000_000,
    progress: bool = True,
) -> shap.Explanation:
    """Explain a classifier's predicted probabilities (or log-odds) for every row of ``X``.

    Parameters
    ----------
    model : classifier
        Anything with ``predict_proba`` (scikit-learn estimators and Pipelines, models that
        take a DataFrame with string/categorical columns) or a torch module (softmax of its
        logits).
    X : DataFrame or ndarray of shape (n, m)
        Rows to explain. Categorical/string columns get one contribution each (per raw
        column, not per one-hot level). Missing values (NaN) are allowed when the model
        predicts on them (a Pipeline with an imputer, XGBoost, LightGBM, CatBoost).
    background : DataFrame or ndarray, optional
        Rows that stand in for "feature unknown". Default: ``n_background`` rows drawn from
        ``X`` with ``random_state``.
    method : {"auto", "sampling", "tree", "linear"}
        ``"tree"``: exact TreeSHAP (``shap.TreeExplainer``) in the first mode shap supports
        (:func:`~shap_debug.contributions.tree_explainer_mode`): interventional, probability
        output, or the raw margin for ``output="log_odds"``; models with categorical splits
        (XGBoost ``enable_categorical``, LightGBM categories, CatBoost ``cat_features``)
        only in log-odds (path-dependent); a Pipeline whose first steps keep one column per
        raw column. ``"linear"``: exact linear
        SHAP of the decision function, in **log-odds** units (``model_output="raw"``), for
        models with ``coef_``. ``"sampling"``: our model-agnostic estimator (see
        :mod:`shap_debug.contributions._estimator`). ``"auto"``: tree where shap's TreeSHAP
        supports the model in the requested units, linear for linear models on numeric data,
        sampling otherwise.
    n_background : int
        Background size when ``background`` is None.
    n_permutations : int
        Antithetic permutation pairs per (row, background row). Pairs come in rotation
        groups: the second pair of a couple walks the first's order rotated by half of the
        differing features, which spreads every feature's position (1.6x less variance
        than an independent pair on Adult); an odd number starts with a triple (rotations
        by thirds, which also splits most three-way interactions evenly). The default 2 is
        one couple.
    control_variate : bool
        Correct the estimate with a surrogate whose Shapley values are known exactly: the
        model's own output with its link-scale effects made additive (logistic for binary,
        softmax for several classes). Its weight is fitted on pair-to-pair differences,
        so it needs ``n_permutations >= 2``; it falls to ~0 for a random forest, but on an
        MLP it cost 4 % accuracy. Worth it for models that are close to additive in
        log-odds (gradient boosting: 2x less variance on Adult; logistic regression:
        exact) at ~30 % more time.
    output : {"probability", "log_odds"}
        What to explain: ``predict_proba``, or (binary models) the log-odds
        ``log(p1 / p0)``, the scale on which TreeSHAP's raw output is exact.
    random_state : int, Generator or None
        Seeds the background draw and the permutations.
    n_jobs : int
        Parallel chunks (joblib; runs on a Dask cluster under
        ``joblib.parallel_backend("dask")``), for the sampling estimator and TreeSHAP.
    batch_rows : int
        About how many walk steps one chunk takes. Bounds memory: about 100 bytes per
        step (135 with the control variate; 100 MB at the default), plus the model's own
        on the distinct rows (less than half as many on categorical data). TreeSHAP runs
        in chunks of ``batch_rows / (n_background * m)`` rows (833 on Adult), each row on
        its own. Results do not depend on it.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    shap.Explanation
        ``values`` of shape (n, m, n_classes), ``base_values`` (n, n_classes) with
        ``values.sum(1) + base_values`` equal to the output explained: ``predict_proba(X)``
        (sampling and tree methods), its log-odds ``[-l, l]`` with ``l = log(p1 / p0)``
        (``output="log_odds"``; TreeSHAP's raw margin), or ``decision_function(X)``
        (``method="linear"``; ``[-d, d]`` for a binary model). Efficiency holds exactly
        for the sampling estimator (to rounding; ``tests/test_additivity.py``). Numeric
        ``data``, readable ``display_data``, ``feature_names``, and ``output_names`` (the
        model's classes).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, enc = encode(X)
    >>> lr = LogisticRegression(max_iter=1000).fit(Z[:200], y[:200])
    >>> exp = explain(lr, Z[:5], Z[:50], method="sampling", progress=False)
    >>> exp.values.shape
    (5, 20, 2)
    """
    Xv = check_inputs(model, X, "X")  # missing values only where the model takes them
    check_option(method, "method", ["auto", "sampling", "tree", "linear"])
    n_background = check_int(n_background, "n_background", low=1)
    n_permutations = check_int(n_permutations, "n_permutations", low=1)
    check_int(batch_rows, "batch_rows", low=1)
    check_option(output, "output", ["probability", "log_odds"])
    if not isinstance(control_variate, (bool, np.bool_)):
        raise TypeError(f"control_variate must be a bool; got {type(control_variate).__name__}")
    if control_variate and output != "probability":
        raise ValueError("control_variate=True works on output='probability' only")
    if control_variate and n_permutations < 2:
        raise ValueError("control_variate=True needs n_permutations >= 2 (its weight is "
                         "fitted on pair-to-pair differences)")
    names = feature_names_of(Xv, feature_names)
    f = predict_proba_fn(model)
    rng = check_random_state(random_state)
    if background is None:
        take = rng.choice(len(Xv), size=min(n_background, len(Xv)), replace=False)
        Bv = Xv.iloc[np.sort(take)] if isinstance(Xv, pd.DataFrame) else Xv[np.sort(take)]
    else:
        Bv = check_frame_or_array(background, "background", allow_nan=True)
        if Bv.shape[1] != Xv.shape[1]:
            raise ValueError(
                f"background has {Bv.shape[1]} columns but X has {Xv.shape[1]}")
    # NaN/inf probabilities would silently become NaN contributions: refused up front
    check_probabilities(f(Xv), "model.predict_proba on X")
    if background is not None:
        check_probabilities(f(Bv), "model.predict_proba on background")
    Z, B, decode, numeric = _numeric_views(Xv, Bv)
    if output == "log_odds":
        k = f(decode(B[:1])).shape[1]
        if k != 2:
            raise ValueError(f"output='log_odds' needs a binary model; this one has {k} classes")
    mode = None
    if method == "auto":  # TreeSHAP where shap supports the model in these units, ...
        plan = explain_plan(model, Xv, Bv, output=output)
        method, mode = plan.method, plan.mode
    elif method == "tree":
        mode = tree_explainer_mode(model, Xv, Bv, output=output)
    if method == "linear" and not numeric:
        raise ValueError(f"method={method!r} needs numeric X; use method='sampling'")
    if method == "tree" and mode is None:  # e.g. categorical splits in probabilities
        warn(f"shap.TreeExplainer cannot explain {type(model).__name__} in {output} on this X;"
             " using the sampling estimator instead")
        method = "sampling"

    vals = base = None
    if method == "tree":
        try:  # a Pipeline's first steps and column order are the mode's business
            vals, base = _tree_values(mode, Xv, Bv, progress, n_jobs=n_jobs,
                                       batch_rows=batch_rows)
        except Exception as exc:  # unsupported tree model/output: fall back honestly
            warn(f"TreeExplainer failed ({exc}); using the sampling estimator instead")
            method = "sampling"
    elif method == "linear":
        if not is_linear_model(model):
            raise TypeError(f"method='linear' needs coef_/intercept_; {type(model).__name__} has none")
        vals, base = _linear_values(model, Z, B)
    if method == "sampling":

        def fz(Zrows):
            return f(decode(Zrows))

        vals, base = _sampling_values(fz, Z, B, n_permutations, control_variate,
                                      rng, n_jobs, batch_rows, progress, output)

    if not (np.isfinite(vals).all() and np.isfinite(base).all()):  # e.g. on mixed rows
        raise ValueError("the contributions came out NaN or infinite: the model returned "
                         "non-finite probabilities on rows mixing X and the background")
    display = (Xv.astype(str).to_numpy(dtype=object) if isinstance(Xv, pd.DataFrame)
               else None)
    try:
        classes = [str(c) for c in classes_of(model, vals.shape[2])]
    except TypeError:
        classes = [str(k) for k in range(vals.shape[2])]
    return shap.Explanation(
        values=vals,
        base_values=base,
        data=Z.copy(),
        display_data=display,
        feature_names=names,
        output_names=classes,
    )


def _numeric_views(X: pd.DataFrame | np.ndarray, background: pd.DataFrame | np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], Any], bool]:
    """``X`` and ``background`` as float matrices, the way back for the model, and whether
    every column was numeric (one :class:`~shap_debug.core.FrameCodec` over both frames)."""
    if not isinstance(X, pd.DataFrame):
        Z = np.asarray(X, dtype=np.float64)
        return Z, np.asarray(background, dtype=np.float64), (lambda rows: rows), True
    if not isinstance(background, pd.DataFrame) or list(background.columns) != list(X.columns):
        raise ValueError("background must be a DataFrame with the same columns as X")
    codec = FrameCodec().fit(pd.concat([X, background], ignore_index=True))
    numeric = all(kind == "num" for kind in codec.kinds_.values())
    return codec.transform(X), codec.transform(background), codec.inverse_transform, numeric


def explain_auto(model: Any, X: pd.DataFrame | np.ndarray, **kwargs: Any
                 ) -> tuple[shap.Explanation, str]:
    """:func:`explain` with the method and units the Debugger uses, and what they were.

    Exact TreeSHAP wherever shap supports the model, in the units shap has (probabilities,
    or the log-odds of a binary boosting model with categorical splits), linear SHAP for
    linear models, otherwise the estimator in probabilities
    (:func:`~shap_debug.contributions.explain_plan` with ``output="auto"``). Returns the
    explanation and a one-line description for reports; ``kwargs`` go to :func:`explain`.
    """
    plan = explain_plan(model, X, output="auto")
    return explain(model, X, method=plan.method, output=plan.output, **kwargs), plan.description
