"""Command line: ``shap-debug report`` writes an HTML debugging report.

With no arguments it trains a GradientBoosting model on the bundled Adult data (80/20 split)
and writes ``debug-report.html``. A CSV file may have a binary or a multi-class target
(numbers or strings; the class names are shown as they are in the file). For the models this
command trains, missing values are filled and said so, on the console and in the report's
summary: a numeric column gets its median, a text column a ``missing`` category. The
label-flip check is binary-only; on a multi-class target its report section says so.

``--model FILE --train TABLE --target COL [--test TABLE]`` debugs a model trained elsewhere
(see ``docs/models.md``): .skops, XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm, a torch
state_dict with ``--torch-architecture``; a pickle (.pkl/.joblib) or a TorchScript archive
runs its author's code and is refused unless ``--trust-code`` is given. Missing values are
left as they are: the model decides what they mean.

Both modes read tables the same way (a CSV's rows keep their file line numbers) and share
one run: every argument is checked before any model is fitted (bad input, an unreadable
file, an unwritable ``--out``: one line on stderr and exit code 2); ``--scheduler`` sends
the work to a Dask cluster in either mode; the report is written under a temporary name and
moved into place, so a failed run keeps the previous report.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["main", "build_model", "load_dataset"]

_DATASETS = ("adult", "german", "compas")
_MODELS = ("gb", "lr", "mlp", "rf")
_PROTECTED = ("sex", "race")
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
        ``adult``, ``german``, ``compas`` or the path of a CSV file (read with
        :func:`shap_debug.io.load_table`, so rows are indexed by their file line).
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
    from .io import load_table

    notes = [] if notes is None else notes
    if name in _DATASETS:
        return getattr(datasets, name)()
    if not Path(name).is_file():
        raise CLIError(f"cannot read {name}: no such file; --dataset takes "
                       f"{', '.join(_DATASETS)} or a path to a CSV file")
    if not target:
        raise CLIError(f"--target is required with a CSV file ({name})")
    try:
        frame = load_table(name, "--dataset")
    except FileNotFoundError:
        raise CLIError(f"cannot read {name}: no such file; --dataset takes "
                       f"{', '.join(_DATASETS)} or a path to a CSV file") from None
    except (ValueError, ImportError) as exc:
        raise CLIError(str(exc)) from None
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


# --------------------------------------------------------------------------- one run, two sources
@dataclass
class _Inputs:
    """What both modes hand to the one run: data, and a model or how to fit one."""

    X: Any
    y: np.ndarray
    X_test: Any
    y_test: np.ndarray | None
    title: str
    columns: list[str]                      # raw column names (for --protected)
    model: Any = None                       # a loaded model, or None: fit ``build``
    build: Any = None                       # () -> unfitted model
    encoder: Any = None
    notes: list[str] = field(default_factory=list)         # console and report
    report_notes: list[str] = field(default_factory=list)  # report only


def _from_dataset(args: argparse.Namespace) -> _Inputs:
    """The bundled data set or a CSV: encoded, split 80/20, and a model to train on it."""
    from sklearn.model_selection import train_test_split

    from .datasets import encode

    notes: list[str] = []
    X, y = load_dataset(args.dataset, args.target, notes)
    Z, enc = encode(X, kind="ordinal")
    idx_train, idx_test = train_test_split(np.arange(len(Z)), test_size=0.2,
                                           random_state=args.seed, stratify=y)
    categorical = [j for j, c in enumerate(enc.columns_) if c in enc.categories_]
    name = Path(args.dataset).stem if args.dataset not in _DATASETS else args.dataset
    return _Inputs(Z[idx_train], y[idx_train], Z[idx_test], y[idx_test],
                   f"shap-debug report: {name}, {args.model}", [str(c) for c in X.columns],
                   build=lambda: build_model(args.model, categorical, args.seed), encoder=enc,
                   notes=notes, report_notes=[n for n in notes if not n.startswith("target ")])


def _from_files(args: argparse.Namespace) -> _Inputs:
    """``--model FILE --train TABLE``: a trained model from disk (never untrusted code)."""
    from .io import report_from_files

    if args.train is None or args.model in _MODELS or not args.target:
        raise CLIError("a trained model file needs --model PATH --train CSV|PARQUET --target "
                       f"COLUMN (got --model {args.model!r}, --train {args.train!r}, "
                       f"--target {args.target!r}); --model names: {', '.join(_MODELS)}")
    try:
        inputs = report_from_files(args.model, args.train, args.target, args.test,
                                   trust_code=args.trust_code, trusted=args.trusted,
                                   torch_architecture=args.torch_architecture)
    except (ValueError, TypeError, OSError, ImportError) as exc:  # refusals included
        raise CLIError(str(exc)) from None
    return _Inputs(inputs.X, inputs.y, inputs.X_test, inputs.y_test,
                   f"shap-debug report: {Path(args.model).name}",
                   [str(c) for c in inputs.X.columns], model=inputs.model,
                   notes=list(inputs.notes), report_notes=list(inputs.notes))


def _protected(args: argparse.Namespace, columns: list[str]) -> list[str]:
    if args.protected is None:  # the default: whichever of sex/race the data has
        return [p for p in _PROTECTED if p in columns]
    unknown = [p for p in args.protected if p not in columns]
    if unknown:
        raise CLIError(f"--protected: unknown columns {unknown}; columns are "
                       f"{_list(columns, 12)}")
    return list(args.protected)


def _check_sizes(args: argparse.Namespace, inputs: _Inputs) -> None:
    n = len(inputs.X)
    if args.neighbors is not None and args.neighbors >= n:
        raise CLIError(f"--neighbors must be smaller than the {n} training rows; got "
                       f"{args.neighbors}")
    if args.anomalies > n:
        raise CLIError(f"--anomalies must be at most the {n} training rows; got "
                       f"{args.anomalies}")


def _client(address: str | None):
    if address is None:
        return None
    try:
        from dask.distributed import Client
    except ImportError:
        raise CLIError("--scheduler needs dask: pip install 'shap-debug[dask]'") from None
    try:
        return Client(address, timeout=5)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CLIError(f"--scheduler {address!r}: cannot connect ({exc})") from None


def _dose(args: argparse.Namespace) -> bool | int | str:
    """The dose-response search: the ladder by default, exact with ``--dose [CAP]``."""
    if args.no_dose:
        return False
    return "ladder" if args.dose is None else (True if args.dose == 0 else args.dose)


def _say(text: str) -> None:
    print(f"shap-debug: {text}", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    steps: dict[str, float] = {}
    from_file = args.model not in _MODELS or args.train is not None
    inputs = _from_files(args) if from_file else _from_dataset(args)
    protected = _protected(args, inputs.columns)
    _check_sizes(args, inputs)
    for note in inputs.notes:
        _say(note)
    steps["load"] = time.perf_counter() - t0
    client = _client(args.scheduler)  # before any fit: a wrong address fails fast
    from .debugger import Debugger  # the heavy imports, once the arguments are known good
    from .io import write_text_atomic
    from .report import render_report

    try:
        model = inputs.model
        if model is None:
            t0 = time.perf_counter()
            model = inputs.build().fit(inputs.X, inputs.y)
            steps["fit model"] = time.perf_counter() - t0
        try:  # the Debugger checks the data at its boundary: a refusal is the user's
            dbg = Debugger(model, inputs.X, inputs.y, encoder=inputs.encoder,
                           X_test=inputs.X_test, y_test=inputs.y_test, protected=protected,
                           random_state=args.seed, client=client, progress=not args.quiet,
                           n_jobs=args.jobs, n_neighbors=args.neighbors,
                           chunk_size=args.chunk_size)
        except (ValueError, TypeError) as exc:
            raise CLIError(str(exc)) from None
        t0 = time.perf_counter()
        dbg.neighborhood_model  # noqa: B018 - contributions + kNN, timed on their own
        steps["contributions + neighbourhoods"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        evidence = dbg.evidence(args.anomalies, label_flip=not args.no_label_flip,
                                fixes=not args.no_fixes, dose=_dose(args),
                                notes=inputs.report_notes)
        out = write_text_atomic(args.out, render_report(evidence, title=inputs.title))
        if args.json is not None:
            write_text_atomic(args.json, evidence.to_json() + "\n")
        steps["report"] = time.perf_counter() - t0
    finally:
        if client is not None:
            client.close()
    took = ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
    print(f"report written to {out.resolve()} ({took}; total {sum(steps.values()):.1f} s)")
    return 0


# --------------------------------------------------------------------------- arguments
class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block), exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        message = re.sub(r"^argument ([^:]+): ", r"\1 ", message)
        print(f"shap-debug: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _seed(text: str) -> int:
    value = _int_at_least(0)(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be < 2**32, got {value}")
    return value


def _jobs(text: str) -> int:
    value = _int_at_least(-1)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be >= 1 (or -1: every core), got 0")
    return value


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="shap-debug", description=__doc__.split("\n")[0].replace("``", ""))
    parser.add_argument("--version", action="version", version=f"shap-debug {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rep = sub.add_parser("report", help="write an HTML debugging report",
                         description="Write an HTML debugging report (see docs/report.md).")
    rep.add_argument("--dataset", default="adult",
                     help="adult, german, compas or a path to a CSV file (default adult)")
    rep.add_argument("--target", default=None, help="target column of a CSV file or table")
    rep.add_argument("--model", default="gb",
                     help="gb (GradientBoosting, default), lr, mlp, rf, or a trained model file "
                          "(.skops, XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm, torch "
                          "state_dict .pt with --torch-architecture) with --train and --target")
    rep.add_argument("--train", default=None,
                     help="training table (CSV or Parquet) of a --model file")
    rep.add_argument("--test", default=None, help="held-out table of a --model file")
    rep.add_argument("--trust-code", "--trust-pickle", dest="trust_code", action="store_true",
                     help="load a --model file that runs its author's code: a pickle "
                          "(.pkl/.joblib) or a TorchScript archive; only for files you made "
                          "or whose author you trust (--trust-pickle is the former name)")
    rep.add_argument("--trusted", nargs="*", default=None, metavar="TYPE",
                     help="skops types to trust beyond the audited scikit-learn defaults")
    rep.add_argument("--torch-architecture", default=None, metavar="JSON",
                     help="JSON spec of the MLP a torch state_dict belongs to")
    rep.add_argument("--anomalies", type=_int_at_least(0), default=3,
                     help="how many anomalies to inspect (default 3)")
    rep.add_argument("--neighbors", type=_int_at_least(1), default=None, metavar="K",
                     help="neighbourhood size K (default n/5, at most 2000)")
    rep.add_argument("--protected", nargs="*", default=None, metavar="COLUMN",
                     help="protected attributes to watch (default: sex race, when present)")
    rep.add_argument("--out", default="debug-report.html", help="output file")
    rep.add_argument("--json", default=None, metavar="PATH",
                     help="also write the findings as JSON (schema in docs/report.md)")
    rep.add_argument("--seed", type=_seed, default=0, help="random seed, 0 to 2**32-1")
    rep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="Dask scheduler address (tcp://host:8786): contribution chunks, "
                          "neighbour queries, refits and label-flip trials run on its workers")
    rep.add_argument("--chunk-size", type=_int_at_least(1), default=None, metavar="ROWS",
                     help="rows per neighbour-query chunk (memory: rows x K x 16 bytes)")
    rep.add_argument("--no-label-flip", action="store_true",
                     help="skip the label-flip retraining check")
    rep.add_argument("--jobs", type=_jobs, default=2,
                     help="processes for contributions and retrains (default 2; -1: all)")
    rep.add_argument("--no-fixes", action="store_true",
                     help="skip verifying fixes on held-out rows (one retrain per action)")
    rep.add_argument("--dose", type=_int_at_least(0), nargs="?", const=0, default=None,
                     metavar="CAP",
                     help="search the label-flip dose-response exactly (fewest relabelled "
                          "neighbours per space that flip each anomaly; optional cap on k; "
                          "~2 log2(K) retrains per anomaly and space) instead of the default "
                          "ladder K, K/4, ... (brackets it within a factor of 4)")
    rep.add_argument("--no-dose", action="store_true",
                     help="skip the dose-response (and its retrains)")
    rep.add_argument("-q", "--quiet", action="store_true",
                     help="no progress bars (notes on the data and errors still show)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``shap-debug`` command (and ``python -m shap_debug``).

    Returns the exit code: 0 on success, 2 on a user error (one line on stderr). Only a
    genuine bug shows a traceback.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and argument errors (2)
        return int(exc.code or 0)
    try:
        from .io import check_output_path

        try:
            check_output_path(args.out, "--out")
            if args.json is not None:
                check_output_path(args.json, "--json")
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        return _report(args)
    except CLIError as exc:
        print(f"shap-debug: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("shap-debug: interrupted; no report written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
