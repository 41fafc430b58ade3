"""Influential neighborhoods of anomalies in contribution space.

The background (method, references, design choices) is in ``docs/neighborhood.md``, section
"Design notes", ``shap_debug.neighborhood._model``.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shap
from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from ..contributions import SINGLE_OUTPUT_OPTIONS, explain, towards_predicted
from ..core import (
    check_classifier,
    check_explanation,
    check_indices,
    check_int,
    check_missing_supported,
    check_option,
    check_random_state,
    check_X_y,
    classes_of,
    explanation_values,
    feature_names_of,
    is_torch_module,
    predict_proba_fn,
    progress_iter,
    seed_from,
    seeded_clone,
    warn,
)
from ._query import DistinctIndex, _query_chunk, _stream, chunk_rows, index_positions
from ._results import Neighborhood, Occurrence

__all__ = ["NeighborhoodModel", "SPACES"]

SPACES = ("contributions", "features", "probabilities")
# --------------------------------------------------------------------------- helpers
def _numeric_view(X: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Float matrix (category codes for categorical columns) and readable strings."""
    if not isinstance(X, pd.DataFrame):
        return np.asarray(X, dtype=np.float64), None
    cols = []
    for col in X.columns:
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cols.append(s.cat.codes.to_numpy(dtype=np.float64))
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            cols.append(s.to_numpy(dtype=np.float64))
        else:
            cols.append(pd.factorize(s, sort=True)[0].astype(np.float64))
    Z = np.column_stack(cols) if cols else np.empty((len(X), 0))
    return Z, X.astype(str).to_numpy(dtype=object)


def check_spaces(spaces: str | Sequence[str], name: str = "spaces") -> tuple[str, ...]:
    """One space name or a sequence of them, checked: known, at least one, no duplicates.

    Examples
    --------
    >>> check_spaces("features")
    ('features',)
    """
    spaces = [spaces] if isinstance(spaces, str) else list(spaces)
    if not spaces:
        raise ValueError(f"{name} must name at least one space")
    for s in spaces:
        check_option(s, name, SPACES)
    if len(set(spaces)) != len(spaces):
        raise ValueError(f"{name} has duplicates: {spaces}")
    return tuple(spaces)


def _source_base(contributions: Any, n: int, k: int | None) -> np.ndarray | None:
    """The source's base values as (n, k) for a 3-D source (``k`` outputs) or (n,) for a
    2-D one; None when it has none (arrays, tensors) or they have an unknown shape."""
    if type(contributions).__name__ != "Explanation" or contributions.base_values is None:
        return None
    base = np.asarray(contributions.base_values, dtype=np.float64)
    if base.ndim == 0:
        return np.full((n, k) if k else n, float(base))
    if k is None:
        if base.shape in ((n,), (n, 1)):
            return base.reshape(n).copy()
        return None
    if base.shape == (n, k):
        return base
    if base.shape == (k,):
        return np.broadcast_to(base, (n, k))
    return None


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(b)) and np.allclose(a, b, rtol=1e-6, atol=1e-6))


def _output_kind(total: np.ndarray, proba: np.ndarray, cls: np.ndarray) -> str | None:
    """What ``total`` (one value per row, for output column ``cls[i]``) equals: the
    probability or (binary) the log-odds of that class; None if neither."""
    rows = np.arange(len(total))
    p = proba[rows, cls]
    if _close(total, p):
        return "probability"
    if proba.shape[1] == 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            if _close(total, np.log(p) - np.log1p(-p)):
                return "log-odds"
    return None


