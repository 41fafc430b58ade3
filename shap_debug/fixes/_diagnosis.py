"""The diagnosis in plain words: which cohorts fail, whether each is ambiguous or fixable,
which training rows to look at, and the verified fixes, ranked.

A cohort is

- **ambiguous** when at least half its errors are identical rows with conflicting labels
  (irreducible: no relabelling is even tried), or when nothing that changes labels helps on
  held-out rows and :func:`~shap_debug.audit.ambiguity_report` finds the labels genuinely
  uncertain there (the model unsure, neighbours' labels mixed);
- **fixable** when an action that relabels or drops training rows raises held-out accuracy
  inside it without lowering it overall: the verdict rests on the measured fix, not on a
  score. The best of many actions is a multiple comparison, so the one-sided bootstrap
  p-values of the candidate actions are Holm-adjusted at the interval's level (an action that
  changes only this cohort's rows may also count its overall gain, Bonferroni-doubled);
- **not confirmed** when no label fix helps and its held-out rows do not fail measurably
  more often than the rest (one-sided binomial test at 5 %): the cohort came from the
  training rows' cross-validated errors and does not replicate;
- **unresolved** otherwise: it fails on held-out rows and no automatic fix measurably helps
  (a modelling gap: capacity or features, rather than the labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..core import Result, escape, section_html, table_html
from ._actions import _blocked_rows

__all__ = ["CohortVerdict", "Diagnosis", "Sentence", "diagnose"]

_LABEL_KINDS = ("relabel", "drop")


class Sentence(NamedTuple):
    """A diagnosis sentence and the anchor of the report section with its evidence."""

    text: str
    anchor: str


@dataclass(frozen=True, repr=False)
class CohortVerdict(Result):
    """One failing cohort's verdict and the measured fix behind it.

    ``reason_code`` (``"irreducible"``, ``"fixed"``, ``"not_replicated"``, ``"ambiguous"``,
    ``"unresolved"``) and ``reason_data`` (its numbers) say why; :attr:`reason` reads them
    as words (:func:`shap_debug.debugger.cohort_reason`).
    """

    label: str
    rule: str
    source: str
    verdict: str
    reason_code: str
    best_action: str = ""
    n_test: int = 0
    before: float = float("nan")
    after: float = float("nan")
    delta: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")
    reason_data: dict = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """Why the cohort got its verdict, in words."""
        # the words live with the findings (the one home of sentences); a module, not the
        # facade package, so the lower stage does not import the facade
        from ..debugger._findings import cohort_reason

        return cohort_reason(self)

    def summary(self) -> dict[str, Any]:
        return {"label": self.label, "rule": self.rule, "verdict": self.verdict,
                "best_action": self.best_action, "delta": self.delta}

    def to_dict(self) -> dict:
        return {"cohort": self.label, "rule": self.rule, "source": self.source,
                "verdict": self.verdict, "best_action": self.best_action,
                "held_out_rows": self.n_test, "before": self.before, "after": self.after,
                "delta": self.delta, "low": self.low, "high": self.high,
                "reason": self.reason}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])


def _fails(accuracy: float, n: int, overall: float, level: float = 0.05) -> bool:
    """Are the cohort's held-out errors more frequent than overall (one-sided binomial)?"""
    from scipy.stats import binomtest

    k = int(round((1 - accuracy) * n))
    p = min(max(1 - overall, 1e-9), 1 - 1e-9)
    return bool(binomtest(k, n, p, alternative="greater").pvalue < level)


def _touches(a: Any, c: Any) -> bool:
    """Does action ``a`` change any training row of cohort ``c``? An action on a disjoint
    cohort is no evidence about this one (whatever it does to this cohort's held-out rows
    it does through the model, not through this cohort's labels)."""
    if a.cohort == c.label:
        return True
    rows = np.asarray(getattr(a, "rows", ()), dtype=np.int64)
    return bool(len(rows)) and bool(np.isin(rows, np.asarray(c.train_rows)).any())


