"""Every sentence the user reads, and the one list of findings they are rendered from.

The analyses (:mod:`shap_debug.audit`, :mod:`shap_debug.blame`, :mod:`shap_debug.fixes`)
return numbers and verdict codes; this module turns them into :class:`Finding` values
(:func:`build_findings`: kind, where, how strong, verdict, the verified fix) and into words:
the Diagnosis (:func:`diagnosis`), the summary flags (:func:`findings_flags`), each report
section's headline (:func:`section_headlines`), and the sentences the lower values still
offer as methods (``Diagnosis.sentences``, ``DoseResponse.verdict``, ``summary_flags``),
which call :func:`diagnosis_sentences`, :func:`dose_sentence` and :func:`flag_message`.
Because the report, the JSON export and the CLI read this one list, no two of them can
disagree. Plain functions of values: no model calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result

__all__ = ["SCHEMA_VERSION", "Finding", "SparserFlip", "build_findings", "cohort_reason",
           "diagnosis", "diagnosis_sentences", "dose_sentence", "findings_flags",
           "flag_message", "influence_method_text", "label_flip_skip_reason", "no_anomaly_reason",
           "note_text",
           "protected_effects", "readable_formula", "section_headlines", "sparser_flip"]

#: Version of the JSON schema of :meth:`Evidence.to_dict` (``docs/report.md``).
SCHEMA_VERSION = "1.0"

#: Columns of :attr:`SparserFlip.tried`.
TRIED_COLUMNS = ["features", "n_features", "can_flip", "distance", "change", "outside_range"]

#: Kinds in the order the Diagnosis ranks them (most harmful first), then by verdict.
KIND_ORDER = ("leakage", "id_column", "overfitting", "shortcut", "systematic_relabelling",
              "cohort_shift", "under_represented", "sentinel", "underfitting",
              "error_cohort", "label_noise", "conflicting_duplicates", "ambiguous_cohort",
              "integrity")
_VERDICT_ORDER = {"confirmed": 0, "suspected": 1, "not_confirmed": 2}
#: Kinds that say where the model fails rather than why: ranked after the causes.
_SYMPTOMS = ("error_cohort", "ambiguous_cohort", "integrity")

#: The report section holding each kind's evidence.
KIND_SECTION = {"systematic_relabelling": "fixes", "error_cohort": "cohorts",
                "ambiguous_cohort": "ambiguity", "label_noise": "suspicious",
                "overfitting": "summary", "underfitting": "summary",
                "conflicting_duplicates": "integrity", "integrity": "integrity"}

#: How each kind is named in words.
KIND_WORDS = {
    "label_noise": "label noise", "systematic_relabelling": "systematically wrong labels",
    "leakage": "target leakage", "id_column": "a row-ID column used as a feature",
    "shortcut": "a shortcut feature", "under_represented": "an under-represented cohort",
    "overfitting": "overfitting", "underfitting": "underfitting",
    "sentinel": "a sentinel value coding 'unknown'",
    "conflicting_duplicates": "identical rows with conflicting labels",
    "cohort_shift": "a cohort shifted between training and held-out rows",
    "error_cohort": "an error cohort", "ambiguous_cohort": "an ambiguous cohort",
    "integrity": "a data-integrity problem"}


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the model or its data: what, where, how sure, what fixes it.

    Attributes
    ----------
    id : str
        ``"F1"``, ``"F2"``... in the order of :attr:`Evidence.findings` (strongest first).
    kind : str
        One of :data:`shap_debug.audit.SIGNAL_KINDS`.
    features : tuple of str
    rows : tuple
        The affected training rows, by the user's own index labels.
    rule : dict or None
        The cohort, ``{"text": readable rule}`` (plus ``{feature: condition}`` when known).
    strength : float
        The effect on the scale ``measure`` names.
    measure : str
    interval : tuple of float or None
        A 95 % interval of ``strength``.
    p_value : float or None
    verdict : str
        One of :data:`shap_debug.audit.VERDICTS`.
    fix : str or None
        The best verified fix (an action of the Fixes section), or None.
    fix_effect : float or None
        Its held-out accuracy change overall, in percentage points.
    fix_interval : tuple of float or None
        Its interval, in points.
    headline : str
        The one sentence the report shows.
    section : str
        The anchor of the report section holding the evidence.
    details : dict
        Other numbers (JSON-serialisable): e.g. a cohort's label ``C1`` and verdict code.
    """

    id: str
    kind: str
    features: tuple = ()
    rows: tuple = ()
    rule: dict | None = None
    strength: float = float("nan")
    measure: str = ""
    interval: tuple | None = None
    p_value: float | None = None
    verdict: str = "suspected"
    fix: str | None = None
    fix_effect: float | None = None
    fix_interval: tuple | None = None
    headline: str = ""
    section: str = "summary"
    details: dict = field(default_factory=dict)

    @property
    def is_problem(self) -> bool:
        """True unless the verdict is ``not_confirmed``."""
        return self.verdict != "not_confirmed"

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready values (NaN -> None, numpy scalars -> Python)."""
        return {k: _plain(getattr(self, k)) for k in (
            "id", "kind", "features", "rows", "rule", "strength", "measure", "interval",
            "p_value", "verdict", "fix", "fix_effect", "fix_interval", "headline",
            "section", "details")}


def _plain(v: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return str(v)


# --------------------------------------------------------------------------- word helpers
def _code(name: Any) -> str:
    return f"`{name}`"


def _num(v: float) -> str:
    return f"{v:.3g}"


def _share(v: float) -> str:
    return f"{100 * v:.1f} %"


def _pts(v: float) -> str:
    return f"{100 * v:+.1f}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _rows_text(rows: Sequence[Any], k: int = 5) -> str:
    return ", ".join(str(r) for r in list(rows)[:k])


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



# --------------------------------------------------------------------------- small notes
def note_text(code: str, **data: Any) -> str:
    """A note of an inspection: ``"flip_failed"`` (``reason``)."""
    if code == "flip_failed":
        return f"flip point not computed: {data['reason']}"
    raise ValueError(f"code: unknown note {code!r}")


def influence_method_text(code: str, model: str = "") -> str:
    """How an anomaly's influential rows were ranked: ``"influence"`` or ``"neighbours"``."""
    if code == "influence":
        return ("influence functions (Koh & Liang 2017): predicted rise of the "
                "anomaly's loss if the row were removed")
    return ("nearest contribution-space neighbours, closest first (influence "
            f"functions need a differentiable model; this is a {model})")


