"""HTML helpers shared by every result view: escaping and one table renderer."""

from __future__ import annotations

import html as _html
from typing import Any

import pandas as pd


def escape(value: Any) -> str:
    """``str(value)`` with ``& < > " '`` escaped for HTML."""
    return _html.escape(str(value), quote=True)


def table_html(frame: pd.DataFrame, max_rows: int = 20, float_format: str = "{:.4g}",
               index: bool = False) -> str:
    """A DataFrame as an escaped HTML table (the first ``max_rows`` rows).

    Every cell and header goes through pandas' escaping, so strings from data cannot inject
    markup.

    Examples
    --------
    >>> import pandas as pd
    >>> "&lt;b&gt;" in table_html(pd.DataFrame({"a": ["<b>"]}))
    True
    """
    frame = frame.head(max_rows)
    body = frame.to_html(escape=True, index=index, border=0, na_rep="",
                         float_format=lambda v: float_format.format(v))
    return f'<div class="tbl">{body}</div>'


def section_html(title: str, body: str, note: str | None = None) -> str:
    """A titled block: escaped ``title`` (and ``note``), ``body`` inserted as given (HTML)."""
    out = f"<div class='shap-debug-result'><b>{escape(title)}</b>"
    if note:
        out += f"<p>{escape(note)}</p>"
    return out + body + "</div>"