def _predicted_class_explanation(contributions: Any, predicted: np.ndarray, proba: np.ndarray,
                                 single_output: str, data: np.ndarray, display: Any,
                                 names: list[str]) -> shap.Explanation:
    """A 2-D explanation towards each row's predicted class whose base values follow the
    values: ``base_values + values.sum(1)`` is the output named in ``output_names``.

    A 3-D source keeps its predicted-class column and base. A 2-D source read as
    ``"positive"`` has the rows predicted 0 negated: their base becomes ``1 - base`` on the
    probability scale (p0 = 1 - p1) and ``-base`` otherwise (log-odds of class 0).
    """
    contrib, flipped, mode = towards_predicted(contributions, predicted, single_output)
    n = len(contrib)
    rows = np.arange(n)
    tag = "(target=predicted)"
    k = None if mode is not None else explanation_values(contributions).shape[2]
    src = _source_base(contributions, n, k)
    source_names = getattr(contributions, "output_names", None)
    source_kind = (source_names.split("(target=")[0].strip() or "model output"
                   if isinstance(source_names, str) and "(target=" in source_names
                   else "model output")
    if src is None:
        base = np.zeros(n)
        name = f"contributions towards the predicted class, base values unknown (0) {tag}"
    elif mode is None or mode == "predicted":
        base = src[rows, predicted] if mode is None else src
        kind = _output_kind(base + contrib.sum(1), proba, predicted) or source_kind
        kind = kind.removesuffix(" of the predicted class")
        name = f"{kind} of the predicted class {tag}"
    else:   # "positive": the source explains class 1; rows predicted 0 were negated
        kind = _output_kind(src + explanation_values(contributions).sum(1), proba,
                            np.ones(n, dtype=np.int64))
        if kind == "probability":
            base = np.where(flipped, 1.0 - src, src)
        else:
            base = np.where(flipped, -src, src)
        name = (f"{kind} of the predicted class {tag}" if kind is not None else
                f"class-1 {source_kind}, negated for rows predicted 0 {tag}")
    return shap.Explanation(values=contrib, base_values=base, data=data, display_data=display,
                            feature_names=names, output_names=name)


_UNSET: Any = object()   # fit(random_state=...) not given


def _is_model(value: Any) -> bool:
    """Whether ``fit``'s first argument is a model (the former ``fit(model, X, y)``)."""
    return hasattr(value, "predict_proba") or is_torch_module(value)


