"""What a user's environment sees of the distribution: floors without pins, the extras, one
version source, the licence, py.typed, optional imports that stay optional."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import shap_debug

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(req: str) -> str:
    return re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0].lower()


def test_requirements_are_floors_not_pins():
    for req in PROJECT["dependencies"]:
        assert "==" not in req and "<" not in req, f"{req!r} pins or caps a user's package"
        assert ">=" in req, f"{req!r} has no floor"
    names = {_name(r) for r in PROJECT["dependencies"]}
    assert {"torch", "shap", "captum", "scikit-learn", "numpy", "pandas"} <= names
    # optional: only the reference ALE engine, Dask runs and model files need these
    assert not names & {"pyale", "dask", "distributed", "xgboost", "xgboost-cpu", "lightgbm",
                        "catboost", "skops", "pyarrow", "cleanlab"}


def test_extras_and_python_versions():
    extras = PROJECT["optional-dependencies"]
    assert {"ale", "dask", "models", "all", "test", "bench", "docs"} <= set(extras)
    assert [_name(r) for r in extras["ale"]] == ["pyale"]
    models = {_name(r) for r in extras["models"]}
    assert "xgboost" in models and "xgboost-cpu" not in models
    for reqs in extras.values():  # a second xgboost distribution would shadow the first
        assert all(_name(r) != "xgboost-cpu" for r in reqs)
    assert PROJECT["requires-python"] == ">=3.11"
    pythons = {c.rsplit(" ", 1)[-1] for c in PROJECT["classifiers"]
               if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert pythons == {"3.11", "3.12", "3.13"}
    assert set(PROJECT["urls"]) >= {"Source", "Documentation", "Changelog", "Issues"}


def test_one_version_source():
    assert PROJECT["dynamic"] == ["version"] and "version" not in PROJECT
    dynamic = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert dynamic["dynamic"]["version"] == {"attr": "shap_debug.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", shap_debug.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert shap_debug.__version__.split(".dev")[0] in changelog


def test_licence_and_typing_markers():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and PROJECT["license"] == "MIT"
    for pkg in ("shap_debug", "captum_ext"):
        assert (ROOT / pkg / "py.typed").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in data["package-data"]["shap_debug"]
    assert "py.typed" in data["package-data"]["captum_ext"]


def test_import_loads_no_optional_package():
    # (pyarrow is not checked: pandas 3 imports it by itself where it is installed)
    code = ("import sys, shap_debug, shap_debug.explanations; "
            "print(sorted(m for m in ('PyALE', 'dask', 'distributed', 'xgboost', 'lightgbm', "
            "'catboost', 'skops', 'cleanlab') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_pyale_engine_without_pyale_names_the_extra(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    monkeypatch.setitem(sys.modules, "PyALE", None)  # as if not installed
    with pytest.raises(ImportError, match=r"shap-debug\[ale\]"):
        shap_debug.neighborhood_ale(model, X, ["a"], engine="pyale", progress=False)
    # the default engine needs no PyALE
    res = shap_debug.neighborhood_ale(model, X, ["a"], progress=False)
    assert len(res.curves) == 1


def test_citation_carries_the_version():
    text = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^cff-version: 1\.2\.0$", text, flags=re.M)
    assert re.search(rf"^version: {re.escape(shap_debug.__version__)}$", text, flags=re.M)


def test_readme_set_up_is_two_commands_and_ci_runs_its_test_command():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [ln.split("#")[0].strip() for ln in quick.splitlines() if ln.strip()]
    assert commands == ["make report", "make test"]
    stated = re.search(r"`make test` runs `([^`]+)`", readme).group(1)
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert stated.replace(".venv/bin/", "$(BIN)/") in recipe
    ci = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.startswith("#")]
    assert ci[-1] == "make test"
