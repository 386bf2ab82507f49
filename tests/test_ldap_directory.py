"""The LDAP directory client against a real slapd (tests/ldap_server.py): reading users
and groups, names matched literally, paging past one page, enabled Keystone's ways
(attribute, mask, invert, emulation), binds, writes refused by default and done when
allowed, StartTLS and ldaps under the right CA and refused under a wrong one, and a
paused or stopped directory answered with Unavailable within connection_timeout, then
served again once it is back."""

import threading
import time

import pytest

from identity_grpc import errors
from identity_grpc.ldap_directory import EMPTY_GROUP_MEMBER, Directory
from identity_grpc.ldap_settings import SAFE_CONNECTION_TIMEOUT, LdapSettings
from ldap_server import GROUPS_DN, Person, Team, group_dn, user_dn

pytest.importorskip("ldap")


@pytest.fixture
def directory_of():
    """`directory_of(server, **options)`: a Directory over that slapd, closed after."""
    made = []

    def make(server, **options):
        directory = Directory(LdapSettings.from_config(server.config(**options)), "ldapdom")
        made.append(directory)
        return directory
    yield make
    for directory in made:
        directory.close()


@pytest.fixture
def directory(slapd, directory_of):
    return directory_of(slapd)


# Settings.
def test_settings_take_keystones_defaults_and_ours():
    settings = LdapSettings.from_config({"ldap": {"suffix": "dc=x,dc=y"}})
    assert settings.urls == ("ldap://localhost",)
    assert settings.user_tree_dn == "ou=Users,dc=x,dc=y"
    assert settings.group_tree_dn == "ou=UserGroups,dc=x,dc=y"
    assert (settings.user_id_attribute, settings.user_name_attribute) == ("cn", "sn")
    assert settings.allow_writes is False and settings.membership_cache_ttl == 30
    assert settings.connection_timeout == SAFE_CONNECTION_TIMEOUT  # Keystone's -1
    assert settings.user_enabled_emulation_dn == "cn=enabled_users,ou=Users,dc=x,dc=y"


def test_settings_read_strings_as_a_keystone_conf_holds_them():
    settings = LdapSettings.from_config({"ldap": {
        "url": "ldap://a:389, ldaps://b", "page_size": "100", "user_enabled_invert": "True",
        "connection_timeout": "1.5", "query_scope": "SUB", "user_filter": "ou=x"}})
    assert settings.urls == ("ldap://a:389", "ldaps://b")
    assert settings.url == "ldap://a:389 ldaps://b"
    assert settings.page_size == 100 and settings.user_enabled_invert is True
    assert settings.connection_timeout == 1.5 and settings.query_scope == "sub"
    assert settings.user_filter == "(ou=x)"


@pytest.mark.parametrize("option, value", [
    ("page_size", -1), ("page_size", "ten"), ("page_size", True), ("query_scope", "base"),
    ("url", ""), ("pool_size", 0), ("tls_req_cert", "hard"),
    ("user_enabled_invert", "maybe"), ("tls_cacertfile", "/nonexistent/ca.pem"),
    ("membership_cache_ttl", -1), ("connection_timeout", "soon"), ("user_filter", "(a=b"),
    ("user_id_attribute", 7),
])
def test_a_bad_value_names_its_option(option, value):
    with pytest.raises(errors.InvalidArgument, match=f"^ldap.{option}: "):
        LdapSettings.from_config({"ldap": {option: value}})


def test_a_url_of_another_scheme_is_refused_when_connecting_not_when_read():
    settings = LdapSettings.from_config({"ldap": {"url": "ldap://a,http://x"}})
    with pytest.raises(errors.InvalidArgument, match="^ldap.url: 'http://x' is neither"):
        settings.check_schemes()


def test_starttls_over_ldaps_is_refused():
    with pytest.raises(errors.InvalidArgument, match="^ldap.use_tls: "):
        LdapSettings.from_config({"ldap": {"url": "ldaps://x", "use_tls": True}})


# Reading.
def test_users_are_read_with_keystones_attributes(directory):
    users = {u.local_id: u for u in directory.users()}
    assert set(users) == {"alice", "bob", "star"}
    alice = users["alice"]
    assert (alice.dn, alice.name, alice.email, alice.description, alice.enabled) == (
        user_dn("alice"), "Alice", "alice@example.org", "the first", True)
    assert directory.user("bob") == users["bob"]
    assert directory.user_by_name("Alice") == alice
    assert [u.local_id for u in directory.users(name="Bob")] == ["bob"]


