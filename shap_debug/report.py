"""Self-contained HTML debugging report.

One file, no network needed to open it: plots are embedded as base64 PNG, styles inline, no
scripts. Every string that comes from data (column names, category labels, values) is
escaped with :func:`html.escape` (tables through ``DataFrame.to_html(escape=True)``), so a
column named ``<script>alert(1)</script>`` renders as text.

A section whose computation fails shows the error instead of its content (and the report
still renders): the report says what it could not measure rather than hiding it.
"""

from __future__ import annotations

import base64
import html
import io
import time
import traceback
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

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
.note{color:#555;font-size:13px} img{max-width:100%} .tbl{overflow-x:auto}
.kpi{display:inline-block;margin:4px 18px 4px 0;font-size:15px}
.kpi b{font-size:20px;color:#1e3a5f}
"""


def esc(value: Any) -> str:
    """HTML-escape anything (as its string)."""
    return html.escape(str(value), quote=True)


def table_html(frame: pd.DataFrame, max_rows: int = 20, float_format: str = "{:.4g}") -> str:
    """A DataFrame as an escaped HTML table."""
    frame = frame.head(max_rows)
    body = frame.to_html(escape=True, index=False, border=0, na_rep="",
                         float_format=lambda v: float_format.format(v))
    return f'<div class="tbl">{body}</div>'



def figure_html(fig: Any, alt: str = "figure", dpi: int = 90) -> str:
    """Embed a matplotlib figure as a base64 PNG and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}"/>'


def _plot_html(plot: Callable[[Any], Any], alt: str, size=(7, 4), ncols: int = 1) -> str:
    fig, ax = plt.subplots(1, ncols, figsize=size)
    plot(ax)
    return figure_html(fig, alt)


def _guard(title: str, fn: Callable[[], str]) -> str:
    try:
        return fn()
    except Exception as exc:  # the report says what failed instead of crashing
        warn(f"report section {title!r} failed: {type(exc).__name__}: {exc}")
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return f'<p class="error">This part could not be computed: {esc(last)}</p>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


# ---------------------------------------------------------------------------- parts
def inspection_html(ins: Any, images: bool = True) -> str:
    """HTML fragment for one :class:`~shap_debug.debugger.Inspection`."""
    parts = [
        f'<p><span class="kpi">true label <b>{esc(ins.true_label)}</b></span>'
        f'<span class="kpi">predicted <b>{esc(ins.predicted_label)}</b></span>'
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
            top = list(ins.ale.ranges().sort_values(ascending=False).index[:4])
            parts.append(_guard("ale plot", lambda: _ale_figure(ins, top)))
        if ins.bias is not None:
            parts.append(table_html(ins.bias.to_frame(), max_rows=12))
    parts.append("<h3>Closest flip point</h3>")
    if ins.flip is not None:
        parts.append(ins.flip._repr_html_())
    else:
        parts.append(f'<p class="note">{esc("; ".join(ins.notes) or "not available")}</p>')
    parts.append("<h3>Most influential training rows</h3>")
    parts.append(f'<p class="note">{esc(ins.influence_method)}</p>')
    parts.append(table_html(ins.influential, max_rows=10))
    return "".join(parts)


def _ale_figure(ins: Any, features: list) -> str:
    n = max(1, len(features))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
    for ax, feat in zip(axes[0], features):
        ins.ale.plot(features=[feat], global_result=ins.ale_global, ax=ax, show=False)
    fig.tight_layout()
    return figure_html(fig, "ALE curves")


def _summary(dbg: Any, timings: dict) -> tuple[str, dict]:
    from .blame import summary_flags
    from .cohorts import error_cohorts
    from .integrity import integrity_flags
    from .suspicious import suspicious_rows

    nm = dbg.neighborhood_model
    acc = dbg.accuracy()
    ev: dict[str, Any] = {}

    def run(key, fn):
        t0 = time.perf_counter()
        try:
            ev[key] = fn()
        except Exception as exc:
            warn(f"report: {key} failed: {type(exc).__name__}: {exc}")
            ev[key] = exc
        timings[key] = time.perf_counter() - t0

    frame = dbg.readable_frame()
    run("integrity", lambda: integrity_flags(frame, dbg.y, None if dbg.X_test is None else (
        dbg.encoder.inverse_transform(np.asarray(dbg.X_test, dtype=float))
        if dbg.encoder is not None else dbg.X_test)))
    run("cohorts", lambda: error_cohorts(dbg.model, dbg.X, dbg.y, display_data=frame,
                                         random_state=dbg.random_state))
    # three repeated K-fold splits: the top-10 was stable across seeds (0.87 overlap) only
    # then, 0.73 with one split (benchmarks/results/cohorts.json)
    run("suspicious", lambda: suspicious_rows(dbg.model, dbg.X, dbg.y, n_repeats=3,
                                              random_state=dbg.random_state))
    ok = {k: v for k, v in ev.items() if not isinstance(v, Exception)}
    flags = _guard("flags", lambda: "<ul>" + "".join(
        f'<li class="flag-{esc(f.level)}">{esc(f.level.upper())}: '
        f'<a href="#{esc(f.anchor.lstrip("#"))}">{esc(f.message)}</a></li>'
        for f in summary_flags(integrity=ok.get("integrity"), cohorts=ok.get("cohorts"),
                               suspicious=ok.get("suspicious"), neighborhood=nm,
                               protected=dbg.protected)) + "</ul>")
    kpis = (f'<p><span class="kpi">train accuracy <b>{acc["train"]:.3f}</b></span>'
            + (f'<span class="kpi">test accuracy <b>{acc["test"]:.3f}</b></span>'
               if "test" in acc else "")
            + f'<span class="kpi">anomalies <b>{len(nm.anomalies_)}</b> of {len(dbg.X)}</span>'
            f'<span class="kpi">K <b>{dbg.n_neighbors}</b></span></p>')
    return kpis + "<h3>Flags</h3>" + flags, ev


def _evidence_section(key: str, ev: dict, title: str, body: Callable[[Any], str]) -> str:
    value = ev.get(key)
    if value is None:
        return ""
    if isinstance(value, Exception):
        content = f'<p class="error">Could not compute: {esc(value)}</p>'
    else:
        content = _guard(title, lambda: body(value))
    return _section(key, title, content)


def _result_html(obj: Any, plot: bool = True) -> str:
    out = obj._repr_html_() if hasattr(obj, "_repr_html_") else table_html(obj.to_frame())
    if plot and hasattr(obj, "plot"):
        out += _guard("plot", lambda: _plot_html(lambda ax: obj.plot(ax=ax, show=False),
                                                 type(obj).__name__))
    return out


def render_report(dbg: Any, anomalies: list, *, title: str | None = None,
                  label_flip: bool = True) -> str:
    """The whole report as an HTML string (see :meth:`Debugger.report`)."""
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    nm = dbg.neighborhood_model
    summary, ev = _summary(dbg, timings)
    sections = [_section("summary", "Summary", summary)]

    def occurrence_body() -> str:
        from .integrity import collapsed_occurrence

        occ = nm.occurrence()
        # identical rows take one neighbourhood place and count once (issue 11)
        top = collapsed_occurrence(nm).to_frame().head(15)
        labels = dbg.readable_frame().iloc[top["row"].to_numpy()].reset_index(drop=True)
        labels.insert(0, "label", dbg.y[top["row"].to_numpy()])
        return (
            '<p class="note">How often each training row lands in the neighbourhoods of all '
            "anomalies (Rasouli &amp; Yu, Fig. 3). The table counts a group of identical rows "
            "once per neighbourhood (<code>copies</code> = group size). Treat these rows as "
            "where to look, not as proven culprits: on Adult with 10 % injected label noise "
            "the most frequent rows were mislabelled no more often than the noise rate and "
            "removing them fixed no more anomalies than removing random rows "
            "(<code>benchmarks/results/cohorts.json</code>); the suspicious-row ranking "
            "below is the validated one.</p>"
            + _plot_html(lambda ax: occ.plot(ax=ax, show=False), "occurrence histogram")
            + table_html(pd.concat([top.reset_index(drop=True), labels], axis=1), 15))

    sections.append(_section("occurrence", "Rows that recur in anomaly neighbourhoods",
                             _guard("occurrence", occurrence_body)))
    sections.append(_evidence_section(
        "cohorts", ev, "Where the model fails: error cohorts", _result_html))
    sections.append(_evidence_section(
        "suspicious", ev, "Suspicious training rows (confident learning)", _result_html))
    sections.append(_evidence_section(
        "integrity", ev, "Data integrity", lambda v: _result_html(v, plot=False)))

    flips = None
    if label_flip and anomalies:
        def flip_body() -> str:
            nonlocal flips
            from .label_flip import label_flip_check, label_flip_summary

            t0 = time.perf_counter()
            with dbg._backend():
                flips = label_flip_check(
                    dbg.model, dbg.X, dbg.y, anomalies, n_neighbors=dbg.n_neighbors,
                    contributions=nm.contributions_, random_state=dbg.random_state,
                    n_jobs=dbg.parallel_jobs, progress=dbg.progress)
            timings["label_flip"] = time.perf_counter() - t0
            return ('<p class="note">For each inspected anomaly, the labels of its K '
                    "neighbours in each space are flipped and a clone of the model is "
                    "retrained with the same seed: does the anomaly's prediction change? "
                    "(Rasouli &amp; Yu, Table II: contribution space should win.)</p>"
                    + table_html(label_flip_summary(flips)) + table_html(flips, 30))
        sections.append(_section("label-flip", "Evidence: label-flip influence check",
                                 _guard("label flip", flip_body)))

    for i in anomalies:
        def body(i=i) -> str:
            t0 = time.perf_counter()
            ins = dbg.inspect(i)
            timings[f"anomaly {i}"] = time.perf_counter() - t0
            return inspection_html(ins)
        sections.append(_section(f"anomaly-{i}", f"Anomaly {i}", _guard(f"anomaly {i}", body)))

    def global_body() -> str:
        from .logic import anomaly_formula
        from .neighborhood import space_view

        view = space_view(nm, max_rows=3000, random_state=dbg.random_state)
        out = ('<p class="note">PCA of the training rows in contribution space and in '
               "feature space, coloured by prediction, anomalies highlighted (Rasouli &amp; "
               "Yu, Fig. 1).</p>"
               + _plot_html(lambda ax: view.plot(ax=ax, show=False), "space view", (11, 4.5),
                            ncols=2))
        is_anom = np.zeros(len(dbg.X), dtype=bool)
        is_anom[np.asarray(nm.anomalies_)] = True
        out += "<h3>What the anomalies have in common (logic formula)</h3>"
        out += _guard("logic", lambda: anomaly_formula(
            dbg.readable_frame(), is_anom, method="tree", random_state=dbg.random_state,
            max_depth=3)._repr_html_())
        if dbg.protected:
            out += "<h3>Protected attributes</h3>"
            rows = []
            for i in anomalies:
                ins = dbg._cache.get(f"inspect_{i}")
                if ins is not None and ins.bias is not None:
                    frame = ins.bias.to_frame()
                    frame.insert(0, "anomaly", i)
                    rows.append(frame[frame.iloc[:, 1].astype(str).isin(dbg.protected)]
                                if frame.shape[1] > 1 else frame)
            out += (table_html(pd.concat(rows, ignore_index=True), 30) if rows else
                    '<p class="note">No inspected anomaly.</p>')
        return out

    sections.append(_section("global", "Global view", _guard("global", global_body)))
    timings.update({k: v for k, v in dbg.timings.items() if not k.startswith("inspect_")})
    timings["report total"] = time.perf_counter() - t_start
    sections.append(_section("timings", "How long each step took", table_html(
        pd.DataFrame({"step": list(timings), "seconds": list(timings.values())}), 50)))

    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in [
        ("summary", "Summary"), ("occurrence", "Recurring rows"), ("cohorts", "Cohorts"),
        ("suspicious", "Suspicious rows"), ("integrity", "Integrity"),
        ("label-flip", "Label flips")] + [(f"anomaly-{i}", f"Anomaly {i}") for i in anomalies]
        + [("global", "Global view")])
    head_title = esc(title or f"shap-debug report: {type(dbg.model).__name__}")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{head_title}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{head_title}</h1><p>{len(dbg.X)} training rows, "
        f"{dbg.X.shape[1]} features, generated by shap-debug</p></header>"
        f"<nav>{nav}</nav><main>{''.join(sections)}</main></body></html>")
