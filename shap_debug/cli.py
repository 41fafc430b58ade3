"""Command line: ``shap-debug report`` writes an HTML debugging report.

With no arguments it trains a GradientBoosting model on the bundled Adult data (80/20 split)
and writes ``debug-report.html``. Bad input (an unreadable CSV, an unknown target column, a
target that is not binary) ends with a one-line message and exit code 2, not a traceback.
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


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def load_dataset(name: str, target: str | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """A bundled data set by name, or a CSV file with a binary ``target`` column."""
    from . import datasets

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
    y_raw = frame.pop(target)
    if y_raw.isna().any():
        raise CLIError(f"target column {target!r} has missing values")
    levels = sorted(y_raw.astype(str).unique())
    if len(levels) != 2:
        raise CLIError(f"target column {target!r} must be binary; it has {len(levels)} "
                       f"distinct values ({levels[:6]}{'...' if len(levels) > 6 else ''})")
    y = (y_raw.astype(str) == levels[1]).to_numpy(dtype=int)
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            frame[col] = frame[col].astype(str).astype("category")
    num = frame.select_dtypes("number")
    if num.isna().any().any():
        frame[num.columns] = num.fillna(num.median())
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
    X, y = load_dataset(args.dataset, args.target)
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
                   client=client, progress=not args.quiet,
                   n_neighbors=args.neighbors)
    t0 = time.perf_counter()
    dbg.neighborhood_model  # noqa: B018 - contributions + kNN, timed on their own
    steps["contributions + neighbourhoods"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    name = Path(args.dataset).stem if args.dataset not in _DATASETS else args.dataset
    out = dbg.report(args.anomalies, args.out, label_flip=not args.no_label_flip,
                     title=f"shap-debug report: {name}, {args.model}")
    steps["report"] = time.perf_counter() - t0
    if client is not None:
        client.close()
    took = ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
    print(f"report written to {out.resolve()} ({took}; total {sum(steps.values()):.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``shap-debug`` command."""
    parser = argparse.ArgumentParser(prog="shap-debug", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="write an HTML debugging report")
    rep.add_argument("--dataset", default="adult",
                     help="adult, german, compas or a path to a CSV file (default adult)")
    rep.add_argument("--target", default=None, help="target column of a CSV file")
    rep.add_argument("--model", default="gb", choices=_MODELS,
                     help="gb (GradientBoosting, default), lr, mlp or rf")
    rep.add_argument("--anomalies", type=int, default=3,
                     help="how many anomalies to inspect (default 3)")
    rep.add_argument("--neighbors", type=int, default=None,
                     help="neighbourhood size K (default n/5, at most 2000)")
    rep.add_argument("--protected", nargs="*", default=["sex", "race"],
                     help="protected attributes to watch (default: sex race, when present)")
    rep.add_argument("--out", default="debug-report.html", help="output file")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--scheduler", default=None, help="Dask scheduler address")
    rep.add_argument("--no-label-flip", action="store_true",
                     help="skip the label-flip retraining check")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        if args.anomalies < 0:
            raise CLIError("--anomalies must be >= 0")
        return _report(args)
    except CLIError as exc:
        print(f"shap-debug: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
