"""Tables from disk (CSV, Parquet), with each CSV row named by its line in the file."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_table"]

_CSV = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv")
_PARQUET = (".parquet", ".pq")


def _open_text(path: Path) -> io.TextIOBase:
    low = path.name.lower()
    if low.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    if low.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8", newline="")
    if low.endswith(".xz"):
        return lzma.open(path, "rt", encoding="utf-8", newline="")
    if low.endswith(".zip"):
        zf = zipfile.ZipFile(path)
        return io.TextIOWrapper(zf.open(zf.namelist()[0]), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _csv_layout(path: Path, sep: str) -> tuple[list[str], list[int]]:
    """The header's names and the file line where each data record starts (1-based).

    Blank lines are skipped (as pandas does) and a quoted value spanning lines counts from
    its first line, so the numbers are the lines a user sees in an editor.
    """
    header: list[str] | None = None
    starts: list[int] = []
    with _open_text(path) as fh:
        reader = csv.reader(fh, delimiter=sep)
        last = 0
        for record in reader:
            start, last = last + 1, reader.line_num
            if not record:  # a blank line, skipped by pandas too
                continue
            if header is None:
                header = record
            else:
                starts.append(start)
    return header or [], starts


def _check_frame(frame: pd.DataFrame, name: str, path: Path,
                 header: list[str] | None = None) -> None:
    names = header if header is not None else [str(c) for c in frame.columns]
    dupes = sorted(c for c, n in Counter(names).items() if n > 1)
    if dupes:
        raise ValueError(f"{name} {str(path)!r} has duplicate column names {dupes}; each "
                         "column needs its own name")
    nested = [str(c) for c in frame.columns if frame[c].dtype == object and frame[c].map(
        lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray))).any()]
    if nested:
        raise ValueError(f"{name} {str(path)!r} has nested (list or struct) columns "
                         f"{nested}; give one value per cell")


def load_table(path: str | Path, name: str = "train_path") -> pd.DataFrame:
    """A CSV (``.csv``, ``.csv.gz``, ``.tsv``, ...) or Parquet (``.parquet``, ``.pq``) table.

    A CSV's rows are indexed by their line in the file (the header is line 1, so the first
    row is line 2; the index is named ``"line"``), so results and reports name the lines a
    user can open; a Parquet table keeps the index it was saved with. Duplicate column
    names (which pandas would silently rename ``c.1``) and nested columns are refused by
    name; any read failure is one ``ValueError`` naming ``name`` and the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a,b\\n1,x\\n\\n2,y\\n")
    >>> load_table(p).index.tolist()
    [2, 4]
    """
    path = Path(path)
    low = path.name.lower()
    if not path.is_file():
        raise FileNotFoundError(f"{name} {str(path)!r}: no such file")
    if not low.endswith(_CSV + _PARQUET):
        raise ValueError(f"{name} {str(path)!r}: unknown table format; accepted: .csv, .tsv, "
                         ".csv.gz, .parquet, .pq")
    try:
        if low.endswith(_PARQUET):
            frame = pd.read_parquet(path)
            _check_frame(frame, name, path)
        else:
            sep = "\t" if low.endswith(".tsv") else ","
            header, starts = _csv_layout(path, sep)
            frame = pd.read_csv(path, sep=sep)
            _check_frame(frame, name, path, header)
            if len(starts) == len(frame):
                frame.index = pd.Index(starts, name="line")
            else:  # a layout the csv module reads otherwise: the row's position + 2
                frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")
    except ImportError as exc:
        raise ImportError(f"reading {str(path)!r} needs {exc.name}: pip install "
                          "'shap-debug[models]'") from exc
    except ValueError as exc:
        if str(exc).startswith(name):
            raise
        raise ValueError(f"{name} {str(path)!r} could not be read: {type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]}") from None
    except Exception as exc:  # noqa: BLE001 - parser, codec, archive errors: one message
        raise ValueError(f"{name} {str(path)!r} could not be read: {type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]}") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise ValueError(f"{name} {str(path)!r} has no {'columns' if frame.shape[1] == 0 else 'rows'}")
    return frame
