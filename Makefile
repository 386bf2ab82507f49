# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(shell find protos -name '*.proto')
API := clients/api
STUBS := $(API)/identity_api/v1/identity_pb2.py $(API)/identity_api/admin/v1/admin_pb2.py

.PHONY: all venv stubs run test test-fast bench clean

all: stubs

# The contract first (identity-api: stubs, token format, revocation index, policy
# language), then the client and the service, which both pin it; all three editable.
$(STAMP): pyproject.toml clients/pyproject.toml $(API)/pyproject.toml $(API)/setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e './$(API)'
	$(PY) -m pip install -q -e './clients[cli]'
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(STAMP)

$(STUBS) &: $(PROTOS) $(STAMP)
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=$(API) --pyi_out=$(API) \
		--grpc_python_out=$(API) $(PROTOS)
	touch $(STUBS)

stubs: $(STUBS)

# Serves gRPC (and, later, the HTTP gateway) over an embedded SQLite store in ./var/,
# initialising the store, the keys, the bootstrap admin and the demo dataset first.
# Settings: IDENTITY_* variables, or a file named with `make run CONFIG=path.toml`.
run: stubs
	$(PY) -m identity_grpc.manage $(if $(CONFIG),--config $(CONFIG)) setup --demo
	$(PY) server.py $(if $(CONFIG),--config $(CONFIG))

# Test processes: the suite mostly waits on the servers it starts, so three share two
# cores well; TEST_JOBS=0 runs it in this one process (easier to debug). The bulk runs
# on SQLite, the every_backend tests on each backend; `make test
# IDENTITY_TEST_ALL_BACKENDS=1` runs every test on every backend (docs/testing.md).
TEST_JOBS ?= 3
test: stubs
	$(PY) -m pytest -q -n $(TEST_JOBS) $(PYTEST_ARGS)

test-fast: stubs
	$(PY) -m pytest -q -n $(TEST_JOBS) -m 'not slow' $(PYTEST_ARGS)

# Throughput and latency against the no-op ceiling, from separate load processes.
# `make bench SIZES=small,large` also loads a million-user deployment (kept in
# bench/var/large for the next run) and compares the two sizes.
SIZES ?= small
bench: stubs
	$(PY) bench/run.py --sizes $(SIZES) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var $(shell find $(API)/identity_api -name '*_pb2*.py*')
