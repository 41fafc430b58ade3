"""Validated blame: does removing the blamed rows help, is the blame stable, what to say first.

The background (method, references, design choices) is in ``docs/cohorts.md``, section
"Design notes", ``shap_debug.blame._removal``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ..audit import Flag
from ..core import (
    Result,
    check_classifier,
    check_float,
    check_frame_or_array,
    check_indices,
    check_int,
    check_random_state,
    check_X_y,
    check_y,
    classes_of,
    clone_model,
    escape,
    parallel_map,
    predict_proba_fn,
    section_html,
    seed_from,
    take_rows,
)

__all__ = ["RemovalCurve", "removal_curve", "BlameStability", "blame_stability",
           "summary_flags", "Flag"]


def _as_ranking(r: Any, n: int, name: str) -> np.ndarray:
    """Row ranking (most blamed first) from an array or a result with one."""
    if hasattr(r, "ranking"):  # SuspiciousRows
        r = r.ranking
    elif hasattr(r, "counts") and hasattr(r, "anomalies"):  # Occurrence
        counts = np.asarray(r.counts)
        if hasattr(r, "representative"):  # CollapsedOccurrence: one row per group
            counts = np.where(r.representative == np.arange(len(counts)), counts, -1)
        order = np.lexsort((np.arange(len(counts)), -counts))
        r = order[counts[order] > 0]
    return check_indices(r, n, name)


# --------------------------------------------------------------------------- removal
@dataclass(frozen=True, repr=False)
class RemovalCurve(Result):
    """Retraining without the blamed rows, against removing random rows.

    ``frame`` has one line per (ranking, fraction) with ``n_removed``, ``fix_rate`` (share
    of the remaining anomalies the retrained model now gets right), ``test_accuracy`` (NaN
    without a test set) and, for the ``"random"`` ranking, their standard deviations over
    the random draws. ``baseline_accuracy`` is the retrained-on-everything test accuracy.
    """

    frame: pd.DataFrame
    baseline_accuracy: float
    baseline_fix_rate: float
    n_anomalies: int
    n_random: int

    def summary(self) -> dict[str, Any]:
        f = self.frame
        return {"rankings": sorted(set(f["ranking"]) - {"random"}),
                "fractions": sorted(set(f["fraction"])), "n_anomalies": self.n_anomalies,
                "baseline_accuracy": self.baseline_accuracy, "n_random": self.n_random}

    def to_frame(self) -> pd.DataFrame:
        """One line per (ranking, fraction removed)."""
        return self.frame.copy()

    def lift(self, ranking: str, metric: str = "fix_rate") -> pd.Series:
        """``metric`` of ``ranking`` minus that of random removal, by fraction removed."""
        if metric not in ("fix_rate", "test_accuracy"):
            raise ValueError(f"metric must be 'fix_rate' or 'test_accuracy'; got {metric!r}")
        f = self.frame
        names = sorted(set(f["ranking"]) - {"random"})
        if ranking not in names:
            raise ValueError(f"ranking must be one of {names}; got {ranking!r}")
        a = f[f.ranking == ranking].set_index("fraction")[metric]
        b = f[f.ranking == "random"].set_index("fraction")[metric]
        return (a - b).rename(f"{ranking} - random")

    def verdicts(self, min_lift: float = 0.01) -> dict[str, str]:
        """Per ranking, one sentence: does removing its top rows beat random removal?

        A ranking beats random removal at a fraction when its fix rate exceeds random's by
        more than twice the random draws' standard deviation *and* by ``min_lift``.
        """
        min_lift = check_float(min_lift, "min_lift", low=0.0, high=1.0)
        out = {}
        f = self.frame
        for name in sorted(set(f["ranking"]) - {"random"}):
            lift = self.lift(name)
            rnd = f[f.ranking == "random"].set_index("fraction")
            sd = rnd["fix_rate_std"].reindex(lift.index).fillna(0.0)
            beats = (lift > 2 * sd + 1e-12) & (lift >= min_lift)
            best = lift.idxmax()
            acc = self.lift(name, "test_accuracy")
            acc_txt = ("" if acc.isna().all() else
                       f"; test accuracy {acc[best]:+.3f} vs random")
            if beats.any():
                out[name] = (f"removing the top {best:.0%} fixes {lift[best]:+.1%} more "
                             f"anomalies than random removal{acc_txt}")
            else:
                out[name] = ("removing its top rows fixes no more anomalies than random "
                             f"removal{acc_txt}: do not trust this blame")
        return out

    def plot(self, metric: str = "fix_rate", ax: Any = None, show: bool = True):
        """Metric against the share removed, one line per ranking, random with a band."""
        from ..plots import removal_plot

        return removal_plot(self, metric=metric, ax=ax, show=show)

    def _repr_html_(self) -> str:
        items = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>"
                        for k, v in self.verdicts().items())
        body = section_html("Removal curve", f"<ul>{items}</ul>",
                            f"Retraining without the blamed rows ({self.n_anomalies} anomalies, "
                            f"{self.n_random} random draws per point).")
        return f"<div id='removal'>{body}</div>"


def removal_curve(
    model: Any,
    X: Any,
    y: Any,
    rankings: dict[str, Any],
    *,
    X_test: Any = None,
    y_test: Any = None,
    anomalies: Any = None,
    fractions: Sequence[float] = (0.01, 0.02, 0.05, 0.1),
    n_random: int = 3,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    progress: bool = True,
) -> RemovalCurve:
    """Retrain without the top x % of each blame ranking, and without random rows.

    Parameters
    ----------
    model : classifier
        Cloned (``sklearn.base.clone``) and refitted for every point.
    X, y : training rows and labels
    rankings : dict of name -> ranking
        Row indices, most blamed first, or a result carrying one: ``SuspiciousRows``
        (``.ranking``), ``Occurrence`` / ``CollapsedOccurrence`` (rows by count).
    X_test, y_test : optional held-out set for the test accuracy.
    anomalies : row indices, optional
        Training rows whose fixing is measured (default: rows the model, refitted on all
        data, gets wrong). Removed anomalies leave the denominator.
    fractions : sequence of float in (0, 1)
    n_random : int, default 3
        Random removals per fraction.
    random_state, n_jobs, progress : seeds, joblib workers, tqdm bar.

    Returns
    -------
    RemovalCurve

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3)); y = (X[:, 0] > 0).astype(int)
    >>> y[:20] = 1 - y[:20]
    >>> curve = removal_curve(LogisticRegression(), X, y, {"flips": np.arange(20)},
    ...                       fractions=[0.05], progress=False)
    >>> bool(curve.lift("flips").iloc[0] >= 0)
    True
    """
    X, y = check_X_y(X, y)
    n = len(y)
    check_classifier(model)
    if not isinstance(rankings, dict) or not rankings:
        raise TypeError("rankings must be a non-empty dict of name -> row ranking")
    if "random" in rankings:
        raise ValueError("rankings: the name 'random' is reserved for the baseline")
    ranks = {str(k): _as_ranking(v, n, f"rankings[{k!r}]") for k, v in rankings.items()}
    fractions = [check_float(f, "fractions", low=0.0, high=1.0) for f in fractions]
    if not fractions or min(fractions) <= 0 or max(fractions) >= 1:
        raise ValueError(f"fractions must be in (0, 1); got {fractions}")
    n_random = check_int(n_random, "n_random", low=1)
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        X_test = check_frame_or_array(X_test, "X_test")
        y_test = check_y(y_test, "y_test", n=len(X_test))
    rng = check_random_state(random_state)
    seed = seed_from(rng)

    def fit_eval(keep_mask):
        est = clone_model(model)
        if "random_state" in est.get_params():
            est.set_params(random_state=seed)
        est.fit(take_rows(X, np.flatnonzero(keep_mask)), y[keep_mask])
        f = predict_proba_fn(est)
        cls = classes_of(est)
        pred = cls[f(X).argmax(axis=1)]
        acc = (float(np.mean(cls[f(X_test).argmax(axis=1)] == y_test))
               if X_test is not None else float("nan"))
        return pred, acc

    everything = np.ones(n, dtype=bool)
    pred0, acc0 = fit_eval(everything)
    anom = (np.flatnonzero(pred0 != y) if anomalies is None
            else check_indices(anomalies, n, "anomalies"))
    fix0 = float(np.mean(pred0[anom] == y[anom])) if len(anom) else float("nan")

    plan = []
    for f in fractions:
        k = max(1, int(np.ceil(round(f * n, 9))))
        for name, r in ranks.items():
            plan.append((name, f, r[:k], 0))
        for rep in range(n_random):
            plan.append(("random", f, rng.choice(n, size=k, replace=False), rep))

    def run(removed):
        keep = np.ones(n, dtype=bool)
        keep[removed] = False
        pred, acc = fit_eval(keep)
        left = anom[keep[anom]]
        fix = float(np.mean(pred[left] == y[left])) if len(left) else float("nan")
        return fix, acc

    results = parallel_map(run, [removed for _, _, removed, _ in plan], n_jobs=n_jobs,
                           progress=progress, desc="removal curve")
    rows = [{"ranking": name, "fraction": f, "n_removed": len(removed), "fix_rate": fix,
             "test_accuracy": acc}
            for (name, f, removed, _), (fix, acc) in zip(plan, results)]
    df = pd.DataFrame(rows)
    agg = df.groupby(["ranking", "fraction"], sort=False).agg(
        n_removed=("n_removed", "first"), fix_rate=("fix_rate", "mean"),
        fix_rate_std=("fix_rate", "std"), test_accuracy=("test_accuracy", "mean"),
        test_accuracy_std=("test_accuracy", "std")).reset_index()
    agg[["fix_rate_std", "test_accuracy_std"]] = agg[
        ["fix_rate_std", "test_accuracy_std"]].fillna(0.0)
    order = {name: i for i, name in enumerate(list(ranks) + ["random"])}
    agg = agg.sort_values(["ranking", "fraction"], key=lambda s: s.map(order)
                          if s.name == "ranking" else s).reset_index(drop=True)
    return RemovalCurve(agg, acc0, fix0, len(anom), n_random)


# --------------------------------------------------------------------------- stability
@dataclass(frozen=True, repr=False)
class BlameStability(Result):
    """Top-k overlap of blamed rows across seeds / bootstrap replicates.

    Attributes
    ----------
    k : int
    tops : tuple of ndarray
        The top-k rows of each replicate.
    overlap : ndarray, shape (r, r)
        ``|top_a & top_b| / k`` for each pair of replicates.
    mean_overlap, min_overlap : float
        Over the pairs (1.0 = identical top-k every time).
    frequency : pandas Series
        Row -> share of replicates whose top-k holds it (most stable first).
    """

    k: int
    tops: tuple = field(repr=False)
    overlap: np.ndarray = field(repr=False)
    mean_overlap: float = 1.0
    min_overlap: float = 1.0
    frequency: pd.Series = field(repr=False, default_factory=lambda: pd.Series(dtype=float))

    def summary(self) -> dict[str, Any]:
        return {"k": self.k, "n_replicates": len(self.tops), "mean_overlap": self.mean_overlap,
                "min_overlap": self.min_overlap, "n_stable": len(self.stable_rows)}

    @property
    def stable_rows(self) -> np.ndarray:
        """Rows in the top-k of every replicate."""
        return self.frequency.index[self.frequency >= 1.0].to_numpy()

    def to_frame(self) -> pd.DataFrame:
        """Row -> share of replicates whose top-k holds it."""
        return self.frequency.rename("share_of_replicates").rename_axis("row").reset_index()

    def _repr_html_(self) -> str:
        note = (f"Top-{self.k} blamed rows overlap {self.mean_overlap:.0%} on average (worst "
                f"pair {self.min_overlap:.0%}) across {len(self.tops)} replicates; "
                f"{len(self.stable_rows)} rows are in every top list.")
        return f"<div id='stability'>{section_html('Blame stability', '', note)}</div>"


def blame_stability(
    rankings: Sequence[Any] | Callable[[int], Any],
    k: int = 10,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    n_jobs: int = 1,
) -> BlameStability:
    """How stable the top-``k`` blamed rows are across seeds.

    Parameters
    ----------
    rankings : sequence of rankings, or a callable ``seed -> ranking``
        Rankings (row indices most blamed first, or results carrying one, as in
        :func:`removal_curve`) from replicates of the same analysis; or a function that
        runs the analysis for a seed (called once per ``seeds`` entry, through joblib).
    k : int, default 10
    seeds : sequence of int
        Used when ``rankings`` is callable.
    n_jobs : int

    Returns
    -------
    BlameStability

    Examples
    --------
    >>> res = blame_stability([[3, 1, 2, 0], [3, 2, 1, 0], [1, 3, 0, 2]], k=2)
    >>> round(res.mean_overlap, 2)
    0.67
    """
    k = check_int(k, "k", low=1)
    if callable(rankings):
        seeds = [check_int(s, "seeds", low=0) for s in seeds]
        if len(seeds) < 2:
            raise ValueError(f"seeds must hold at least 2 seeds; got {len(seeds)}")
        rankings = parallel_map(rankings, seeds, n_jobs=n_jobs)
    rankings = list(rankings)
    if len(rankings) < 2:
        raise ValueError(f"rankings must hold at least 2 replicates; got {len(rankings)}")
    tops = []
    for i, r in enumerate(rankings):
        if hasattr(r, "ranking") or hasattr(r, "counts"):
            n = len(r.scores) if hasattr(r, "scores") else len(r.counts)
            r = _as_ranking(r, n, f"rankings[{i}]")
        r = np.asarray(r).astype(np.int64).ravel()
        if len(r) < k:
            raise ValueError(f"rankings[{i}] has {len(r)} rows, fewer than k={k}")
        tops.append(r[:k])
    m = len(tops)
    ov = np.eye(m)
    for a, b in combinations(range(m), 2):
        ov[a, b] = ov[b, a] = len(np.intersect1d(tops[a], tops[b])) / k
    pairs = ov[np.triu_indices(m, 1)]
    freq = pd.Series(np.concatenate(tops)).value_counts() / m
    freq = freq.sort_index().sort_values(ascending=False, kind="stable")
    return BlameStability(k, tuple(tops), ov, float(pairs.mean()), float(pairs.min()), freq)


# --------------------------------------------------------------------------- summary
def _flag(level: str, code: str, anchor: str, **data: Any) -> Flag:
    """A flag whose words come from :func:`shap_debug.debugger.flag_message`."""
    # the words live with the findings; the module, not the facade package
    from ..debugger._findings import flag_message

    return Flag(level, flag_message(code, **data), anchor)


def _cohort_flag(cohorts: Any, share_warn: float, min_errors: int) -> Flag:
    """Does one cohort concentrate the errors? Only said on enough errors and a real effect."""
    top = cohorts.slices[0]
    where = dict(rule=top.rule, size_share=top.size / cohorts.n_rows,
                 error_share=top.error_share, n_errors=cohorts.n_errors)
    if cohorts.n_errors < min_errors:
        return _flag("pass", "few_errors", "#cohorts", **where)
    if not getattr(top, "significant", True):
        return _flag("pass", "not_significant", "#cohorts", **where)
    level = "warn" if top.error_share >= share_warn else "pass"
    return _flag(level, "concentrated", "#cohorts", **where)


def summary_flags(
    *,
    integrity: Any = None,
    cohorts: Any = None,
    ambiguity: Any = None,
    suspicious: Any = None,
    systematic: Any = None,
    removal: Any = None,
    stability: Any = None,
    neighborhood: Any = None,
    protected: Sequence[str] = (),
    ambiguous_warn: float = 0.5,
    protected_warn: float = 0.1,
    stability_warn: float = 0.8,
    concentration_warn: float = 0.5,
    min_errors: int = 10,
) -> list[Flag]:
    """The report's first screen: a few pass/warn lines, each linking to its evidence.

    Every argument is optional; only the evidence given produces lines. Anchors are
    ``#integrity``, ``#cohorts``, ``#ambiguity``, ``#suspicious``, ``#systematic``,
    ``#removal``, ``#stability`` and ``#neighborhoods``.

    Parameters
    ----------
    integrity : IntegrityReport
    cohorts : ErrorCohorts
    ambiguity : AmbiguityReport
    suspicious : SuspiciousRows
    systematic : SystematicErrors
    removal : RemovalCurve
    stability : BlameStability
    neighborhood : NeighborhoodModel
        Fitted with contributions; with ``protected`` it measures each protected feature's
        share of the mean absolute contribution inside the anomalies' neighbourhoods.
    protected : sequence of str
        Protected attributes (e.g. ``("sex", "race")``).
    ambiguous_warn, protected_warn, stability_warn : float
        Thresholds for "warn".
    concentration_warn : float, default 0.5
        Warn when the top error cohort holds at least this share of the errors, only when
        there are at least ``min_errors`` errors and the cohort is significant
        (``Cohort.significant``: Holm-adjusted one-sided Fisher test, see
        :func:`~shap_debug.audit.error_cohorts`); otherwise the line says why it does not.
    min_errors : int, default 10
        Fewer errors than this are too few to say where they concentrate.

    Returns
    -------
    list of Flag
    """
    ambiguous_warn = check_float(ambiguous_warn, "ambiguous_warn", low=0.0, high=1.0)
    protected_warn = check_float(protected_warn, "protected_warn", low=0.0, high=1.0)
    stability_warn = check_float(stability_warn, "stability_warn", low=0.0, high=1.0)
    concentration_warn = check_float(concentration_warn, "concentration_warn", low=0.0,
                                     high=1.0)
    min_errors = check_int(min_errors, "min_errors", low=1)
    out: list[Flag] = []
    if integrity is not None:
        out.extend(integrity.flags())
    if cohorts is not None:
        if cohorts.n_errors == 0:
            out.append(_flag("pass", "no_errors", "#cohorts"))
        else:
            out.append(_cohort_flag(cohorts, concentration_warn, min_errors))
    if ambiguity is not None and ambiguity.n_errors:
        a = ambiguity.ambiguous_error_share
        level = "warn" if a >= ambiguous_warn else "pass"
        out.append(_flag(level, "ambiguity", "#ambiguity", ambiguous=a,
                         fixable=ambiguity.fixable_error_share))
    if suspicious is not None:
        n, n_rows = suspicious.n_flagged, len(suspicious.scores)
        level = "warn" if n > 0 else "pass"
        out.append(_flag(level, "suspicious", "#suspicious", n=n, share=n / n_rows))
    if systematic is not None:
        f = systematic.fixable
        if f:
            out.append(_flag("warn", "systematic", "#systematic", n_regions=len(f),
                             n_rows=len(systematic.rows_to_recheck()), strongest=f[0].name))
        else:
            out.append(_flag("pass", "no_systematic", "#systematic"))
    if removal is not None:
        for name, text in removal.verdicts().items():
            level = "warn" if "do not trust" in text else "pass"
            out.append(_flag(level, "removal", "#removal", name=name, text=text))
    if stability is not None:
        level = "pass" if stability.mean_overlap >= stability_warn else "warn"
        out.append(_flag(level, "stability", "#stability", k=stability.k,
                         overlap=stability.mean_overlap))
    if neighborhood is not None and protected:
        contrib = getattr(neighborhood, "contributions_", None)
        if contrib is None:
            raise ValueError("neighborhood must be fitted with contributions to judge "
                             "protected attributes")
        names = list(neighborhood.feature_names_)
        missing = [p for p in protected if p not in names]
        if missing:
            raise ValueError(f"protected: unknown feature(s) {missing}; known: {names}")
        anom = neighborhood.anomalies_
        if len(anom):
            # the rows in any anomaly's neighbourhood: counted in chunks, never n_anomalies x K
            if hasattr(neighborhood, "occurrence"):
                rows = np.flatnonzero(neighborhood.occurrence().counts > 0)
            else:
                _, idx = neighborhood.kneighbors(anom)
                rows = np.unique(idx.ravel())
            mag = np.abs(contrib[rows]).mean(axis=0)
            share = mag / max(mag.sum(), 1e-12)
            for p in protected:
                s = float(share[names.index(p)])
                level = "warn" if s >= protected_warn else "pass"
                out.append(_flag(level, "protected", "#neighborhoods", feature=p, share=s))
    return out