# --------------------------------------------------------------------------- dose-response
_NOUN = {"contributions": "contribution space", "features": "feature space",
         "probabilities": "probability space"}
_ADJ = {"contributions": "contribution-space", "features": "feature-space",
        "probabilities": "probability-space"}


def _k_words(k: Mapping[str, Any]) -> str:
    kind = k["kind"]
    if kind == "above_cap":
        return f"more than {k['k_max']} (the cap)"
    if kind == "bracket":
        return f"{k['low']:g}–{k['high']:g}"
    if kind == "at_most":
        return f"at most {k['k']:g}"
    return f"{k['k']:g}"


def _anoms(n: int) -> str:
    return f"{n} anomal{'y' if n == 1 else 'ies'}"


def dose_sentence(code: Mapping[str, Any]) -> str:
    """:meth:`shap_debug.blame.DoseResponse.verdict_code` in one sentence.

    Examples
    --------
    >>> dose_sentence({"case": "single_space", "best": "features", "n": 2,
    ...                "k": {"features": {"kind": "exact", "k": 12.0}}})
    'Feature-space neighbours flip the prediction with 12 relabelled rows.'
    """
    case, n = code["case"], code.get("n", 0)
    if case == "none_searched":
        return ("No anomaly could be searched: a clone refitted on the unchanged labels "
                "already predicts each of them differently, so relabelling cannot be "
                "told apart from training noise.")
    if case == "none_flip":
        return (f"No space flips the prediction of any of the {_anoms(n)} within the cap "
                f"of {code['k_max']} relabelled neighbours: the spaces cannot be told apart "
                "on these anomalies.")
    best, k = code["best"], {s: _k_words(v) for s, v in code["k"].items()}
    if case == "single_space":
        return f"{_cap(_ADJ[best])} neighbours flip the prediction with {k[best]} relabelled rows."
    order, wins, losses = code["order"], code["wins"], code["losses"]
    apart, together = code["apart"], code["together"]
    if case == "one_row":
        row = code["row"]
        others = [f"{k[s]} in {_NOUN[s]}" for s in order[1:]]
        if not together:
            return (f"{_cap(_ADJ[best])} neighbours flip row {row}'s prediction with "
                    f"{k[best]} relabelled rows, against {_join(others)}.")
        return (f"The spaces cannot be told apart on row {row}: its prediction flips with "
                f"{k[best]} relabelled rows in {_NOUN[best]}, {_join(others)} (a margin of "
                f"{code['margin']:g}x is needed to tell them apart).")

    def tally(s: str) -> str:
        return f"clearly fewer for {wins[s]} of {n} anomalies, clearly more for {losses[s]}"

    if not together:
        parts = [f"{k[s]} in {_NOUN[s]} ({tally(s)})" for s in order[1:]]
        return (f"{_cap(_ADJ[best])} neighbours flip the predictions with the fewest "
                f"relabelled rows: median {k[best]}, against {_join(parts)}.")
    if not apart:
        parts = [f"{k[s]} in {_NOUN[s]} ({_NOUN[best]} {tally(s)})" for s in order[1:]]
        return (f"The spaces cannot be told apart on these {_anoms(n)}: median relabelled "
                f"neighbours needed {k[best]} in {_NOUN[best]}, {_join(parts)}.")
    apart_parts = [f"{_NOUN[s]} (median {k[best]} against {k[s]}; {tally(s)})" for s in apart]
    tied_parts = [f"{_NOUN[s]} (median {k[s]}; {tally(s)})" for s in together]
    return (f"{_cap(_NOUN[best])} needs fewer relabelled neighbours than "
            f"{_join(apart_parts)}, but cannot be told apart from {_join(tied_parts)}.")


