"""A flood of wrong passwords is shed, not queued: past `password_queue_limit` checks
waiting or running, a password check is refused at once (RESOURCE_EXHAUSTED / 429
with Retry-After), so the server's threads stay free for token validation. Bounded in
count, not timed: the p99 figures are `make bench`'s (bench/flood.py)."""

from concurrent import futures

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service
from identity_grpc.gateway.server import HttpServer
from sources import http_call
from support import login, password_request, project_scope, validate

CODE = grpc.StatusCode
FLOOD = 24
# Checks must take real time for a queue of them to fill.
pytestmark = pytest.mark.real_hashing


@pytest.fixture
def small_queue(deployment):
    """One hashing thread, two checks at most, no throttles (as if the flood came
    from many addresses); yields (service, gateway base url)."""
    running = start_service(deployment.replace(
        password_hash_concurrency=1, password_queue_limit=2,
        login_failures_per_user_and_address=0, login_failures_per_address=0))
    server = HttpServer(running.core, "127.0.0.1:0", threads=FLOOD).start()
    yield running, f"http://127.0.0.1:{server.port}"
    server.stop()
    running.stop()


def _wrong(i: int) -> pb.AuthenticateRequest:
    """Half for a real user, half for an unknown one: the dummy verify is bounded too."""
    return password_request("alice" if i % 2 else f"nobody-{i}", password=f"guess-{i}")


def test_a_flood_of_wrong_passwords_is_shed_on_grpc_and_validation_answers(small_queue):
    service, _ = small_queue
    nova = login(service.stub, "nova", project_scope("service")).token
    subject = login(service.stub, "alice", project_scope("acme")).token
    calls = [service.stub.Authenticate.future(_wrong(i), timeout=60) for i in range(FLOOD)]
    # Asked while the flood is in flight: answered (a hung server would time out).
    assert validate(service.stub, nova, subject, no_catalog=True).user.name == "alice"
    codes = []
    for call in calls:
        try:
            call.result()
            codes.append(CODE.OK)
        except grpc.RpcError as e:
            codes.append(e.code())
            if e.code() == CODE.RESOURCE_EXHAUSTED:
                assert "too many password checks" in e.details()
    assert CODE.RESOURCE_EXHAUSTED in codes, codes
    assert set(codes) <= {CODE.UNAUTHENTICATED, CODE.RESOURCE_EXHAUSTED}, codes
    assert login(service.stub, "alice").token  # after the flood, logins work


def test_a_flood_of_wrong_passwords_is_shed_on_http(small_queue):
    service, base = small_queue

    def attempt(i: int):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "alice" if i % 2 else f"nobody-{i}", "domain": {"id": "default"},
            "password": f"guess-{i}"}}}}}
        return http_call(base, "POST", "/v3/auth/tokens", body)

    with futures.ThreadPoolExecutor(FLOOD) as pool:
        answers = list(pool.map(attempt, range(FLOOD)))
    statuses = [status for status, _, _ in answers]
    assert 429 in statuses, statuses
    assert set(statuses) <= {401, 429}, statuses
    assert all(int(headers["Retry-After"]) >= 1 for status, headers, _ in answers
               if status == 429)
