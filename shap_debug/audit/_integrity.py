"""Data-integrity flags that distort neighborhoods, influence and error analysis.

The background (method, references, design choices) is in ``docs/cohorts.md``, section
"Design notes", ``shap_debug.audit._integrity``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    Result,
    check_float,
    check_frame_or_array,
    check_indices,
    check_y,
    escape,
    feature_names_of,
    section_html,
    table_html,
)

__all__ = ["Flag", "IntegrityReport", "integrity_flags", "duplicate_groups",
           "collapsed_occurrence", "CollapsedOccurrence"]


@dataclass(frozen=True)
class Flag:
    """One line of the report's first screen.

    Attributes
    ----------
    level : {"pass", "warn"}
    message : str
        One sentence for people.
    anchor : str
        The id of the report section holding the evidence (``"#integrity"`` etc.).
    """

    level: str
    message: str
    anchor: str

    def _repr_html_(self) -> str:
        icon = "&#10003;" if self.level == "pass" else "&#9888;"
        return (f"<div class='shap-debug flag flag-{escape(self.level)}'>{icon} "
                f"<a href='{escape(self.anchor)}'>{escape(self.message)}</a></div>")


def _near(how: str) -> bool:
    """A duplicate-column pair found by correlation (``"r = ..."``), not an exact recoding."""
    return how.startswith("r = ")


def _r_text(r: float) -> str:
    """Pearson r with 3 decimals, more when needed so a near-duplicate never prints as 1.

    >>> _r_text(0.99787), _r_text(-0.99999912)
    ('0.998', '-0.999999')
    """
    for digits in range(3, 10):
        text = f"{abs(r):.{digits}f}"
        if not text.startswith("1"):
            return ("-" if r < 0 else "") + text
    return ("-" if r < 0 else "") + "0.999999999"


def _frame(X: Any) -> pd.DataFrame:
    X = check_frame_or_array(X, "X", allow_nan=True)
    if isinstance(X, pd.DataFrame):
        return X
    return pd.DataFrame(X, columns=feature_names_of(X))


CHUNK_ROWS = 1_000_000
_NA_HASH = np.uint64(0x9E3779B97F4A7C15)


def _column_hash(s: pd.Series) -> np.ndarray:
    """uint64 hash per value, by the comparison :func:`_keys` makes: numbers as float64
    (0.0 and -0.0 equal, NaNs equal), anything else as its text (NaN stays NaN)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return pd.util.hash_array(s.to_numpy(dtype=np.float64))
    if isinstance(s.dtype, pd.CategoricalDtype):
        labels = np.asarray(s.cat.categories.astype(str), dtype=object)
        table = np.append(pd.util.hash_array(labels), _NA_HASH)
        return table[s.cat.codes.to_numpy()]  # code -1 (missing) -> the last entry
    text = s.astype(str)
    out = pd.util.hash_array(text.to_numpy(dtype=object))
    out[text.isna().to_numpy()] = _NA_HASH
    return out


