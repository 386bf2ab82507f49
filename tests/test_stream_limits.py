"""The revocation stream under abuse, in bounded doses: one caller cannot take every
stream slot from the consuming services, and one user revoking its own tokens in a
loop cannot grow what every consumer holds until they drop to a remote call per
token check (a rate per token owner; folding into one user cutoff; the snapshot in
chunks)."""

import time
import urllib.error
import urllib.request

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb
from identity_client.session import Session
from identity_client.verifier import TokenRejected, TokenVerifier

from conftest import ServerProcess, start_service
from identity_grpc.records import ScopeRequest, Selector, TokenCredentials
from support import DEMO_PASSWORDS, auth_md, login, project_scope, rescope, system_admin_token

EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
PER_USER_DEFAULT = 8  # max_watch_streams_per_user
BURST_DEFAULT = 20  # revocation_burst_per_user
RATE_DEFAULT = 2.0  # revocation_rate_per_user
FOLD_DEFAULT = 100  # revocation_fold_threshold


def consumer(service, stale_after: float = 5.0, **options) -> TokenVerifier:
    """A real consuming service (nova) checking tokens with a TokenVerifier. Patient
    about keepalives: the test, the server and the consumer share one process on a
    loaded machine, and a keepalive late for want of CPU would cut the stream and send
    checks remote for a moment (the verifier being careful, not what is tested here)."""
    options["stale_after"] = stale_after
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


def snapshot_of(stub, token: str) -> list[pb.WatchRevocationsResponse]:
    """The messages of a fresh stream's snapshot, up to the one that completes it."""
    stream = stub.WatchRevocations(pb.WatchRevocationsRequest(), metadata=auth_md(token))
    messages = [next(stream)]
    assert messages[0].snapshot
    while messages[-1].snapshot_continues:
        messages.append(next(stream))
    stream.cancel()
    return messages


def stays_local(verifier: TokenVerifier, token: str, remote_before: int) -> None:
    assert verifier.connected
    assert verifier.check_local(token) is not None, "no longer answered locally"
    assert verifier.stats["remote_validations"] == remote_before


def revoke_all(stub, tokens: list[str]) -> list:
    """Each token revoked by itself, a few at a time: None or the RpcError, in order."""
    calls = [stub.RevokeToken.future(pb.RevokeTokenRequest(subject_token=t), metadata=auth_md(t))
             for t in tokens]
    outcomes = []
    for call in calls:
        try:
            call.result()
            outcomes.append(None)
        except grpc.RpcError as e:
            outcomes.append(e)
    return outcomes


# ---- stream slots (item 8) ---------------------------------------------------------------

def _system_reader_token(service) -> str:
    """A second user who may watch: reader on the system."""
    core = service.core
    auditor = core.users_and_groups.create_user("auditor", "default", "auditor-password-1").id
    core.assignments.grant(core.assignments.find_role("reader").id, target_type="system",
                           target_id="all", user_id=auditor)
    return service.stub.Authenticate(pb.AuthenticateRequest(
        password=pb.PasswordMethod(user=pb.UserSelector(id=auditor), password="auditor-password-1"),
        scope=pb.Scope(system=pb.SystemScope(all=True)))).token


def test_one_caller_cannot_take_every_stream_slot_from_the_services(service):
    slots = service.core.settings.grpc_workers // 2  # 16 by default
    stub = service.stub
    # A system admin may watch (rule identity:watch_revocations) but holds no service role.
    watcher = system_admin_token(stub)
    held, verifier = [], None
    try:
        refusal = None
        for _ in range(slots + 1):  # bounded: never more than every slot plus one
            stream, refusal = open_stream(stub, watcher)
            if stream is None:
                break
            held.append(stream)
        assert refusal is not None and refusal.code() == EXHAUSTED, "took every slot"
        assert len(held) == PER_USER_DEFAULT
        assert "max_watch_streams_per_user" in refusal.details()

        # Other callers without the service role find the rest kept for the services.
        stream, refusal = open_stream(stub, _system_reader_token(service))
        assert stream is None and refusal.code() == EXHAUSTED
        assert "kept for consuming services" in refusal.details()

        # A real consuming service still follows the stream and checks locally.
        verifier = consumer(service)
        bob = login(stub, "bob", project_scope("acme")).token
        verifier.check(bob)
        if verifier.check_local(bob) is None:
            # A change notice from the set-up above (the reader's grant, announced
            # again when this server's watcher reads it from the feed) landed during
            # that first check, which is then rightly not cached: the next one is.
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
        stream, refusal = open_stream(stub, watcher)
        assert stream is not None, refusal and refusal.details()
        held.append(stream)
    finally:
        for stream in held:
            stream.cancel()
        if verifier is not None:
            verifier.close()


# ---- revocation floods (item 7) ------------------------------------------------------------

