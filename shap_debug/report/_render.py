"""Self-contained HTML debugging report: a pure renderer of the Debugger's values.

:meth:`shap_debug.debugger.Debugger.evidence` computes everything (an
:class:`~shap_debug.debugger._values.Evidence`); :func:`render_report` only lays those values out.
It imports no analysis module: it reads result values, calls their ``_repr_html_``,
``to_frame`` and ``plot`` methods, and uses :mod:`shap_debug.core`'s HTML helpers.

One file, no network needed to open it: plots are embedded as base64 PNG, styles inline, no
scripts. Every string that comes from data (column names, category labels, values) is
escaped (tables through ``DataFrame.to_html(escape=True)``), so a column named
``<script>alert(1)</script>`` renders as text.

It opens with the Diagnosis: sentences given as values, each linked to the section holding
its evidence. A part that could not be computed, does not apply, or came out empty shows in
its own section the sentence saying why; no section renders an empty table.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from ..core import escape, table_html
from ._anomaly import ALE_COLUMNS, inspection_html
from ._figures import (
    COHORT_ROWS,
    EXTRA_PARTS,
    ambiguity_figure,
    cohort_figure,
    extra_figure,
    figure_html,
    occurrence_figure,
    report_cohorts,
    space_view_figure,
    suspicious_figure,
)
from ._parts import error_p, guard, missing_p, part, section, table_or
from ._sections import section_of

__all__ = ["render_report"]

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
.note{color:#555;font-size:13px} img{max-width:100%;vertical-align:top} .tbl{overflow-x:auto}
.kpi{display:inline-block;margin:4px 18px 4px 0;font-size:15px}
.kpi b{font-size:20px;color:#1e3a5f}
#diagnosis{border-left:5px solid #1e3a5f} #diagnosis li{margin:6px 0;font-size:15px}
.verdict{background:#eef4fb;padding:6px 10px;border-radius:4px}
"""


def _pct(v: float) -> str:
    return f"{v:.1%}"


# ---------------------------------------------------------------------------- sections
def _items(pairs: Any) -> str:
    return "".join(f'<li>{escape(text)} <a href="#{escape(str(anchor).lstrip("#"))}">'
                   "evidence</a></li>" for text, anchor in pairs)


def _diagnosis_html(ev: Any) -> str:
    """The strongest findings (at most five) first, then the rest below."""
    items = tuple(getattr(ev, "diagnosis", ()) or ())
    if not items:
        return missing_p("No finding stands out: no cohort fails significantly more than the "
                         "rest and no anomaly was inspected. Inspect anomalies "
                         "(anomalies=3) to get a diagnosis per row.")
    n_lead = max(1, min(5, len(getattr(ev, "findings", ()) or ())))
    out = '<ol class="diagnosis">' + _items(items[:n_lead]) + "</ol>"
    if len(items) > n_lead:
        out += ('<h3>More</h3><ul class="diagnosis-more">' + _items(items[n_lead:])
                + "</ul>")
    return out


def _headline(ev: Any, key: str) -> str:
    """What a section says first: its findings' headlines (the same words as the
    Diagnosis)."""
    lines = (getattr(ev, "headlines", None) or {}).get(key) or []
    if not lines:
        return ""
    return ('<div class="verdict">' + "".join(f"<p>{escape(t)}</p>" for t in lines)
            + "</div>")


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
        if not values:
            return missing_p("No check raised a flag.")
        return "<ul>" + "".join(
            f'<li class="flag-{escape(f.level)}">{escape(f.level.upper())}: '
            f'<a href="#{escape(f.anchor.lstrip("#"))}">{escape(f.message)}</a></li>'
            for f in values) + "</ul>"

    values = tuple(getattr(ev, "flags", ()) or ()) or ov.flags
    return (kpis + _headline(ev, "summary") + "<h3>Flags</h3>"
            + part(ev, "flags", values, flags) + _orphan_failures(ev))


#: Parts shown in a section of their own (a failure shows there); any other failed part
#: shows in the summary.
_PLACED = {"integrity", "cohorts", "test-cohorts", "ambiguity", "suspicious", "occurrence",
           "label-flip", "space-view", "logic", "protected", "fixes", "dose", "recurring",
           "flags"}


