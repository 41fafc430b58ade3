"""Auditing and debugging a model with flip points, for one input and for groups: modules
``individual``, ``group`` (group audit and feature dependency) and ``augment``.

Yousefzadeh & O'Leary, "Auditing and debugging deep learning models via flip points:
individual-level and group-level analysis" (2020):

- :func:`individual_report` (their Fig. 2/5): the unconstrained flip point of one input,
  which single features, pairs and user-defined groups of features can flip the decision
  alone and the change each needs, in original units and category labels; flags flip
  points outside the training range.
- :func:`group_audit`: flip directions ``x̂ - x`` of a group of rows; feature influence by
  pivoted QR and by PCA of the directions; how often each feature changes and which way;
  how many flip points change a protected attribute.
- :func:`feature_dependency`: pivoted QR / condition numbers of the training data (the paper
  drops linearly dependent columns this way before auditing).
- :func:`sparser_change`: does a change of fewer features than the closest flip point's
  flip the decision too (single features, then pairs of the top ones; ``immutable`` held)?
- :func:`augment_with_flip_points`: add constrained flip points to the training set with the
  rows' labels, retrain, and report test accuracy and the feature's influence rank before and
  after (their Credit/age experiment; gains are not promised).
"""

from ._augment import AugmentationResult, augment_with_flip_points
from ._group import DependencyResult, GroupAudit, feature_dependency, group_audit
from ._individual import IndividualReport, individual_report
from ._sparser import SPARSER_VERDICTS, SparserChange, sparser_change

__all__ = [
    "IndividualReport", "GroupAudit", "DependencyResult", "AugmentationResult",
    "individual_report", "group_audit", "feature_dependency", "augment_with_flip_points",
    "SparserChange", "sparser_change", "SPARSER_VERDICTS",
]
