"""Chunked k-nearest-neighbour queries: one chunk's query (with the queried row left out of
its own result) and an ordered stream of chunks over joblib workers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["CHUNK_ENTRIES", "DistinctIndex", "chunk_rows"]

#: neighbour entries (rows x K) one query chunk holds by default: 4M, i.e. 64 MB of
#: distances and indices
CHUNK_ENTRIES = 4_000_000


def _query_chunk(nn: Any, q: np.ndarray, rows: np.ndarray | None, k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``K`` nearest indexed rows of the vectors ``q``; with ``rows`` (the queried training
    rows), each row is removed from its own result (the index is asked for ``K + 1``)."""
    n = nn.n_samples_fit_
    if rows is None:
        dist, idx = nn.kneighbors(q, n_neighbors=k)
        return dist, idx.astype(np.int64)
    dist, idx = nn.kneighbors(q, n_neighbors=min(k + 1, n))
    is_self = idx == rows[:, None]
    # drop the row itself, or the farthest when ties put it beyond the k+1
    drop = np.where(is_self.any(1), is_self.argmax(1), idx.shape[1] - 1)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(len(rows)), drop] = False
    idx = idx[keep].reshape(len(rows), -1)[:, :k]
    dist = dist[keep].reshape(len(rows), -1)[:, :k]
    return dist, idx.astype(np.int64)


def _stream(fn: Any, items: list, n_jobs: int | None) -> Iterator[Any]:
    """``fn(*item)`` for each item, in order, as a generator: joblib (threads here, a Dask
    cluster's workers under its backend) keeps only a few chunks in flight."""
    if n_jobs in (None, 1) or len(items) <= 1:
        for it in items:
            yield fn(*it)
        return
    from joblib import Parallel, delayed

    yield from Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
        delayed(fn)(*it) for it in items)


def index_positions(nn: Any, n: int) -> np.ndarray:
    """Each indexed row's place in a fitted ``NearestNeighbors``' tree order (the rows of a
    leaf together); the row number itself for brute force. Queries sorted by it walk the
    same nodes one after the other, while they are in the CPU cache."""
    if hasattr(nn, "row_positions"):  # DistinctIndex
        return nn.row_positions()
    tree = getattr(nn, "_tree", None)
    order = np.asarray(tree.get_arrays()[1]) if hasattr(tree, "get_arrays") else np.arange(n)
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    return pos


