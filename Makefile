# jointsr: `make train` and `make test` work on a fresh clone (they install first).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=
EXPERIMENT ?= budget_protocol
DATA   ?= rgbnir
SCALE  ?= x4
export JOINTSR_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: help install train test test-full check-studies clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first: the CPU wheel of this machine; otherwise pip would fetch a CUDA build
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install jointsr (editable, with dev extras)

train: $(STAMP)  ## train the default recipe (EXPERIMENT=budget_protocol DATA=rgbnir SCALE=x4: 20 min, then test); overrides in ARGS="..."
	$(BIN)/jointsr-train experiment=$(EXPERIMENT) data=$(DATA) scale=$(SCALE) $(ARGS)

test: $(STAMP)  ## the fast test suite (real data from JOINTSR_DATA_DIR)
	$(BIN)/python -m pytest -q $(ARGS)

test-full: $(STAMP)  ## every test, the slow ones included
	$(BIN)/python -m pytest -q -m "slow or not slow" $(ARGS)

check-studies: $(STAMP)  ## regenerate every table of every study README from its committed files; fail on a difference
	$(BIN)/python experiments/check_studies.py

clean:  ## remove the virtual environment, caches and run outputs
	rm -rf $(VENV) .pytest_cache logs outputs multirun wandb
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