# --------------------------------------------------------------------------- summary flags
def flag_message(code: str, **d: Any) -> str:
    """The words of one summary flag (:func:`shap_debug.blame.summary_flags` codes).

    Examples
    --------
    >>> flag_message("no_errors")
    'no errors on these rows'
    """
    if code == "no_errors":
        return "no errors on these rows"
    if code in ("few_errors", "not_significant", "concentrated"):
        where = f"{d['rule']}; {d['size_share']:.0%} of rows"
        if code == "few_errors":
            return (f"only {d['n_errors']} errors: too few to say where they concentrate "
                    f"(top cohort: {where})")
        if code == "not_significant":
            return ("no cohort fails significantly more often than the other rows "
                    f"(top: {where}; {d['error_share']:.0%} of the errors)")
        return f"{d['error_share']:.0%} of the errors fall in one cohort ({where})"
    if code == "ambiguity":
        return (f"{d['ambiguous']:.0%} of the errors are in ambiguous regions (label "
                f"uncertain given the features); {d['fixable']:.0%} look fixable")
    if code == "suspicious":
        return (f"{d['n']} suspicious training labels to re-check "
                f"({d['share']:.1%} of rows, confident-learning estimate)")
    if code == "systematic":
        return (f"{d['n_regions']} region(s) with systematically wrong labels; "
                f"{d['n_rows']} rows to re-check (strongest: {d['strongest']})")
    if code == "no_systematic":
        return "no systematic labelling errors found"
    if code == "removal":
        return f"{d['name']}: {d['text']}"
    if code == "stability":
        return f"top-{d['k']} blamed rows overlap {d['overlap']:.0%} across replicates"
    if code == "protected":
        return (f"protected attribute {d['feature']!r} carries {d['share']:.0%} of the "
                "contribution in the anomalies' neighbourhoods")
    raise ValueError(f"code: unknown flag {code!r}")


# --------------------------------------------------------------------------- fixes
def _effect_text(e: Mapping[str, Any], confidence: float) -> str:
    return (f"{_pts(e['delta'])} points, {confidence:.0%} interval {_pts(e['low'])} to "
            f"{_pts(e['high'])}")


def cohort_reason(v: Any) -> str:
    """Why a failing cohort got its verdict (:class:`shap_debug.fixes.CohortVerdict`), from
    its ``reason_code`` and ``reason_data``."""
    code, d = v.reason_code, v.reason_data
    also = ""
    if d.get("own_action"):
        o = d["own_action"]
        also = (f" ('{o['name']}' raises overall held-out accuracy "
                f"({_effect_text(o, d.get('confidence', 0.95))}), but not measurably inside "
                "it)")
    if code == "irreducible":
        return (f"{d['conflict_share']:.0%} of its errors are identical rows with "
                "conflicting labels: no model can be right on all of them; no relabelling "
                "is proposed")
    if code == "fixed":
        where = ("inside it" if d["measurable"]
                 else "overall (its rule cannot be applied to new rows)")
        share, gap = d["share"], d["gap"]
        cause = ("the labels, not the model, were the problem" if share >= 0.5 else
                 f"that closes {min(share, 1):.0%} of its {100 * gap:.0f}-point gap to the "
                 "overall accuracy, so the labels are only part of the problem")
        return (f"'{d['action']}' raises held-out accuracy {where} from {d['before']:.0%} to "
                f"{d['after']:.0%} ({_effect_text(d, d['confidence'])}): {cause}")
    if code == "not_replicated":
        n = d["n_test"]
        return ("it fails in the training rows' cross-validated errors but not measurably "
                f"more often on held-out rows ({d['before']:.0%} accuracy on its "
                f"{_plural(n, 'held-out row')} against {d['overall']:.0%} overall), "
                f"and no change of its training labels helps there{also}")
    if code == "ambiguous":
        return ("the labels are genuinely uncertain here (the model is unsure or neighbours' "
                "labels are mixed) and no relabelling or dropping helps inside it on held-out "
                f"rows{also}: more data or features, not relabelling its labels, would help")
    if code == "unresolved":
        return ("no change of the training labels measurably helps inside it: a modelling "
                f"gap (capacity or features) rather than the labels{also}")
    raise ValueError(f"unknown reason code {code!r}")


def _refits_text(rep: Any) -> str:
    return (f"each action refitted with {rep.n_fits} seeds" if rep.n_fits > 1 else
            "each action refitted once (the model's refits do not depend on the seed)"
            if rep.deterministic else "each action refitted once")


