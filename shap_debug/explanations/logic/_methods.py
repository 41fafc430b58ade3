"""Global logic explanations: DNF formulas over concepts, and the four LEN metrics.

Rules for single rows are local; this module gives *global* explanations in propositional
logic over human-readable concepts (``priors_count_HIGH & ~age_HIGH | ...``) and judges them
as the Logic Explained Networks work does (Ciravegna, Barbiero, Giannini, Gori, Lió, Maggini,
Melacci, "Logic Explained Networks", Artificial Intelligence 314, 2023; code in
``pietrobarbiero/logic_explained_networks`` and ``torch-explain``):

- **explanation accuracy**: the formula used as a classifier, against the true labels;
- **fidelity**: the formula against the model's predictions;
- **complexity**: the number of literals of the DNF;
- **consistency**: how often the same concepts recur in the formulas of K folds.

Five extraction methods share one interface (:func:`explain_formula`): ``"tree"`` (paths of
a decision tree), ``"pruning"`` (an L1 MLP whose inputs are pruned, local explanations
combined), ``"weights"`` (local explanations from a ReLU network's weights, combined),
``"psi"`` (a sigmoid network pruned to fan-in 2 and read off layer by layer) and
``"entropy"`` (an entropy-based LEN layer). The networks are small torch modules written
here; ``torch-explain`` is not needed (its formula-string ``eval`` and mask traps are thus
avoided). Formulas are data structures, never strings handed to ``eval``.

Debugging uses: :func:`anomaly_formula` ("what do the anomalies have in common, compared with
the rows the model gets right?") and :func:`neighborhood_formula` ("this neighborhood vs the
rest"), in :mod:`shap_debug.explanations.logic._anomalies`; K-fold comparison in
:mod:`shap_debug.explanations.logic._cross_validation`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...core import (
    Result,
    check_float,
    check_int,
    check_option,
    check_random_state,
    check_y,
    escape,
    section_html,
    seed_from,
    table_html,
    warn,
)
from ._formula import _MAX_EXACT_VARS, Formula, Literal, _check_concepts, _eval_terms, simplify
from ._networks import _fit_entropy, _fit_pruning, _fit_psi, _fit_weights

METHODS = ("tree", "pruning", "weights", "psi", "entropy")


# --------------------------------------------------------------------------------------
# Result values
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class LogicExplanation(Result):
    """A global logic explanation and its LEN metrics.

    Attributes
    ----------
    formula : Formula
        DNF over concepts that describes ``target_class``.
    method : str
        Extraction method (``"tree"``, ``"pruning"``, ``"weights"``, ``"psi"``,
        ``"entropy"``).
    target_class : object
        The class the formula describes (rows of other classes should make it false).
    model_accuracy, explanation_accuracy, fidelity : float
        Accuracy of the method's model and of the formula against the true
        ``target == target_class`` labels, and agreement of the formula with the model, on
        the evaluation rows (``evaluated_on``).
    complexity : int
        Number of literals of the formula.
    time : float
        Seconds to train the method's model and extract the formula.
    n_rows, n_target : int
        Evaluation rows and how many of them are of ``target_class``.
    evaluated_on : str
        ``"train"`` (the rows the formula was extracted from) or ``"eval"`` (held-out rows).
    term_support : tuple of (int, int)
        For each term: evaluation rows of the target class and of the rest it covers.
    precision, recall : float
        Share of the rows the formula holds for that are of ``target_class``, and share of
        the ``target_class`` rows it holds for (NaN when undefined).
    reason : str
        Empty for a real explanation. For a trivial one (no formula, or the constant
        ``True``/``False``) one plain sentence saying why and what would give a formula;
        ``_repr_html_`` then shows this sentence instead of tables.
    """

    formula: Formula
    method: str
    target_class: Any
    model_accuracy: float
    explanation_accuracy: float
    fidelity: float
    complexity: int
    time: float
    n_rows: int
    n_target: int
    evaluated_on: str
    term_support: tuple[tuple[int, int], ...] = field(default=())
    precision: float = float("nan")
    recall: float = float("nan")
    reason: str = ""

    @property
    def is_trivial(self) -> bool:
        """True when there is no informative formula (the constant ``True``/``False``, or no
        fit at all); ``reason`` says why."""
        return bool(self.reason) or self.formula.is_false or self.formula.is_true

    @property
    def base_rate(self) -> float:
        """Share of the evaluation rows that are of ``target_class``."""
        return self.n_target / self.n_rows if self.n_rows else float("nan")

    @property
    def lift(self) -> float:
        """``precision / base_rate``: above 1 when the formula picks out the class better than
        chance."""
        return self.precision / self.base_rate if self.base_rate else float("nan")

    def __str__(self) -> str:
        return str(self.formula)

    def predict(self, concepts: Any, concept_names: Sequence[str] | None = None) -> np.ndarray:
        """The formula as a classifier: True where a row is explained as ``target_class``."""
        return self.formula.evaluate(concepts, concept_names)

    def to_frame(self) -> pd.DataFrame:
        """One row: method, formula and the metrics."""
        return pd.DataFrame([{
            "method": self.method, "target_class": self.target_class,
            "formula": str(self.formula), "model_accuracy": self.model_accuracy,
            "explanation_accuracy": self.explanation_accuracy, "fidelity": self.fidelity,
            "complexity": self.complexity, "time": self.time, "n_rows": self.n_rows,
            "n_target": self.n_target, "evaluated_on": self.evaluated_on,
            "precision": self.precision, "recall": self.recall, "reason": self.reason}])

    def terms_frame(self) -> pd.DataFrame:
        """One row per term: rows of the target class and of the rest it covers, precision."""
        rows = []
        for term, (pos, neg) in zip(self.formula.terms, self.term_support):
            rows.append({"term": str(Formula((term,))), "literals": len(term),
                         "target_covered": pos, "other_covered": neg,
                         "precision": pos / (pos + neg) if pos + neg else float("nan"),
                         "recall": pos / self.n_target if self.n_target else float("nan")})
        return pd.DataFrame(rows, columns=["term", "literals", "target_covered",
                                           "other_covered", "precision", "recall"])

    def summary(self) -> dict[str, Any]:
        if self.reason:
            return {"is_trivial": True, "method": self.method, "n_rows": self.n_rows,
                    "n_target": self.n_target, "reason": self.reason}
        return {"formula": _shorten(str(self.formula), 50), "method": self.method,
                "complexity": self.complexity,
                "explanation_accuracy": self.explanation_accuracy, "fidelity": self.fidelity,
                "n_rows": self.n_rows}

    def _repr_html_(self) -> str:
        title = f"Logic explanation ({self.method})"
        if self.reason:
            return section_html(title, f"<p class='note'>{escape(self.reason)}</p>")
        terms = self.terms_frame().sort_values("target_covered", ascending=False).head(10)
        terms = terms[["term", "target_covered", "other_covered"]].rename(columns={
            "target_covered": "target rows covered", "other_covered": "other rows covered"})
        more = (f"<p>... {len(self.formula) - 10} more terms</p>"
                if len(self.formula) > 10 else "")
        metrics = pd.DataFrame([{
            "method": self.method, "model acc.": f"{self.model_accuracy:.3f}",
            "explanation acc.": f"{self.explanation_accuracy:.3f}",
            "fidelity": f"{self.fidelity:.3f}", "precision": f"{self.precision:.3f}",
            "recall": f"{self.recall:.3f}", "base rate": f"{self.base_rate:.3f}",
            "complexity": self.complexity, "time (s)": f"{self.time:.2f}"}])
        body = (f"<p><b>{escape(self.target_class)}</b> &lArr; "
                f"<code>{escape(_shorten(str(self.formula), 600))}</code></p>"
                + table_html(metrics)
                + f"<p>Measured on {self.n_rows} {escape(self.evaluated_on)} rows "
                f"({self.n_target} of the target class).</p>"
                + table_html(terms) + more)
        return section_html(title, body)

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Horizontal bars: target-class rows (right) and other rows (left) each term covers."""
        from ...plots import formula_terms_plot

        return formula_terms_plot(self, max_display=max_display, ax=ax, show=show)


