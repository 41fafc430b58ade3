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
rest").
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .core.validation import (
    check_float,
    check_frame_or_array,
    check_int,
    check_option,
    check_random_state,
    check_y,
    seed_from,
    warn,
)

METHODS = ("tree", "pruning", "weights", "psi", "entropy")

Literal = tuple[str, bool]


# --------------------------------------------------------------------------------------
# Formula
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Formula:
    """A formula in disjunctive normal form over named boolean concepts.

    ``terms`` is a tuple of conjunctions; each conjunction is a tuple of literals
    ``(concept_name, positive)``. No terms means ``False``; one empty term means ``True``.
    Concepts are looked up by their exact name, so ``x1`` and ``x10`` never get mixed up,
    and nothing is ever passed to ``eval``.

    Examples
    --------
    >>> import pandas as pd
    >>> f = Formula.parse("(x1 & ~x10) | x2")
    >>> str(f), f.complexity
    ('(x1 & ~x10) | x2', 3)
    >>> C = pd.DataFrame({"x1": [1, 1, 0], "x10": [0, 1, 0], "x2": [0, 0, 1]}).astype(bool)
    >>> f.evaluate(C).tolist()
    [True, False, True]
    """

    terms: tuple[tuple[Literal, ...], ...] = ()

    def __post_init__(self) -> None:
        clean = []
        for term in self.terms:
            lits, seen = [], set()
            for lit in term:
                if not (isinstance(lit, tuple) and len(lit) == 2):
                    raise TypeError(f"a literal must be a (name, positive) pair; got {lit!r}")
                name, pos = str(lit[0]), bool(lit[1])
                if (name, pos) not in seen:
                    seen.add((name, pos))
                    lits.append((name, pos))
            clean.append(tuple(lits))
        object.__setattr__(self, "terms", tuple(clean))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_terms(cls, terms: Iterable[Iterable[Any]]) -> Formula:
        """Build from terms whose literals are ``(name, positive)`` pairs or strings
        (``"~name"`` negated)."""
        out = []
        for term in terms:
            lits = []
            for lit in term:
                if isinstance(lit, str):
                    lits.append((lit[1:], False) if lit.startswith("~") else (lit, True))
                else:
                    lits.append(tuple(lit))
            out.append(tuple(lits))
        return cls(tuple(out))

    @classmethod
    def parse(cls, text: str) -> Formula:
        """Parse the printed form (``"(a & ~b) | c"``, ``"True"``, ``"False"``).

        Terms are separated by ``" | "``, literals by ``" & "``, negation is a leading
        ``"~"`` and a term may be wrapped in parentheses. Concept names therefore must not
        contain ``" | "`` or ``" & "``. Nothing is evaluated.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        text = text.strip()
        if text in ("", "False", "(False)"):
            return cls(())
        if text in ("True", "(True)"):
            return cls(((),))
        terms = []
        for part in text.split(" | "):
            part = part.strip()
            if part.startswith("(") and part.endswith(")") and " & " in part:
                part = part[1:-1].strip()
            lits = []
            for tok in part.split(" & "):
                tok = tok.strip()
                if not tok or tok == "~":
                    raise ValueError(f"cannot parse an empty literal in {text!r}")
                lits.append((tok[1:], False) if tok.startswith("~") else (tok, True))
            terms.append(tuple(lits))
        return cls(tuple(terms))

    # -- properties ---------------------------------------------------------------------
    @property
    def complexity(self) -> int:
        """Number of literals (the LEN complexity of a DNF); 0 for ``False``."""
        return sum(len(t) for t in self.terms)

    @property
    def concepts(self) -> tuple[str, ...]:
        """Concept names used, in order of first appearance (negation dropped)."""
        seen: dict[str, None] = {}
        for term in self.terms:
            for name, _ in term:
                seen.setdefault(name, None)
        return tuple(seen)

    @property
    def is_false(self) -> bool:
        return len(self.terms) == 0

    @property
    def is_true(self) -> bool:
        return any(len(t) == 0 for t in self.terms)

    def __str__(self) -> str:
        if self.is_false:
            return "False"
        if self.is_true:
            return "True"
        parts = []
        for term in self.terms:
            s = " & ".join(("" if pos else "~") + name for name, pos in term)
            parts.append(f"({s})" if len(term) > 1 and len(self.terms) > 1 else s)
        return " | ".join(parts)

    def __len__(self) -> int:
        return len(self.terms)

    # -- evaluation ---------------------------------------------------------------------
    def evaluate(self, concepts: Any, concept_names: Sequence[str] | None = None) -> np.ndarray:
        """Truth value of the formula on each row of a boolean concept table.

        Parameters
        ----------
        concepts : DataFrame of bool (or 0/1), or 2-D array with ``concept_names``
        concept_names : list of str, optional
            Column names of an array.

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        C, names = _check_concepts(concepts, concept_names, "concepts", only=self.concepts)
        return _eval_terms(self.terms, C, {n: i for i, n in enumerate(names)})

    # -- views --------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per term: the term and its number of literals."""
        rows = [{"term": str(Formula((t,))), "literals": len(t)} for t in self.terms]
        return pd.DataFrame(rows, columns=["term", "literals"])

    def _repr_html_(self) -> str:
        return f"<code class='shap-debug-formula'>{html.escape(str(self))}</code>"