def diagnosis_sentences(diag: Any, max_rows: int = 10) -> list[tuple[str, str]]:
    """The words of a :class:`shap_debug.fixes.Diagnosis`: ``(text, anchor)`` pairs
    (``Diagnosis.sentences`` wraps them as ``Sentence`` values)."""
    rep = diag.fixes
    overall = rep.baseline_accuracy.get("overall", float("nan"))
    out: list[tuple[str, str]] = []
    if not diag.cohorts:
        out.append(("No cohort of the training rows fails significantly more often than the "
                    "rest.", "#cohorts"))
    for v, c in zip(diag.cohorts, rep.cohorts):
        acc = ("" if np.isnan(v.before) else
               f" (held-out accuracy {v.before:.0%} against {overall:.0%} overall)")
        if c.source == "label shift":
            word = "fewer" if c.shift < 0 else "more"
            out.append((f"{v.label} ({c.rule}) carries {word} '{c.shift_label}' labels than "
                        f"the rest of the data predicts (by {abs(c.shift):.0%} of its "
                        f"rows){acc}.", "#systematic"))
        else:
            lead = ("It also fails in" if any(a == "#cohorts" for _, a in out)
                    else "The model fails most in")
            out.append((f"{lead} {v.label} ({c.rule}){acc}.", "#cohorts"))
        anchor = "#ambiguity" if v.verdict == "ambiguous" else "#fixes"
        out.append((f"{v.label} is {v.verdict}: {v.reason}.", anchor))
    if diag.proposed:
        best = rep.effect(diag.proposed[0])
        out.append((f"Best verified fix: {diag.proposed[0]} (held-out accuracy overall "
                    f"{_effect_text(best, rep.confidence)}).", "#fixes"))
    elif rep.actions:
        out.append((f"None of the {len(rep.actions)} actions tried raises held-out accuracy "
                    "measurably; the table shows each one's effect.", "#fixes"))
    hurt = [a.name for a in rep.actions if rep.effect(a.name)["effect"] == "hurts"]
    if hurt:
        more = f" and {len(hurt) - 4} more" if len(hurt) > 4 else ""
        out.append((f"{len(hurt)} action(s) lower held-out accuracy: "
                    f"{', '.join(hurt[:4])}{more}.", "#fixes"))
    out.append((f"Fixes were measured on {rep.holdout}, rows that played no part in the "
                f"diagnosis; {_refits_text(rep)}.", "#fixes"))
    if len(diag.rows_to_check):
        k = min(max_rows, len(diag.rows_to_check))
        n = len(diag.rows_to_check)
        out.append((f"Look first at training row{'s' if k > 1 else ''} "
                    f"{_rows_text(diag.rows_to_check, k)} (of {n} label{'s' if n > 1 else ''}"
                    " worth a second look).", "#suspicious"))
    return out


# --------------------------------------------------------------------------- small tables and notes
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


def no_anomaly_reason(section: str) -> str:
    """Why a part that needs anomalies is empty when the model gets every row right."""
    none_wrong = "the model predicts every training row correctly"
    if section == "occurrence":
        return f"No anomaly: {none_wrong}, so no row recurs in an anomaly's neighbourhood."
    return (f"No formula: {none_wrong}, so there are no anomalies whose common traits a "
            "formula could describe.")


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


# --------------------------------------------------------------------------- findings
def _wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


def _features_in(text: str, names: Sequence[str]) -> tuple:
    return tuple(n for n in names if n and str(n) in str(text))


class _Rows:
    """Positions in the training rows -> the user's own labels."""

    def __init__(self, labels: Any = None) -> None:
        self.labels = None if labels is None else np.asarray(labels)

    def __call__(self, rows: Any) -> tuple:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = rows if self.labels is None else self.labels[rows]
        return tuple(x.item() if hasattr(x, "item") else x for x in out)


def _fix_of(rep: Any, name: str | None) -> dict[str, Any]:
    if rep is None or not name:
        return {"fix": None, "fix_effect": None, "fix_interval": None}
    e = rep.effect(name)
    return {"fix": name, "fix_effect": 100 * float(e["delta"]),
            "fix_interval": (100 * float(e["low"]), 100 * float(e["high"]))}


def _overfitting(overview: Any, fixes: Any, threshold: float,
                 scanned: bool = False) -> dict | None:
    acc = overview.accuracy
    tr, n_tr = acc.get("train"), overview.n_rows
    if "test" in acc and getattr(overview, "n_test", 0):
        te, n_te, where = acc["test"], overview.n_test, "the test rows"
    elif fixes is not None and "overall" in fixes.baseline_accuracy and fixes.n_test:
        te, n_te, where = fixes.baseline_accuracy["overall"], fixes.n_test, fixes.holdout
    else:
        return None
    gap = tr - te
    se = math.sqrt(max(tr * (1 - tr), 1e-12) / n_tr + max(te * (1 - te), 1e-12) / n_te)
    lo, hi = gap - 1.96 * se, gap + 1.96 * se
    if gap < threshold or lo <= 0:
        return None
    head = (f"The model fits its training rows far better than new ones: accuracy "
            f"{tr:.1%} on its {n_tr} training rows against {te:.1%} on {n_te} held-out "
            f"rows, a gap of {100 * gap:.1f} points (95% interval {100 * lo:.1f} to "
            f"{100 * hi:.1f})")
    # the detectors' capacity check (a lower-capacity refit chosen on validation rows)
    # decides whether the gap is overfitting a refit can close; without it the gap speaks
    headline = (head + ": no lower-capacity configuration does better on validation rows, "
                "so it is not confirmed as overfitting a refit can close" if scanned else
                head + ": it overfits, so its training errors understate how often it is "
                "wrong")
    return dict(kind="overfitting", strength=100 * gap, measure="train minus held-out "
                "accuracy (points)", interval=(100 * lo, 100 * hi),
                verdict="not_confirmed" if scanned else "confirmed",
                headline=headline, section="summary",
                details={"train_accuracy": tr, "held_out_accuracy": te, "n_train": n_tr,
                         "n_held_out": n_te, "held_out": where})


_COHORT_KIND = {"fixable": "systematic_relabelling", "ambiguous": "ambiguous_cohort",
                "unresolved": "error_cohort", "not confirmed": "error_cohort"}


