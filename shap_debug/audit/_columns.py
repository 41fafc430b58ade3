"""Columns that should not be features: leaked labels, row identifiers, training shortcuts.

Each column alone predicts the label through a cross-fitted table of its binned values (the
label's share in each quantile bin or level, fitted on the other folds), scored by AUC with
Hanley & McNeil's (1982) standard error. Then:

- **leakage**: a column that predicts the label almost alone (AUC >= 0.85) *and*, within each
  class, is unrelated to every other column (the other columns explain under 15 % of its
  within-class variance, cross-validated): the signature of a value computed from the label
  plus noise. A real strong feature (a tumour's perimeter) is explained by its siblings, and
  two features the label depends on become dependent given the label. A lone strong
  feature among independent noise columns looks like a leak to this test.
  This conditional-independence test is our own; deepchecks' ``FeatureLabelCorrelation``
  flags the predictive power alone.
- **id_column**: integer values, unique in at least 98 % of the rows, with near-regular gaps
  (a counter), scored by its association with the label (Mann-Whitney, Bonferroni).
- **shortcut**: with held-out rows, a column whose AUC drops from training to held-out rows
  beyond chance (a z-test on the two AUCs, Bonferroni over the columns) by at least 0.1;
  deepchecks' ``FeatureLabelCorrelationChange`` compares the same two quantities without a
  test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._signals import Signal

__all__ = ["column_signals", "single_feature_auc"]

LEAK_AUC = 0.85        # "predicts the label almost alone"
LEAK_EXPLAINED = 0.15  # the share of within-class variance the other columns may explain
SHORTCUT_DROP = 0.10   # the least AUC drop from training to held-out rows worth naming


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def bin_codes(s: pd.Series, t: pd.Series | None = None, bins: int = 20
              ) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Integer codes of ``s`` (and ``t`` on the same bins): levels, or quantile bins of a
    numeric column with many values; missing values get a code of their own."""
    if _is_numeric(s) and s.nunique(dropna=True) > bins:
        x = s.to_numpy(dtype=np.float64)
        edges = np.unique(np.nanquantile(x, np.linspace(0, 1, bins + 1)[1:-1]))

        def code(v: pd.Series) -> np.ndarray:
            a = v.to_numpy(dtype=np.float64)
            c = np.searchsorted(edges, a, side="right")
            return np.where(np.isnan(a), len(edges) + 1, c)
        return code(s), None if t is None else code(t), len(edges) + 2
    keys = s.astype(str).where(s.notna(), "<missing>")
    levels = pd.Index(pd.unique(keys))
    cs = levels.get_indexer(keys)
    ct = None
    if t is not None:
        kt = t.astype(str).where(t.notna(), "<missing>")
        ct = levels.get_indexer(kt)
        ct = np.where(ct < 0, len(levels), ct)  # unseen level: its own (empty) bin
    return cs, ct, len(levels) + 1


def _rates(codes: np.ndarray, yk: np.ndarray, n_bins: int, prior: np.ndarray) -> np.ndarray:
    """Smoothed class shares per bin (an m-estimate with weight 2 towards ``prior``)."""
    K = len(prior)
    counts = np.zeros((n_bins, K))
    np.add.at(counts, (codes, yk), 1.0)
    return (counts + 2 * prior[None, :]) / (counts.sum(1, keepdims=True) + 2)


