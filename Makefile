# The two commands: `make demo` (main job on the embedded data) and `make test`.
# Each creates .venv on first use and installs the pinned package into it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.molprior-installed

.PHONY: demo test test-unit test-integration test-cli install data bench-featurize clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is installed first so the pinned CPU wheel is taken, never a CUDA build.  setuptools'
# notice that every editable install gets ("Editable installation. Please be careful with
# folders ...") is silenced; real warnings still show.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/molprior demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# One kind of test at a time (every test is one of them; `make test` runs them all).
test-unit test-integration test-cli: test-%: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m $*

# Rebuild the embedded data under data/ from the public packages on PyPI.
data: $(STAMP)
	$(BIN)/python data/build_data.py

bench-featurize: $(STAMP)
	$(BIN)/python pipelines/bench_featurize.py

clean:
	rm -rf $(VENV) mlflow.db mlruns .pytest_cache
