"""Formulas in disjunctive normal form over boolean concepts: parsing, printing, evaluation,
the LEN metrics (explanation accuracy, fidelity, consistency) and Boolean minimisation.

Formulas are data structures, never strings handed to ``eval``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...core import check_y, escape

Literal = tuple[str, bool]

_REPR_CHARS = 100  # a longer formula's repr shows its start and its size


# --------------------------------------------------------------------------------------
# Formula
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
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
    >>> f
    Formula('(x1 & ~x10) | x2')
    >>> f.complexity
    3
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
        """True for the constant ``False`` (no term)."""
        return len(self.terms) == 0

    @property
    def is_true(self) -> bool:
        """True for the constant ``True`` (a term without literals)."""
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

    def __repr__(self) -> str:
        text = str(self)
        if len(text) <= _REPR_CHARS:
            return f"Formula({text!r})"
        return (f"Formula({text[:_REPR_CHARS - 1] + '…'!r}, terms={len(self.terms)}, "
                f"complexity={self.complexity})")

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
        return f"<code class='shap-debug-formula'>{escape(self)}</code>"


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