def _own_action(report: Any, c: Any, kinds: tuple = _LABEL_KINDS) -> dict | None:
    """The best action aimed at cohort ``c`` that raises overall held-out accuracy (its
    numbers), for the reason of a verdict that is not "fixable". An ambiguous cohort's
    relabellings are never proposed (:attr:`Diagnosis.proposed`), so only its drops count."""
    for name in report.ranked:
        a = report.action(name)
        if a.cohort == c.label and a.kind in kinds:
            e = report.effect(name)
            if e["effect"] == "helps":
                return {"name": name, "delta": e["delta"], "low": e["low"], "high": e["high"]}
    return None


def _verdict(report: Any, c: Any) -> CohortVerdict:
    before = report.baseline_accuracy.get(c.label, float("nan"))
    n_test = 0 if c.test_rows is None else len(c.test_rows)
    base = dict(label=c.label, rule=c.rule, source=c.source, n_test=n_test, before=before)
    if c.irreducible:
        return CohortVerdict(**base, verdict="ambiguous", reason_code="irreducible",
                             reason_data={"conflict_share": float(c.conflict_share)})
    measurable = c.test_rows is not None and n_test > 0
    cands = []  # (p-value, effect in the cohort, action): label actions not hurting overall
    for a in report.actions:
        if a.kind not in _LABEL_KINDS or not _touches(a, c):
            continue
        over = report.effect(a.name)
        if over["effect"] == "hurts":
            continue
        if measurable:
            eff = report.effect(a.name, c.label)
            p = eff["p_value"]
            # an action changing only this cohort's rows that helps overall is evidence too
            # (a small cohort's own interval is wide), if it also gains inside the cohort
            if a.cohort == c.label and eff["delta"] > 0:
                p = min(1.0, 2 * min(p, over["p_value"]))
        elif a.cohort == c.label:  # a region whose rule cannot be applied to new rows
            eff, p = over, over["p_value"]
        else:
            continue
        if eff["delta"] > 0:
            cands.append((p, eff, a.name))
    # the best of many actions: Holm over the candidates, one-sided at the interval's level
    alpha = (1 - report.confidence) / 2
    order = sorted(cands, key=lambda t: t[0])
    passed = []
    for k, (p, eff, name) in enumerate(order):
        if p * (len(order) - k) >= alpha:
            break
        passed.append((eff, name))
    overall = report.baseline_accuracy.get("overall", float("nan"))
    if passed:
        best_eff, best = max(passed, key=lambda t: t[0]["delta"])
        gap = overall - best_eff["before"]
        share = best_eff["delta"] / gap if measurable and gap > 0 else 1.0
        return CohortVerdict(
            **{**base, "before": best_eff["before"]}, verdict="fixable", best_action=best,
            after=best_eff["after"], delta=best_eff["delta"], low=best_eff["low"],
            high=best_eff["high"], reason_code="fixed", reason_data={
                "action": best, "measurable": bool(measurable),
                "before": float(best_eff["before"]), "after": float(best_eff["after"]),
                "delta": float(best_eff["delta"]), "low": float(best_eff["low"]),
                "high": float(best_eff["high"]), "confidence": float(report.confidence),
                "share": float(share), "gap": float(gap)})
    own = {"own_action": _own_action(report, c), "confidence": float(report.confidence)}
    if measurable and not _fails(before, n_test, overall):
        return CohortVerdict(**base, verdict="not confirmed", reason_code="not_replicated",
                             reason_data={"before": float(before), "n_test": int(n_test),
                                          "overall": float(overall), **own})
    if c.ambiguity == "ambiguous":
        own["own_action"] = _own_action(report, c, kinds=("drop",))
        return CohortVerdict(**base, verdict="ambiguous", reason_code="ambiguous",
                             reason_data=own)
    return CohortVerdict(**base, verdict="unresolved", reason_code="unresolved",
                         reason_data=own)


