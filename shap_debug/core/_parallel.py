"""One parallel map for every embarrassingly parallel loop: joblib (so a Dask cluster can run
it through ``joblib.parallel_backend("dask")``) with an optional tqdm bar."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._config import resolve_n_jobs, show_progress


def parallel_map(fn: Callable[..., Any], items: Iterable[Any], *, n_jobs: int | None = 1,
                 progress: bool = False, desc: str | None = None, total: int | None = None,
                 unit: str = "it", prefer: str | None = None, star: bool = False) -> list[Any]:
    """``[fn(item) for item in items]`` over joblib workers, in order, with a tqdm bar.

    ``n_jobs=1`` runs in this process (no pickling); ``n_jobs=None`` takes the global
    ``set_config(n_jobs=...)``, else joblib's default; ``star=True`` calls ``fn(*item)``. The
    bar shows only where ``progress`` and the global configuration allow it (and not under
    ``TQDM_DISABLE=1``).

    Examples
    --------
    >>> parallel_map(abs, [-1, 2, -3])
    [1, 2, 3]
    """
    items = list(items)
    n_jobs = resolve_n_jobs(n_jobs)
    if n_jobs != 1 and prefer != "threads" and items:  # processes: what they get must pickle
        n_jobs = worker_jobs((fn, items[0]), n_jobs)
    call = (lambda it: fn(*it)) if star else fn
    bar = _bar(len(items) if total is None else total, progress, desc, unit)
    try:
        if n_jobs == 1:
            out = []
            for it in items:
                out.append(call(it))
                bar.update(1)
            return out
        from joblib import Parallel, delayed

        jobs = (delayed(fn)(*it) if star else delayed(fn)(it) for it in items)
        out = []
        for res in Parallel(n_jobs=n_jobs, prefer=prefer, return_as="generator")(jobs):
            out.append(res)
            bar.update(1)
        return out
    finally:
        bar.close()


def progress_iter(it: Iterable[Any], *, progress: bool, desc: str | None = None,
                  total: int | None = None, unit: str = "it") -> Iterator[Any]:
    """``it`` wrapped in a progress bar when ``progress`` (else ``it`` itself).

    A tqdm bar on a terminal or in a notebook; plain lines (:class:`PlainProgress`) when
    stderr is a file or a pipe, so logs get no runs of carriage returns. The global
    ``set_config(progress=False)`` and ``TQDM_DISABLE=1`` silence it.
    """
    if not show_progress(progress):
        return iter(it)
    if _plain():
        return PlainProgress(total=_length(it, total), desc=desc, unit=unit).wrap(it)
    from tqdm.auto import tqdm

    return iter(tqdm(it, desc=desc, total=total, unit=unit, leave=False))


def _length(it: Iterable[Any], total: int | None) -> int | None:
    if total is not None:
        return total
    try:
        return len(it)  # type: ignore[arg-type]
    except TypeError:
        return None


def _plain() -> bool:
    """Plain-line progress: stderr is not a terminal and this is not a notebook kernel."""
    if "ipykernel" in sys.modules:
        return False
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return True


class PlainProgress:
    """Progress as whole lines on stderr (``desc: 40/100 it (40%), 3.1 s``), at most one
    per tenth of the work and per ``min_interval`` seconds, plus a last line at the end.

    Examples
    --------
    >>> import io, contextlib
    >>> buf = io.StringIO()
    >>> with contextlib.redirect_stderr(buf):
    ...     bar = PlainProgress(total=2, desc="work", min_interval=0)
    ...     bar.update(2); bar.close()
    >>> buf.getvalue().splitlines()[-1].startswith("work: 2/2 it (100%)")
    True
    """

    def __init__(self, total: int | None = None, desc: str | None = None, unit: str = "it",
                 min_interval: float = 5.0):
        self.total, self.desc, self.unit, self.min_interval = total, desc or "progress", unit, \
            min_interval
        self.n, self._start = 0, time.monotonic()
        self._last_t, self._last_tenth, self._closed = self._start, 0, False

    def _line(self) -> str:
        took = time.monotonic() - self._start
        if self.total:
            return (f"{self.desc}: {self.n}/{self.total} {self.unit} "
                    f"({100 * self.n // self.total}%), {took:.1f} s")
        return f"{self.desc}: {self.n} {self.unit}, {took:.1f} s"

    def update(self, k: int = 1) -> None:
        self.n += k
        now = time.monotonic()
        tenth = 10 * self.n // self.total if self.total else self._last_tenth
        if tenth > self._last_tenth and now - self._last_t >= self.min_interval:
            print(self._line(), file=sys.stderr, flush=True)
            self._last_t, self._last_tenth = now, tenth

    def close(self) -> None:
        if not self._closed and self.n:
            print(self._line(), file=sys.stderr, flush=True)
        self._closed = True

    def wrap(self, it: Iterable[Any]) -> Iterator[Any]:
        try:
            for item in it:
                yield item
                self.update(1)
        finally:
            self.close()


def _bar(total: int, progress: bool, desc: str | None, unit: str):
    if show_progress(progress) and _plain():
        return PlainProgress(total=total, desc=desc, unit=unit)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not show_progress(progress),
                leave=False)


class _Sink:
    def write(self, data: bytes) -> int:
        return len(data)


def worker_jobs(obj: Any, n_jobs: int | None) -> int | None:
    """``n_jobs``, or 1 when ``obj`` cannot be sent to joblib's worker processes.

    The check pickles ``obj`` with cloudpickle, as joblib does for its worker processes, so
    lambdas, closures and nested functions pass (plain ``pickle`` would refuse them and
    silently turn every parallel loop serial). A TorchScript module (``torch.jit.load``)
    cannot be pickled at all, so a joblib loop over a function holding one would fail with
    ``n_jobs > 1``; it runs in this process instead, with a warning. Arrays and frames are
    not serialised by the check (they always pickle), so it costs little on large data.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> worker_jobs(LogisticRegression(), 2)
    2
    """
    if n_jobs is None or n_jobs == 1:
        return n_jobs
    import pickle

    import numpy as np
    import pandas as pd
    try:  # what joblib's worker processes receive functions through (shap needs it too)
        import cloudpickle
    except ImportError:  # pragma: no cover - joblib < 1.5 vendors it
        from joblib.externals import cloudpickle

    class Probe(cloudpickle.Pickler):
        def persistent_id(self, o: Any) -> Any:
            return id(o) if isinstance(o, (np.ndarray, pd.DataFrame, pd.Series)) else None

    try:
        Probe(_Sink(), protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means "not across processes"
        from ._validation import warn

        what = getattr(obj, "__name__", None) or type(obj).__name__
        warn(f"{what} cannot be sent to worker processes ({type(exc).__name__}: {exc}); "
             f"n_jobs={n_jobs} falls back to 1")
        return 1
    return n_jobs