def test_names_are_matched_literally(directory):
    assert [u.local_id for u in directory.users(name="st*r (x)")] == ["star"]
    assert directory.users(name="*") == []
    assert directory.users(name="st*") == []
    assert directory.users(name="a)(cn=*") == []
    with pytest.raises(errors.NotFound):
        directory.user_by_name("*")
    with pytest.raises(errors.NotFound):
        directory.user("nobody")


def test_groups_and_memberships(directory):
    groups = {g.local_id: g for g in directory.groups()}
    assert set(groups) == {"devs", "ops", "empty"}
    assert (groups["devs"].name, groups["devs"].description, groups["devs"].dn) == (
        "Developers", "they develop", group_dn("devs"))
    assert directory.group("ops") == groups["ops"]
    assert directory.group_by_name("Nobody") == groups["empty"]
    assert [g.local_id for g in directory.groups(name="Operators")] == ["ops"]
    alice, bob = directory.user("alice"), directory.user("bob")
    assert {g.local_id for g in directory.groups_of_user(alice)} == {"devs", "ops"}
    assert {g.local_id for g in directory.groups_of_user(bob)} == {"devs"}
    assert directory.groups_of_user(directory.user("star")) == []
    assert {u.local_id for u in directory.members_of_group(groups["devs"])} == {"alice", "bob"}
    assert directory.members_of_group(groups["empty"]) == []  # the dumb member is nobody


def test_members_outside_the_user_tree_or_gone_are_left_out(make_slapd, directory_of):
    server = make_slapd([Person("a"), Person("b")], [Team(
        "g", members=("a", "b"), raw_members=(GROUPS_DN, f"cn=gone,{GROUPS_DN}"))])
    directory = directory_of(server)
    server.delete(user_dn("b"))
    assert [u.local_id for u in directory.members_of_group(directory.group("g"))] == ["a"]


def test_members_by_id(make_slapd, directory_of):
    server = make_slapd([Person("a"), Person("b"), Person("c")])
    server.add(group_dn("g"), {"objectClass": "posixGroup", "cn": "g", "gidNumber": "1",
                               "memberUid": ["a", "c", "ghost"], "description": "by id"})
    directory = directory_of(server, group_members_are_ids=True, group_objectclass="posixGroup",
                             group_member_attribute="memberUid", group_name_attribute="cn")
    group = directory.group("g")
    assert {u.local_id for u in directory.members_of_group(group)} == {"a", "c"}
    assert [g.local_id for g in directory.groups_of_user(directory.user("c"))] == ["g"]


def test_every_page_is_read(make_slapd, directory_of):
    users = [Person(f"user{i:03}") for i in range(250)]
    server = make_slapd(users, [Team("all", members=tuple(u.id for u in users))])
    paged = directory_of(server, page_size=100)
    assert len(paged.users()) == 250
    assert len(paged.members_of_group(paged.group("all"))) == 250
    assert len(directory_of(server, page_size=7).users()) == 250  # 36 pages


def test_the_search_scope(make_slapd, directory_of):
    server = make_slapd([Person("top")])
    server.add("ou=Sub,ou=Users,dc=example,dc=org", {"objectClass": "organizationalUnit",
                                                     "ou": "Sub"})
    server.add("cn=deep,ou=Sub,ou=Users,dc=example,dc=org",
               {"objectClass": "inetOrgPerson", "cn": "deep", "sn": "deep"})
    assert [u.local_id for u in directory_of(server).users()] == ["top"]
    assert {u.local_id for u in directory_of(server, query_scope="sub").users()} == {"top", "deep"}


def test_the_user_filter_narrows_every_read(directory_of, slapd):
    directory = directory_of(slapd, user_filter="(mail=*@example.org)")
    assert {u.local_id for u in directory.users()} == {"alice", "bob"}
    with pytest.raises(errors.NotFound):
        directory.user("star")


# Enabled, Keystone's ways.
def test_enabled_from_the_attribute_its_default_and_invert(make_slapd, directory_of):
    server = make_slapd([Person("on", attributes={"enabled": "TRUE"}),
                         Person("off", attributes={"enabled": "FALSE"}), Person("unset")])
    plain = {u.local_id: u.enabled for u in directory_of(server).users()}
    assert plain == {"on": True, "off": False, "unset": True}
    by_default = directory_of(server, user_enabled_default="False").users()
    assert {u.local_id: u.enabled for u in by_default}["unset"] is False
    inverted = {u.local_id: u.enabled for u in directory_of(
        server, user_enabled_invert=True, user_enabled_default="False").users()}
    assert inverted == {"on": False, "off": True, "unset": True}