def _cohort_findings(diag: Any, rep: Any, rows: _Rows, names: Sequence[str]) -> list[dict]:
    out = []
    overall = rep.baseline_accuracy.get("overall", float("nan"))
    index = getattr(rep.evidence, "train_index", None)
    for v, c in zip(diag.cohorts, rep.cohorts):
        pos = np.asarray(c.train_rows, dtype=np.int64)
        if index is not None:
            pos = np.asarray(index)[pos]
        verdict = {"fixable": "confirmed", "unresolved": "confirmed",
                   "not confirmed": "not_confirmed"}.get(
            v.verdict, "confirmed" if v.reason_code == "irreducible" else "suspected")
        lo = hi = float("nan")
        if v.n_test and not np.isnan(v.before):
            a_lo, a_hi = _wilson(v.before * v.n_test, v.n_test)
            lo, hi = 100 * (overall - a_hi), 100 * (overall - a_lo)
        acc = ("" if np.isnan(v.before) else
               f", held-out accuracy {v.before:.0%} against {overall:.0%} overall")
        if c.source == "label shift":
            word = "fewer" if c.shift < 0 else "more"
            where = (f"{v.label} ({c.rule}) carries {word} '{c.shift_label}' labels than the "
                     f"rest of the data predicts (by {abs(c.shift):.0%} of its rows{acc})")
        else:
            where = f"The model fails in {v.label} ({c.rule}{acc})"
        fix = v.best_action if v.verdict == "fixable" else next(
            (a for a in diag.proposed if rep.action(a).cohort == v.label), None)
        out.append(dict(
            kind=_COHORT_KIND.get(v.verdict, "error_cohort"),
            features=_features_in(c.rule, names), rows=rows(pos),
            rule={"text": str(c.rule)},
            strength=100 * (overall - v.before) if not np.isnan(v.before) else float("nan"),
            measure="held-out accuracy below overall (points)",
            interval=None if np.isnan(lo) else (lo, hi), verdict=verdict,
            headline=(f"{v.label} ({c.rule}) is not confirmed: {v.reason}"
                      if v.verdict == "not confirmed" else
                      f"{where}; {v.label} is {v.verdict}: {v.reason}"),
            section="ambiguity" if v.verdict == "ambiguous" else "fixes",
            details={"cohort": v.label, "cohort_verdict": v.verdict, "source": c.source,
                     "held_out_rows": int(v.n_test), "reason_code": v.reason_code},
            **_fix_of(rep, fix)))
    return out


def _training_cohorts(cohorts: Any, rows: _Rows, names: Sequence[str],
                      k: int = 2, where: str = "training") -> list[dict]:
    """Error cohorts without a fix verification: the significant, non-nested slices."""
    if cohorts is None or not cohorts.n_errors:
        return []
    top: list = []
    for c in cohorts.slices:  # nested slices say the same thing: keep the first of them
        mine = set(np.asarray(c.rows).tolist())
        if c.significant and all(len(mine & t) < 0.5 * min(len(mine), len(t)) or not mine
                                 for t in (set(np.asarray(s.rows).tolist()) for s in top)):
            top.append(c)
        if len(top) == k:
            break
    overall = cohorts.error_rate
    return [dict(kind="error_cohort", features=_features_in(c.rule, names),
                 rows=rows(c.rows) if where == "training" else (),
                 rule={"text": str(c.rule)}, strength=100 * (c.error_rate - overall),
                 measure="error rate above overall (points)",
                 p_value=float(c.p_adjusted) if not np.isnan(c.p_adjusted) else None,
                 verdict="confirmed",
                 headline=((f"On the {where} rows, the model fails most where "
                            if where != "training" else "The model fails most where ")
                           + f"{c.rule}: error rate {c.error_rate:.0%} vs {overall:.1%} "
                           f"overall ({c.size} rows, {c.error_share:.0%} of the errors)"),
                 section="cohorts", details={"rows_scope": where, "size": int(c.size)})
            for c in top]


def _label_noise(suspicious: Any, diag: Any, rep: Any, rows: _Rows) -> dict | None:
    if suspicious is None or not len(suspicious.ranking):
        return None
    if diag is not None and len(diag.rows_to_check):
        # rows_to_check are positions in X, as the overview's suspicion scores
        pos = np.asarray(diag.rows_to_check, dtype=np.int64)
    else:
        pos = np.asarray(suspicious.flagged, dtype=np.int64)
    n = len(pos)
    if n == 0:
        return None
    scores = np.asarray(suspicious.scores, dtype=np.float64)
    expected = float(np.nansum(scores[pos[pos < len(scores)]]))
    about = max(1, int(round(expected)))
    action = None
    if rep is not None:
        labels = [a for a in rep.ranked if rep.action(a).family in (
            "relabel suspicious", "drop suspicious")]
        relabel = [a for a in labels if rep.action(a).kind == "relabel"]
        action = (relabel or labels or [None])[0]
    effect = None if action is None else rep.effect(action)
    head = (f"About {about} of the {n} training labels worth a second look may be wrong "
            "(the sum of their out-of-sample doubt)")
    verb = "relabelling" if action is None or rep.action(action).kind == "relabel" else \
        "dropping"
    if effect is None:
        check, verdict = "; not checked on held-out rows", "suspected"
    elif effect["effect"] == "helps":
        check, verdict = (f"; {verb} them raised held-out accuracy "
                          f"({_effect_text(effect, rep.confidence)})"), "confirmed"
    elif effect["effect"] == "hurts":
        check, verdict = (f"; {verb} them lowered held-out accuracy "
                          f"({_effect_text(effect, rep.confidence)}), so check them by hand "
                          "before changing any"), "not_confirmed"
    else:
        check, verdict = (f"; {verb} them did not help on held-out rows "
                          f"({_effect_text(effect, rep.confidence)})"), "not_confirmed"
    user = rows(pos)
    fix = action if effect is not None and effect["effect"] == "helps" else None
    return dict(kind="label_noise", rows=user, strength=float(about),
                measure="labels likely wrong (expected count)", verdict=verdict,
                headline=f"{head}{check}; look first at rows {_rows_text(user)}",
                section="suspicious",
                details={"n_flagged": n, "expected_wrong": expected,
                         "held_out_check": None if effect is None else effect["effect"]},
                **_fix_of(rep, fix))


