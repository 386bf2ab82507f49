"""Immutable records the core hands to transports.

They are plain data, detached from the ORM, so they can be cached and shared
between threads, and so a transport never touches the store.
"""

import json
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Selector:
    """Names a user, project or domain: by id, or by name (plus a domain)."""

    id: str = ""
    name: str = ""
    domain: "Selector | None" = None


@dataclass(frozen=True)
class PasswordCredentials:
    user: Selector
    password: str


@dataclass(frozen=True)
class TokenCredentials:
    token: str


@dataclass(frozen=True)
class ApiKeyCredentials:
    """The secret of an API key, and optionally who the caller says owns it."""

    key: str
    user: Selector | None = None


@dataclass(frozen=True)
class ScopeRequest:
    """`kind` is "unscoped", "project", "domain" or "system"."""

    kind: str = "unscoped"
    target: Selector | None = None


@dataclass(frozen=True, slots=True)
class DomainRecord:
    """A domain, as tokens and both management APIs show it."""

    id: str
    name: str
    enabled: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    id: str
    name: str
    domain: DomainRecord
    enabled: bool = True
    description: str = ""
    parent_id: str = ""
    is_domain: bool = False


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    name: str
    domain: DomainRecord


@dataclass(frozen=True, slots=True)
class RoleRecord:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: str
    interface: str
    region: str
    url: str


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    id: str
    type: str
    name: str
    endpoints: tuple[EndpointRecord, ...]


@dataclass(frozen=True, slots=True)
class ScopedIdentity:
    """Who a user is on one scope: what a token's facts are computed from.

    `scope_type` is "unscoped", "project", "domain" or "system"; exactly the matching
    one of `project` / `domain` is set for project and domain scopes.
    """

    user: UserRecord
    scope_type: str
    project: ProjectRecord | None
    domain: DomainRecord | None
    roles: tuple[RoleRecord, ...]

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.name for r in self.roles)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """The facts of a valid token, as Authenticate and ValidateToken return them."""

    identity: ScopedIdentity
    methods: tuple[str, ...]
    issued_at: int  # unix milliseconds
    expires_at: int  # unix seconds
    audit_ids: tuple[str, ...]
    catalog: tuple[ServiceRecord, ...] | None  # None when left out or unscoped


# ---- what the management operations return ------------------------------------------
#
# Each is built from a store row by `of(row)` (the row's own field names), so an
# operation hands transports data, never a row that could lazily query the store.


def _pairs(stored: str | None) -> tuple:
    """A JSON object as sorted (key, value) pairs: a mapping that cannot change."""
    return tuple(sorted(json.loads(stored or "{}").items()))


def from_row(cls, row, **given):
    """The record `cls` of a store row: each field read from the row's attribute of
    that name, unless given."""
    return cls(**{f.name: given[f.name] if f.name in given else getattr(row, f.name)
                  for f in fields(cls)})


class _FromRow:
    __slots__ = ()

    @classmethod
    def of(cls, row):
        return from_row(cls, row)


@dataclass(frozen=True, slots=True)
class UserEntry(_FromRow):
    id: str
    name: str
    domain_id: str
    email: str
    description: str
    enabled: bool
    default_project_id: str | None
    extra: tuple[tuple[str, str], ...]  # the user's free attributes, by key
    options: tuple[tuple[str, object], ...]  # Keystone's user options, by name
    password_expires_at: int | None = None  # unix seconds; None: never, or no password

    @classmethod
    def of(cls, row, password_expires_at: int | None = None) -> "UserEntry":
        return from_row(cls, row, extra=_pairs(row.extra), options=_pairs(row.options),
                        password_expires_at=password_expires_at)


@dataclass(frozen=True, slots=True)
class GroupEntry(_FromRow):
    id: str
    name: str
    domain_id: str
    description: str


@dataclass(frozen=True, slots=True)
class ProjectEntry(_FromRow):
    id: str
    name: str
    domain_id: str
    description: str
    enabled: bool
    parent_id: str | None  # None: top-level (its parent is its domain)
    is_domain: bool



def domain_entry(row) -> DomainRecord:
    return from_row(DomainRecord, row)


@dataclass(frozen=True, slots=True)
class RoleEntry(_FromRow):
    id: str
    name: str
    domain_id: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class RegionEntry(_FromRow):
    id: str
    description: str
    parent_region_id: str | None


@dataclass(frozen=True, slots=True)
class ServiceEntry(_FromRow):
    id: str
    type: str
    name: str
    description: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class EndpointEntry(_FromRow):
    id: str
    service_id: str
    interface: str
    region_id: str | None
    url: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class ApiKeyEntry(_FromRow):
    """A key as clients see it: never its secret nor the secret's hash."""

    id: str
    name: str
    user_id: str
    project_id: str
    role_ids: tuple[str, ...]  # empty: all the user's roles on the project
    expires_at: int | None
    created_at: int

    @classmethod
    def of(cls, row) -> "ApiKeyEntry":
        return from_row(cls, row, role_ids=tuple(json.loads(row.role_ids or "[]")))
