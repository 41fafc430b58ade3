# Two commands do all the set-up: `make report` (the main job) and `make test` (the suite).
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install report test lint clean chromium matrix

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch's CPU wheel first: with it in place, the project's `torch>=2.3` pulls no CUDA build
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

report: $(STAMP)
	$(BIN)/shap-debug report

# headless Chromium for the report's browser test (skipped, not failed, when it cannot install)
chromium:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  >/dev/null 2>&1 || echo "chromium not installed: the browser test will be skipped"; }

test: $(STAMP) chromium
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/python -m pytest -q -n 2 --doctest-modules shap_debug captum_ext tests

lint: $(STAMP)
	$(BIN)/ruff check shap_debug captum_ext tests benchmarks

# the oldest and the newest supported stack, each in a fresh venv under build/matrix, each
# running a fast subset of the suite; writes docs/matrix.md (minutes; by hand, not in CI)
matrix:
	nice $(PY) .ci/matrix.py

clean:
	rm -rf $(VENV) build *.egg-info
