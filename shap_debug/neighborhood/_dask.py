"""Contributions and influential neighbourhoods of data larger than one machine's memory.

The background (method, references, design choices) is in ``docs/scale.md``, section
"Design notes", ``shap_debug.neighborhood._dask``.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    check_anomalies,
    check_classifier,
    check_indices,
    check_int,
    check_known_labels,
    check_random_state,
    classes_of,
    explanation_values,
    predict_proba_fn,
    warn,
)

__all__ = ["DaskNeighborhoodModel", "read_rows"]

_PHI = "phi:"


_UNSET: Any = object()   # fit(random_state=...) not given


def read_rows(data: Any, columns: Sequence[str] | None = None):
    """A ``dask.dataframe.DataFrame`` from a path to Parquet files or a (dask) DataFrame.

    Parameters
    ----------
    data : str, Path, dask DataFrame or pandas DataFrame
        Parquet file, directory or glob; a pandas frame is split into partitions of about
        100,000 rows.
    columns : sequence of str, optional
        Columns to read (Parquet reads only these).
    """
    import dask.dataframe as dd

    if isinstance(data, (str, Path)):
        return dd.read_parquet(str(data), columns=list(columns) if columns else None)
    if isinstance(data, pd.DataFrame):
        ddf = dd.from_pandas(data, npartitions=max(1, int(np.ceil(len(data) / 100_000))))
    elif isinstance(data, dd.DataFrame):
        ddf = data
    else:
        raise TypeError("data must be a path to Parquet files, a dask DataFrame or a pandas "
                        f"DataFrame; got {type(data).__name__}")
    return ddf[list(columns)] if columns else ddf


def _model_input(frame: pd.DataFrame, as_frame: bool) -> Any:
    return frame.reset_index(drop=True) if as_frame else frame.to_numpy(dtype=np.float64)


def _explain_partition(part: pd.DataFrame, partition_info: dict | None = None, *,
                       model: Any, features: list[str], label: str, background: Any,
                       rng: np.random.Generator, offsets: np.ndarray, as_frame: bool,
                       method: str, explain_kwargs: dict) -> pd.DataFrame:
    """One partition's rows reduced to their contributions towards the predicted class."""
    from ..contributions import explain

    number = 0 if partition_info is None else int(partition_info["number"])
    X = _model_input(part[features], as_frame)
    n = len(part)
    out = pd.DataFrame(index=pd.RangeIndex(offsets[number], offsets[number] + n, name="row"))
    for f in features:
        out[_PHI + f] = np.zeros(n)
    out["base"] = np.zeros(n)
    out["proba"] = np.zeros(n)
    out["predicted"] = np.zeros(n, dtype=np.int64)
    out["label"] = part[label].to_numpy()
    if n == 0:
        return out
    proba = predict_proba_fn(model)(X)
    pred = proba.argmax(1)
    exp = explain(model, X, background, method=method, random_state=copy.deepcopy(rng),
                  progress=False, **explain_kwargs)
    rows = np.arange(n)
    vals = explanation_values(exp)[rows, :, pred]
    out.loc[:, [_PHI + f for f in features]] = vals
    out["base"] = np.asarray(exp.base_values, dtype=np.float64)[rows, pred]
    out["proba"] = proba[rows, pred]
    out["predicted"] = pred
    return out


