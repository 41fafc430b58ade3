"""The values the :class:`~shap_debug.debugger.Debugger` computes and the report renders.

:class:`Inspection` (one anomaly), :class:`Overview` (everything that does not depend on
which anomalies are inspected: accuracy, integrity, cohorts, suspicious rows, flags,
occurrence, the space view and the anomaly formula) and :class:`Evidence` (an overview plus
the inspected anomalies and the label-flip check). They are plain frozen values: computing
happens in the Debugger, :mod:`shap_debug.report` only renders them. A part that could not
be computed is not an exception here but a reason string in ``failures`` (it raised) or
``skipped`` (it does not apply, e.g. label flips on a 3-class target), keyed by the report
section it belongs to, so the report can say in that section why it is missing.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, warn

__all__ = ["Inspection", "Overview", "Evidence"]


@dataclass(frozen=True, repr=False)
class Inspection(Result):
    """Everything the debugger knows about one anomaly.

    Attributes
    ----------
    anomaly : int
        Training-row index.
    true_label, predicted_label : the row's label and the model's prediction.
    confidence : float
        Predicted probability of the (wrong) predicted class.
    row : pandas.Series
        The row, readable.
    neighborhood : Neighborhood
        Its influential neighbourhood in contribution space.
    representatives : Representatives
        B diverse, representative neighbours (pymoo GA).
    rules : RuleTable
        Local IF-THEN rules of the anomaly and of its representatives (the paper's Table I).
    ale : ALEResult
        ALE over the neighbourhood; ``ale_global`` the same over the training set.
    bias : ALEBias or None
        Features whose neighbourhood effect differs from the global one, protected flagged.
    flip : IndividualReport or None
        Closest flip point (None, with the reason in ``notes``, when it could not be computed).
    influential : DataFrame
        Most influential training rows (influence functions where the model allows them,
        else the nearest contribution-space neighbours) with their labels; the anomaly itself
        is never among them, rows identical to it are marked in the ``duplicate`` column.
    influence_method : str
        How ``influential`` was ranked, in one sentence.
    notes : tuple of str
        Why a part is missing.
    sparser : SparserFlip or None
        Whether a change of fewer features than the closest flip point also flips it
        (:func:`shap_debug.debugger._findings.sparser_flip`), with the verdict as one sentence.
    """

    anomaly: int
    true_label: Any
    predicted_label: Any
    confidence: float
    row: pd.Series
    neighborhood: Any
    representatives: Any
    rules: Any
    ale: Any
    ale_global: Any
    bias: Any
    flip: Any
    influential: pd.DataFrame
    influence_method: str
    notes: tuple = field(default_factory=tuple)
    sparser: Any = None

    def summary(self) -> dict[str, Any]:
        """Key figures: the row, its label and prediction, neighbours, flip point found."""
        return {"anomaly": self.anomaly, "true_label": self.true_label,
                "predicted_label": self.predicted_label, "confidence": self.confidence,
                "neighbors": len(self.neighborhood.indices), "flip": self.flip is not None}

    def to_frame(self) -> pd.DataFrame:
        """One-row summary."""
        return pd.DataFrame([{
            "anomaly": self.anomaly, "true_label": self.true_label,
            "predicted_label": self.predicted_label, "confidence": self.confidence,
            "neighbors": len(self.neighborhood.indices),
            "neighbor_label_agreement": float(self.neighborhood.label_agreement),
            "representatives": len(self.representatives.indices),
            "top_ale_feature": self.ale.ranges().idxmax() if self.ale is not None else None,
            "flip_distance": (float(self.flip.flip.distance[0])
                              if self.flip is not None else np.nan),
        }])

    def top_ale_features(self, k: int = 4) -> list:
        """The ``k`` features whose neighbourhood ALE varies most (empty without ALE)."""
        if self.ale is None:
            return []
        return list(self.ale.ranges().sort_values(ascending=False).index[:k])

    def __str__(self) -> str:
        head = (f"Anomaly {self.anomaly}: label {self.true_label}, predicted "
                f"{self.predicted_label} with p={self.confidence:.2f}")
        parts = [head, "", "Rules (anomaly first, then representatives):",
                 self.rules.to_frame().to_string(max_colwidth=80)]
        if self.ale is not None:
            parts += ["", "ALE range in the neighbourhood:",
                      self.ale.ranges().sort_values(ascending=False).head(8).to_string()]
        return "\n".join(parts)

    def plot(self, features: Any = None, ax: Any = None, show: bool = True):
        """The neighbourhood ALE curves (global curves overlaid)."""
        return self.ale.plot(features=features, global_result=self.ale_global, ax=ax, show=show)

    def _repr_html_(self) -> str:
        from ..report import inspection_html

        return inspection_html(self, images=False)


@dataclass(frozen=True, repr=False)
class Overview(Result):
    """What the Debugger finds before any anomaly is inspected.

    Attributes
    ----------
    model_name : str
    n_rows, n_features : int
        Training rows and model inputs.
    classes : tuple
        The model's classes, in its column order.
    class_counts : dict
        Training rows per class.
    accuracy : dict
        ``{"train": ..., "test": ...}`` (test when held-out rows were given).
    n_anomalies, n_neighbors : int
        Training rows the model gets wrong; K.
    protected : tuple of str
    integrity : IntegrityReport or None
    cohorts : ErrorCohorts or None
    suspicious : SuspiciousRows or None
    flags : tuple of Flag
        The report's first screen.
    occurrence : Occurrence or None
        How often each training row lands in an anomaly's neighbourhood.
    recurring_rows : DataFrame or None
        The most frequent rows with identical rows collapsed (``row, count, copies``), their
        label and readable values.
    space_view : SpaceView or None
        Contribution space vs feature space (PCA).
    formula : LogicExplanation or None
        What sets the anomalies apart from the rows the model gets right (a trivial result
        carries the reason there is no formula).
    ambiguity : AmbiguityReport or None
        Each error cohort's failures split into ambiguous, fixable and confident mistakes.
    n_test : int
        Held-out rows given (0 without a test split).
    test_cohorts : ErrorCohorts or None
        Cohorts of the held-out rows the model gets wrong (the first view of where it
        fails; ``cohorts`` is the training rows' view).
    test_anomalies : DataFrame or None
        The held-out rows the model gets wrong, most confidently wrong first
        (:meth:`Debugger.anomalies` with ``held_out=True``).
    failures, skipped : dict
        ``{section: reason}`` for parts that raised / that do not apply.
    timings : dict
        Seconds per step.
    """

    model_name: str
    n_rows: int
    n_features: int
    classes: tuple
    class_counts: dict
    accuracy: dict
    n_anomalies: int
    n_neighbors: int
    protected: tuple = ()
    integrity: Any = None
    cohorts: Any = None
    suspicious: Any = None
    flags: tuple = ()
    occurrence: Any = None
    recurring_rows: pd.DataFrame | None = None
    space_view: Any = None
    formula: Any = None
    failures: Mapping[str, str] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    ambiguity: Any = None
    n_test: int = 0
    test_cohorts: Any = None
    test_anomalies: pd.DataFrame | None = None

    def summary(self) -> dict[str, Any]:
        """Key figures: model, shape, accuracy, anomalies, K, what is missing."""
        out = {"model": self.model_name, "n_rows": self.n_rows, "n_features": self.n_features,
               "classes": len(self.classes), "n_anomalies": self.n_anomalies,
               "n_neighbors": self.n_neighbors}
        out.update({f"{k}_accuracy": v for k, v in self.accuracy.items()})
        if self.failures:
            out["failed"] = tuple(self.failures)
        if self.skipped:
            out["skipped"] = tuple(self.skipped)
        return out

    def to_frame(self) -> pd.DataFrame:
        """The flags: ``level, message, anchor`` (one line each)."""
        return pd.DataFrame([(f.level, f.message, f.anchor) for f in self.flags],
                            columns=["level", "message", "anchor"])

    def reason(self, section: str) -> str | None:
        """Why ``section`` is missing (None when it was computed)."""
        return self.failures.get(section) or self.skipped.get(section)


@dataclass(frozen=True, repr=False)
class Evidence(Result):
    """Everything one report shows: an :class:`Overview` and the inspected anomalies.

    Attributes
    ----------
    overview : Overview
    anomalies : tuple of int
        The inspected training rows, in report order.
    inspections : dict
        ``{row: Inspection}`` for the anomalies whose inspection succeeded.
    label_flip : bool
        Whether the label-flip check was asked for.
    label_flips, label_flip_summary : DataFrame or None
        The label-flip trials and their rate per space.
    protected_effects : DataFrame or None
        ALE bias rows of the protected attributes, per inspected anomaly.
    notes : tuple of str
        Notes on how the data were prepared (e.g. missing values filled), shown in the
        summary.
    failures, skipped : dict
        ``{section: reason}`` (sections ``label-flip``, ``anomaly-<row>``, ``protected``).
    timings : dict
        Seconds per step, the overview's included.
    diagnosis : tuple of (str, str)
        The report's opening block: ``(sentence, anchor)`` pairs, each sentence linked to the
        section (``id``) holding its evidence (:func:`shap_debug.debugger._findings.diagnosis`).
    fixes : FixReport or None
        Fixes verified on held-out data (rendered in the "fixes" section when present).
    dose : DoseResponse or None
        Label-flip dose-response (rendered in the "dose" section when present).
    recurring : RecurringRows or None
        Rows that recur in anomaly neighbourhoods ranked by lift (rendered in the
        "recurring" section when present).
    findings : tuple of Finding
        The one list every sentence is rendered from, strongest first
        (:func:`shap_debug.debugger.build_findings`).
    flags : tuple of Flag
        The summary's flags, rendered from ``findings``.
    headlines : dict
        ``{section: [sentences]}``: what each report section says first.
    row_labels : tuple
        The user's index labels of the inspected ``anomalies``.
    best_fix : str or None
        The best verified fix (the Diagnosis and the Fixes section name the same one).
    """

    overview: Overview
    anomalies: tuple = ()
    inspections: Mapping[int, Inspection] = field(default_factory=dict)
    label_flip: bool = False
    label_flips: pd.DataFrame | None = None
    label_flip_summary: pd.DataFrame | None = None
    protected_effects: pd.DataFrame | None = None
    notes: tuple = ()
    failures: Mapping[str, str] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    diagnosis: tuple = ()
    fixes: Any = None
    dose: Any = None
    recurring: Any = None
    findings: tuple = ()
    flags: tuple = ()
    headlines: Mapping[str, Any] = field(default_factory=dict)
    row_labels: tuple = ()
    best_fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The findings and what they rest on, as JSON-ready values (schema
        ``shap-debug/findings`` version :data:`~shap_debug.debugger.SCHEMA_VERSION`,
        documented in ``docs/report.md``)."""
        from ._findings import SCHEMA_VERSION, _plain

        ov = self.overview
        return {
            "schema": "shap-debug/findings", "schema_version": SCHEMA_VERSION,
            "model": ov.model_name, "n_rows": ov.n_rows, "n_test": ov.n_test,
            "n_features": ov.n_features, "classes": _plain(list(ov.classes)),
            "accuracy": _plain(dict(ov.accuracy)), "n_anomalies": ov.n_anomalies,
            "findings": [f.to_dict() for f in self.findings],
            "diagnosis": [{"text": t, "section": a} for t, a in self.diagnosis],
            "flags": [{"level": f.level, "message": f.message,
                       "section": f.anchor.lstrip("#")} for f in self.flags],
            "best_fix": self.best_fix,
            "inspected": [{"row": _plain(r), "position": int(i)} for r, i in zip(
                self.row_labels or self.anomalies, self.anomalies)],
            "failures": {**dict(ov.failures), **dict(self.failures)},
            "skipped": {**dict(ov.skipped), **dict(self.skipped)},
        }

    def to_json(self, path: Any = None, *, indent: int = 2) -> str:
        """:meth:`to_dict` as JSON text; also written to ``path`` when given."""
        import json
        from pathlib import Path

        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def summary(self) -> dict[str, Any]:
        """Key figures: the overview's, the inspected rows, what is missing."""
        out = {"model": self.overview.model_name, "n_rows": self.overview.n_rows,
               "n_anomalies": self.overview.n_anomalies, "inspected": self.anomalies}
        failed = {**self.overview.failures, **self.failures}
        skipped = {**self.overview.skipped, **self.skipped}
        if failed:
            out["failed"] = tuple(failed)
        if skipped:
            out["skipped"] = tuple(skipped)
        return out

    def to_frame(self) -> pd.DataFrame:
        """One line per inspected anomaly (see :meth:`Inspection.to_frame`)."""
        frames = [self.inspections[i].to_frame() for i in self.anomalies
                  if i in self.inspections]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def reason(self, section: str) -> str | None:
        """Why ``section`` is missing (None when it was computed), overview sections too."""
        return (self.failures.get(section) or self.skipped.get(section)
                or self.overview.reason(section))

    def failed(self, section: str) -> bool:
        """True when ``section`` raised (rather than being skipped as not applicable)."""
        return section in self.failures or section in self.overview.failures


def failure_reason(exc: BaseException) -> str:
    """``"ValueError: message"``: why a part could not be computed, for its report section."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


class Parts:
    """Runs the parts of an overview/evidence: values, failure reasons and timings.

    A part that raises leaves no value; its reason goes to ``failures`` (with a warning), so
    its report section can say why it is missing.

    Examples
    --------
    >>> import warnings
    >>> p = Parts()
    >>> p.run("ok", lambda: 1)
    1
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     p.run("bad", lambda: 1 / 0)
    >>> p.failures
    {'bad': 'ZeroDivisionError: division by zero'}
    """

    def __init__(self, progress: bool = False, desc: str = "",
                 backend: Callable[[], Any] | None = None) -> None:
        self.values: dict[str, Any] = {}
        self.failures: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self.progress, self.desc = progress, desc
        self.backend = backend or contextlib.nullcontext

    def run(self, key: str, fn: Callable[[], Any], timing: str | None = None) -> Any:
        """``fn()`` stored under ``key`` (its failure reason when it raises), timed."""
        t0 = time.perf_counter()
        if self.progress:  # one line per part; the long parts have bars of their own
            import sys

            from tqdm.auto import tqdm

            tqdm.write(f"shap-debug {self.desc}: {timing or key}", file=sys.stderr)
        try:
            with self.backend():  # a Dask client: joblib loops with n_jobs=-1 go to it
                self.values[key] = fn()
        except Exception as exc:  # recorded as the section's reason, never hidden
            self.failures[key] = failure_reason(exc)
            warn(f"report section {key!r} failed: {self.failures[key]}")
        self.timings[timing or key] = time.perf_counter() - t0
        return self.values.get(key)
