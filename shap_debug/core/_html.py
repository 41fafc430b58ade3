"""HTML helpers shared by every result view: escaping, one table renderer, and text from
data made inert (invisible format characters shown, spreadsheet formulas defused)."""

from __future__ import annotations

import html as _html
import re
from typing import Any

import pandas as pd

# Unicode's format characters (category Cf): bidi embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069) can visually reorder a report's text; zero-width and tag
# characters (U+200B..., U+E0000...) hide text. Each is shown as a visible "[U+XXXX]".
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def inert_text(value: Any) -> str:
    """``str(value)`` with every invisible format character shown as ``[U+XXXX]``.

    Examples
    --------
    >>> inert_text("abc\u202edef")
    'abc[U+202E]def'
    """
    return _INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", str(value))


def escape(value: Any) -> str:
    """``str(value)`` made inert (:func:`inert_text`) and escaped for HTML (``& < > " '``).

    Examples
    --------
    >>> escape("<b>\u202e</b>")
    '&lt;b&gt;[U+202E]&lt;/b&gt;'
    """
    return _html.escape(inert_text(value), quote=True)


def spreadsheet_safe(value: Any) -> Any:
    """A text cell that a spreadsheet will not run as a formula (CSV/JSON exports).

    Text starting with ``= + - @`` (or a tab / carriage return) gets a leading ``'``, as
    OWASP advises against CSV injection; other values are returned as they are.

    Examples
    --------
    >>> print(spreadsheet_safe("=1+2"), spreadsheet_safe(-1.5))
    '=1+2 -1.5
    """
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels are
    :func:`spreadsheet_safe` and :func:`inert_text` (numbers untouched): what to write to
    CSV or JSON. The input is not modified."""
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(
                out[col]):
            out[col] = out[col].map(_safe_cell)
    out.columns = [_safe_cell(c) for c in out.columns]
    out.index = out.index.map(_safe_cell)
    return out


def _safe_cell(value: Any) -> Any:
    return spreadsheet_safe(inert_text(value)) if isinstance(value, str) else value


def table_html(frame: pd.DataFrame, max_rows: int = 20, float_format: str = "{:.4g}",
               index: bool = False) -> str:
    """A DataFrame as an escaped HTML table (the first ``max_rows`` rows).

    Every cell and header goes through pandas' escaping, so strings from data cannot inject
    markup, and through :func:`inert_text`, so they cannot reorder or hide text.

    Examples
    --------
    >>> import pandas as pd
    >>> "&lt;b&gt;" in table_html(pd.DataFrame({"a": ["<b>"]}))
    True
    """
    frame = _inert_frame(frame.head(max_rows), index)
    body = frame.to_html(escape=True, index=index, border=0, na_rep="",
                         float_format=lambda v: float_format.format(v))
    return f'<div class="tbl">{body}</div>'


def section_html(title: str, body: str, note: str | None = None) -> str:
    """A titled block: escaped ``title`` (and ``note``), ``body`` inserted as given (HTML)."""
    out = f"<div class='shap-debug-result'><b>{escape(title)}</b>"
    if note:
        out += f"<p>{escape(note)}</p>"
    return out + body + "</div>"


def _inert_frame(frame: pd.DataFrame, index: bool) -> pd.DataFrame:
    """``frame`` with :func:`inert_text` applied to its text cells and labels (a copy)."""
    text = [c for c in frame.columns if frame[c].dtype == object
            or isinstance(frame[c].dtype, (pd.CategoricalDtype, pd.StringDtype))]
    if not text and not any(isinstance(c, str) and _INVISIBLE.search(c) for c in frame.columns):
        return frame if not index else frame.set_axis(frame.index.map(_inert_label), axis=0)
    out = frame.copy()
    for col in text:
        out[col] = out[col].astype(object).map(
            lambda v: inert_text(v) if isinstance(v, str) else v)
    out.columns = [_inert_label(c) for c in out.columns]
    if index:
        out.index = out.index.map(_inert_label)
    return out


def _inert_label(value: Any) -> Any:
    return inert_text(value) if isinstance(value, str) else value
