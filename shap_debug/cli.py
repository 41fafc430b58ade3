"""Command line: ``shap-debug report`` writes an HTML debugging report.

With no arguments it trains a GradientBoosting model on the bundled Adult data (80/20 split)
and writes ``debug-report.html``. A CSV file may have a binary or a multi-class target
(numbers or strings; the class names are shown as they are in the file). Missing values are
filled and said so, on the console and in the report's summary: a numeric column gets its
median, a text column a ``missing`` category. Bad input (an unreadable CSV, an unknown target
column, a target that is not a class label) ends with a one-line message and exit code 2,
not a traceback. The label-flip check is binary-only; on a multi-class target its report
section says so.

``--model FILE --train TABLE --target COL [--test TABLE]`` debugs a model trained elsewhere
(:mod:`shap_debug.io._model_files`): .skops, XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm,
TorchScript .pt; a .pkl/.joblib file is refused unless ``--trust-pickle`` is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["main", "build_model", "load_dataset"]

_DATASETS = ("adult", "german", "compas")
_MODELS = ("gb", "lr", "mlp", "rf")
MAX_CLASSES = 20
MIN_CLASS_ROWS = 10


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def _list(values: list, k: int = 6) -> str:
    return ", ".join(repr(v) for v in values[:k]) + (", ..." if len(values) > k else "")


def _target(frame: pd.DataFrame, target: str, name: str) -> tuple[np.ndarray, str]:
    """The class labels of ``target`` (removed from ``frame``) and a line describing them."""
    y_raw = frame.pop(target)
    if y_raw.isna().any():
        raise CLIError(f"target column {target!r} has {int(y_raw.isna().sum())} missing values")
    if not pd.api.types.is_numeric_dtype(y_raw):
        y_raw = y_raw.astype(str)
    counts = y_raw.value_counts().sort_index()
    levels = counts.index.tolist()
    if len(levels) < 2:
        raise CLIError(f"target column {target!r} has one value ({levels[0]!r}); a "
                       "classifier needs at least two classes")
    if len(levels) > MAX_CLASSES:
        raise CLIError(f"target column {target!r} has {len(levels)} distinct values "
                       f"({_list(levels)}); expected class labels, 2 to {MAX_CLASSES} "
                       "classes (binary or multi-class)")
    small = counts[counts < MIN_CLASS_ROWS]
    if len(small):
        n = int(small.iloc[0])
        raise CLIError(f"target column {target!r}: class {small.index.tolist()[0]!r} has only "
                       f"{n} row{'' if n == 1 else 's'} in {name}; every class needs at least "
                       f"{MIN_CLASS_ROWS} (train/test split and cross-validation)")
    kind = "binary" if len(levels) == 2 else "multi-class"
    line = (f"target {target!r}: {len(levels)} classes ({kind}): "
            + ", ".join(f"{c} ({n} rows)" for c, n in counts.items()))
    if len(levels) > 2:
        line += "; the label-flip check is binary-only and is skipped"
    y = y_raw.to_numpy()
    return (y.astype(str) if y.dtype == object else y), line


def _fill_missing(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Text columns -> ``category`` with a ``missing`` category; numeric NaN -> median."""
    for col in list(frame.columns):
        s = frame[col]
        n_missing = int(s.isna().sum())
        if n_missing == len(s):
            frame = frame.drop(columns=col)
            notes.append(f"column {col!r} has no value in any row; it was dropped")
            continue
        if pd.api.types.is_numeric_dtype(s):
            if n_missing:
                median = float(s.median())
                frame[col] = s.fillna(median)
                notes.append(f"column {col!r}: {n_missing} missing values filled with the "
                             f"median ({median:.4g})")
            continue
        text = s.astype(object).where(s.isna(), s.astype(str))
        if n_missing:
            label = "missing"
            while label in set(text.dropna()):
                label = f"({label})"
            text = text.fillna(label)
            notes.append(f"column {col!r}: {n_missing} missing values became the category "
                         f"{label!r}")
        frame[col] = text.astype(str).astype("category")
    return frame


