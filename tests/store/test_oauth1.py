"""The OAuth1 store on every backend: consumers are created, found, listed, updated and
deleted with their request and access tokens; a request token is authorized once and
taken (exchanged) once, even by two replicas at once; expired request tokens are
forgotten; access tokens are listed per user and go with their user or project."""

import json

import peewee as pw
import pytest

from identity_grpc.errors import FailedPrecondition, NotFound
from .helpers import a_project, is_reference_error, quick_retries, run_on_both  # noqa: F401


@pytest.fixture
def world(store, default_domain):
    """(user id, project id) and a consumer "c" * 32."""
    user_id = store.users.create("alice", default_domain).id
    project_id = a_project(store, default_domain)
    store.oauth1.create_consumer("c" * 32, "consumer-secret", "ci", '{"team": "infra"}', 100)
    return user_id, project_id


def request_token(store, world, token_id: str = "r" * 32, expires_at=5_000):
    return store.oauth1.create_request_token(token_id, "request-secret", "c" * 32, world[1],
                                             expires_at, 100)


def access_token(store, world, token_id: str = "a" * 32, created_at: int = 100,
                 consumer_id: str = "c" * 32):
    user_id, project_id = world
    return store.oauth1.create_access_token(token_id, "access-secret", consumer_id, user_id,
                                            project_id, '["r1"]', 9_000, created_at)


def test_a_consumer_is_created_found_updated_and_listed(store, world):
    found = store.oauth1.find_consumer("c" * 32)
    assert (found.id, found.secret, found.description, json.loads(found.extra)) == (
        "c" * 32, "consumer-secret", "ci", {"team": "infra"})
    store.oauth1.create_consumer("b" * 32, "s", "", "{}", 100)
    store.oauth1.create_consumer("a" * 32, "s", "", "{}", 200)
    assert [c.id for c in store.oauth1.list_consumers()] == ["b" * 32, "c" * 32, "a" * 32]
    with store.db.atomic():
        updated = store.oauth1.update_consumer("c" * 32, lambda row: {"description": "new"})
    assert updated.description == "new" == store.oauth1.find_consumer("c" * 32).description
    with pytest.raises(NotFound):
        with store.db.atomic():
            store.oauth1.update_consumer("d" * 32, lambda row: {"description": "x"})
    assert store.oauth1.find_consumer("d" * 32) is None


def test_deleting_a_consumer_deletes_its_request_and_access_tokens(store, world):
    request_token(store, world)
    access_token(store, world)
    store.oauth1.create_consumer("e" * 32, "s", "", "{}", 100)
    access_token(store, world, "b" * 32, consumer_id="e" * 32)
    with store.db.atomic():
        assert store.oauth1.delete_consumer("c" * 32) is True
    assert store.oauth1.find_consumer("c" * 32) is None
    assert store.oauth1.find_request_token("r" * 32) is None
    assert store.oauth1.find_access_token("a" * 32) is None
    assert store.oauth1.find_access_token("b" * 32) is not None  # another consumer's
    assert store.oauth1.delete_consumer("c" * 32) is False


def test_a_request_token_is_authorized_once(store, world):
    request_token(store, world)
    authorize = {"authorizing_user": world[0], "role_ids": '["r1"]', "verifier": "abcdefgh"}

    def change(row):
        if row.authorizing_user_id is not None:
            raise FailedPrecondition("already authorized")
        return authorize

    with store.db.atomic():
        store.oauth1.authorize_request_token("r" * 32, change)
    found = store.oauth1.find_request_token("r" * 32)
    assert (found.authorizing_user_id, found.role_ids, found.verifier, found.project_id,
            found.consumer_id, found.expires_at) == (world[0], '["r1"]', "abcdefgh", world[1],
                                                     "c" * 32, 5_000)
    with pytest.raises(FailedPrecondition):
        with store.db.atomic():
            store.oauth1.authorize_request_token("r" * 32, change)
    with pytest.raises(NotFound):
        with store.db.atomic():
            store.oauth1.authorize_request_token("x" * 32, change)


def test_a_request_token_is_taken_once(store, world):
    request_token(store, world)
    with store.db.atomic():
        taken = store.oauth1.take_request_token("r" * 32)
    assert taken.id == "r" * 32 and taken.secret == "request-secret"
    assert store.oauth1.find_request_token("r" * 32) is None
    with pytest.raises(NotFound):
        with store.db.atomic():
            store.oauth1.take_request_token("r" * 32)


def test_two_replicas_taking_one_request_token_at_once_take_it_once(store, other_store, world,
                                                                    quick_retries):
    request_token(store, world)

    def take(replica, index):
        try:
            with replica.db.atomic():
                return replica.oauth1.take_request_token("r" * 32).id
        except NotFound:
            return None

    assert sorted(run_on_both(store, other_store, take), key=str) == [None, "r" * 32]


def test_expired_request_tokens_are_forgotten(store, world):
    request_token(store, world, "a" * 32, expires_at=1_000)
    request_token(store, world, "b" * 32, expires_at=2_000)
    request_token(store, world, "d" * 32, expires_at=None)
    assert store.oauth1.delete_expired_request_tokens(1_500) == 1
    assert store.oauth1.find_request_token("a" * 32) is None
    assert store.oauth1.find_request_token("b" * 32) is not None
    assert store.oauth1.find_request_token("d" * 32) is not None


def test_a_request_token_needs_its_consumer_and_project(store, world):
    for consumer_id, project_id in (("n" * 32, world[1]), ("c" * 32, "no-such-project")):
        with pytest.raises(pw.IntegrityError) as missing:
            with store.db.atomic():
                store.oauth1.create_request_token("r" * 32, "s", consumer_id, project_id,
                                                  None, 100)
        assert is_reference_error(missing.value)


def test_access_tokens_are_listed_per_user_oldest_first_and_deleted(store, world,
                                                                    default_domain):
    for token_id, created_at in (("c" * 32, 200), ("b" * 32, 100), ("a" * 32, 200)):
        access_token(store, world, token_id, created_at)
    bob = store.users.create("bob", default_domain).id
    access_token(store, (bob, world[1]), "d" * 32)
    assert [t.id for t in store.oauth1.list_access_tokens(world[0])] == [
        "b" * 32, "a" * 32, "c" * 32]
    found = store.oauth1.find_access_token("d" * 32)
    assert (found.authorizing_user_id, found.project_id, found.consumer_id, found.role_ids,
            found.secret, found.expires_at) == (bob, world[1], "c" * 32, '["r1"]',
                                                "access-secret", 9_000)
    assert store.oauth1.delete_access_token("d" * 32) is True
    assert store.oauth1.delete_access_token("d" * 32) is False
    assert store.oauth1.list_access_tokens(bob) == []


def test_access_tokens_go_with_their_user_or_their_project(store, world, default_domain):
    access_token(store, world, "a" * 32)
    second = a_project(store, default_domain, "q")
    store.oauth1.create_access_token("b" * 32, "s", "c" * 32, world[0], second, "[]", None, 100)
    store.tables.Project.delete().where(store.tables.Project.id == second).execute()
    assert [t.id for t in store.oauth1.list_access_tokens(world[0])] == ["a" * 32]
    store.users.delete(world[0])
    assert store.oauth1.find_access_token("a" * 32) is None
