"""Systematic labelling errors: regions whose labels the rest of the data contradicts.

Each candidate region (given, an error cohort, or an automatically screened pair of
conditions) is held out as a whole and predicted by a model fitted on every other row.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    Result,
    check_classifier,
    check_float,
    check_frame_or_array,
    check_indices,
    check_int,
    check_X_y,
    clone_model,
    escape,
    feature_names_of,
    parallel_map,
    section_html,
    seed_from,
    take_rows,
)
from ._cohort_common import _as_frame, _binned, _fmt, _is_categorical, _jaccard, _standardised
from ._cohorts import ErrorCohorts

__all__ = ["SystematicErrors", "SystematicRegion", "systematic_errors"]


@dataclass(frozen=True, repr=False)
class SystematicRegion(Result):
    """A region whose labels the rest of the data contradicts, one-sidedly.

    ``observed`` and ``expected`` are the region's share of ``label`` (given labels vs. the
    model fitted *outside* the region); ``shift = observed - expected``; ``z`` is the
    Poisson-binomial z-score of the difference; ``deficit`` is the share of the
    under-represented label that is missing (1.0 when a label never occurs where the rest of
    the data expects it). ``recheck`` lists the region's rows whose
    given label goes the way of the shift while the outside model disagrees, most confident
    disagreement first.
    """

    name: str
    source: str
    rows: np.ndarray = field(repr=False)
    size: int = 0
    label: Any = None
    observed: float = 0.0
    expected: float = 0.0
    shift: float = 0.0
    z: float = 0.0
    deficit: float = 0.0
    screen_z: float = float("nan")
    fixable: bool = False
    recheck: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.int64))

    @property
    def n_wrong(self) -> int:
        """Estimated number of wrong labels in the region, ``|observed - expected| * size``."""
        return int(round(abs(self.shift) * self.size))

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"name": self.name, "size": self.size, "label": self.label,
                "shift": self.shift, "z": self.z, "fixable": self.fixable}

    def to_frame(self) -> pd.DataFrame:
        """One line: :meth:`to_dict`."""
        return pd.DataFrame([self.to_dict()])

    def to_dict(self) -> dict:
        """The region as plain Python values."""
        return {"region": self.name, "source": self.source, "size": self.size,
                "label": self.label, "observed": self.observed, "expected": self.expected,
                "shift": self.shift, "z": self.z, "deficit": self.deficit,
                "screen_z": self.screen_z,
                "fixable": self.fixable, "n_wrong": self.n_wrong,
                "n_recheck": len(self.recheck)}


@dataclass(frozen=True, repr=False)
class SystematicErrors(Result):
    """Candidate regions tested for systematic (consistent) labelling errors.

    Attributes
    ----------
    regions : tuple of SystematicRegion
        Tested regions, strongest evidence (largest ``|z|``) first.
    min_shift, z_threshold : float
        The thresholds a region had to pass to be called fixable.
    n_screened : int
        Candidate regions screened before the refits.
    """

    regions: tuple
    min_shift: float
    z_threshold: float
    n_screened: int = 0

    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        return {"n_regions": len(self.regions), "n_fixable": len(self.fixable),
                "n_screened": self.n_screened, "n_recheck": len(self.rows_to_recheck())}

    @property
    def fixable(self) -> tuple:
        """The regions called fixable."""
        return tuple(r for r in self.regions if r.fixable)

    @property
    def message(self) -> str:
        """One line: the fixable regions found, or that none was."""
        f = self.fixable
        if not f:
            return (f"no systematic labelling errors found ({len(self.regions)} regions "
                    "refitted)")
        r = f[0]
        return (f"{len(f)} region(s) with labels the rest of the data contradicts; strongest: "
                f"{r.name} ({r.size} rows, {r.observed:.0%} labelled {r.label} where "
                f"{r.expected:.0%} expected; {len(r.recheck)} rows to re-check)")

    def rows_to_recheck(self) -> np.ndarray:
        """Union of the fixable regions' rows to re-check."""
        if not self.fixable:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate([r.recheck for r in self.fixable]))

    def to_frame(self) -> pd.DataFrame:
        """One row per tested region: its label shift, test and verdict."""
        cols = ["region", "source", "size", "label", "observed", "expected", "shift", "z",
                "deficit", "screen_z", "fixable", "n_wrong", "n_recheck"]
        return pd.DataFrame([r.to_dict() for r in self.regions], columns=cols)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(r.name)}</td><td>{r.size}</td>"
            f"<td>{escape(r.label)}</td><td>{r.observed:.0%}</td>"
            f"<td>{r.expected:.0%}</td><td>{r.z:.1f}</td>"
            f"<td>{'<b>fixable</b>' if r.fixable else ''}</td></tr>" for r in self.regions)
        table = ("<table><tr><th>region</th><th>rows</th><th>label</th><th>observed</th>"
                 f"<th>expected outside</th><th>z</th><th></th></tr>{rows}</table>")
        body = section_html("Systematic labelling errors", table, self.message + ".")
        return f"<div id='systematic'>{body}</div>"


