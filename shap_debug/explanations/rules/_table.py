"""The quasi-global rule table (Rasouli & Yu 2021, Table I) and the diversity of a
representative set's rules (Table III)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...core import Result, check_y, escape
from ._conditions import Rule
from ._explainer import RuleExplainer

__all__ = ["RuleTable", "diversity_metrics", "rule_table"]


def diversity_metrics(rules: Sequence[Rule], is_anomaly: Any) -> dict:
    """Diversity of a representative set's rules (the paper's Table III).

    Parameters
    ----------
    rules : sequence of Rule
        One rule per member of the set.
    is_anomaly : array-like of bool
        Whether each member is itself mispredicted.

    Returns
    -------
    dict
        ``SD``: balance of anomalous and correctly predicted members, ``1 - |2a - 1|`` for the
        anomalous share ``a`` (1 = half and half, 0 = all of one kind); ``anomalous_share``:
        ``a``. ``FS``: mean pairwise Jaccard similarity of the rules' feature sets (lower =
        more diverse; two empty premises count as identical). ``LD``: mean pairwise absolute
        difference of rule lengths (higher = more diverse). Pairs are distinct members
        (``i < j``); the reference implementation also counted each rule with itself, which
        pulls FS towards 1 and LD towards 0 — multiply by ``B(B-1)/2`` and add the ``B``
        self-pairs (FS 1, LD 0) over ``B(B+1)/2`` to compare with it.

    Examples
    --------
    >>> from shap_debug.explanations.rules import Rule, Condition
    >>> r1 = Rule((Condition("a", 0, low=1.0),), 1, 1.0, 0.5, 1, "IF a > 1 THEN 1")
    >>> r2 = Rule((Condition("a", 0, low=1.0), Condition("b", 1, high=0.0)), 1, 1.0, 0.2, 2,
    ...           "IF a > 1 AND b <= 0 THEN 1")
    >>> diversity_metrics([r1, r2], [True, False])
    {'SD': 1.0, 'FS': 0.5, 'LD': 1.0, 'anomalous_share': 0.5}
    """
    rules = list(rules)
    if not rules or not all(isinstance(r, Rule) for r in rules):
        raise TypeError("rules must be a non-empty sequence of Rule")
    flags = check_y(is_anomaly, "is_anomaly", n=len(rules)).astype(bool)
    a = float(flags.mean())
    sets = [set(r.features) for r in rules]
    lengths = [r.length for r in rules]
    fs, ld = [], []
    for i in range(len(rules)):
        for j in range(i + 1, len(rules)):
            union = sets[i] | sets[j]
            fs.append(len(sets[i] & sets[j]) / len(union) if union else 1.0)
            ld.append(abs(lengths[i] - lengths[j]))
    return {
        "SD": 1.0 - abs(2.0 * a - 1.0),
        "FS": float(np.mean(fs)) if fs else float("nan"),
        "LD": float(np.mean(ld)) if ld else float("nan"),
        "anomalous_share": a,
    }


# --------------------------------------------------------------------------- table
@dataclass(frozen=True, repr=False)
class RuleTable(Result):
    """The anomaly's rule, then its representatives' rules (Rasouli & Yu 2021, Table I).

    Attributes
    ----------
    indices : ndarray of int
        Training-set rows, the anomaly first.
    rules : tuple of Rule
    y_true, y_pred : ndarray
        True label and the black box's prediction of each row.
    metrics : dict
        :func:`diversity_metrics` of the representatives (the rows after the first).
    """

    indices: np.ndarray
    rules: tuple
    y_true: np.ndarray
    y_pred: np.ndarray
    metrics: dict = field(default_factory=dict)

    @property
    def is_anomaly(self) -> np.ndarray:
        """Whether each explained row is mispredicted."""
        return np.asarray(self.y_true != self.y_pred)

    def __len__(self) -> int:
        return len(self.rules)

    def summary(self) -> dict[str, Any]:
        """Rows explained, how many are mispredicted, and the representatives' SD/FS/LD."""
        out: dict[str, Any] = {"n_rows": len(self), "n_mispredicted": int(self.is_anomaly.sum())}
        out.update({k: self.metrics[k] for k in ("SD", "FS", "LD") if k in self.metrics})
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per explained row: role, index, rule, labels, fidelity, coverage, length."""
        return pd.DataFrame({
            "role": ["anomaly"] + ["representative"] * (len(self.rules) - 1),
            "index": self.indices,
            "rule": [r.premise for r in self.rules],
            "rule prediction": [r.prediction for r in self.rules],
            "true label": self.y_true,
            "prediction": self.y_pred,
            "mispredicted": self.is_anomaly,
            "fidelity": [r.fidelity for r in self.rules],
            "coverage": [r.coverage for r in self.rules],
            "length": [r.length for r in self.rules],
        })

    def plot(self, max_display: int = 11, ax: Any = None, show: bool = True):
        """The table as a figure (mispredicted rows in red, correct ones in blue)."""
        from ...plots import rule_table_plot

        return rule_table_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        df = self.to_frame()
        head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
        rows = []
        for k, rec in enumerate(df.itertuples(index=False)):
            colour = "#fde0e0" if rec.mispredicted else "#e0ecfd"
            weight = "font-weight:bold;" if k == 0 else ""
            cells = [f"<td>{escape(f'{v:.3g}' if isinstance(v, float) else str(v))}</td>"
                     for v in rec]
            rows.append(f'<tr style="background:{colour};{weight}">{"".join(cells)}</tr>')
        m = self.metrics
        summary = ""
        if m:
            summary = (f"<p>Representatives: SD {m['SD']:.2f}, FS {m['FS']:.2f}, "
                       f"LD {m['LD']:.2f}</p>")
        return (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
                f"</table>{summary}")


def rule_table(explainer: RuleExplainer, anomaly: int, representatives: Any, y: Any) -> RuleTable:
    """Explain an anomaly and its representatives with rules, side by side (Table I).

    Parameters
    ----------
    explainer : RuleExplainer
        Built on the training rows the indices refer to.
    anomaly : int
        Training-set index of the mispredicted row.
    representatives : Representatives or array-like of int
        Training-set indices of the representatives (a
        :class:`~shap_debug.explanations._representatives.Representatives` uses its ``indices``). The
        anomaly itself is not repeated if it is among them.
    y : array-like, shape (n_train,)
        True labels of the training rows.

    Returns
    -------
    RuleTable

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] > 0).astype(int)
    >>> lr = LogisticRegression().fit(X, y)
    >>> table = rule_table(RuleExplainer(lr, X, n_samples=300), 0, [1, 2, 3], y)
    >>> table.to_frame().shape[0]
    4
    """
    if not isinstance(explainer, RuleExplainer):
        raise TypeError(f"explainer must be a RuleExplainer; got {type(explainer).__name__}")
    n = len(explainer._Z)
    y = check_y(y, "y", n=n)
    if isinstance(anomaly, bool) or not isinstance(anomaly, (numbers.Integral, np.integer)):
        raise TypeError(f"anomaly must be an int row index; got {type(anomaly).__name__}")
    reps = getattr(representatives, "indices", representatives)
    reps = np.atleast_1d(np.asarray(reps))
    if reps.size == 0 or not np.issubdtype(reps.dtype, np.integer):
        raise TypeError("representatives must be non-empty integer row indices")
    reps = reps.astype(np.int64)
    # a neighbourhood that includes its own anomaly may hand it back as a representative
    reps = reps[reps != int(anomaly)]
    if reps.size == 0:
        raise ValueError("representatives must contain rows other than the anomaly")
    rows = np.concatenate([[int(anomaly)], reps])
    bad = rows[(rows < 0) | (rows >= n)]
    if bad.size:
        raise ValueError(f"row indices out of range [0, {n}): {bad[:5].tolist()}")
    rules = tuple(explainer.explain(int(i)) for i in rows)
    y_pred = explainer._labels(explainer._Z[rows])
    y_true = y[rows]
    metrics = diversity_metrics(rules[1:], y_true[1:] != y_pred[1:])
    return RuleTable(indices=rows, rules=rules, y_true=y_true, y_pred=y_pred, metrics=metrics)
