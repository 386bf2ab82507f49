"""The project's own adversarial suite: a seeded fuzzer over every RPC of both gRPC
packages and every gateway route, against one fixture server with the demo data.

It fails on INTERNAL or UNKNOWN, an HTTP 5xx, a dropped connection or a timeout, a
password echoed in an answer, and any traceback the server logs; each failure names
the seed and the exact request. Known bugs that other work owns are reported as
skipped, with their count (`fuzzing/known_open.py`). See docs/fuzzing.md.
"""

import os
import urllib.request

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb

from fuzzing import campaign
from fuzzing.world import build_world

pytestmark = pytest.mark.every_backend

# The other backends refuse values SQLite takes (overlong strings, NUL, out-of-range
# integers): they get a shorter run of the same seed.
SHARE_BY_BACKEND = {"sqlite": 1.0}
OTHER_BACKENDS_SHARE = 0.2
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 << 20),
                   ("grpc.max_send_message_length", 64 << 20)]


@pytest.mark.slow
def test_fuzzer_finds_no_server_error(request, service, gateway, subtests, capfd):
    backend = request.node.callspec.params["database_url"]
    share = SHARE_BY_BACKEND.get(backend, OTHER_BACKENDS_SHARE)
    cases = max(50, int(campaign.cases_from_env() * share))
    with grpc.insecure_channel(service.address, options=CHANNEL_OPTIONS) as channel:
        world = build_world(channel)
        run = campaign.Campaign(world, channel, gateway, campaign.seed_from_env(),
                                read_stderr=lambda: capfd.readouterr().err,
                                budget=campaign.budget_from_env())
        if os.environ.get("IDENTITY_FUZZ_REPLAY"):
            return _replay(run, os.environ["IDENTITY_FUZZ_REPLAY"])
        report = run.run(cases)
    service.stub.Ping(pb.PingRequest(), timeout=10)  # both transports still serve
    assert urllib.request.urlopen(gateway + "/v3", timeout=10).status == 200
    print(report.summary())
    _report(subtests, run, report, world.tokens)
    assert not report.stopped_early or sum(report.calls.values()) >= cases // 4, report.summary()


def _report(subtests, run: campaign.Campaign, report: campaign.Report, tokens: dict) -> None:
    """A skipped subtest per known-open entry seen, a failed one per group of bugs."""
    for name, hits in report.known.items():
        entry = next(e for e in campaign.KNOWN_OPEN if e.name == name)
        with subtests.test(msg=f"known open: {name}"):
            example = campaign.failure_message(report, name, hits, tokens, shown=1)
            pytest.skip(f"known open ({entry.owner}): {example}")
    for name, hits in sorted(report.failures.items()):
        with subtests.test(msg=name):
            pytest.fail(campaign.failure_message(report, name, hits, tokens), pytrace=False)
    with subtests.test(msg="every RPC and route was called"):
        assert report.stopped_early or not run.uncovered(), run.uncovered()


def _replay(run: campaign.Campaign, text: str) -> None:
    """One case, as a failure message printed it, against this run's fresh server
    (ids are those of the failing run: a case that needs its state needs the rerun)."""
    literal = eval(text, {"__builtins__": {}, "float": float})  # compact(): literals, + and *
    case, outcome = run.replay(literal)
    entry = campaign.known_open_entry(case, outcome)
    print(outcome.describe(), f"(known open: {entry.name})" if entry else "")
    assert not outcome.problems, outcome.describe()