def _shorten(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _drop_implied(formula: Formula, groups: Mapping[str, Sequence[str]] | None) -> Formula:
    """Drop ``~a`` from a term that also holds ``b`` when ``a`` and ``b`` belong to one group
    of mutually exclusive concepts (two levels of one column, LOW and HIGH of one
    measurement): ``b`` already implies ``~a``, so the term means the same, shorter."""
    if not groups:
        return formula
    group_of = {str(c): str(g) for g, cs in groups.items() for c in cs}
    terms = []
    for term in formula.terms:
        pos = {(group_of[n], n) for n, p in term if p and n in group_of}
        terms.append(tuple((n, p) for n, p in term
                           if p or not any(g == group_of.get(n) and b != n for g, b in pos)))
    return Formula(tuple(dict.fromkeys(terms)))


# --------------------------------------------------------------------------------------
# Extraction methods: each returns (formula, predict_fn) fitted on (C, t)
# --------------------------------------------------------------------------------------
_DEFAULTS: dict[str, dict[str, Any]] = {
    "tree": {"max_depth": None, "min_samples_leaf": 1, "class_weight": None},
    "pruning": {"hidden": 10, "fan_in": 3, "epochs": 300, "lr": 0.01, "l1": 1e-3,
                "max_terms": 100},
    "weights": {"hidden": 10, "epochs": 300, "lr": 0.01, "l1": 1e-4, "threshold": 0.5,
                "max_terms": 100},
    "psi": {"hidden": (10,), "fan_in": 2, "epochs": 400, "lr": 0.05, "l1": 1e-3},
    "entropy": {"hidden": 10, "hidden2": 4, "temperature": 0.7, "entropy_weight": 1e-3,
                "epochs": 300, "lr": 0.01, "max_literals": 8, "max_terms": 100},
}


def _params(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    defaults = _DEFAULTS[method]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown} for method={method!r}; it takes "
                        f"{sorted(defaults)}")
    p = {**defaults, **params}
    for key in ("epochs", "fan_in", "max_terms", "hidden2"):
        if key in p:
            check_int(p[key], key, low=1)
    for key in ("lr", "temperature"):
        if key in p:
            check_float(p[key], key, low=1e-12)
    for key in ("l1", "entropy_weight"):
        if key in p:
            check_float(p[key], key, low=0.0)
    if "threshold" in p:
        check_float(p["threshold"], "threshold", low=0.0, high=1.0)
    if method == "tree":
        if p["max_depth"] is not None:
            check_int(p["max_depth"], "max_depth", low=1)
        check_int(p["min_samples_leaf"], "min_samples_leaf", low=1)
        if p["class_weight"] not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced'; got {p['class_weight']!r}")
    if method == "entropy" and p["max_literals"] is not None:
        check_int(p["max_literals"], "max_literals", low=1)
    if method == "psi":
        hidden = (p["hidden"],) if isinstance(p["hidden"], (int, np.integer)) else p["hidden"]
        p["hidden"] = tuple(check_int(h, "hidden", low=1) for h in hidden)
        reach = p["fan_in"] ** (len(p["hidden"]) + 1)
        if reach > 16:
            raise ValueError(f"psi reads a truth table over up to fan_in ** (hidden layers + 1) "
                             f"= {reach} concepts; keep it <= 16 (lower fan_in or the layers)")
    elif "hidden" in p:
        check_int(p["hidden"], "hidden", low=1)
    return p


