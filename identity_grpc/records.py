"""Immutable records the core hands to transports.

They are plain data, detached from the ORM, so they can be cached and shared
between threads, and so a transport never touches the store.
"""

import json
from dataclasses import dataclass, field, fields


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
    """An API key (an application credential, docs/appcreds.md): gRPC's `key`,
    `<id>.<secret>`; or Keystone's `id` and `secret`, or `name`, `secret` and the
    owning `user`. `user` is optional otherwise and must then name the owner."""

    key: str = ""
    user: Selector | None = None
    id: str = ""
    name: str = ""
    secret: str = ""


@dataclass(frozen=True)
class OAuth1Credentials:
    """A request signed with OAuth1 (RFC 5849): what its signature covers, as the
    client sent it (the URL as the client named this service)."""

    uri: str
    http_method: str
    authorization: str  # the `Authorization: OAuth ...` header
    content_type: str = ""
    body: str = ""  # signed too when form-encoded


@dataclass(frozen=True)
class Ec2Credentials:
    """What an EC2 API server forwards of a request signed with an EC2 credential
    (`POST /v3/ec2tokens`): the access key, the signature, and what was signed. The
    token it gets is scoped to the credential's project."""

    access: str
    signature: str = ""
    host: str = ""
    verb: str = ""
    path: str = ""
    params: dict = field(default_factory=dict)  # str -> str
    headers: dict = field(default_factory=dict)  # str -> str
    body_hash: str = ""  # hex SHA-256 of the request body (signature version 4)


@dataclass(frozen=True)
class ScopeRequest:
    """`kind` is "unscoped", "project", "domain", "system" or "trust" (the target's
    id names the trust)."""

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
    password_expires_at: int | None = None  # unix seconds; None: never, or no password


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
class TrustRef:
    """The trust a trust-scoped token was issued through, as its body shows it."""

    id: str
    impersonation: bool
    trustor_user_id: str
    trustee_user_id: str
    redelegation_count: int = 0  # further delegations it allows (0: none)


@dataclass(frozen=True, slots=True)
class ApiKeyRef:
    """The API key (application credential) a token was issued with, as its body
    shows it; `access_rules` are (id, service, path, method)."""

    id: str
    name: str
    unrestricted: bool
    access_rules: tuple[tuple[str, str, str, str], ...] = ()


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
    trust: TrustRef | None = None  # set for a trust-scoped token
    oauth1_consumer_id: str | None = None  # the consumer of an OAuth1 delegation
    api_key: ApiKeyRef | None = None  # set for a token issued with an API key

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
    access_token_id: str | None = None  # the OAuth1 access token of an oauth1 token


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
    domain_id: str | None  # None: a project acting as a domain
    description: str
    enabled: bool
    parent_id: str | None  # None: top-level (its parent is its domain)
    is_domain: bool
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, row, tags=()) -> "ProjectEntry":
        return from_row(cls, row, tags=tuple(tags))

    @classmethod
    def of_domain(cls, row) -> "ProjectEntry":
        """A domain as the project acting as it (Keystone's `is_domain`): in no
        domain, below nothing."""
        return cls(id=row.id, name=row.name, domain_id=None, description=row.description,
                   enabled=row.enabled, parent_id=None, is_domain=True)


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
class AccessRuleEntry(_FromRow):
    """One of a user's access rules (Keystone's): what a credential's token may call."""

    id: str
    user_id: str
    service: str
    path: str
    method: str


@dataclass(frozen=True, slots=True)
class ApiKeyEntry:
    """A key (an application credential) as clients see it: never its secret nor the
    secret's hash. `roles` are the ones it holds that still exist."""

    id: str
    name: str
    description: str
    user_id: str
    project_id: str
    roles: tuple[RoleEntry, ...]
    expires_at_us: int | None  # unix microseconds; None: never
    unrestricted: bool
    access_rules: tuple[AccessRuleEntry, ...]
    created_at: int

    @property
    def role_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.roles)


@dataclass(frozen=True)
class AccessRuleSpec:
    """An access rule asked for: an existing one of the user's by `id`, or one by
    what it allows (the user's identical rule is reused)."""

    id: str = ""
    service: str = ""
    path: str = ""
    method: str = ""


@dataclass(frozen=True)
class ApiKeyRequest:
    """A create request, its fields checked for type by the transport. `roles` are
    ("id" | "name", value) pairs; none: every role the user holds on the project."""

    project_id: str
    user_id: str = ""  # empty: the caller
    name: str = ""  # empty (gRPC only): the key's id
    description: str = ""
    roles: tuple[tuple[str, str], ...] = ()
    expires_at_us: int | None = None
    unrestricted: bool = False
    secret: str = ""  # empty: generated
    access_rules: tuple[AccessRuleSpec, ...] = ()
    on_behalf: bool = False


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just made: its `secret` (Keystone's) and `key`, gRPC's `<id>.<secret>`,
    shown this once and kept nowhere."""

    entry: ApiKeyEntry
    secret: str
    key: str


@dataclass(frozen=True, slots=True)
class TrustEntry(_FromRow):
    """A trust as clients see it; `roles` are the delegated roles that still exist."""

    id: str
    trustor_user_id: str
    trustee_user_id: str
    project_id: str | None
    impersonation: bool
    roles: tuple[RoleEntry, ...]
    expires_at: int | None
    remaining_uses: int | None
    redelegation_count: int
    redelegated_trust_id: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class TrustRequest:
    """A create request, its fields checked for type by the transport."""

    trustor_user_id: str
    trustee_user_id: str
    impersonation: bool
    project_id: str | None = None
    roles: tuple[tuple[str, str], ...] = ()  # each ("id" or "name", value)
    expires_at: int | None = None
    remaining_uses: int | None = None
    allow_redelegation: bool = False
    redelegation_count: int | None = None
# ---- OAuth1 ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ConsumerEntry(_FromRow):
    """An OAuth1 consumer as clients see it: never its secret."""

    id: str
    description: str
    extra: tuple[tuple[str, object], ...]  # Keystone's free attributes, by key

    @classmethod
    def of(cls, row) -> "ConsumerEntry":
        return from_row(cls, row, extra=_pairs(row.extra))


@dataclass(frozen=True, slots=True)
class RequestTokenEntry(_FromRow):
    id: str
    consumer_id: str
    project_id: str
    expires_at: int | None  # unix seconds


@dataclass(frozen=True, slots=True)
class AccessTokenEntry(_FromRow):
    """An OAuth1 access token as clients see it: never its secret."""

    id: str
    consumer_id: str
    authorizing_user_id: str
    project_id: str
    role_ids: tuple[str, ...]  # the delegated roles
    expires_at: int | None  # unix seconds

    @classmethod
    def of(cls, row) -> "AccessTokenEntry":
        return from_row(cls, row, role_ids=tuple(json.loads(row.role_ids or "[]")))
