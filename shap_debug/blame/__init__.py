"""Blame: which training rows drove the errors, with evidence (label-flip checks,
dose-response, recurrence, removal curves and blame stability)."""

from ._dose_response import DoseResponse, dose_response, neighbours_by_space
from ._label_flip import LabelFlipCheck, label_flip_check, label_flip_html, label_flip_summary
from ._recurrence import RecurringRows, recurring_rows
from ._removal import blame_stability, removal_curve, summary_flags

__all__ = ['DoseResponse', 'LabelFlipCheck', 'RecurringRows', 'blame_stability', 'dose_response', 'label_flip_check', 'label_flip_html', 'label_flip_summary', 'neighbours_by_space', 'recurring_rows', 'removal_curve', 'summary_flags']
