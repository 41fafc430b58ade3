"""One global configuration for both packages (as ``sklearn.set_config``): progress bars and
the default number of parallel jobs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_DEFAULTS: dict[str, Any] = {"progress": True, "n_jobs": None}
_CONFIG: dict[str, Any] = dict(_DEFAULTS)


class _Unchanged:
    """The default of :func:`set_config`'s arguments: leave that setting as it is."""

    def __repr__(self) -> str:
        return "<unchanged>"


_UNSET: Any = _Unchanged()


def get_config() -> dict[str, Any]:
    """The global configuration, a copy: ``{"progress": bool, "n_jobs": int | None}``.

    Examples
    --------
    >>> sorted(get_config())
    ['n_jobs', 'progress']
    """
    return dict(_CONFIG)


def _checked(progress: Any, n_jobs: Any) -> dict[str, Any]:
    new: dict[str, Any] = {}
    if progress is not _UNSET:
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False; got {type(progress).__name__} "
                            f"{progress!r}")
        new["progress"] = progress
    if n_jobs is not _UNSET:
        if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int)):
            raise TypeError(f"n_jobs must be an int or None; got {type(n_jobs).__name__} "
                            f"{n_jobs!r}")
        if n_jobs == 0:
            raise ValueError("n_jobs must be a positive int, a negative int (-1: all cores) "
                             "or None; got 0")
        new["n_jobs"] = n_jobs
    return new


def set_config(*, progress: bool = _UNSET, n_jobs: int | None = _UNSET) -> None:
    """Set the global configuration of ``shap_debug`` and ``captum_ext``; a setting left out
    keeps its value.

    Parameters
    ----------
    progress : bool
        ``False`` silences every progress bar of both packages, whatever a call's own
        ``progress`` says. ``True`` (the default) lets each call decide. The environment
        variable ``TQDM_DISABLE=1`` silences them too.
    n_jobs : int or None
        The number of parallel jobs of every loop whose call leaves ``n_jobs=None``
        (``-1``: all cores). ``None`` (the default) defers to joblib, whose default is one
        job unless a ``joblib.parallel_config(n_jobs=...)`` block says otherwise. A call's own
        ``n_jobs`` (an int) always wins.

    Examples
    --------
    >>> import shap_debug
    >>> shap_debug.set_config(progress=False)
    >>> shap_debug.get_config()["progress"]
    False
    >>> shap_debug.set_config(progress=True)
    """
    _CONFIG.update(_checked(progress, n_jobs))


@contextmanager
def config_context(*, progress: bool = _UNSET, n_jobs: int | None = _UNSET) -> Iterator[None]:
    """:func:`set_config` inside a ``with`` block only; the previous configuration comes back
    at its end, also when the block raises.

    Examples
    --------
    >>> import shap_debug
    >>> with shap_debug.config_context(n_jobs=2):
    ...     shap_debug.get_config()["n_jobs"]
    2
    >>> shap_debug.get_config()["n_jobs"] is None
    True
    """
    new = _checked(progress, n_jobs)
    old = dict(_CONFIG)
    _CONFIG.update(new)
    try:
        yield
    finally:
        _CONFIG.clear()
        _CONFIG.update(old)


def show_progress(progress: bool) -> bool:
    """Whether a bar the call asks for (``progress``) is shown: not when the global
    configuration or ``TQDM_DISABLE`` silence bars.

    Examples
    --------
    >>> show_progress(False)
    False
    """
    if not progress or not _CONFIG["progress"]:
        return False
    flag = os.environ.get("TQDM_DISABLE", "").strip().lower()
    return flag in ("", "0", "false", "no", "off")


def resolve_n_jobs(n_jobs: int | None) -> int | None:
    """A call's ``n_jobs``, or the global one where the call leaves ``None``.

    Examples
    --------
    >>> resolve_n_jobs(3)
    3
    """
    return _CONFIG["n_jobs"] if n_jobs is None else n_jobs
