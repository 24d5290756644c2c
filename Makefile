# pvaflow: `make demo` runs a whole pipeline (source -> processing -> files), `make test` runs the tests.
# Both create .venv and install what they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test soak lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo_pipeline.py

# four test processes on two cores: a system test mostly waits for frames (each pytest process has its own
# EPICS search port, so their channels never meet). worksteal: an idle process takes tests queued for a busy
# one, so the long system tests do not leave three waiting at the end (unloaded: 4:14, was 6:20 with load)
test: $(STAMP)
	$(PY) -m pytest -n 4 --dist worksteal

soak: $(STAMP)
	$(PY) -m pytest -m soak -s tests/soak

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks scripts
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) benchmarks/sim_server_rate.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
