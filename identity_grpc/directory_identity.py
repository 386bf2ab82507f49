"""Users and groups of the domains whose identity driver is `ldap` (Keystone's
domain-specific drivers): read from the domain's directory, given public ids by
`IdMapping`, never copied into the store.

`UsersAndGroups` asks here first: an id that maps to a directory entry, or a domain
configured with `[identity] driver = ldap`, is answered from the directory; anything
else goes on to the store. Role assignments stay in the store for both, so a grant to
an LDAP user or group is an ordinary grant naming its public id.

Group membership decides the roles in a token, and the directory does not tell us
when it changes. A user's groups are read afresh at every authentication (a user
removed from a group loses its roles in new tokens at once) and kept for
`membership_cache_ttl` seconds for validations: every answer computed from an LDAP
user's groups depends on `(Kind.DIRECTORY, domain id)`, which the core drops each
time that TTL runs out (`expire`), so a validation is at most one TTL behind the
directory, and one of a token already issued keeps validating from cache while the
directory is unreachable, until then.

Writes go to the directory only when the domain's `ldap.allow_writes` is on; by
default the domain is read-only and every write is refused with `ReadOnlyBackend`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from identity_api.changes import Kind

from .errors import FailedPrecondition, InvalidArgument, NotFound, ReadOnlyBackend
from .id_mapping import IdMapping

USER, GROUP = "user", "group"


@dataclass(frozen=True)
class DirectoryUserRow:
    """An LDAP user as the managers see a stored user's row (the same attribute
    names), with the entry it was read from."""

    id: str
    name: str
    domain_id: str
    email: str
    description: str
    enabled: bool
    dn: str
    local_id: str
    default_project_id: str | None = None
    extra: str = "{}"
    options: str = "{}"
    failed_auth_count: int = 0
    failed_auth_at: int | None = None
    domain: object = field(default=None, compare=False)  # set by find_with_domain


@dataclass(frozen=True)
class DirectoryGroupRow:
    id: str
    name: str
    domain_id: str
    description: str
    dn: str
    local_id: str


class DirectoryDomains:
    """Which domains keep their identities in a directory, and one client for each,
    built from the domain's configuration the first time it is needed and dropped
    when that configuration (or the domain) changes on any replica."""

    def __init__(self, effective_config: Callable[[str], dict], connect=None):
        self._effective_config = effective_config
        self._connect = connect or _connect
        self._directories: dict[str, object | None] = {}
        self._lock = threading.Lock()

    def directory(self, domain_id: str):
        """The domain's directory client; None for a domain kept in the store."""
        try:
            return self._directories[domain_id]
        except KeyError:
            pass
        config = self._effective_config(domain_id) if domain_id else {}
        driver = (config.get("identity") or {}).get("driver") or "sql"
        directory = self._connect(config, domain_id) if driver == "ldap" else None
        with self._lock:
            self._directories.setdefault(domain_id, directory)
            return self._directories[domain_id]

    def known(self) -> dict[str, object]:
        """The directory-backed domains this process has met, by id."""
        return {d: c for d, c in list(self._directories.items()) if c is not None}

    def forget(self, domain_id: str) -> None:
        with self._lock:
            directory = self._directories.pop(domain_id, None)
        if directory is not None:
            directory.close()

    def close(self) -> None:
        for domain_id in list(self._directories):
            self.forget(domain_id)


def _connect(config: dict, domain_id: str):
    try:
        from .ldap_directory import Directory, LdapSettings  # python-ldap: the `ldap` extra
    except ImportError as e:
        raise FailedPrecondition(f"a domain's identity driver is ldap, but the LDAP client "
                                 f"is not installed (pip install '.[ldap]'): {e}") from e
    try:
        settings = LdapSettings.from_config(config)
        settings.check_schemes()
    except InvalidArgument as e:  # a file's (the API checks what it is given)
        raise FailedPrecondition(f"the LDAP configuration of domain {domain_id} is "
                                 f"invalid: {e}") from e
    return Directory(settings, domain_id)


