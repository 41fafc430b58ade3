"""What every benchmark shares: its arguments, where and on what it ran, one JSON schema.

- :func:`parser`: ``--quick`` (a short run, for CI and for checking a change), ``--seed``
  and ``--out`` (default ``benchmarks/results/<name>.json``), plus the benchmark's own;
- :func:`run_info`: the commit (read when the run *starts*, so a later checkout cannot
  mislabel it), whether the tree was dirty, the start time, the machine and the versions;
- :func:`write_result`: one schema for every result file, written atomically::

      {"benchmark": name, "schema": 1, "commit": ..., "dirty": ..., "started_utc": ...,
       "finished_utc": ..., "machine": {...}, "versions": {...}, "settings": {...},
       ...the benchmark's own keys...}
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCHEMA = 1

if str(ROOT) not in sys.path:  # ``python benchmarks/x.py`` imports the checkout
    sys.path.insert(0, str(ROOT))


def parser(name: str, doc: str | None, *, seed: int = 0, quick: str = "a short run"
           ) -> argparse.ArgumentParser:
    """The arguments every benchmark takes; add the benchmark's own to it."""
    p = argparse.ArgumentParser(prog=f"benchmarks/{name}.py",
                                description=(doc or name).strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help=quick)
    p.add_argument("--seed", type=int, default=seed, help=f"random seed (default {seed})")
    p.add_argument("--out", type=Path, default=RESULTS / f"{name}.json",
                   help="result file (default benchmarks/results/%(prog)s.json)".replace(
                       "%(prog)s", name))
    return p


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def run_info(packages: Iterable[str] = ()) -> dict[str, Any]:
    """Commit, dirty flag, start time, machine and versions; call it when the run starts.

    ``packages`` are importable names whose ``__version__`` is recorded besides numpy,
    pandas, scikit-learn, scipy, shap and shap_debug.
    """
    status = _git("status", "--porcelain", "--untracked-files=no")
    versions = {"python": platform.python_version()}
    for mod in ("numpy", "pandas", "sklearn", "scipy", "shap", "shap_debug", *packages):
        try:
            versions[mod] = str(getattr(__import__(mod), "__version__", "unknown"))
        except ImportError:
            versions[mod] = None
    return {
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": None if status is None else bool(status),
        "started_utc": _now(),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(),
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
        "versions": versions,
    }


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _plain(value: Any) -> Any:
    """JSON-ready: Paths as strings, numpy scalars as Python numbers."""
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not hasattr(value, "__len__"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_result(path: Path, name: str, info: dict[str, Any], args: argparse.Namespace | None,
                 results: dict[str, Any]) -> dict[str, Any]:
    """Write ``results`` under the common schema to ``path`` (atomically) and return it."""
    clash = {"benchmark", "schema", "settings", "finished_utc", *info} & set(results)
    if clash:
        raise ValueError(f"results use reserved keys {sorted(clash)}")
    doc = {"benchmark": name, "schema": SCHEMA, **info, "finished_utc": _now(),
           "settings": {} if args is None else {k: v for k, v in vars(args).items()
                                                 if k != "out"},
           **results}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=_plain) + "\n")
    tmp.replace(path)
    return doc