def _eval_terms(terms, C: np.ndarray, index: Mapping[str, int]) -> np.ndarray:
    out = np.zeros(len(C), dtype=bool)
    for term in terms:
        t = np.ones(len(C), dtype=bool)
        for name, pos in term:
            col = C[:, index[name]]
            t &= col if pos else ~col
        out |= t
    return out


def _check_concepts(concepts: Any, concept_names: Sequence[str] | None, name: str,
                    only: Iterable[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """A (n, m) bool matrix and its names; raises on non-binary columns."""
    if isinstance(concepts, pd.DataFrame):
        names = [str(c) for c in concepts.columns]
        if concept_names is not None and list(map(str, concept_names)) != names:
            raise ValueError(f"concept_names do not match the columns of {name}")
        if len(set(names)) != len(names):
            raise ValueError(f"{name} has duplicate column names")
        cols = names if only is None else list(only)
        missing = [c for c in cols if c not in names]
        if missing:
            raise ValueError(f"{name} lacks the concept(s) {missing[:5]}; it has {names[:10]}"
                             f"{' ...' if len(names) > 10 else ''}")
        pos = {n: i for i, n in enumerate(names)}
        C = np.zeros((len(concepts), len(names)), dtype=bool)
        for c in cols:
            C[:, pos[c]] = _as_bool_column(concepts.iloc[:, pos[c]], c, name)
        return C, names
    arr = concepts.detach().cpu().numpy() if hasattr(concepts, "detach") else np.asarray(concepts)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_rows, n_concepts); got shape {arr.shape}")
    if concept_names is None:
        raise ValueError(f"concept_names is required when {name} is an array, not a DataFrame")
    names = [str(c) for c in concept_names]
    if len(names) != arr.shape[1]:
        raise ValueError(f"concept_names has {len(names)} names but {name} has "
                         f"{arr.shape[1]} columns")
    return _check_concepts(pd.DataFrame(arr, columns=names), None, name, only)


def _as_bool_column(s: pd.Series, col: str, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
        v = s.to_numpy(dtype=np.float64)
        ok = (v == 0) | (v == 1)
        if ok.all():
            return v == 1
        bad = v[~ok][:3].tolist()
    else:
        bad = s.iloc[:3].tolist()
    raise ValueError(f"{name}: concept {col!r} must be boolean (True/False or 0/1); got values "
                     f"such as {bad}. Turn raw features into concepts with to_concepts().")


# --------------------------------------------------------------------------------------
# Metrics (as in LEN: lens/logic/metrics.py)
# --------------------------------------------------------------------------------------
def explanation_accuracy(formula: Formula, concepts: Any, y: Any, target_class: Any = 1,
                         concept_names: Sequence[str] | None = None) -> float:
    """Accuracy of the formula as a classifier of ``y == target_class``."""
    pred = _formula_or_raise(formula).evaluate(concepts, concept_names)
    y = check_y(y, "y", n=len(pred))
    return float(np.mean(pred == (y == target_class)))


def fidelity(formula: Formula, concepts: Any, y_model: Any, target_class: Any = 1,
             concept_names: Sequence[str] | None = None) -> float:
    """Agreement of the formula with the model's predictions (``y_model == target_class``)."""
    return explanation_accuracy(formula, concepts, y_model, target_class, concept_names)


def _formula_or_raise(formula: Any) -> Formula:
    if isinstance(formula, str):
        return Formula.parse(formula)
    if not isinstance(formula, Formula):
        raise TypeError(f"formula must be a Formula or its printed str; got {type(formula).__name__}")
    return formula


def concept_frequency(formulas: Sequence[Formula | str]) -> pd.Series:
    """Share of the formulas in which each concept appears (negated or not)."""
    formulas = [_formula_or_raise(f) for f in formulas]
    if not formulas:
        raise ValueError("formulas must hold at least one formula; got none")
    counts: dict[str, int] = {}
    for f in formulas:
        for c in f.concepts:
            counts[c] = counts.get(c, 0) + 1
    s = pd.Series(counts, dtype=float, name="frequency") / len(formulas)
    return s.sort_values(ascending=False, kind="stable")


def consistency(formulas: Sequence[Formula | str]) -> float:
    """LEN's formula consistency: the mean, over every concept used by any of the formulas,
    of the share of formulas that use it (1.0 = every fold picked the same concepts).

    Returns NaN when no formula uses any concept (all ``True``/``False``).

    Examples
    --------
    >>> consistency(["a & b", "a | ~c"])
    0.6666666666666666
    """
    freq = concept_frequency(formulas)
    return float(freq.mean()) if len(freq) else float("nan")


# --------------------------------------------------------------------------------------
# Boolean minimisation (Quine-McCluskey with a greedy cover)
# --------------------------------------------------------------------------------------
_MAX_EXACT_VARS = 10


def _absorb(terms: list[tuple[Literal, ...]]) -> list[tuple[Literal, ...]]:
    """Drop contradictory terms and terms implied by a shorter one."""
    sets = []
    for t in terms:
        s = frozenset(t)
        if any((n, not p) in s for n, p in s):
            continue
        sets.append((s, t))
    sets.sort(key=lambda st: len(st[0]))
    kept: list[tuple[frozenset, tuple]] = []
    for s, t in sets:
        if not any(k <= s for k, _ in kept):
            kept.append((s, t))
    return [t for _, t in kept]


def simplify(formula: Formula, max_vars: int = _MAX_EXACT_VARS) -> Formula:
    """An equivalent, shorter DNF.

    With at most ``max_vars`` concepts the formula is minimised exactly on its truth table
    (Quine-McCluskey prime implicants, greedy cover); otherwise contradictory and absorbed
    terms are dropped.
    """
    formula = _formula_or_raise(formula)
    if formula.is_false or formula.is_true:
        return Formula(()) if formula.is_false else Formula(((),))
    terms = _absorb(list(formula.terms))
    names = sorted({n for t in terms for n, _ in t})
    if not terms:
        return Formula(())
    if len(names) > max_vars:
        return Formula(tuple(terms))
    k = len(names)
    table = ((np.arange(2 ** k)[:, None] >> np.arange(k)[None, :]) & 1).astype(bool)
    on = np.nonzero(_eval_terms(terms, table, {n: i for i, n in enumerate(names)}))[0]
    return _qm_formula(set(on.tolist()), names)


def _qm_formula(minterms: set[int], names: list[str]) -> Formula:
    k = len(names)
    if not minterms:
        return Formula(())
    if len(minterms) == 2 ** k:
        return Formula(((),))
    current = {(m, 0) for m in minterms}
    primes: set[tuple[int, int]] = set()
    while current:
        merged, used = set(), set()
        for v, mk in current:
            for b in range(k):
                bit = 1 << b
                if mk & bit or v & bit:
                    continue
                other = (v | bit, mk)
                if other in current:
                    merged.add((v, mk | bit))
                    used.add((v, mk))
                    used.add(other)
        primes |= current - used
        current = merged
    primes_l = sorted(primes, key=lambda p: (-bin(p[1]).count("1"), p))
    cover = {p: {m for m in minterms if (m & ~p[1]) == p[0]} for p in primes_l}
    left, chosen = set(minterms), []
    for m in sorted(minterms):  # essential prime implicants first
        owners = [p for p in primes_l if m in cover[p]]
        if len(owners) == 1 and owners[0] not in chosen:
            chosen.append(owners[0])
            left -= cover[owners[0]]
    while left:
        best = max(primes_l, key=lambda p: (len(cover[p] & left), bin(p[1]).count("1")))
        chosen.append(best)
        left -= cover[best]
    terms = []
    for v, mk in chosen:
        terms.append(tuple((names[b], bool(v >> b & 1)) for b in range(k) if not mk >> b & 1))
    terms.sort(key=lambda t: (len(t), t))
    return Formula(tuple(terms))


# --------------------------------------------------------------------------------------
# Result values
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogicExplanation:
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
    term_support: tuple[tuple[int, int], ...] = field(default=(), repr=False)

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
            "n_target": self.n_target, "evaluated_on": self.evaluated_on}])

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

    def _repr_html_(self) -> str:
        e = html.escape
        terms = self.terms_frame().sort_values("target_covered", ascending=False).head(10)
        term_rows = "".join(
            f"<tr><td><code>{e(r.term)}</code></td><td>{r.target_covered}</td>"
            f"<td>{r.other_covered}</td></tr>" for r in terms.itertuples())
        more = (f"<p>... {len(self.formula) - 10} more terms</p>"
                if len(self.formula) > 10 else "")
        return (
            "<div class='shap-debug-logic'>"
            f"<p><b>{e(str(self.target_class))}</b> &lArr; "
            f"<code>{e(_shorten(str(self.formula), 600))}</code></p>"
            "<table><tr><th>method</th><th>model acc.</th><th>explanation acc.</th>"
            "<th>fidelity</th><th>complexity</th><th>time (s)</th></tr>"
            f"<tr><td>{e(self.method)}</td><td>{self.model_accuracy:.3f}</td>"
            f"<td>{self.explanation_accuracy:.3f}</td><td>{self.fidelity:.3f}</td>"
            f"<td>{self.complexity}</td><td>{self.time:.2f}</td></tr></table>"
            f"<p>Measured on {self.n_rows} {e(self.evaluated_on)} rows "
            f"({self.n_target} of the target class).</p>"
            "<table><tr><th>term</th><th>target rows covered</th><th>other rows covered</th>"
            f"</tr>{term_rows}</table>{more}</div>")

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Horizontal bars: target-class rows (right) and other rows (left) each term covers."""
        import matplotlib.pyplot as plt
        from shap.plots import colors

        frame = self.terms_frame().sort_values("target_covered", ascending=False)
        frame = frame.head(check_int(max_display, "max_display", low=1)).iloc[::-1]
        own = ax is None
        labels = [_wrap_term(t) for t in frame["term"]]
        if own:
            lines = sum(lab.count("\n") + 1 for lab in labels)
            _, ax = plt.subplots(figsize=(9, 0.3 * max(lines, 2) + 0.35 * len(frame) + 1.6))
        y = np.arange(len(frame))
        ax.barh(y, frame["target_covered"], color=colors.red_rgb,
                label=f"class {self.target_class}")
        ax.barh(y, -frame["other_covered"], color=colors.blue_rgb, label="other rows")
        ax.set_yticks(y, labels, fontsize=9)
        ax.axvline(0, color="#999999", lw=0.8)
        ax.set_xlabel("rows covered by each term (other rows to the left)")
        ax.set_title(f"{self.method}: explanation accuracy {self.explanation_accuracy:.2f}, "
                     f"fidelity {self.fidelity:.2f}, complexity {self.complexity}", fontsize=10)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
        if own and show:
            plt.show()
        return ax


def _wrap_term(term: str, width: int = 45) -> str:
    """Break a term after " & " so each line stays near ``width`` characters."""
    lines, cur = [], ""
    for lit in term.split(" & "):
        if cur and len(cur) + len(lit) + 3 > width:
            lines.append(cur + " &")
            cur = lit
        else:
            cur = f"{cur} & {lit}" if cur else lit
    lines.append(cur)
    return "\n".join(_shorten(line, width + 10) for line in lines[:4])


def _shorten(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


# --------------------------------------------------------------------------------------
# torch models
# --------------------------------------------------------------------------------------
def _torch():
    import torch

    return torch


def _init_linear(layer, gen) -> None:
    bound = 1.0 / math.sqrt(layer.in_features)
    with _torch().no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)


def _hard_sigmoid_module():
    torch = _torch()

    class _PsiActivation(torch.nn.Module):
        """Sigmoid; once ``hard`` it outputs 0/1 (sigmoid gradient, straight through), so
        the network computes exactly the boolean functions read off its neurons."""

        hard = False

        def forward(self, z):
            s = torch.sigmoid(z)
            return s + ((z > 0).to(s.dtype) - s).detach() if self.hard else s

    return _PsiActivation()


def _make_mlp(m: int, hidden: Sequence[int], act: str, gen):
    torch = _torch()
    nn = torch.nn
    layers, sizes = [], [m, *hidden, 1]
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        _init_linear(lin, gen)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU() if act == "relu" else _hard_sigmoid_module())
    return nn.Sequential(*layers)


def _linears(net):
    return [mod for mod in net if isinstance(mod, _torch().nn.Linear)]


class _EntropyNet:
    """Entropy-based LEN (Barbiero et al., "Entropy-based Logic Explanations of Neural
    Networks", AAAI 2022): a first layer whose per-concept relevance ``alpha`` is a
    softmax over the L1 norms of the concept's weights, scaled by its maximum and used
    to gate the inputs; a small LeakyReLU MLP on top."""

    def __init__(self, m: int, hidden: int, hidden2: int, temperature: float, gen):
        torch = _torch()
        nn = torch.nn
        self.temperature = temperature
        first = nn.Linear(m, hidden)
        _init_linear(first, gen)
        self.first = first
        self.rest = nn.Sequential(nn.LeakyReLU(), nn.Linear(hidden, hidden2), nn.LeakyReLU(),
                                  nn.Linear(hidden2, 1))
        for mod in self.rest:
            if isinstance(mod, nn.Linear):
                _init_linear(mod, gen)

    def parameters(self):
        return [*self.first.parameters(), *self.rest.parameters()]

    def alpha(self):
        gamma = self.first.weight.abs().sum(dim=0)  # L1 norm per input concept
        return _torch().softmax(gamma / self.temperature, dim=0)

    def __call__(self, x):
        a = self.alpha()
        a_norm = a / a.max()
        return self.rest(self.first(x * a_norm))


def _fit_torch(forward, params, X, y, *, epochs, lr, penalty=None, after_step=None,
               on_epoch=None):
    torch = _torch()
    opt = torch.optim.Adam(params, lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(epochs):
        if on_epoch is not None:
            on_epoch(epoch)
        opt.zero_grad()
        loss = loss_fn(forward(X).squeeze(-1), y)
        if penalty is not None:
            loss = loss + penalty()
        loss.backward()
        opt.step()
        if after_step is not None:
            after_step()


# --------------------------------------------------------------------------------------
# Combining local explanations (LEN: lens/logic/explain.py, torch_explain entropy)
# --------------------------------------------------------------------------------------
def _term_of(row: np.ndarray, names: list[str]) -> tuple[Literal, ...]:
    idx = np.nonzero(row)[0]
    return tuple((names[j], bool(row[j] > 0)) for j in idx)


def _combine_local(C: np.ndarray, t: np.ndarray, pred: np.ndarray, support: np.ndarray,
                   names: list[str], *, order: str, drop_literals: bool, max_terms: int
                   ) -> Formula:
    """Global DNF from the local explanations of correctly predicted target rows.

    A local explanation is the conjunction of the row's supported concepts at their values.
    Distinct local explanations are ranked by frequency and added one at a time to the
    disjunction when they raise its training accuracy (LEN); with ``order="best"`` each
    step adds the one that raises it most.
    """
    rows = np.nonzero(t & pred)[0]
    if rows.size == 0:
        return Formula(())
    sup = support if support.ndim == 2 else np.broadcast_to(support, C.shape)
    L = np.where(sup[rows], np.where(C[rows], 1, -1), 0).astype(np.int8)
    uniq, counts = np.unique(L, axis=0, return_counts=True)
    keep = np.any(uniq != 0, axis=1)
    uniq, counts = uniq[keep], counts[keep]
    if not len(uniq):
        return Formula(())
    by_freq = np.argsort(-counts, kind="stable")[:max_terms]
    cols = {n: i for i, n in enumerate(names)}
    terms = [_term_of(uniq[i], names) for i in by_freq]

    def acc(covered):
        return float(np.mean(covered == t))

    if drop_literals:  # LEN's _simplify_formula: drop a literal unless accuracy falls
        new_terms = []
        for term in terms:
            lits = list(term)
            base = acc(_eval_terms([tuple(lits)], C, cols))
            for lit in list(lits):
                if len(lits) == 1:
                    break
                trial = [x for x in lits if x != lit]
                a = acc(_eval_terms([tuple(trial)], C, cols))
                if a >= base:
                    lits, base = trial, a
            new_terms.append(tuple(lits))
        terms = list(dict.fromkeys(new_terms))
    covered = np.zeros(len(C), dtype=bool)
    if order == "best":  # best-first: each step adds the term that raises accuracy most
        cov = np.stack([_eval_terms([term], C, cols) for term in terms])
        chosen, best = [], acc(covered)
        while True:
            trial = cov | covered
            scores = (trial == t).mean(axis=1)
            j = int(np.argmax(scores))
            if scores[j] <= best:
                break
            best, covered = float(scores[j]), trial[j]
            chosen.append(terms[j])
        return simplify(Formula(tuple(chosen)))
    best, chosen = acc(covered), []
    for term in terms:
        trial = covered | _eval_terms([term], C, cols)
        a = acc(trial)
        if a > best:
            best, covered = a, trial
            chosen.append(term)
    return simplify(Formula(tuple(chosen)))


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
    "tree": {"max_depth": None, "min_samples_leaf": 1},
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
                                  random_state=seed).fit(C, t)
    # Ties in a leaf go to False in both the formula and predict (classes_ = [False, True]).
    formula = Formula(tuple(_tree_paths(tree, names)))
    if len(formula.concepts) <= _MAX_EXACT_VARS:  # paths are disjoint: only QM can shorten them
        formula = simplify(formula)
    return formula, lambda X: tree.predict(X).astype(bool)


def _net_predict(net):
    torch = _torch()

    def predict(X):
        with torch.no_grad():
            return (net(torch.as_tensor(X, dtype=torch.float32)).squeeze(-1) > 0).numpy()

    return predict


def _fit_pruning(C, t, names, p, gen):
    torch = _torch()
    X, y = torch.as_tensor(C, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32)
    net = _make_mlp(C.shape[1], (p["hidden"],), "relu", gen)
    first = _linears(net)[0]
    mask = torch.ones_like(first.weight)
    prune_at = p["epochs"] // 2

    def on_epoch(epoch):
        if epoch == prune_at:  # keep the fan_in inputs with the largest L1 norm
            keep = torch.topk(first.weight.detach().abs().sum(0), min(p["fan_in"], C.shape[1])).indices
            mask.zero_()
            mask[:, keep] = 1.0

    def after_step():
        with torch.no_grad():
            first.weight.mul_(mask)

    _fit_torch(net, net.parameters(), X, y, epochs=p["epochs"], lr=p["lr"], on_epoch=on_epoch,
               after_step=after_step, penalty=lambda: p["l1"] * first.weight.abs().sum())
    predict = _net_predict(net)
    support = (first.weight.detach().abs().sum(0) > 0).numpy()
    formula = _combine_local(C, t, predict(C), support, names, order="frequency",
                             drop_literals=False, max_terms=p["max_terms"])
    return formula, predict


def _fit_weights(C, t, names, p, gen):
    torch = _torch()
    X, y = torch.as_tensor(C, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32)
    net = _make_mlp(C.shape[1], (p["hidden"],), "relu", gen)
    first = _linears(net)[0]
    _fit_torch(net, net.parameters(), X, y, epochs=p["epochs"], lr=p["lr"],
               penalty=lambda: p["l1"] * first.weight.abs().sum())
    predict = _net_predict(net)
    # The weights of the linear model a ReLU network reduces to at a row are the gradient
    # of its logit there; keep concepts above `threshold` of the row's largest |weight|.
    Xg = X.clone().requires_grad_(True)
    net(Xg).sum().backward()
    w = Xg.grad.abs().numpy()
    wmax = w.max(axis=1, keepdims=True)
    support = np.where(wmax > 0, w / np.where(wmax > 0, wmax, 1.0) > p["threshold"], True)
    formula = _combine_local(C, t, predict(C), support, names, order="frequency",
                             drop_literals=False, max_terms=p["max_terms"])
    return formula, predict


def _fit_psi(C, t, names, p, gen):
    torch = _torch()
    X, y = torch.as_tensor(C, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32)
    net = _make_mlp(C.shape[1], p["hidden"], "sigmoid", gen)
    lins = _linears(net)
    masks = [torch.ones_like(lin.weight) for lin in lins]
    prune_at = p["epochs"] // 2

    def on_epoch(epoch):
        if epoch == prune_at:  # every neuron keeps its fan_in largest incoming weights
            for lin, mk in zip(lins, masks):
                k = min(p["fan_in"], lin.in_features)
                keep = torch.topk(lin.weight.detach().abs(), k, dim=1).indices
                mk.zero_()
                mk.scatter_(1, keep, 1.0)
            for mod in net:
                if hasattr(mod, "hard"):
                    mod.hard = True

    def after_step():
        with torch.no_grad():
            for lin, mk in zip(lins, masks):
                lin.weight.mul_(mk)

    _fit_torch(net, net.parameters(), X, y, epochs=p["epochs"], lr=p["lr"], on_epoch=on_epoch,
               after_step=after_step,
               penalty=lambda: p["l1"] * sum(lin.weight.abs().sum() for lin in lins))
    # Read the network off: which concepts reach the output through non-zero weights, then
    # the boolean function each neuron computes (sigmoid > 0.5 <=> pre-activation > 0),
    # composed layer by layer on the truth table of those concepts.
    W = [lin.weight.detach().numpy() for lin in lins]
    b = [lin.bias.detach().numpy() for lin in lins]
    reach = np.ones(1, dtype=bool)
    for w in W[::-1]:
        reach = np.abs(w[reach]).sum(0) > 0
    support = np.nonzero(reach)[0]
    sup_names = [names[j] for j in support]
    k = len(support)
    if k == 0:
        out = bool(_psi_forward(np.zeros((1, C.shape[1])), W, b)[0])
        formula = Formula(((),)) if out else Formula(())
    else:
        table = ((np.arange(2 ** k)[:, None] >> np.arange(k)[None, :]) & 1).astype(float)
        full = np.zeros((len(table), C.shape[1]))
        full[:, support] = table
        on = np.nonzero(_psi_forward(full, W, b))[0]
        formula = _qm_formula(set(on.tolist()), sup_names) if k <= _MAX_EXACT_VARS else Formula(
            tuple(tuple((sup_names[j], bool(table[i, j])) for j in range(k)) for i in on))
    return formula, _net_predict(net)


def _psi_forward(X: np.ndarray, W, b) -> np.ndarray:
    h = X
    for w, bb in zip(W, b):
        h = (h @ w.T + bb > 0).astype(float)
    return h[:, 0] > 0.5


def _fit_entropy(C, t, names, p, gen):
    torch = _torch()
    X, y = torch.as_tensor(C, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32)
    net = _EntropyNet(C.shape[1], p["hidden"], p["hidden2"], p["temperature"], gen)

    def penalty():
        a = net.alpha()
        return -p["entropy_weight"] * torch.sum(a * torch.log(a + 1e-12))

    _fit_torch(net, net.parameters(), X, y, epochs=p["epochs"], lr=p["lr"], penalty=penalty)
    predict = _net_predict(net)
    with torch.no_grad():
        a = net.alpha().numpy()
    a_norm = a / a.max()
    support = a_norm > 0.5
    if p["max_literals"] is not None and support.sum() > p["max_literals"]:
        top = np.argsort(-a_norm, kind="stable")[: p["max_literals"]]
        support = np.zeros_like(support)
        support[top] = True
    formula = _combine_local(C, t, predict(C), support, names, order="best",
                             drop_literals=True, max_terms=p["max_terms"])
    return formula, predict


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
      (None), ``min_samples_leaf`` (1).
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
        Training concepts (see :func:`shap_debug.concepts.to_concepts`). Not modified.
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
        torch = _torch()
        gen = torch.Generator().manual_seed(seed)
        fit = {"pruning": _fit_pruning, "weights": _fit_weights, "psi": _fit_psi,
               "entropy": _fit_entropy}[method]
        formula, predict = fit(C, t, names, p, gen)
    formula = _drop_implied(formula, groups)
    elapsed = time.perf_counter() - start

    index = {n: i for i, n in enumerate(names)}
    f_pred = _eval_terms(formula.terms, Ce, index)
    m_pred = np.asarray(predict(Ce), dtype=bool)
    if formula.is_false:
        warn(f"method={method!r} found no formula for class {target_class!r} (the model "
             "predicts it for no training row it gets right); the formula is False")
    support = tuple((int(np.sum(cov & te)), int(np.sum(cov & ~te)))
                    for cov in (_eval_terms([term], Ce, index) for term in formula.terms))
    return LogicExplanation(
        formula=formula, method=method, target_class=_plain(target_class),
        model_accuracy=float(np.mean(m_pred == te)),
        explanation_accuracy=float(np.mean(f_pred == te)),
        fidelity=float(np.mean(f_pred == m_pred)), complexity=formula.complexity,
        time=float(elapsed), n_rows=len(Ce), n_target=int(te.sum()), evaluated_on=where,
        term_support=support)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# --------------------------------------------------------------------------------------
# Cross-validation
# --------------------------------------------------------------------------------------
_METRICS = ("model_accuracy", "explanation_accuracy", "fidelity", "complexity", "time")


@dataclass(frozen=True)
class LogicCVResult:
    """K-fold comparison of extraction methods (the LEN notebook's table).

    Attributes
    ----------
    folds : DataFrame
        One row per (method, fold): the held-out metrics and the formula.
    formulas : dict
        Method -> tuple of the fold formulas.
    target_class : object
    n_splits : int
    """

    folds: pd.DataFrame
    formulas: dict
    target_class: Any
    n_splits: int

    def consistency(self) -> pd.Series:
        """LEN consistency of each method's fold formulas."""
        return pd.Series({m: consistency(fs) for m, fs in self.formulas.items()},
                         name="consistency")

    def to_frame(self) -> pd.DataFrame:
        """One row per method: mean and standard error over folds, and consistency."""
        g = self.folds.groupby("method", sort=False)[list(_METRICS)]
        mean = g.mean()
        sem = g.sem(ddof=1).add_suffix("_sem")
        out = pd.concat([mean, sem], axis=1)
        out["consistency"] = self.consistency()
        cols = [c for m in _METRICS for c in (m, f"{m}_sem")] + ["consistency"]
        return out[cols]

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        rows = "".join(
            f"<tr><td>{html.escape(str(m))}</td>"
            + "".join(f"<td>{r[c]:.3f} &plusmn; {r[c + '_sem']:.3f}</td>"
                      for c in ("model_accuracy", "explanation_accuracy", "fidelity"))
            + f"<td>{r['complexity']:.1f}</td><td>{r['consistency']:.2f}</td>"
            f"<td>{r['time']:.2f}</td></tr>"
            for m, r in frame.iterrows())
        return ("<table class='shap-debug-logic-cv'><tr><th>method</th><th>model acc.</th>"
                "<th>explanation acc.</th><th>fidelity</th><th>complexity</th>"
                f"<th>consistency</th><th>time (s)</th></tr>{rows}</table>"
                f"<p>{self.n_splits}-fold cross-validation, class "
                f"{html.escape(str(self.target_class))}.</p>")

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Grouped bars: model accuracy, explanation accuracy and fidelity per method."""
        import matplotlib.pyplot as plt
        from shap.plots import colors

        frame = self.to_frame().head(check_int(max_display, "max_display", low=1))
        own = ax is None
        if own:
            _, ax = plt.subplots(figsize=(1.4 * len(frame) + 3, 4))
        x = np.arange(len(frame))
        palette = (colors.blue_rgb, colors.red_rgb, "#888888")
        for i, (col, c) in enumerate(zip(("model_accuracy", "explanation_accuracy",
                                          "fidelity"), palette)):
            ax.bar(x + (i - 1) * 0.27, frame[col], 0.27, yerr=frame[f"{col}_sem"], color=c,
                   label=col.replace("_", " "))
        ax.set_xticks(x, [f"{m}\n({c:.0f} lit.)" for m, c in zip(frame.index,
                                                                   frame["complexity"])])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("held-out score")
        ax.legend(loc="lower right", frameon=False)
        if own and show:
            plt.show()
        return ax


def logic_cross_validation(concepts: Any, target: Any, methods: Sequence[str] = METHODS, *,
                           n_splits: int = 10, target_class: Any = None,
                           concept_names: Sequence[str] | None = None,
                           params: Mapping[str, Mapping[str, Any]] | None = None,
                           cv: Iterable[tuple[Any, Any]] | None = None,
                           random_state: Any = 0, n_jobs: int = 1, progress: bool = True
                           ) -> LogicCVResult:
    """Stratified K-fold comparison of formula extraction methods, LEN style.

    Each method learns on K-1 folds and is scored on the held-out fold; consistency is
    computed over the K formulas of each method.

    Parameters
    ----------
    concepts, target, target_class, concept_names
        As in :func:`explain_formula`.
    methods : sequence of str
        Any of ``"tree"``, ``"pruning"``, ``"weights"``, ``"psi"``, ``"entropy"``.
    n_splits : int, default 10
    params : dict, optional
        Method -> its parameters (e.g. ``{"tree": {"max_depth": 4}}``).
    cv : iterable of (train_indices, test_indices), optional
        Folds to use instead of a shuffled ``StratifiedKFold(n_splits)`` (e.g. to score
        another implementation on the very same folds); ``n_splits`` is then ignored.
    random_state : int or Generator
        Seeds the fold split and each fit.
    n_jobs : int
        Parallel fits through joblib (a Dask cluster can run them via
        ``joblib.parallel_backend("dask")``).
    progress : bool
        Show a tqdm bar over the fits.

    Returns
    -------
    LogicCVResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> C = pd.DataFrame(rng.random((300, 5)) < 0.5, columns=list("abcde"))
    >>> y = (C["a"] & C["b"]).to_numpy()
    >>> cv = logic_cross_validation(C, y, ["tree"], n_splits=3, progress=False)
    >>> float(cv.to_frame().loc["tree", "explanation_accuracy"])
    1.0
    """
    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedKFold

    methods = [check_option(m, "methods", METHODS) for m in methods]
    if not methods:
        raise ValueError("methods must name at least one method")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods has duplicates: {methods}")
    n_splits = check_int(n_splits, "n_splits", low=2)
    check_int(n_jobs, "n_jobs")
    C, names = _check_concepts(concepts, concept_names, "concepts")
    target = check_y(target, "target", n=len(C))
    target_class = _resolve_target(target, target_class, "target")
    params = dict(params or {})
    unknown = set(params) - set(methods)
    if unknown:
        raise ValueError(f"params names methods {sorted(unknown)} that are not in methods")
    for m in methods:  # validate before any fit
        _params(m, params.get(m, {}))
    t = target == target_class
    rng = check_random_state(random_state)
    if cv is None:
        if min(t.sum(), (~t).sum()) < n_splits:
            raise ValueError(f"n_splits={n_splits} is more than the rows of the smaller class "
                             f"({min(t.sum(), (~t).sum())})")
        skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed_from(rng))
        splits = list(skf.split(C, t))
    else:
        from .core.validation import check_indices

        splits = [(check_indices(tr, len(C), "cv train indices"),
                   check_indices(te, len(C), "cv test indices")) for tr, te in cv]
        if not splits:
            raise ValueError("cv must hold at least one (train, test) split")
        n_splits = len(splits)
    jobs = [(m, k, tr, te, int(rng.integers(0, 2**31 - 1)))
            for k, (tr, te) in enumerate(splits) for m in methods]

    def run(m, k, tr, te, seed):
        import warnings

        from .core.validation import ShapDebugWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShapDebugWarning)
            res = explain_formula(C[tr], t[tr], m, target_class=True, concept_names=names,
                                  eval_concepts=C[te], eval_target=t[te], random_state=seed,
                                  **params.get(m, {}))
        return m, k, res

    iterator = jobs
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(jobs, desc="logic CV", total=len(jobs))
    results = Parallel(n_jobs=n_jobs)(delayed(run)(*j) for j in iterator)
    rows, formulas = [], {m: [None] * n_splits for m in methods}
    for m, k, res in results:
        row = res.to_frame().iloc[0].to_dict()
        row.update(method=m, fold=k, target_class=_plain(target_class))
        rows.append(row)
        formulas[m][k] = res.formula
    folds = pd.DataFrame(rows)[["method", "fold", *_METRICS, "formula", "n_rows", "n_target"]]
    return LogicCVResult(folds=folds, formulas={m: tuple(f) for m, f in formulas.items()},
                         target_class=_plain(target_class), n_splits=n_splits)


# --------------------------------------------------------------------------------------
# Debugging uses
# --------------------------------------------------------------------------------------
def _concepts_for(X: Any, encoder: Any, n_bins: int):
    """Concept matrix, names and exclusive groups for raw features or a concept frame."""
    if isinstance(X, pd.DataFrame) and len(X.columns) and all(
            pd.api.types.is_bool_dtype(X[c]) for c in X.columns) and encoder is None:
        return (*_check_concepts(X, None, "X"), None)
    if encoder is not None:
        frame = encoder.transform(X)
    else:
        from .concepts import to_concepts

        frame, encoder = to_concepts(X, n_bins=n_bins)
    return (*_check_concepts(frame, None, "X"), encoder.groups_)


def _mask(value: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"{name} must be a boolean mask of length {n}; got shape {arr.shape}")
        return arr
    from .core.validation import check_indices

    out = np.zeros(n, dtype=bool)
    out[check_indices(arr, n, name)] = True
    return out


def anomaly_formula(X: Any, is_anomaly: Any, *, reference: Any = None, method: str = "tree",
                    n_bins: int = 3, encoder: Any = None, random_state: Any = 0,
                    **params: Any) -> LogicExplanation:
    """What, in plain logic, the anomalous rows have in common compared with the others.

    Parameters
    ----------
    X : DataFrame or array
        Raw features (turned into concepts with :func:`~shap_debug.concepts.to_concepts`,
        or ``encoder.transform``), or an all-boolean concept frame used as is.
    is_anomaly : boolean mask of length n, or row indices
        The rows to describe (e.g. ``NeighborhoodModel`` anomalies, misclassified rows).
    reference : boolean mask or row indices, optional
        The rows to contrast with (e.g. the correctly predicted rows); by default every row
        that is not an anomaly. Other rows are left out.
    method : str, default "tree"
        As in :func:`explain_formula`; with ``"tree"`` the depth defaults to 3 to keep the
        formula short.
    n_bins : int
        Bins per numeric column when concepts are built here.
    encoder : ConceptEncoder, optional
        A fitted encoder to reuse.
    **params
        Method parameters.

    Returns
    -------
    LogicExplanation
        ``target_class`` is True (anomaly); metrics are measured on the anomalies and the
        reference rows.

    Examples
    --------
    >>> from shap_debug.datasets import german
    >>> X, y = german()
    >>> odd = ((X["housing"] == "rent") & (X["job"] == "unskilled resident")).to_numpy()
    >>> res = anomaly_formula(X, odd)
    >>> str(res.formula), res.explanation_accuracy
    ('housing=rent & job=unskilled resident', 1.0)
    """
    check_option(method, "method", METHODS)
    n_bins = check_int(n_bins, "n_bins", low=2)
    X = check_frame_or_array(X, "X")
    n = len(X)
    anomalies = _mask(is_anomaly, n, "is_anomaly")
    ref = ~anomalies if reference is None else _mask(reference, n, "reference") & ~anomalies
    if not anomalies.any():
        raise ValueError("is_anomaly selects no row")
    if not ref.any():
        raise ValueError("there is no reference row to contrast the anomalies with")
    if method == "tree":
        params = {"max_depth": 3, "min_samples_leaf": max(1, int(0.01 * n)), **params}
    C, names, groups = _concepts_for(X, encoder, n_bins)
    keep = anomalies | ref
    return explain_formula(C[keep], anomalies[keep], method, target_class=True,
                           concept_names=names, groups=groups, random_state=random_state,
                           **params)


def neighborhood_formula(X: Any, members: Any, *, method: str = "tree", n_bins: int = 3,
                         encoder: Any = None, random_state: Any = 0, **params: Any
                         ) -> LogicExplanation:
    """What sets a neighborhood (e.g. ``NeighborhoodModel.neighbors(i)``) apart from the rest
    of the rows, as a DNF over concepts.

    Parameters
    ----------
    X : DataFrame or array
        Raw features or an all-boolean concept frame.
    members : row indices or boolean mask
        The neighborhood.
    method, n_bins, encoder, random_state, **params
        As in :func:`anomaly_formula`.

    Returns
    -------
    LogicExplanation
        ``target_class`` is True (member of the neighborhood).

    Examples
    --------
    >>> from shap_debug.datasets import german
    >>> X, y = german()
    >>> res = neighborhood_formula(X, (X["age"] < 25).to_numpy().nonzero()[0])
    >>> "age_LOW" in res.formula.concepts
    True
    """
    X = check_frame_or_array(X, "X")
    inside = _mask(members, len(X), "members")
    return anomaly_formula(X, inside, method=method, n_bins=n_bins, encoder=encoder,
                           random_state=random_state, **params)
