"""shap-style plots for the Captum side, one module per result family.

Every plot takes the result first, then options, ``ax=None`` and ``show=True``, returns the
Axes, and leaves global pyplot state alone when ``ax`` is given.
"""