def test_enabled_from_a_bit_mask(make_slapd, directory_of):
    server = make_slapd([Person("on", attributes={"userAccountControl": "512"}),
                         Person("off", attributes={"userAccountControl": "514"}),
                         Person("unset")])
    masked = {u.local_id: u.enabled for u in directory_of(
        server, user_enabled_attribute="userAccountControl", user_enabled_mask=2,
        user_enabled_default="512").users()}
    assert masked == {"on": True, "off": False, "unset": True}
    default_off = directory_of(server, user_enabled_attribute="userAccountControl",
                               user_enabled_mask=2, user_enabled_default="2")
    assert default_off.user("unset").enabled is False


def test_enabled_emulated_by_a_group(make_slapd, directory_of):
    server = make_slapd([Person("in"), Person("out")], [Team("enabled", members=("in",))])
    directory = directory_of(server, user_enabled_emulation=True,
                             user_enabled_emulation_dn=group_dn("enabled"))
    assert {u.local_id: u.enabled for u in directory.users()} == {"in": True, "out": False}
    nowhere = directory_of(server, user_enabled_emulation=True)  # its group does not exist
    assert nowhere.user("in").enabled is False


# Binds.
def test_authenticate_binds_as_the_user(directory):
    alice = directory.user("alice")
    assert directory.authenticate(alice, "alice-secret") is True
    assert directory.authenticate(alice, "wrong") is False
    assert directory.authenticate(alice, "") is False  # never an unauthenticated bind
    ghost = type(alice)("ghost", user_dn("ghost"), "ghost", "", "", True)
    assert directory.authenticate(ghost, "anything") is False
    assert directory.authenticate(directory.user("bob"), "alice-secret") is False


# Writes.
WRITES = [
    ("create_user", ("carol",)), ("update_user", ("alice",), {"email": "x@y"}),
    ("delete_user", ("alice",)), ("set_password", ("alice", "new-secret")),
    ("create_group", ("g",)), ("update_group", ("devs",), {"name": "x"}),
    ("delete_group", ("devs",)), ("add_member", ("ops", "bob")),
    ("remove_member", ("devs", "bob")),
]


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w[0])
def test_writes_are_refused_by_default(directory, slapd, write):
    method, args, *kwargs = write
    with pytest.raises(errors.FailedPrecondition, match="^the LDAP identity backend of this "
                       "domain is read-only"):
        getattr(directory, method)(*args, **(kwargs[0] if kwargs else {}))
    assert slapd.read(user_dn("alice"))["mail"] == ["alice@example.org"]


def test_users_are_written_when_allowed(slapd, directory_of):
    directory = directory_of(slapd, allow_writes=True)
    carol = directory.create_user("carol", password="carol-secret", email="c@example.org",
                                  description="new")
    assert directory.user(carol.local_id) == carol and len(carol.local_id) == 32
    assert slapd.read(carol.dn)["userPassword"][0].startswith("{SSHA}")  # hashed by slapd
    assert directory.authenticate(carol, "carol-secret")
    changed = directory.update_user(carol.local_id, name="Carol", email="")
    assert (changed.name, changed.email, changed.description) == ("Carol", "", "new")
    slapd.modify(carol.dn, {"objectClass": ["inetOrgPerson", "identityTestAccount"]})
    assert directory.update_user(carol.local_id, enabled=False).enabled is False
    assert slapd.read(carol.dn)["enabled"] == ["FALSE"]
    assert directory.update_user(carol.local_id, enabled=True).enabled is True
    directory.set_password(carol.local_id, "changed-secret")
    assert not directory.authenticate(carol, "carol-secret")
    assert directory.authenticate(carol, "changed-secret")
    with pytest.raises(errors.InvalidArgument):
        directory.update_user(carol.local_id, colour="blue")
    directory.add_member("ops", carol.local_id)
    directory.delete_user(carol.local_id)
    with pytest.raises(errors.NotFound):
        directory.user(carol.local_id)
    assert carol.dn not in slapd.read(group_dn("ops"))["member"]  # out of its groups too


def test_a_disabled_user_is_written_with_the_mask(make_slapd, directory_of):
    server = make_slapd()
    directory = directory_of(server, allow_writes=True, user_objectclass="inetOrgPerson",
                             user_enabled_attribute="userAccountControl", user_enabled_mask=2,
                             user_enabled_default="512")
    user = directory.create_user("dan")  # enabled: nothing to write
    server.modify(user.dn, {"objectClass": ["inetOrgPerson", "identityTestAccount"]})
    assert directory.update_user(user.local_id, enabled=False).enabled is False
    assert server.read(user.dn)["userAccountControl"] == ["514"]
    assert directory.update_user(user.local_id, enabled=True).enabled is True
    assert server.read(user.dn)["userAccountControl"] == ["512"]


