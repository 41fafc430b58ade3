"""The verified fixes as a value: before/after per action, ranked by measured effect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, escape, section_html, table_html

__all__ = ["FixReport", "EFFECTS"]

#: How an action's interval reads: above 0, below 0, or across it.
EFFECTS = ("helps", "hurts", "no clear effect")


def _effect(low: float, high: float) -> str:
    if np.isnan(low) or np.isnan(high):
        return "not measured"
    return "helps" if low > 0 else "hurts" if high < 0 else "no clear effect"


@dataclass(frozen=True, repr=False)
class FixReport(Result):
    """Candidate fixes, each retrained and measured on held-out rows.

    Attributes
    ----------
    actions : tuple of FixAction
        The actions measured (in the order they were built).
    effects : DataFrame
        Long format, one line per action and scope (``"overall"`` or a cohort label):
        ``n_test`` held-out rows, ``before``/``after`` accuracy (means over seeds), ``delta``
        and its ``low``/``high`` interval (paired two-level bootstrap), ``p_value`` the
        one-sided p-value of "no gain" (normal approximation, bootstrap standard error).
    cohorts : tuple of FailingCohort
        The failing cohorts (``C1``...), measured on their held-out rows.
    skipped : tuple of (name, reason)
        Actions that could not be built or refitted, and why.
    holdout : str
        Where the numbers come from: ``"user test split (...)"`` or ``"held out 25 % of
        training rows (...)"``.
    n_train, n_test : int
    n_fits : int
        Seeds per action (1 when the model's refits do not depend on the seed).
    deterministic : bool
        True when two refits with different seeds gave the same held-out probabilities (or
        the model takes no seed): one fit per action then says everything.
    confidence : float
    n_bootstrap : int
    baseline_accuracy : dict
        Held-out accuracy of the unchanged refit per scope.
    evidence : FixEvidence
        The diagnosis the actions came from.
    """

    actions: tuple
    effects: pd.DataFrame = field(repr=False)
    cohorts: tuple = ()
    skipped: tuple = ()
    holdout: str = ""
    n_train: int = 0
    n_test: int = 0
    n_fits: int = 1
    deterministic: bool = True
    confidence: float = 0.95
    n_bootstrap: int = 1000
    baseline_accuracy: dict = field(default_factory=dict)
    evidence: Any = field(repr=False, default=None)

    # -------------------------------------------------------------- tables
    def effect(self, action: str, scope: str = "overall") -> dict:
        """The line of ``effects`` for one action and scope, as a dict."""
        e = self.effects
        hit = e[(e["action"] == action) & (e["scope"] == scope)]
        if hit.empty:
            raise ValueError(f"no measurement for action {action!r} in scope {scope!r}")
        out = hit.iloc[0].to_dict()
        out["effect"] = _effect(out["low"], out["high"])
        return out

    def to_frame(self, layout: str = "wide") -> pd.DataFrame:
        """The ranked table.

        ``layout="wide"`` (default): one line per action, best first: ``rank``, ``action``,
        ``kind``, ``target``, ``rows_changed``, overall ``before``/``after``/``delta``/
        ``low``/``high``, ``effect`` (helps / hurts / no clear effect), ``helps``, then
        ``<cohort> before``, ``after``, ``delta``, ``low``, ``high`` for every failing
        cohort. ``layout="long"``: :attr:`effects` with the action's columns.
        """
        if layout not in ("wide", "long"):
            raise ValueError(f"layout must be 'wide' or 'long'; got {layout!r}")
        meta = pd.DataFrame([{"action": a.name, "kind": a.kind, "family": a.family,
                              "target": a.target, "cohort": a.cohort,
                              "rows_changed": a.n_changed} for a in self.actions],
                            columns=["action", "kind", "family", "target", "cohort",
                                     "rows_changed"])
        rank = self._ranks()
        if layout == "long":
            out = self.effects.merge(meta, on="action", how="left")
            out["effect"] = [_effect(lo, hi) for lo, hi in zip(out["low"], out["high"])]
            out.insert(0, "rank", out["action"].map(rank))
            return out.sort_values(["rank", "scope"], kind="stable").reset_index(drop=True)
        overall = self.effects[self.effects["scope"] == "overall"].set_index("action")
        out = meta.set_index("action").join(
            overall[["before", "after", "delta", "low", "high"]])
        out["effect"] = [_effect(lo, hi) for lo, hi in zip(out["low"], out["high"])]
        out["helps"] = out["effect"] == "helps"
        for c in self.cohorts:
            part = self.effects[self.effects["scope"] == c.label].set_index("action")
            for col in ("before", "after", "delta", "low", "high"):
                out[f"{c.label} {col}"] = part[col]
        out.insert(0, "rank", out.index.map(rank))
        out = out.reset_index().sort_values("rank", kind="stable").reset_index(drop=True)
        return out.drop(columns=["family", "cohort"])

    def _ranks(self) -> dict:
        o = self.effects[self.effects["scope"] == "overall"]
        order = o.sort_values(["delta", "low", "action"], ascending=[False, False, True],
                              kind="stable")["action"].tolist()
        return {a: k + 1 for k, a in enumerate(order)}

    def cohort_frame(self) -> pd.DataFrame:
        """The failing cohorts (label, rule, source, rows) and the baseline's held-out
        accuracy inside each."""
        cols = ["cohort", "rule", "source", "train_rows", "test_rows", "train_error_rate",
                "conflict_share", "ambiguity", "label_shift", "n_contradicted"]
        out = pd.DataFrame([c.to_dict() for c in self.cohorts], columns=cols)
        out["held_out_accuracy"] = [self.baseline_accuracy.get(c.label, np.nan)
                                    for c in self.cohorts]
        return out

    # -------------------------------------------------------------- verdicts
    def helps(self, action: str, scope: str = "overall") -> bool:
        """True when the interval of the action's delta in ``scope`` lies above 0."""
        return self.effect(action, scope)["effect"] == "helps"

    @property
    def ranked(self) -> tuple:
        """Action names, best measured overall effect first."""
        rank = self._ranks()
        return tuple(sorted(rank, key=rank.__getitem__))

    @property
    def best(self) -> str | None:
        """The top-ranked action (None when nothing was measured)."""
        r = self.ranked
        return r[0] if r else None

    @property
    def proposed(self) -> tuple:
        """Actions worth applying: they help overall, or they help the cohort they target
        without hurting overall. Best first."""
        out = []
        for name in self.ranked:
            a = self.action(name)
            over = self.effect(name)["effect"]
            target = (self.effect(name, a.cohort)["effect"] if a.cohort else "")
            if over == "helps" or (target == "helps" and over != "hurts"):
                out.append(name)
        return tuple(out)

    def action(self, name: str):
        """The :class:`FixAction` called ``name``."""
        for a in self.actions:
            if a.name == name:
                return a
        raise ValueError(f"no action named {name!r}; measured: {[a.name for a in self.actions]}")

    # -------------------------------------------------------------- views
    def summary(self) -> dict[str, Any]:
        """Key figures as a ``{name: value}`` dict (also the ``repr``)."""
        best = self.best
        return {"holdout": self.holdout, "n_test": self.n_test, "n_actions": len(self.actions),
                "n_helping": int(sum(self.effect(a.name)["effect"] == "helps"
                                     for a in self.actions)),
                "n_fits": self.n_fits, "best": best,
                "best_delta": (self.effect(best)["delta"] if best else float("nan"))}

    @property
    def message(self) -> str:
        """One sentence for people."""
        if not self.actions:
            return f"no fix could be measured ({self.holdout})"
        best = self.effect(self.best)
        helping = [a for a in self.ranked if self.effect(a)["effect"] == "helps"]
        head = (f"{len(helping)} of {len(self.actions)} actions raise held-out accuracy "
                "measurably" if helping else
                f"none of the {len(self.actions)} actions raises held-out accuracy measurably")
        return (f"{head}; best: {self.best} ({best['delta']:+.1%}, "
                f"{self.confidence:.0%} interval {best['low']:+.1%} to {best['high']:+.1%}); "
                f"measured on {self.holdout}")

    def plot(self, scope: str = "overall", max_display: int = 12, ax: Any = None,
             show: bool = True):
        """Forest plot of each action's change in held-out accuracy with its interval."""
        from ..plots import fixes_plot

        return fixes_plot(self, scope=scope, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        f = self.to_frame()
        show = f[["rank", "action", "target", "rows_changed", "before", "after", "delta",
                  "low", "high", "effect"]].copy()
        for col in ("before", "after"):
            show[col] = show[col].map(lambda v: f"{v:.1%}")
        for col in ("delta", "low", "high"):
            show[col] = show[col].map(lambda v: f"{v:+.1%}")
        body = table_html(show, max_rows=30)
        if self.cohorts:
            body += table_html(self.cohort_frame()[["cohort", "rule", "source", "test_rows",
                                                    "held_out_accuracy"]])
        if self.skipped:
            items = "".join(f"<li>{escape(n)}: {escape(r)}</li>" for n, r in self.skipped)
            body += f"<p>Not measured:</p><ul>{items}</ul>"
        note = (self.message + f". Each action retrains a clone {self.n_fits} time(s); "
                f"intervals: {self.confidence:.0%} paired bootstrap over seeds and held-out "
                "rows. Actions that do not help are listed too.")
        return f"<div id='fixes'>{section_html('Verified fixes', body, note)}</div>"
