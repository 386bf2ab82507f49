"""Taking rights away: revoked tokens and tokens whose grounds are gone are refused,
at once on this server and within a second on every server sharing the store."""

import time

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service
from support import auth_md, login, project_scope, rescope, role_names, rpc_error, validate

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


def _revoke(stub, caller_token, subject_token):
    stub.RevokeToken(pb.RevokeTokenRequest(subject_token=subject_token), metadata=auth_md(caller_token))


def _refused(stub, caller_token, subject_token) -> bool:
    try:
        validate(stub, caller_token, subject_token)
    except grpc.RpcError as e:
        assert e.code() == UNAUTHENTICATED, e.details()
        return True
    return False


def _wait_until_refused(stub, caller_token, subject_token, within: float) -> float:
    started = time.monotonic()
    while not _refused(stub, caller_token, subject_token):
        assert time.monotonic() - started < within, f"still valid after {within}s"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def nova(stub):
    return login(stub, "nova", project_scope("service")).token


def test_revoked_token_is_refused_at_once(stub, nova):
    alice = login(stub, "alice", project_scope("acme")).token
    _revoke(stub, alice, alice)  # anyone may revoke their own token
    assert _refused(stub, nova, alice)
    error = rpc_error(stub.ListProjects, pb.ListProjectsRequest(), metadata=auth_md(alice))
    assert error.code() == UNAUTHENTICATED and "revoked" in error.details()
    # Revoking it again finds nothing valid to revoke.
    assert rpc_error(_revoke, stub, nova, alice).code() == UNAUTHENTICATED


def test_revoking_one_token_leaves_the_users_other_tokens_alone(stub, nova):
    first = login(stub, "alice", project_scope("acme")).token
    second = login(stub, "alice", project_scope("acme")).token
    _revoke(stub, nova, first)
    assert _refused(stub, nova, first)
    assert validate(stub, nova, second).user.name == "alice"


@pytest.mark.slow
def test_revoked_token_is_refused_by_other_replica_within_a_second(stub, nova, replica):
    alice = login(stub, "alice", project_scope("acme")).token
    other_nova = login(replica.stub, "nova", project_scope("service")).token
    assert validate(replica.stub, other_nova, alice).user.name == "alice"  # tokens cross replicas
    _revoke(stub, nova, alice)
    _wait_until_refused(replica.stub, other_nova, alice, within=1.0)


@pytest.mark.slow
def test_user_disabled_through_one_replica_is_refused_by_the_other(stub, service, nova, replica):
    alice = login(stub, "alice", project_scope("acme"))
    other_nova = login(replica.stub, "nova", project_scope("service")).token
    assert validate(replica.stub, other_nova, alice.token)  # now cached over there
    service.core.users_and_groups.set_user_enabled(alice.token_info.user.id, False)
    _wait_until_refused(replica.stub, other_nova, alice.token, within=1.0)


def test_disabling_a_user_refuses_its_tokens_even_once_enabled_again(stub, service, nova):
    alice = login(stub, "alice", project_scope("acme"))
    user_id = alice.token_info.user.id
    service.core.users_and_groups.set_user_enabled(user_id, False)
    assert _refused(stub, nova, alice.token)
    service.clock.advance(1)  # a token issued after the re-enable is a new token
    service.core.users_and_groups.set_user_enabled(user_id, True)
    assert _refused(stub, nova, alice.token)
    assert validate(stub, nova, login(stub, "alice", project_scope("acme")).token)


def test_deleting_a_user_refuses_its_tokens(stub, service, nova):
    bob = login(stub, "bob", project_scope("acme"))
    service.core.users_and_groups.delete_user(bob.token_info.user.id)
    assert _refused(stub, nova, bob.token)
    assert rpc_error(login, stub, "bob").code() == UNAUTHENTICATED


def test_removing_a_direct_role_leaves_no_stale_role(stub, service, nova):
    core = service.core
    alice = login(stub, "alice", project_scope("acme"))
    project_id, user_id = alice.token_info.project.id, alice.token_info.user.id
    member = core.assignments.find_role("member").id
    compute_user = core.assignments.find_role("compute-user").id
    core.assignments.grant(member, target_type="project", target_id=project_id, user_id=user_id)
    assert role_names(validate(stub, nova, alice.token)) == {"compute-user", "member", "reader"}
    core.assignments.revoke(compute_user, target_type="project", target_id=project_id, user_id=user_id)
    assert role_names(validate(stub, nova, alice.token)) == {"member", "reader"}
    core.assignments.revoke(member, target_type="project", target_id=project_id, user_id=user_id)
    assert _refused(stub, nova, alice.token)  # no role left on the scope


def test_leaving_a_group_drops_the_roles_it_gave(stub, service, nova):
    core = service.core
    bob = login(stub, "bob", project_scope("acme"))
    assert role_names(validate(stub, nova, bob.token)) == {"member", "reader"}
    devs = core.users_and_groups.find_group("devs", "default")
    core.users_and_groups.remove_user_from_group(bob.token_info.user.id, devs.id)
    assert _refused(stub, nova, bob.token)


def test_removing_a_group_grant_drops_the_role_from_members_tokens(stub, service, nova):
    core = service.core
    bob = login(stub, "bob", project_scope("acme"))
    devs = core.users_and_groups.find_group("devs", "default")
    core.assignments.revoke(core.assignments.find_role("member").id, target_type="project",
                            target_id=bob.token_info.project.id, group_id=devs.id)
    assert _refused(stub, nova, bob.token)


