"""The bias view: features ranked by ALE range in a neighborhood versus the whole training
set, protected attributes above a threshold flagged (Rasouli & Yu 2021, Fig. 4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...core import Result, check_float, escape, section_html, warn
from ._result import ALEResult

__all__ = ["ALEBias", "ale_bias"]


@dataclass(frozen=True, eq=False, repr=False)
class ALEBias(Result):
    """Features ranked by ALE range in a neighborhood versus the whole data.

    Attributes
    ----------
    table : DataFrame
        One row per feature, largest neighborhood range first: ``range_neighborhood``,
        ``range_global``, ``ratio`` (neighborhood / global), ``protected``, ``flagged``.
    threshold : float
    flagged : tuple of str
        Protected features whose neighborhood ALE range exceeds ``threshold``.
    """

    table: pd.DataFrame
    threshold: float
    flagged: tuple

    def summary(self) -> dict[str, Any]:
        """The five features with the largest neighborhood range, threshold, flagged ones."""
        return {"top": list(self.table.index[:5]), "threshold": self.threshold,
                "flagged": self.flagged}

    def to_frame(self) -> pd.DataFrame:
        """The bias table: one row per feature, neighbourhood against global range."""
        return self.table.copy()

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Horizontal bars: neighborhood vs global ALE range, flagged features in red
        (see :func:`shap_debug.plots._ale.ale_bias_plot`)."""
        from ...plots import ale_bias_plot

        return ale_bias_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        red = ' style="color:#ff0052"'
        rows = "".join(
            f"<tr{red if r.flagged else ''}><td>{escape(f)}</td>"
            f"<td>{r.range_neighborhood:.4f}</td><td>{r.range_global:.4f}</td>"
            f"<td>{r.ratio:.2f}</td><td>{'yes' if r.protected else ''}</td>"
            f"<td>{'FLAGGED' if r.flagged else ''}</td></tr>"
            for f, r in self.table.iterrows())
        flagged = ", ".join(str(f) for f in self.flagged) or "none"
        body = ("<table><thead><tr><th>feature</th><th>neighborhood range</th>"
                "<th>global range</th><th>ratio</th><th>protected</th><th></th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")
        note = (f"Protected features with a neighborhood ALE range above {self.threshold:g}: "
                f"{flagged}.")
        return section_html("ALE bias view", body, note)


def ale_bias(neighborhood_result: ALEResult, global_result: ALEResult,
             protected: Sequence[str] | None = None, threshold: float = 0.1) -> ALEBias:
    """Rank features by ALE range in a neighborhood versus globally; flag protected ones.

    A protected attribute (``protected=["race", "sex"]``) whose ALE range inside the
    neighborhood exceeds ``threshold`` (in probability units) means that, among these rows,
    changing that attribute alone moves the prediction that much: the paper's evidence of
    bias in a region (Rasouli & Yu 2021, Fig. 4).

    Parameters
    ----------
    neighborhood_result, global_result : ALEResult
        From :func:`~shap_debug.explanations.ale.neighborhood_ale` on the neighborhood and on the whole training set.
    protected : list of str, optional
    threshold : float

    Returns
    -------
    ALEBias

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.explanations.ale import neighborhood_ale
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)); y = (X[:, 0] > 0).astype(int)
    >>> m = LogisticRegression().fit(X, y)
    >>> nb = neighborhood_ale(m, X[:50], progress=False)
    >>> gl = neighborhood_ale(m, X, progress=False)
    >>> ale_bias(nb, gl, protected=["Feature 1"]).flagged
    ()
    """
    for arg, name in ((neighborhood_result, "neighborhood_result"),
                      (global_result, "global_result")):
        if not isinstance(arg, ALEResult):
            raise TypeError(f"{name} must be an ALEResult (from neighborhood_ale); got "
                            f"{type(arg).__name__}")
    threshold = check_float(threshold, "threshold", low=0.0)
    names = neighborhood_result.feature_names
    if isinstance(protected, str):
        protected = [protected]
    protected = [] if protected is None else [str(p) for p in protected]
    unknown = [p for p in protected if p not in names]
    if unknown:
        raise ValueError(f"protected: unknown feature(s) {unknown}; the neighborhood result "
                         f"has {names}")
    if neighborhood_result.target != global_result.target:
        warn(f"the two results explain different classes ({neighborhood_result.target_label!r}"
             f" vs {global_result.target_label!r}); their ranges are not comparable")
    glob = {c.feature: c.range for c in global_result.curves}
    nb = np.array([neighborhood_result.curve(f).range for f in names])
    gl = np.array([glob.get(f, np.nan) for f in names])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(gl > 0, nb / gl, np.where(nb > 0, np.inf, 1.0))
    prot = np.array([f in protected for f in names], dtype=bool)
    table = pd.DataFrame({"range_neighborhood": nb, "range_global": gl, "ratio": ratio,
                          "protected": prot, "flagged": prot & (nb > threshold)},
                         index=pd.Index(names, name="feature"))
    table = table.sort_values("range_neighborhood", ascending=False, kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    flagged = tuple(table.index[table["flagged"]].tolist())
    return ALEBias(table=table, threshold=threshold, flagged=flagged)
