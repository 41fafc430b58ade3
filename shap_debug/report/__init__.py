"""The HTML report: a pure renderer of the Debugger's values (``render_report``), one
builder per embedded figure (``report_figures``) and one anomaly's section (``inspection_html``).

``render`` lays out the sections, ``anomaly`` renders one inspected anomaly, ``figures``
builds the embedded figures, ``parts`` holds the shared HTML pieces. Nothing here computes:
it imports only :mod:`shap_debug.core` and :mod:`shap_debug.plots`.
"""

from ._anomaly import flip_html, inspection_html
from ._figures import figure_html, report_figures
from ._render import render_report

__all__ = ["render_report", "report_figures", "inspection_html", "flip_html", "figure_html"]
