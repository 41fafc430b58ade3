"""shap-style plots, one module per plot (filled in as components land)."""
