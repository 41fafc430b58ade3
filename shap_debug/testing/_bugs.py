"""A generator of bugs with known ground truth, randomised by a seed.

Every kind draws what it corrupts (the cohort, the feature, the strength) from
``random_state``, so a detector cannot be tuned to one instance of it. Cohorts are built
from the conditions the cohort modules use (a level of a categorical column, or one side of
a quantile threshold of a numeric one), in the rule format of
:func:`shap_debug.fixes.rule_mask` (``{feature: ("in", [levels])}`` or
``{feature: ("range", low, high)}`` meaning ``low < x <= high``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, check_random_state, clone_model
from ..fixes import rule_mask

__all__ = ["BUG_KINDS", "FIXABLE", "InjectedBug", "inject"]

#: The kinds :func:`inject` plants (``"clean"`` plants nothing: a control).
BUG_KINDS = (
    "clean", "label_noise", "systematic_relabelling", "leakage", "id_column", "shortcut",
    "under_represented", "overfitting", "underfitting", "sentinel",
    "conflicting_duplicates", "cohort_shift",
)

#: Whether a change of the training data or of the model's parameters can win back the
#: held-out accuracy the bug costs. Leakage helps the held-out rows it also sits in, and a
#: shift of the held-out rows is outside the training data's reach.
FIXABLE = {k: k not in ("clean", "leakage", "cohort_shift") for k in BUG_KINDS}

_NAMES = {
    "leakage": ["review_score", "risk_index", "assessment", "status_code", "rating"],
    "id_column": ["record_id", "customer_no", "row_key", "ref_number", "id"],
    "shortcut": ["batch", "site", "source", "channel", "scanner"],
}


@dataclass(frozen=True, repr=False)
class InjectedBug(Result):
    """One planted bug: the corrupted data, where it sits and the clean version.

    Attributes
    ----------
    kind : str
        One of :data:`BUG_KINDS`.
    X, y, X_test, y_test
        The data to debug (an array's columns are named ``"Feature j"`` in ``features``, as
        elsewhere in the library) (training rows possibly with rows added or removed, columns added;
        held-out rows changed only where the kind needs it). Same type as the inputs.
    X_clean, y_clean, X_test_clean, y_test_clean
        The clean version: train the reference model on ``X_clean, y_clean`` and score it on
        ``X_test_clean, y_test_clean``.
    rows : tuple
        Affected training rows, by the index labels of ``X`` (positions for arrays).
    test_rows : tuple
        Affected held-out rows (a shifted or under-represented cohort, sentinel rows).
    features : tuple of str
        The features involved (a planted column, a cohort's features, a shifted feature).
    rule : dict, optional
        The cohort, as ``{feature: condition}``.
    model, clean_model : estimator, optional
        For model-side kinds: the (unfitted) configuration to debug and the reference one.
        ``None`` means "the caller's own model".
    fixable : bool
        Whether a data or parameter change can win back held-out accuracy (:data:`FIXABLE`).
    params : dict
        The drawn strength and choices (JSON-serialisable).
    """

    kind: str
    X: Any
    y: np.ndarray
    X_test: Any
    y_test: np.ndarray
    X_clean: Any
    y_clean: np.ndarray
    X_test_clean: Any
    y_test_clean: np.ndarray
    rows: tuple = ()
    test_rows: tuple = ()
    features: tuple = ()
    rule: dict | None = None
    model: Any = None
    clean_model: Any = None
    fixable: bool = False
    params: dict = field(default_factory=dict)

    _repr_fields = ("kind", "features", "rule", "fixable")

    def summary(self) -> dict[str, Any]:
        """The bug's kind, how many rows it touches, where, and whether a fix can undo it."""
        return {"kind": self.kind, "n_rows": len(self.rows), "n_test_rows": len(self.test_rows),
                "features": self.features, "rule": self.rule, "fixable": self.fixable}

    def to_frame(self) -> pd.DataFrame:
        """One row: the kind, the counts of affected rows, features, rule and parameters."""
        return pd.DataFrame([{"kind": self.kind, "rows": len(self.rows),
                              "test_rows": len(self.test_rows),
                              "features": ", ".join(self.features),
                              "rule": "" if self.rule is None else _rule_text(self.rule),
                              "fixable": self.fixable, **{f"param {k}": v for k, v in
                                                          self.params.items()}}])

    def plot(self, ax: Any = None, show: bool = True) -> Any:
        """Bars of the share of training and held-out rows the bug touches; returns the Axes."""
        from ..core import PALETTE, finish, new_axes

        ax, created = new_axes(ax, (5.0, 2.5))
        shares = [len(self.rows) / max(len(self.y), 1),
                  len(self.test_rows) / max(len(self.y_test), 1)]
        ax.barh(["training rows", "held-out rows"], shares, color=PALETTE.blue)
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of rows affected")
        where = ", ".join(self.features) or "rows"
        ax.set_title(f"{self.kind}: {where}")
        finish(created, show)
        return ax

    def to_dict(self) -> dict[str, Any]:
        """The ground truth as JSON-ready values (rows by the input's index labels)."""
        return {"kind": self.kind, "rows": [_plain(r) for r in self.rows],
                "test_rows": [_plain(r) for r in self.test_rows],
                "features": list(self.features), "rule": self.rule, "fixable": self.fixable,
                "params": self.params}


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _rule_text(rule: dict) -> str:
    parts = []
    for f, c in rule.items():
        if c[0] == "in":
            parts.append(f"{f} in {list(c[1])}")
        else:
            parts.append(f"{c[1]:.4g} < {f} <= {c[2]:.4g}")
    return " and ".join(parts)


# --------------------------------------------------------------------------- helpers
def _frame(X: Any, name: str) -> tuple[pd.DataFrame, bool]:
    if isinstance(X, pd.DataFrame):
        return X.copy(), True
    A = np.asarray(X)
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D (a DataFrame or an array); got shape {A.shape}")
    return pd.DataFrame(A.astype(np.float64), columns=[f"Feature {j}" for j in range(A.shape[1])]), False


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _levels_like(s: pd.Series) -> bool:
    """A column whose cohorts are its levels (categorical, or numeric with few values)."""
    return not _numeric(s) or s.nunique(dropna=True) <= 12


def _continuous(D: pd.DataFrame, min_levels: int = 10) -> list[str]:
    return [c for c in D.columns if _numeric(D[c]) and D[c].nunique(dropna=True) >= min_levels]


def _condition(s: pd.Series, rng: np.random.Generator) -> tuple:
    if _levels_like(s):
        counts = s.astype(str).value_counts()
        counts = counts[counts >= max(2, 0.02 * len(s))]
        if len(counts) < 2:
            counts = s.astype(str).value_counts()
        level = counts.index[rng.integers(len(counts))]
        values = s.dropna().unique()
        match = [v for v in values if str(v) == level]
        return ("in", [_plain(match[0]) if match else level])
    x = s.to_numpy(dtype=np.float64)
    t = float(np.nanquantile(x, rng.choice([0.25, 0.5, 0.75])))
    lo, hi = float(np.nanmin(x)) - 1.0, float(np.nanmax(x))
    return ("range", lo, t) if rng.random() < 0.5 else ("range", t, hi)


def _draw_cohort(D: pd.DataFrame, rng: np.random.Generator, n_features: int, share: tuple,
                 ok: Any = None, exclude: tuple = ()) -> tuple[dict, np.ndarray]:
    cols = [c for c in D.columns if c not in exclude and D[c].nunique(dropna=True) >= 2]
    if len(cols) < n_features:
        raise ValueError(f"X: a cohort of {n_features} features needs at least {n_features} "
                         f"non-constant columns; got {len(cols)}")
    best = None
    for _ in range(300):
        feats = rng.choice(len(cols), n_features, replace=False)
        rule = {str(cols[j]): _condition(D[cols[j]], rng) for j in feats}
        m = rule_mask(rule, D)
        frac = m.mean()
        if share[0] <= frac <= share[1] and (ok is None or ok(m)):
            return rule, m
        if best is None or abs(frac - np.mean(share)) < abs(best[1].mean() - np.mean(share)):
            best = (rule, m)
    raise ValueError(f"X: found no cohort of {n_features} features holding between "
                     f"{share[0]:.0%} and {share[1]:.0%} of the rows")


def _flip(y: np.ndarray, rows: np.ndarray, classes: np.ndarray, rng: np.random.Generator
          ) -> np.ndarray:
    """Each of ``rows`` gets a label drawn among the other classes."""
    y2 = y.copy()
    for r in rows:
        others = classes[classes != y[r]]
        y2[r] = others[rng.integers(len(others))]
    return y2


def _new_name(base: str, D: pd.DataFrame) -> str:
    name, k = base, 2
    while name in D.columns:
        name, k = f"{base}_{k}", k + 1
    return name


def _add_column(D: pd.DataFrame, name: str, values: np.ndarray, array: bool) -> pd.DataFrame:
    out = D.copy()
    out[name if not array else f"Feature {D.shape[1]}"] = values
    return out


# --------------------------------------------------------------------------- model configs
def _final(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _model_configs(kind: str, model: Any, n_features: int, rng: np.random.Generator
                   ) -> tuple[Any, Any, dict]:
    """(configuration to debug, reference configuration, drawn parameters)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    if model is None:
        from sklearn.ensemble import HistGradientBoostingClassifier
        model = HistGradientBoostingClassifier(random_state=0)
    est = _final(model)
    name = type(est).__name__
    if isinstance(est, LogisticRegression):
        def lr(degree: int, C: float) -> Any:
            return make_pipeline(PolynomialFeatures(degree=degree, include_bias=False),
                                 StandardScaler(), LogisticRegression(C=C, max_iter=500))
        if kind == "overfitting":
            degree = 3 if n_features <= 15 else 2
            C = float(10 ** rng.uniform(3, 5))
            return lr(degree, C), lr(1, 1.0), {"degree": degree, "C": C}
        return lr(1, 1.0), lr(2, 1.0), {"degree": 1}
    grid = {
        "GradientBoostingClassifier": (
            lambda: {"max_depth": int(rng.integers(8, 13)), "n_estimators": 200,
                     "learning_rate": float(rng.uniform(0.5, 1.0)), "min_samples_leaf": 1,
                     "subsample": 1.0},
            {"max_depth": 1}, {"max_depth": 3}),
        "HistGradientBoostingClassifier": (
            lambda: {"max_depth": None, "max_leaf_nodes": int(rng.choice([127, 255])),
                     "min_samples_leaf": 1, "learning_rate": float(rng.uniform(0.5, 1.0)),
                     "max_iter": 200, "early_stopping": False, "l2_regularization": 0.0},
            {"max_depth": 1}, {"max_depth": None}),
        "DecisionTreeClassifier": (lambda: {"max_depth": None, "min_samples_leaf": 1},
                                   {"max_depth": 1}, {"max_depth": 4}),
        "RandomForestClassifier": (lambda: {"max_depth": None, "min_samples_leaf": 1,
                                            "max_features": None, "bootstrap": False},
                                   {"max_depth": 1}, {"max_depth": None}),
    }
    if name not in grid:
        raise ValueError(f"model: over/underfitting configurations are known for "
                         f"{sorted(grid) + ['LogisticRegression']}; got {name}")
    over, under, ref = grid[name]
    prefix = ""
    if getattr(model, "steps", None):
        prefix = model.steps[-1][0] + "__"
    params = over() if kind == "overfitting" else under
    bugged = clone_model(model).set_params(**{prefix + k: v for k, v in params.items()})
    clean = clone_model(model)
    if kind == "underfitting":
        cur = est.get_params().get("max_depth")
        if cur is not None and cur <= 1:
            clean = clean.set_params(**{prefix + k: v for k, v in ref.items()})
    return bugged, clean, {k: v for k, v in params.items()}


# --------------------------------------------------------------------------- the kinds
def _plant_label_noise(D: pd.DataFrame, y: np.ndarray, T: pd.DataFrame, yt: np.ndarray,
                       classes: np.ndarray, rng: np.random.Generator, array: bool) -> dict:
    """Plant label noise: the changed data and the ground truth."""
    n = len(y)
    rate = float(rng.uniform(0.05, 0.20))
    rows = np.sort(rng.choice(n, max(1, round(rate * n)), replace=False))
    return dict(y=_flip(y, rows, classes, rng), rows=rows, params={"rate": rate})


def _plant_systematic_relabelling(D: pd.DataFrame, y: np.ndarray, T: pd.DataFrame, yt: np.ndarray,
                                  classes: np.ndarray, rng: np.random.Generator, array: bool) -> dict:
    """Plant systematic relabelling: the changed data and the ground truth."""
    n = len(y)
    src = classes[rng.integers(len(classes))]
    dst = classes[classes != src][0] if len(classes) == 2 else \
        rng.choice(classes[classes != src])
    need = max(10, int(0.005 * n))
    rule, m = _draw_cohort(D, rng, 2, (0.02, 0.35),
                           ok=lambda m: int((m & (y == src)).sum()) >= need)
    frac = float(rng.uniform(0.4, 0.8))
    cand = np.flatnonzero(m & (y == src))
    rows = np.sort(rng.choice(cand, max(1, round(frac * len(cand))), replace=False))
    y2 = y.copy()
    y2[rows] = dst
    return dict(y=y2, rows=rows, rule=rule, features=tuple(rule),
               params={"share_relabelled": frac, "from": _plain(src), "to": _plain(dst),
                       "cohort_share": float(m.mean())})


def _plant_column(kind: str, D: pd.DataFrame, y: np.ndarray, T: pd.DataFrame, yt: np.ndarray,
                  classes: np.ndarray, rng: np.random.Generator, array: bool) -> dict:
    """Plant leakage / shortcut / id column: the changed data and the ground truth."""
    n = len(y)
    name = _new_name(_NAMES[kind][rng.integers(len(_NAMES[kind]))], D)
    ycode = np.searchsorted(classes, y).astype(np.float64)
    ytcode = np.searchsorted(classes, yt).astype(np.float64)
    if kind == "leakage":
        from scipy.stats import norm
        auc = float(rng.uniform(0.93, 0.995))
        scale, offset = float(rng.uniform(1, 50)), float(rng.uniform(-100, 100))
        sigma = 1.0 / (np.sqrt(2) * norm.ppf(auc))

        def leak(c: np.ndarray) -> np.ndarray:
            return np.round(offset + scale * (c + rng.normal(0, sigma, len(c))), 3)
        a, b = leak(ycode), leak(ytcode)
        params = {"auc": auc}
    elif kind == "shortcut":
        agree = float(rng.uniform(0.8, 0.97))
        a = np.where(rng.random(n) < agree, ycode,
                     rng.integers(0, len(classes), n)).astype(np.float64)
        b = rng.choice(a, len(yt), replace=True)  # same marginal, unrelated to the label
        params = {"agreement": agree}
    else:
        noise = float(rng.uniform(0.3, 1.5))
        step = int(rng.integers(1, 4))
        start = int(rng.integers(1000, 100000))

        def ids(c: np.ndarray, first: int) -> np.ndarray:
            order = np.argsort(c + rng.normal(0, noise, len(c)), kind="stable")
            gaps = rng.integers(1, step + 1, len(c))
            v = np.empty(len(c))
            v[order] = first + np.cumsum(gaps)
            return v
        a = ids(ycode, start)
        b = ids(ytcode, int(a.max()) + 1)
        params = {"order_noise": noise, "max_step": step}
    col = name if not array else f"Feature {D.shape[1]}"
    return dict(X=_add_column(D, name, a, array), X_test=_add_column(T, name, b, array),
               features=(col,), rows=np.arange(n), params=params)


def _plant_under_represented(D: pd.DataFrame, y: np.ndarray, T: pd.DataFrame, yt: np.ndarray,
                             classes: np.ndarray, rng: np.random.Generator, array: bool) -> dict:
    """Plant under represented: the changed data and the ground truth."""
    k = int(rng.integers(1, 3))
    rule, m = _draw_cohort(D, rng, k, (0.05, 0.3))
    keep_share = float(rng.uniform(0.05, 0.2))
    inside = np.flatnonzero(m)
    kept = rng.choice(inside, max(2, round(keep_share * len(inside))), replace=False)
    keep = ~m
    keep[kept] = True
    kept_pos = np.searchsorted(np.flatnonzero(keep), np.sort(kept))
    return dict(X=D.iloc[np.flatnonzero(keep)], y=y[keep], rows=kept_pos,
               rule=rule, features=tuple(rule), test_mask=rule_mask(rule, T),
               params={"kept_share": keep_share, "cohort_share": float(m.mean())})


def _plant_sentinel(D: pd.DataFrame, y: np.ndarray, T: pd.DataFrame, yt: np.ndarray,
                    classes: np.ndarray, rng: np.random.Generator, array: bool) -> dict:
    """Plant sentinel: the changed data and the ground truth."""
    n = len(y)
    cols = [c for c in _continuous(D) if D[c].notna().all()]
    if not cols:
        raise ValueError("X: sentinel values need a numeric column with at least 10 "
                         "distinct values")
    c = cols[rng.integers(len(cols))]
    x = D[c].to_numpy(np.float64)
    lo, hi = float(x.min()), float(x.max())
    options = [-999.0, -9999.0, 99999.0]
    if lo >= 0.25 * (hi - lo) and lo > 0:
        options.append(0.0)
    options = [v for v in options if not (lo <= v <= hi)]
    value = float(rng.choice(options))
    share = float(rng.uniform(0.05, 0.3))
    rows = np.sort(rng.choice(n, max(2, round(share * n)), replace=False))
    trows = np.sort(rng.choice(len(yt), max(1, round(share * len(yt))), replace=False))
    D2, T2 = D.copy(), T.copy()
    code = int(value) if pd.api.types.is_integer_dtype(D[c]) else value
    D2.iloc[rows, D.columns.get_loc(c)] = code
    T2.iloc[trows, T.columns.get_loc(c)] = code
    return dict(X=D2, X_test=T2, rows=rows, test_rows=trows, features=(str(c),),
               params={"value": value, "share": share})


def _plant_conflicting_duplicates(D: pd.DataFrame, y: np.ndarray, T: pd.DataFrame, yt: np.ndarray,
                                  classes: np.ndarray, rng: np.random.Generator, array: bool) -> dict:
    """Plant conflicting duplicates: the changed data and the ground truth."""
    n = len(y)
    share = float(rng.uniform(0.05, 0.15))
    src = np.sort(rng.choice(n, max(1, round(share * n)), replace=False))
    dup = D.iloc[src].copy()
    if isinstance(D.index, pd.RangeIndex) or pd.api.types.is_integer_dtype(D.index):
        start = int(np.max(D.index.to_numpy())) + 1 if n else 0
        dup.index = pd.Index(np.arange(start, start + len(src)), name=D.index.name)
    else:
        dup.index = pd.Index([f"dup-{i}" for i in D.index[src]], name=D.index.name)
    y2 = np.concatenate([y, _flip(y, src, classes, rng)[src]])
    # both rows of each conflicting pair are affected: which label is wrong is unknowable
    return dict(X=pd.concat([D, dup]), y=y2,
               rows=np.concatenate([src, np.arange(n, n + len(src))]),
               params={"share": share})


def _plant_cohort_shift(D: pd.DataFrame, y: np.ndarray, T: pd.DataFrame, yt: np.ndarray,
                        classes: np.ndarray, rng: np.random.Generator, array: bool) -> dict:
    """Plant cohort shift: the changed data and the ground truth."""
    rule, m = _draw_cohort(T, rng, 1, (0.1, 0.4))
    cols = [c for c in _continuous(D) if c not in rule and D[c].notna().all()]
    if not cols:
        raise ValueError("X: a cohort shift needs a numeric column with at least 10 "
                         "distinct values outside the cohort's feature")
    c = cols[rng.integers(len(cols))]
    delta = float(rng.uniform(1.0, 2.5)) * (1 if rng.random() < 0.5 else -1)
    sd = float(D[c].std())
    T2 = T.copy()
    vals = np.array(T2[c].to_numpy(np.float64), copy=True)
    vals[m] = vals[m] + delta * sd
    if pd.api.types.is_integer_dtype(T[c]):
        vals = np.round(vals)
    T2[c] = vals.astype(T[c].dtype) if pd.api.types.is_integer_dtype(T[c]) else vals
    return dict(X_test=T2, test_rows=np.flatnonzero(m), rule=rule,
               features=(str(c),) + tuple(rule),
               params={"shift_sd": delta, "cohort_share": float(m.mean())})


def _plant_underfitting(D: pd.DataFrame, y: np.ndarray, T: pd.DataFrame, yt: np.ndarray,
                        classes: np.ndarray, rng: np.random.Generator, array: bool) -> dict:
    """Plant underfitting: the changed data and the ground truth."""
    n = len(y)
    cols = [c for c in _continuous(D, 5) if D[c].notna().all() and 0.25 <= float(
        (D[c] > D[c].median()).mean()) <= 0.75]  # a balanced split at the median
    if len(cols) < 2:
        raise ValueError("X: underfitting needs two numeric columns with at least 5 "
                         "distinct values")
    a, b = (cols[j] for j in rng.choice(len(cols), 2, replace=False))
    ma, mb = float(D[a].median()), float(D[b].median())
    noise = float(rng.uniform(0.02, 0.1))

    def xor(F: pd.DataFrame) -> np.ndarray:
        z = (F[a].to_numpy(np.float64) > ma) ^ (F[b].to_numpy(np.float64) > mb)
        z = z ^ (rng.random(len(F)) < noise)
        return classes[np.where(z, 1, 0) if len(classes) == 2 else z.astype(int)]
    y2, yt2 = xor(D), xor(T)
    return dict(y=y2, y_test=yt2, y_clean=y2, y_test_clean=yt2, features=(str(a), str(b)),
               rows=np.arange(n), params={"noise": noise, "thresholds": [ma, mb]})


_PLANTERS = {
    "label_noise": _plant_label_noise,
    "systematic_relabelling": _plant_systematic_relabelling,
    "leakage": _plant_column,
    "shortcut": _plant_column,
    "id_column": _plant_column,
    "under_represented": _plant_under_represented,
    "sentinel": _plant_sentinel,
    "conflicting_duplicates": _plant_conflicting_duplicates,
    "cohort_shift": _plant_cohort_shift,
    "underfitting": _plant_underfitting,
}
_KIND_ARG = {"leakage", "shortcut", "id_column"}


def _inject_rows(kind: str, D: pd.DataFrame, y: np.ndarray, T: pd.DataFrame, yt: np.ndarray,
                 classes: np.ndarray, rng: np.random.Generator, array: bool) -> dict:
    plant = _PLANTERS.get(kind)
    if plant is None:
        return {}
    if kind in _KIND_ARG:
        return plant(kind, D, y, T, yt, classes, rng, array)
    return plant(D, y, T, yt, classes, rng, array)


def inject(kind: str, X: Any, y: Any, X_test: Any, y_test: Any, random_state: Any = None,
           *, model: Any = None) -> InjectedBug:
    """Plant one bug of ``kind`` in a copy of the data; the inputs are not modified.

    Parameters
    ----------
    kind : str
        One of :data:`BUG_KINDS`:

        - ``"clean"``: nothing (a control);
        - ``"label_noise"``: 5-20 % of the training labels set to another class;
        - ``"systematic_relabelling"``: 40-80 % of one class inside a cohort of two features
          (2-35 % of the rows) set to another class;
        - ``"leakage"``: a new column built from the label plus noise (AUC alone 0.93-0.995),
          in training and held-out rows;
        - ``"id_column"``: a new integer column, unique per row, ordered with the label up to
          noise; held-out rows get the next identifiers;
        - ``"shortcut"``: a new column agreeing with the label in 80-97 % of the training rows
          and unrelated to it in the held-out rows;
        - ``"under_represented"``: 80-95 % of the training rows of a cohort (one or two
          features, 5-30 % of the rows) removed, held-out rows intact;
        - ``"overfitting"`` / ``"underfitting"``: a memorising configuration of ``model`` /
          labels following an interaction (XOR of two thresholds, 2-10 % noise) that the
          configuration returned (depth-1 trees, a linear model) cannot represent;
        - ``"sentinel"``: 5-30 % of a numeric column's values (training and held-out) set to
          an implausible code (-999, -9999, 99999, or 0 for a column far above 0);
        - ``"conflicting_duplicates"``: 5-15 % of the training rows appended again with
          another label;
        - ``"cohort_shift"``: a numeric feature shifted by 1-2.5 standard deviations inside
          one cohort of the held-out rows (10-40 % of them).
    X, y : training rows (DataFrame or 2-D array) and labels
    X_test, y_test : held-out rows and labels
    random_state : int or Generator, optional
        Draws the cohort, the feature and the strength.
    model : estimator, optional
        For ``"overfitting"``/``"underfitting"``: the family to configure
        (GradientBoosting, HistGradientBoosting, DecisionTree, RandomForest, or a
        LogisticRegression, alone or as a Pipeline's last step); default
        ``HistGradientBoostingClassifier``.

    Returns
    -------
    InjectedBug

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(300, n_features=5, random_state=0)
    >>> bug = inject("leakage", X[:200], y[:200], X[200:], y[200:], random_state=1)
    >>> bug.X.shape, bug.features
    ((200, 6), ('Feature 5',))
    """
    if not isinstance(kind, str) or kind not in BUG_KINDS:
        raise ValueError(f"kind must be one of {list(BUG_KINDS)}; got {kind!r}")
    D, frame = _frame(X, "X")
    T, frame_t = _frame(X_test, "X_test")
    if frame != frame_t:
        raise TypeError("X and X_test must both be DataFrames or both be arrays; got "
                        f"{type(X).__name__} and {type(X_test).__name__}")
    if list(map(str, D.columns)) != list(map(str, T.columns)):
        raise ValueError("X_test must have the columns of X")
    yv, ytv = np.asarray(y).ravel(), np.asarray(y_test).ravel()
    if len(yv) != len(D) or len(ytv) != len(T):
        raise ValueError(f"y and y_test must have one label per row: X has {len(D)} rows and "
                         f"y {len(yv)}; X_test has {len(T)} rows and y_test {len(ytv)}")
    classes = np.unique(np.concatenate([yv, ytv]))
    if len(classes) < 2:
        raise ValueError(f"y must hold at least 2 classes; got {classes.tolist()}")
    rng = check_random_state(random_state)
    got = _inject_rows(kind, D, yv, T, ytv, classes, rng, not frame)
    Xb, Tb = got.get("X", D), got.get("X_test", T)
    yb, ytb = got.get("y", yv), got.get("y_test", ytv)
    bugged, clean = None, None
    if kind in ("overfitting", "underfitting"):
        bugged, clean, mp = _model_configs(kind, model, D.shape[1], rng)
        got.setdefault("params", {}).update(mp)

    def out(F: pd.DataFrame) -> Any:
        return F if frame else F.to_numpy(dtype=np.float64)

    rows = np.asarray(got.get("rows", []), dtype=np.int64)
    row_labels = tuple(_plain(v) for v in Xb.index.to_numpy()[rows]) if frame else tuple(
        int(r) for r in rows)
    test_rows = np.flatnonzero(got["test_mask"]) if "test_mask" in got else np.asarray(
        got.get("test_rows", []), dtype=np.int64)
    test_labels = tuple(_plain(v) for v in Tb.index.to_numpy()[test_rows]) if frame else \
        tuple(int(r) for r in test_rows)
    if kind in ("leakage", "id_column", "shortcut"):
        row_labels = ()  # the bug is a column, not rows
    return InjectedBug(
        kind=kind, X=out(Xb), y=yb, X_test=out(Tb), y_test=ytb,
        X_clean=out(D), y_clean=got.get("y_clean", yv),
        X_test_clean=out(got.get("X_test_clean", T)), y_test_clean=got.get("y_test_clean", ytv),
        rows=row_labels, test_rows=test_labels, features=tuple(got.get("features", ())),
        rule=got.get("rule"), model=bugged, clean_model=clean, fixable=FIXABLE[kind],
        params={k: _plain(v) for k, v in got.get("params", {}).items()})
