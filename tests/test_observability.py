"""What an operator sees of a running server (docs/observability.md): its Prometheus
metrics, scraped over HTTP, move with the calls it serves (with two worker processes
too); every stderr line is one JSON record; a call's request id is the same in its
log line and in its answer (gRPC trailer, HTTP header); a traceback is one line;
health probes stay out of the INFO log. Each test runs `server.py` for real."""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from identity_api.v1 import identity_pb2 as pb

from conftest import ROOT, store_env
from observed_server import ObservedServer, sample
from support import (ADMIN_PASSWORD, DEMO_PASSWORDS, auth_md, login, password_request,
                     project_scope, rpc_error, system_admin_token)

PING = "/identity.v1.Identity/Ping"


def http(url: str, method: str = "GET", body: dict | None = None, token: str = ""):
    """(status, headers, body) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **({"X-Auth-Token": token} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def eventually(server, check, timeout: float = 15.0) -> dict:
    """A scrape for which `check(samples)` holds, scraping again until it does: the
    feeds' figures move when the store watcher next polls."""
    deadline = time.monotonic() + timeout
    while not check(samples := server.scrape()):
        assert time.monotonic() < deadline, [line for line in server.log_lines()
                                             if line["level"] != "INFO"]
        time.sleep(0.05)
    return samples


def request_id_of(call) -> str:
    return dict(call.trailing_metadata())["x-openstack-request-id"]


@pytest.fixture
def server(deployment, tmp_path):
    running = ObservedServer(deployment, tmp_path)
    yield running
    running.stop()


def test_metrics_count_and_time_calls_by_method_route_and_status(server):
    before = server.scrape()
    for _ in range(3):
        server.stub.Ping(pb.PingRequest())
    admin = system_admin_token(server.stub)
    alice = login(server.stub, "alice", project_scope("acme"))
    for _ in range(4):
        server.stub.ValidateToken(pb.ValidateTokenRequest(subject_token=alice.token),
                                  metadata=auth_md(admin))
    rpc_error(server.stub.Authenticate, password_request("alice", "not-her-password"))
    status, _, _ = http(f"{server.http}/v3/users/{alice.token_info.user.id}", token=admin)
    assert status == 200
    assert http(f"{server.http}/v3/no-such-thing")[0] == 404
    after = server.scrape()

    def moved(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    ping = {"service": "identity.v1.Identity", "method": "Ping", "code": "OK"}
    assert moved("identity_grpc_requests_total", **ping) == 3
    assert moved("identity_grpc_request_duration_seconds_count", **ping) == 3
    assert moved("identity_grpc_request_duration_seconds_bucket", le="+Inf", **ping) == 3
    assert 0 < moved("identity_grpc_request_duration_seconds_sum", **ping) < 3
    validate = dict(ping, method="ValidateToken")
    assert moved("identity_grpc_requests_total", **validate) == 4
    refused = dict(ping, method="Authenticate", code="UNAUTHENTICATED")
    assert moved("identity_grpc_requests_total", **refused) == 1
    # By the route's template, never the path: no user id among the labels.
    user = {"method": "GET", "route": "/v3/users/<user_id>", "status": "200"}
    assert moved("identity_http_requests_total", **user) == 1
    assert moved("identity_http_request_duration_seconds_count", **user) == 1
    assert moved("identity_http_requests_total", method="GET", route="unmatched",
                 status="404") == 1
    assert not [key for key in after if alice.token_info.user.id in str(key)]
    # Logins by method and outcome (the admin's, alice's, then alice's wrong password).
    assert moved("identity_authentications_total", method="password", outcome="success") == 2
    assert moved("identity_authentications_total", method="password", outcome="failure") == 1
    assert moved("identity_password_hash_duration_seconds_count") >= 3
    assert sample(after, "identity_password_checks_in_progress") == 0
    # The admin's token checked once per call (and the subject's): mostly cache hits.
    assert moved("identity_token_cache_hits_total") >= 4
    assert moved("identity_token_cache_misses_total") >= 1
    assert time.time() - sample(after, "identity_feed_last_poll_timestamp_seconds") < 10
    polls = sample(after, "identity_feed_poll_duration_seconds_count")
    eventually(server, lambda s: sample(s, "identity_feed_poll_duration_seconds_count") > polls)


def test_revocation_stream_subscribers_are_counted_while_open(server):
    admin = system_admin_token(server.stub)
    assert sample(server.scrape(), "identity_revocation_stream_subscribers") == 0
    stream = server.stub.WatchRevocations(pb.WatchRevocationsRequest(), metadata=auth_md(admin))
    assert next(stream).snapshot
    assert sample(server.scrape(), "identity_revocation_stream_subscribers") == 1
    alice = login(server.stub, "alice")
    server.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=alice.token),
                            metadata=auth_md(admin))
    while not next(stream).events:  # keepalives until the revocation comes
        pass
    stream.cancel()
    deadline = time.monotonic() + 10
    while sample(samples := server.scrape(), "identity_revocation_stream_subscribers") != 0:
        assert time.monotonic() < deadline, "the closed stream is still counted"
        time.sleep(0.05)
    assert sample(samples, "identity_revocation_stream_lag_seconds_count") >= 1
    eventually(server, lambda s: sample(s, "identity_feed_rows_applied_total",
                                        feed="revocations") >= 1)