def _column_codes(D: pd.DataFrame, bins: int, min_size: int):
    """Per column: integer codes and readable condition text per code."""
    out = []
    for col in D.columns:
        s = D[col]
        name = str(col)
        if _is_categorical(s):
            codes, uniq = pd.factorize(s.astype(object).fillna("nan").astype(str), sort=True)
            texts = [f"{name} = {u}" for u in uniq]
        else:
            x = s.to_numpy(dtype=np.float64, na_value=np.nan)
            if len(np.unique(x)) <= bins and not np.isnan(x).any():
                uniq = np.unique(x)
                codes = np.searchsorted(uniq, x)
                texts = [f"{name} = {_fmt(u)}" for u in uniq]
            else:
                codes, texts = _binned(s, bins, 2)
                texts = [f"{name} {t}" if not t.startswith("(") else
                         f"{t.split(',')[0][1:]} < {name} <= {t.split(',')[1].strip()[:-1]}"
                         for t in texts]
        out.append((name, np.asarray(codes, dtype=np.int64), texts, _is_categorical(s)))
    return out


def _shift_stats(onehot_y: np.ndarray, p: np.ndarray, code: np.ndarray, n_codes: int):
    """Observed, expected and variance of each class count per code (bincount, vectorised)."""
    k = onehot_y.shape[1]
    obs = np.stack([np.bincount(code, weights=onehot_y[:, c], minlength=n_codes)
                  for c in range(k)], axis=1)
    exp = np.stack([np.bincount(code, weights=p[:, c], minlength=n_codes) for c in range(k)],
                 axis=1)
    var = np.stack([np.bincount(code, weights=p[:, c] * (1 - p[:, c]), minlength=n_codes)
                  for c in range(k)], axis=1)
    size = np.bincount(code, minlength=n_codes)
    return obs, exp, var, size


def _best_class(obs, exp, var, size, binary: bool):
    z = (obs - exp) / np.sqrt(var + 1e-9)
    if binary:
        c = np.ones(len(size), dtype=np.int64)
    else:
        c = np.abs(z).argmax(axis=1)
    r = np.arange(len(size))
    return c, z[r, c], (obs[r, c] - exp[r, c]) / np.maximum(size, 1)


