"""Diagnosis and fixes verified on held-out data: candidate actions (``actions``), the
training-only evidence (``evidence``), retraining and measuring (``verify``), the results;
``signal_actions`` turns detector signals into candidate actions."""

from ._actions import FAMILIES, SIGNAL_FAMILIES, FixAction
from ._diagnosis import CohortVerdict, Diagnosis, Sentence, diagnose
from ._evidence import FailingCohort, FixEvidence, region_mask, rule_mask
from ._result import FixReport
from ._signal_actions import signal_actions
from ._verify import paired_interval, verify_fixes

__all__ = [
    "FAMILIES",
    "SIGNAL_FAMILIES",
    "CohortVerdict",
    "Diagnosis",
    "FailingCohort",
    "FixAction",
    "FixEvidence",
    "FixReport",
    "Sentence",
    "diagnose",
    "paired_interval",
    "region_mask",
    "rule_mask",
    "signal_actions",
    "verify_fixes",
]
