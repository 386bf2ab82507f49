"""The project's own adversarial suite: a seeded fuzzer over every RPC of both gRPC
packages and every route of the HTTP gateway, discovered from the contract and the
route tables, so that new RPCs and routes are covered without editing it.

`test_fuzz.py` runs it; `docs/fuzzing.md` says how to run more cases, replay one,
and keep the list of known-open cases (`known_open.py`).
"""