class DirectoryIdentity:
    """The directory side of users and groups (see the module docstring)."""

    def __init__(self, domains: DirectoryDomains, ids: IdMapping,
                 invalidate: Callable[[Kind, str], None],
                 clock: Callable[[], float] = time.monotonic):
        self._domains = domains
        self._ids = ids
        self._invalidate = invalidate  # this process's caches only
        self._clock = clock
        self._groups_of: dict[str, tuple[str, tuple[str, ...]]] = {}  # user -> (domain, groups)
        self._next_expiry: dict[str, float] = {}  # domain -> when its answers go stale

    # ---- where an id or a domain lives ----------------------------------------------

    def directory(self, domain_id: str):
        return self._domains.directory(domain_id)

    def _entry(self, entity_id: str, entity_type: str):
        """(directory, local id, domain id) behind a public id; None for an id that
        is not a directory entry's of that type."""
        local = self._ids.local(entity_id)
        if local is None or local.entity_type != entity_type:
            return None
        directory = self._domains.directory(local.domain_id)
        if directory is None:  # the domain went back to the store
            return None
        return directory, local.local_id, local.domain_id

    # ---- users ----------------------------------------------------------------------

    def _user_row(self, domain_id: str, entry) -> DirectoryUserRow:
        return DirectoryUserRow(
            id=self._ids.public(domain_id, entry.local_id, USER), name=entry.name,
            domain_id=domain_id, email=entry.email or "", description=entry.description or "",
            enabled=entry.enabled, dn=entry.dn, local_id=entry.local_id)

    def _group_row(self, domain_id: str, entry) -> DirectoryGroupRow:
        return DirectoryGroupRow(
            id=self._ids.public(domain_id, entry.local_id, GROUP), name=entry.name,
            domain_id=domain_id, description=entry.description or "", dn=entry.dn,
            local_id=entry.local_id)

    def user(self, user_id: str) -> DirectoryUserRow | None | bool:
        """The user behind a directory id; None when the entry is gone; False when
        the id is not a directory user's (ask the store)."""
        found = self._entry(user_id, USER)
        if found is None:
            return False
        directory, local_id, domain_id = found
        entry = _or_none(directory.user, local_id)
        return None if entry is None else self._user_row(domain_id, entry)

    def user_by_name(self, directory, domain_id: str, name: str) -> DirectoryUserRow | None:
        entry = _or_none(directory.user_by_name, name)
        return None if entry is None else self._user_row(domain_id, entry)

    def users(self, directory, domain_id: str, name: str = "",
              enabled: bool | None = None) -> list[DirectoryUserRow]:
        rows = [self._user_row(domain_id, e) for e in directory.users(name or None)]
        if enabled is not None:
            rows = [r for r in rows if r.enabled == enabled]
        return sorted(rows, key=lambda r: (r.name, r.id))

    def authenticate(self, user: DirectoryUserRow, password: str) -> bool:
        """A bind as the user; on success its groups are read afresh, and the answers
        computed from the old ones dropped when they differ."""
        directory = self._domains.directory(user.domain_id)  # the row says where it lives
        if directory is None or not directory.authenticate(_entry_of(user), password):
            return False
        before = self._groups_of.get(user.id)
        groups = self._read_groups(directory, user)
        if before is not None and before[1] != groups:
            self._invalidate(Kind.USER, user.id)
        return True

    # ---- groups ---------------------------------------------------------------------

    def group(self, group_id: str) -> DirectoryGroupRow | None | bool:
        found = self._entry(group_id, GROUP)
        if found is None:
            return False
        directory, local_id, domain_id = found
        entry = _or_none(directory.group, local_id)
        return None if entry is None else self._group_row(domain_id, entry)

    def group_by_name(self, directory, domain_id: str, name: str) -> DirectoryGroupRow | None:
        entry = _or_none(directory.group_by_name, name)
        return None if entry is None else self._group_row(domain_id, entry)

    def groups(self, directory, domain_id: str, name: str = "") -> list[DirectoryGroupRow]:
        rows = [self._group_row(domain_id, e) for e in directory.groups(name or None)]
        return sorted(rows, key=lambda r: (r.name, r.id))

    def group_ids(self, user_id: str) -> list[str] | None:
        """The user's groups' public ids, as last read (within the TTL); None for a
        user that is not a directory user."""
        cached = self._groups_of.get(user_id)
        if cached is not None:
            return list(cached[1])
        found = self._entry(user_id, USER)
        if found is None:
            return None
        directory, local_id, domain_id = found
        entry = _or_none(directory.user, local_id)
        if entry is None:
            return []
        return list(self._read_groups(directory, self._user_row(domain_id, entry)))

    def _read_groups(self, directory, user: DirectoryUserRow) -> tuple[str, ...]:
        groups = tuple(sorted(self._ids.public(user.domain_id, g.local_id, GROUP)
                              for g in directory.groups_of_user(_entry_of(user))))
        self._groups_of[user.id] = (user.domain_id, groups)
        self._next_expiry.setdefault(user.domain_id, self._clock() + _ttl(directory))
        return groups

    def groups_of_user(self, user: DirectoryUserRow) -> list[DirectoryGroupRow]:
        directory = self._domains.directory(user.domain_id)
        if directory is None:
            return []
        rows = [self._group_row(user.domain_id, g)
                for g in directory.groups_of_user(_entry_of(user))]
        return sorted(rows, key=lambda r: (r.name, r.id))

    def members(self, group: DirectoryGroupRow) -> list[DirectoryUserRow]:
        directory = self._domains.directory(group.domain_id)
        if directory is None:
            return []
        rows = [self._user_row(group.domain_id, u)
                for u in directory.members_of_group(_entry_of(group))]
        return sorted(rows, key=lambda r: (r.name, r.id))

    # ---- time ------------------------------------------------------------------------

    def expire(self) -> list[str]:
        """Forget the memberships of each domain whose TTL has run out; the domains
        whose answers the caller must now drop (`Kind.DIRECTORY`)."""
        now = self._clock()
        stale = [d for d, at in list(self._next_expiry.items()) if now >= at]
        for domain_id in stale:
            self._next_expiry.pop(domain_id, None)
            for user_id, (user_domain, _) in list(self._groups_of.items()):
                if user_domain == domain_id:
                    self._groups_of.pop(user_id, None)
        return stale

    def forget_domain(self, domain_id: str) -> None:
        """The domain's configuration changed: a new client, no memberships kept."""
        self._domains.forget(domain_id)
        self._next_expiry.pop(domain_id, None)
        for user_id, (user_domain, _) in list(self._groups_of.items()):
            if user_domain == domain_id:
                self._groups_of.pop(user_id, None)

    def close(self) -> None:
        self._domains.close()

    # ---- writes (allow_writes only) ----------------------------------------------------

    def writable(self, directory, domain_id: str):
        if not getattr(directory.settings, "allow_writes", False):
            raise ReadOnlyBackend(
                f"the LDAP identity backend of domain {domain_id} is read-only: users, "
                "groups, memberships and passwords are managed in the directory "
                "(set ldap.allow_writes in the domain's configuration to write to it)")
        return directory

    def create_user(self, directory, domain_id: str, name: str, password: str | None,
                    email: str, description: str, enabled: bool) -> DirectoryUserRow:
        entry = self.writable(directory, domain_id).create_user(
            name, password=password, email=email, description=description, enabled=enabled)
        return self._user_row(domain_id, entry)

    def _writable_entry(self, entity_id: str, entity_type: str):
        found = self._entry(entity_id, entity_type)
        if found is None:
            raise NotFound(f"{entity_type} {entity_id} not found")
        directory, local_id, domain_id = found
        return self.writable(directory, domain_id), local_id, domain_id

    def update_user(self, user_id: str, **changes) -> None:
        directory, local_id, _ = self._writable_entry(user_id, USER)
        directory.update_user(local_id, **changes)

    def set_password(self, user_id: str, password: str) -> None:
        directory, local_id, _ = self._writable_entry(user_id, USER)
        directory.set_password(local_id, password)

    def delete_user(self, user_id: str) -> None:
        directory, local_id, _ = self._writable_entry(user_id, USER)
        directory.delete_user(local_id)
        self._groups_of.pop(user_id, None)

    def create_group(self, directory, domain_id: str, name: str,
                     description: str) -> DirectoryGroupRow:
        entry = self.writable(directory, domain_id).create_group(name, description=description)
        return self._group_row(domain_id, entry)

    def update_group(self, group_id: str, **changes) -> None:
        directory, local_id, _ = self._writable_entry(group_id, GROUP)
        directory.update_group(local_id, **changes)

    def delete_group(self, group_id: str) -> None:
        directory, local_id, _ = self._writable_entry(group_id, GROUP)
        directory.delete_group(local_id)

    def change_membership(self, user_id: str, group_id: str, add: bool) -> None:
        directory, group_local, domain_id = self._writable_entry(group_id, GROUP)
        user = self._entry(user_id, USER)
        if user is None or user[2] != domain_id:
            raise NotFound(f"user {user_id} is not in the directory of group {group_id}")
        if add:
            directory.add_member(group_local, user[1])
        else:
            directory.remove_member(group_local, user[1])
        self._groups_of.pop(user_id, None)


def _entry_of(row):
    """The directory record behind a row, as the directory client takes it."""
    from .ldap_entries import DirectoryGroup, DirectoryUser
    if isinstance(row, DirectoryGroupRow):
        return DirectoryGroup(local_id=row.local_id, dn=row.dn, name=row.name,
                              description=row.description)
    return DirectoryUser(local_id=row.local_id, dn=row.dn, name=row.name, email=row.email,
                         description=row.description, enabled=row.enabled)


def _or_none(read, key: str):
    """The entry, or None where the directory has none (its NotFound)."""
    try:
        return read(key)
    except NotFound:
        return None


def _ttl(directory) -> float:
    return float(getattr(directory.settings, "membership_cache_ttl", 30) or 0)


def with_domain(row: DirectoryUserRow, domain) -> DirectoryUserRow:
    return replace(row, domain=domain)
