"""Self-contained HTML debugging report: a pure renderer of the Debugger's values.

:meth:`shap_debug.debugger.Debugger.evidence` computes everything (an
:class:`~shap_debug.evidence.Evidence`); :func:`render_report` only lays those values out.
It imports no analysis module: it reads result values, calls their ``_repr_html_``,
``to_frame`` and ``plot`` methods, and uses :mod:`shap_debug.core`'s HTML helpers.

One file, no network needed to open it: plots are embedded as base64 PNG, styles inline, no
scripts. Every string that comes from data (column names, category labels, values) is
escaped (tables through ``DataFrame.to_html(escape=True)``), so a column named
``<script>alert(1)</script>`` renders as text.

A part that could not be computed, or does not apply (label flips on a 3-class target, a
logic formula when there are no anomalies), shows in its own section the sentence saying
why; the report still renders.
"""

from __future__ import annotations

import base64
import io
import time
import traceback
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .core import escape, table_html  # noqa: E402
from .core.validation import warn  # noqa: E402

__all__ = ["render_report", "inspection_html", "figure_html"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#1e3a5f;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:24px} header p{margin:4px 0 0;opacity:.85}
nav{background:#fff;border-bottom:1px solid #ddd;padding:8px 32px;font-size:14px}
nav a{margin-right:14px;color:#1e3a5f}
main{padding:8px 32px 40px;max-width:1200px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 20px;
margin:18px 0}
h2{color:#1e3a5f;font-size:20px} h3{font-size:16px;margin-top:18px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f1f4f8}
.flag-pass{color:#1a7f37} .flag-warn{color:#b35900;font-weight:600}
.error{color:#b00020;background:#fdecee;padding:6px 10px;border-radius:4px}
.missing{color:#6b4e00;background:#fff6dc;padding:6px 10px;border-radius:4px}
.note{color:#555;font-size:13px} img{max-width:100%} .tbl{overflow-x:auto}
.kpi{display:inline-block;margin:4px 18px 4px 0;font-size:15px}
.kpi b{font-size:20px;color:#1e3a5f}
"""


def figure_html(fig: Any, alt: str = "figure", dpi: int = 90) -> str:
    """Embed a matplotlib figure as a base64 PNG and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}"/>'


def _plot_html(plot: Callable[[Any], Any], alt: str, size=(7, 4), ncols: int = 1) -> str:
    fig, ax = plt.subplots(1, ncols, figsize=size)
    try:
        plot(ax)
    except Exception:
        plt.close(fig)
        raise
    return figure_html(fig, alt)


def _error(text: str) -> str:
    return f'<p class="error">This part could not be computed: {escape(text)}</p>'


def _guard(title: str, fn: Callable[[], str]) -> str:
    """Render ``fn()``; a rendering failure (a plot) shows in place instead of crashing."""
    try:
        return fn()
    except Exception as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        warn(f"report: rendering {title!r} failed: {last}")
        return _error(last)


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{escape(anchor)}"><h2>{escape(title)}</h2>{body}</section>'


def _missing(ev: Any, key: str) -> str | None:
    """The sentence for a part that is missing (an error or a reason it does not apply)."""
    reason = ev.reason(key)
    if reason is None:
        return None
    if ev.failed(key):
        return _error(reason)
    return f'<p class="missing">{escape(reason)}</p>'


def _part(ev: Any, key: str, value: Any, body: Callable[[Any], str]) -> str:
    """``body(value)``, or the reason ``key`` is missing."""
    missing = _missing(ev, key)
    if missing is not None:
        return missing
    if value is None:
        return '<p class="missing">Not computed.</p>'
    return _guard(key, lambda: body(value))


def _result_html(obj: Any, plot: bool = True) -> str:
    out = obj._repr_html_() if hasattr(obj, "_repr_html_") else table_html(obj.to_frame())
    if plot and hasattr(obj, "plot"):
        out += _guard("plot", lambda: _plot_html(lambda ax: obj.plot(ax=ax, show=False),
                                                 type(obj).__name__))
    return out


# ---------------------------------------------------------------------------- parts
def inspection_html(ins: Any, images: bool = True) -> str:
    """HTML fragment for one :class:`~shap_debug.evidence.Inspection`."""
    parts = [
        f'<p><span class="kpi">true label <b>{escape(ins.true_label)}</b></span>'
        f'<span class="kpi">predicted <b>{escape(ins.predicted_label)}</b></span>'
        f'<span class="kpi">confidence <b>{ins.confidence:.2f}</b></span>'
        f'<span class="kpi">neighbours <b>{len(ins.neighborhood.indices)}</b></span>'
        f'<span class="kpi">neighbours sharing its label '
        f'<b>{float(ins.neighborhood.label_agreement):.0%}</b></span></p>',
        "<h3>The row</h3>", table_html(ins.row.to_frame().T),
        "<h3>Rules: the anomaly, then its representative neighbours (pymoo GA)</h3>",
        '<p class="note">Local IF-THEN rules from a surrogate tree on a generated '
        "neighbourhood; compare the anomaly's rule with those of correctly predicted "
        "neighbours to see what confuses the model.</p>",
        table_html(ins.rules.to_frame(), max_rows=ins.rules.to_frame().shape[0]),
    ]
    if ins.ale is not None:
        parts.append("<h3>ALE over the neighbourhood (global curve dashed)</h3>")
        if images:
            top = ins.top_ale_features(4)
            parts.append(_guard("ale plot", lambda: _ale_figure(ins, top)))
        if ins.bias is not None:
            parts.append(table_html(ins.bias.to_frame(), max_rows=12))
    parts.append("<h3>Closest flip point</h3>")
    if ins.flip is not None:
        parts.append(ins.flip._repr_html_())
    else:
        parts.append(f'<p class="missing">{escape("; ".join(ins.notes) or "not available")}'
                     "</p>")
    parts.append("<h3>Most influential training rows</h3>")
    parts.append(f'<p class="note">{escape(ins.influence_method)}</p>')
    parts.append(table_html(ins.influential, max_rows=10))
    return "".join(parts)


def _ale_figure(ins: Any, features: list) -> str:
    n = max(1, len(features))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
    for ax, feat in zip(axes[0], features):
        ins.ale.plot(features=[feat], global_result=ins.ale_global, ax=ax, show=False)
    fig.tight_layout()
    return figure_html(fig, "ALE curves")


def _summary_html(ev: Any) -> str:
    ov = ev.overview
    acc = ov.accuracy
    classes = ", ".join(f"{c} ({ov.class_counts.get(c, 0)} rows)" for c in ov.classes)
    kpis = (f'<p><span class="kpi">train accuracy <b>{acc["train"]:.3f}</b></span>'
            + (f'<span class="kpi">test accuracy <b>{acc["test"]:.3f}</b></span>'
               if "test" in acc else "")
            + f'<span class="kpi">anomalies <b>{ov.n_anomalies}</b> of {ov.n_rows}</span>'
            f'<span class="kpi">K <b>{ov.n_neighbors}</b></span></p>'
            f'<p class="note">{len(ov.classes)} classes: {escape(classes)}</p>')
    if ev.notes:
        kpis += ("<h3>How the data were prepared</h3><ul>"
                 + "".join(f"<li>{escape(n)}</li>" for n in ev.notes) + "</ul>")

    def flags(values: tuple) -> str:
        return "<ul>" + "".join(
            f'<li class="flag-{escape(f.level)}">{escape(f.level.upper())}: '
            f'<a href="#{escape(f.anchor.lstrip("#"))}">{escape(f.message)}</a></li>'
            for f in values) + "</ul>"

    return kpis + "<h3>Flags</h3>" + _part(ev, "flags", ov.flags, flags)


def _occurrence_html(ev: Any) -> str:
    ov = ev.overview

    def body(_: Any) -> str:
        return (
            '<a id="neighborhoods"></a>'
            '<p class="note">How often each training row lands in the neighbourhoods of all '
            "anomalies (Rasouli &amp; Yu, Fig. 3). The table counts a group of identical rows "
            "once per neighbourhood (<code>copies</code> = group size). Treat these rows as "
            "where to look, not as proven culprits: on Adult with 10 % injected label noise "
            "the most frequent rows were mislabelled no more often than the noise rate and "
            "removing them fixed no more anomalies than removing random rows "
            "(<code>benchmarks/results/cohorts.json</code>); the suspicious-row ranking "
            "below is the validated one.</p>"
            + _guard("occurrence plot", lambda: _plot_html(
                lambda ax: ov.occurrence.plot(ax=ax, show=False), "occurrence histogram"))
            + table_html(ov.recurring_rows, 15))

    return _part(ev, "occurrence", ov.occurrence, body)


def _label_flip_html(ev: Any) -> str:
    def body(trials: pd.DataFrame) -> str:
        return ('<p class="note">For each inspected anomaly, the labels of its K '
                "neighbours in each space are flipped and a clone of the model is "
                "retrained with the same seed: does the anomaly's prediction change? "
                "(Rasouli &amp; Yu, Table II: contribution space should win.)</p>"
                + table_html(ev.label_flip_summary) + table_html(trials, 30))

    return _part(ev, "label-flip", ev.label_flips, body)


def _global_html(ev: Any) -> str:
    ov = ev.overview
    out = ('<p class="note">PCA of the training rows in contribution space and in '
           "feature space, coloured by prediction, anomalies highlighted (Rasouli &amp; "
           "Yu, Fig. 1).</p>")
    out += _part(ev, "space-view", ov.space_view, lambda view: _plot_html(
        lambda ax: view.plot(ax=ax, show=False), "space view", (11, 4.5), ncols=2))
    out += "<h3>What the anomalies have in common (logic formula)</h3>"
    out += _part(ev, "logic", ov.formula, lambda f: f._repr_html_())
    if ov.protected:
        out += "<h3>Protected attributes</h3>"
        out += _part(ev, "protected", ev.protected_effects, lambda t: table_html(t, 30))
    return out


def render_report(evidence: Any, *, title: str | None = None) -> str:
    """The whole report as an HTML string.

    Parameters
    ----------
    evidence : Evidence
        From :meth:`shap_debug.debugger.Debugger.evidence`; nothing is computed here.
    title : str, optional
        Defaults to ``"shap-debug report: <model class>"``.

    Returns
    -------
    str
        A complete HTML document (see :meth:`Debugger.report`).
    """
    t_start = time.perf_counter()
    ev, ov = evidence, evidence.overview
    sections = [
        _section("summary", "Summary", _summary_html(ev)),
        _section("occurrence", "Rows that recur in anomaly neighbourhoods",
                 _occurrence_html(ev)),
        _section("cohorts", "Where the model fails: error cohorts",
                 _part(ev, "cohorts", ov.cohorts, _result_html)),
        _section("suspicious", "Suspicious training rows (confident learning)",
                 _part(ev, "suspicious", ov.suspicious, _result_html)),
        _section("integrity", "Data integrity",
                 _part(ev, "integrity", ov.integrity, lambda v: _result_html(v, plot=False))),
    ]
    if ev.label_flip:
        sections.append(_section("label-flip", "Evidence: label-flip influence check",
                                 _label_flip_html(ev)))
    for i in ev.anomalies:
        sections.append(_section(f"anomaly-{i}", f"Anomaly {i}", _part(
            ev, f"anomaly-{i}", ev.inspections.get(i), inspection_html)))
    sections.append(_section("global", "Global view", _global_html(ev)))
    timings = {**ev.timings, "rendering": time.perf_counter() - t_start}
    sections.append(_section("timings", "How long each step took", table_html(
        pd.DataFrame({"step": list(timings), "seconds": list(timings.values())}), 60)))

    nav = "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in [
        ("summary", "Summary"), ("occurrence", "Recurring rows"), ("cohorts", "Cohorts"),
        ("suspicious", "Suspicious rows"), ("integrity", "Integrity")]
        + ([("label-flip", "Label flips")] if ev.label_flip else [])
        + [(f"anomaly-{i}", f"Anomaly {i}") for i in ev.anomalies]
        + [("global", "Global view")])
    head_title = escape(title or f"shap-debug report: {ov.model_name}")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{head_title}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{head_title}</h1><p>{ov.n_rows} training rows, "
        f"{ov.n_features} features, generated by shap-debug</p></header>"
        f"<nav>{nav}</nav><main>{''.join(sections)}</main></body></html>")
