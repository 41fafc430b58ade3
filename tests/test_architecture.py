"""The layout rules of issue 20, checked on the source with :mod:`ast`.

- no import cycle between modules of ``shap_debug`` and ``captum_ext`` (every ``import`` /
  ``from`` statement counts, at any depth: module level, inside functions, under
  ``if TYPE_CHECKING``; relative imports are resolved; ``from pkg import name`` where
  ``pkg.name`` is a submodule imports that submodule; names a package ``__init__`` loads
  lazily from strings are not import statements and do not count);
- ``captum_ext`` imports no private ``shap_debug`` name (a module path or name with a
  component starting with ``_``), ``shap_debug.core`` excepted;
- every subpackage ``__init__.py`` has a docstring.

The walker itself is tested on small synthetic packages and on copies of the facade modules
with an injected back-import.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shap_debug", "captum_ext")
MAX_LINES = 600


# --------------------------------------------------------------------------- the walker
@dataclass(frozen=True)
class Edge:
    """One import statement: ``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: str
    line: int
    names: tuple[str, ...] = ()  # the names a ``from`` statement takes


def source_files(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """``{module name: file}`` for every ``.py`` file under the packages."""
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module a (possibly relative) ``from`` statement names."""
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports_of(source: str, module: str, is_package: bool, known: set[str],
               path: str = "<string>") -> list[Edge]:
    """Every import of a known module in ``source`` (any depth), as edges from ``module``."""
    edges = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    edges.append(Edge(module, alias.name, path, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node.level, node.module)
            names = tuple(a.name for a in node.names)
            plain = []
            for name in names:
                sub = f"{target}.{name}"
                if sub in known:  # ``from pkg import submodule`` imports the submodule
                    edges.append(Edge(module, sub, path, node.lineno))
                else:
                    plain.append(name)
            if target in known and (plain or not names):
                edges.append(Edge(module, target, path, node.lineno, tuple(plain)))
    return [e for e in edges if e.target != e.source]


def import_graph(root: Path, packages: Iterable[str] = PACKAGES,
                 overrides: dict[str, str] | None = None) -> dict[str, list[Edge]]:
    """``{module: [edges]}`` over the packages; ``overrides`` replaces a module's source."""
    files = source_files(root, packages)
    known = set(files)
    graph = {}
    for module, path in files.items():
        text = (overrides or {}).get(module)
        if text is None:
            text = path.read_text(encoding="utf-8")
        graph[module] = imports_of(text, module, path.name == "__init__.py", known,
                                   str(path.relative_to(root)))
    return graph


def strongly_connected(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted({e.target for e in graph[start]})))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted({e.target for e in graph[child]}))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def a_cycle(graph: dict[str, list[Edge]], component: list[str]) -> list[Edge]:
    """One concrete cycle inside a strongly connected component (shortest from its first)."""
    members = set(component)
    start = component[0]
    prev: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for e in graph[node]:
                if e.target not in members:
                    continue
                if e.target == start:
                    path = [e]
                    while path[0].source != start:
                        path.insert(0, prev[path[0].source])
                    return path
                if e.target not in prev:
                    prev[e.target] = e
                    nxt.append(e.target)
        frontier = nxt
    raise AssertionError(f"{component} is not strongly connected")


def describe(cycle: list[Edge]) -> str:
    return " -> ".join([cycle[0].source] + [f"{e.target} ({e.path}:{e.line})" for e in cycle])


def cycles(graph: dict[str, list[Edge]]) -> list[str]:
    return [describe(a_cycle(graph, comp)) for comp in strongly_connected(graph)]


def private_imports(graph: dict[str, list[Edge]], importer: str = "captum_ext",
                    exporter: str = "shap_debug") -> list[str]:
    """Imports from ``importer`` of a private ``exporter`` module or name (core excepted)."""

    def private(part: str) -> bool:
        return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))

    bad = []
    for module, edges in graph.items():
        if module != importer and not module.startswith(importer + "."):
            continue
        for e in edges:
            parts = e.target.split(".")
            if parts[0] != exporter or parts[1:2] == ["core"]:
                continue
            names = [n for n in e.names if private(n)]
            if any(private(p) for p in parts) or names:
                what = e.target + (f" ({', '.join(names)})" if names else "")
                bad.append(f"{e.path}:{e.line} imports {what}")
    return bad


def oversized(root: Path, packages: Iterable[str] = PACKAGES,
              limit: int = MAX_LINES) -> list[str]:
    out = []
    for path in source_files(root, packages).values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append(f"{path.relative_to(root)}: {n} lines")
    return out


def undocumented_packages(root: Path, packages: Iterable[str] = PACKAGES) -> list[str]:
    out = []
    for module, path in source_files(root, packages).items():
        if path.name == "__init__.py" and not ast.get_docstring(
                ast.parse(path.read_text(encoding="utf-8"))):
            out.append(f"{path.relative_to(root)} ({module})")
    return out


# --------------------------------------------------------------------------- the tree
@functools.cache
def tree_graph() -> dict[str, list[Edge]]:
    return import_graph(ROOT)


def test_no_import_cycles():
    found = cycles(tree_graph())
    assert not found, "import cycles:\n" + "\n".join(found)


def test_captum_ext_imports_no_private_shap_debug_name():
    bad = private_imports(tree_graph())
    assert not bad, "\n".join(bad)


def test_every_subpackage_init_has_a_docstring():
    missing = undocumented_packages(ROOT)
    assert not missing, "\n".join(missing)