def test_a_revocation_flood_is_refused_past_the_rate_and_consumers_stay_local(service, gateway):
    stub = service.stub
    verifier = consumer(service)
    try:
        bob = login(stub, "bob", project_scope("acme")).token
        verifier.check(bob)
        remote = verifier.stats["remote_validations"]
        alice = login(stub, "alice", project_scope("acme")).token
        tokens = [rescope(stub, alice, project_scope("acme")).token for _ in range(40)]

        started, outcomes = time.monotonic(), []
        for token in tokens[:30]:  # one after the other, as fast as they go
            outcomes.extend(revoke_all(stub, [token]))
        elapsed = time.monotonic() - started
        passed = outcomes.count(None)
        assert passed < 30, "30 revocations in a row all passed"
        assert passed <= BURST_DEFAULT + RATE_DEFAULT * elapsed + 1
        refused = next(e for e in outcomes if e is not None)
        assert refused.code() == EXHAUSTED, refused.details()
        assert "revocation_rate_per_user" in refused.details()
        assert int(dict(refused.trailing_metadata())["retry-after"]) >= 1
        refused_token = tokens[outcomes.index(refused)]
        assert stub.ValidateToken(pb.ValidateTokenRequest(subject_token=refused_token),
                                  metadata=auth_md(alice)).token_info.user.name == "alice"

        # The gateway applies the same limit: 429 with Retry-After.
        request = urllib.request.Request(f"{gateway}/v3/auth/tokens", method="DELETE",
                                         headers={"X-Auth-Token": tokens[-1],
                                                  "X-Subject-Token": tokens[-1]})
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(request)
        assert http.value.code == 429 and int(http.value.headers["Retry-After"]) >= 1

        stays_local(verifier, bob, remote)
    finally:
        verifier.close()


FOLD = 5


@pytest.fixture
def folding_service(deployment):
    """A server that folds a user's revocations past 5."""
    running = start_service(deployment.replace(revocation_fold_threshold=FOLD))
    yield running
    running.stop()


@pytest.fixture
def folding_replica(folding_service):
    process = ServerProcess(folding_service.core.settings)
    yield process
    process.stop()


@pytest.mark.every_backend
def test_many_revocations_of_one_user_fold_into_one_cutoff(folding_service, folding_replica):
    """Past `revocation_fold_threshold` one user cutoff replaces the user's audit-id
    events: in the store, in this server's and another replica's index, and at
    consumers; tokens issued afterwards stay valid. (Every backend.)"""
    service, replica = folding_service, folding_replica
    stub, core = service.stub, service.core
    RevocationEvent = core.store.tables.RevocationEvent
    verifier = consumer(service)
    try:
        alice = login(stub, "alice", project_scope("acme"))
        alice_id = alice.token_info.user.id
        tokens = [rescope(stub, alice.token, project_scope("acme")).token for _ in range(FOLD + 1)]
        held = verifier.revocations_held
        assert revoke_all(stub, tokens[:FOLD]) == [None] * FOLD
        audit_rows = RevocationEvent.select().where(RevocationEvent.token_user_id == alice_id)
        assert audit_rows.count() == FOLD
        assert core.revocations.owned_count(alice_id) == FOLD
        assert revoke_all(stub, tokens[FOLD:]) == [None]  # the one past the threshold

        assert audit_rows.count() == 0  # folded away
        cutoff = RevocationEvent.get(RevocationEvent.user_id == alice_id)
        assert cutoff.issued_before == max(core.codec.decode(t).issued_at for t in tokens)
        assert core.revocations.owned_count(alice_id) == 0

        # The other replica and every consumer end up with the cutoff, not the ids.
        nova = login(stub, "nova", project_scope("service")).token
        other_nova = login(replica.stub, "nova", project_scope("service")).token
        for source, token in ((stub, nova), (replica.stub, other_nova)):
            wait_until(lambda: folded_in(snapshot_of(source, token), alice_id), within=2.0)
        wait_until(lambda: verifier.revocations_held == held + 1, within=2.0)
        for token in tokens + [alice.token]:  # all refused, here and at the consumer
            with pytest.raises(TokenRejected, match="revoked"):
                verifier.check(token)

        service.clock.advance(1)  # a token issued after the cutoff is a new token
        later = login(stub, "alice", project_scope("acme")).token
        assert verifier.check(later).user_name == "alice"
    finally:
        verifier.close()


def folded_in(messages, user_id: str) -> bool:
    """Whether a snapshot holds a cutoff for the user and none of its audit ids."""
    events = [e for m in messages for e in m.events]
    return (not [e for e in events if e.token_user_id == user_id]
            and [e.user_id for e in events if e.user_id == user_id] == [user_id])


