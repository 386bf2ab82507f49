# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LDAP_STAMP := $(VENV)/.installed-ldap
TEST_STAMP := $(VENV)/.installed-test
PROTOS := $(shell find protos -name '*.proto')
API := clients/api
STUBS := $(API)/identity_api/v1/identity_pb2.py $(API)/identity_api/admin/v1/admin_pb2.py

.PHONY: all venv stubs run test test-fast tempest bench clean

all: stubs

# What running needs, all three editable, in one pip run: the contract (identity-api: stubs,
# token format, revocation index, policy language), then the client and the service,
# which both pin it (IDENTITY_API_FROM_INDEX=1: they keep the plain pin, which the
# editable contract satisfies; clients/api/pin_to_tree.py). The test tools, the
# `identity` CLI and the `ldap` extra come with $(TEST_STAMP), for `make test` and
# `make stubs`, and LDAP=1 adds the last;
# tools/system-packages first: the Debian packages python-ldap builds against and the
# slapd the LDAP tests run (installed when root, else named).
$(STAMP): pyproject.toml setup.py clients/pyproject.toml clients/setup.py $(API)/pyproject.toml \
		$(API)/setup.py $(API)/pin_to_tree.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	IDENTITY_API_FROM_INDEX=1 $(PY) -m pip install -q -e './$(API)' -e './clients' -e .
	touch $@

$(LDAP_STAMP): $(STAMP)
	tools/system-packages
	IDENTITY_API_FROM_INDEX=1 $(PY) -m pip install -q -e '.[ldap]'
	touch $@

$(TEST_STAMP): $(LDAP_STAMP)
	IDENTITY_API_FROM_INDEX=1 $(PY) -m pip install -q -e './clients[cli]' -e '.[test,ldap]'
	touch $@

venv: $(STAMP)

$(STUBS) &: $(PROTOS) $(STAMP)
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=$(API) --pyi_out=$(API) \
		--grpc_python_out=$(API) $(PROTOS)
	touch $(STUBS)

# The whole development set-up (the test tools too); `make run` needs only $(STUBS).
stubs: $(STUBS) $(TEST_STAMP)

# Serves gRPC and the HTTP gateway over an embedded SQLite store in ./var/,
# initialising the store, the keys, the bootstrap admin and (into a new store only,
# once: identity_grpc/demo.py) the demo dataset first; `--demo` tells the server its
# published passwords are expected (else it warns of each still in use).
# Settings: IDENTITY_* variables, or a file named with `make run CONFIG=path.toml`.
# LDAP=1: also a demo slapd on 127.0.0.1:3890 (var/ldap-demo/) and domain Employees
# reading it; identity_grpc/ldap_demo.py runs setup and the server, and stops slapd after.
run: $(STUBS) $(if $(filter 1,$(LDAP)),$(LDAP_STAMP))
ifeq ($(LDAP),1)
	$(PY) -m identity_grpc.ldap_demo $(if $(CONFIG),--config $(CONFIG))
else
	$(PY) -m identity_grpc.manage $(if $(CONFIG),--config $(CONFIG)) setup --demo
	$(PY) server.py --demo $(if $(CONFIG),--config $(CONFIG))
endif

# Test processes: the suite mostly waits on the servers it starts, so three share two
# cores well; TEST_JOBS=0 runs it in this one process (easier to debug). The bulk runs
# on SQLite, the every_backend tests on each backend; `make test
# IDENTITY_TEST_ALL_BACKENDS=1` runs every test on every backend (docs/testing.md).
TEST_JOBS ?= 3
test: stubs
	$(PY) -m pytest -q -n $(TEST_JOBS) $(PYTEST_ARGS)

test-fast: stubs
	$(PY) -m pytest -q -n $(TEST_JOBS) -m 'not slow' $(PYTEST_ARGS)

# Throughput and latency against the no-op ceiling and the bare gRPC one, from separate
# load processes; the `bench` extra brings py-spy for bench/spy_profile.py, and Debian's
# wrk drives the HTTP gateway (BENCH_ARGS='--keystone URL --keystone-password P' adds
# a Keystone beside it).
# `make bench SIZES=small,large` also loads a million-user deployment (kept in
# bench/var/large for the next run) and compares the two sizes.
SIZES ?= small
# OpenStack's identity conformance suite (Tempest 47.0.0, in a virtualenv of its own)
# against a fresh server, compared with Keystone 30's results (tests/tempest/run.py).
tempest: stubs
	$(PY) tests/tempest/run.py $(TEMPEST_ARGS)

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(TEST_STAMP)
	IDENTITY_API_FROM_INDEX=1 $(PY) -m pip install -q -e '.[bench]'
	tools/system-packages wrk
	touch $@

bench: stubs $(BENCH_STAMP)
	$(PY) bench/run.py --sizes $(SIZES) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var $(shell find $(API)/identity_api -name '*_pb2*.py*')
