"""Benchmark: the whole debugging pipeline of ``make report`` at 1x, 4x, 16x and 64x Adult.

``make report`` (:mod:`shap_debug.cli`) trains scikit-learn's GradientBoostingClassifier
(random_state=0) on an 80/20 stratified split of the ordinal-encoded Adult training file and
runs ``Debugger(...).report(3)``. This script runs the same pipeline stage by stage on Adult
replicated ``r`` times, each size in a child process of its own:

- ``1x`` is Adult itself (32,561 rows, 26,048 training rows); ``r``x keeps those rows and
  adds ``(r - 1) * 32,561`` rows drawn with replacement whose numeric columns get Gaussian
  jitter (1 % of the column's standard deviation), labels kept, so the copies are not exact
  duplicates and the neighbourhood / integrity stages cannot shortcut them.
- Stages: ``data`` (replicate, encode, split), ``fit model``, ``contributions``
  (:func:`shap_debug.explain`, what ``Debugger.neighborhood_model`` runs), ``neighbourhoods``
  (``Debugger.neighborhood_model``: predictions, the kNN index), ``readable frame``, then
  every part of ``Debugger.overview()`` (integrity, cohorts, suspicious, flags, occurrence,
  space-view, logic) and of ``Debugger.evidence(3)`` (label_flip, inspect #1-#3), each
  measured by wrapping the Debugger's own part runner, and ``report`` (rendering the HTML).
  ``fixes`` (32 fits) and ``dose`` (the ladder, ~20 fits) run up to 4x; above it they are
  skipped and their cost is their fit count times ``fit model`` (``skipped_stages``).
- Wall time (``time.perf_counter``), CPU time (``time.process_time``) and the *peak
  resident memory of each stage*: Linux's high-water mark ``VmHWM`` of the child process is
  reset (``echo 5 > /proc/self/clear_refs``) before the stage and read after it, so each
  stage's peak is exact (not sampled) and includes what earlier stages still hold; the
  pipeline's peak is the largest stage peak (``ru_maxrss`` cannot serve: the reset clears
  it too). The machine may be shared: CPU time is the steadier measure then, and both
  are fitted.

Per stage the growth exponent ``b`` of ``time ~ n^b`` (wall and CPU time) is fitted by
least squares on log-log over the sizes from 4x up (and over all sizes), and each size names
the stage that dominates. The machine's load average is sampled while the children run and recorded (the
benchmark machine was shared with other jobs: see ``machine.load_average``).

Run: ``python benchmarks/scale.py [--sizes 1 4 16] [--quick] [--core-only] [--plot]``;
results merge into ``benchmarks/results/scale.json`` (one entry per size and mode), the
log-log plot goes to ``docs/img/scale_loglog.png``. ``--quick`` starts from a 4,000-row
sample of Adult (sizes 1 4 16 by default, about a minute). ``--core-only`` runs only the
stages up to the occurrence counts (contributions and neighbourhoods), for sizes where the
whole pipeline would take hours.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# this checkout's shap_debug, not an installed one; benchmarks/ for _common (also when a
# test loads this file by its path)
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402

from _common import SCHEMA, parser, run_info  # noqa: E402

PLOT = Path(__file__).parent.parent / "docs" / "img" / "scale_loglog.png"
JITTER = 0.01
QUERIES = "neighbour queries"   # flags + occurrence (full) = occurrence (K) + collapsed (core)
CORE_STAGES = ("contributions", "neighbourhoods", QUERIES)


# --------------------------------------------------------------------------- memory
def _status(field: str) -> float:
    """A ``/proc/self/status`` field in MB (VmRSS, VmHWM)."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", text).group(1)) / 1024


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Meter:
    """Wall time, CPU time and peak RSS per stage (VmHWM reset at each stage's start)."""

    def __init__(self) -> None:
        self.stages: dict[str, dict] = {}
        self.exact_peak = _reset_peak()

    @contextlib.contextmanager
    def stage(self, name: str):
        rss0 = _status("VmRSS")
        self.exact_peak = _reset_peak() and self.exact_peak
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            peak = _status("VmHWM")
            self.stages[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                                 "peak_rss_mb": round(peak, 1),
                                 "rss_before_mb": round(rss0, 1),
                                 "peak_above_start_mb": round(peak - rss0, 1),
                                 "rss_after_mb": round(_status("VmRSS"), 1)}
            print(f"  {name:<16s} {wall:9.2f} s  peak {peak:8.0f} MB", file=sys.stderr,
                  flush=True)