def test_the_facade_is_the_only_layer_importing_both_packages():
    graph = tree_graph()
    # shap_debug.fixes composes both packages on purpose: it retrains with flip points added
    facade = ("shap_debug.debugger", "shap_debug.report", "shap_debug.cli", "shap_debug.fixes")
    both = sorted(m for m, edges in graph.items() if m.startswith("shap_debug")
                  and not any(m == f or m.startswith(f + ".") for f in facade)
                  and any(e.target.startswith("captum_ext")
                                              for e in edges))
    assert not both, f"only the facade may import captum_ext: {both}"


def test_the_report_renders_without_analysis_modules():
    graph = tree_graph()
    allowed = ("shap_debug.core", "shap_debug.plots")
    report = [m for m in graph if m == "shap_debug.report" or m.startswith("shap_debug.report.")]
    bad = [f"{e.path}:{e.line} imports {e.target}" for m in report for e in graph[m]
           if not e.target.startswith(allowed) and not e.target.startswith("shap_debug.report")]
    assert not bad, "\n".join(bad)


# --------------------------------------------------------------------------- the walker
def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_walker_on_a_synthetic_package(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": '"""Top."""\n_LAZY = {"a": "a"}  # lazy names are strings\n',
        "pkg/a.py": "from .sub import b\n",
        "pkg/sub/__init__.py": "from .c import C\n",  # no docstring
        "pkg/sub/b.py": "def f():\n    if True:\n        from ..a import x\n",
        "pkg/sub/c.py": "import pkg.d as d\nC = 1\n",
        "pkg/d.py": "from pkg import sub\n" + "x = 1\n" * 7,
        "other/__init__.py": '"""Other."""\n',
        "other/e.py": "from pkg.a import _hidden, shown\nfrom pkg._priv import y\n"
                      "from pkg.sub.core import z\nfrom pkg import __doc__\n",
        "other/f.py": "from . import e\nfrom .e import g\n",
    })
    packages = ("pkg", "other")
    graph = import_graph(tmp_path, packages)
    targets = {m: sorted({e.target for e in edges}) for m, edges in graph.items()}
    assert targets["pkg"] == []  # lazy loading via strings is no import
    assert targets["pkg.a"] == ["pkg.sub.b"]  # ``from .sub import b``: the submodule
    assert targets["pkg.sub.b"] == ["pkg.a"]  # relative, two levels, inside a function
    assert targets["pkg.sub"] == ["pkg.sub.c"]
    assert targets["pkg.sub.c"] == ["pkg.d"]
    assert targets["pkg.d"] == ["pkg.sub"]
    assert targets["other.f"] == ["other.e"]
    found = cycles(graph)
    assert len(found) == 2, found
    joined = "\n".join(found)
    assert "pkg.a -> pkg.sub.b (pkg/a.py:1) -> pkg.a (pkg/sub/b.py:3)" in joined
    assert "pkg.d -> pkg.sub (pkg/d.py:1) -> pkg.sub.c (pkg/sub/__init__.py:1)" in joined
    bad = private_imports(graph, importer="other", exporter="pkg")
    assert bad == ["other/e.py:1 imports pkg.a (_hidden)"]  # pkg._priv is not a file here
    _write(tmp_path, {"pkg/_priv.py": "y = 1\n", "pkg/sub/core.py": "z = 1\n"})
    bad = private_imports(import_graph(tmp_path, packages), importer="other", exporter="pkg")
    assert bad == ["other/e.py:1 imports pkg.a (_hidden)", "other/e.py:2 imports pkg._priv"]
    assert oversized(tmp_path, packages, limit=5) == ["pkg/d.py: 8 lines"]
    assert undocumented_packages(tmp_path, packages) == ["pkg/sub/__init__.py (pkg.sub)"]


def test_walker_sees_core_as_public_and_no_cycle_in_a_chain(tmp_path):
    _write(tmp_path, {
        "lib/__init__.py": '"""Lib."""\n',
        "lib/core/__init__.py": '"""Core."""\nfrom ._impl import k\n',
        "lib/core/_impl.py": "k = 1\n",
        "lib/x.py": "from .core import k\n",
        "ext/__init__.py": '"""Ext."""\n',
        "ext/y.py": "from lib.core._impl import k\nimport lib.x\n",
    })
    graph = import_graph(tmp_path, ("lib", "ext"))
    assert cycles(graph) == []
    assert private_imports(graph, importer="ext", exporter="lib") == []


@pytest.mark.parametrize("module, injected, expected", [
    ("shap_debug.report", "def _f():\n    from ..debugger import Debugger\n",
     {"shap_debug.report", "shap_debug.debugger._debugger"}),
    ("shap_debug.audit._integrity", "def _f():\n    from shap_debug import debugger\n",
     {"shap_debug.audit._integrity", "shap_debug.debugger._debugger"}),
    ("shap_debug.debugger._debugger", "def _f():\n    from .. import cli\n",
     {"shap_debug.cli", "shap_debug.debugger._debugger"}),
    ("shap_debug.report._render", "import shap_debug.debugger._debugger\n",
     {"shap_debug.report._render", "shap_debug.debugger._debugger"}),
])
def test_walker_catches_a_back_import_in_the_facade(module, injected, expected):
    path = source_files(ROOT)[module]
    graph = import_graph(ROOT, overrides={module: path.read_text() + "\n" + injected})
    comps = [set(c) for c in strongly_connected(graph)]
    assert any(expected <= c for c in comps), comps
    before = [set(c) for c in strongly_connected(tree_graph())]
    assert not any(expected <= c for c in before), before
