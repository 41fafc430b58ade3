"""Where the model fails and why: error cohorts, ambiguity versus fixable cohorts, systematic
labelling errors, suspicious labels (confident learning), data-integrity flags, and
:func:`scan` for leakage, ID columns, shortcuts, sentinel codes, conflicting duplicates,
under-represented or shifted cohorts and over/underfitting (as :class:`Signal` values)."""

from ._ambiguity import AmbiguityReport, CohortDiagnosis, ambiguity_report
from ._cohorts import Cohort, ErrorCohorts, ErrorHeatmap, error_cohorts
from ._columns import single_feature_auc
from ._fitting import capacity_grid
from ._integrity import Flag, collapsed_occurrence, duplicate_groups, integrity_flags
from ._scan import scan
from ._signals import SIGNAL_KINDS, VERDICTS, Signal
from ._suspicious import SuspiciousRows, confident_joint, cross_val_proba, suspicious_rows
from ._systematic import SystematicErrors, SystematicRegion, systematic_errors

__all__ = [
    "SIGNAL_KINDS", "VERDICTS", "Signal", "capacity_grid", "scan", "single_feature_auc",
    "AmbiguityReport", "Cohort", "CohortDiagnosis", "ErrorCohorts", "ErrorHeatmap", "Flag",
    "SuspiciousRows", "SystematicErrors", "SystematicRegion", "ambiguity_report",
    "collapsed_occurrence", "confident_joint", "cross_val_proba", "duplicate_groups",
    "error_cohorts", "integrity_flags", "suspicious_rows", "systematic_errors",
]