# --------------------------------------------------------------------------- data
def make_data(factor: int, seed: int = 0, base_rows: int | None = None,
              grow: str = "jitter"):
    """Adult grown ``factor`` times: the original rows plus ``(factor - 1) * n`` new ones.

    ``grow="jitter"`` (the runs up to now): resampled copies whose numeric columns get
    1 % Gaussian jitter, labels kept. The jitter crosses almost no split threshold of the
    trees, so most copies get their original's contribution vector exactly (42 % distinct
    at 4x, 3.1 % at 64x): the neighbour stage then answers ties, not new rows.

    ``grow="interpolate"``: each new row lies between a random row ``a`` and one of its 5
    nearest rows ``b`` *of the same label* (standardised numeric columns): numeric columns
    ``a + u (b - a)`` with ``u ~ U(0, 1)`` per row, each categorical column taken from
    ``a`` (probability ``1 - u``) or ``b``; the label is theirs (SMOTE's interpolation,
    Chawla et al. 2002, over all columns). The rows keep Adult's marginals and the
    dependence between columns and with the label approximately, and the new numeric
    values fall between observed ones, so they land on both sides of the trees' split
    thresholds and the contribution vectors stay distinct.
    """
    import pandas as pd

    from shap_debug.datasets import adult

    if grow not in ("jitter", "interpolate"):
        raise ValueError(f"grow must be 'jitter' or 'interpolate'; got {grow!r}")
    X, y = adult()
    if base_rows is not None and base_rows < len(X):
        take = np.sort(np.random.default_rng(seed).choice(len(X), base_rows, replace=False))
        X, y = X.iloc[take].reset_index(drop=True), y[take]
    if factor == 1:
        return X, y
    rng = np.random.default_rng(seed + factor)
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    extra = rng.integers(0, len(X), size=(factor - 1) * len(X))
    Xe = X.iloc[extra].reset_index(drop=True)
    if grow == "jitter":
        for col in numeric:
            sd = float(X[col].std())
            Xe[col] = Xe[col].astype(np.float64) + rng.normal(0.0, JITTER * sd, len(Xe))
    else:
        partner = _same_label_neighbours(X[numeric].to_numpy(np.float64), y, 5)
        b = partner[extra, rng.integers(0, partner.shape[1], size=len(extra))]
        u = rng.uniform(size=len(extra))
        Xb = X.iloc[b].reset_index(drop=True)
        for col in numeric:
            a_v = Xe[col].to_numpy(np.float64)
            Xe[col] = a_v + u * (Xb[col].to_numpy(np.float64) - a_v)
        for col in X.columns.difference(numeric):
            pick_b = rng.uniform(size=len(extra)) < u
            Xe[col] = Xe[col].where(~pick_b, Xb[col].to_numpy())
    X = pd.concat([X.astype({c: np.float64 for c in numeric}), Xe], ignore_index=True)
    return X, np.concatenate([y, y[extra]])


