"""The tests' OpenLDAP server: `identity_grpc/slapd.py` (`Slapd`, `Person`, `Team`, the
tree's DNs), which the `make run LDAP=1` demo runs too, and the standard tree the
`slapd` fixture serves. Nothing here fakes a directory: where slapd cannot run,
`skip_reason()` says why and the fixtures skip."""

from identity_grpc.slapd import (  # noqa: F401  (the tests' names for them)
    EMPTY_GROUP_MEMBER, GROUPS_DN, ROOT_DN, ROOT_PASSWORD, SUFFIX, TEST_SCHEMA, USERS_DN,
    Person, Slapd, Team, group_dn, skip_reason, ssha, tree_ldif, user_dn)

# The tree the `slapd` fixture serves: two enabled users with passwords, one with
# characters a filter must escape in its name, and groups with and without members.
STANDARD_USERS = (
    Person("alice", "Alice", "alice-secret", "alice@example.org", "the first"),
    Person("bob", "Bob", "bob-secret", "bob@example.org"),
    Person("star", "st*r (x)", "star-secret"),
)
STANDARD_GROUPS = (
    Team("devs", "Developers", ("alice", "bob"), "they develop"),
    Team("ops", "Operators", ("alice",)),
    Team("empty", "Nobody"),
)

