"""Small HTML pieces every section uses: a table or the sentence saying why there is none,
a missing part's reason, a rendering failure shown in place."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..core import escape, table_html, warn

__all__ = ["error_p", "guard", "missing_p", "part", "section", "table_or"]


def error_p(text: str) -> str:
    """A part that raised: its reason, in red."""
    return f'<p class="error">This part could not be computed: {escape(text)}</p>'


def missing_p(text: str) -> str:
    """A part that is empty or does not apply: the sentence saying why."""
    return f'<p class="missing">{escape(text)}</p>'


def table_or(frame: pd.DataFrame | None, why_empty: str, max_rows: int = 20) -> str:
    """``frame`` as a table, or (no rows) the sentence ``why_empty`` — never an empty table.

    >>> table_or(pd.DataFrame({"a": []}), "Nothing to show.")
    '<p class="missing">Nothing to show.</p>'
    """
    if frame is None or not len(frame):
        return missing_p(why_empty)
    return table_html(frame, max_rows=max_rows)


def guard(title: str, fn: Callable[[], str]) -> str:
    """Render ``fn()``; a rendering failure (a plot) shows in place instead of crashing."""
    try:
        return fn()
    except Exception as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        warn(f"report: rendering {title!r} failed: {last}")
        return error_p(last)


def section(anchor: str, title: str, body: str) -> str:
    """One ``<section>`` with its anchor and title."""
    return f'<section id="{escape(anchor)}"><h2>{escape(title)}</h2>{body}</section>'


def _missing(ev: Any, key: str) -> str | None:
    reason = ev.reason(key)
    if reason is None:
        return None
    return error_p(reason) if ev.failed(key) else missing_p(reason)


def part(ev: Any, key: str, value: Any, body: Callable[[Any], str],
         why_none: str = "Not computed.") -> str:
    """``body(value)``, or the reason ``key`` is missing (``why_none`` when no reason was
    recorded)."""
    missing = _missing(ev, key)
    if missing is not None:
        return missing
    if value is None:
        return missing_p(why_none)
    return guard(key, lambda: body(value))
