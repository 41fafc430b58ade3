"""Diagnosis and fixes verified on held-out data: candidate actions (``actions``), the
training-only evidence (``evidence``), retraining and measuring (``verify``), the results."""

from .actions import FAMILIES, FixAction
from .diagnosis import CohortVerdict, Diagnosis, Sentence, diagnose
from .evidence import FailingCohort, FixEvidence
from .result import FixReport
from .verify import paired_interval, verify_fixes

__all__ = [
    "FAMILIES",
    "CohortVerdict",
    "Diagnosis",
    "FailingCohort",
    "FixAction",
    "FixEvidence",
    "FixReport",
    "Sentence",
    "diagnose",
    "paired_interval",
    "verify_fixes",
]
