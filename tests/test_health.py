"""The probes (docs/health.md): `/healthcheck` in oslo.middleware's shape, `/healthz/live`
and `/healthz/ready`, and grpc.health.v1, all saying what `health.Health` decides, with
no token; and what they say while a real store is down and once it is back."""

import json
import signal

import grpc
import pytest

from identity_grpc.config import Settings
from identity_grpc.gateway.server import HttpServer
from identity_grpc.health import STORE_CHECK_TIMEOUT

from conftest import ServerProcess, set_up_store, start_service
from health_probes import (NOT_SERVING, SERVING, HealthWatch, fetch, grpc_status, ready,
                           wait_until)
from support import login
from test_mariadb_restart import PrivateMariaDB

OUTAGE_TIMEOUT = 30.0  # seconds for a change of the store to show in the probes


def test_a_serving_server_is_live_ready_and_ok_without_a_token(service, gateway):
    status, headers, body = fetch(gateway + "/healthz/live")
    assert (status, json.loads(body)) == (200, {"status": "live"})
    status, answer = ready(gateway)
    assert status == 200 and answer["status"] == "ready" and answer["failed"] == []
    assert set(answer["checks"]) == {"store", "keys", "shutdown"}
    assert all(check["ok"] for check in answer["checks"].values())
    assert grpc_status(service.address) == SERVING
    assert grpc_status(service.address, "identity.v1.Identity") == SERVING


def test_healthcheck_answers_in_oslo_middlewares_shape(gateway):
    status, headers, body = fetch(gateway + "/healthcheck")
    assert (status, body) == (200, "OK")
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["Cache-Control"] == "no-store"
    status, headers, body = fetch(gateway + "/healthcheck",
                                  headers={"Accept": "application/json"})
    answer = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert answer["detailed"] is True
    assert [r["reason"] for r in answer["reasons"]] == ["OK", "OK", "OK"]
    assert {r["class"] for r in answer["reasons"]} == {"StoreCheck", "KeysCheck",
                                                      "ShutdownCheck"}
    status, _, body = fetch(gateway + "/healthcheck", method="HEAD")
    assert (status, body) == (204, "")


def test_a_probe_flood_does_not_query_the_store(deployment):
    """Readiness is read from memory: a hundred probes, over both transports, within
    one check interval leave the store check the health thread made at start."""
    running = start_service(deployment.replace(health_check_interval=60))
    http = HttpServer(running.core, "127.0.0.1:0").start()
    try:
        first = running.core.health.readiness().checks[0]
        for _ in range(50):
            assert fetch(f"http://127.0.0.1:{http.port}/healthz/ready")[0] == 200
            assert grpc_status(running.address) == SERVING
        assert running.core.health.readiness().checks[0] is first
    finally:
        http.stop()
        running.stop()


def _logs_in(stub, name: str) -> bool:
    try:
        login(stub, name)
        return True
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAVAILABLE, e
        return False


@pytest.fixture
def mariadb_settings(tmp_path, hashing, policy_profile):
    """A private mariadbd (stopped and started by the test) holding a bootstrapped
    store with the demo dataset; the settings of a server over it."""
    server = PrivateMariaDB(tmp_path)
    server.start()
    server.sql("CREATE DATABASE identity")
    over_it = Settings(
        listen="127.0.0.1:0", key_dir=str(tmp_path / "keys"),
        database_url=f"mysql://root@127.0.0.1:{server.port}/identity?connect_timeout=2",
        credential_key_dir=str(tmp_path / "credential-keys"),
        admin_password_file=str(tmp_path / "admin-password"), poll_interval=0.05,
        policy_profile=policy_profile, **hashing)
    set_up_store(over_it, demo=True)
    yield server, over_it
    server.stop()


@pytest.mark.slow
def test_a_store_outage_is_not_ready_until_the_store_is_back(mariadb_settings):
    mariadb, settings = mariadb_settings
    server = ServerProcess(settings, IDENTITY_HEALTH_CHECK_INTERVAL="0.2")
    http = f"http://127.0.0.1:{server.http_port}"
    address = f"127.0.0.1:{server.port}"
    watch = HealthWatch(address)
    try:
        login(server.stub, "alice")
        wait_until(lambda: watch.statuses, 5, "told the status")
        mariadb.stop()
        wait_until(lambda: grpc_status(address) == NOT_SERVING, OUTAGE_TIMEOUT,
                   "NOT_SERVING with the store down")
        status, answer = ready(http)
        assert status == 503 and answer["failed"] == ["store"], answer
        assert "OperationalError" in answer["checks"]["store"]["detail"]
        status, _, body = fetch(http + "/healthcheck")
        assert status == 503 and body.startswith("store: does not answer"), body
        assert fetch(http + "/healthz/live")[0] == 200  # alive: no restart wanted

        mariadb.start()
        wait_until(lambda: grpc_status(address) == SERVING, OUTAGE_TIMEOUT,
                   "SERVING with the store back")
        assert ready(http)[0] == 200
        assert fetch(http + "/healthcheck")[2] == "OK"
        # A thread still holding a connection from before answers UNAVAILABLE once and
        # lets go of it (test_store_outage): calls succeed again within a few.
        wait_until(lambda: _logs_in(server.stub, "alice"), 10, "logging in again")
        wait_until(lambda: watch.transitions()[-1:] == [SERVING], 5, "watched SERVING")
        assert watch.transitions() == [SERVING, NOT_SERVING, SERVING]
    finally:
        watch.close()
        server.stop()


@pytest.mark.slow
def test_a_store_that_hangs_is_not_ready_after_the_check_timeout(mariadb_settings):
    """A frozen mariadbd (SIGSTOP: connections open, nothing answers, as behind a
    network partition) is not a refusal: the check waits STORE_CHECK_TIMEOUT, then
    says not ready; thawed, it answers again."""
    mariadb, settings = mariadb_settings
    server = ServerProcess(settings, IDENTITY_HEALTH_CHECK_INTERVAL="0.2")
    http = f"http://127.0.0.1:{server.http_port}"
    address = f"127.0.0.1:{server.port}"
    try:
        assert grpc_status(address) == SERVING
        mariadb.proc.send_signal(signal.SIGSTOP)
        try:
            wait_until(lambda: ready(http)[0] == 503, STORE_CHECK_TIMEOUT + OUTAGE_TIMEOUT,
                       "not ready with the store frozen")
            assert ready(http)[1]["checks"]["store"]["detail"].startswith("no answer for")
            assert grpc_status(address) == NOT_SERVING
            assert fetch(http + "/healthz/live")[0] == 200
        finally:
            mariadb.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: grpc_status(address) == SERVING, OUTAGE_TIMEOUT,
                   "SERVING with the store thawed")
        assert ready(http)[0] == 200
    finally:
        server.stop()
