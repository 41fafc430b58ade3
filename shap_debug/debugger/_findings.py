"""What the report says first, computed from the Debugger's values: the Diagnosis sentences,
whether a sparser change than the closest flip point flips an anomaly, and the small tables
derived from the parts (influential rows with the anomaly's exact duplicates marked, the
protected attributes' neighbourhood effects, the rows that recur in anomaly neighbourhoods).

Plain functions of values, no model calls: :class:`~shap_debug.debugger.Debugger` runs the
analyses (and the flip-point solver) and hands their results here; the report renders what
comes back.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result

__all__ = ["SparserFlip", "diagnosis", "feature_units", "flip_row", "influential_table",
           "label_flip_skip_reason", "pair_flips", "protected_effects", "readable_formula", "recurring_table", "sparser_flip",
           "top_units"]

#: Columns of :attr:`SparserFlip.tried`.
TRIED_COLUMNS = ["features", "n_features", "can_flip", "distance", "change", "outside_range"]


def _code(name: Any) -> str:
    return f"`{name}`"


def _num(v: float) -> str:
    return f"{v:.3g}"


# --------------------------------------------------------------------------- sparser flips
@dataclass(frozen=True, repr=False)
class SparserFlip(Result):
    """Does a change of fewer features than the closest flip point also flip the decision?

    Attributes
    ----------
    n_changed : int
        Features the closest (unconstrained) flip point changes.
    distance : float
        Its distance.
    tried : DataFrame
        Each restricted problem that was solved: ``features`` (``"a + b"``), ``n_features``,
        ``can_flip``, ``distance``, ``change`` (readable), ``outside_range``.
    best : dict or None
        The sparsest restricted change that flips it (fewest features, then shortest
        distance), a row of ``tried``; None when none does.
    max_features : int
        Largest subset tried.
    sentence : str
        The verdict in one sentence, as the report shows it.
    """

    n_changed: int
    distance: float
    tried: pd.DataFrame
    best: dict | None
    max_features: int
    sentence: str

    def summary(self) -> dict[str, Any]:
        """Key figures: features the closest change touches, subsets tried, the best."""
        return {"n_changed": self.n_changed, "tried": len(self.tried),
                "best": None if self.best is None else self.best["features"]}

    def to_frame(self) -> pd.DataFrame:
        """The restricted problems tried, those that flip it first (shortest first)."""
        return self.tried.sort_values(["can_flip", "n_features", "distance"],
                                      ascending=[False, True, True]).reset_index(drop=True)


def sparser_flip(changes: pd.DataFrame, distance: float, singles: pd.DataFrame,
                 groups: pd.DataFrame | None = None) -> SparserFlip:
    """The verdict on a sparser change, from a flip report's constrained problems.

    Parameters
    ----------
    changes : DataFrame
        Features the closest flip point changes (``feature`` column; one row each).
    distance : float
        The closest flip point's distance.
    singles : DataFrame
        One row per single feature solved alone: ``features``, ``can_flip``, ``distance``,
        ``change``, ``outside_range`` (``IndividualReport.singles``).
    groups : DataFrame, optional
        The same for the pairs (or larger groups) that were tried, ``features`` named
        ``"a + b"``.

    Returns
    -------
    SparserFlip

    Examples
    --------
    >>> changes = pd.DataFrame({"feature": ["age", "hours", "gain"]})
    >>> singles = pd.DataFrame({"features": ["age", "gain"], "can_flip": [False, True],
    ...                         "distance": [np.nan, 2.5], "change": ["", "gain: 0 → 7000"],
    ...                         "outside_range": [False, False]})
    >>> sparser_flip(changes, 1.0, singles).sentence
    'The closest change found touches 3 features (distance 1); changing only `gain` flips it too, at distance 2.5: gain: 0 → 7000.'
    >>> sparser_flip(changes, 3.0, singles).sentence.split(";")[0]
    'Changing only `gain` flips it at distance 2.5: gain: 0 → 7000'
    """
    n_changed = int(len(changes))
    parts = []
    for frame in (singles, groups):
        if frame is None or not len(frame):
            continue
        part = frame.copy()
        part["n_features"] = [len(str(f).split(" + ")) for f in part["features"]]
        part["can_flip"] = part["can_flip"].astype(bool)
        parts.append(part.reindex(columns=TRIED_COLUMNS))
    tried = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame(columns=TRIED_COLUMNS))
    tried = tried[tried["n_features"] < max(n_changed, 1)] if n_changed else tried.iloc[:0]
    ok = tried[tried["can_flip"].astype(bool)]
    best = (ok.sort_values(["n_features", "distance"]).iloc[0].to_dict() if len(ok) else None)
    max_k = int(tried["n_features"].max()) if len(tried) else 0
    word = "feature" if n_changed == 1 else "features"
    head = f"The closest change found touches {n_changed} {word} (distance {_num(distance)})"
    if n_changed <= 1:
        sentence = head + "; no change can be sparser."
    elif best is not None:
        names = " and ".join(_code(f) for f in str(best["features"]).split(" + "))
        outside = ", outside the training range" if bool(best["outside_range"]) else ""
        d = float(best["distance"])
        if d < distance:  # the search over all features missed it: say which is closest
            sentence = (f"Changing only {names} flips it at distance {_num(d)}{outside}: "
                        f"{best['change']}; this is the closest change known. The search "
                        f"over all features stopped at a {n_changed}-feature change at "
                        f"distance {_num(distance)}, so it is approximate for this model.")
        else:
            lead = ("; changing only " if best["n_features"] == 1 else
                    "; no single feature flips it alone, but changing only ")
            sentence = (f"{head}{lead}{names} flips it too, at distance {_num(d)}{outside}: "
                        f"{best['change']}.")
    elif max_k:
        what = ("every single feature" if max_k == 1 else
                f"every single feature and {int((tried['n_features'] > 1).sum())} pairs of "
                "the most important features")
        sentence = (f"{head}; no change of at most {max_k} "
                    f"{'feature' if max_k == 1 else 'features'} flips it ({what} tried).")
    else:
        sentence = head + "; no sparser change was tried."
    return SparserFlip(n_changed=n_changed, distance=float(distance),
                       tried=tried.reset_index(drop=True), best=best, max_features=max_k,
                       sentence=sentence)


def feature_units(feature_names: Sequence[str], encoder: Any = None) -> dict[str, list[int]]:
    """What a person calls a feature -> the model's columns that encode it.

    Examples
    --------
    >>> feature_units(["a", "b"])
    {'a': [0], 'b': [1]}
    """
    if encoder is not None:
        return {str(k): [int(c) for c in v] for k, v in encoder.groups_.items()}
    return {str(n): [j] for j, n in enumerate(feature_names)}


def top_units(units: Mapping[str, list[int]], contributions: Any, k: int) -> list[str]:
    """The ``k`` features with the largest absolute contribution (summed over their columns).

    Examples
    --------
    >>> top_units({"a": [0], "b": [1], "c": [2]}, [0.1, -0.5, 0.2], 2)
    ['b', 'c']
    """
    c = np.abs(np.asarray(contributions, dtype=np.float64).reshape(-1))
    weight = {u: float(c[cols].sum()) for u, cols in units.items()}
    return sorted(units, key=lambda u: -weight[u])[:k]


def flip_row(label: str, result: Any, units: Mapping[str, list[int]], decode: Any,
             data: np.ndarray | None, cols: Sequence[int]) -> dict[str, Any]:
    """One restricted flip problem as a row of :attr:`SparserFlip.tried`.

    Parameters
    ----------
    label : str
        The features allowed to move, ``"a + b"``.
    result : FlipResult
        The solver's answer for one row (``valid``, ``x``, ``x_hat``, ``distance``,
        ``message``).
    units : dict
        Feature -> columns (:func:`feature_units`).
    decode : callable or None
        Encoded rows -> readable frame.
    data : ndarray or None
        Training rows, for the ``outside_range`` flag.
    cols : sequence of int
        The columns that were free.
    """
    ok = bool(result.valid[0])
    x, xh = np.asarray(result.x[0]), np.asarray(result.x_hat[0])
    text, outside = str(result.message[0]), False
    if ok:
        frame = decode(np.vstack([x, xh])) if decode is not None else None
        parts = []
        for unit, c in units.items():
            if np.abs(xh[c] - x[c]).max() <= 1e-9:
                continue
            if frame is not None and unit in frame.columns:
                old, new = frame[unit].iloc[0], frame[unit].iloc[1]
            else:
                old, new = x[c[0]], xh[c[0]]
            parts.append(f"{unit}: {_fmt(old)} → {_fmt(new)}")
        text = ", ".join(parts)
        if data is not None:
            cols = list(cols)
            lo, hi = data[:, cols].min(axis=0), data[:, cols].max(axis=0)
            outside = bool(((xh[cols] < lo - 1e-9) | (xh[cols] > hi + 1e-9)).any())
    return {"features": label, "can_flip": ok, "distance": float(result.distance[0]),
            "change": text, "outside_range": outside}


def pair_flips(find: Any, units: Mapping[str, list[int]], contributions: Any, decode: Any,
               data: np.ndarray | None, k: int = 4) -> pd.DataFrame:
    """Restricted flip problems for every pair of the ``k`` features that contribute most
    (``k (k - 1) / 2`` solver calls).

    Parameters
    ----------
    find : callable
        ``find(columns) -> FlipResult``: the closest flip point moving only ``columns``.
    units, decode, data
        As in :func:`flip_row`.
    contributions : array (m,)
        The row's contributions, to rank the features (:func:`top_units`).

    Returns
    -------
    DataFrame
        One :func:`flip_row` per pair.
    """
    rows = []
    for a, b in itertools.combinations(top_units(units, contributions, k), 2):
        cols = list(units[a]) + list(units[b])
        rows.append(flip_row(f"{a} + {b}", find(cols), units, decode, data, cols))
    return pd.DataFrame(rows, columns=TRIED_COLUMNS[:1] + TRIED_COLUMNS[2:])


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


# --------------------------------------------------------------------------- tables
def influential_table(frame: pd.DataFrame, X: Any, y: np.ndarray, anomaly: int,
                      rows: Sequence[int], scores: Sequence[float],
                      k: int = 10) -> pd.DataFrame:
    """The influential training rows of an anomaly, the anomaly itself left out.

    Rows whose model inputs equal the anomaly's are kept (they can be the cause: an identical
    row with another label) but marked ``"exact duplicate of the anomaly"`` in the
    ``duplicate`` column.

    Parameters
    ----------
    frame : DataFrame
        Readable training rows.
    X : DataFrame or ndarray
        The model's inputs (compared for exact duplicates).
    y : ndarray
        Training labels.
    anomaly : int
    rows, scores : sequences
        Candidate rows, best first, and their scores.
    k : int
        Rows kept.

    Returns
    -------
    DataFrame
        ``row, label, score, duplicate`` then the readable values.
    """
    rows = np.asarray(rows, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    keep = rows != int(anomaly)
    rows, scores = rows[keep][:k], scores[keep][:k]
    values = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
    same = np.array([np.array_equal(values[r], values[anomaly]) for r in rows], dtype=bool)
    out = frame.iloc[rows].copy()
    out.insert(0, "duplicate", np.where(same, "exact duplicate of the anomaly", ""))
    out.insert(0, "score", scores)
    out.insert(0, "label", y[rows])
    out.insert(0, "row", rows)
    return out.reset_index(drop=True)


def protected_effects(inspections: Mapping[int, Any],
                      protected: Sequence[str]) -> tuple[pd.DataFrame | None, str | None]:
    """The protected attributes' rows of each inspection's ALE bias table.

    Returns
    -------
    (DataFrame or None, str or None)
        ``anomaly, feature, ...`` rows, or None and the sentence saying why there are none.
    """
    protected = [str(p) for p in protected]
    rows = []
    for i, ins in inspections.items():
        if getattr(ins, "bias", None) is None:
            continue
        table = ins.bias.to_frame()
        table = table.reset_index().rename(columns={table.index.name or "index": "feature"})
        table = table[table["feature"].astype(str).isin(protected)]
        table.insert(0, "anomaly", i)
        rows.append(table)
    if rows and sum(len(r) for r in rows):
        return pd.concat(rows, ignore_index=True), None
    if not inspections:
        return None, ("No inspected anomaly, so no neighbourhood effect of the protected "
                      "attributes to compare.")
    return None, (f"The neighbourhood ALE of the inspected anomalies has no curve for "
                  f"{', '.join(protected)} (a constant feature has no effect); inspect more "
                  "anomalies to compare their effect.")


def recurring_table(collapsed: Any, frame: pd.DataFrame, y: np.ndarray,
                    k: int = 15) -> pd.DataFrame:
    """The ``k`` rows that recur most in anomaly neighbourhoods (identical rows counted once)
    with their label and readable values."""
    top = collapsed.to_frame().head(k).reset_index(drop=True)
    rows = top["row"].to_numpy()
    values = frame.iloc[rows].reset_index(drop=True)
    values.insert(0, "label", y[rows])
    return pd.concat([top, values], axis=1)


def label_flip_skip_reason(overview: Any, chosen: Sequence[int]) -> str | None:
    """Why the label-flip check cannot run (None when it can): it is binary-only and needs
    an inspected anomaly."""
    k = len(overview.class_counts)
    if k != 2:
        names = ", ".join(str(c) for c in overview.class_counts)
        return (f"Not run: the label-flip check is binary-only (it flips each neighbour's "
                f"label to the other class), and this target has {k} classes ({names}).")
    if not chosen:
        return ("Not run: no anomaly was inspected" + (
            " (the model predicts every training row correctly)"
            if overview.n_anomalies == 0 else "") + ", so there is nothing to "
            "retrain the model for.")
    return None


# --------------------------------------------------------------------------- diagnosis
def _cohort_sentences(cohorts: Any, k: int = 2) -> list[tuple[str, str]]:
    if cohorts is None or not cohorts.n_errors:
        return []
    overall = cohorts.error_rate
    top: list = []
    for c in cohorts.slices:  # nested slices say the same thing: keep the first of them
        rows = set(np.asarray(c.rows).tolist())
        if c.significant and all(len(rows & t) < 0.5 * min(len(rows), len(t)) or not rows
                                 for t in (set(np.asarray(s.rows).tolist()) for s in top)):
            top.append(c)
        if len(top) == k:
            break
    if not top:
        return [(f"No group of rows has a significantly higher error rate than the "
                 f"{overall:.1%} overall: the errors are spread over the data, not "
                 "concentrated in one cohort.", "cohorts")]
    out = []
    for c in top:
        out.append((f"The model fails most where {c.rule}: error rate {c.error_rate:.0%} vs "
                    f"{overall:.1%} overall ({c.size} rows, {c.error_share:.0%} of the "
                    "errors).", "cohorts"))
    return out


def _ambiguity_sentence(ambiguity: Any) -> list[tuple[str, str]]:
    if ambiguity is None or not ambiguity.n_errors:
        return []
    amb, fix = ambiguity.ambiguous_error_share, ambiguity.fixable_error_share
    model = max(0.0, 1.0 - amb - fix)
    return [(f"Of the {ambiguity.n_errors} training errors, {amb:.0%} look ambiguous (the "
             f"model is unsure or similar rows disagree), {fix:.0%} look fixable (a likely "
             f"data problem) and {model:.0%} are confident mistakes with no sign of a data "
             "problem.", "ambiguity")]


def _suspicious_sentence(suspicious: Any, k: int = 5) -> list[tuple[str, str]]:
    if suspicious is None or not len(suspicious.ranking):
        return []
    top = ", ".join(str(int(r)) for r in suspicious.ranking[:k])
    n = int(suspicious.n_flagged)
    if n == 0:
        return [("No training label looks wrong to an out-of-sample model (confident "
                 "learning flags none).", "suspicious")]
    return [(f"About {n} training labels look wrong (confident learning); look first at "
             f"rows {top}.", "suspicious")]


def readable_formula(text: str) -> str:
    """A DNF over concepts in words: ``~`` -> ``not``, ``&`` -> ``and``, ``|`` -> ``or``.

    >>> readable_formula("(~a & b) | c")
    '(not a and b) or c'
    """
    return text.replace("~", "not ").replace(" & ", " and ").replace(" | ", " or ")


def _formula_sentence(formula: Any) -> list[tuple[str, str]]:
    if formula is None or getattr(formula, "is_trivial", True):
        return []
    text = readable_formula(str(formula.formula))
    if len(text) > 200:
        text = text[:197] + "..."
    return [(f"The anomalies are set apart from the rows the model gets right by: {text} "
             f"(holds for {formula.recall:.0%} of the anomalies; {formula.precision:.0%} of "
             f"the rows it holds for are anomalies, vs {formula.base_rate:.0%} overall).",
             "logic")]


#: anchors of the fixes' sentences that have no section of their own in the report
_FIX_ANCHORS = {"systematic": "fixes"}


def _fix_sentences(fixes: Any) -> list[tuple[str, str]]:
    if fixes is None:
        return []
    from ..fixes import Diagnosis

    out = []
    for s in Diagnosis.from_fixes(fixes).sentences():
        anchor = str(s.anchor).lstrip("#")
        out.append((s.text, _FIX_ANCHORS.get(anchor, anchor)))
    return out


def diagnosis(overview: Any, inspections: Mapping[int, Any] | None = None,
              fixes: Any = None, dose: Any = None) -> tuple[tuple[str, str], ...]:
    """The Diagnosis block: ``(sentence, anchor)`` pairs, each anchored to its evidence.

    Where the model fails (significant error cohorts, readable rules with their error rate
    against the overall one), how much of the failure is ambiguity and how much looks
    fixable, which training rows to look at (confident learning), what sets the anomalies
    apart (the anomaly formula) and, per inspected anomaly, the sparsest change that flips
    it.

    Parameters
    ----------
    overview : Overview
    inspections : dict of row -> Inspection, optional
    fixes : FixReport, optional
        When given, its verdicts (ambiguous / fixable per failing cohort, the verified
        actions) lead the diagnosis and replace the cohort sentences.
    dose : DoseResponse, optional
        When given, its verdict (which space's neighbours flip the anomalies with the fewest
        relabelled rows) is added.

    Returns
    -------
    tuple of (str, str)
    """
    out: list[tuple[str, str]] = _fix_sentences(fixes)
    if not out:
        out += _cohort_sentences(overview.cohorts)
    out += _ambiguity_sentence(getattr(overview, "ambiguity", None))
    out += _suspicious_sentence(overview.suspicious)
    out += _formula_sentence(overview.formula)
    if dose is not None:
        out.append((dose.verdict(), "dose"))
    for i, ins in (inspections or {}).items():
        sparser = getattr(ins, "sparser", None)
        if sparser is not None:
            out.append((f"Anomaly {i}: {sparser.sentence}", f"anomaly-{i}-flip"))
    return tuple(out)
