"""Differences between the training and held-out rows: under-represented cohorts and shifts.

Cohorts are candidate conditions (a level, or one side of a quantile threshold of the
held-out rows, at 10-90 %) and every pair of them on two features; counting them is one
matrix product.

- **under_represented**: a cohort whose training share is at most half its held-out share,
  by an exact one-sided binomial test (the split of the cohort's rows between training and
  held-out rows, given its size), Bonferroni over every cohort tried; the most
  significant one is named (its subsets have fewer rows, its supersets a diluted ratio).
  Its held-out error rate is reported next to the rest's.
- **cohort_shift**: a column whose distribution differs between training and held-out rows
  (Kolmogorov-Smirnov, or a chi-square test of its levels; Bonferroni over the columns) once
  an under-represented cohort is set aside, localised to the cohort (one condition on
  another column) where a Welch t-test of its mean difference is largest. A whole-set
  shift's test is the same comparison deepchecks' ``FeatureDrift`` makes; the localisation
  to a cohort is our own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._signals import Signal

__all__ = ["representation_signals", "shift_signals", "candidate_conditions"]

QUANTILES = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9)


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def candidate_conditions(T: pd.DataFrame, min_share: float = 0.02, max_levels: int = 12,
                         exclude: tuple = ()) -> list[tuple[str, tuple]]:
    """``(feature, condition)`` pairs in the cohort rule format, drawn from the rows ``T``."""
    out = []
    for c in T.columns:
        if str(c) in exclude:
            continue
        s = T[c]
        if s.nunique(dropna=True) < 2:
            continue
        if not _is_numeric(s) or s.nunique(dropna=True) <= max_levels:
            counts = s.dropna().value_counts()
            for v, k in counts.items():
                if k >= min_share * len(s):
                    out.append((str(c), ("in", [v.item() if isinstance(v, np.generic) else v])))
            continue
        x = s.to_numpy(dtype=np.float64)
        lo, hi = float(np.nanmin(x)) - 1.0, float(np.nanmax(x))
        for t in np.unique(np.nanquantile(x, QUANTILES)):
            out.append((str(c), ("range", lo, float(t))))
            out.append((str(c), ("range", float(t), hi)))
    return out


def _mask(D: pd.DataFrame, feat: str, cond: tuple) -> np.ndarray:
    s = D[[c for c in D.columns if str(c) == feat][0]]
    if cond[0] == "in":
        return s.astype(str).isin([str(v) for v in cond[1]]).to_numpy()
    x = s.to_numpy(dtype=np.float64)
    return (x > cond[1]) & (x <= cond[2])


def _col(D: pd.DataFrame, feat: str) -> Any:
    return [c for c in D.columns if str(c) == feat][0]


def _values(D: pd.DataFrame, feat: str) -> np.ndarray:
    return D[_col(D, feat)].to_numpy(dtype=np.float64)


def _sd(s: pd.Series, t: pd.Series) -> float:
    if not _is_numeric(s):
        return 1.0
    v = np.concatenate([s.to_numpy(np.float64), t.to_numpy(np.float64)])
    return float(np.nanstd(v)) or 1.0


def _masks(D: pd.DataFrame, conds: list) -> np.ndarray:
    return np.column_stack([_mask(D, f, c) for f, c in conds]).astype(np.float32)


def representation_signals(D: pd.DataFrame, T: pd.DataFrame, test_wrong: np.ndarray | None,
                           index: np.ndarray, *, alpha: float = 0.05, max_ratio: float = 0.5,
                           min_share: float = 0.02, exclude: tuple = ()) -> list[Signal]:
    """The most under-represented cohort of the training rows ``D`` against ``T``.

    A two-condition cohort ``A and B`` whose training counts are better explained (likelihood
    ratio above e^2) by rows *moved* inside ``A`` (``A`` keeps its share) than by rows
    *missing* from ``A and B`` is returned as a ``cohort_shift`` of ``B``'s feature inside
    ``A``.
    """
    from scipy.stats import binom

    conds = candidate_conditions(T, min_share, exclude=exclude)
    if not conds:
        return []
    A, B = _masks(D, conds), _masks(T, conds)
    n1, n2 = len(D), len(T)
    c1, c2 = A.T @ A, B.T @ B  # pair counts (diagonal: single conditions)
    feats = np.array([f for f, _ in conds])
    iu = np.triu_indices(len(conds))
    valid = (feats[iu[0]] != feats[iu[1]]) | (iu[0] == iu[1])
    i, j = iu[0][valid], iu[1][valid]
    k1, k2 = c1[i, j].astype(float), c2[i, j].astype(float)
    p1, p2 = k1 / n1, k2 / n2
    # exact conditional test: given the k1 + k2 rows of the cohort, how many fall in the
    # held-out split is Binomial(k1 + k2, n2 / (n1 + n2)) when the shares are equal
    m = len(i)
    z = -binom.logsf(k2 - 1, k1 + k2, n2 / (n1 + n2))  # -log p, the ranking score
    pv = np.minimum(1.0, np.exp(-z) * m)
    ok = (pv < alpha) & (p2 >= min_share) & (k2 >= 10) & (p1 <= max_ratio * p2)
    if not ok.any():
        return []
    best = np.flatnonzero(ok)[np.argmax(z[ok])]
    a, b = int(i[best]), int(j[best])
    rule = {conds[a][0]: conds[a][1]}
    if a != b:
        rule[conds[b][0]] = conds[b][1]
    in_train = A[:, a].astype(bool) & A[:, b].astype(bool)
    in_test = B[:, a].astype(bool) & B[:, b].astype(bool)
    ratio = float(p1[best] / p2[best])
    d_se = float(np.sqrt(p1[best] * (1 - p1[best]) / n1 + p2[best] * (1 - p2[best]) / n2))
    details: dict[str, Any] = {"train_share": float(p1[best]), "test_share": float(p2[best]),
                               "n_train": int(k1[best]), "n_test": int(k2[best]),
                               "cohorts_tried": int(m)}
    if test_wrong is not None and in_test.any():
        details["test_error_in"] = float(test_wrong[in_test].mean())
        details["test_error_out"] = float(test_wrong[~in_test].mean()) if (~in_test).any() \
            else float("nan")
    if a != b:
        for keep, moved in ((a, b), (b, a)):
            if _moved(float(c1[keep, keep]), float(k1[best]), n1,
                      float(c2[keep, keep]) / n2, float(p2[best])):
                f = conds[moved][0]
                inside_d = A[:, keep].astype(bool)
                inside_t = B[:, keep].astype(bool)
                sd = _sd(D[_col(D, f)], T[_col(T, f)])
                shift = (float(np.nanmean(_values(T, f)[inside_t]))
                         - float(np.nanmean(_values(D, f)[inside_d]))) / sd \
                    if _is_numeric(D[_col(D, f)]) else float("nan")
                return [Signal("cohort_shift", features=(f, conds[keep][0]),
                               rows=tuple(index[inside_d]), rule={conds[keep][0]: conds[keep][1]},
                               strength=shift,
                               measure="held-out minus training mean in the cohort, in SDs",
                               p_value=float(pv[best]), verdict="confirmed", fix=None,
                               details={"moved_into": {f: conds[moved][1]}, **details})]
    return [Signal("under_represented", features=tuple(rule), rows=tuple(index[in_train]),
                   rule=rule, strength=float(p2[best] - p1[best]),
                   measure="held-out share minus training share of the cohort",
                   interval=(float(p2[best] - p1[best] - 1.96 * d_se),
                             float(p2[best] - p1[best] + 1.96 * d_se)),
                   p_value=float(pv[best]), verdict="confirmed", fix="upsample cohort",
                   fix_params={"rule": rule, "times": max(1, min(10, round(1 / max(ratio, 0.1)) - 1))},
                   details={**details, "share_ratio": ratio})]


def _moved(k1_keep: float, k1_both: float, n1: int, p2_keep: float, p2_both: float,
           margin: float = 2.0) -> bool:
    """Whether rows *moved* inside cohort ``keep`` explains the training counts better than
    rows *missing* from ``keep and other`` (a likelihood ratio above ``e ** margin``).

    Missing rows leave the other rows distributed as in the held-out split, so ``keep``'s
    remaining rows outside the cohort are a share ``(p2_keep - p2_both) / (1 - p2_both)`` of
    the training rows outside it; moved rows leave ``keep``'s own share as it was, so that
    share is ``(p2_keep - p1_both) / (1 - p1_both)``.
    """
    from scipy.stats import binom

    rest = n1 - k1_both
    if rest <= 0 or p2_both >= 1:
        return False
    count = k1_keep - k1_both
    p1_both = k1_both / n1
    q_miss = np.clip((p2_keep - p2_both) / (1 - p2_both), 1e-9, 1 - 1e-9)
    q_move = np.clip((p2_keep - p1_both) / max(1 - p1_both, 1e-9), 1e-9, 1 - 1e-9)
    return bool(binom.logpmf(count, rest, q_move) - binom.logpmf(count, rest, q_miss)
                > margin)


def _drift_p(s: pd.Series, t: pd.Series) -> float:
    from scipy.stats import chi2_contingency, ks_2samp

    if _is_numeric(s) and s.nunique(dropna=True) > 12:
        a, b = s.dropna().to_numpy(np.float64), t.dropna().to_numpy(np.float64)
        if len(a) < 5 or len(b) < 5:
            return 1.0
        return float(ks_2samp(a, b).pvalue)
    a, b = s.astype(str).value_counts(), t.astype(str).value_counts()
    tab = pd.concat([a, b], axis=1).fillna(0).to_numpy()
    tab = tab[tab.sum(1) > 0]
    if tab.shape[0] < 2:
        return 1.0
    return float(chi2_contingency(tab)[1])


def shift_signals(D: pd.DataFrame, T: pd.DataFrame, index: np.ndarray, *,
                  set_aside: tuple = (), exclude: tuple = (), alpha: float = 0.05
                  ) -> list[Signal]:
    """Columns whose training and held-out distributions differ, each localised to a cohort.

    ``set_aside`` holds ``(train mask, test mask)`` of a cohort already explained (an
    under-represented one), left out of both sides; ``exclude`` names columns not tested.
    """
    from scipy.stats import ttest_ind

    keep_d = np.ones(len(D), bool)
    keep_t = np.ones(len(T), bool)
    for md, mt in set_aside:
        keep_d &= ~md
        keep_t &= ~mt
    Dk, Tk = D[keep_d], T[keep_t]
    cols = [c for c in D.columns if str(c) not in exclude]
    if not cols or len(Dk) < 10 or len(Tk) < 10:
        return []
    ps = {str(c): min(1.0, _drift_p(Dk[c], Tk[c]) * len(cols)) for c in cols}
    out = []
    for c in cols:
        p = ps[str(c)]
        if p >= alpha:
            continue
        s, t = Dk[c], Tk[c]
        rule, best_t, info = None, 0.0, {}
        if _is_numeric(s):
            sd = float(np.nanstd(np.concatenate([s.to_numpy(np.float64),
                                                 t.to_numpy(np.float64)]))) or 1.0
            for f, cond in candidate_conditions(Tk, 0.05, exclude=(str(c),)):
                md, mt = _mask(Dk, f, cond), _mask(Tk, f, cond)
                if md.sum() < 5 or mt.sum() < 5:
                    continue
                a, b = s.to_numpy(np.float64)[md], t.to_numpy(np.float64)[mt]
                tt = ttest_ind(b, a, equal_var=False, nan_policy="omit").statistic
                if np.isfinite(tt) and abs(tt) > abs(best_t):
                    best_t = float(tt)
                    rule = {f: cond}
                    info = {"mean_shift_sd": float((np.nanmean(b) - np.nanmean(a)) / sd),
                            "n_test_in_cohort": int(mt.sum())}
        feats = (str(c),) + (tuple(rule) if rule else ())
        rows = tuple(index[keep_d][_mask(Dk, *next(iter(rule.items())))]) if rule else ()
        out.append(Signal("cohort_shift", features=feats, rows=rows, rule=rule,
                          strength=info.get("mean_shift_sd", float("nan")),
                          measure="held-out minus training mean in the cohort, in SDs",
                          p_value=p, verdict="confirmed", fix=None,
                          details={"welch_t": best_t, **info}))
    return out
