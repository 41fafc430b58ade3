"""The docs run: every ```python block of README.md and docs/*.md is executed, page by page in
one namespace (as a reader runs them in order), in a temporary folder; and docs/api.md is what
docs/gen_api.py writes today.

A block that needs a cluster, a user's file or minutes of CPU is marked in the page by an HTML
comment on the line before it, ``<!-- skip: the reason -->``; it is reported as skipped with
that reason (``pytest -ra``) and not run. A failing block names its page and line.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# pages executed elsewhere, with the reason
ELSEWHERE = {
    "docs/tutorial_xgboost.md": "executed by tests/test_models.py::test_tutorial_runs_end_to_end "
                                "(on a subsample set through N_ROWS)",
}
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_SKIP = re.compile(r"<!--\s*skip:\s*(.+?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: str      # path relative to the repository root
    line: int      # 1-based line of the first code line
    code: str
    skip: str | None


def blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """The ```python blocks of one page, each with the skip reason written before it."""
    text = path.read_text(encoding="utf-8")
    rel = path.relative_to(root).as_posix()
    out = []
    for m in _FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        reason = _SKIP.search(before)
        line = text.count("\n", 0, m.start(1)) + 1
        out.append(Block(rel, line, m.group(1), reason.group(1) if reason else None))
    return out


ALL = [b for p in PAGES for b in blocks(p)]
RUN_PAGES = sorted({b.page for b in ALL if b.skip is None and b.page not in ELSEWHERE})
SKIPPED = [b for b in ALL if b.skip is not None and b.page not in ELSEWHERE]


def test_the_runner_sees_every_page_with_code():
    pages_with_code = {b.page for b in ALL}
    assert "README.md" in pages_with_code and len(pages_with_code) >= 10
    assert {*RUN_PAGES, *ELSEWHERE, *(b.page for b in SKIPPED)} == pages_with_code
    # a skip marker must say why
    assert all(len(b.skip) >= 10 for b in SKIPPED)


def test_blocks_parse_with_their_markers(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("text\n```python\nx = 1\n```\n<!-- skip: needs a Dask cluster -->\n"
                    "```python\nraise SystemExit\n```\n```bash\nls\n```\n")
    got = blocks(page, tmp_path)
    assert [(b.line, b.code, b.skip) for b in got] == [
        (3, "x = 1\n", None), (7, "raise SystemExit\n", "needs a Dask cluster")]


@pytest.mark.parametrize("page", RUN_PAGES)
def test_page_runs(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)  # files the examples write land here
    namespace: dict = {"__name__": "__docs__"}
    for b in (b for b in ALL if b.page == page):
        if b.skip is not None:
            continue
        # pad so that a traceback names the page's own line numbers
        code = compile("\n" * (b.line - 1) + b.code, b.page, "exec")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(code, namespace)
        plt.close("all")


@pytest.mark.parametrize("page", sorted(ELSEWHERE))
def test_page_run_elsewhere(page):
    assert (ROOT / page).is_file()
    pytest.skip(f"{page}: {ELSEWHERE[page]}")


@pytest.mark.parametrize("block", SKIPPED, ids=lambda b: f"{b.page}:{b.line}")
def test_marked_block(block):
    pytest.skip(f"{block.page} line {block.line}: {block.skip}")


# --------------------------------------------------------------------------- docs/api.md
def _gen_api():
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "docs" / "gen_api.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_api_reference_is_fresh():
    want = _gen_api().render()
    have = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert have == want, "docs/api.md is stale: run `python docs/gen_api.py` and commit it"


def test_api_reference_lists_every_public_name():
    import captum_ext
    import shap_debug

    text = _gen_api().render()
    for pkg, mod in (("shap_debug", shap_debug), ("captum_ext", captum_ext)):
        for name in mod.__all__:
            if not isinstance(getattr(mod, name), type(shap_debug)):  # modules are not listed
                assert f"### `{pkg}.{name}`" in text