def _same_label_neighbours(A: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """For each row, its ``k`` nearest rows with the same label and *other* numeric values
    (standardised columns; a partner with equal values would make a copy)."""
    from sklearn.neighbors import NearestNeighbors

    A = (A - A.mean(0)) / np.where(A.std(0) > 0, A.std(0), 1.0)
    out = np.empty((len(A), k), dtype=np.int64)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        uniq, inv = np.unique(A[rows], axis=0, return_inverse=True)
        inv = np.asarray(inv).ravel()
        kk = min(k + 1, len(uniq))
        _, idx = NearestNeighbors(n_neighbors=kk).fit(uniq).kneighbors(uniq)
        near = idx[:, 1:] if kk > 1 else idx          # distinct values, the point's own left out
        near = near[:, np.arange(k) % near.shape[1]]
        first = np.full(len(uniq), -1, dtype=np.int64)  # a row holding each distinct value
        first[inv[::-1]] = rows[::-1]
        out[rows] = first[near[inv]]
    return out


# --------------------------------------------------------------------------- child
#: sizes above this skip the fixes and the dose-response (see run_child)
RETRAIN_STAGES_UP_TO = 4


def run_child(factor: int, seed: int, base_rows: int | None, core_only: bool,
              progress: bool, cache: Path | None = None, grow: str = "jitter") -> dict:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    import shap_debug.debugger._values as dmod
    from shap_debug.contributions import explain
    from shap_debug.datasets import encode
    from shap_debug.debugger import Debugger

    provenance = _provenance()  # the code that runs: read at the start, not at the end
    m = Meter()
    with m.stage("data"):
        X, y = make_data(factor, seed, base_rows, grow)
        Z, enc = encode(X, kind="ordinal")
        tr, te = train_test_split(np.arange(len(Z)), test_size=0.2, random_state=seed,
                                  stratify=y)
    with m.stage("fit model"):
        model = GradientBoostingClassifier(random_state=seed).fit(Z[tr], y[tr])
    stem = None if cache is None else cache / f"contributions-{factor}x-{seed}-{base_rows}"
    if stem is not None and stem.with_suffix(".npz").exists():  # not timed: measured before
        import shap

        saved = np.load(stem.with_suffix(".npz"))
        exp = shap.Explanation(values=saved["values"], base_values=saved["base"],
                               data=Z[tr], feature_names=list(enc.feature_names_out_),
                               output_names=[str(c) for c in model.classes_])
    else:
        with m.stage("contributions"):
            exp = explain(model, Z[tr], random_state=seed, progress=progress)
        if stem is not None:
            stem.parent.mkdir(parents=True, exist_ok=True)
            np.savez(stem.with_suffix(".npz"), values=exp.values, base=exp.base_values)
    protected = [p for p in ("sex", "race") if p in X.columns]
    dbg = Debugger(model, Z[tr], y[tr], exp, encoder=enc, X_test=Z[te], y_test=y[te],
                   protected=protected, random_state=seed, progress=progress)
    del exp
    with m.stage("neighbourhoods"):
        nm = dbg.neighborhood_model
    with m.stage("readable frame"):
        dbg.readable_frame()
    out = {"n_rows": int(len(Z)), "n_train": int(len(tr)), "n_features": int(Z.shape[1]),
           "n_anomalies": int(len(nm.anomalies_)), "n_neighbors": int(dbg.n_neighbors),
           "knn_algorithm": getattr(nm.nn_, "_fit_method", None), "grow": grow,
           "distinct_space_rows": int(np.unique(nm.space_matrix_, axis=0).shape[0])}
    out["distinct_share"] = round(out["distinct_space_rows"] / len(tr), 4)
    if core_only:
        from shap_debug.audit import collapsed_occurrence

        with m.stage("occurrence (K)"):
            occ = nm.occurrence()
        with m.stage("collapsed occurrence (3K)"):
            collapsed_occurrence(nm)
        out["occurrence_top"] = occ.top(5).tolist()
    else:
        names: dict[str, str] = {}
        original = dmod.Parts.run

        def run(self, key, fn, timing=None):
            label = timing or key
            if label.startswith("anomaly "):
                label = names.setdefault(label, f"inspect #{len(names) + 1}")
            with m.stage(label):
                return original(self, key, fn, timing)

        dmod.Parts.run = run
        overview = dbg.overview()
        # the verified fixes (32 fits) and the dose-response ladder (~20 fits) are fits of
        # the whole model, bounded by their own parameters: measured up to 4x, and above it
        # their cost is their fit count times the 'fit model' stage (said in the JSON)
        heavy = factor <= RETRAIN_STAGES_UP_TO or base_rows is not None
        evidence = dbg.evidence(3, label_flip=True, fixes=heavy,
                                dose="ladder" if heavy else False)
        if not heavy:
            out["skipped_stages"] = {
                "fixes": f"not run above {RETRAIN_STAGES_UP_TO}x: 16 actions x 2 seeds = 32 "
                         "fits of the model, i.e. about 32 x the 'fit model' stage",
                "dose": f"not run above {RETRAIN_STAGES_UP_TO}x: the ladder costs 1 + "
                        "(flipping rungs) fits per anomaly and space, about 20 fits"}
        from shap_debug.report import render_report

        with m.stage("report"), tempfile.TemporaryDirectory() as tmp:
            html = render_report(evidence, title=f"scale {factor}x")
            (Path(tmp) / "report.html").write_text(html, encoding="utf-8")
        out["failures"] = {**overview.failures, **evidence.failures}
        out["occurrence_top"] = (overview.occurrence.top(5).tolist()
                                 if overview.occurrence is not None else None)
        out["report_kb"] = round(len(html.encode()) / 1024, 1)
    out["stages"] = m.stages
    out["exact_stage_peaks"] = m.exact_peak
    out["shap_debug"] = provenance
    return out


# --------------------------------------------------------------------------- kNN index
def run_knn(factor: int, seed: int, n_queries: int = 1000, k: int = 2000,
            grow: str = "jitter", algorithms: tuple[str, ...] = (
                "kd_tree", "kd_tree, tree order", "ball_tree", "brute", "distinct kd_tree")
            ) -> dict:
    """Brute force vs KD-tree vs ball tree on contribution vectors at ``factor``x Adult.

    The vectors are exact path-dependent TreeSHAP values of the same GB towards each row's
    predicted class (seconds to compute, the same 12-d geometry as the interventional values
    the pipeline uses, which take minutes); ``n_queries`` random anomalies are queried for
    ``K`` neighbours each (in random order, and for the KD-tree also sorted by the tree's
    order, as the occurrence counts query them) and the time is scaled to all anomalies.
    ``"distinct kd_tree"`` is :class:`shap_debug.neighborhood._query.DistinctIndex` (a
    KD-tree on the distinct vectors with their multiplicities, what
    ``NeighborhoodModel(distinct=True)`` builds).
    """
    import shap
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import NearestNeighbors

    from shap_debug.datasets import encode

    X, y = make_data(factor, seed, grow=grow)
    Z, _ = encode(X, kind="ordinal")
    tr, _ = train_test_split(np.arange(len(Z)), test_size=0.2, random_state=seed, stratify=y)
    Z, y = Z[tr], y[tr]
    model = GradientBoostingClassifier(random_state=seed).fit(Z, y)
    pred = model.predict_proba(Z).argmax(1)
    raw = np.asarray(shap.TreeExplainer(model).shap_values(Z))
    contrib = np.where(pred[:, None] == 1, raw, -raw)
    anomalies = np.flatnonzero(model.classes_[pred] != y)
    q = np.random.default_rng(seed).choice(anomalies, min(n_queries, len(anomalies)),
                                           replace=False)
    out = {"factor": factor, "n_train": int(len(Z)), "n_anomalies": int(len(anomalies)),
           "n_queries": int(len(q)), "k": k, "grow": grow, "algorithms": {},
           "distinct_share": round(len(np.unique(contrib, axis=0)) / len(contrib), 4)}
    from shap_debug.neighborhood import index_positions
    from shap_debug.neighborhood._query import DistinctIndex

    for algo in algorithms:
        t0 = time.perf_counter()
        nn = (DistinctIndex(algorithm="kd_tree") if algo.startswith("distinct")
              else NearestNeighbors(algorithm=algo.split(",")[0])).fit(contrib)
        t_fit = time.perf_counter() - t0
        qq = q[np.argsort(index_positions(nn, len(contrib))[q])] if "order" in algo else q
        _reset_peak()
        rss0 = _status("VmRSS")
        t0, c0 = time.perf_counter(), time.process_time()
        for s in range(0, len(qq), 250):
            nn.kneighbors(contrib[qq[s:s + 250]], n_neighbors=k + 1)
        t_q, c_q = time.perf_counter() - t0, time.process_time() - c0
        out["algorithms"][algo] = {
            "fit_s": round(t_fit, 3), "query_s": round(t_q, 3), "query_cpu_s": round(c_q, 3),
            "ms_per_query": round(1e3 * t_q / len(q), 3),
            "cpu_ms_per_query": round(1e3 * c_q / len(q), 3),
            "all_anomalies_s": round(t_q / len(q) * len(anomalies), 1),
            "all_anomalies_cpu_s": round(c_q / len(q) * len(anomalies), 1),
            "peak_above_start_mb": round(_status("VmHWM") - rss0, 1)}
        print(f"  {factor}x {algo:<9s} fit {t_fit:6.2f} s, {1e3 * t_q / len(q):7.2f} ms/query",
              file=sys.stderr, flush=True)
    return out


def run_ties(factor: int, seed: int, cache: Path) -> dict:
    """Share of distinct contribution vectors and the KD-tree build time at ``factor``x,
    from the contributions a run kept in ``cache`` (``--cache``): why the index build grows
    faster than the queries (copies whose jitter crosses no split threshold of the trees get
    identical contributions, and the build's median partitions slow down on ties)."""
    from sklearn.neighbors import NearestNeighbors

    M = np.load(cache / f"contributions-{factor}x-{seed}-None.npz")["values"]
    M = M[:, :, 1] if M.ndim == 3 else M  # the second class's column (ties are the same)
    c0 = time.process_time()
    NearestNeighbors(algorithm="kd_tree").fit(M)
    build = time.process_time() - c0
    distinct = int(np.unique(M, axis=0).shape[0])
    return {"n_train": int(len(M)), "distinct_rows": distinct,
            "distinct_share": round(distinct / len(M), 4), "kd_tree_build_cpu_s": round(build, 2)}


# --------------------------------------------------------------------------- parent
class LoadSampler(threading.Thread):
    """The 1-minute load average every few seconds while children run."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.values, self._stop = every, [], threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            self.values.append(os.getloadavg()[0])
            self._stop.wait(self.every)

    def stop(self) -> dict:
        self._stop.set()
        v = self.values or [os.getloadavg()[0]]
        return {"mean": round(float(np.mean(v)), 2), "max": round(float(np.max(v)), 2)}


def run_size(factor: int, args: argparse.Namespace) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        path = fh.name
    cmd = [sys.executable, __file__, "--child", str(factor), "--child-out", path,
           "--seed", str(args.seed)]
    if args.quick:
        cmd.append("--quick")
    if args.core_only:
        cmd.append("--core-only")
    if args.progress:
        cmd.append("--progress")
    if args.cache:
        cmd += ["--cache", str(args.cache)]
    cmd += ["--grow", args.grow]
    print(f"{factor}x Adult{' (core only)' if args.core_only else ''} ...", file=sys.stderr,
          flush=True)
    sampler = LoadSampler()
    sampler.start()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, _ = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    load = sampler.stop()
    try:
        res = json.loads(Path(path).read_text()) if proc.returncode == 0 else {
            "error": f"child exited with {proc.returncode}"}
    finally:
        Path(path).unlink(missing_ok=True)
    res.update({"factor": factor, "mode": "core" if args.core_only else "full",
                "quick": bool(args.quick), "total_wall_s": round(time.perf_counter() - t0, 1),
                "load_average": load, "cpus": os.cpu_count(),
                "shared_machine": bool(load["max"] > (os.cpu_count() or 1)),
                "when": time.strftime("%Y-%m-%d %H:%M:%S")})
    return _summarise(res)


def _summarise(res: dict) -> dict:
    """Derived figures of one run: the neighbour-query stage, the dominant stage, totals."""
    if "stages" not in res:
        return res
    st = res["stages"]
    parts = [st[k] for k in (("flags", "occurrence") if "flags" in st else
                             ("occurrence (K)", "collapsed occurrence (3K)")) if k in st]
    if parts:  # the kNN work of both modes: the K query and the 3K collapsed query
        st[QUERIES] = {"wall_s": round(sum(p["wall_s"] for p in parts), 3),
                       "cpu_s": round(sum(p["cpu_s"] for p in parts), 3),
                       "peak_rss_mb": max(p["peak_rss_mb"] for p in parts),
                       "peak_above_start_mb": max(p["peak_above_start_mb"] for p in parts),
                       "derived": True}
    pipeline = {k: v for k, v in st.items() if k != "data" and not v.get("derived")}
    res["dominant_stage"] = max(pipeline, key=lambda k: pipeline[k]["wall_s"])
    res["dominant_stage_cpu"] = max(pipeline, key=lambda k: pipeline[k]["cpu_s"])
    res["pipeline_cpu_s"] = round(sum(v["cpu_s"] for v in pipeline.values()), 1)
    res["pipeline_wall_s"] = round(sum(v["wall_s"] for v in pipeline.values()), 1)
    res["pipeline_peak_rss_mb"] = max(v["peak_rss_mb"] for v in st.values())
    return res


def _key(r: dict) -> str:
    grow = r.get("grow", "jitter")
    return (f"{r['factor']}x-{r['mode']}{'-quick' if r.get('quick') else ''}"
            f"{'' if grow == 'jitter' else '-' + grow}")


def _latest(runs: list[dict], stage: str) -> dict[int, dict]:
    """Per size, the most recent run that measured ``stage`` (a rerun of some stages with
    newer code replaces the older numbers of those stages only)."""
    out: dict[int, dict] = {}
    for r in sorted(runs, key=lambda r: r.get("when", "")):
        if "stages" in r and stage in r["stages"]:
            out[r["factor"]] = r
    return out


def exponents(runs: list[dict], quick: bool) -> dict:
    """Least-squares slope of log(wall time) and of log(CPU time) on log(n_train) per stage,
    over the sizes from 4x up and over all sizes."""
    out: dict[str, dict] = {}
    runs = [r for r in runs if "stages" in r and r.get("quick", False) == quick]
    stages = sorted({s for r in runs for s in r["stages"]})
    for s in stages:
        pts: dict[int, tuple[float, float, float]] = {}
        for f, r in _latest(runs, s).items():
            st = r["stages"][s]
            pts[f] = (r["n_train"], st["wall_s"], st.get("cpu_s", st["wall_s"]))
        entry: dict = {"sizes": sorted(pts)}
        for label, keep in (("from_4x", lambda f: f >= 4), ("all", lambda f: True)):
            sel = [v for f, v in pts.items() if keep(f)]
            if len(sel) >= 2:
                n, t, c = (np.asarray(a, dtype=np.float64) for a in zip(*sel))
                for name, y in (("time", t), ("cpu", c)):
                    slope = np.polyfit(np.log(n), np.log(np.maximum(y, 1e-3)), 1)[0]
                    entry[f"{name}_exponent_{label}"] = round(float(slope), 3)
        out[s] = entry
    return out


def extrapolate(runs: list[dict], expo: dict, factor: int, quick: bool) -> dict:
    """Predicted wall and CPU seconds per stage at ``factor`` from the largest full run,
    with each stage's exponent from 4x up (all sizes when fewer)."""
    full = [r for r in runs if r.get("mode") == "full" and "stages" in r
            and r.get("quick", False) == quick]
    if not full:
        return {}
    ref = max(full, key=lambda r: r["factor"])
    if ref["factor"] >= factor:
        return {}
    out: dict = {"from": f"{ref['factor']}x", "to": f"{factor}x"}
    for name, key in (("seconds", "wall_s"), ("cpu_seconds", "cpu_s")):
        pred = {}
        for s, v in ref["stages"].items():
            e = expo.get(s, {})
            prefix = "time" if key == "wall_s" else "cpu"
            b = e.get(f"{prefix}_exponent_from_4x", e.get(f"{prefix}_exponent_all", 1.0))
            pred[s] = round(v.get(key, v["wall_s"]) * (factor / ref["factor"]) ** max(b, 0.0),
                            1)
        pred["total"] = round(sum(pred.values()), 1)
        out[name] = pred
    return out


def plot(results: dict, path: Path = PLOT) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in results["runs"].values() if "stages" in r and not r.get("quick")]
    if not runs:
        runs = [r for r in results["runs"].values() if "stages" in r]
    by_stage: dict[str, dict[int, tuple]] = {}
    names = dict.fromkeys(s for r in runs for s in r["stages"])
    skip = {"data", "readable frame", "flags", "occurrence", "occurrence (K)",
            "collapsed occurrence (3K)", "space-view", "inspect #2", "inspect #3"}
    for s in names:
        if s in skip:
            continue
        for f, r in _latest(runs, s).items():
            v = r["stages"][s]
            by_stage.setdefault(s, {})[f] = (r["n_train"], v.get("cpu_s", v["wall_s"]),
                                             v["peak_rss_mb"])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 5))
    order = sorted(by_stage, key=lambda s: -max(t for _, t, _ in by_stage[s].values()))
    for s in order:
        pts = sorted(by_stage[s].values())
        n, t, mem = map(np.asarray, zip(*pts))
        style = "-o" if s in CORE_STAGES else "--."
        a1.loglog(n, np.maximum(t, 1e-2), style, label=s, lw=2 if s in CORE_STAGES else 1)
        a2.semilogx(n, mem / 1024, style, label=s, lw=2 if s in CORE_STAGES else 1)
    xs = np.array([2e4, 2e6])
    a1.loglog(xs, 1e-3 * xs, ":", color="grey", label="slope 1")
    a1.set_xlabel("training rows")
    a1.set_ylabel("CPU time per stage (s)")
    a1.set_title("time (log-log)")
    a2.set_xlabel("training rows")
    a2.set_ylabel("peak resident memory during the stage (GB)")
    a2.set_title("peak RSS of the process during each stage")
    a1.legend(fontsize=7, ncol=2)
    a1.grid(True, which="both", alpha=0.3)
    a2.grid(True, which="both", alpha=0.3)
    fig.suptitle("shap-debug pipeline on Adult replicated 1x-64x (GradientBoosting, K=2000)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _merged(path: Path, update: dict, runs: dict | None = None) -> dict:
    """Re-read ``path``, apply ``update`` (and new ``runs``), write it back: runs of other
    sizes or modes written meanwhile by another invocation are kept."""
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update(update)
    old.setdefault("runs", {}).update(runs or {})
    for r in old["runs"].values():
        _summarise(r)
    if runs:
        all_runs = list(old["runs"].values())
        old["machine"] = {
            "platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                               / 2**30, 1),
            "load_average_during_runs": {k: r["load_average"] for k, r in old["runs"].items()
                                         if "load_average" in r},
            "shared": any(r.get("shared_machine") for r in all_runs)}
        old["exponents"] = exponents(all_runs, False)
        old["exponents_quick"] = exponents(all_runs, True)
        old["extrapolated_64x"] = extrapolate(all_runs, old["exponents"], 64, False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(old, indent=1))
    return old


def table(results: dict) -> str:
    """Markdown: per stage, CPU seconds / wall seconds / peak RSS (GB) at each size, and the
    exponents (for docs/scale.md)."""
    runs = sorted((r for r in results["runs"].values() if "stages" in r and not r.get("quick")),
                  key=lambda r: (r["factor"], r["mode"] != "full"))
    by_size: dict[int, dict] = {}
    for r in runs:
        by_size.setdefault(r["factor"], r)
    sizes = sorted({r["factor"] for r in runs})
    stages = list(dict.fromkeys(s for r in runs for s in r["stages"]))
    head = ("| stage | " + " | ".join(f"{f}x ({by_size[f]['n_train']:,} rows)" for f in sizes)
            + " | exponent 4x+ (CPU) |")
    lines = [head, "|" + "---|" * (len(sizes) + 2)]
    expo = results.get("exponents", {})
    for st in stages:
        cells = []
        latest = _latest(runs, st)
        for f in sizes:
            v = latest[f]["stages"][st] if f in latest else None
            cells.append("not run" if v is None else
                         f"{v['cpu_s']:.1f} / {v['wall_s']:.1f} s, {v['peak_rss_mb'] / 1024:.2f} GB")
        e = expo.get(st, {}).get("cpu_exponent_from_4x")
        lines.append(f"| {st} | " + " | ".join(cells) + f" | {'' if e is None else e} |")
    total = [f"{by_size[f].get('pipeline_cpu_s', 0):.0f} / {by_size[f].get('pipeline_wall_s', 0):.0f}"
             f" s, {by_size[f].get('pipeline_peak_rss_mb', 0) / 1024:.2f} GB" for f in sizes]
    lines.append("| **pipeline** | " + " | ".join(total) + " | |")
    return "\n".join(lines)


def _provenance() -> dict:
    """Which shap_debug ran: its path and the checkout's commit."""
    import shap_debug

    root = Path(shap_debug.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                     "shap_debug"], capture_output=True, text=True).stdout)
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = None, None
    return {"path": str(root), "commit": commit, "uncommitted_changes": dirty}