def _orphan_failures(ev: Any) -> str:
    failed = {**dict(ev.overview.failures), **dict(ev.failures)}
    rest = {k: v for k, v in failed.items()
            if k not in _PLACED and not k.startswith("anomaly-")}
    if not rest:
        return ""
    return "<h3>Parts that could not be computed</h3>" + "".join(
        error_p(f"{key}: {reason}") for key, reason in rest.items())


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
            + guard("occurrence plot", lambda: figure_html(
                occurrence_figure(ov.occurrence), "occurrence of rows in neighbourhoods"))
            + table_or(ov.recurring_rows, "No training row lies in an anomaly's "
                       "neighbourhood.", 15))

    return part(ev, "occurrence", ov.occurrence, body)


def _cohort_table(cohorts: Any) -> pd.DataFrame:
    rows = []
    for k, c in enumerate(report_cohorts(cohorts), 1):
        p = ("not tested" if np.isnan(c.p_adjusted) else f"{c.p_adjusted:.2g}"
             + ("" if c.significant else " (not significant)"))
        rows.append({"#": k, "cohort": c.rule, "rows": c.size, "error rate":
                     _pct(c.error_rate), "share of errors": _pct(c.error_share),
                     "adjusted p": p})
    return pd.DataFrame(rows)


def _cohorts_html(ev: Any) -> str:
    ov = ev.overview

    def body(cohorts: Any) -> str:
        if not cohorts.n_errors:
            return missing_p(f"{cohorts.message}: there is no error for a cohort to "
                             "concentrate.")
        table = _cohort_table(cohorts)
        out = f'<p>{escape(cohorts.message)}.</p>'
        out += table_or(table, f"No group of at least {cohorts.min_support} rows could be "
                        "tested: the error tree found no split (too few errors or rows).",
                        max_rows=len(table))
        if len(table):
            out += ('<p class="note">Cohorts are numbered as in the chart; the chart '
                    "abbreviates long rules, the table gives them in full.</p>")
            out += guard("cohort plot", lambda: figure_html(cohort_figure(cohorts),
                                                            "error cohorts"))
        return out

    out = _headline(ev, "cohorts")
    if getattr(ov, "n_test", 0):
        out += ('<h3>Held-out rows the model gets wrong</h3><p class="note">The errors users '
                "meet on new data: cohorts of the test rows the model gets wrong.</p>")
        out += part(ev, "test-cohorts", getattr(ov, "test_cohorts", None), body)
        wrong = getattr(ov, "test_anomalies", None)
        if wrong is not None and len(wrong):
            out += ('<p class="note">The held-out rows it gets wrong, most confidently wrong '
                    "first (<code>index</code>: the row's own label):</p>"
                    + table_html(wrong.drop(columns=["row"]), max_rows=10))
        out += "<h3>Training rows the model gets wrong (second view)</h3>"
    out += part(ev, "cohorts", ov.cohorts, body)
    out += '<h3 id="ambiguity">Are the errors ambiguous or fixable?</h3>'
    out += _headline(ev, "ambiguity")
    out += part(ev, "ambiguity", getattr(ov, "ambiguity", None),
                lambda amb: _ambiguity_html(amb, _verified(ev)),
                "Not computed: the ambiguity split needs the error cohorts and the "
                "suspicious-row ranking.")
    return out


def _verified(ev: Any) -> dict:
    """Cohort rule -> the verdict the verified fixes gave it (from the findings)."""
    return {f.rule["text"]: f"{f.details['cohort']} {f.details['cohort_verdict']}"
            for f in getattr(ev, "findings", ()) or ()
            if f.rule and "cohort_verdict" in f.details}


def _ambiguity_html(amb: Any, verified: dict | None = None) -> str:
    if not amb.n_errors or not amb.cohorts:
        return missing_p("The model makes no training error, so there is nothing to split "
                         "into ambiguous and fixable.")
    model = max(0.0, 1 - amb.ambiguous_error_share - amb.fixable_error_share)
    head = (f"<p>By their scores alone, {_pct(amb.ambiguous_error_share)} of the "
            f"{amb.n_errors} errors are "
            f"ambiguous (the model is unsure, or similar rows carry mixed labels), "
            f"{_pct(amb.fixable_error_share)} look fixable (a likely data problem: a label "
            f"the out-of-sample model confidently rejects in a clean neighbourhood), "
            f"{_pct(model)} are confident mistakes with no sign of a data problem. The "
            "verdict that counts is the one verified on held-out rows (Fixes).</p>")
    verified = verified or {}
    table = pd.DataFrame([{
        "#": k, "cohort": d.cohort.rule, "score-based split": d.verdict,
        "verified on held-out rows": verified.get(str(d.cohort.rule), "not verified"),
        "ambiguous": _pct(d.ambiguous_share), "fixable": _pct(d.fixable_share),
        "why": d.explanation} for k, d in enumerate(amb.cohorts[:COHORT_ROWS], 1)])
    return (head + table_html(table, max_rows=len(table))
            + guard("ambiguity plot", lambda: figure_html(ambiguity_figure(amb),
                                                          "ambiguous and fixable errors")))


