"""The group store (groups and who belongs to them) on every backend: groups are
created, found, listed a page at a time, renamed and deleted with their memberships;
a name is unique in its domain only; membership is idempotent to add, reported when
removed, and gone with the user or the group; members and groups come back by name;
two replicas writing one group at once both land; and a deleted actor's role
assignments go (the assignment store's `delete_for_actor`)."""

import peewee as pw
import pytest

from identity_grpc.errors import AlreadyExists, NotFound

from .helpers import (another_domain, is_reference_error, pages_with_inserts, quick_retries,  # noqa: F401
                      run_on_both)


def test_a_group_is_created_found_by_id_and_by_name_and_deleted(store, default_domain):
    group = store.groups.create("admins", default_domain, "the admins")
    assert store.groups.get(group.id).description == "the admins"
    assert store.groups.find(group.id).name == "admins"
    assert store.groups.find_by_name(default_domain, "admins").id == group.id
    assert store.groups.count_in_domain(default_domain) == 1
    assert store.groups.delete(group.id) is True
    assert store.groups.find(group.id) is None
    assert store.groups.find_by_name(default_domain, "admins") is None
    assert store.groups.count_in_domain(default_domain) == 0


def test_a_missing_group_is_not_found(store, default_domain):
    with pytest.raises(NotFound, match="^group nope not found$"):
        store.groups.get("nope")
    assert store.groups.find("nope") is None and not store.groups.exists("nope")
    group = store.groups.create("staff", default_domain)
    assert store.groups.exists(group.id)
    assert {k: v.name for k, v in store.groups.by_ids([group.id, "nope"]).items()} == {
        group.id: "staff"}
    assert store.groups.by_ids([]) == {}
    assert store.groups.delete("nope") is False


def test_a_name_is_unique_in_its_domain_only(store, default_domain):
    store.groups.create("admins", default_domain)
    with pytest.raises(AlreadyExists, match="a group named 'admins' already exists in domain default"):
        with store.db.atomic():
            store.groups.create("admins", default_domain)
    other = another_domain(store)
    assert store.groups.create("admins", other).domain_id == other


def test_a_group_needs_its_domain_and_keeps_it_from_being_deleted(store):
    with pytest.raises(pw.IntegrityError) as missing:
        with store.db.atomic():
            store.groups.create("admins", "no-such-domain")
    assert is_reference_error(missing.value)
    other = another_domain(store)
    store.groups.create("admins", other)
    with pytest.raises(pw.IntegrityError) as held:
        with store.db.atomic():
            store.tables.Domain.delete().where(store.tables.Domain.id == other).execute()
    assert is_reference_error(held.value)


def test_fields_are_written_and_a_rename_onto_a_taken_name_is_already_exists(
        store, default_domain):
    store.groups.create("admins", default_domain)
    group = store.groups.create("staff", default_domain)
    assert store.groups.set_fields(group, description="everyone") is True
    assert store.groups.get(group.id).description == "everyone"
    with pytest.raises(AlreadyExists, match="a group named 'admins' already exists in domain default"):
        with store.db.atomic():
            store.groups.set_fields(group, name="admins", description="x")
    assert store.groups.get(group.id).name == "staff"
    assert store.groups.get(group.id).description == "everyone"
    store.groups.delete(group.id)
    assert store.groups.set_fields(group, description="late") is False


def test_two_replicas_writing_one_group_at_once_both_land(store, other_store, default_domain,
                                                         quick_retries):
    group = store.groups.create("staff", default_domain)
    rounds = 5

    def write(replica, index):
        for n in range(rounds):
            fields = {"name": f"staff-{n}"} if index == 0 else {"description": f"round {n}"}
            with replica.db.atomic():
                assert replica.groups.set_fields(group, **fields)

    run_on_both(store, other_store, write)
    row = store.groups.get(group.id)
    assert (row.name, row.description) == (f"staff-{rounds - 1}", f"round {rounds - 1}")


def test_groups_are_listed_by_name_with_every_filter_given(store, default_domain):
    other = another_domain(store)
    for name, domain in (("b", default_domain), ("a", default_domain), ("a", other)):
        store.groups.create(name, domain)
    rows, token = store.groups.list_page()
    assert [r.name for r in rows] == ["a", "a", "b"] and token == ""
    assert rows[0].id < rows[1].id  # the same name: by id
    assert [r.domain_id for r in store.groups.list_page(name="a", domain_id=other)[0]] == [other]