def chunk_rows(k: int, chunk_size: int | None = None) -> int:
    """Query rows per chunk: ``chunk_size``, or :data:`CHUNK_ENTRIES` neighbour entries."""
    return int(chunk_size) if chunk_size is not None else max(1, CHUNK_ENTRIES // (k + 1))


class DistinctIndex:
    """A nearest-neighbour index over the *distinct* rows of a matrix, with multiplicities.

    Exact ties (rows with the same vector: 97 % of 64x-replicated Adult's contribution
    vectors) are one index point that stands for all its rows; a query asks the index for
    enough distinct points to cover ``K`` rows (and every point tied with the ``K``-th
    distance), expands them back to their rows and keeps the ``K`` nearest. Rows at equal
    distance are ordered by row number, so the result is deterministic; the distances are
    the full index's, and the rows differ from it only in which of the rows tied at the
    ``K``-th distance are kept (the full index leaves that order to its tree).

    It answers ``kneighbors(q, n_neighbors=k)`` and ``n_samples_fit_`` like the
    :class:`~sklearn.neighbors.NearestNeighbors` it wraps, so :func:`_query_chunk` uses it
    unchanged.

    Examples
    --------
    >>> M = np.array([[0.0], [0.0], [1.0], [0.0], [3.0]])
    >>> idx = DistinctIndex().fit(M)
    >>> idx.n_distinct_, idx.n_samples_fit_
    (3, 5)
    >>> idx.kneighbors(np.array([[0.2]]), n_neighbors=4)[1].tolist()
    [[0, 1, 3, 2]]
    """

    def __init__(self, algorithm: str = "auto", n_jobs: int | None = None) -> None:
        self.algorithm = algorithm
        self.n_jobs = n_jobs

    def fit(self, matrix: np.ndarray) -> DistinctIndex:
        from sklearn.neighbors import NearestNeighbors

        matrix = np.asarray(matrix, dtype=np.float64)
        distinct, inverse, counts = np.unique(matrix, axis=0, return_inverse=True,
                                              return_counts=True)
        inverse = np.asarray(inverse).ravel()
        self.n_samples_fit_ = len(matrix)
        self.n_distinct_ = len(distinct)
        self.counts_ = counts.astype(np.int64)
        self.rows_ = np.argsort(inverse, kind="stable")          # rows grouped, in order
        self.starts_ = np.concatenate([[0], np.cumsum(self.counts_)])
        self.distinct_ = distinct
        self.nn_ = NearestNeighbors(algorithm=self.algorithm, n_jobs=self.n_jobs).fit(distinct)
        return self

    def __copy__(self) -> DistinctIndex:
        import copy

        new = object.__new__(DistinctIndex)
        new.__dict__.update(self.__dict__)
        new.nn_ = copy.copy(self.nn_)  # so setting n_jobs on the copy leaves this one alone
        return new

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "n_jobs" and "nn_" in self.__dict__:
            self.nn_.n_jobs = value

    def row_positions(self) -> np.ndarray:
        """Each row's place in the index's tree order (rows of one distinct point, then of
        one leaf, together)."""
        point = index_positions(self.nn_, self.n_distinct_)
        owner = np.empty(self.n_samples_fit_, dtype=np.int64)
        owner[self.rows_] = np.repeat(np.arange(self.n_distinct_), self.counts_)
        order = np.lexsort((np.arange(self.n_samples_fit_), point[owner]))
        pos = np.empty(self.n_samples_fit_, dtype=np.int64)
        pos[order] = np.arange(self.n_samples_fit_)
        return pos

    def kneighbors(self, q: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and row numbers of the ``n_neighbors`` nearest rows of each vector."""
        k = int(n_neighbors)
        q = np.asarray(q, dtype=np.float64)
        out_d = np.empty((len(q), k))
        out_i = np.empty((len(q), k), dtype=np.int64)
        mean = self.n_samples_fit_ / max(self.n_distinct_, 1)
        m = min(self.n_distinct_, int(np.ceil(k / mean)) + 2)
        pending = np.arange(len(q))
        while len(pending):
            dist, idx = self.nn_.kneighbors(q[pending], n_neighbors=m)
            again = []
            for j, p in enumerate(pending):
                got = self._expand(q[p], dist[j], idx[j], k, m == self.n_distinct_)
                if got is None:
                    again.append(p)
                else:
                    out_d[p], out_i[p] = got
            pending = np.asarray(again, dtype=np.int64)
            m = min(self.n_distinct_, 2 * m)
        return out_d, out_i

    def _expand(self, v: np.ndarray, tree_dist: np.ndarray, idx: np.ndarray, k: int,
                complete: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``k`` nearest rows of ``v`` among distinct points ``idx`` (None when more
        points are needed: fewer than ``k`` rows, or one beyond may tie the ``k``-th).

        Distances are computed here, exactly and the same way for every point (a brute
        force index's ``|a|^2 - 2ab + |b|^2`` moves in the last bits with the batch), so
        ties are ties and rows at equal distance come in row order."""
        dist = np.sqrt(((self.distinct_[idx] - v) ** 2).sum(axis=1))
        o = np.argsort(dist, kind="stable")
        dist, idx = dist[o], idx[o]
        cum = np.cumsum(self.counts_[idx])
        if cum[-1] < k and not complete:
            return None
        edge = dist[int(np.searchsorted(cum, min(k, cum[-1])))]
        if not complete and tree_dist[-1] <= edge + 1e-6 * (1.0 + edge):
            return None                         # a point beyond may tie the k-th distance
        take = np.flatnonzero(dist <= edge)
        cnt = self.counts_[idx[take]]
        shift = self.starts_[idx[take]] - np.concatenate([[0], np.cumsum(cnt)[:-1]])
        rows = self.rows_[np.repeat(shift, cnt) + np.arange(int(cnt.sum()))]
        d = np.repeat(dist[take], cnt)
        order = np.lexsort((rows, d))[:k]
        return d[order], rows[order]
