"""The Debugger facade: from "a model and its training data" to "what is wrong and where".

:class:`Debugger` ties the components together along the data flow of
``docs/architecture.md``:
contributions -> influential neighbourhoods (Rasouli & Yu, "Explainable Debugger for
Black-box Machine Learning Models", Algorithm 1) -> representatives and their rules
(Algorithm 2) -> neighbourhood ALE (Apley & Zhu) -> flip points (Yousefzadeh & O'Leary) and
influence functions (Koh & Liang), plus error cohorts, data-integrity flags and suspicious
rows. Everything expensive is computed once and cached, so inspecting many anomalies does
not recompute the contributions.

The Debugger computes, the report renders: :meth:`Debugger.overview`,
:meth:`Debugger.inspect` and :meth:`Debugger.evidence` return frozen values
(:mod:`shap_debug.debugger._values`), and :func:`shap_debug.report.render_report` only lays them out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    EncodedModel,
    check_anomalies,
    check_classifier,
    check_inputs,
    check_int,
    check_same_columns,
    check_y,
    classes_of,
    feature_names_of,
    predict_proba_fn,
    raw_space_explanation,
    section_html,
    table_html,
)
from ._findings import no_anomaly_reason
from ._values import Evidence, Inspection, Overview, Parts

__all__ = ["Debugger", "Inspection", "Overview", "Evidence"]


def _write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file beside ``path`` (a failed write keeps the old file)."""
    from ..io import write_text_atomic

    write_text_atomic(path, text)