@dataclass(frozen=True, repr=False)
class Diagnosis(Result):
    """What is wrong, where, and which verified fix helps.

    Attributes
    ----------
    cohorts : tuple of CohortVerdict
        One per failing cohort (``C1``...), with ``verdict`` "ambiguous", "fixable",
        "not confirmed" or "unresolved".
    rows_to_check : ndarray of int
        Training rows to look at first (positions in the ``X`` given), most telling first:
        the rows the best fixes change, then the other suspicious labels.
    proposed : tuple of str
        The verified actions worth applying, best first (never a relabelling of an
        ambiguous cohort).
    fixes : FixReport
        The full before/after table.
    """

    cohorts: tuple
    rows_to_check: np.ndarray = field(repr=False)
    proposed: tuple = ()
    fixes: Any = field(repr=False, default=None)

    @classmethod
    def from_fixes(cls, report: Any) -> Diagnosis:
        """The diagnosis of a :class:`~shap_debug.fixes.FixReport`."""
        if not hasattr(report, "effects") or not hasattr(report, "evidence"):
            raise TypeError(f"report must be a FixReport; got {type(report).__name__}")
        verdicts = tuple(_verdict(report, c) for c in report.cohorts)
        ambiguous = {v.label for v in verdicts if v.verdict == "ambiguous"}
        proposed = tuple(
            a for a in report.proposed
            if not (report.action(a).kind == "relabel" and report.action(a).cohort in ambiguous))
        ev = report.evidence
        sus = ev.suspicious
        first: list[int] = []
        for name in proposed:
            a = report.action(name)
            if a.kind in _LABEL_KINDS:
                rows = a.rows[np.argsort(-sus.scores[a.rows], kind="stable")]
                first.extend(rows.tolist())
        blocked = _blocked_rows(ev)  # evenly split twins, irreducible cohorts
        rest = sus.flagged[~blocked[sus.flagged]].tolist()
        order = list(dict.fromkeys(first + rest))
        rows = ev.train_index[np.asarray(order, dtype=np.int64)] if order else np.empty(
            0, np.int64)
        return cls(cohorts=verdicts, rows_to_check=rows.astype(np.int64), proposed=proposed,
                   fixes=report)

    # -------------------------------------------------------------- views
    def verdict(self, label: str) -> CohortVerdict:
        """The verdict of cohort ``label`` (``"C1"``...)."""
        for v in self.cohorts:
            if v.label == label:
                return v
        raise ValueError(f"no cohort {label!r}; cohorts: {[v.label for v in self.cohorts]}")

    def summary(self) -> dict[str, Any]:
        verdicts = [v.verdict for v in self.cohorts]
        return {"n_cohorts": len(self.cohorts), "fixable": verdicts.count("fixable"),
                "ambiguous": verdicts.count("ambiguous"),
                "unresolved": verdicts.count("unresolved"),
                "not_confirmed": verdicts.count("not confirmed"),
                "best": self.proposed[0] if self.proposed else None,
                "n_rows_to_check": len(self.rows_to_check)}

    def to_frame(self) -> pd.DataFrame:
        """One line per failing cohort: its verdict and the measured fix behind it."""
        cols = ["cohort", "rule", "source", "verdict", "best_action", "held_out_rows",
                "before", "after", "delta", "low", "high", "reason"]
        return pd.DataFrame([v.to_dict() for v in self.cohorts], columns=cols)

    def sentences(self, max_rows: int = 10) -> list[Sentence]:
        """Plain-words diagnosis, each sentence with the anchor of its evidence section
        (``#cohorts``, ``#systematic``, ``#ambiguity``, ``#fixes``, ``#suspicious``); the
        words come from :func:`shap_debug.debugger.diagnosis_sentences`."""
        # the words live with the findings (the one home of sentences); a module, not the
        # facade package, so the lower stage does not import the facade
        from ..debugger._findings import diagnosis_sentences

        return [Sentence(t, a) for t, a in diagnosis_sentences(self, max_rows=max_rows)]

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{escape(s.text)} <a href='{escape(s.anchor)}'>evidence</a></li>"
                        for s in self.sentences())
        body = f"<ul>{items}</ul>" + table_html(self.to_frame().drop(columns=["reason"]))
        return f"<div id='diagnosis'>{section_html('Diagnosis', body)}</div>"


def diagnose(model: Any, X: Any, y: Any, *, X_test: Any = None, y_test: Any = None,
             **kwargs: Any) -> Diagnosis:
    """Diagnose a classifier and verify the fixes: :func:`verify_fixes` then
    :meth:`Diagnosis.from_fixes`.

    Parameters are those of :func:`~shap_debug.fixes.verify_fixes`.

    Returns
    -------
    Diagnosis
    """
    from ._verify import verify_fixes

    return Diagnosis.from_fixes(verify_fixes(model, X, y, X_test=X_test, y_test=y_test,
                                             **kwargs))