def _integrity_html(report: Any, per_kind: int = 5) -> str:
    """The flags, then the first ``per_kind`` problems of each kind (so a long list of
    duplicates does not hide the conflicting labels or the leaked test rows)."""
    flags = "".join(f._repr_html_() for f in report.flags())
    table = report.to_frame().rename(columns={"n_rows": "rows"})
    if not len(table):
        return flags
    counts = table["kind"].value_counts()
    shown = table.groupby("kind", sort=False).head(per_kind)
    more = [f"{n - per_kind} more {k}" for k, n in counts.items() if n > per_kind]
    note = (f'<p class="note">The first {per_kind} of each kind; not shown: '
            f"{escape(', '.join(more))}.</p>" if more else "")
    return flags + table_html(shown, max_rows=len(shown)) + note


def _suspicious_html(ev: Any) -> str:
    def body(s: Any) -> str:
        return s._repr_html_() + guard("suspicious plot", lambda: figure_html(
            suspicious_figure(s), "suspicion scores"))

    return _headline(ev, "suspicious") + part(ev, "suspicious", ev.overview.suspicious, body)


def _label_flip_html(ev: Any) -> str:
    def body(trials: pd.DataFrame) -> str:
        return ('<p class="note">For each inspected anomaly, the labels of its K '
                "neighbours in each space are flipped and a clone of the model is "
                "retrained with the same seed: does the anomaly's prediction change? "
                "(Rasouli &amp; Yu, Table II: contribution space should win.)</p>"
                + table_or(ev.label_flip_summary, "No trial finished.")
                + table_or(trials, "No trial finished.", 30))

    return part(ev, "label-flip", ev.label_flips, body)


def _formula_html(f: Any) -> str:
    if getattr(f, "is_trivial", False):
        return missing_p(f.reason or "The anomalies share no trait a short formula could "
                         "describe; more anomalies (or a deeper tree) could give one.")
    text = str(f.formula)
    if len(text) > 600:
        text = text[:597] + "..."
    lift = f.precision / f.base_rate if f.base_rate else float("nan")
    terms = f.terms_frame().sort_values("target_covered", ascending=False).head(10)
    terms = terms[["term", "target_covered", "other_covered", "precision"]].rename(
        columns={"target_covered": "anomalies it holds for",
                 "other_covered": "correct rows it holds for"})
    return (f"<p>A row tends to be an anomaly (the model gets it wrong) when: "
            f"<code>{escape(text)}</code></p>"
            f'<p class="note">Read <code>~</code> as not, <code>&amp;</code> as and, '
            f"<code>|</code> as or. It holds for {f.recall:.0%} of the anomalies; "
            f"{f.precision:.0%} of the rows it holds for are anomalies, against "
            f"{f.base_rate:.0%} of all rows (lift {lift:.1f}).</p>"
            + table_or(terms, "The formula has no term.", 10))


def _global_html(ev: Any) -> str:
    ov = ev.overview
    out = ('<p class="note">PCA of the training rows in contribution space and in '
           "feature space, coloured by prediction, anomalies highlighted (Rasouli &amp; "
           "Yu, Fig. 1).</p>")
    out += part(ev, "space-view", ov.space_view, lambda view: figure_html(
        space_view_figure(view), "space view"))
    out += ('<h3 id="logic">What sets the anomalies apart from the rows the model gets '
            "right (logic formula)</h3>")
    out += part(ev, "logic", ov.formula, _formula_html)
    if ov.protected:
        out += "<h3>Protected attributes</h3>"
        out += part(ev, "protected", ev.protected_effects, lambda t: table_or(
            t.reset_index(drop=True).rename(columns=ALE_COLUMNS), "No neighbourhood effect "
            "of a protected attribute was measured.", 30))
    return out


def _extra_html(value: Any) -> str:
    out = (value._repr_html_() if hasattr(value, "_repr_html_")
           else table_or(value.to_frame(), "Empty."))
    fig = guard("plot", lambda: figure_html(extra_figure(value), type(value).__name__)
                if hasattr(value, "plot") else "")
    return out + fig


