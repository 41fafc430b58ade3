"""Where the model fails and why: error cohorts (``cohorts``), ambiguity vs. fixable
(``ambiguity``) and systematic labelling errors (``systematic``)."""

from .ambiguity import AmbiguityReport, CohortDiagnosis, ambiguity_report
from .cohorts import Cohort, ErrorCohorts, ErrorHeatmap, error_cohorts
from .systematic import SystematicErrors, SystematicRegion, systematic_errors

__all__ = [
    "AmbiguityReport",
    "Cohort",
    "CohortDiagnosis",
    "ErrorCohorts",
    "ErrorHeatmap",
    "SystematicErrors",
    "SystematicRegion",
    "ambiguity_report",
    "error_cohorts",
    "systematic_errors",
]