def _row_hashes(D: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """One uint64 per row combining its columns' hashes, ``chunk_rows`` rows at a time."""
    out = np.empty(len(D), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(D), chunk_rows):
            part = D.iloc[start:start + chunk_rows]
            h = np.full(len(part), 0x345678, dtype=np.uint64)
            mult = np.uint64(1000003)
            for j in range(D.shape[1]):
                h = (h ^ _column_hash(part.iloc[:, j])) * mult
                mult += np.uint64(82520 + 2 * (D.shape[1] - j))
            out[start:start + chunk_rows] = h
    return out


def duplicate_groups(X: Any, *, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Group id of each row: rows with identical features share an id (first seen = 0, 1, ...).

    Rows are grouped by a 64-bit hash of their values and rows sharing a hash are then
    compared exactly, so the groups are exact; memory is 8 bytes per row plus one chunk of
    ``chunk_rows`` rows.
    """
    D = _frame(X)
    if D.shape[1] == 0:
        return np.zeros(len(D), dtype=np.int64)
    gid, uniq = pd.factorize(_row_hashes(D, chunk_rows))
    gid = gid.astype(np.int64)
    sizes = np.bincount(gid)
    cand = np.flatnonzero(sizes[gid] > 1)
    if len(cand):  # rows sharing a hash: compare their values exactly
        keys = _keys(D.iloc[cand])
        keys.insert(0, "hash group", gid[cand])
        sub = keys.groupby(list(keys.columns), sort=False,
                           dropna=False).ngroup().to_numpy(np.int64)
        if sub.max() + 1 != len(np.unique(gid[cand])):  # a hash collision: split it
            key = gid.copy()
            key[cand] = len(uniq) + sub
            gid = pd.factorize(key)[0].astype(np.int64)
    return gid


def _keys(D: pd.DataFrame) -> pd.DataFrame:
    """Comparable values: numbers as float64, everything else as strings."""
    out = {}
    for j in range(D.shape[1]):
        s = D.iloc[:, j]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[j] = s.to_numpy(dtype=np.float64)
        else:
            out[j] = s.astype(str).to_numpy()
    return pd.DataFrame(out)


def _groups_of(group_of: np.ndarray) -> tuple[np.ndarray, ...]:
    """Row indices of each group of two or more rows, by group id (rows ascending)."""
    sizes = np.bincount(group_of)
    rows = np.flatnonzero(sizes[group_of] > 1)
    rows = rows[np.argsort(group_of[rows], kind="stable")]
    dup = sizes[sizes > 1]
    return tuple(np.split(rows, np.cumsum(dup)[:-1])) if len(dup) else ()


def _leaked(D: pd.DataFrame, T: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Test rows equal to a training row, and the training rows they equal."""
    def numeric(F: pd.DataFrame) -> list[bool]:
        return [pd.api.types.is_numeric_dtype(F.iloc[:, j])
                and not pd.api.types.is_bool_dtype(F.iloc[:, j]) for j in range(F.shape[1])]

    if numeric(D) == numeric(T):  # same comparison per column: hash, then compare exactly
        hd, ht = _row_hashes(D), _row_hashes(T)
        test = np.flatnonzero(np.isin(ht, hd))
        train = np.flatnonzero(np.isin(hd, ht[test]))
    else:  # a column compared as a number in one frame and as text in the other
        test, train = np.arange(len(T)), np.arange(len(D))
    if len(test) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    both = pd.concat([_keys(D.iloc[train]), _keys(T.iloc[test])], ignore_index=True)
    gid = duplicate_groups(both)
    g_train, g_test = gid[:len(train)], gid[len(train):]
    hit = np.isin(g_test, g_train)
    return (test[hit].astype(np.int64),
            train[np.isin(g_train, g_test[hit])].astype(np.int64))


def _codes(s: pd.Series) -> np.ndarray:
    """Integer codes of a column's distinct values (missing values one more value)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        labels = s.cat.categories.astype(str)
        if labels.is_unique:  # the codes partition the rows as the labels do
            return pd.factorize(s.cat.codes.to_numpy(), use_na_sentinel=False)[0]
        return pd.factorize(s.astype(str), use_na_sentinel=False)[0]
    return pd.factorize(s, use_na_sentinel=False)[0]


@dataclass(frozen=True, repr=False)
class IntegrityReport(Result):
    """Integrity problems of a training set (and its test set).

    Attributes
    ----------
    n_rows : int
    group_of : ndarray of int, shape (n,)
        Duplicate-group id of each training row (identical rows share one).
    duplicate_groups : tuple of ndarray
        Row indices of each group of two or more identical rows.
    conflicting_groups : tuple of ndarray
        The duplicate groups whose labels disagree.
    leaked_test_rows : ndarray of int
        Test rows whose features appear in the training set.
    leaked_train_rows : ndarray of int
        The training rows they match.
    constant_columns, quasi_constant_columns : tuple of str
    duplicate_columns : tuple of (str, str, str)
        ``(a, b, how)``: ``how`` is ``"one-to-one"`` for exact duplicates (one column a
        recoding of the other) and ``"r = 0.998"`` (Pearson r) for near-duplicates.
    """

    n_rows: int
    group_of: np.ndarray = field(repr=False)
    duplicate_groups: tuple = field(repr=False)
    conflicting_groups: tuple = field(repr=False)
    leaked_test_rows: np.ndarray = field(repr=False)
    leaked_train_rows: np.ndarray = field(repr=False)
    constant_columns: tuple = ()
    quasi_constant_columns: tuple = ()
    duplicate_columns: tuple = ()
    n_test_rows: int = 0

    def summary(self) -> dict[str, Any]:
        """Key figures: rows, duplicate/conflicting/leaked rows, redundant columns."""
        return {"n_rows": self.n_rows, "duplicate_rows": self.n_duplicate_rows,
                "conflicting_rows": self.n_conflicting_rows,
                "leaked_test_rows": int(self.leaked_test_rows.size),
                "constant_columns": len(self.constant_columns),
                "duplicate_columns": len(self.duplicate_columns)}

    @property
    def n_duplicate_rows(self) -> int:
        """Rows that are copies of an earlier row (total rows minus distinct rows)."""
        return int(sum(len(g) - 1 for g in self.duplicate_groups))

    @property
    def n_conflicting_rows(self) -> int:
        return int(sum(len(g) for g in self.conflicting_groups))

    @property
    def weights(self) -> np.ndarray:
        """``1 / group size`` per row: weights that count each distinct row once."""
        sizes = np.bincount(self.group_of)
        return 1.0 / sizes[self.group_of]

    @property
    def ok(self) -> bool:
        return not (self.duplicate_groups or self.leaked_test_rows.size or self.constant_columns
                    or self.duplicate_columns)

    def flags(self) -> list[Flag]:
        """Pass/warn lines for the report's first screen."""
        out = []
        a = "#integrity"
        if self.duplicate_groups:
            out.append(Flag("warn", f"{self.n_duplicate_rows} duplicate rows in "
                            f"{len(self.duplicate_groups)} groups (collapsed in occurrence "
                            "counts)", a))
        else:
            out.append(Flag("pass", "no duplicate rows", a))
        if self.conflicting_groups:
            out.append(Flag("warn", f"{self.n_conflicting_rows} identical rows carry "
                            f"conflicting labels ({len(self.conflicting_groups)} groups)", a))
        if self.n_test_rows:
            if self.leaked_test_rows.size:
                out.append(Flag("warn", f"{self.leaked_test_rows.size} of {self.n_test_rows} "
                                "test rows also appear in the training set", a))
            else:
                out.append(Flag("pass", "no test rows in the training set", a))
        if self.constant_columns or self.duplicate_columns:
            parts = []
            if self.constant_columns:
                parts.append("constant: " + ", ".join(self.constant_columns))
            exact = [(a_, b_) for a_, b_, how in self.duplicate_columns if not _near(how)]
            if exact:
                parts.append("duplicate (one-to-one): " + ", ".join(f"{a_} = {b_}"
                                                                    for a_, b_ in exact))
            parts.extend(f"near-duplicate ({how}): {a_} ~ {b_}"
                         for a_, b_, how in self.duplicate_columns if _near(how))
            out.append(Flag("warn", "redundant columns (" + "; ".join(parts) + ")", a))
        return out

    def to_frame(self) -> pd.DataFrame:
        """One line per problem found: kind, detail, number of rows involved."""
        lines = []
        for g in self.duplicate_groups:
            lines.append(("duplicate rows", f"rows {g[:10].tolist()}", len(g)))
        for g in self.conflicting_groups:
            lines.append(("conflicting labels", f"rows {g[:10].tolist()}", len(g)))
        if self.leaked_test_rows.size:
            lines.append(("test rows in training set",
                          f"test rows {self.leaked_test_rows[:10].tolist()}",
                          int(self.leaked_test_rows.size)))
        for c in self.constant_columns:
            lines.append(("constant column", c, self.n_rows))
        for c in self.quasi_constant_columns:
            lines.append(("quasi-constant column", c, self.n_rows))
        for a, b, how in self.duplicate_columns:
            if _near(how):
                lines.append(("near-duplicate columns", f"{a} ~ {b} ({how})", self.n_rows))
            else:
                lines.append(("duplicate columns", f"{a} = {b} ({how})", self.n_rows))
        return pd.DataFrame(lines, columns=["kind", "detail", "n_rows"])

    def _repr_html_(self) -> str:
        flags = "".join(f._repr_html_() for f in self.flags())
        df = self.to_frame()
        table = table_html(df.rename(columns={"n_rows": "rows"})) if len(df) else ""
        return f"<div class='shap-debug integrity'>{flags}{table}</div>"


def integrity_flags(X: Any, y: Any = None, X_test: Any = None, *, quasi_constant: float = 0.99,
                    corr_threshold: float = 0.99) -> IntegrityReport:
    """Check a training set (and optionally its test set) for integrity problems.

    Parameters
    ----------
    X : DataFrame or array of shape (n, m)
        Training rows (raw frame with ``category`` columns or the encoded matrix).
    y : array of shape (n,), optional
        Training labels; needed for the conflicting-labels check.
    X_test : DataFrame or array, optional
        Test rows with the same columns; rows also in ``X`` are reported as leakage.
    quasi_constant : float, default 0.99
        A column whose most frequent value covers at least this share of rows is flagged.
    corr_threshold : float, default 0.99
        Numeric columns with ``|Pearson r|`` at least this that are not one-to-one
        recodings of each other are flagged as near-duplicates.

    Returns
    -------
    IntegrityReport

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1, 1, 2, 3], "b": [0, 0, 5, 6]})
    >>> rep = integrity_flags(X, [0, 1, 0, 1])
    >>> rep.n_duplicate_rows, rep.n_conflicting_rows
    (1, 2)
    """
    D = _frame(X)
    n = len(D)
    quasi_constant = check_float(quasi_constant, "quasi_constant", low=0.5, high=1.0)
    corr_threshold = check_float(corr_threshold, "corr_threshold", low=0.0, high=1.0)
    yv = None if y is None else check_y(y, "y", n=n)
    T = None
    if X_test is not None:
        T = _frame(X_test)
        if [str(c) for c in T.columns] != [str(c) for c in D.columns]:
            raise ValueError("X_test must have the same columns as X; got "
                             f"{[str(c) for c in T.columns]} vs {[str(c) for c in D.columns]}")

    group_of = duplicate_groups(D)
    dups = _groups_of(group_of)
    conflicts = ()
    if yv is not None:
        conflicts = tuple(g for g in dups if len(np.unique(yv[g])) > 1)

    leaked_test = leaked_train = np.empty(0, dtype=np.int64)
    if T is not None and len(T):
        leaked_test, leaked_train = _leaked(D, T)

    names = [str(c) for c in D.columns]
    constant, quasi = [], []
    codes = {}
    for name, col in zip(names, D.columns):
        c = _codes(D[col])
        k = int(c.max()) + 1 if len(c) else 0
        codes[name] = (c, k)
        if k <= 1:
            constant.append(name)
        elif np.bincount(c).max() / n >= quasi_constant:
            quasi.append(name)
    dup_cols = []
    numeric = [nm for nm, col in zip(names, D.columns)
               if pd.api.types.is_numeric_dtype(D[col]) and nm not in constant]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if a in constant or b in constant:
                continue
            (ca, ka), (cb, kb) = codes[a], codes[b]
            if ka == kb and ka < n:
                pairs = len(np.unique(ca.astype(np.int64) * kb + cb))
                if pairs == ka:
                    dup_cols.append((a, b, "one-to-one"))
                    continue
            if a in numeric and b in numeric:
                va, vb = D[a].to_numpy(float), D[b].to_numpy(float)
                r = np.corrcoef(va, vb)[0, 1]
                if np.isfinite(r) and abs(r) >= corr_threshold:
                    # not a recoding (checked above): near, never exact
                    dup_cols.append((a, b, f"r = {_r_text(r)}"))
    return IntegrityReport(
        n_rows=n, group_of=group_of, duplicate_groups=dups, conflicting_groups=conflicts,
        leaked_test_rows=leaked_test, leaked_train_rows=leaked_train,
        constant_columns=tuple(constant), quasi_constant_columns=tuple(quasi),
        duplicate_columns=tuple(dup_cols), n_test_rows=0 if T is None else len(T))


@dataclass(frozen=True, repr=False)
class CollapsedOccurrence(Result):
    """Occurrence counts with identical rows collapsed.

    Attributes
    ----------
    counts : ndarray of int, shape (n,)
        For each row: the number of anomaly neighbourhoods that contain its duplicate group
        (every copy carries its group's count).
    representative : ndarray of int, shape (n,)
        The first row of each row's group (rank groups, not copies, by keeping rows where
        ``representative == row``).
    group_size : ndarray of int, shape (n,)
    anomalies : ndarray of int
    n_neighbors : int
    """

    counts: np.ndarray
    representative: np.ndarray
    group_size: np.ndarray
    anomalies: np.ndarray
    n_neighbors: int

    def top(self, k: int = 10) -> np.ndarray:
        """The ``k`` most frequent distinct rows (one representative per duplicate group)."""
        reps = np.flatnonzero(self.representative == np.arange(len(self.counts)))
        reps = reps[self.counts[reps] > 0]
        order = np.lexsort((reps, -self.counts[reps]))
        return reps[order][:k]

    def summary(self) -> dict[str, Any]:
        """Key figures: rows, anomalies, K, distinct rows met, the highest count."""
        return {"n_rows": len(self.counts), "anomalies": len(self.anomalies),
                "n_neighbors": self.n_neighbors, "distinct_rows": len(self.top(len(self.counts))),
                "max_count": int(self.counts.max()) if len(self.counts) else 0}

    def to_frame(self) -> pd.DataFrame:
        """The distinct rows met, most frequent first: ``row, count, copies``."""
        rows = self.top(len(self.counts))
        return pd.DataFrame({"row": rows, "count": self.counts[rows],
                             "copies": self.group_size[rows]})

    def _repr_html_(self) -> str:
        return section_html("Occurrence with identical rows collapsed",
                            table_html(self.to_frame(), max_rows=10),
                            "each group of identical rows counted once per neighbourhood")


def _first_groups(g: np.ndarray, k: int, n_groups: int) -> np.ndarray:
    """Per group, in how many rows of ``g`` (neighbour groups, nearest first) it is among
    the first ``k`` distinct groups."""
    c, depth = g.shape
    key = np.arange(c, dtype=np.int64)[:, None] * n_groups + g
    _, first = np.unique(key.ravel(), return_index=True)
    is_first = np.zeros(g.size, dtype=bool)
    is_first[first] = True
    is_first = is_first.reshape(c, depth)
    kept = is_first & (np.cumsum(is_first, axis=1) <= k)
    return np.bincount(g[kept], minlength=n_groups)


def collapsed_occurrence(neighborhood_model: Any, anomalies: Any = None,
                         group_of: np.ndarray | None = None) -> CollapsedOccurrence:
    """Occurrence counts where a group of identical rows takes one neighbourhood place.

    Each anomaly's neighbourhood is filled with its ``K`` nearest *distinct* rows (the index
    is queried deep enough to skip copies, at most ``3 K``), and a group is counted once per
    neighbourhood. The anomalies are queried in chunks
    (:meth:`~shap_debug.neighborhood.NeighborhoodModel.iter_kneighbors`), so memory stays
    ``chunk_size * 3K``; without any copies the counts are the model's
    :meth:`~shap_debug.neighborhood.NeighborhoodModel.occurrence` (no second query).

    Parameters
    ----------
    neighborhood_model : NeighborhoodModel
        Fitted :class:`shap_debug.neighborhood.NeighborhoodModel`.
    anomalies : sequence of int, optional
        Rows to query (default: the model's ``anomalies_``).
    group_of : ndarray of int, optional
        Duplicate-group id per training row (default: :func:`duplicate_groups` of the
        model's ``X_``).
    """
    nbm = neighborhood_model
    if not hasattr(nbm, "nn_"):
        raise ValueError("neighborhood_model must be a fitted NeighborhoodModel")
    n = len(nbm.y_)
    if group_of is None:
        group_of = duplicate_groups(nbm.X_)
    group_of = np.asarray(group_of, dtype=np.int64)
    if group_of.shape != (n,):
        raise ValueError(f"group_of must have shape ({n},); got {group_of.shape}")
    rows = nbm.anomalies_ if anomalies is None else check_indices(anomalies, n, "anomalies")
    k = int(nbm.n_neighbors)
    sizes = np.bincount(group_of)
    n_groups = len(sizes)
    group_counts = np.zeros(n_groups, dtype=np.int64)
    if len(rows) and sizes.max() == 1:
        # no copies: every neighbourhood already holds K distinct rows
        group_counts[group_of] = nbm.occurrence(anomalies).counts
    elif len(rows):
        extra = int(min(n - n_groups, 2 * k))  # copies to skip, at most
        depth = min(n - (1 if nbm.exclude_self else 0), k + extra)
        for _, _, idx in nbm.iter_kneighbors(rows, n_neighbors=depth, in_order=False,
                                             desc="collapsed occurrence"):
            group_counts += _first_groups(group_of[idx], k, n_groups)
    first_row = np.full(n_groups, n, dtype=np.int64)
    ids, first = np.unique(group_of, return_index=True)
    first_row[ids] = first
    return CollapsedOccurrence(
        counts=group_counts[group_of], representative=first_row[group_of],
        group_size=sizes[group_of], anomalies=np.asarray(rows, dtype=np.int64),
        n_neighbors=k)
