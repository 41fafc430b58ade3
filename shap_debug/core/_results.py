"""The base every result type shares: ``to_frame()``, ``plot()``, a short repr, an HTML view."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._html import section_html, table_html


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    if isinstance(value, pd.DataFrame):
        return f"DataFrame{value.shape}"
    if isinstance(value, pd.Series):
        return f"Series({len(value)})"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{type(value).__name__}[{len(value)}]"
    if isinstance(value, float):
        return f"{value:.4g}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Result:
    """Mixin for result values.

    Subclasses implement :meth:`to_frame` and may override :meth:`summary` (key figures as a
    ``{name: value}`` dict, used by ``__repr__``) and :meth:`plot`. ``_repr_html_`` renders the
    summary and the head of ``to_frame()``, escaped, for notebooks.
    """

    _repr_fields: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - every subclass overrides
        """The result as a DataFrame (every subclass defines it)."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """Key figures for ``repr`` (the ``_repr_fields`` attributes by default)."""
        return {name: getattr(self, name) for name in self._repr_fields}

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={_short(v)}" for k, v in self.summary().items())
        return f"{type(self).__name__}({items})"

    def _repr_html_(self) -> str:
        try:
            frame = self.to_frame()
        except Exception:  # a result that cannot tabulate itself still renders its summary
            frame = pd.DataFrame()
        note = ", ".join(f"{k}={_short(v)}" for k, v in self.summary().items())
        return section_html(type(self).__name__, table_html(frame), note or None)
