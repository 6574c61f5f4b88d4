# Two commands do all set-up: `make demo` and `make test`. Both create .venv when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: install
	$(VENV)/bin/aics demo

# pytest exits 5 when it collected nothing; make treats any non-zero status as failure.
test: install
	$(PY) -m pytest

test-all: install
	$(PY) -m pytest -m ''

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