def systematic_errors(
    model: Any,
    X: Any,
    y: Any,
    regions: Any = None,
    *,
    cohorts: ErrorCohorts | None = None,
    display_data: pd.DataFrame | None = None,
    estimator: Any = None,
    auto: bool | None = None,
    bins: int = 3,
    min_size: int = 30,
    max_fraction: float = 0.2,
    max_regions: int = 8,
    min_shift: float = 0.1,
    z_threshold: float = 4.0,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    progress: bool = False,
) -> SystematicErrors:
    """Find regions whose labels are consistently wrong (a data source, labeller, sub-population).

    Loss- and confidence-based rankings (:func:`shap_debug.audit._suspicious.suspicious_rows`, the
    in-sample loss, kNN label disagreement) miss consistent relabelling: the model, even
    cross-validated, learns the wrong labels from their neighbours in the same region. Here
    each candidate region is held out as a whole: a clone of the model is fitted on every
    row *outside* the region and predicts the region. Under "the region's labels follow the
    same rule as the rest", the count of each class in the region is a sum of independent
    Bernoullis with the outside model's probabilities; the z-score of the observed count
    (and the label shift ``observed - expected``) says how strongly and one-sidedly the
    rest of the data contradicts the region's labels. Regions passing ``|shift| >=
    min_shift`` and ``|z| >= z_threshold`` are reported as *fixable*, with their rows to
    re-check.

    A relabelled pocket also distorts the outside model of the regions next to it (leave
    out "male executives" and the model learns "executives earn little" from the relabelled
    female executives). So flagged regions are explained away greedily: the most one-sided
    one (largest ``deficit``) is accepted, its rows get labels drawn from the outside model
    (what the rest of the data expects), and the other flagged regions are re-tested.

    Candidate regions: the ``regions`` given, the leaves and slices of ``cohorts``, and (when
    ``auto``) every pair of conditions on two columns (a categorical level or a numeric
    ``bins``-quantile bin each, at least one categorical: leaving out a box of a numeric
    plane makes any model extrapolate across it) holding ``min_size`` to ``max_fraction *
    n`` rows and at most half of either condition's rows (the rest must still show the
    model each level), screened with one additive logistic model (one-hot levels, standardised numbers) fitted on all
    rows: a pair that deviates from an additive rule is what consistent relabelling of a
    sub-population looks like. The ``max_regions`` strongest pairs are refitted. Single
    levels are not screened: relabelling a whole level cannot be told from a real effect of
    that level (pass such a region in ``regions`` to test it against the rest anyway).

    Parameters
    ----------
    model : fitted classifier
    X, y : training rows (the form the model takes) and labels
    regions : dict of name -> row indices or boolean mask, or a list of them, optional
    cohorts : ErrorCohorts, optional
    display_data : DataFrame, optional
        Readable rows for region names and the screen. Defaults to ``X``.
    estimator : classifier, optional
        Unfitted model for the leave-region-out refits (default: a clone of ``model``).
    auto : bool, optional
        Screen automatic candidate pairs (default: only when no ``regions`` are given).
    bins, min_size, max_fraction, max_regions, min_shift, z_threshold : see above
    random_state, n_jobs, progress : refits run through joblib, seeded.

    Returns
    -------
    SystematicErrors

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=800), "g": rng.integers(0, 4, 800)})
    >>> y = (X["x"] > 0).to_numpy().astype(int)
    >>> region = np.flatnonzero((X["g"] == 2) & (X["x"] > 0))
    >>> y[region] = 0  # a labeller who never says "1"
    >>> m = RandomForestClassifier(50, random_state=0).fit(X, y)
    >>> res = systematic_errors(m, X, y, {"g = 2": np.flatnonzero(X["g"] == 2)})
    >>> res.regions[0].fixable
    True
    """
    X, y = check_X_y(X, y, allow_nan=True)
    n = len(y)
    bins = check_int(bins, "bins", low=2)
    min_size = check_int(min_size, "min_size", low=1)
    max_fraction = check_float(max_fraction, "max_fraction", low=0.0, high=1.0)
    max_regions = check_int(max_regions, "max_regions", low=0)
    min_shift = check_float(min_shift, "min_shift", low=0.0, high=1.0)
    z_threshold = check_float(z_threshold, "z_threshold", low=0.0)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"y must contain at least 2 classes; got only {classes.tolist()}")
    check_classifier(model)
    names = feature_names_of(X)
    D = _as_frame(X, names) if display_data is None else _as_frame(
        check_frame_or_array(display_data, "display_data", allow_nan=True),
        feature_names_of(display_data))
    if len(D) != n:
        raise ValueError(f"display_data has {len(D)} rows but X has {n}")
    D = D.reset_index(drop=True)

    cands = _given_regions(regions, cohorts, n, min_size)
    if auto is None:
        auto = regions is None
    n_screened = 0
    if auto and max_regions > 0:
        found, n_screened = _screen_pairs(D, y, classes, bins, min_size, max_fraction,
                                          min_shift, max_regions)
        cands += found

    seed = seed_from(random_state)
    refit = partial(_refit_outside, X, estimator if estimator is not None else model, seed,
                    classes)
    judge = partial(_judge, classes=classes, min_shift=min_shift, z_threshold=z_threshold)
    probs = parallel_map(refit, [(rows, y) for _, _, rows, _ in cands], n_jobs=n_jobs,
                         progress=progress, desc="leave-region-out refits", star=True)
    current = {i: judge(c, q, y) for i, (c, q) in enumerate(zip(cands, probs))
               if q is not None}
    _explain_away(current, cands, y, classes, seed, refit, judge)
    results = [r for r, _ in current.values()]
    results.sort(key=lambda r: (-r.fixable, -r.deficit, -abs(r.z), r.name))
    return SystematicErrors(tuple(results), min_shift, z_threshold, n_screened)


