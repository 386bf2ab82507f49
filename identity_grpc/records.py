"""Immutable records the core hands to transports.

They are plain data, detached from the ORM, so they can be cached and shared
between threads, and so a transport never touches the store.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DomainRecord:
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