def wait_until(predicate, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"not so after {within}s"
        time.sleep(0.02)


@pytest.fixture
def unthrottled_service(deployment):
    """A server whose revocation rate limit is out of the way (folding is not)."""
    running = start_service(deployment.replace(revocation_rate_per_user=1e9,
                                               revocation_burst_per_user=10**9))
    yield running
    running.stop()


@pytest.mark.slow
def test_ten_thousand_revocations_by_one_user_leave_every_consumer_local(unthrottled_service):
    service = unthrottled_service
    if not service.core.settings.database_url.startswith("sqlite"):
        pytest.skip("the 10,000-revocation flood runs on SQLite only (time); folding's "
                    "store work is checked on every backend by the test above")
    stub, tables = service.stub, service.core.store.tables
    first = consumer(service)
    second = None
    try:
        bob = login(stub, "bob", project_scope("acme")).token
        first.check(bob)
        remote = first.stats["remote_validations"]
        revoked, last_revoked = 0, None
        while revoked < 10_000:
            # Each fold revokes the user's tokens issued up to the newest revoked one,
            # its own session's included: it logs in again, a second later.
            service.clock.advance(1)
            base = login(stub, "alice", project_scope("acme"))
            # Minted by rescoping, in-process (the same core call as the RPC, at a
            # tenth of the cost); every revocation goes through the server.
            scope = ScopeRequest("project", Selector(id=base.token_info.project.id))
            batch = [service.core.tokens.authenticate(TokenCredentials(base.token), scope, False)[0]
                     for _ in range(FOLD_DEFAULT + 1)]
            outcomes = revoke_all(stub, batch)
            for outcome in outcomes:  # a token a fold already covered needs no revoking
                assert outcome is None or outcome.code() == grpc.StatusCode.UNAUTHENTICATED
            revoked += outcomes.count(None)
            last_revoked = batch[-1]
        stays_local(first, bob, remote)
        assert first.stats["snapshots"] == 1  # never had to reconnect

        # What every server and consumer holds stays small.
        nova = login(stub, "nova", project_scope("service")).token
        messages = snapshot_of(stub, nova)
        events = sum(len(m.events) for m in messages)
        assert events <= FOLD_DEFAULT + 10, events
        assert sum(m.ByteSize() for m in messages) < 64 * 1024
        assert len(service.core.revocations) <= FOLD_DEFAULT + 10
        assert tables.RevocationEvent.select().count() <= 2 * FOLD_DEFAULT

        # A consumer started afterwards gets the whole snapshot and is local too.
        second = consumer(service)
        second.check(bob)
        stays_local(second, bob, second.stats["remote_validations"])
        for verifier in (first, second):  # a revoked token: refused without a call
            calls = verifier.stats["remote_validations"]
            with pytest.raises(TokenRejected, match="revoked"):
                verifier.check(last_revoked)
            assert verifier.stats["remote_validations"] == calls
        alice_id = tables.User.get(tables.User.name == "alice").id
        # Revocations in flight at once may each find the owner one short of the
        # threshold (the count is the index's, which lags the store by a poll): a few
        # over it, never the flood.
        assert service.core.revocations.owned_count(alice_id) <= FOLD_DEFAULT + 10
    finally:
        first.close()
        if second is not None:
            second.close()


@pytest.mark.slow
def test_a_snapshot_past_four_mebibytes_reaches_a_new_consumer_in_chunks(service):
    """60,000 user cutoffs with the longest ids (as if that many users had been
    disabled): over 4 MiB of events, gRPC's default message limit. A consumer that
    connects now still gets the whole snapshot, in messages far under any limit,
    and checks tokens locally."""
    if not service.core.settings.database_url.startswith("sqlite"):
        pytest.skip("the snapshot's size does not depend on the backend: SQLite only (time)")
    stub, count = service.stub, 60_000
    now = int(service.clock())
    # As the replicas that disabled them wrote.
    table = service.core.store.tables.RevocationEvent._meta.table_name
    with service.core.db.atomic():
        service.core.db.cursor().executemany(
            f'INSERT INTO "{table}" (user_id, issued_before, expires_at) VALUES (?, ?, ?)',
            [(f"{i:064d}", now, now + 3600) for i in range(count)])
    wait_until(lambda: len(service.core.revocations) >= count, within=30.0)

    nova = login(stub, "nova", project_scope("service")).token
    messages = snapshot_of(stub, nova)
    assert sum(len(m.events) for m in messages) >= count
    assert sum(m.ByteSize() for m in messages) > 4 * 1024 * 1024
    assert max(m.ByteSize() for m in messages) < 512 * 1024

    verifier = consumer(service)
    try:
        bob = login(stub, "bob", project_scope("acme")).token
        verifier.check(bob)
        if verifier.check_local(bob) is None:
            # A change notice from the set-up above (the reader's grant, announced
            # again when this server's watcher reads it from the feed) landed during
            # that first check, which is then rightly not cached: the next one is.
            verifier.check(bob)
        stays_local(verifier, bob, verifier.stats["remote_validations"])
        assert verifier.revocations_held >= count
    finally:
        verifier.close()