def _integrity(integrity: Any) -> list[dict]:
    if integrity is None:
        return []
    out = []
    for f in integrity.flags():
        if f.level != "warn":
            continue
        kind = "conflicting_duplicates" if "conflict" in f.message else "integrity"
        out.append(dict(kind=kind, verdict="suspected", headline=_cap(f.message),
                        section="integrity", measure="", details={}))
    return out


def _signal_headline(s: Any) -> str:
    what = (_join([_code(f) for f in s.features]) if s.features
            else (s.rule or {}).get("text", "") if isinstance(s.rule, Mapping) else "")
    num = _share if s.measure.startswith(("share", "rate")) else _num
    strength = ("" if s.strength is None or not math.isfinite(float(s.strength)) else
                f" ({s.measure} {num(float(s.strength))}"
                + ("" if s.interval is None else
                   f", 95% interval {num(s.interval[0])} to {num(s.interval[1])}") + ")")
    lead = {"leakage": f"{what} predicts the label almost on its own{strength}: it looks "
                       "built from the label (target leakage)",
            "id_column": f"{what} is unique per row and ordered with the label{strength}: a "
                         "row ID is used as a feature",
            "shortcut": f"{what} is tied to the label in the training rows but not in the "
                        f"held-out rows{strength}: a shortcut the model should not learn",
            "sentinel": f"{what} has a point mass at an implausible value{strength}: likely "
                        "a code for 'unknown' read as a number",
            "overfitting": f"The model overfits{strength}",
            "underfitting": f"The model underfits{strength}: it cannot represent what the "
                            "labels follow",
            "under_represented": f"{what} is under-represented in training{strength} and "
                                 "fails on held-out rows",
            "cohort_shift": f"{what} shifts between training and held-out rows{strength}"}
    return lead.get(s.kind, f"{_cap(KIND_WORDS.get(s.kind, s.kind))}: {what}{strength}")


def _from_signal(s: Any, rep: Any) -> dict:
    fix = tried = None
    if rep is not None and s.fix:
        family = [a for a in rep.ranked if rep.action(a).family == s.fix]
        cands = [a for a in family if rep.effect(a)["effect"] == "helps"]
        fix = cands[0] if cands else None
        tried = family[0] if family else None
    head = _signal_headline(s)
    if fix is not None:
        e = rep.effect(fix)
        head += f"; '{fix}' raises held-out accuracy ({_effect_text(e, rep.confidence)})"
    elif tried is not None:
        e = rep.effect(tried)
        word = "lowers" if e["effect"] == "hurts" else "does not measurably change"
        head += (f"; '{tried}' {word} held-out accuracy ({_effect_text(e, rep.confidence)})"
                 + (", as expected when the held-out rows carry the same flaw"
                    if s.kind == "leakage" else ""))
    elif s.fix:
        head += f"; proposed fix (not verified): {s.fix}"
    return dict(kind=s.kind, features=tuple(s.features), rows=tuple(s.rows), rule=s.rule,
                strength=float(s.strength), measure=s.measure, interval=s.interval,
                p_value=s.p_value, verdict=s.verdict, headline=head,
                section=KIND_SECTION.get(s.kind, "findings"),
                details={**dict(s.details), "fix_family": s.fix,
                         "fix_params": dict(s.fix_params)}, **_fix_of(rep, fix))


