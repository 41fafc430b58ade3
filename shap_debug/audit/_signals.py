"""What a detector measured, as plain values: the raw material of a finding.

Detectors (:func:`shap_debug.audit.scan` and the cohort, suspicious-row and integrity
analyses) return :class:`Signal` values: a kind from :data:`SIGNAL_KINDS`, where it sits
(features, the user's row labels, a cohort rule), how strong it is (an effect with an
interval or a p-value), a verdict code and the fix family that could repair it. They carry
no sentences: :mod:`shap_debug.debugger` turns signals and verified fixes into findings and
words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SIGNAL_KINDS", "VERDICTS", "Signal"]

#: The vocabulary of bug kinds, documented in ``docs/bugs.md``.
SIGNAL_KINDS = (
    "label_noise",             # random label noise (suspicious rows, confident learning)
    "systematic_relabelling",  # labels flipped inside one cohort
    "leakage",                 # a feature built from the label, present in train and test
    "id_column",               # a unique-per-row column used as a feature
    "shortcut",                # a feature tied to the label in training only
    "under_represented",       # a cohort with few training rows and many held-out errors
    "overfitting",             # train/test gap a simpler or regularised refit closes
    "underfitting",            # an interaction the model cannot represent
    "sentinel",                # a point mass at an implausible value ("unknown" coded -999)
    "conflicting_duplicates",  # identical rows with different labels
    "cohort_shift",            # one cohort's distribution differs between train and test
    "error_cohort",            # a cohort with a high held-out error rate (cause unknown yet)
    "ambiguous_cohort",        # errors no change of data can fix (overlapping classes)
    "integrity",               # other data-integrity flags (constant columns, test in train)
)

#: Verdict codes: ``confirmed`` (the evidence excludes chance: an interval excluding zero,
#: a corrected p-value below 0.05), ``suspected`` (a signal without that evidence yet),
#: ``not_confirmed`` (looked for and tested, the test did not support it).
VERDICTS = ("confirmed", "suspected", "not_confirmed")


@dataclass(frozen=True)
class Signal:
    """One measured sign of a bug, without words.

    Attributes
    ----------
    kind : str
        One of :data:`SIGNAL_KINDS`.
    features : tuple of str
        The features involved (a leaked column, a cohort's features, a sentinel's column).
    rows : tuple
        The affected training rows, by the user's own index labels.
    rule : dict, optional
        A cohort as ``{feature: condition}`` (the cohort modules' rule format).
    strength : float
        The effect on its own scale (``measure`` names it).
    measure : str
        What ``strength`` is, e.g. ``"accuracy gap"``, ``"AUC of the feature alone"``.
    interval : tuple of float, optional
        A confidence interval of ``strength``.
    p_value : float, optional
        A (corrected) p-value for the signal against chance.
    verdict : str
        One of :data:`VERDICTS`.
    fix : str, optional
        The fix family (:data:`shap_debug.fixes.FAMILIES`) that could repair it.
    fix_params : dict
        Parameters of that fix (the feature to drop, the sentinel value, model parameters).
    details : dict
        Any other numbers a renderer may show (JSON-serialisable).
    """

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
    fix_params: dict = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in SIGNAL_KINDS:
            raise ValueError(f"kind must be one of {SIGNAL_KINDS}, got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