def load_dataset(name: str, target: str | None = None,
                 notes: list[str] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """A bundled data set by name, or a CSV file with a class-label ``target`` column.

    Parameters
    ----------
    name : str
        ``adult``, ``german``, ``compas`` or the path of a CSV file.
    target : str, optional
        The CSV's target column: 2 to 20 classes, numbers or strings, each with at least 10
        rows (the labels are kept as they are, so the report shows the class names).
    notes : list, optional
        Receives one sentence per change made to the data (missing values filled, empty
        columns dropped) and one describing the classes.

    Returns
    -------
    X : DataFrame
        Numeric columns and ``category`` columns.
    y : ndarray
    """
    from . import datasets

    notes = [] if notes is None else notes
    if name in _DATASETS:
        return getattr(datasets, name)()
    path = Path(name)
    if not target:
        raise CLIError(f"--target is required with a CSV file ({name})")
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise CLIError(f"cannot read {name}: no such file; --dataset takes "
                       f"{', '.join(_DATASETS)} or a path to a CSV file") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise CLIError(f"cannot read {name} as CSV: {exc}") from None
    if target not in frame.columns:
        raise CLIError(f"target column {target!r} is not in {name}; columns are "
                       f"{list(frame.columns)}")
    y, classes = _target(frame, target, name)
    frame = _fill_missing(frame, notes)
    notes.append(classes)
    if frame.shape[1] == 0:
        raise CLIError(f"{name} has no feature columns besides {target!r}")
    return frame, y


def build_model(kind: str, categorical: list[int], seed: int):
    """An unfitted scikit-learn classifier for the ordinal-encoded matrix."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if kind == "gb":
        return GradientBoostingClassifier(random_state=seed)
    if kind == "rf":
        return RandomForestClassifier(n_estimators=100, min_samples_leaf=2, random_state=seed,
                                      n_jobs=1)
    pre = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)],
        remainder=StandardScaler())
    if kind == "lr":
        est = LogisticRegression(max_iter=2000)
    else:
        est = MLPClassifier(hidden_layer_sizes=(32,), alpha=1e-3, max_iter=300,
                            early_stopping=True, random_state=seed)
    return Pipeline([("pre", pre), ("model", est)])


def _report(args: argparse.Namespace) -> int:
    from sklearn.model_selection import train_test_split

    from .datasets import encode
    from .debugger import Debugger

    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    notes: list[str] = []
    X, y = load_dataset(args.dataset, args.target, notes)
    for note in notes:
        print(f"shap-debug: {note}", file=sys.stderr)
    report_notes = [n for n in notes if not n.startswith("target ")]
    Z, enc = encode(X, kind="ordinal")
    steps["load"] = time.perf_counter() - t0
    idx_train, idx_test = train_test_split(np.arange(len(Z)), test_size=0.2,
                                           random_state=args.seed, stratify=y)
    categorical = [j for j, c in enumerate(enc.columns_) if c in enc.categories_]
    t0 = time.perf_counter()
    model = build_model(args.model, categorical, args.seed).fit(Z[idx_train], y[idx_train])
    steps["fit model"] = time.perf_counter() - t0
    client = None
    if args.scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise CLIError("--scheduler needs dask: pip install 'shap-debug[dask]'") from None
        client = Client(args.scheduler)
    protected = [p for p in args.protected if p in X.columns]
    dbg = Debugger(model, Z[idx_train], y[idx_train], encoder=enc, X_test=Z[idx_test],
                   y_test=y[idx_test], protected=protected, random_state=args.seed,
                   client=client, progress=not args.quiet, n_jobs=args.jobs,
                   n_neighbors=args.neighbors, chunk_size=args.chunk_size)
    t0 = time.perf_counter()
    dbg.neighborhood_model  # noqa: B018 - contributions + kNN, timed on their own
    steps["contributions + neighbourhoods"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    name = Path(args.dataset).stem if args.dataset not in _DATASETS else args.dataset
    out = dbg.report(args.anomalies, args.out, label_flip=not args.no_label_flip,
                     fixes=not args.no_fixes, dose=_dose(args),
                     title=f"shap-debug report: {name}, {args.model}", notes=report_notes,
                     json_path=args.json)
    steps["report"] = time.perf_counter() - t0
    if client is not None:
        client.close()
    took = ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
    print(f"report written to {out.resolve()} ({took}; total {sum(steps.values()):.1f} s)")
    return 0


def _dose(args: argparse.Namespace) -> bool | int | str:
    """The dose-response search: the ladder by default, exact with ``--dose [CAP]``."""
    if args.no_dose:
        return False
    return "ladder" if args.dose is None else (True if args.dose == 0 else args.dose)


def _report_files(args: argparse.Namespace) -> int:
    """``--model FILE --train TABLE``: a trained model from disk (never an untrusted pickle)."""
    from .io import report_from_files

    if args.train is None or args.model in _MODELS or not args.target:
        raise CLIError("a trained model file needs --model PATH --train CSV|PARQUET --target "
                       f"COLUMN (got --model {args.model!r}, --train {args.train!r}, "
                       f"--target {args.target!r}); --model names: {', '.join(_MODELS)}")
    t0 = time.perf_counter()
    try:
        inputs = report_from_files(args.model, args.train, args.target, args.test,
                                   trust_pickle=args.trust_pickle, trusted=args.trusted,
                                   torch_architecture=args.torch_architecture)
    except (ValueError, TypeError, OSError, ImportError) as exc:  # refusals included
        raise CLIError(str(exc)) from None
    for note in inputs.notes:
        print(f"shap-debug: {note}", file=sys.stderr)
    dbg = inputs.debugger(protected=[p for p in args.protected if p in inputs.X.columns],
                          random_state=args.seed, progress=not args.quiet,
                          n_neighbors=args.neighbors, n_jobs=args.jobs,
                          chunk_size=args.chunk_size)
    out = dbg.report(args.anomalies, args.out, label_flip=not args.no_label_flip,
                     fixes=not args.no_fixes, dose=_dose(args),
                     title=f"shap-debug report: {Path(args.model).name}", notes=inputs.notes,
                     json_path=args.json)
    print(f"report written to {out.resolve()} ({time.perf_counter() - t0:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``shap-debug`` command."""
    parser = argparse.ArgumentParser(prog="shap-debug", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="write an HTML debugging report")
    rep.add_argument("--dataset", default="adult",
                     help="adult, german, compas or a path to a CSV file (default adult)")
    rep.add_argument("--target", default=None, help="target column of a CSV file")
    rep.add_argument("--model", default="gb",
                     help="gb (GradientBoosting, default), lr, mlp, rf, or a trained model file "
                          "(.skops, XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm, "
                          "TorchScript .pt) with --train and --target")
    rep.add_argument("--train", default=None,
                     help="training table (CSV or Parquet) of a --model file")
    rep.add_argument("--test", default=None, help="held-out table of a --model file")
    rep.add_argument("--trust-pickle", action="store_true",
                     help="load a .pkl/.joblib --model (a pickle runs its author's code)")
    rep.add_argument("--trusted", nargs="*", default=None,
                     help="skops types to trust beyond skops' defaults")
    rep.add_argument("--torch-architecture", default=None,
                     help="JSON spec of the MLP a torch state_dict belongs to")
    rep.add_argument("--anomalies", type=int, default=3,
                     help="how many anomalies to inspect (default 3)")
    rep.add_argument("--neighbors", type=int, default=None,
                     help="neighbourhood size K (default n/5, at most 2000)")
    rep.add_argument("--protected", nargs="*", default=["sex", "race"],
                     help="protected attributes to watch (default: sex race, when present)")
    rep.add_argument("--out", default="debug-report.html", help="output file")
    rep.add_argument("--json", default=None, metavar="PATH",
                     help="also write the findings as JSON (schema in docs/report.md)")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--scheduler", default=None,
                     help="Dask scheduler address (tcp://host:8786): contribution chunks, "
                          "neighbour queries, refits and label-flip trials run on its workers")
    rep.add_argument("--chunk-size", type=int, default=None,
                     help="rows per neighbour-query chunk (memory: rows x K x 16 bytes)")
    rep.add_argument("--no-label-flip", action="store_true",
                     help="skip the label-flip retraining check")
    rep.add_argument("--jobs", type=int, default=2,
                     help="processes for contributions and retrains (default 2)")
    rep.add_argument("--no-fixes", action="store_true",
                     help="skip verifying fixes on held-out rows (one retrain per action)")
    rep.add_argument("--dose", type=int, nargs="?", const=0, default=None, metavar="CAP",
                     help="search the label-flip dose-response exactly (fewest relabelled "
                          "neighbours per space that flip each anomaly; optional cap on k; "
                          "~2 log2(K) retrains per anomaly and space) instead of the default "
                          "ladder K, K/4, ... (brackets it within a factor of 4)")
    rep.add_argument("--no-dose", action="store_true",
                     help="skip the dose-response (and its retrains)")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        if args.anomalies < 0:
            raise CLIError("--anomalies must be >= 0")
        if args.chunk_size is not None and args.chunk_size < 1:
            raise CLIError("--chunk-size must be >= 1")
        if args.model not in _MODELS or args.train is not None:
            return _report_files(args)
        return _report(args)
    except CLIError as exc:
        print(f"shap-debug: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