def _fitted_model(model: Any, X: Any, y: np.ndarray, random_state: Any) -> Any:
    """``model`` when fitted (or not a scikit-learn estimator), else a seeded clone fitted
    on ``(X, y)``."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if is_torch_module(model) or not hasattr(model, "fit") or not hasattr(model, "get_params"):
        return model
    try:
        check_is_fitted(model)
        return model
    except NotFittedError:
        pass
    except TypeError:   # not an estimator scikit-learn can tell
        return model
    est, _ = seeded_clone(model, seed_from(random_state))
    return est.fit(X, y)


# --------------------------------------------------------------------------- model
class NeighborhoodModel(BaseEstimator):
    """k-nearest-neighbour model of a classifier's training data in one space.

    Parameters
    ----------
    n_neighbors : int, default 200
        ``K``, the size of a neighborhood (the paper uses 200 / 500 / 2000 for German
        credit / COMPAS / Adult).
    space : {"contributions", "features", "probabilities"}
        What the index searches: contribution vectors towards each row's predicted class
        (N^c, the paper's method), standardised feature values (N^f) or predicted
        probabilities (N^p).
    exclude_self : bool, default True
        Leave the queried row out of its own neighborhood (otherwise a training row is its
        own nearest neighbour at distance 0). Only the row itself is left out: other rows
        with exactly its feature values stay, marked in :attr:`Neighborhood.duplicates`
        (the ``duplicate`` column of ``to_frame()``).
    algorithm : str, default "auto"
        Passed to :class:`sklearn.neighbors.NearestNeighbors`.
    single_output : {"auto", "positive", "predicted"}
        How a 2-D (single-output) contribution source is read, see
        :func:`shap_debug.contributions.contribution_matrix`. ``"auto"``: as the source
        declares (``captum_ext.attributions_to_explanation(..., target=...)``), shap's
        class-1 convention for other 2-D explanations and arrays.
    n_jobs : int or None
        Query chunks run in parallel over this many joblib workers (threads on this
        machine; the workers of a Dask cluster under ``joblib.parallel_backend("dask")``,
        which receive the fitted index once). None or 1: in this process.
    chunk_size : int, optional
        Query rows per chunk. Default: about ``4e6 / (K + 1)`` rows (64 MB of neighbour
        distances and indices per chunk). Tree indexes (KD-tree, ball tree) give the same
        results whatever it is; brute force computes ``|a|^2 - 2ab + |b|^2`` in blocks, so
        its distances can move in the last bits (1e-8 on duplicates) with the batch.
    model : classifier with ``predict_proba`` (or a torch module), keyword only
        The model whose training data is indexed. A fitted model is used as it is; an
        unfitted scikit-learn estimator is cloned and fitted on ``(X, y)`` by :meth:`fit`.
    random_state : int, Generator or None, keyword only
        Seeds :func:`~shap_debug.contributions.explain` when :meth:`fit` computes the
        contributions, and the clone of an unfitted ``model``.
    distinct : bool, default False, keyword only
        Index only the distinct vectors of the space, each with the number of rows it
        stands for (:class:`~shap_debug.neighborhood._query.DistinctIndex`): for data with
        many exact ties (replicated rows, tree models' piecewise-constant contributions)
        the index and its queries shrink with the share of distinct vectors. Queries keep
        exactly ``K`` rows and the full index's distances; rows tied at the ``K``-th
        distance are taken in row order (the full index leaves that to its tree).

    Attributes
    ----------
    model_, X_, y_ : the fitted model and the training data (not copied; never modified)
    n_features_in_ : int, the number of columns of ``X``
    feature_names_in_ : ndarray of str, the columns of a DataFrame ``X`` whose column names
        are all strings (absent otherwise)
    classes_ : ndarray, the model's classes in ``predict_proba`` order
    proba_ : ndarray (n, n_classes), predicted probabilities
    predicted_ : ndarray of int (n,), predicted class index (column of ``proba_``)
    predicted_labels_ : ndarray (n,), predicted class labels
    anomalies_ : ndarray of int, training rows where the predicted label != y
    contributions_ : ndarray (n, m) or None, contributions towards each row's prediction
    explanation_ : shap.Explanation or None, 2-D explanation of ``contributions_`` whose
        ``base_values`` follow the values: ``base_values + values.sum(1)`` is the output
        named in its ``output_names`` (e.g. ``"log-odds of the predicted class
        (target=predicted)"``) for each row's predicted class
    numeric_X_ : ndarray (n, m), numeric view of ``X`` (category codes), used to mark
        exact duplicates
    feature_matrix_ : ndarray (n, m), the standardised numeric features
    feature_scaler_ : the fitted :class:`~sklearn.preprocessing.StandardScaler`
    space_matrix_ : ndarray, the matrix the kNN index searches
    nn_ : the fitted :class:`~sklearn.neighbors.NearestNeighbors`
    progress_ : bool, the ``progress`` given to :meth:`fit` (progress bars of later queries)

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, enc = encode(X)
    >>> lr = LogisticRegression(max_iter=2000).fit(Z, y)
    >>> nbm = NeighborhoodModel(n_neighbors=50, model=lr).fit(Z, y, progress=False)
    >>> nb = nbm.neighbors(int(nbm.anomalies_[0]))
    >>> len(nb), nb.explanation.values.shape
    (50, (50, 20))
    """

    def __init__(self, n_neighbors: int = 200, space: str = "contributions",
                 exclude_self: bool = True, algorithm: str = "auto",
                 single_output: str = "auto", n_jobs: int | None = None,
                 chunk_size: int | None = None, *, model: Any = None,
                 random_state: int | np.random.Generator | None = None,
                 distinct: bool = False):
        self.distinct = distinct
        self.model = model
        self.random_state = random_state
        self.n_neighbors = n_neighbors
        self.space = space
        self.exclude_self = exclude_self
        self.algorithm = algorithm
        self.single_output = single_output
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size

    # ------------------------------------------------------------------ fit
    def _check_settings(self) -> int:
        """The constructor's settings checked (scikit-learn checks them in ``fit``); K."""
        check_option(self.space, "space", SPACES)
        if self.chunk_size is not None:
            check_int(self.chunk_size, "chunk_size", low=1)
        if self.n_jobs is not None:
            check_int(self.n_jobs, "n_jobs", low=-1)
        check_option(self.single_output, "single_output", SINGLE_OUTPUT_OPTIONS)
        if not isinstance(self.exclude_self, (bool, np.bool_)):
            raise TypeError(f"exclude_self must be a bool; got {type(self.exclude_self).__name__}")
        return check_int(self.n_neighbors, "n_neighbors", low=1)

    def fit(self, X: pd.DataFrame | np.ndarray, y: Any = None, *args: Any,
            contributions: Any = None, feature_names: Sequence[str] | None = None,
            random_state: Any = _UNSET, progress: bool = True) -> NeighborhoodModel:
        """Index the training data ``X`` of the model in ``space``.

        Parameters
        ----------
        X : DataFrame or ndarray (n, m)
            The data the model was trained on, in the form the model takes.
        y : array-like (n,)
            Training labels (the model's label space).
        contributions : shap.Explanation, ndarray, torch tensor or tuple, optional
            ``(n, m)`` single-output or ``(n, m, n_classes)`` values for the rows of ``X``
            (also accepted as the third positional argument). None: computed with
            :func:`shap_debug.contributions.explain` when ``space`` is ``"contributions"``;
            otherwise left out (``explanation_`` is then None).
        feature_names : sequence of str, optional
            Names for the columns of an ndarray ``X`` (default: DataFrame columns, the
            explanation's names, or ``"Feature i"``).
        random_state : deprecated
            Give it to the constructor.
        progress : bool
            Progress bars while contributions are computed and, later, over the chunks of
            large neighbour queries (:meth:`occurrence`).

        Notes
        -----
        The former call ``fit(model, X, y, contributions)`` still works, with a
        ``FutureWarning`` and its former default seed 0: give the model to the constructor
        instead, ``NeighborhoodModel(model=model).fit(X, y)``.
        """
        if not isinstance(self.distinct, (bool, np.bool_)):
            raise TypeError(f"distinct must be a bool; got {type(self.distinct).__name__}")
        model, X, y, contributions = self._fit_arguments(X, y, args, contributions)
        if random_state is _UNSET:
            random_state = self.random_state
            if random_state is None and model is not self.model:
                random_state = 0   # the former fit(model, X, y) seeded explain with 0
        else:
            warnings.warn("NeighborhoodModel.fit(random_state=...) is deprecated; give "
                          "random_state to the constructor", FutureWarning, stacklevel=2)
        check_random_state(random_state)
        k = self._check_settings()
        if y is None:
            raise ValueError("NeighborhoodModel requires y to be passed, but the target y "
                             "is None: fit(X, y) with the training labels")
        Xv, yv = check_X_y(X, y, allow_nan=True)
        names = feature_names_of(Xv, feature_names)
        n = len(Xv)
        if n < 2:
            raise ValueError(f"a neighbourhood model needs at least 2 training rows; got "
                             f"n_samples={n}")
        limit = n - 1 if self.exclude_self else n
        if k > limit:
            raise ValueError(
                f"n_neighbors must be <= {limit} (the training set has {n} rows"
                f"{', minus the row itself' if self.exclude_self else ''}); got {k}")
        if model is self.model:  # the former fit(model, X, y) took a fitted model as it is
            model = _fitted_model(model, Xv, yv, random_state)
        check_classifier(model)
        check_missing_supported(model, Xv)
        if contributions is not None:
            check_explanation(contributions, Xv, name="contributions")

        proba = predict_proba_fn(model)(Xv)
        if proba.ndim != 2 or proba.shape[0] != n:
            raise ValueError(f"model.predict_proba returned shape {proba.shape}; expected ({n}, k)")
        classes = classes_of(model, proba.shape[1])
        predicted = proba.argmax(axis=1)
        predicted_labels = classes[predicted]
        if not np.isin(yv, classes).all():
            bad = np.setdiff1d(np.unique(yv), classes)[:5].tolist()
            raise ValueError(f"y holds labels the model does not know: {bad}; "
                             f"model classes are {classes.tolist()}")

        if contributions is None and self.space == "contributions":
            contributions = explain(model, Xv, random_state=random_state, progress=progress)
        data, display = _numeric_view(Xv)
        if contributions is not None:
            if (feature_names is None and isinstance(contributions, shap.Explanation)
                    and contributions.feature_names is not None):
                fn = contributions.feature_names
                if not isinstance(fn, str) and len(fn) == data.shape[1]:
                    names = [str(f) for f in fn]
            explanation = _predicted_class_explanation(
                contributions, predicted, proba, self.single_output, data, display, names)
            contrib = np.asarray(explanation.values)
        else:
            contrib, explanation = None, None

        scaler = StandardScaler().fit(data)
        scaled = np.nan_to_num(scaler.transform(data), nan=0.0)  # missing: at the mean
        spaces = {"contributions": contrib, "features": scaled, "probabilities": proba}
        matrix = np.ascontiguousarray(spaces[self.space], dtype=np.float64)

        self.model_, self.X_, self.y_ = model, Xv, yv
        self.n_features_in_ = Xv.shape[1]
        columns = getattr(Xv, "columns", None)
        if columns is not None and all(isinstance(c, str) for c in columns):
            self.feature_names_in_ = np.asarray(columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.classes_ = classes
        self.proba_ = proba
        self.predicted_ = predicted
        self.predicted_labels_ = predicted_labels
        self.anomalies_ = np.flatnonzero(predicted_labels != yv)
        self.contributions_ = contrib
        self.explanation_ = explanation
        self.feature_names_ = names
        self.numeric_X_ = data
        self.feature_matrix_ = scaled
        self.feature_scaler_ = scaler
        self.space_matrix_ = matrix
        index = DistinctIndex if self.distinct else NearestNeighbors
        self.nn_ = index(algorithm=self.algorithm, n_jobs=self.n_jobs).fit(matrix)
        self.progress_ = bool(progress)
        self._occurrence_cache: dict = {}
        self._positions = None
        if len(self.anomalies_) == 0:
            warn("the model predicts every training row correctly: there are no anomalies")
        return self

    def _fit_arguments(self, X: Any, y: Any, args: tuple, contributions: Any
                       ) -> tuple[Any, Any, Any, Any]:
        """``(model, X, y, contributions)`` from ``fit(X, y[, c])`` or the former
        ``fit(model, X, y[, c])`` (with a FutureWarning)."""
        if _is_model(X):
            warnings.warn("NeighborhoodModel.fit(model, X, y) is deprecated; give the model "
                          "to the constructor: NeighborhoodModel(model=model, ...).fit(X, y)",
                          FutureWarning, stacklevel=3)
            if len(args) > 2 or (len(args) == 2 and contributions is not None):
                raise TypeError("fit(model, X, y, contributions) takes at most 4 arguments")
            if not args:
                raise TypeError("fit(model, X, y): y is missing")
            model, X, y = X, y, args[0]
            return model, X, y, args[1] if len(args) == 2 else contributions
        if len(args) > 1 or (args and contributions is not None):
            raise TypeError(f"fit takes (X, y[, contributions]), or the former (model, X, y[, "
                            f"contributions]) with a model that has predict_proba; got "
                            f"{len(args) + 2} arguments, the first a {type(X).__name__}")
        if self.model is None:
            raise TypeError("NeighborhoodModel needs a model: NeighborhoodModel(model=clf, "
                            "...).fit(X, y)")
        return self.model, X, y, args[0] if args else contributions

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # the sampling estimator behind unseeded contributions draws permutations
        tags.non_deterministic = self.space == "contributions" and self.random_state is None
        return tags

    def _check_fitted(self) -> None:
        if not hasattr(self, "nn_"):
            raise ValueError("this NeighborhoodModel is not fitted yet; call fit(X, y)")

    # ------------------------------------------------------------------ queries
    def kneighbors(self, rows: Any, n_neighbors: int | None = None,
                   exclude_self: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Nearest training rows of training rows ``rows`` (one batched query).

        Parameters
        ----------
        rows : int or sequence of int
            Training row indices to query.
        n_neighbors : int, optional
            Defaults to the model's ``n_neighbors``.
        exclude_self : bool, optional
            Defaults to the model's ``exclude_self``. When True, each queried row is removed
            from its own result (wherever duplicates put it), keeping ``K`` other rows.

        Returns
        -------
        distances, indices : ndarrays of shape (q, K), nearest first
        """
        self._check_fitted()
        rows, k, excl = self._query_args(rows, n_neighbors, exclude_self, "rows")
        if len(rows) == 0:
            return np.empty((0, k)), np.empty((0, k), dtype=np.int64)
        parts = list(self._chunks(rows, k, excl, progress=False))
        return (np.concatenate([d for _, d, _ in parts]),
                np.concatenate([i for _, _, i in parts]))

    def _query_args(self, rows: Any, n_neighbors: int | None, exclude_self: bool | None,
                    name: str) -> tuple[np.ndarray, int, bool]:
        n = len(self.space_matrix_)
        rows = check_indices(rows, n, name)
        excl = self.exclude_self if exclude_self is None else exclude_self
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        limit = n - 1 if excl else n
        k = check_int(k, "n_neighbors", low=1, high=limit)
        return rows, k, bool(excl)

    def _chunk_rows(self, k: int) -> int:
        if self.chunk_size is not None:
            check_int(self.chunk_size, "chunk_size", low=1)
        return chunk_rows(k, self.chunk_size)

    def _chunks(self, rows: np.ndarray, k: int, excl: bool, progress: bool,
                desc: str = "kNN queries") -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        size = self._chunk_rows(k)
        starts = range(0, len(rows), size)
        nn = self.nn_
        if self.n_jobs not in (None, 1) and len(starts) > 1:
            nn = copy.copy(self.nn_)  # parallel chunks: no threads inside each query
            nn.n_jobs = 1
        items = [(nn, self.space_matrix_[rows[s:s + size]], rows[s:s + size] if excl else None,
                  k) for s in starts]
        results = _stream(_query_chunk, items, self.n_jobs)
        show = progress and len(items) > 1
        for s, (dist, idx) in zip(starts, progress_iter(results, progress=show, desc=desc,
                                                        total=len(items), unit="chunk")):
            yield rows[s:s + size], dist, idx

    def iter_kneighbors(self, rows: Any, n_neighbors: int | None = None,
                        exclude_self: bool | None = None, *, progress: bool | None = None,
                        desc: str = "kNN queries", in_order: bool = True
                        ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`kneighbors` in chunks of ``chunk_size`` query rows, for callers that only
        accumulate (counts, sets): memory stays ``chunk_size * K``.

        Parameters
        ----------
        rows, n_neighbors, exclude_self
            As in :meth:`kneighbors`.
        progress : bool, optional
            tqdm bar over the chunks (default: the ``progress`` given to :meth:`fit`).
        in_order : bool, default True
            False: visit the rows in the index's own order (rows of one tree leaf
            together), so consecutive queries walk the same nodes and data while they are
            in the CPU cache (12-15 % less CPU per query at 26k-104k rows of Adult,
            `benchmarks/scale.py --knn`).
            Each row's neighbours are the same; only the order of the chunks' rows changes
            (for callers that count).

        Yields
        ------
        rows, distances, indices : ndarrays of shape (c,), (c, K), (c, K)
            One chunk of query rows and their neighbours; with ``in_order``, in the order
            of ``rows`` and the concatenation equals :meth:`kneighbors`.
        """
        self._check_fitted()
        rows, k, excl = self._query_args(rows, n_neighbors, exclude_self, "rows")
        if len(rows) == 0:
            return iter(())
        show = self.progress_ if progress is None else bool(progress)
        if not in_order:
            rows = rows[np.argsort(self._index_position()[rows], kind="stable")]
        return self._chunks(rows, k, excl, progress=show, desc=desc)

    def _index_position(self) -> np.ndarray:
        """Each training row's place in the tree's own order (leaves contiguous); the row
        number itself for brute force."""
        if getattr(self, "_positions", None) is None:
            self._positions = index_positions(self.nn_, len(self.space_matrix_))
        return self._positions

    def kneighbors_vectors(self, vectors: Any, n_neighbors: int | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest training rows of points given directly in the model's space.

        For rows outside the training set (e.g. a mispredicted test row): pass its
        contribution vector towards its predicted class (``space="contributions"``), its
        standardised features (``space="features"``, use ``feature_scaler_``) or its
        predicted probabilities (``space="probabilities"``).

        Parameters
        ----------
        vectors : array-like of shape (q, d) or (d,)
            ``d`` is ``space_matrix_.shape[1]``.

        Returns
        -------
        distances, indices : ndarrays of shape (q, K)
        """
        self._check_fitted()
        v = np.asarray(vectors, dtype=np.float64)
        if v.ndim == 1:
            v = v[None, :]
        d = self.space_matrix_.shape[1]
        if v.ndim != 2 or v.shape[1] != d:
            raise ValueError(f"vectors must have shape (q, {d}) in {self.space} space; "
                             f"got {np.shape(vectors)}")
        if not np.isfinite(v).all():
            raise ValueError("vectors contain NaN or infinite values")
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        k = check_int(k, "n_neighbors", low=1, high=len(self.space_matrix_))
        size = self._chunk_rows(k)
        parts = [_query_chunk(self.nn_, v[s:s + size], None, k) for s in range(0, len(v), size)]
        return (np.concatenate([d for d, _ in parts]), np.concatenate([i for _, i in parts]))

    def _neighborhood(self, row: int, dist: np.ndarray, idx: np.ndarray) -> Neighborhood:
        exp = self.explanation_[idx] if self.explanation_ is not None else None
        rows = (self.X_.iloc[idx] if isinstance(self.X_, pd.DataFrame)
                else pd.DataFrame(self.X_[idx], columns=self.feature_names_, index=idx))
        a, b = self.numeric_X_[row], self.numeric_X_[idx]
        duplicates = ((b == a) | (np.isnan(b) & np.isnan(a))).all(axis=1)
        return Neighborhood(
            anomaly=int(row), indices=idx, distances=dist, space=self.space,
            duplicates=duplicates,
            explanation=exp, labels=self.y_[idx], predicted=self.predicted_labels_[idx],
            anomaly_label=self.y_[row].item() if hasattr(self.y_[row], "item") else self.y_[row],
            anomaly_predicted=(self.predicted_labels_[row].item()
                               if hasattr(self.predicted_labels_[row], "item")
                               else self.predicted_labels_[row]),
            anomaly_values=(self.contributions_[row].copy()
                            if self.contributions_ is not None else None),
            rows=rows)

    def neighbors(self, anomaly: int | Sequence[int],
                  exclude_self: bool | None = None) -> Neighborhood | list[Neighborhood]:
        """The neighborhood of one training row (a :class:`Neighborhood`), or a list of them
        for a sequence of rows (one batched query)."""
        self._check_fitted()
        single = np.ndim(anomaly) == 0
        rows = check_indices(anomaly, len(self.space_matrix_), "anomaly")
        dist, idx = self.kneighbors(rows, exclude_self=exclude_self)
        out = [self._neighborhood(r, d, i) for r, d, i in zip(rows, dist, idx)]
        return out[0] if single else out

    def occurrence(self, anomalies: Any = None, exclude_self: bool | None = None) -> Occurrence:
        """Count how often each training row is in the anomalies' neighborhoods (Fig. 3).

        Parameters
        ----------
        anomalies : sequence of int, optional
            Rows to query; default all of ``anomalies_`` (that result is computed once and
            kept).
        exclude_self : bool, optional
            Defaults to the model's ``exclude_self``.

        The anomalies are queried in chunks of ``chunk_size`` rows and their neighbours
        counted chunk by chunk, so memory stays ``chunk_size * K`` whatever the number of
        anomalies; the work is ``n_anomalies * K * log(n)`` (KD-tree).
        """
        self._check_fitted()
        n = len(self.space_matrix_)
        rows = self.anomalies_ if anomalies is None else check_indices(anomalies, n, "anomalies")
        excl = self.exclude_self if exclude_self is None else bool(exclude_self)
        cache = getattr(self, "_occurrence_cache", {})
        key = (excl, int(self.n_neighbors))
        if anomalies is None and key in cache:
            return cache[key]
        counts = np.zeros(n, dtype=np.int64)
        for _, _, idx in self.iter_kneighbors(rows, exclude_self=excl, desc="occurrence",
                                              in_order=False):
            counts += np.bincount(idx.ravel(), minlength=n)
        out = Occurrence(counts=counts, anomalies=np.asarray(rows, dtype=np.int64),
                         n_neighbors=int(self.n_neighbors), space=self.space,
                         labels=self.y_, predicted=self.predicted_labels_)
        if anomalies is None:
            cache[key] = out
            self._occurrence_cache = cache
        return out
