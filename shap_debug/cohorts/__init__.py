"""Where the model fails and why: error cohorts, ambiguity vs. fixable and systematic
labelling errors (moved here from ``shap_debug/cohorts.py``; split next)."""

from .cohorts import *  # noqa: F401,F403
from .cohorts import __all__  # noqa: F401
