"""Sentinel codes: a point mass at an implausible value of a numeric column.

A value is a sentinel ("unknown" coded as -999, 0 or 99999) when at least 1 % of the rows
(and 10 rows) hold it and it sits outside the range of the column's other values, separated
from them by at least half their range (a fifth for the conventional codes 0, -1, -9, -99,
-999, -9999, 99, 999, 9999, 99999, 999999, and any gap for a negative code in a column of
non-negative values). A value held by more than half the rows is the column's normal value. Real point masses (capital gains of 0, a
count's zeros) sit at the edge of the other values, not apart from them. The share comes with
a Wilson interval. The fix recodes the value to the median of the other training values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._signals import Signal

__all__ = ["sentinel_signals"]

MIN_SHARE = 0.01
MAX_SHARE = 0.5      # a majority value is the column's normal value (capital gains of 0)
MIN_GAP = 0.5        # an arbitrary value must sit this far (a share of the range) apart
MIN_GAP_CODE = 0.2   # a conventional "unknown" code, this far
CODES = {0.0, -1.0, -9.0, -99.0, -999.0, -9999.0, 99.0, 999.0, 9999.0, 99999.0, 999999.0}


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return float(c - h), float(c + h)


def sentinel_signals(D: pd.DataFrame, index: np.ndarray, T: pd.DataFrame | None = None
                     ) -> list[Signal]:
    """One signal per numeric column of ``D`` holding an isolated point mass."""
    out = []
    n = len(D)
    for c in D.columns:
        s = D[c]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        x = s.to_numpy(dtype=np.float64)
        x = x[np.isfinite(x)]
        vals, counts = np.unique(x, return_counts=True)
        if len(vals) < 11:
            continue
        for v, k in zip(vals, counts):
            if k < max(10, MIN_SHARE * n) or k > MAX_SHARE * n:
                continue
            others = x[x != v]
            lo, hi = others.min(), others.max()
            rng = hi - lo
            if rng <= 0 or lo <= v <= hi:
                continue
            gap = (lo - v) if v < lo else (v - hi)
            code = float(v) in CODES
            negative_code = code and v < 0 <= lo  # "-999" in a column of non-negative values
            if gap < (MIN_GAP_CODE if code else MIN_GAP) * rng and not negative_code:
                continue
            rows = np.flatnonzero(s.to_numpy(dtype=np.float64) == v)
            details = {"value": float(v), "gap_over_range": float(gap / rng),
                       "replacement": float(np.median(others))}
            if T is not None and c in T.columns:
                details["test_share"] = float(np.mean(T[c].to_numpy(np.float64) == v))
            out.append(Signal("sentinel", features=(str(c),), rows=tuple(index[rows]),
                              strength=float(k / n), measure="share of rows at the value",
                              interval=_wilson(int(k), n), verdict="confirmed",
                              fix="recode sentinel",
                              fix_params={"feature": str(c), "value": float(v),
                                          "replacement": float(np.median(others))},
                              details=details))
    return out