def _fixes_html(ev: Any, fixes: Any) -> str:
    """The verified fixes: the findings' best fix first (the Diagnosis's words), then the
    before/after table, the failing cohorts and the forest plot."""
    f = fixes.to_frame()
    show = f[["rank", "action", "target", "rows_changed", "before", "after", "delta",
              "low", "high", "effect"]].copy()
    for col in ("before", "after"):
        show[col] = show[col].map(lambda v: f"{v:.1%}")
    for col in ("delta", "low", "high"):
        show[col] = show[col].map(lambda v: f"{v:+.1%}")
    out = _headline(ev, "fixes") + table_html(show, max_rows=30)
    if fixes.cohorts:
        out += table_html(fixes.cohort_frame()[["cohort", "rule", "source", "test_rows",
                                                "held_out_accuracy"]])
    if fixes.skipped:
        out += "<p>Not measured:</p><ul>" + "".join(
            f"<li>{escape(n)}: {escape(r)}</li>" for n, r in fixes.skipped) + "</ul>"
    out += ('<p class="note">Ranked by the change of overall held-out accuracy; the best '
            "verified fix above also requires the action not to relabel an ambiguous "
            "cohort. Intervals: paired bootstrap over seeds and held-out rows.</p>")
    return out + guard("fixes plot", lambda: figure_html(extra_figure(fixes), "fixes"))


def _extra_section(ev: Any, name: str, value: Any) -> str:
    sec = section_of(name)
    if value is None:  # a part that raised shows its error in its own section
        reason = ev.reason(name)
        body = error_p(reason) if ev.failed(name) else missing_p(reason)
    elif name == "fixes":
        body = guard(name, lambda: _fixes_html(ev, value))
    else:
        body = guard(name, lambda: _extra_html(value))
    return section(sec.key, sec.title, body)


def _anomaly_title(i: int, label: Any) -> str:
    return f"Anomaly {label}" + ("" if str(label) == str(i) else f" (position {i} in X)")


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
    classes = tuple(ov.classes)
    # an extra part is shown when computed, or when it was asked for and failed
    extras = [(name, getattr(ev, name, None)) for name in EXTRA_PARTS]
    extras = [(n, v) for n, v in extras if v is not None or ev.failed(n)]
    keys = ["diagnosis", "summary"] + [n for n, _ in extras] + [
        "occurrence", "cohorts", "suspicious", "integrity"]
    keys += ["label-flip"] if ev.label_flip else []
    keys += [f"anomaly-{i}" for i in ev.anomalies] + ["global", "timings"]
    labels = dict(zip(ev.anomalies, getattr(ev, "row_labels", ()) or ev.anomalies))
    bodies = {
        "diagnosis": lambda: _diagnosis_html(ev), "summary": lambda: _summary_html(ev),
        "occurrence": lambda: _occurrence_html(ev), "cohorts": lambda: _cohorts_html(ev),
        "suspicious": lambda: _suspicious_html(ev),
        "integrity": lambda: _headline(ev, "integrity") + part(
            ev, "integrity", ov.integrity, _integrity_html),
        "label-flip": lambda: _label_flip_html(ev), "global": lambda: _global_html(ev)}
    sections, nav_items = [], []
    for key in keys:
        sec = section_of(key)
        if key.startswith("anomaly-"):
            i = int(key.split("-", 1)[1])
            sec = sec._replace(title=_anomaly_title(i, labels.get(i, i)),
                               nav=f"Anomaly {labels.get(i, i)}")
            body = part(ev, key, ev.inspections.get(i),
                        lambda ins: inspection_html(ins, classes=classes))
        elif key in dict(extras):
            sections.append(_extra_section(ev, key, dict(extras)[key]))
            nav_items.append((key, sec.nav))
            continue
        elif key == "timings":
            timings = {**ev.timings, "rendering": time.perf_counter() - t_start}
            body = table_html(pd.DataFrame({"step": list(timings),
                                            "seconds": list(timings.values())}), 60)
        else:
            body = bodies[key]()
        sections.append(section(sec.key, sec.title, body))
        if key != "timings":
            nav_items.append((key, sec.nav))
    nav = "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in nav_items)
    head_title = escape(title or f"shap-debug report: {ov.model_name}")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{head_title}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{head_title}</h1><p>{ov.n_rows} training rows, "
        f"{ov.n_features} features, generated by shap-debug</p></header>"
        f"<nav>{nav}</nav><main>{''.join(sections)}</main></body></html>")
