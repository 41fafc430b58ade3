"""One anomaly's section of the report: the row, its rules, neighbourhood ALE, the closest
flip point with the verdict on a sparser change, and its most influential training rows."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..core import escape, table_html
from ._figures import ale_figures, figure_html
from ._parts import guard, missing_p, table_or

__all__ = ["ALE_COLUMNS", "inspection_html", "flip_html"]

_STATUS = {
    "exact": "verified: a first-order optimum of the distance",
    "approximate": ("verified to flip the prediction, but not certified as the closest "
                    "(tree ensembles are searched, not solved)"),
}


def _class_name(classes: tuple | None, index: int) -> str:
    if classes and 0 <= index < len(classes):
        return str(classes[index])
    return f"class #{index}"


def flip_html(ins: Any, classes: tuple | None = None) -> str:
    """The closest flip point of an inspection, what it changes, and whether a change of
    fewer features flips the prediction too."""
    rep = ins.flip
    if rep is None:
        return missing_p("; ".join(ins.notes) or "The flip-point search was not run.")
    status = str(rep.flip.status[0])
    if not bool(rep.flip.valid[0]):
        return missing_p(
            f"No flip point found ({status}: {rep.flip.message[0]}): no change within the "
            "training data's range makes the model predict another class. Widening the "
            "search (more data rows for the tree search) could find one.")
    target = _class_name(classes, int(rep.target_class))
    distance = float(rep.flip.distance[0])
    out = [f"<p>The closest point found where the model predicts <b>{escape(target)}</b> "
           f"instead of <b>{escape(ins.predicted_label)}</b> lies at distance "
           f"<b>{distance:.3g}</b> (in training standard deviations); "
           f"{escape(_STATUS.get(status, status))}.</p>"]
    changes = rep.changes.rename(columns={"value": "now", "flip_value": "at the flip point",
                                          "outside_range": "outside training range"})
    cols = [c for c in ("feature", "now", "at the flip point", "outside training range")
            if c in changes.columns]
    out.append(table_or(changes[cols], "The flip point equals the row: it already lies on "
                        "the decision boundary.", max_rows=len(changes)))
    sparser = getattr(ins, "sparser", None)
    if sparser is not None:
        out.append(f'<p class="verdict"><b>Sparser change?</b> {escape(sparser.sentence)}</p>')
        ok = sparser.to_frame()
        ok = ok[ok["can_flip"].astype(bool)]
        if len(ok):
            ok = ok.rename(columns={"features": "only these change", "outside_range":
                                    "outside training range"})
            out.append(table_html(ok[["only these change", "distance", "change",
                                      "outside training range"]], max_rows=8))
    return "".join(out)


#: Readable names of the ALE bias table's columns.
ALE_COLUMNS = {"range_neighborhood": "ALE range here", "range_global": "ALE range overall",
               "ratio": "here / overall"}


def _bias_table(bias: Any) -> str:
    table = bias.to_frame().reset_index()
    table = table.rename(columns={table.columns[0]: "feature", **ALE_COLUMNS})
    keep = [c for c in ("feature", "ALE range here", "ALE range overall", "here / overall",
                        "protected", "flagged") if c in table.columns]
    return table_or(table[keep], "No feature has an ALE curve in this neighbourhood.",
                    max_rows=8)


def inspection_html(ins: Any, images: bool = True, classes: tuple | None = None) -> str:
    """HTML fragment for one :class:`~shap_debug.debugger._values.Inspection`.

    Parameters
    ----------
    ins : Inspection
    images : bool
        Embed the ALE figures (off for a notebook's ``_repr_html_``).
    classes : tuple, optional
        The model's classes in column order, to name the class a flip point reaches.
    """
    i = ins.anomaly
    rules = ins.rules.to_frame()
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
        table_or(rules, "No rule could be extracted for this neighbourhood.",
                 max_rows=len(rules)),
    ]
    if ins.ale is not None:
        parts.append("<h3>ALE over the neighbourhood (global curve dashed)</h3>")
        if images:
            parts.append(guard("ale plot", lambda: "".join(
                figure_html(f, f"ALE of {feat}") for feat, f in
                zip(ins.top_ale_features(4), ale_figures(ins)))))
        if ins.bias is not None:
            parts.append(_bias_table(ins.bias))
    parts.append(f'<h3 id="anomaly-{escape(i)}-flip">Closest flip point</h3>')
    parts.append(guard("flip point", lambda: flip_html(ins, classes)))
    parts.append("<h3>Most influential training rows</h3>")
    parts.append(f'<p class="note">{escape(ins.influence_method)}. The anomaly itself is '
                 "left out; rows identical to it are marked in <code>duplicate</code>.</p>")
    influential = ins.influential if isinstance(ins.influential, pd.DataFrame) else None
    parts.append(table_or(influential, "No other training row to rank.", max_rows=10))
    return "".join(parts)