def test_every_log_line_is_json_and_carries_the_request_id_of_its_answer(server):
    _, ping = server.stub.Ping.with_call(pb.PingRequest())
    error = rpc_error(server.stub.ListProjects, pb.ListProjectsRequest())
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    alice = login(server.stub, "alice")
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "alice", "domain": {"id": "default"}, "password": DEMO_PASSWORDS["alice"]}}}}}
    status, headers, answer = http(f"{server.http}/v3/auth/tokens", "POST", body)
    assert status == 201
    http_token = headers["X-Subject-Token"]
    http_id = headers["x-openstack-request-id"]
    # Probes: answered, never logged at INFO.
    health_pb2_grpc.HealthStub(server.channel).Check(health_pb2.HealthCheckRequest())
    for path in ("/healthcheck", "/healthz/live", "/healthz/ready"):
        http(f"{server.http}{path}")
    assert server.stop() == 0

    lines = server.log_lines()  # every line parses
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    by_id = {line.get("request_id"): line for line in lines if line.get("request_id")}
    logged = by_id[request_id_of(ping)]
    assert (logged["rpc"], logged["code"], logged["level"]) == (PING, "OK", "INFO")
    assert by_id[dict(error.trailing_metadata())["x-openstack-request-id"]]["code"] == \
        "UNAUTHENTICATED"
    access = by_id[http_id]
    assert access["logger"] == "identity_grpc.access"
    assert (access["method"], access["route"], access["status"]) == ("POST", "/v3/auth/tokens",
                                                                    201)
    assert access["bytes"] == len(answer) and access["duration_ms"] > 0
    assert access["remote"] == "127.0.0.1"
    assert len({line.get("request_id") for line in lines if line.get("request_id")}) == len(
        [line for line in lines if line.get("request_id")]), "a request id repeated"
    probes = [line for line in lines if line["level"] == "INFO" and (
        "Health" in line.get("rpc", "") or "health" in line.get("route", "")
        or line.get("route") == "unmatched")]
    assert probes == []
    text = server.stderr()
    for secret in (DEMO_PASSWORDS["alice"], ADMIN_PASSWORD, alice.token, http_token):
        assert secret not in text


def test_an_internal_error_is_one_line_holding_its_traceback_and_request_id(
        server, deployment):
    admin = system_admin_token(server.stub)
    database = deployment.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:  # under the running server
        conn.execute("ALTER TABLE region RENAME TO region_moved")
    try:
        status, headers, _ = http(f"{server.http}/v3/regions", token=admin)
    finally:
        with sqlite3.connect(database) as conn:
            conn.execute("ALTER TABLE region_moved RENAME TO region")
    assert status == 500
    request_id = headers["x-openstack-request-id"]
    assert server.stop() == 0
    lines = [line for line in server.log_lines() if line.get("request_id") == request_id]
    error = next(line for line in lines if line["level"] == "ERROR")
    assert error["traceback"].startswith("Traceback (most recent call last)")
    assert "region" in error["traceback"] and "\n" in error["traceback"]  # one JSON line
    assert "region" in error["error"]
    assert [line["status"] for line in lines if line["logger"] == "identity_grpc.access"] == [500]


def test_text_format_is_for_people(deployment, tmp_path):
    server = ObservedServer(deployment, tmp_path, IDENTITY_LOG_FORMAT="text",
                            IDENTITY_METRICS_LISTEN="")
    try:
        _, call = server.stub.Ping.with_call(pb.PingRequest())
    finally:
        assert server.stop() == 0
    line = next(line for line in server.stderr().splitlines() if request_id_of(call) in line)
    assert " INFO identity_grpc.requests " in line and f"rpc={PING}" in line


@pytest.fixture
def workers(deployment, tmp_path):
    running = ObservedServer(deployment, tmp_path, IDENTITY_PROCESSES="2")
    yield running
    running.stop()


def test_one_scrape_covers_every_worker(workers):
    before = workers.scrape()
    calls = 0
    for _ in range(12):  # fresh connections: the kernel hands them to either worker
        with grpc.insecure_channel(workers.addresses["gRPC"],
                                   options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            stub = type(workers.stub)(channel)
            for _ in range(3):
                stub.Ping(pb.PingRequest())
                calls += 1
    after = workers.scrape()
    ping = {"service": "identity.v1.Identity", "method": "Ping", "code": "OK"}
    assert sample(after, "identity_grpc_requests_total", **ping) - sample(
        before, "identity_grpc_requests_total", **ping) == calls
    assert time.time() - sample(after, "identity_feed_last_poll_timestamp_seconds") < 10
    assert workers.stop() == 0
    pings = [line for line in workers.log_lines() if line.get("rpc") == PING]
    assert len(pings) == calls
    assert len({line["pid"] for line in pings}) == 2, "every call went to one worker"


@pytest.mark.parametrize("setting, value, expected", [
    ("IDENTITY_LOG_FORMAT", "xml", "setting 'log_format': 'xml' is not json or text"),
    ("IDENTITY_METRICS_LISTEN", "localhost", "setting 'metrics_listen': 'localhost' is not"),
    ("IDENTITY_METRICS_LISTEN", "127.0.0.1:{taken}", "metrics_listen 127.0.0.1:{taken}: "
                                                     "cannot bind"),
])
def test_a_bad_observability_setting_stops_the_server_naming_it(deployment, setting, value,
                                                                  expected):
    """Exit 2 and one line naming the setting, as for every start-up error."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, **store_env(deployment), "IDENTITY_LISTEN": "127.0.0.1:0",
               "IDENTITY_HTTP_LISTEN": "127.0.0.1:0", setting: value.format(taken=port)}
        result = subprocess.run([sys.executable, str(ROOT / "server.py")], env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert expected.format(taken=port) in result.stderr.strip().splitlines()[-1], result.stderr
    assert "gRPC on" not in result.stdout