def test_emulated_enabled_is_written_as_membership(make_slapd, directory_of):
    server = make_slapd()
    directory = directory_of(server, allow_writes=True, user_enabled_emulation=True)
    erin = directory.create_user("erin")
    assert directory.user(erin.local_id).enabled is True  # its group created for it
    assert directory.update_user(erin.local_id, enabled=False).enabled is False
    assert directory.update_user(erin.local_id, enabled=True).enabled is True


def test_groups_are_written_when_allowed(slapd, directory_of):
    directory = directory_of(slapd, allow_writes=True)
    group = directory.create_group("testers", description="they test")
    assert directory.group(group.local_id) == group
    assert directory.members_of_group(group) == []
    directory.add_member(group.local_id, "bob")
    directory.add_member(group.local_id, "bob")  # idempotent
    assert slapd.read(group.dn)["member"] == [user_dn("bob")]  # the dumb member gone
    directory.remove_member(group.local_id, "bob")
    assert slapd.read(group.dn)["member"] == [EMPTY_GROUP_MEMBER]  # last one out
    with pytest.raises(errors.NotFound):
        directory.remove_member(group.local_id, "bob")
    assert directory.update_group(group.local_id, name="QA").name == "QA"
    directory.delete_group(group.local_id)
    with pytest.raises(errors.NotFound):
        directory.group(group.local_id)
    directory.create_group("same")
    same = directory_of(slapd, allow_writes=True, group_name_attribute="cn")
    same.create_group("twin")
    with pytest.raises(errors.AlreadyExists):
        same.create_group("twin")


# TLS.
def test_starttls_and_ldaps_under_the_generated_ca(slapd_tls, directory_of):
    starttls = directory_of(slapd_tls, use_tls=True, tls_cacertfile=slapd_tls.ca_file)
    assert starttls.user("alice").name == "Alice"
    assert starttls.authenticate(starttls.user("alice"), "alice-secret")
    ldaps = directory_of(slapd_tls, url=slapd_tls.ldaps_url, tls_cacertfile=slapd_tls.ca_file)
    assert ldaps.user("bob").name == "Bob"
    assert ldaps.authenticate(ldaps.user("bob"), "bob-secret")


@pytest.mark.parametrize("how", ["starttls", "ldaps"])
def test_a_wrong_ca_is_refused(slapd_tls, directory_of, how):
    options = ({"use_tls": True} if how == "starttls" else {"url": slapd_tls.ldaps_url})
    wrong = directory_of(slapd_tls, tls_cacertfile=slapd_tls.wrong_ca_file, **options)
    with pytest.raises(errors.Unavailable, match="^the LDAP directory of domain ldapdom is "
                       "unreachable: "):
        wrong.users()
    # Each connection has its own TLS context: the right CA still works beside it.
    right = directory_of(slapd_tls, tls_cacertfile=slapd_tls.ca_file, **options)
    assert right.user("alice").local_id == "alice"
    with pytest.raises(errors.Unavailable):
        wrong.users()


# An unreachable directory.
def test_a_paused_directory_is_unavailable_within_the_timeout(slapd, directory_of):
    directory = directory_of(slapd, connection_timeout=1)
    assert directory.user("alice")  # a pooled connection, bound
    slapd.pause()
    try:
        for call in (directory.users, lambda: directory.authenticate(_alice(), "alice-secret")):
            started = time.monotonic()
            with pytest.raises(errors.Unavailable, match="unreachable"):
                call()
            assert time.monotonic() - started < 1.8
    finally:
        slapd.resume()
    assert directory.user("alice").name == "Alice"  # served again


def _alice():
    from identity_grpc.ldap_directory import DirectoryUser
    return DirectoryUser("alice", user_dn("alice"), "Alice", "", "", True)


def test_a_stopped_directory_is_unavailable_and_served_once_back(slapd, directory_of):
    directory = directory_of(slapd, connection_timeout=1)
    assert directory.user("alice")
    slapd.stop()
    started = time.monotonic()
    with pytest.raises(errors.Unavailable, match="^the LDAP directory of domain ldapdom is "
                       "unreachable: "):
        directory.users()
    with pytest.raises(errors.Unavailable):
        directory.authenticate(_alice(), "alice-secret")
    assert time.monotonic() - started < 1.5  # refused at once, no timeout needed
    slapd.start()
    assert directory.user("alice").name == "Alice"  # the stale connection replaced
    assert directory.authenticate(directory.user("alice"), "alice-secret")


def test_the_pool_is_bounded_and_shared_by_threads(slapd, directory_of):
    directory = directory_of(slapd, pool_size=2)
    failures, names = [], []

    def work():
        try:
            for _ in range(20):
                names.append(directory.user("alice").name)
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)
    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and names == ["Alice"] * 120
    assert len(directory._connections._idle) <= 2
