# xax-tui: `make run` trains the default task headless, `make test` runs the suite. Both set up .venv first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_ENV := HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 JAX_PLATFORMS=cpu
SRC := xaxengine xaxtui tasks tests bench scripts

.PHONY: install lock run test soak bench docs format static-checks all clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock scripts/install.sh
	@bash scripts/install.sh $(VENV)
	@touch $(STAMP)

# Re-resolves requirements.lock after a dependency change in pyproject.toml (LOCK_ARGS=--upgrade moves every pin).
lock: install
	bash scripts/lock.sh $(VENV) $(LOCK_ARGS)
	@$(MAKE) --no-print-directory install

run: install
	$(TEST_ENV) $(BIN)/xaxengine run tasks/mnist.toml

# -n auto: one pytest-xdist worker per core. --dist loadfile keeps a file on one worker, so a module-scoped fixture
# (a reference run, every layout's runs, the sshd server) is built once and a file's tests never overlap each other.
test: install
	$(TEST_ENV) $(BIN)/python -m pytest -q -n auto --dist loadfile tests

soak: install
	$(TEST_ENV) $(BIN)/python bench/soak_kill_resume.py

bench: install
	$(TEST_ENV) $(BIN)/python bench/engine_vs_raw.py
	$(TEST_ENV) $(BIN)/python bench/checkpoint_stall.py
	$(TEST_ENV) $(BIN)/python bench/logging_overhead.py
	$(TEST_ENV) $(BIN)/python bench/tui_bench.py
	$(TEST_ENV) $(BIN)/python bench/timing_overhead.py

docs: install
	$(TEST_ENV) $(BIN)/python scripts/gen_docs.py

format: install
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

static-checks: install
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ty check xaxengine xaxtui
	$(BIN)/lint-imports
	$(TEST_ENV) $(BIN)/python scripts/gen_docs.py --check

all: format static-checks test

clean:
	rm -rf $(VENV) runs .pytest_cache