def main(argv: list[str] | None = None) -> int:
    info = run_info(("joblib",))
    p = parser("scale", __doc__, quick="a 4,000-row sample of Adult at sizes 1 4 16")
    p.add_argument("--sizes", type=int, nargs="+", default=None)
    p.add_argument("--core-only", action="store_true")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--plot", action="store_true", help="(re)draw the log-log plot")
    p.add_argument("--table", action="store_true", help="print the markdown table")
    p.add_argument("--knn", action="store_true",
                   help="time brute force / KD-tree / ball tree at --sizes (one process each)")
    p.add_argument("--ties", action="store_true",
                   help="distinct contribution vectors and KD-tree build time at --sizes, "
                        "from the --cache of earlier runs")
    p.add_argument("--cache", type=Path, default=None,
                   help="keep the contributions here (.npz) and reuse them: a rerun of the "
                        "later stages then skips the contributions stage")
    p.add_argument("--grow", choices=("jitter", "interpolate"), default="jitter",
                   help="how the data grows (make_data): 'interpolate' keeps the rows "
                        "distinct (no replicated ties); write its runs to their own --out")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        res = run_child(args.child, args.seed, 4000 if args.quick else None, args.core_only,
                        args.progress, args.cache, args.grow)
        Path(args.child_out).write_text(json.dumps(res))
        return 0
    results = json.loads(args.out.read_text()) if args.out.exists() else {"runs": {}}
    if (args.plot or args.table) and args.sizes is None:
        if args.plot:
            plot(results)
        if args.table:
            print(table(results))
        return 0
    sizes = args.sizes or ([1, 4, 16] if args.quick else [1, 4, 16, 64])
    if args.ties:
        if args.cache is None:
            p.error("--ties reads the contributions kept by --cache")
        ties = {f"{f}x": run_ties(f, args.seed, args.cache) for f in sizes}
        print(json.dumps(ties, indent=1))
        _merged(args.out, {"contribution_ties": ties})
        return 0
    if args.knn:
        knn = results.setdefault("knn_algorithms", {})
        for f in sizes:
            here = str(Path(__file__).parent)
            cmd = [sys.executable, "-c", f"import json, sys; sys.path.insert(0, {here!r}); "
                   f"import scale; print(json.dumps(scale.run_knn({f}, {args.seed}, "
                   f"grow={args.grow!r})))"]
            res = json.loads(subprocess.run(cmd, capture_output=True, text=True,
                                            check=True).stdout.strip().splitlines()[-1])
            res["load_average"] = os.getloadavg()[0]
            knn[f"{f}x" + ("" if args.grow == "jitter" else f"-{args.grow}")] = res
            results = _merged(args.out, {"knn_algorithms": knn})
        return 0
    for f in sizes:
        res = run_size(f, args)
        results = _merged(args.out, {
            "benchmark": "scale", "schema": SCHEMA,
            **{k: v for k, v in info.items() if k != "machine"},
            "settings": {k: (str(v) if isinstance(v, Path) else v)
                         for k, v in vars(args).items() if k not in ("out", "child_out")},
            "data": ("Adult (adult.data) replicated: original rows + jittered resampled "
                     f"copies (numeric columns + N(0, ({JITTER} sd)^2)), labels kept; 80/20 "
                     "split") if args.grow == "jitter" else (
                    "Adult (adult.data) grown by interpolation: original rows + rows between "
                    "a random row and one of its 5 nearest same-label rows (numeric a+u(b-a), "
                    "categoricals from a or b), label kept; 80/20 split"),
            "grow": args.grow,
            "model": "GradientBoostingClassifier(random_state=0) on the ordinal encoding",
            "memory_method": "per stage: VmHWM reset via /proc/self/clear_refs at the stage "
                             "start, read at its end (exact peak RSS of the child process "
                             "during the stage, including memory held by earlier stages)",
        }, runs={_key(res): res})
        print(f"{_key(res)}: {res.get('pipeline_wall_s')} s, peak "
              f"{res.get('pipeline_peak_rss_mb')} MB, dominant {res.get('dominant_stage')}",
              file=sys.stderr)
    if args.plot:
        plot(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