def _auc(yk: np.ndarray, P: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if P.shape[1] == 2:
        return float(roc_auc_score(yk == 1, P[:, 1]))
    return float(roc_auc_score(yk, P, multi_class="ovr", labels=np.arange(P.shape[1])))


def auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil's standard error of an AUC."""
    a = min(max(auc, 1e-6), 1 - 1e-6)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / max(
        n_pos * n_neg, 1)
    return float(np.sqrt(max(var, 1e-12)))


def single_feature_auc(D: pd.DataFrame, yk: np.ndarray, T: pd.DataFrame | None = None,
                       yt: np.ndarray | None = None, *, folds: int = 5, random_state: int = 0
                       ) -> pd.DataFrame:
    """Cross-fitted training AUC of each column alone (and held-out AUC of the table fitted on
    all training rows). ``yk``/``yt`` are class codes ``0..K-1``."""
    rng = np.random.default_rng(random_state)
    K = int(max(yk.max(), -1 if yt is None else yt.max()) + 1)
    prior = np.bincount(yk, minlength=K) / len(yk)
    fold = rng.permutation(len(yk)) % folds
    n_pos = int((yk == (1 if K == 2 else np.bincount(yk).argmax())).sum())
    lines = []
    for col in D.columns:
        cs, ct, nb = bin_codes(D[col], None if T is None else T[col])
        P = np.empty((len(yk), K))
        for f in range(folds):
            out = fold == f
            P[out] = _rates(cs[~out], yk[~out], nb, prior)[cs[out]]
        auc = _auc(yk, P)
        line = {"feature": str(col), "auc": auc,
                "se": auc_se(auc, n_pos, len(yk) - n_pos)}
        if T is not None and yt is not None and len(np.unique(yt)) > 1:
            Pt = _rates(cs, yk, nb, prior)[ct]
            at = _auc(yt, Pt)
            npt = int((yt == (1 if K == 2 else np.bincount(yk).argmax())).sum())
            line.update(auc_test=at, se_test=auc_se(at, npt, len(yt) - npt))
        lines.append(line)
    return pd.DataFrame(lines)


def _ordinal(D: pd.DataFrame) -> np.ndarray:
    cols = []
    for c in D.columns:
        s = D[c]
        if _is_numeric(s):
            cols.append(s.to_numpy(dtype=np.float64))
        else:
            cols.append(pd.factorize(s, use_na_sentinel=True)[0].astype(np.float64))
    return np.column_stack(cols) if cols else np.empty((len(D), 0))


def explained_within_class(D: pd.DataFrame, col: str, yk: np.ndarray, seed: int) -> float:
    """Share of ``col``'s within-class variance the other columns explain (the better of a
    cross-validated ridge regression and gradient boosting on the rank of ``col``; 0 =
    unrelated to them given the label)."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import cross_val_predict

    s = D[col]
    v = (s.rank(method="average").to_numpy(np.float64) if _is_numeric(s)
         else pd.factorize(s)[0].astype(np.float64))
    v = np.nan_to_num(v, nan=np.nanmean(v) if np.isfinite(v).any() else 0.0)
    means = np.array([v[yk == k].mean() if (yk == k).any() else 0.0
                      for k in range(yk.max() + 1)])
    resid = v - means[yk]
    within = float(np.mean(resid ** 2))
    if within <= 1e-12:
        return 0.0
    others = D.drop(columns=[col])
    if others.shape[1] == 0:
        return 0.0
    Z = np.column_stack([_ordinal(others), yk.astype(np.float64)])
    n = len(v)
    sub = np.random.default_rng(seed).permutation(n)[:min(n, 4000)]
    r, base = resid[sub], float(np.mean(resid[sub] ** 2))
    Zs = np.nan_to_num(Z[sub])
    Zs = (Zs - Zs.mean(0)) / np.where(Zs.std(0) > 0, Zs.std(0), 1.0)
    best = 0.0
    # a linear fit catches smooth relations on few rows, boosting the rest
    for est in (RidgeCV(alphas=(0.1, 1.0, 10.0)),
                HistGradientBoostingRegressor(max_iter=60, learning_rate=0.1,
                                              random_state=seed)):
        pred = cross_val_predict(est, Zs, r, cv=3)
        best = max(best, 1 - float(np.mean((r - pred) ** 2)) / base)
    return float(best)


def _id_like(s: pd.Series) -> bool:
    if not _is_numeric(s) or s.isna().any() or len(s) < 50:
        return False
    x = s.to_numpy(dtype=np.float64)
    if not np.allclose(x, np.round(x)) or len(np.unique(x)) < 0.98 * len(x):
        return False
    gaps = np.diff(np.sort(x))
    return bool(gaps.mean() > 0 and gaps.std() / gaps.mean() < 1.0)


def column_signals(D: pd.DataFrame, yk: np.ndarray, T: pd.DataFrame | None,
                   yt: np.ndarray | None, index: np.ndarray, *, alpha: float = 0.05,
                   random_state: int = 0) -> list[Signal]:
    """Leakage, ID-column and shortcut signals of the columns of ``D`` (class codes ``yk``)."""
    from scipy.stats import norm

    scores = single_feature_auc(D, yk, T, yt, random_state=random_state)
    m = len(scores)
    out: list[Signal] = []
    drop = {"fix": "drop feature"}
    for _, r in scores.iterrows():
        col = r["feature"]
        s = D[[c for c in D.columns if str(c) == col][0]]
        auc, se = float(r["auc"]), float(r["se"])
        lo, hi = auc - 1.96 * se, min(1.0, auc + 1.96 * se)
        has_test = "auc_test" in r and pd.notna(r.get("auc_test"))
        details: dict[str, Any] = {"auc_train": auc}
        if has_test:
            details.update(auc_test=float(r["auc_test"]))
        if _id_like(s):
            n0 = int((yk == 0).sum())
            se0 = np.sqrt((len(yk) + 1) / (12.0 * max(n0 * (len(yk) - n0), 1)))
            p = float(min(1.0, 2 * norm.sf(abs(auc - 0.5) / se0) * m))
            if T is not None:
                tx = T[s.name].to_numpy(np.float64)
                details["test_outside_range"] = float(np.mean(
                    (tx > s.max()) | (tx < s.min())))
            out.append(Signal(
                "id_column", features=(col,), strength=auc, measure="AUC of the column alone",
                interval=(lo, hi), p_value=p,
                verdict="confirmed" if p < alpha else "suspected",
                fix=drop["fix"], fix_params={"feature": col},
                details={**details, "unique_share": float(s.nunique() / len(s))}))
            continue
        if has_test:
            at, st = float(r["auc_test"]), float(r["se_test"])
            z = (auc - at) / np.sqrt(se ** 2 + st ** 2)
            p = float(min(1.0, norm.sf(z) * m))
            if p < alpha and auc - at >= SHORTCUT_DROP:
                d_se = float(np.sqrt(se ** 2 + st ** 2))
                out.append(Signal(
                    "shortcut", features=(col,), strength=auc - at,
                    measure="AUC of the column alone, training minus held-out",
                    interval=(auc - at - 1.96 * d_se, auc - at + 1.96 * d_se), p_value=p,
                    verdict="confirmed", fix=drop["fix"], fix_params={"feature": col},
                    details=details))
                continue
        if auc >= LEAK_AUC:
            share = explained_within_class(D, s.name, yk, random_state)
            details["explained_within_class"] = share
            if share < LEAK_EXPLAINED:
                z = (auc - LEAK_AUC) / se
                p = float(min(1.0, norm.sf(z) * m))
                out.append(Signal(
                    "leakage", features=(col,), strength=auc,
                    measure="AUC of the column alone", interval=(lo, hi), p_value=p,
                    verdict="confirmed" if p < alpha else "suspected",
                    fix=drop["fix"], fix_params={"feature": col}, details=details))
    return out