class DaskNeighborhoodModel:
    """Contribution-space neighbourhoods (Rasouli & Yu 2021) of rows read by partitions.

    The same model as :class:`~shap_debug.neighborhood.NeighborhoodModel` with
    ``space="contributions"``, for rows given as Parquet files or a dask DataFrame: see the
    module docstring for what runs where and the memory it needs.

    Parameters
    ----------
    n_neighbors : int, default 200
        ``K``.
    exclude_self : bool, default True
        Leave the queried row out of its own neighbourhood.
    algorithm : str, default "auto"
        Passed to :class:`sklearn.neighbors.NearestNeighbors`.
    n_background : int, default 100
        Background rows of the contributions, drawn from all partitions with the seed.
    method : str, default "auto"
        Passed to :func:`shap_debug.explain`.
    n_jobs : int or None
        Query chunks over joblib workers (a Dask cluster's under
        ``joblib.parallel_backend("dask")``).
    chunk_size : int, optional
        Query rows per chunk (default about ``4e6 / (K + 1)``).
    explain_kwargs : dict, optional
        More keyword arguments for :func:`shap_debug.explain` (e.g. ``n_permutations``).
    random_state : int, Generator or None, keyword only
        Seeds the background draw and the sampling estimator, as in the in-memory run.

    Attributes
    ----------
    n_rows_ : int
    offsets_ : ndarray of int, the global row number of each partition's first row
    classes_ : ndarray, the model's classes
    labels_ : ndarray (n,), the label column
    predicted_ : ndarray of int (n,), predicted class index
    predicted_labels_ : ndarray (n,)
    confidence_ : ndarray (n,), probability of the predicted class
    anomalies_ : ndarray of int, global rows where the prediction differs from the label
    contributions_ : ndarray (n, m), contributions towards each row's predicted class
    base_values_ : ndarray (n,), their base values
    table_ : dask DataFrame, the per-row table (persisted, or read back from ``store``)
    nn_ : the fitted :class:`~sklearn.neighbors.NearestNeighbors`

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, enc = encode(X)
    >>> lr = LogisticRegression(C=0.1, max_iter=5000).fit(Z, y)
    >>> frame = pd.DataFrame(Z, columns=enc.feature_names_out_).assign(label=y)
    >>> nbm = DaskNeighborhoodModel(50, random_state=0).fit(lr, frame, "label", progress=False)
    >>> bool(nbm.occurrence().counts.sum() == 50 * len(nbm.anomalies_))
    True
    """

    def __init__(self, n_neighbors: int = 200, *, exclude_self: bool = True,
                 algorithm: str = "auto", n_background: int = 100, method: str = "auto",
                 n_jobs: int | None = None, chunk_size: int | None = None,
                 explain_kwargs: dict | None = None,
                 random_state: int | np.random.Generator | None = None):
        self.random_state = random_state
        self.n_neighbors = n_neighbors
        self.exclude_self = exclude_self
        self.algorithm = algorithm
        self.n_background = n_background
        self.method = method
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size
        self.explain_kwargs = explain_kwargs

    def __repr__(self) -> str:
        return (f"DaskNeighborhoodModel(n_neighbors={self.n_neighbors}, "
                f"n_rows={getattr(self, 'n_rows_', None)})")

    # ------------------------------------------------------------------ fit
    def fit(self, model: Any, data: Any, label: str, *, features: Sequence[str] | None = None,
            as_frame: bool | None = None, random_state: Any = _UNSET,
            store: str | Path | None = None, progress: bool = True) -> DaskNeighborhoodModel:
        """Explain every partition, then index the contributions.

        Parameters
        ----------
        model : fitted classifier
        data : str, Path, dask DataFrame or pandas DataFrame
            The training rows with their label column (see :func:`read_rows`).
        label : str
            The label column.
        features : sequence of str, optional
            The model's input columns, in its order (default: every other column).
        as_frame : bool, optional
            Give the model each partition as a DataFrame (True) or a float array (False).
            Default: a DataFrame when the model was fitted on one (``feature_names_in_``).
        random_state : deprecated
            Give it to the constructor (it seeds the background draw and the sampling
            estimator, as in the in-memory run).
        store : str or Path, optional
            Write the per-row table to this Parquet directory and read it back lazily
            (out of core); default: persist it in the cluster's (or this process's) memory.
        progress : bool
            Progress bars (a Dask progress bar on the local schedulers; the dashboard shows
            a cluster's).
        """
        from sklearn.neighbors import NearestNeighbors

        if random_state is _UNSET:
            random_state = self.random_state
        else:
            warnings.warn("DaskNeighborhoodModel.fit(random_state=...) is deprecated; give "
                          "random_state to the constructor", FutureWarning, stacklevel=2)
        check_classifier(model)
        k = check_int(self.n_neighbors, "n_neighbors", low=1)
        check_int(self.n_background, "n_background", low=1)
        if self.chunk_size is not None:
            check_int(self.chunk_size, "chunk_size", low=1)
        ddf = read_rows(data)
        if label not in ddf.columns:
            raise ValueError(f"label column {label!r} is not in the data; columns are "
                             f"{list(ddf.columns)}")
        features = [c for c in ddf.columns if c != label] if features is None else list(
            features)
        missing = [f for f in features if f not in ddf.columns]
        if missing or not features:
            raise ValueError(f"features {missing or features} are not columns of the data")
        if as_frame is None:
            as_frame = hasattr(model, "feature_names_in_")
        lengths = np.asarray(ddf.map_partitions(len).compute(), dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        n = int(lengths.sum())
        limit = n - 1 if self.exclude_self else n
        if k > limit:
            raise ValueError(f"n_neighbors must be <= {limit} (the data have {n} rows); got {k}")
        rng = check_random_state(random_state)
        take = np.sort(rng.choice(n, size=min(self.n_background, n), replace=False))
        background = _model_input(_rows_at(ddf[features], take, offsets), as_frame)
        # labels the model does not know would make every row an anomaly: refused before
        # any contribution is computed, as the in-memory NeighborhoodModel does
        known = classes_of(model, predict_proba_fn(model)(background).shape[1])
        check_known_labels(ddf[label].dropna().unique().compute(), known,
                           f"label column {label!r}")
        meta = _explain_partition(ddf._meta, model=model, features=features, label=label,
                                  background=background, rng=rng, offsets=np.zeros(1, int),
                                  as_frame=as_frame, method=self.method,
                                  explain_kwargs=dict(self.explain_kwargs or {}))
        table = ddf.map_partitions(
            _explain_partition, model=model, features=features, label=label,
            background=background, rng=rng, offsets=offsets, as_frame=as_frame,
            method=self.method, explain_kwargs=dict(self.explain_kwargs or {}), meta=meta)
        with _dask_progress(progress):
            if store is not None:
                table.to_parquet(str(store), write_index=True)
                table = read_rows(store)
            else:
                table = table.persist()
            small = table[["proba", "predicted", "label", "base"]].compute()
            contrib = table[[_PHI + f for f in features]].compute()
        classes = classes_of(model, predict_proba_fn(model)(background).shape[1])
        pred = small["predicted"].to_numpy(np.int64)
        self.n_rows_, self.offsets_, self.data_ = n, offsets, ddf
        self.features_, self.label_, self.as_frame_ = features, label, bool(as_frame)
        self.classes_ = classes
        self.labels_ = small["label"].to_numpy()
        self.predicted_ = pred
        self.predicted_labels_ = classes[pred]
        self.confidence_ = small["proba"].to_numpy(np.float64)
        self.base_values_ = small["base"].to_numpy(np.float64)
        self.anomalies_ = np.flatnonzero(self.predicted_labels_ != self.labels_)
        self.contributions_ = np.ascontiguousarray(contrib.to_numpy(np.float64))
        self.table_ = table
        self.progress_ = bool(progress)
        self.nn_ = NearestNeighbors(algorithm=self.algorithm).fit(self.contributions_)
        self._occurrence: dict = {}
        if len(self.anomalies_) == 0:
            warn("the model predicts every row correctly: there are no anomalies")
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "nn_"):
            raise ValueError("this DaskNeighborhoodModel is not fitted yet; call fit(model, "
                             "data, label)")

    # ------------------------------------------------------------------ queries
    def iter_kneighbors(self, rows: Any, n_neighbors: int | None = None,
                        exclude_self: bool | None = None, *, progress: bool | None = None,
                        desc: str = "kNN queries", in_order: bool = True
                        ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Chunks ``(rows, distances, indices)`` of the neighbours of global rows ``rows``,
        as :meth:`NeighborhoodModel.iter_kneighbors
        <shap_debug.neighborhood.NeighborhoodModel.iter_kneighbors>`."""
        from ..core import progress_iter
        from ._query import _query_chunk, _stream, chunk_rows, index_positions

        self._check_fitted()
        rows = check_indices(rows, self.n_rows_, "rows")
        if not in_order:
            rows = rows[np.argsort(index_positions(self.nn_, self.n_rows_)[rows], kind="stable")]
        excl = self.exclude_self if exclude_self is None else bool(exclude_self)
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        k = check_int(k, "n_neighbors", low=1, high=self.n_rows_ - 1 if excl else self.n_rows_)
        size = chunk_rows(k, self.chunk_size)
        starts = range(0, len(rows), size)
        nn = self.nn_
        if self.n_jobs not in (None, 1) and len(starts) > 1:
            nn = copy.copy(self.nn_)
            nn.n_jobs = 1
        items = [(nn, self.contributions_[rows[s:s + size]], rows[s:s + size] if excl else None,
                  k) for s in starts]
        show = (self.progress_ if progress is None else bool(progress)) and len(items) > 1
        results = progress_iter(_stream(_query_chunk, items, self.n_jobs), progress=show,
                                desc=desc, total=len(items), unit="chunk")
        for s, (dist, idx) in zip(starts, results):
            yield rows[s:s + size], dist, idx

    def kneighbors(self, rows: Any, n_neighbors: int | None = None,
                   exclude_self: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Distances and global row numbers of the ``K`` nearest rows, shape (q, K)."""
        parts = list(self.iter_kneighbors(rows, n_neighbors, exclude_self, progress=False))
        if not parts:
            k = self.n_neighbors if n_neighbors is None else n_neighbors
            return np.empty((0, k)), np.empty((0, k), dtype=np.int64)
        return (np.concatenate([d for _, d, _ in parts]),
                np.concatenate([i for _, _, i in parts]))

    def occurrence(self, anomalies: Any = None):
        """How often each row is in the anomalies' neighbourhoods (an
        :class:`~shap_debug.neighborhood.Occurrence`), counted chunk by chunk."""
        from ._results import Occurrence

        self._check_fitted()
        if anomalies is None and "default" in self._occurrence:
            return self._occurrence["default"]
        rows = self.anomalies_ if anomalies is None else check_anomalies(anomalies, self.n_rows_)
        counts = np.zeros(self.n_rows_, dtype=np.int64)
        for _, _, idx in self.iter_kneighbors(rows, desc="occurrence", in_order=False):
            counts += np.bincount(idx.ravel(), minlength=self.n_rows_)
        out = Occurrence(counts=counts, anomalies=np.asarray(rows, dtype=np.int64),
                         n_neighbors=int(self.n_neighbors), space="contributions",
                         labels=self.labels_, predicted=self.predicted_labels_)
        if anomalies is None:
            self._occurrence["default"] = out
        return out

    def rows(self, indices: Any) -> pd.DataFrame:
        """The rows ``indices`` (global row numbers) of the data, read from their
        partitions only, indexed by row number, in the order asked."""
        self._check_fitted()
        idx = check_indices(indices, self.n_rows_, "indices")
        return _rows_at(self.data_, idx, self.offsets_)

    def neighbors(self, anomaly: int):
        """The :class:`~shap_debug.neighborhood.Neighborhood` of one row, its neighbours'
        feature values read from their partitions."""
        import shap

        from ._results import Neighborhood

        self._check_fitted()
        row = check_int(anomaly, "anomaly", low=0, high=self.n_rows_ - 1)
        dist, idx = self.kneighbors([row])
        dist, idx = dist[0], idx[0]
        frame = self.rows(np.r_[row, idx])
        feats = frame[self.features_]
        numeric = feats.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        dup = (numeric[1:] == numeric[0]).all(axis=1)
        exp = shap.Explanation(values=self.contributions_[idx],
                               base_values=self.base_values_[idx], data=numeric[1:],
                               feature_names=list(self.features_),
                               output_names="contributions towards the predicted class "
                                            "(target=predicted)")
        def item(v: Any) -> Any:
            return v.item() if hasattr(v, "item") else v

        return Neighborhood(
            anomaly=row, indices=idx, distances=dist, space="contributions",
            explanation=exp, labels=self.labels_[idx], predicted=self.predicted_labels_[idx],
            anomaly_label=item(self.labels_[row]),
            anomaly_predicted=item(self.predicted_labels_[row]),
            anomaly_values=self.contributions_[row].copy(), rows=feats.iloc[1:], duplicates=dup)


def _rows_at(ddf: Any, rows: np.ndarray, offsets: np.ndarray) -> pd.DataFrame:
    """Rows at global positions ``rows`` (in that order), reading only their partitions."""
    import dask

    rows = np.asarray(rows, dtype=np.int64)
    part_of = np.searchsorted(offsets, rows, side="right") - 1
    wanted = np.unique(part_of)
    parts = dask.compute(*[ddf.get_partition(int(p)) for p in wanted])
    pieces = []
    for p, frame in zip(wanted, parts):
        mine = rows[part_of == p]
        piece = frame.iloc[mine - offsets[p]].copy()
        piece.index = pd.Index(mine, name="row")
        pieces.append(piece)
    out = pd.concat(pieces) if pieces else ddf._meta.copy()
    return out.loc[rows]


def _dask_progress(progress: bool):
    """Dask's progress bar on the local schedulers (a cluster has its dashboard)."""
    import contextlib

    if not progress:
        return contextlib.nullcontext()
    try:
        from distributed import get_client

        get_client()
        return contextlib.nullcontext()
    except (ImportError, ValueError):
        from dask.diagnostics import ProgressBar

        return ProgressBar()