def test_disabling_a_project_refuses_tokens_scoped_to_it(stub, service, nova):
    alice = login(stub, "alice", project_scope("acme"))
    other = login(stub, "alice", project_scope("cyberdyne"))
    service.core.resources.set_project_enabled(alice.token_info.project.id, False)
    assert _refused(stub, nova, alice.token)
    assert validate(stub, nova, other.token).project.name == "cyberdyne"
    service.core.resources.set_project_enabled(alice.token_info.project.id, True)
    assert _refused(stub, nova, alice.token)  # revoked, not merely suspended


def test_disabling_a_domain_refuses_tokens_of_its_projects_and_users(stub, service, nova):
    core = service.core
    foo = core.resources.find_domain(name="Foo")
    bar = core.resources.find_project(name="bar", domain=foo)
    dave = core.users_and_groups.create_user("dave", foo.id, "davepassword1")
    core.assignments.grant(core.assignments.find_role("member").id, target_type="project",
                           target_id=bar.id, user_id=dave.id)
    request = pb.AuthenticateRequest(
        password=pb.PasswordMethod(user=pb.UserSelector(name="dave", domain=pb.DomainSelector(name="Foo")),
                                   password="davepassword1"),
        scope=project_scope("bar", domain_name="Foo"))
    dave_token = stub.Authenticate(request).token
    alice_unscoped = login(stub, "alice").token
    core.resources.set_domain_enabled(foo.id, False)
    assert _refused(stub, nova, dave_token)
    assert validate(stub, nova, alice_unscoped)  # other domains are untouched
    assert rpc_error(stub.Authenticate, request).code() == UNAUTHENTICATED


def test_revocation_records_expire_with_the_tokens_they_match(stub, service, nova):
    """...once the allow_expired window has passed too: within it, an expired token may
    still be validated with allow_expired, and must stay revoked."""
    alice = login(stub, "alice", project_scope("acme"))
    _revoke(stub, nova, alice.token)
    RevocationEvent = service.core.store.tables.RevocationEvent
    event = RevocationEvent.get(RevocationEvent.audit_id == alice.token_info.audit_ids[0])
    assert event.expires_at == alice.token_info.expires_at.seconds
    gone_at = event.expires_at + service.core.settings.allow_expired_window
    service.core.watcher.prune(now=gone_at - 1)
    assert RevocationEvent.select().where(RevocationEvent.id == event.id).exists()
    assert len(service.core.revocations) == 1
    service.core.watcher.prune(now=gone_at)
    # The newest row stays, expired or not: its id is the feed's high-water mark.
    assert RevocationEvent.select().where(RevocationEvent.id == event.id).exists()
    assert len(service.core.revocations) == 0
    _revoke(stub, nova, login(stub, "alice").token)
    service.core.watcher.prune(now=gone_at)
    assert not RevocationEvent.select().where(RevocationEvent.id == event.id).exists()


def test_a_token_that_lost_its_grounds_cannot_be_rescoped(stub, service):
    core = service.core
    alice = login(stub, "alice", project_scope("acme"))
    core.assignments.revoke(core.assignments.find_role("compute-user").id, target_type="project",
                            target_id=alice.token_info.project.id, user_id=alice.token_info.user.id)
    error = rpc_error(stub.Authenticate, pb.AuthenticateRequest(
        token=pb.TokenMethod(token=alice.token), scope=project_scope("cyberdyne")))
    assert error.code() == UNAUTHENTICATED


def test_rescoped_tokens_carry_their_chains_first_audit_id(stub):
    first = login(stub, "alice")
    second = rescope(stub, first.token, project_scope("acme"))
    third = rescope(stub, second.token, project_scope("cyberdyne"))
    chain = first.token_info.audit_ids[0]
    assert list(first.token_info.audit_ids) == [chain]
    assert list(second.token_info.audit_ids)[1:] == [chain]
    assert list(third.token_info.audit_ids)[1:] == [chain]  # the chain's, not its parent's
    assert len({first.token_info.audit_ids[0], second.token_info.audit_ids[0],
                third.token_info.audit_ids[0]}) == 3


def test_revoking_a_whole_chain_revokes_every_token_of_it_only(stub, service, nova):
    first = login(stub, "alice")
    second = rescope(stub, first.token, project_scope("acme"))
    third = rescope(stub, second.token, project_scope("cyberdyne"))
    other = login(stub, "alice", project_scope("acme"))  # another session of hers
    stub.RevokeToken(pb.RevokeTokenRequest(subject_token=third.token, whole_chain=True),
                     metadata=auth_md(nova))
    for token in (first.token, second.token, third.token):
        assert rpc_error(validate, stub, nova, token).code() == UNAUTHENTICATED
    assert validate(stub, nova, other.token).user.name == "alice"
    # On another server of the store too, and in the stream consumers follow.
    replica = start_service(service.core.settings)
    try:
        _wait_until_refused(replica.stub, nova, second.token, within=5)
        assert validate(replica.stub, nova, other.token).user.name == "alice"
    finally:
        replica.stop()
    stream = stub.WatchRevocations(pb.WatchRevocationsRequest(), metadata=auth_md(nova))
    try:
        events = [e for e in next(stream).events if e.audit_chain_id]
    finally:
        stream.cancel()
    assert [e.audit_chain_id for e in events] == [first.token_info.audit_ids[0]]


def test_revoking_one_token_leaves_the_rest_of_its_chain(stub, nova):
    first = login(stub, "alice")
    second = rescope(stub, first.token, project_scope("acme"))
    _revoke(stub, nova, first.token)
    assert rpc_error(validate, stub, nova, first.token).code() == UNAUTHENTICATED
    assert validate(stub, nova, second.token).user.name == "alice"
