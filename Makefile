# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, install Tandem, compile GPT-2 for an A100 and print the cost report
#   make test   - create .venv, install Tandem with test tools, run ruff, lit and pytest
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tandem-installed

.PHONY: demo test lint bench docs clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tandem compile gpt2 --target a100-sxm4-40gb

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/lit -sv tests/filecheck
	$(PY) -m pytest -n 2 --durations=15

docs: $(STAMP)
	$(PY) docs/gen_dialect_doc.py

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