def _tree_paths(tree, names: list[str]) -> list[tuple[Literal, ...]]:
    tr = tree.tree_
    pos_col = list(tree.classes_).index(True) if True in tree.classes_ else None
    out: list[tuple[Literal, ...]] = []
    if pos_col is None:
        return out
    stack = [(0, ())]
    while stack:
        node, lits = stack.pop()
        left, right = tr.children_left[node], tr.children_right[node]
        if left == -1:
            v = tr.value[node][0]
            if v[pos_col] > v.sum() - v[pos_col]:
                out.append(lits)
            continue
        name = names[tr.feature[node]]
        # Concepts are 0/1 so the split threshold is 0.5: left is False, right is True.
        stack.append((right, (*lits, (name, True))))
        stack.append((left, (*lits, (name, False))))
    return out


def _fit_tree(C, t, names, p, seed):
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(max_depth=p["max_depth"], min_samples_leaf=p["min_samples_leaf"],
                                  class_weight=p["class_weight"], random_state=seed).fit(C, t)
    # Ties in a leaf go to False in both the formula and predict (classes_ = [False, True]);
    # with class_weight="balanced" a leaf is True when its share of the class is above the
    # class's share of all rows (leaf values are weighted).
    formula = Formula(tuple(_tree_paths(tree, names)))
    if len(formula.concepts) <= _MAX_EXACT_VARS:  # paths are disjoint: only QM can shorten them
        formula = simplify(formula)
    return formula, lambda X: tree.predict(X).astype(bool)



