"""Chunked k-nearest-neighbour queries: one chunk's query (with the queried row left out of
its own result) and an ordered stream of chunks over joblib workers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["CHUNK_ENTRIES", "chunk_rows"]

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
    tree = getattr(nn, "_tree", None)
    order = np.asarray(tree.get_arrays()[1]) if hasattr(tree, "get_arrays") else np.arange(n)
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    return pos


def chunk_rows(k: int, chunk_size: int | None = None) -> int:
    """Query rows per chunk: ``chunk_size``, or :data:`CHUNK_ENTRIES` neighbour entries."""
    return int(chunk_size) if chunk_size is not None else max(1, CHUNK_ENTRIES // (k + 1))