def build_findings(overview: Any, *, fixes: Any = None, diagnosis_value: Any = None,
                   signals: Sequence[Any] = (), row_labels: Any = None,
                   feature_names: Sequence[str] = (), scanned: bool = False,
                   gap_threshold: float = 0.05) -> tuple[Finding, ...]:
    """The one list of findings, strongest first.

    Parameters
    ----------
    overview : Overview
    fixes : FixReport, optional
        Verified fixes: cohort verdicts, the held-out check of suspicious labels.
    diagnosis_value : Diagnosis, optional
        ``Diagnosis.from_fixes(fixes)``; required with ``fixes``.
    signals : sequence of Signal
        From :func:`shap_debug.audit.scan` (leakage, ID columns, shortcuts...).
    row_labels : array, optional
        The user's index labels of the training rows (positions when omitted).
    feature_names : sequence of str
        Readable feature names, to name a cohort's features.
    scanned : bool
        True when :func:`shap_debug.audit.scan` ran (``signals`` may be empty): its
        capacity check then decides overfitting, and a large gap it did not confirm is
        reported as ``not_confirmed``.
    gap_threshold : float
        A train/held-out accuracy gap from which (its interval above 0) the model is said
        to overfit.

    Returns
    -------
    tuple of Finding
        Ranked: first the causes (every kind but error cohorts, ambiguous cohorts and
        integrity flags), then those symptoms, then whatever was tested and not confirmed;
        within each, confirmed before suspected, then by kind (:data:`KIND_ORDER`), then by
        strength. Ids ``F1``, ``F2``... in that order.
    """
    rows = _Rows(row_labels)
    diag = diagnosis_value
    if diag is None and fixes is not None:  # (importing fixes here would close a cycle)
        raise ValueError("diagnosis_value: pass Diagnosis.from_fixes(fixes) with fixes")
    items: list[dict] = []
    signals = tuple(signals or ())
    if not any(s.kind == "overfitting" for s in signals):
        gap = _overfitting(overview, fixes, gap_threshold, scanned)
        if gap is not None:
            items.append(gap)
    items += [_from_signal(s, fixes) for s in signals]
    test_cohorts = getattr(overview, "test_cohorts", None)
    if diag is not None:
        items += _cohort_findings(diag, fixes, rows, feature_names)
    else:
        items += _training_cohorts(overview.cohorts, rows, feature_names)
    if test_cohorts is not None:  # held-out errors: their cohorts, unless already named
        named = {str((d.get("rule") or {}).get("text")) for d in items}
        items += [d for d in _training_cohorts(test_cohorts, rows, feature_names,
                                               where="held-out")
                  if d["rule"]["text"] not in named]
    noise = _label_noise(overview.suspicious, diag, fixes, rows)
    if noise is not None:
        items.append(noise)
    scanned_kinds = {s.kind for s in signals}
    # the detectors' conflicting-duplicates signal already says what the integrity flag says
    items += [d for d in _integrity(overview.integrity) if d["kind"] not in scanned_kinds]

    def key(d: dict) -> tuple:
        s = d.get("strength", float("nan"))
        s = -abs(s) if isinstance(s, (int, float)) and math.isfinite(s) else 0.0
        tier = (2 if d["verdict"] == "not_confirmed" else 1 if d["kind"] in _SYMPTOMS
                else 0)
        return (tier, _VERDICT_ORDER[d["verdict"]], KIND_ORDER.index(d["kind"])
                if d["kind"] in KIND_ORDER else len(KIND_ORDER), s)

    items.sort(key=key)
    out = []
    for k, d in enumerate(items, 1):
        d = dict(d)
        d["headline"] = d["headline"].rstrip(".") + "."
        out.append(Finding(id=f"F{k}", **d))
    return tuple(out)


# --------------------------------------------------------------------------- rendering
def best_fix_sentence(fixes: Any, diag: Any) -> str | None:
    """The one "best verified fix" sentence the Diagnosis and the Fixes section share."""
    if fixes is None or diag is None:
        return None
    if diag.proposed:
        best = fixes.effect(diag.proposed[0])
        return (f"Best verified fix: {diag.proposed[0]} (held-out accuracy overall "
                f"{_effect_text(best, fixes.confidence)}).")
    if fixes.actions:
        return (f"None of the {len(fixes.actions)} actions tried raises held-out accuracy "
                "measurably; the table shows each one's effect.")
    return f"No fix could be measured ({fixes.holdout})."


def _fix_notes(fixes: Any) -> list[tuple[str, str]]:
    out = []
    hurt = [a.name for a in fixes.actions if fixes.effect(a.name)["effect"] == "hurts"]
    if hurt:
        more = f" and {len(hurt) - 4} more" if len(hurt) > 4 else ""
        out.append((f"{len(hurt)} action(s) lower held-out accuracy: "
                    f"{', '.join(hurt[:4])}{more}.", "fixes"))
    out.append((f"Fixes were measured on {fixes.holdout}, rows that played no part in the "
                f"diagnosis; {_refits_text(fixes)}.", "fixes"))
    return out


def _ambiguity_sentence(ambiguity: Any) -> list[tuple[str, str]]:
    if ambiguity is None or not ambiguity.n_errors:
        return []
    amb, fix = ambiguity.ambiguous_error_share, ambiguity.fixable_error_share
    model = max(0.0, 1.0 - amb - fix)
    return [(f"By their scores alone (before any fix is tried), of the {ambiguity.n_errors} "
             f"training errors {amb:.0%} look ambiguous (the model is unsure or similar rows "
             f"disagree), {fix:.0%} look fixable and {model:.0%} are confident mistakes with "
             "no sign of a data problem.", "ambiguity")]


def _held_out_sentence(overview: Any) -> list[tuple[str, str]]:
    acc, n = overview.accuracy, getattr(overview, "n_test", 0)
    if "test" not in acc or not n:
        return []
    wrong = int(round((1 - acc["test"]) * n))
    if wrong == 0:
        return [(f"The model is right on all {n} held-out rows.", "summary")]
    return [(f"The model is wrong on {wrong} of {n} held-out rows ({1 - acc['test']:.1%}); "
             "no cohort of them fails significantly more often than the rest: the errors "
             "are spread over the data.", "cohorts")]


