"""The revocation stream under abuse, in bounded doses: one caller cannot take every
stream slot from the consuming services."""

import time

import grpc
from identity_api.v1 import identity_pb2 as pb
from identity_client.session import Session
from identity_client.verifier import TokenVerifier

from support import DEMO_PASSWORDS, auth_md, login, project_scope, system_admin_token

EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
PER_USER_DEFAULT = 8  # max_watch_streams_per_user


def consumer(service, **options) -> TokenVerifier:
    """A real consuming service (nova) checking tokens with a TokenVerifier."""
    session = Session(service.address, username="nova", password=DEMO_PASSWORDS["nova"],
                      project_name="service", clock=service.clock)
    verifier = TokenVerifier(session, clock=service.clock, **options)
    assert verifier.wait_until_connected(10), "the revocation stream did not come up"
    return verifier


def open_stream(stub, token: str):
    """(stream, None) once its first message came, or (None, the error that refused it)."""
    stream = stub.WatchRevocations(pb.WatchRevocationsRequest(), metadata=auth_md(token))
    try:
        next(stream)
    except grpc.RpcError as e:
        return None, e
    return stream, None


def stays_local(verifier: TokenVerifier, token: str, remote_before: int) -> None:
    assert verifier.connected
    assert verifier.check_local(token) is not None, "no longer answered locally"
    assert verifier.stats["remote_validations"] == remote_before


# ---- stream slots (item 8) ---------------------------------------------------------------

def test_one_caller_cannot_take_every_stream_slot_from_the_services(service):
    slots = service.core.settings.grpc_workers // 2  # 16 by default
    stub = service.stub
    project_admin = login(stub, "alice", project_scope("cyberdyne")).token  # admin there
    held, verifier = [], None
    try:
        refusal = None
        for _ in range(slots + 1):  # bounded: never more than every slot plus one
            stream, refusal = open_stream(stub, project_admin)
            if stream is None:
                break
            held.append(stream)
        assert refusal is not None and refusal.code() == EXHAUSTED, "took every slot"
        assert len(held) == PER_USER_DEFAULT
        assert "max_watch_streams_per_user" in refusal.details()

        # Other callers without the service role find the rest kept for the services.
        stream, refusal = open_stream(stub, system_admin_token(stub))
        assert stream is None and refusal.code() == EXHAUSTED
        assert "kept for consuming services" in refusal.details()

        # A real consuming service still follows the stream and checks locally.
        verifier = consumer(service)
        bob = login(stub, "bob", project_scope("acme")).token
        verifier.check(bob)
        stays_local(verifier, bob, verifier.stats["remote_validations"])

        # Its other processes (the same service user) each get a stream, up to the cap.
        nova = login(stub, "nova", project_scope("service")).token
        for _ in range(PER_USER_DEFAULT - 1):
            stream, refusal = open_stream(stub, nova)
            assert stream is not None, refusal and refusal.details()
            held.append(stream)
        stream, refusal = open_stream(stub, nova)
        assert stream is None and refusal.code() == EXHAUSTED
        assert "max_watch_streams_per_user" in refusal.details()

        # A slot given back is free again.
        hub = service.core.notices
        taken = len(hub)
        held.pop(0).cancel()
        deadline = time.monotonic() + 5
        while len(hub) >= taken:
            assert time.monotonic() < deadline, "a cancelled stream kept its slot"
            time.sleep(0.02)
        stream, refusal = open_stream(stub, project_admin)
        assert stream is not None, refusal and refusal.details()
        held.append(stream)
    finally:
        for stream in held:
            stream.cancel()
        if verifier is not None:
            verifier.close()
