"""The sparser-change search: does a change of fewer features than the closest flip point's
flip the decision too? Single features, then pairs of the features that matter most."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shap_debug.core import Result, check_columns, check_int

from ..flip_points import FlipPoints
from ._individual import (
    COLUMNS,
    IndividualReport,
    _as_matrix,
    _onehot_from_encoder,
    _solve_units,
    _units,
    individual_report,
)

__all__ = ["SparserChange", "sparser_change", "SPARSER_VERDICTS"]

#: ``verdict`` codes of :class:`SparserChange` (the debugger words them)
SPARSER_VERDICTS = ("no_flip", "already_sparse", "single", "pair", "none_found")


@dataclass(frozen=True, repr=False)
class SparserChange(Result):
    """Whether a sparser change than the closest flip point's flips the decision.

    Attributes
    ----------
    report : IndividualReport
        The closest flip point and every single feature solved alone (``immutable`` held).
    pairs : DataFrame
        The pairs tried (:data:`COLUMNS`); empty when a single feature flips, when the
        closest change touches at most two features, or when ``k < 2``.
    tried : DataFrame
        Singles and pairs with fewer features than the closest change, with ``n_features``.
    best : dict or None
        The sparsest change that flips (fewest features, then smallest distance), one row of
        ``tried``.
    n_changed : int
        Features (units) the closest flip point changes.
    distance : float
        The closest flip point's distance.
    verdict : str
        ``"no_flip"`` (no flip point at all), ``"already_sparse"`` (the closest change
        touches one feature), ``"single"`` / ``"pair"`` (a sparser change of that size
        flips), ``"none_found"`` (nothing sparser flips among those tried).
    """

    report: IndividualReport
    pairs: pd.DataFrame
    tried: pd.DataFrame
    best: dict | None
    n_changed: int
    distance: float
    verdict: str

    @property
    def changes(self) -> pd.DataFrame:
        """The closest flip point's changed features (``IndividualReport.changes``)."""
        return self.report.changes

    @property
    def singles(self) -> pd.DataFrame:
        """Every single feature solved alone (``IndividualReport.singles``)."""
        return self.report.singles

    def to_frame(self) -> pd.DataFrame:
        """The problems tried, sparsest first."""
        return self.tried.sort_values(["n_features", "distance"]).reset_index(drop=True)

    def summary(self) -> dict:
        """Verdict, features changed by the closest flip point, its distance, the best."""
        return {"verdict": self.verdict, "n_changed": self.n_changed, "distance": self.distance,
                "best": None if self.best is None else self.best["features"]}


