# Both targets set themselves up on a fresh machine: a virtualenv in .venv with the
# package and its dev, examples and spark extras (pyspark runs the Spark job's tests on a
# local Spark, with the machine's Java); DynamoDB Local is fetched into the user cache on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# aioboto3 pins an older aiobotocore: its interop test runs in an environment of its own.
INTEROP := .venv-interop
# The benchmarks install peers (aioboto3, PynamoDB, aiodynamo) in an environment of their own.
BENCH := .venv-bench
# dynalite is the third engine for the table manager: its tables really pass through
# CREATING and DELETING. It has no transactions or TTL updates, so only these run there.
TABLE_TESTS := tests/test_tables.py tests/test_tables_ensure.py tests/test_testing_engine.py

.PHONY: test demo bench lint typecheck interop clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,examples,spark]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

$(INTEROP)/.installed: pyproject.toml
	test -x $(INTEROP)/bin/python || $(PYTHON) -m venv $(INTEROP)
	$(INTEROP)/bin/python -m pip install --quiet --upgrade pip
	$(INTEROP)/bin/python -m pip install --quiet -e '.[aioboto3]' 'pytest>=8' 'pytest-asyncio>=0.24'
	touch $@

interop: $(INTEROP)/.installed
	DYNAMORM_TEST_ENGINE=dynamodb-local $(INTEROP)/bin/python -m pytest tests/interop

# Every integration test runs on both transports: the lean one, then aiobotocore (the second
# pass leaves out the modules that do not depend on the transport; tests/conftest.py).
test: lint typecheck
	DYNAMORM_TRANSPORT=lean DYNAMORM_TEST_ENGINE=dynamodb-local $(BIN)/python -m pytest
	DYNAMORM_TRANSPORT=aiobotocore DYNAMORM_TEST_ENGINE=dynamodb-local $(BIN)/python -m pytest
	DYNAMORM_TRANSPORT=lean DYNAMORM_TEST_ENGINE=moto $(BIN)/python -m pytest
	DYNAMORM_TRANSPORT=aiobotocore DYNAMORM_TEST_ENGINE=moto $(BIN)/python -m pytest
	DYNAMORM_TRANSPORT=lean DYNAMORM_TEST_ENGINE=dynalite $(BIN)/python -m pytest $(TABLE_TESTS)
	DYNAMORM_TRANSPORT=aiobotocore DYNAMORM_TEST_ENGINE=dynalite $(BIN)/python -m pytest $(TABLE_TESTS)
	$(MAKE) interop

demo: $(STAMP)
	$(BIN)/python examples/demo.py

$(BENCH)/.installed: pyproject.toml
	test -x $(BENCH)/bin/python || $(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH)/bin/python -m pip install --quiet '.[bench]'
	touch $@

# The library is measured as users get it: installed from a wheel, its bytecode compiled
# at install time (as the peers' is), not run from this source tree.
# aiodynamodb needs Python >= 3.12: the benchmarks run it from an environment of its own.
PEERS := .venv-bench-peers
PEERS_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null))

$(PEERS)/.installed: benchmarks/peers-requirements.txt
	test -x $(PEERS)/bin/python || $(PEERS_PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet -r benchmarks/peers-requirements.txt
	touch $@

# A machine without Python 3.12 still benchmarks: the scenarios say aiodynamodb was not run.
bench: $(BENCH)/.installed
	-$(MAKE) $(PEERS)/.installed
	$(BENCH)/bin/python -m pip install --quiet --no-deps --force-reinstall .
	$(BENCH)/bin/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(INTEROP) $(BENCH) $(PEERS) .mypy_cache .pytest_cache .ruff_cache