def test_pages_cover_every_group_once_in_order_with_groups_inserted_between_pages(
        store, default_domain):
    for name in ("b", "d", "f", "h"):
        store.groups.create(name, default_domain)

    def insert(number):  # one behind the pages read so far, one still ahead
        store.groups.create(f"a{number}", default_domain)
        store.groups.create(f"z{number}", default_domain)

    names = pages_with_inserts(lambda size, token: store.groups.list_page(
        page_size=size, page_token=token), insert)
    assert names == ["b", "d", "f", "h", "z1", "z2"]


def test_membership_is_added_once_reported_when_removed_and_listed_by_name(
        store, default_domain):
    zed = store.users.create("zed", default_domain)
    amy = store.users.create("amy", default_domain)
    staff = store.groups.create("staff", default_domain)
    admins = store.groups.create("admins", default_domain)
    for user, group in ((zed, staff), (zed, staff), (amy, staff), (zed, admins)):
        store.groups.add_member(user.id, group.id)  # the second time: nothing changes
    assert store.groups.is_member(zed.id, staff.id) and not store.groups.is_member(amy.id, admins.id)
    assert [u.name for u in store.groups.members(staff.id)] == ["amy", "zed"]
    assert [u.name for u in store.groups.members(staff.id, limit=1)] == ["amy"]
    assert [g.name for g in store.groups.groups_of(zed.id)] == ["admins", "staff"]
    assert [g.name for g in store.groups.groups_of(zed.id, limit=1)] == ["admins"]
    assert sorted(store.groups.group_ids_of(zed.id)) == sorted([staff.id, admins.id])
    assert sorted(store.groups.member_ids(staff.id)) == sorted([zed.id, amy.id])
    by_id = sorted([zed.id, amy.id])
    assert store.groups.member_ids_from(staff.id, None, None) == by_id
    assert store.groups.member_ids_from(staff.id, by_id[1], 5) == by_id[1:]
    assert store.groups.member_ids_from(staff.id, None, 1) == by_id[:1]
    assert store.groups.remove_member(zed.id, staff.id) is True
    assert store.groups.remove_member(zed.id, staff.id) is False
    assert store.groups.member_ids(staff.id) == [amy.id]


def test_a_membership_needs_its_user_and_group(store, default_domain):
    group = store.groups.create("staff", default_domain)
    with pytest.raises(pw.IntegrityError) as missing:
        with store.db.atomic():
            store.groups.add_member("no-such-user", group.id)
    assert is_reference_error(missing.value)


def test_memberships_go_with_the_user_or_the_group(store, default_domain):
    amy = store.users.create("amy", default_domain)
    zed = store.users.create("zed", default_domain)
    staff = store.groups.create("staff", default_domain)
    admins = store.groups.create("admins", default_domain)
    for user in (amy, zed):
        for group in (staff, admins):
            store.groups.add_member(user.id, group.id)
    store.users.delete(zed.id)
    assert store.groups.member_ids(staff.id) == [amy.id]
    store.groups.delete(admins.id)
    assert store.groups.group_ids_of(amy.id) == [staff.id]
    assert store.tables.GroupMembership.select().count() == 1


# ---- what the group and user concepts ask of the assignment store -----------------

def test_a_deleted_actors_role_assignments_go_and_no_one_elses(store, default_domain):
    role = store.tables.Role.create(name="member")
    A = store.tables.RoleAssignment
    for actor_type, actor_id in (("user", "u1"), ("user", "u1"), ("group", "u1"), ("user", "u2")):
        A.insert(actor_type=actor_type, actor_id=actor_id, target_type="domain",
                 target_id=default_domain, role=role.id,
                 inherited=A.select().count() == 1).execute()
    assert store.assignments.delete_for_actor("user", "u1") == 2
    assert sorted((a.actor_type, a.actor_id) for a in A.select()) == [("group", "u1"), ("user", "u2")]
    assert store.assignments.delete_for_actor("user", "u1") == 0
