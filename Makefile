# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(shell find protos -name '*.proto')
STUBS := clients/identity_api/v1/identity_pb2.py clients/identity_api/admin/v1/admin_pb2.py

.PHONY: all venv stubs run test test-fast bench clean

all: stubs

$(STAMP): pyproject.toml clients/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e './clients[cli]' -e '.[test]'
	touch $@

venv: $(STAMP)

$(STUBS) &: $(PROTOS) $(STAMP)
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=clients --pyi_out=clients \
		--grpc_python_out=clients $(PROTOS)
	touch $(STUBS)

stubs: $(STUBS)

# Serves gRPC (and, later, the HTTP gateway) over an embedded SQLite store in ./var/,
# initialising the store, the keys, the bootstrap admin and the demo dataset first.
# Settings: IDENTITY_* variables, or a file named with `make run CONFIG=path.toml`.
run: stubs
	$(PY) -m identity_grpc.manage $(if $(CONFIG),--config $(CONFIG)) setup --demo
	$(PY) server.py $(if $(CONFIG),--config $(CONFIG))

# Test processes: the suite mostly waits on the servers it starts, so three share two
# cores well; TEST_JOBS=0 runs it in this one process (easier to debug).
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
	rm -rf $(VENV) var $(shell find clients/identity_api -name '*_pb2*.py*')
