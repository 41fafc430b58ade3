"""Tools to test a debugger against bugs it was never tuned on.

:func:`inject` plants one bug of a documented kind (:data:`BUG_KINDS`) into a copy of a
data set, randomised by a seed (which cohort, which feature, how strong), and returns an
:class:`InjectedBug`: the corrupted data, the ground truth (rows, features, cohort rule) and
the clean version to train a reference model on.

Examples
--------
>>> from shap_debug.datasets import german
>>> from shap_debug.testing import inject
>>> X, y = german()
>>> bug = inject("label_noise", X[:600], y[:600], X[600:], y[600:], random_state=0)
>>> bug.kind, len(bug.rows) > 0
('label_noise', True)
"""

from ._bugs import BUG_KINDS, FIXABLE, InjectedBug, inject

__all__ = ["BUG_KINDS", "FIXABLE", "InjectedBug", "inject"]