Candidate = tuple[str, str, np.ndarray, float]   # name, source, rows, screen z


def _given_regions(regions: Any, cohorts: Any, n: int, min_size: int) -> list[Candidate]:
    """Candidates from the user's regions and from error cohorts (slices and leaves)."""
    cands: list[Candidate] = []
    if regions is not None:
        items = regions.items() if isinstance(regions, dict) else (
            (f"region {i}", r) for i, r in enumerate(regions))
        for name, r in items:
            r = np.asarray(r)
            rows = np.flatnonzero(r) if r.dtype == bool and len(r) == n else r
            if rows.dtype == bool:
                raise ValueError(f"region {name!r}: a boolean mask must have {n} entries")
            cands.append((str(name), "given", check_indices(rows, n, f"regions[{name!r}]"),
                          float("nan")))
    if cohorts is not None:
        if not isinstance(cohorts, ErrorCohorts):
            raise TypeError(f"cohorts must be an ErrorCohorts; got {type(cohorts).__name__}")
        if cohorts.n_rows != n:
            raise ValueError(f"cohorts were computed on {cohorts.n_rows} rows but X has {n}")
        for c in list(cohorts.slices) + list(cohorts.leaves):
            if c.size < n and c.size >= min_size and all(c.rule != k[0] for k in cands):
                cands.append((c.rule, "cohort", c.rows, float("nan")))
    return cands


def _screen_pairs(D: pd.DataFrame, y: np.ndarray, classes: np.ndarray, bins: int,
                  min_size: int, max_fraction: float, min_shift: float, max_regions: int
                  ) -> tuple[list[Candidate], int]:
    """Two-condition regions whose labels an additive model explains worst (the screen),
    at most ``max_regions`` of them, overlapping little; and how many cells were screened."""
    from sklearn.linear_model import LogisticRegression

    n = len(y)
    onehot_y = (y[:, None] == classes[None, :]).astype(np.float64)
    binary = len(classes) == 2
    Z = _standardised(D)
    lr = LogisticRegression(max_iter=500).fit(Z, np.searchsorted(classes, y))
    p_add = lr.predict_proba(Z)
    cols = _column_codes(D, bins, min_size)
    scored = []
    n_screened = 0
    for a in range(len(cols)):
        na, ca, ta, _ = cols[a]
        size_a = np.bincount(ca)
        for b in range(a + 1, len(cols)):
            nb, cb, tb, _ = cols[b]
            if not (cols[a][3] or cols[b][3]):
                continue  # a hole in a numeric plane makes any model extrapolate
            size_b = np.bincount(cb)
            code = ca * len(tb) + cb
            obs, exp, var, size = _shift_stats(onehot_y, p_add, code, len(ta) * len(tb))
            cls, z, shift = _best_class(obs, exp, var, size, binary)
            ia, ib = np.divmod(np.arange(len(size)), len(tb))
            ok = ((size >= min_size) & (size <= max_fraction * n)
                  & (size <= 0.5 * size_a[ia]) & (size <= 0.5 * size_b[ib])
                  & (np.abs(shift) >= min_shift / 2))
            n_screened += int(((size >= min_size) & (size <= max_fraction * n)).sum())
            for k in np.flatnonzero(ok):
                scored.append((abs(z[k]), f"{ta[ia[k]]} and {tb[ib[k]]}", a, ia[k], b,
                               ib[k], z[k]))
    scored.sort(key=lambda t: (-t[0], t[1]))
    chosen_masks: list[np.ndarray] = []
    cands: list[Candidate] = []
    for _, name, a, ia, b, ib, z in scored:
        if len(chosen_masks) >= max_regions:
            break
        m = (cols[a][1] == ia) & (cols[b][1] == ib)
        if any(_jaccard(m, o) > 0.5 for o in chosen_masks):
            continue
        chosen_masks.append(m)
        cands.append((name, "auto", np.flatnonzero(m), float(z)))
    return cands, n_screened