def sparser_change(flip_points: FlipPoints, x: Any, *, contributions: Any = None, k: int = 4,
                   target: Any = None, encoder: Any = None, decode: Callable | None = None,
                   immutable: Any = None, **constraints: Any) -> SparserChange:
    """Search for a change of fewer features than the closest flip point's.

    Every single feature (unit: a one-hot group moves as one) is solved alone; when none
    flips the decision and the closest change touches more than two features, every pair of
    the ``k`` movable features that matter most is solved too (``k (k - 1) / 2`` calls).
    ``immutable`` features never move, in the closest change, the singles and the pairs.

    Parameters
    ----------
    flip_points : FlipPoints
    x : array-like (1, m) or (m,), tensor or DataFrame row
        The input, in the model's (encoded) feature space.
    contributions : array (m,), optional
        The row's contributions (e.g. SHAP values), to rank the features for the pairs
        (summed over a unit's columns, by absolute value). Default: the size of each unit's
        move in the closest change (weighted by ``weights`` when given).
    k : int
        How many top features the pairs are drawn from.
    target, encoder, decode
        As in :func:`individual_report`.
    immutable : names or indices, optional
        Features that never move.
    **constraints
        Passed to :meth:`FlipPoints.find` (``bounds``, ``integer``, ``weights``,
        ``onehot_groups``).

    Returns
    -------
    SparserChange

    Examples
    --------
    >>> import numpy as np, torch
    >>> from captum_ext.flip_points import FlipPoints
    >>> net = torch.nn.Linear(3, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[0., 0, 0], [1., 1, 1]]))
    ...     _ = net.bias.copy_(torch.tensor([0., -1.5]))
    >>> res = sparser_change(FlipPoints(net, progress=False), np.zeros(3),
    ...                      bounds=(-1.0, 1.0), immutable=[2])
    >>> res.verdict, res.best, res.n_changed  # no single feature reaches the boundary
    ('none_found', None, 2)
    """
    if not isinstance(flip_points, FlipPoints):
        raise TypeError(f"flip_points must be a FlipPoints; got {type(flip_points).__name__}")
    k = check_int(k, "k", low=0)
    X = _as_matrix(x.reshape(1, -1) if isinstance(x, np.ndarray) and x.ndim == 1 else x, "x")
    if X.shape[0] != 1:
        raise ValueError(f"x must be one row; got {X.shape[0]}")
    m = X.shape[1]
    names = flip_points.feature_names or [f"Feature {j}" for j in range(m)]
    if contributions is not None:
        contributions = np.asarray(contributions, dtype=np.float64).reshape(-1)
        if contributions.shape != (m,):
            raise ValueError(f"contributions must have {m} entries (one per input column); "
                             f"got shape {contributions.shape}")
    if immutable is not None:
        constraints["immutable"] = immutable
    report = individual_report(flip_points, X, target=target, encoder=encoder, decode=decode,
                               pairs=False, **constraints)
    if decode is None and encoder is not None:
        decode = encoder.inverse_transform
    if encoder is not None and "onehot_groups" not in constraints:
        constraints["onehot_groups"] = _onehot_from_encoder(encoder)
    units = _units(names, encoder, constraints.get("onehot_groups"))
    fixed = set(check_columns(immutable, names, "immutable")) if immutable is not None else set()
    movable = {u: c for u, c in units.items() if not fixed.intersection(c)}
    n_changed = int(len(report.changes))
    distance = float(report.flip.distance[0])
    singles = report.singles
    pair_rows = []
    if (report.flip.valid[0] and n_changed > 2 and k >= 2
            and not singles["can_flip"].astype(bool).any()):
        if contributions is not None:
            score = {u: float(np.abs(contributions[c]).sum()) for u, c in movable.items()}
        else:
            w = np.asarray(constraints.get("weights", 1.0), dtype=np.float64) * np.ones(m)
            d = report.flip.delta[0]
            score = {u: float(np.sqrt((w[c] * d[c] ** 2).sum())) for u, c in movable.items()}
        top = sorted(movable, key=lambda u: -score[u])[:k]
        data = flip_points.data
        lo = data.min(axis=0) if data is not None else np.full(m, -np.inf)
        hi = data.max(axis=0) if data is not None else np.full(m, np.inf)
        for a, b in itertools.combinations(top, 2):
            pair_rows.append(_solve_units(flip_points, X, target, units, movable, decode, names,
                                          lo, hi, constraints, f"{a} + {b}", [a, b]))
    pairs = pd.DataFrame(pair_rows, columns=COLUMNS)
    parts = [df.assign(n_features=n) for df, n in ((singles, 1), (pairs, 2)) if len(df)]
    tried = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame(columns=COLUMNS + ["n_features"]))
    tried = tried[tried["n_features"] < max(n_changed, 1)].reset_index(drop=True)
    ok = tried[tried["can_flip"].astype(bool)]
    best = ok.sort_values(["n_features", "distance"]).iloc[0].to_dict() if len(ok) else None
    if not report.flip.valid[0]:
        verdict = "no_flip"
    elif n_changed <= 1:
        verdict = "already_sparse"
    elif best is not None:
        verdict = "single" if best["n_features"] == 1 else "pair"
    else:
        verdict = "none_found"
    return SparserChange(report=report, pairs=pairs, tried=tried, best=best,
                         n_changed=n_changed, distance=distance, verdict=verdict)