# --------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------
def _resolve_target(target: np.ndarray, target_class: Any, name: str) -> Any:
    labels = pd.unique(target)
    if target_class is None:
        if set(labels.tolist()) <= {0, 1}:
            target_class = True if target.dtype == bool else 1
        else:
            raise ValueError(f"target_class is required when {name} has labels "
                             f"{sorted(map(str, labels))[:10]} (not 0/1)")
    if not np.any(target == target_class):
        raise ValueError(f"target_class {target_class!r} is absent from {name}; its labels are "
                         f"{sorted(map(str, labels))[:10]}")
    if np.all(target == target_class):
        raise ValueError(f"every row of {name} is of class {target_class!r}; a formula needs "
                         "rows of other classes to tell apart")
    return target_class


def explain_formula(concepts: Any, target: Any, method: str = "tree", *,
                    target_class: Any = None, concept_names: Sequence[str] | None = None,
                    eval_concepts: Any = None, eval_target: Any = None,
                    groups: Mapping[str, Sequence[str]] | None = None,
                    random_state: Any = 0, **params: Any) -> LogicExplanation:
    """A global DNF formula over concepts that describes one class, with its LEN metrics.

    The method's model learns ``target == target_class`` from the concepts; a formula is
    extracted from it (Ciravegna et al., "Logic Explained Networks", 2023):

    - ``"tree"``: a decision tree; the formula is the disjunction of its paths to leaves
      that predict the class (fidelity 1, often hundreds of literals). Params ``max_depth``
      (None), ``min_samples_leaf`` (1), ``class_weight`` (None; ``"balanced"`` makes a leaf
      predict the class when its share there beats the base rate, for rare classes).
    - ``"pruning"``: a ReLU MLP with an L1 penalty on its first layer, pruned half way to the
      ``fan_in`` (3) concepts with the largest weights; the local explanations (pruned
      concepts at their values) of correctly predicted rows are OR-ed while they raise
      accuracy. Params ``hidden`` (10), ``fan_in``, ``epochs`` (300), ``lr`` (0.01),
      ``l1`` (1e-3), ``max_terms`` (100).
    - ``"weights"``: the same combination, but each row's local explanation keeps the concepts
      whose weight in the row's reduced linear model (the ReLU network's gradient) exceeds
      ``threshold`` (0.5) of the largest; as in the LEN notebook it generalises poorly.
      Params ``hidden``, ``epochs``, ``lr``, ``l1`` (1e-4), ``threshold``, ``max_terms``.
    - ``"psi"``: a sigmoid MLP with L1 on every layer, pruned half way to ``fan_in`` (2)
      inputs per neuron, read off layer by layer on a truth table. Params ``hidden``
      ((10,)), ``fan_in``, ``epochs`` (400), ``lr``, ``l1`` (1e-3).
    - ``"entropy"``: an entropy-based LEN layer (Barbiero et al., AAAI 2022) selects the
      concepts (relevance > 0.5 of the largest, at most ``max_literals`` (8)); local
      explanations are shortened (a literal is dropped unless accuracy falls), ranked by
      accuracy and OR-ed while they raise it. Params ``hidden`` (10), ``hidden2`` (4),
      ``temperature`` (0.7), ``entropy_weight`` (1e-3), ``epochs``, ``lr``,
      ``max_literals``, ``max_terms``.

    The formula is then simplified to an equivalent shorter DNF; with ``groups`` a negated
    concept is also dropped from a term that holds another concept of its group
    (``occupation=Sales & ~occupation=Tech-support`` becomes ``occupation=Sales``).

    Parameters
    ----------
    concepts : DataFrame of bool (or 0/1), or array with ``concept_names``
        Training concepts (see :func:`shap_debug.explanations.logic._concepts.to_concepts`). Not modified.
    target : array-like of shape (n,)
        Labels.
    method : {"tree", "pruning", "weights", "psi", "entropy"}
    target_class : label, optional
        Class to describe; defaults to 1 (True) for 0/1 labels, required otherwise.
    concept_names : list of str, optional
        Names of the columns of an array ``concepts``.
    eval_concepts, eval_target : optional
        Held-out rows for the metrics; without them they are measured on the training rows.
    groups : dict, optional
        Groups of mutually exclusive concepts (``ConceptEncoder.groups_``: the levels of a
        column, the bins of a measurement), used only to shorten the printed formula.
    random_state : int or Generator
        Seeds the tree and the networks' initialisation (full-batch training is otherwise
        deterministic).
    **params
        Method parameters listed above.

    Returns
    -------
    LogicExplanation
        ``formula``, ``model_accuracy``, ``explanation_accuracy``, ``fidelity``,
        ``complexity``, ``time``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> C = pd.DataFrame(rng.random((200, 4)) < 0.5, columns=["a", "b", "c", "d"])
    >>> y = (C["a"] & ~C["b"]) | C["c"]
    >>> str(explain_formula(C, y, "tree").formula)
    'c | (a & ~b)'
    """
    check_option(method, "method", METHODS)
    C, names = _check_concepts(concepts, concept_names, "concepts")
    target = check_y(target, "target", n=len(C))
    target_class = _resolve_target(target, target_class, "target")
    p = _params(method, params)
    if (eval_concepts is None) != (eval_target is None):
        raise ValueError("pass both eval_concepts and eval_target, or neither")
    if eval_concepts is not None:
        Ce, names_e = _check_concepts(eval_concepts, concept_names, "eval_concepts")
        if names_e != names:
            raise ValueError("eval_concepts must have the same concepts as concepts")
        te = check_y(eval_target, "eval_target", n=len(Ce)) == target_class
        where = "eval"
    else:
        Ce, te, where = C, None, "train"
    if groups is not None:
        if not isinstance(groups, Mapping):
            raise TypeError(f"groups must be a dict of group -> concept names; got "
                            f"{type(groups).__name__}")
        unknown = sorted({str(c) for cs in groups.values() for c in cs} - set(names))
        if unknown:
            raise ValueError(f"groups name concepts that are not columns: {unknown[:5]}")
    t = target == target_class
    te = t if te is None else te
    rng = check_random_state(random_state)
    seed = seed_from(rng)

    start = time.perf_counter()
    if method == "tree":
        formula, predict = _fit_tree(C, t, names, p, seed)
    else:
        import torch

        gen = torch.Generator().manual_seed(seed)
        fit = {"pruning": _fit_pruning, "weights": _fit_weights, "psi": _fit_psi,
               "entropy": _fit_entropy}[method]
        formula, predict = fit(C, t, names, p, gen)
    formula = _drop_implied(formula, groups)
    elapsed = time.perf_counter() - start

    index = {n: i for i, n in enumerate(names)}
    f_pred = _eval_terms(formula.terms, Ce, index)
    m_pred = np.asarray(predict(Ce), dtype=bool)
    reason = ""
    if formula.is_false:
        reason = (f"method={method!r} found no formula for class {target_class!r} (the model "
                  "predicts it for no training row it gets right); the formula is False.")
        warn(reason)
    elif formula.is_true:
        reason = (f"method={method!r} found no formula for class {target_class!r}: it explains "
                  "every row as that class; the formula is True.")
    support = tuple((int(np.sum(cov & te)), int(np.sum(cov & ~te)))
                    for cov in (_eval_terms([term], Ce, index) for term in formula.terms))
    return LogicExplanation(
        formula=formula, method=method, target_class=_plain(target_class),
        model_accuracy=float(np.mean(m_pred == te)),
        explanation_accuracy=float(np.mean(f_pred == te)),
        fidelity=float(np.mean(f_pred == m_pred)), complexity=formula.complexity,
        time=float(elapsed), n_rows=len(Ce), n_target=int(te.sum()), evaluated_on=where,
        term_support=support, precision=_ratio(f_pred & te, f_pred),
        recall=_ratio(f_pred & te, te), reason=reason)


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    d = int(np.sum(den))
    return int(np.sum(num)) / d if d else float("nan")


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v