def _refit_outside(X: Any, base: Any, seed: int, classes: np.ndarray, rows: np.ndarray,
                   labels: np.ndarray) -> np.ndarray | None:
    """Class probabilities of ``rows`` from a clone fitted on every other row (None when
    the outside lacks a class or ``rows`` is empty)."""
    out = np.ones(len(labels), dtype=bool)
    out[rows] = False
    if len(np.unique(labels[out])) < len(classes) or len(rows) == 0:
        return None
    est = clone_model(base, "estimator")
    if "random_state" in est.get_params():
        est.set_params(random_state=seed)
    est.fit(take_rows(X, out), labels[out])
    q = np.asarray(est.predict_proba(take_rows(X, rows)), dtype=np.float64)
    full = np.zeros((len(rows), len(classes)))
    full[:, np.searchsorted(classes, est.classes_)] = q
    return full


def _judge(cand: Candidate, q: np.ndarray, labels: np.ndarray, *, classes: np.ndarray,
           min_shift: float, z_threshold: float) -> tuple[SystematicRegion, np.ndarray]:
    """The region's label shift against the outside model's probabilities ``q``."""
    name, source, rows, sz = cand
    code = np.zeros(len(rows), dtype=np.int64)
    oh = (labels[rows][:, None] == classes[None, :]).astype(np.float64)
    obs, exp, var, size = _shift_stats(oh, q, code, 1)
    cls, z, shift = _best_class(obs, exp, var, size, len(classes) == 2)
    c = int(cls[0])
    zc, sc = float(z[0]), float(shift[0])
    lab = labels[rows]
    if sc < 0:  # too few `c` labels: rows labelled otherwise that the outside calls c
        sel = (lab != classes[c]) & (q[:, c] > 0.5)
        order = np.argsort(-q[sel, c], kind="stable")
        deficit = 1 - obs[0, c] / max(exp[0, c], 1e-12)
    else:  # too many `c` labels: rows labelled c that the outside calls otherwise
        sel = (lab == classes[c]) & (q[:, c] < 0.5)
        order = np.argsort(q[sel, c], kind="stable")
        deficit = 1 - (len(rows) - obs[0, c]) / max(len(rows) - exp[0, c], 1e-12)
    label = classes[c].item() if hasattr(classes[c], "item") else classes[c]
    return SystematicRegion(
        name=name, source=source, rows=np.asarray(rows, dtype=np.int64),
        size=len(rows), label=label, observed=float(obs[0, c] / len(rows)),
        expected=float(exp[0, c] / len(rows)), shift=sc, z=zc,
        deficit=float(np.clip(deficit, 0.0, 1.0)), screen_z=sz,
        fixable=bool(abs(sc) >= min_shift and abs(zc) >= z_threshold),
        recheck=rows[sel][order].astype(np.int64)), q


def _explain_away(current: dict[int, tuple[SystematicRegion, np.ndarray]],
                  cands: list[Candidate], y: np.ndarray, classes: np.ndarray, seed: int,
                  refit: Any, judge: Any) -> None:
    """Accept fixable regions one at a time and re-test the others (updates ``current``).

    Accept the most one-sided fixable region (the largest deficit of the under-represented
    label: a labeller who never says "1" leaves a deficit near 1), give its rows labels
    drawn from the outside model (dropping them instead would leave a hole the refits
    extrapolate across), and re-test the other flagged regions on the corrected labels, so
    one relabelled pocket is not reported again through the regions it distorted (its
    neighbours in the model's eyes).
    """
    accepted: list[int] = []
    y_work = y.copy()
    draw = np.random.default_rng(seed)
    while True:
        open_ = [i for i, (r, _) in current.items() if r.fixable and i not in accepted]
        if not open_:
            break
        best = max(open_, key=lambda i: (current[i][0].deficit, abs(current[i][0].z), -i))
        accepted.append(best)
        region, q_best = current[best]
        # impute: draw each row's label from the outside model (argmax would erase the
        # minority label and distort the neighbours again)
        u = draw.random(len(q_best))[:, None]
        y_work[region.rows] = classes[(u > np.cumsum(q_best, axis=1)).sum(axis=1).clip(
            0, len(classes) - 1)]
        for i in open_:
            if i == best:
                continue
            q = refit(cands[i][2], y_work)
            if q is None:
                current[i] = (replace(current[i][0], fixable=False), current[i][1])
            else:
                current[i] = judge(cands[i], q, y_work)