def _plain_label(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _seed_of(random_state: Any) -> int:
    """One int seed from an int, a Generator (drawn once) or None (0)."""
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(
            random_state, (int, np.integer)):
        raise TypeError("random_state must be an int, a numpy Generator or None; got "
                        f"{type(random_state).__name__}")
    return check_int(random_state, "random_state", low=0)


class Debugger:
    """Debug a classifier on its training data.

    :meth:`anomalies` lists the rows the model gets wrong, :meth:`inspect` explains one,
    :meth:`overview` and :meth:`evidence` return everything a report shows as values, and
    :meth:`report` writes it as HTML.

    Parameters
    ----------
    model : fitted classifier
        Anything with ``predict_proba`` taking ``X`` (or a torch module).
    X : DataFrame or ndarray (n, m)
        The training rows, as the model takes them.
    y : array-like (n,)
        Their labels.
    explanation : shap.Explanation or array, optional
        Contributions of the rows of ``X`` (computed with :func:`shap_debug.explain` if
        omitted).
    protected : sequence of str, optional
        Protected attributes to watch (bias flags in ALE, flip points that change them).
    encoder : FrameEncoder, optional
        When ``X`` is an encoded matrix (``shap_debug.datasets.encode``), its encoder: rules
        and ALE are then computed and shown on the readable frame.
    X_test, y_test : optional
        Held-out rows for test accuracy, train/test leakage checks and error cohorts.
    n_neighbors : int, optional
        K; default ``clip(n // 5, 10, 2000)`` (the paper: 200 German, 500 COMPAS, 2000 Adult).
    budget, n_top_features : int
        B and NF of the representative selection (NF default: 5, or the number of features
        when there are fewer).
    random_state : int, numpy Generator or None
        Seeds every random step. A Generator is drawn from once, here; None means the
        fixed seed 0 (two runs on the same data agree).
    n_jobs : int
    client : dask.distributed.Client, optional
        Run contributions, neighbour queries, refits and label-flip trials on its workers.
    chunk_size : int, optional
        Rows per neighbour-query chunk (memory ``chunk_size * K * 16`` bytes).
    progress : bool

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, enc = encode(X)
    >>> lr = LogisticRegression(max_iter=3000).fit(Z, y)
    >>> dbg = Debugger(lr, Z, y, encoder=enc, progress=False)
    >>> int(dbg.anomalies().iloc[0]["row"]) in set(dbg.neighborhood_model.anomalies_)
    True
    """

    def __init__(self, model: Any, X: Any, y: Any, explanation: Any = None, *,
                 protected: Sequence[str] | None = None, encoder: Any = None,
                 feature_names: Sequence[str] | None = None, X_test: Any = None,
                 y_test: Any = None, n_neighbors: int | None = None, budget: int = 10,
                 n_top_features: int | None = None, random_state: Any = None, n_jobs: int = 1,
                 client: Any = None, progress: bool = True, chunk_size: int | None = None):
        self.model = check_classifier(model)
        # the user's own row labels: results and findings name rows by them
        self.row_labels = (np.asarray(X.index) if isinstance(X, pd.DataFrame)
                           else np.arange(len(X)))
        self.X = check_inputs(self.model, X, "X")  # NaN only where the model takes it
        self.y = check_y(y, "y", n=len(self.X))
        if len(np.unique(self.y)) < 2:
            raise ValueError("y must contain at least two classes")
        self.encoder = encoder
        self._cache: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.feature_names = feature_names_of(self.X, feature_names)
        if encoder is not None:
            if list(encoder.feature_names_out_) != self.feature_names and feature_names is None:
                self.feature_names = list(encoder.feature_names_out_)
            if len(encoder.feature_names_out_) != self.X.shape[1]:
                raise ValueError(
                    f"encoder produces {len(encoder.feature_names_out_)} columns but X has "
                    f"{self.X.shape[1]}")
        if explanation is not None:
            explanation = raw_space_explanation(explanation, self.model, self.X)  # Pipelines
        self.explanation = explanation
        self.protected = list(protected or [])
        readable = self.readable_frame().columns
        unknown = [p for p in self.protected if p not in readable]
        if unknown:
            raise ValueError(f"protected: unknown features {unknown}; known: {list(readable)}")
        self.test_labels = (None if X_test is None else np.asarray(X_test.index)
                            if isinstance(X_test, pd.DataFrame) else np.arange(len(X_test)))
        self.X_test = None if X_test is None else check_inputs(self.model, X_test, "X_test")
        if self.X_test is not None:
            check_same_columns(self.X_test, self.X)
        self.y_test = None if y_test is None else check_y(y_test, "y_test", n=len(self.X_test))
        n = len(self.X)
        self.n_neighbors = (int(np.clip(n // 5, 10, 2000)) if n_neighbors is None
                            else check_int(n_neighbors, "n_neighbors", low=1, high=n))
        self.budget = check_int(budget, "budget", low=1)
        self.n_top_features = (min(5, self.X.shape[1]) if n_top_features is None else
                               check_int(n_top_features, "n_top_features", low=1,
                                         high=self.X.shape[1]))
        self.random_state = random_state
        self._seed = _seed_of(random_state)
        self.n_jobs = n_jobs
        self.client = client
        self.progress, self.chunk_size = progress, chunk_size

    # ------------------------------------------------------------------ helpers
    def _backend(self):
        """joblib's Dask backend when a client was given (else nothing changes)."""
        if self.client is None:
            return contextlib.nullcontext()
        from joblib import parallel_backend

        return parallel_backend("dask")

    @property
    def parallel_jobs(self) -> int:
        """``n_jobs`` for joblib: every worker of the cluster when a client was given."""
        return -1 if self.client is not None else self.n_jobs

    def _timed(self, key: str, fn):
        if key not in self._cache:
            t0 = time.perf_counter()
            self._cache[key] = fn()
            self.timings[key] = time.perf_counter() - t0
        return self._cache[key]

    def readable_frame(self) -> pd.DataFrame:
        """The training rows with readable values (decoded when an encoder was given)."""
        def make():
            if self.encoder is not None:
                return self.encoder.inverse_transform(np.asarray(self.X, dtype=np.float64))
            if isinstance(self.X, pd.DataFrame):
                return self.X
            return pd.DataFrame(self.X, columns=self.feature_names)
        return self._timed("readable", make)

    def _frame_model(self):
        return EncodedModel(self.model, self.encoder) if self.encoder is not None else self.model

    # ------------------------------------------------------------------ cached parts
    def _contributions(self) -> tuple[Any, str]:
        """The contributions and how they were obtained (computed once)."""
        def make():
            if self.explanation is not None:
                return self.explanation, "given by the user"
            from ..contributions import explain_auto  # exact TreeSHAP where shap supports it

            with self._backend():  # on a cluster: estimator chunks run as Dask tasks
                return explain_auto(self.model, self.X, random_state=self._seed,
                                    n_jobs=self.parallel_jobs, progress=self.progress)
        return self._timed("contributions", make)

    @property
    def contribution_method(self) -> str:
        """How the contributions were obtained, in words (computes them if needed)."""
        return self._contributions()[1]

    @property
    def neighborhood_model(self):
        """The fitted :class:`~shap_debug.neighborhood.NeighborhoodModel` (contributions)."""
        from ..neighborhood import NeighborhoodModel

        def make():
            explanation = self._contributions()[0]
            import warnings

            # the fit(model, X, y) form: with the model as a constructor parameter, the
            # dose-response search's clone of the neighbourhood model clones the user's model
            # with scikit-learn's clone, which CatBoost refuses (to do: clone_model there)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return NeighborhoodModel(n_neighbors=self.n_neighbors,
                                         chunk_size=self.chunk_size,
                                         n_jobs=None if self.client is None else -1).fit(
                    self.model, self.X, self.y, explanation,
                    feature_names=self.feature_names, random_state=self._seed,
                    progress=self.progress)
        return self._timed("neighborhoods", make)

    @property
    def proba(self) -> np.ndarray:
        return self.neighborhood_model.proba_

    def accuracy(self) -> dict:
        """Train (and test) accuracy of the model."""
        out = {"train": float(np.mean(self._predictions() == self.y))}
        if self.X_test is not None:
            out["test"] = float(np.mean(self._test_predictions() == self.y_test))
        return out

    def _predictions(self) -> np.ndarray:
        """The model's labels for the training rows (the neighbourhood model's once it is
        fitted; no contributions are computed for them)."""
        if "neighborhoods" in self._cache:
            return self._cache["neighborhoods"].predicted_labels_
        return self._timed("predictions", lambda: self._predict(self.X))

    def _predict(self, X: Any) -> np.ndarray:
        proba = predict_proba_fn(self.model)(X)
        return classes_of(self.model, proba.shape[1])[proba.argmax(1)]

    def _test_proba(self) -> np.ndarray:
        return self._timed("test_proba", lambda: predict_proba_fn(self.model)(self.X_test))

    def _test_predictions(self) -> np.ndarray:
        proba = self._test_proba()
        return classes_of(self.model, proba.shape[1])[proba.argmax(1)]

    def anomalies(self, held_out: bool = False) -> pd.DataFrame:
        """Rows the model gets wrong, most confidently wrong first: ``row`` (position, what
        :meth:`inspect` takes), ``index`` (the user's own label), ``true_label``,
        ``predicted_label``, ``confidence``.

        ``held_out=True``: the test rows instead (the errors users meet on new data;
        ``row`` is then a position in ``X_test``). Without a test split it raises.
        """
        if held_out:
            if self.X_test is None:
                raise ValueError("held_out=True needs X_test and y_test")
            proba = self._test_proba()
            pred = self._test_predictions()
            idx = np.flatnonzero(pred != self.y_test)
            conf = proba[idx].max(axis=1)
            order = np.argsort(-conf, kind="stable")
            return pd.DataFrame({
                "row": idx[order], "index": self.test_labels[idx[order]],
                "true_label": self.y_test[idx[order]], "predicted_label": pred[idx[order]],
                "confidence": conf[order]})
        nm = self.neighborhood_model
        idx = np.asarray(nm.anomalies_)
        conf = nm.proba_[idx, nm.predicted_[idx]]
        order = np.argsort(-conf, kind="stable")
        return pd.DataFrame({
            "row": idx[order], "index": self.row_labels[idx[order]],
            "true_label": self.y[idx[order]],
            "predicted_label": nm.predicted_labels_[idx[order]], "confidence": conf[order],
        })

    def global_ale(self, target: int):
        """ALE over (a sample of) the whole training set, for contrast."""
        from ..explanations.ale import neighborhood_ale

        def make():
            frame = self.readable_frame()
            rng = np.random.default_rng(self._seed)
            take = np.sort(rng.choice(len(frame), min(len(frame), 3000), replace=False))
            return neighborhood_ale(self._frame_model(), frame.iloc[take], target=target,
                                    progress=False)
        return self._timed(f"ale_global_{target}", make)

    def _rule_explainer(self):
        from ..explanations.rules import RuleExplainer

        return self._timed("rule_explainer", lambda: RuleExplainer(
            self._frame_model(), self.readable_frame(), random_state=self._seed))

    def _influence(self):
        """An InfluenceFunction when the model (or a Pipeline's last step) allows one."""
        from ._inspect import influence_function

        return self._timed("influence", lambda: influence_function(self.model, self.X, self.y))

    # ------------------------------------------------------------------ inspect
    def inspect(self, i: int) -> Inspection:
        """Inspect one anomaly (a training-row position; see :meth:`anomalies`)."""
        from ._inspect import inspect

        return inspect(self, i)

    # ------------------------------------------------------------------ overview, evidence
    def _readable_test(self) -> pd.DataFrame | None:
        """The held-out rows with readable values (decoded once)."""
        if self.X_test is None:
            return None

        def make():
            if self.encoder is not None:
                return self.encoder.inverse_transform(np.asarray(self.X_test,
                                                                 dtype=np.float64))
            if isinstance(self.X_test, pd.DataFrame):
                return self.X_test
            return pd.DataFrame(self.X_test, columns=self.feature_names)
        return self._timed("readable_test", make)

    # the parts the findings need, each computed once and shared by overview/findings
    def _integrity(self):
        from ..audit import integrity_flags

        return self._timed("integrity", lambda: integrity_flags(
            self.readable_frame(), self.y, self._readable_test()))

    def _cohorts(self):
        from ..audit import error_cohorts

        return self._timed("cohorts", lambda: error_cohorts(
            self.model, self.X, self.y, display_data=self.readable_frame(),
            random_state=self._seed))

    def _test_cohorts(self):
        """Error cohorts of the held-out rows the model gets wrong (None without a test
        split): the errors users meet on new data come first."""
        if self.X_test is None:
            return None
        from ..audit import error_cohorts

        return self._timed("test_cohorts", lambda: error_cohorts(
            None, self.X_test, self.y_test, display_data=self._readable_test(),
            y_pred=self._test_predictions(), random_state=self._seed))

    def _suspicious(self):
        from ..audit import suspicious_rows

        # three repeated K-fold splits: the top-10 was stable across seeds (0.87 overlap)
        # only then, 0.73 with one split (benchmarks/results/cohorts.json)
        return self._timed("suspicious", lambda: suspicious_rows(
            self.model, self.X, self.y, n_repeats=3, random_state=self._seed,
            n_jobs=self.parallel_jobs, progress=self.progress))

    @staticmethod
    def _scans() -> bool:
        """Whether the detectors of :func:`shap_debug.audit.scan` are available."""
        from .. import audit

        return getattr(audit, "scan", None) is not None

    def _signals(self) -> tuple:
        """Signals of :func:`shap_debug.audit.scan` (leakage, ID columns, shortcuts...),
        empty while that detector is not available."""
        from .. import audit

        scan = getattr(audit, "scan", None)
        if scan is None:
            return ()
        return self._timed("scan", lambda: tuple(scan(
            self.model, self.X, self.y, self.X_test, self.y_test, random_state=self._seed,
            progress=self.progress)))

    def overview(self) -> Overview:
        """What the debugger finds before any anomaly is inspected (computed once, cached).

        Accuracy, data-integrity flags, error cohorts (of the held-out errors first when a
        test split was given, then of the training rows), suspicious training rows
        (confident learning), how often rows recur in anomaly neighbourhoods, the
        contribution-space view and a logic formula for the anomalies. A part that raises
        is recorded in ``failures`` with its reason (and a warning); a part that does not
        apply (no anomalies) in ``skipped``.

        Returns
        -------
        Overview
        """
        if "overview" in self._cache:
            return self._cache["overview"]
        from ..audit import ambiguity_report, collapsed_occurrence
        from ..blame import summary_flags
        from ..explanations.logic import anomaly_formula
        from ..neighborhood import space_view
        from ._findings import build_findings, findings_flags
        from ._inspect import recurring_table

        nm = self.neighborhood_model
        frame = self.readable_frame()
        anomalies = np.asarray(nm.anomalies_, dtype=np.int64)
        p = Parts(self.progress, "overview", self._backend)
        p.run("integrity", self._integrity)
        if self.X_test is not None:
            p.run("test-cohorts", self._test_cohorts)
            p.run("test-anomalies", lambda: self.anomalies(held_out=True))
        p.run("cohorts", self._cohorts)
        p.run("suspicious", self._suspicious)
        p.run("protected-flags", lambda: tuple(summary_flags(
            neighborhood=nm, protected=self.protected)) if self.protected else ())
        if len(anomalies) == 0:
            p.skipped["occurrence"] = no_anomaly_reason("occurrence")
        else:  # identical rows take one neighbourhood place and count once (issue 11)
            p.run("occurrence", lambda: (nm.occurrence(), recurring_table(
                collapsed_occurrence(nm), frame, self.y)))
        p.run("space-view", lambda: space_view(nm, max_rows=3000, random_state=self._seed))
        if len(anomalies) == 0:
            p.skipped["logic"] = no_anomaly_reason("logic")
        else:
            is_anom = np.zeros(len(self.X), dtype=bool)
            is_anom[anomalies] = True
            # the anomalies against the rows the model gets right (a trivial result carries
            # the sentence saying why there is no formula)
            p.run("logic", lambda: anomaly_formula(frame, is_anom, reference=~is_anom,
                                                   method="tree", max_depth=3,
                                                   random_state=self._seed))
        if p.values.get("cohorts") is not None and p.values.get("suspicious") is not None:
            p.run("ambiguity", lambda: ambiguity_report(
                self.model, self.X, self.y, p.values["cohorts"], display_data=frame,
                # contributions towards the prediction are read as binary; with more
                # classes the neighbours are found among standardised features instead
                contributions=nm.contributions_ if nm.proba_.shape[1] == 2 else None,
                suspicious=p.values["suspicious"],
                neighborhood=nm, integrity=p.values.get("integrity"),
                random_state=self._seed))
        occurrence, recurring_rows = p.values.get("occurrence", (None, None))
        out = self._overview_value(p, occurrence=occurrence, recurring_rows=recurring_rows,
                                   space_view=p.values.get("space-view"),
                                   formula=p.values.get("logic"),
                                   ambiguity=p.values.get("ambiguity"))
        findings = build_findings(out, row_labels=self.row_labels,
                                  feature_names=list(frame.columns))
        flags = findings_flags(findings, out, p.values.get("protected-flags", ()))
        out = dataclasses.replace(out, flags=flags)
        self._cache["overview"] = out
        return out

    def _overview_value(self, p: Parts, **parts: Any) -> Overview:
        labels, counts = np.unique(self.y, return_counts=True)
        n_classes = predict_proba_fn(self.model)(self.X[:1]).shape[1]
        return Overview(
            model_name=type(self.model).__name__, n_rows=len(self.X),
            n_features=self.X.shape[1],
            classes=tuple(classes_of(self.model, n_classes).tolist()),
            class_counts=dict(zip(labels.tolist(), counts.tolist())),
            accuracy=self.accuracy(),
            n_anomalies=int(np.sum(self._predictions() != self.y)),
            n_neighbors=self.n_neighbors, protected=tuple(self.protected),
            integrity=p.values.get("integrity"), cohorts=p.values.get("cohorts"),
            suspicious=p.values.get("suspicious"), failures=p.failures, skipped=p.skipped,
            timings=p.timings, n_test=0 if self.X_test is None else len(self.X_test),
            test_cohorts=p.values.get("test-cohorts"),
            test_anomalies=p.values.get("test-anomalies"), **parts)

    def fixes(self, n_repeats: int = 2) -> Any:
        """Fixes retrained (``n_repeats`` seeds each) and measured on held-out rows: cached
        :func:`shap_debug.fixes.verify_fixes`, reusing the suspicious rows when a test split
        was given (``FixReport.holdout`` says which rows were held out)."""
        from .. import fixes as fx

        sus = None if self.X_test is None else self._cache.get("suspicious")
        return self._timed(f"fixes_{n_repeats}", lambda: fx.verify_fixes(
            self.model, self.X, self.y, X_test=self.X_test, y_test=self.y_test,
            encoder=self.encoder, protected=self.protected or None, suspicious=sus,
            actions=self._fix_actions(), n_repeats=n_repeats, random_state=self._seed,
            n_jobs=self.parallel_jobs, progress=self.progress))

    def _fix_actions(self) -> Any:
        """Every family, plus the actions built from the detectors' signals (their fixes:
        drop a leaked column, recode a sentinel, regularise...) once those exist and a test
        split was given (actions with rows need the user's own held-out rows)."""
        from .. import fixes as fx

        make = getattr(fx, "signal_actions", None)
        if make is None or self.X_test is None:
            return "auto"
        extra = make(self._signals(), self.X, self.y, encoder=self.encoder)
        return list(fx.FAMILIES) + list(extra) if extra else "auto"

    def findings(self, *, fixes: bool = True) -> tuple:
        """The findings (:class:`~shap_debug.debugger.Finding`), strongest first, computing
        only what they need: accuracy, integrity, error cohorts, suspicious rows, the
        detectors of :func:`shap_debug.audit.scan` and (``fixes=True``) the verified fixes
        — no label-flip table, no inspected anomaly, no space view or formula.

        Returns
        -------
        tuple of Finding
        """
        from ._findings import build_findings

        ov = self._cache.get("overview")
        if ov is None:
            p = Parts(self.progress, "findings", self._backend)
            p.run("integrity", self._integrity)
            if self.X_test is not None:
                p.run("test-cohorts", self._test_cohorts)
            p.run("cohorts", self._cohorts)
            p.run("suspicious", self._suspicious)
            ov = self._overview_value(p)
        p = Parts(self.progress, "findings", self._backend)  # a failed part is left out
        signals = p.run("scan", self._signals) or ()
        fx = p.run("fixes", self.fixes) if fixes else None
        diag = None
        if fx is not None:
            from ..fixes import Diagnosis

            diag = Diagnosis.from_fixes(fx)
        return build_findings(ov, fixes=fx, diagnosis_value=diag, signals=signals,
                              scanned=self._scans() and "scan" not in p.failures,
                              row_labels=self.row_labels,
                              feature_names=list(self.readable_frame().columns))

    def _choose(self, anomalies: int | Sequence[int] | None) -> list[int]:
        if isinstance(anomalies, (int, np.integer)):
            count = check_int(anomalies, "anomalies", low=0)
            return self.anomalies()["row"].to_numpy()[:count].tolist()
        return [check_int(a, "anomalies", low=0, high=len(self.X) - 1)
                for a in (anomalies or [])]

    def evidence(self, anomalies: int | Sequence[int] | None = 3, *, label_flip: bool = True,
                 fixes: bool = True, dose: bool | int | str = "ladder",
                 notes: Sequence[str] = ()) -> Evidence:
        """Everything a report shows: the :meth:`overview`, the findings and the inspected
        anomalies.

        Parameters
        ----------
        anomalies : int or sequence of int or None
            How many of the most confidently wrong anomalies to inspect, or which rows.
        label_flip : bool
            Also run the label-flip influence check (retrains the model once per inspected
            anomaly and space; binary targets only, otherwise the reason is recorded).
        fixes : bool
            Also verify the candidate fixes on held-out rows (:meth:`fixes`; retrains a clone
            per action) and lead the diagnosis with their verdicts.
        dose : "ladder", bool or int
            The fewest relabelled neighbours per space that flip each anomaly
            (:func:`~shap_debug.blame.dose_response`): ``"ladder"`` brackets it
            within a factor of 4 (K, K/4, ...: a few retrains each), True searches it
            exactly (~2 log2(K) retrains each), an int also caps k; False skips it.
        notes : sequence of str
            Notes on how the data were prepared, shown in the report's summary.

        Returns
        -------
        Evidence
            Parts that raised are in ``failures``, parts that do not apply in ``skipped``,
            each with the sentence the report shows in their section.
        """
        if anomalies is not None and not isinstance(anomalies, (int, np.integer)):
            check_anomalies(anomalies, len(self.X))  # before any heavy work: range, repeats
        key = ("evidence", None if anomalies is None else (
            int(anomalies) if isinstance(anomalies, (int, np.integer))
            else tuple(int(a) for a in anomalies)), bool(label_flip), bool(fixes), dose,
            tuple(str(n) for n in notes))
        cached = self._cache.get(repr(key))
        if cached is not None:
            return cached
        out = self._evidence(anomalies, label_flip=label_flip, fixes=fixes, dose=dose,
                             notes=notes)
        self._cache[repr(key)] = out
        return out

    def _evidence(self, anomalies: Any, *, label_flip: bool, fixes: bool, dose: Any,
                  notes: Sequence[str]) -> Evidence:
        from ..blame import dose_response, recurring_rows
        from ._findings import (
            build_findings,
            diagnosis,
            findings_flags,
            label_flip_skip_reason,
            protected_effects,
            section_headlines,
        )

        t_start = time.perf_counter()
        if not isinstance(anomalies, (int, np.integer)):  # checked before any heavy work
            self._choose(anomalies)
        overview = self.overview()
        chosen = self._choose(anomalies)
        nm = self.neighborhood_model
        p = Parts(self.progress, "evidence")
        why_not = label_flip_skip_reason(overview, chosen)  # binary-only, needs an anomaly
        if label_flip:
            if why_not is not None:
                p.skipped["label-flip"] = why_not
            else:
                p.run("label-flip", lambda: self._label_flips(chosen), timing="label_flip")
        if fixes:
            p.run("fixes", self.fixes, timing="fixes")
        p.run("scan", self._signals)
        p.run("recurring", lambda: recurring_rows(nm, random_state=self._seed))
        if dose is not False and why_not is None:
            p.run("dose", lambda: dose_response(
                nm, chosen, k_max=None if dose in (True, "ladder") else dose,
                search="ladder" if dose == "ladder" else "doubling+bisection",
                n_jobs=self.parallel_jobs, random_state=self._seed,
                progress=self.progress), timing="dose")
        inspections = {}
        for i in chosen:
            ins = p.run(f"anomaly-{i}", lambda i=i: self.inspect(i), timing=f"anomaly {i}")
            if ins is not None:
                inspections[i] = ins
        protected = None
        if self.protected:
            protected, why = protected_effects(inspections, self.protected)
            if why is not None:
                p.skipped["protected"] = why
        trials, trial_summary = p.values.get("label-flip", (None, None))
        fx = p.values.get("fixes")
        diag = None
        if fx is not None:
            from ..fixes import Diagnosis

            diag = Diagnosis.from_fixes(fx)
        findings = build_findings(overview, fixes=fx, diagnosis_value=diag,
                                  signals=p.values.get("scan", ()),
                                  scanned=self._scans() and "scan" not in p.failures,
                                  row_labels=self.row_labels,
                                  feature_names=list(self.readable_frame().columns))
        flags = findings_flags(findings, overview, [
            f for f in overview.flags if f.anchor == "#neighborhoods"])
        timings = {**overview.timings,
                   **{k: v for k, v in self.timings.items() if not k.startswith("inspect_")},
                   **p.timings, "evidence total": time.perf_counter() - t_start}
        return Evidence(
            overview=overview, anomalies=tuple(chosen), inspections=inspections,
            label_flip=bool(label_flip), label_flips=trials, label_flip_summary=trial_summary,
            protected_effects=protected, notes=tuple(str(n) for n in notes) + (
                f"Contributions: {self.contribution_method}.",),
            failures=p.failures, skipped=p.skipped, timings=timings,
            diagnosis=diagnosis(findings, overview, inspections, fx, diag,
                                p.values.get("dose")),
            fixes=fx, dose=p.values.get("dose"), recurring=p.values.get("recurring"),
            findings=findings, flags=flags,
            headlines=section_headlines(findings, fx, diag),
            best_fix=diag.proposed[0] if diag is not None and diag.proposed else None,
            row_labels=tuple(_plain_label(r) for r in self.row_labels[list(chosen)]))

    def _label_flips(self, chosen: Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
        from ..blame import label_flip_check, label_flip_summary

        with self._backend():
            trials = label_flip_check(
                self.model, list(chosen), X=self.X, y=self.y, n_neighbors=self.n_neighbors,
                contributions=self.neighborhood_model.contributions_,
                random_state=self._seed, n_jobs=self.parallel_jobs,
                progress=self.progress).to_frame()
        return trials, label_flip_summary(trials)

    # ------------------------------------------------------------------ report
    def report(self, anomalies: int | Sequence[int] | None = 3,
               path: str | Path = "debug-report.html", *, title: str | None = None,
               label_flip: bool = True, fixes: bool = True, dose: bool | int | str = "ladder",
               notes: Sequence[str] = (), json_path: str | Path | None = None) -> Path:
        """Write a self-contained HTML debugging report and return its path.

        The values come from :meth:`evidence`; :func:`shap_debug.report.render_report`
        only renders them.

        Parameters
        ----------
        anomalies : int or sequence of int or None
            How many of the most confidently wrong anomalies to inspect, or which rows.
        path : str or Path
        title : str, optional
        label_flip : bool
            Also run the label-flip influence check (retrains the model once per inspected
            anomaly and space).
        fixes, dose
            Verify fixes on held-out rows / the dose-response's search (:meth:`evidence`).
        notes : sequence of str
            Notes on how the data were prepared, shown in the summary.
        json_path : str or Path, optional
            Also write :meth:`Evidence.to_json` (the findings) there.
        """
        from ..report import render_report

        evidence = self.evidence(anomalies, label_flip=label_flip, fixes=fixes, dose=dose,
                                 notes=notes)
        path = Path(path)
        _write_atomically(path, render_report(evidence, title=title))
        if json_path is not None:
            _write_atomically(Path(json_path), evidence.to_json() + "\n")
        return path

    # ------------------------------------------------------------------ save / load
    _SETTINGS = ("feature_names", "protected", "n_neighbors", "budget", "n_top_features",
                 "n_jobs", "progress", "chunk_size", "_seed")

    def save(self, path: str | Path) -> Path:
        """Save the data, the settings and everything computed so far to the folder
        ``path`` (``values.json`` + ``arrays.npz``; no pickle). The model is not saved:
        :meth:`load` takes it.

        A report asked for again after :meth:`load` with the same arguments is re-rendered
        from the saved values without recomputing; helper models inside results (the error
        tree, the refit baseline) and the neighbour index are not saved (the index is rebuilt
        from the saved contributions when needed).

        Returns
        -------
        Path
        """
        from ._store import write_store

        cache = {k: v for k, v in self._cache.items() if k not in ("neighborhoods",
                                                                   "rule_explainer",
                                                                   "influence")}
        value = {"settings": {k: getattr(self, k) for k in self._SETTINGS},
                 "X": self.X, "y": self.y, "X_test": self.X_test, "y_test": self.y_test,
                 "row_labels": self.row_labels, "test_labels": self.test_labels,
                 "encoder": self.encoder,
                 "explanation": self.explanation, "timings": dict(self.timings),
                 "cache": cache}
        write_store(path, value, meta={"model": type(self.model).__name__})
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, model: Any) -> Debugger:
        """A Debugger saved with :meth:`save`, for ``model`` (the same fitted model).

        Examples
        --------
        >>> import tempfile
        >>> from sklearn.linear_model import LogisticRegression
        >>> from shap_debug.datasets import german, encode
        >>> X, y = german(); Z, enc = encode(X)
        >>> lr = LogisticRegression(max_iter=3000).fit(Z, y)
        >>> dbg = Debugger(lr, Z, y, encoder=enc, progress=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     back = Debugger.load(dbg.save(d), lr)
        >>> back.n_neighbors == dbg.n_neighbors
        True
        """
        from ._store import read_store

        value, head = read_store(path)
        s = value["settings"]
        dbg = cls(model, value["X"], value["y"], value["explanation"],
                  protected=s["protected"], encoder=value["encoder"],
                  feature_names=s["feature_names"], X_test=value["X_test"],
                  y_test=value["y_test"], n_neighbors=s["n_neighbors"], budget=s["budget"],
                  n_top_features=s["n_top_features"], random_state=s["_seed"],
                  n_jobs=s["n_jobs"], progress=s["progress"], chunk_size=s["chunk_size"])
        dbg.row_labels = np.asarray(value["row_labels"])
        dbg.test_labels = (None if value["test_labels"] is None
                           else np.asarray(value["test_labels"]))
        dbg._cache.update(value["cache"])
        dbg.timings.update(value["timings"])
        return dbg

    def __getstate__(self) -> dict[str, Any]:
        """Pickles everything but cached helpers that hold the model behind a closure
        (they are rebuilt on use) and the Dask client; the model itself must pickle."""
        import pickle

        state = dict(self.__dict__)
        cache = {}
        for key, value in self._cache.items():
            try:
                pickle.dumps(value)
            except Exception:  # a helper wrapping the model in a local function
                continue
            cache[key] = value
        state["_cache"] = cache
        state["client"] = None  # a Dask client belongs to this process
        return state

    def __repr__(self) -> str:
        return (f"Debugger({type(self.model).__name__}, n={len(self.X)}, m={self.X.shape[1]}, "
                f"classes={len(np.unique(self.y))}, K={self.n_neighbors})")

    def _repr_html_(self) -> str:
        settings = {
            "model": type(self.model).__name__, "training rows": len(self.X),
            "features": self.X.shape[1], "classes": len(np.unique(self.y)),
            "K (neighbours)": self.n_neighbors, "B (representatives)": self.budget,
            "NF (top features)": self.n_top_features, "protected": ", ".join(
                self.protected) or "none", "test rows": 0 if self.X_test is None else len(
                self.X_test), "computed": ", ".join(sorted(self.timings)) or "nothing yet"}
        frame = pd.DataFrame({"setting": list(settings), "value": list(map(str, settings.values()))})
        return section_html("Debugger", table_html(frame, max_rows=len(frame)))