def diagnosis(findings: Sequence[Finding], overview: Any, inspections: Mapping[int, Any] |
              None = None, fixes: Any = None, diagnosis_value: Any = None, dose: Any = None,
              n_lead: int = 5) -> tuple[tuple[str, str], ...]:
    """The Diagnosis block: ``(sentence, anchor)`` pairs, each anchored to its evidence.

    The first ``min(n_lead, len(findings))`` pairs are the strongest findings' headlines
    (the report's lead); then the best verified fix (the same sentence as the Fixes
    section's), how the fixes were measured, the remaining findings, the score-based
    ambiguity split, the anomaly formula, the dose-response verdict and each inspected
    anomaly's sparsest flipping change.

    Returns
    -------
    tuple of (str, str)
    """
    out = [(f.headline, f.section) for f in findings[:n_lead]]
    if not findings:
        out += _held_out_sentence(overview) or [(
            "No finding stands out: no cohort fails significantly more than the rest and no "
            "training label looks wrong.", "cohorts")]
    best = best_fix_sentence(fixes, diagnosis_value)
    if best is not None:
        out.append((best, "fixes"))
        out += _fix_notes(fixes)
    out += [(f.headline, f.section) for f in findings[n_lead:]]
    out += _ambiguity_sentence(getattr(overview, "ambiguity", None))
    out += _formula_sentence(overview.formula)
    if dose is not None:
        out.append((dose_sentence(dose.verdict_code()), "dose"))
    for i, ins in (inspections or {}).items():
        sparser = getattr(ins, "sparser", None)
        if sparser is not None:
            out.append((f"Anomaly {i}: {sparser.sentence}", f"anomaly-{i}-flip"))
    return tuple(out)


def _short(f: Finding) -> str:
    verdict = {"confirmed": "confirmed", "suspected": "suspected",
               "not_confirmed": "not confirmed on held-out rows"}[f.verdict]
    if f.kind in ("integrity", "conflicting_duplicates"):
        return f"{f.id} {f.headline.rstrip('.')}: {verdict}"
    if "cohort" in f.details:
        where = f" {f.details['cohort']} ({f.rule['text']})"
    elif f.rule:
        where = f" ({f.rule.get('text', '')}, {f.details.get('rows_scope', '')} rows)"
    elif f.features:
        where = " " + ", ".join(f.features[:3])
    elif f.kind == "label_noise":
        where = f" ({f.details['n_flagged']} labels to re-check)"
    elif f.kind == "overfitting" and f.interval is not None:
        where = f" (gap {f.strength:.1f} points)"
    else:
        where = ""
    fix = f"; fix: {f.fix}" if f.fix else ""
    return f"{f.id} {KIND_WORDS.get(f.kind, f.kind)}{where}: {verdict}{fix}"


def findings_flags(findings: Sequence[Finding], overview: Any,
                   extra: Sequence[Any] = ()) -> tuple:
    """The summary's flags, one per finding (``warn`` unless not confirmed) plus a ``pass``
    line for each check that found nothing, and ``extra`` flags (protected attributes).

    Returns
    -------
    tuple of Flag
    """
    from ..audit import Flag

    out = [Flag("warn" if f.is_problem else "pass", _short(f), "#" + f.section)
           for f in findings]
    kinds = {f.kind for f in findings}
    acc, n_test = overview.accuracy, getattr(overview, "n_test", 0)
    if "overfitting" not in kinds and "test" in acc and n_test:
        out.append(Flag("pass", f"train and held-out accuracy agree within the noise "
                        f"({acc['train']:.1%} vs {acc['test']:.1%} on {n_test} held-out rows)",
                        "#summary"))
    if not kinds & {"error_cohort", "systematic_relabelling", "ambiguous_cohort"}:
        wrong = int(round((1 - acc["test"]) * n_test)) if "test" in acc and n_test else 0
        if wrong:
            msg = (f"no cohort fails significantly more often; {wrong} of {n_test} held-out "
                   "rows are wrong, spread over the data")
        elif overview.n_anomalies or "test" in acc:
            msg = "no cohort fails significantly more often than the other rows"
        else:
            msg = "no errors on the training rows (and no held-out rows to check)"
        out.append(Flag("pass", msg, "#cohorts"))
    if "label_noise" not in kinds and overview.suspicious is not None:
        out.append(Flag("pass", "no training label looks wrong to an out-of-sample model",
                        "#suspicious"))
    if overview.integrity is not None:
        out += [f for f in overview.integrity.flags() if f.level == "pass"]
    out += list(extra)
    return tuple(out)


def section_headlines(findings: Sequence[Finding], fixes: Any = None,
                      diagnosis_value: Any = None) -> dict[str, list[str]]:
    """``{section anchor: [sentences]}``: what each report section says first, the findings
    whose evidence it holds (the Fixes section also the best verified fix)."""
    out: dict[str, list[str]] = {}
    for f in findings:
        out.setdefault(f.section, []).append(f"{f.id}: {f.headline}")
    best = best_fix_sentence(fixes, diagnosis_value)
    if best is not None:
        out.setdefault("fixes", []).insert(0, best)
    return out
