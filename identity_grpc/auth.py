"""Authentication and token validation: the core both transports call.

A token carries only who, how, on what scope, and when (see `identity_api.tokens`); its
roles, names and catalog are looked up when it is validated, so removing a role or
disabling a user shows at once and issuing or validating writes nothing. Lookups go
through a `DependentCache`, so a validation is a signature check (itself cached),
a clock check, a few dict lookups and no query.
"""

import time
from typing import Callable

from identity_api.revocation import Revocation, RevocationList, now_ms
from identity_api.tokens import TokenPayload, new_audit_id

from .api_keys import ApiKeys, role_ids_of
from .assignments import Assignments
from .cache import Dep, DependentCache
from .catalog import Catalog
from .errors import InvalidArgument, InvalidSubjectToken, PermissionDenied, Unauthenticated
from .users_and_groups import UsersAndGroups
from .passwords import check_acceptable
from .policy import Policy
from .records import (ApiKeyCredentials, DomainRecord, PasswordCredentials, ProjectRecord,
                      ScopeRequest, ScopedIdentity, Selector, TokenCredentials, TokenInfo,
                      UserRecord)
from .resources import Resources, domain_record, project_record
from .revocation_limits import RevocationLimits
from .store.models import SYSTEM_TARGET, ApiKey, Domain, Project, User
from .store import Store
from .change_feed import Writer
from .tokens.codec import TokenCodec
from .validation import check_id_or_name

# One answer for every failed authentication, so a caller cannot learn whether a
# user or project exists, which part was wrong, or whether it holds a role there.
AUTH_FAILED = ("authentication failed: the credentials, or the requested scope, "
               "were not accepted")
METHOD_ORDER = ("password", "token", "api_key")


class _Refusal:
    """A cached negative answer: the same lookups would refuse again."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


class AuthService:
    def __init__(self, *, store: Store, identity: UsersAndGroups, resources: Resources, assignments: Assignments,
                 catalog: Catalog, codec: TokenCodec, revocations: RevocationList,
                 writer: Writer, cache: DependentCache, token_lifetime: int,
                 revocation_limits: RevocationLimits, policy: Policy,
                 clock: Callable[[], float] = time.time, clock_skew_tolerance: float = 5.0):
        self._store = store
        self._identity = identity
        self._policy = policy
        self._resources = resources
        self._assignments = assignments
        self._catalog = catalog
        self._codec = codec
        self._revocations = revocations
        self._writer = writer
        self._cache = cache
        self._lifetime = token_lifetime
        self._lifetime_ms = token_lifetime * 1000
        self._skew_ms = int(clock_skew_tolerance * 1000)
        self._clock = clock
        self._revocation_limits = revocation_limits
        self.api_keys = ApiKeys(store, writer, self._roles_on, clock)

    # ---- issuing -----------------------------------------------------------

    def authenticate(self, credentials, scope: ScopeRequest, include_catalog: bool = True,
                     source: str | None = None) -> tuple[str, TokenInfo]:
        """A token for the credentials. `source` is the client's address, which the
        throttles of failed passwords go by (None: a call from inside the server)."""
        issued_at = now_ms(self._clock)
        now = issued_at // 1000
        api_key_id = None
        if isinstance(credentials, PasswordCredentials):
            user = self._check_password(credentials, source)
            user_id, methods = user.id, ("password",)
            expires_at, parent_audit = now + self._lifetime, None
            if scope.kind == "unscoped" and user.default_project_id:
                scope = self._default_project_scope(user)
        elif isinstance(credentials, TokenCredentials):
            # The old token must still be valid as a whole, roles on its scope included.
            old = self.validate(credentials.token, include_catalog=False)
            if "api_key" in old.methods:
                raise InvalidArgument("token.token", "a token issued with an api key cannot be "
                                                     "rescoped; authenticate with the key again")
            user_id = old.identity.user.id
            methods = tuple(m for m in METHOD_ORDER if m in old.methods or m == "token")
            # A rescoped token never outlives the one it came from.
            expires_at, parent_audit = min(old.expires_at, now + self._lifetime), old.audit_ids[0]
        elif isinstance(credentials, ApiKeyCredentials):
            key = self._check_api_key(credentials, now)
            user_id, methods, api_key_id, parent_audit = key.user_id, ("api_key",), key.id, None
            # A token never outlives its key.
            expires_at = min(now + self._lifetime, key.expires_at or now + self._lifetime)
            scope = self._api_key_scope(key, scope)
        else:
            raise InvalidArgument("method", "one of password, token or api_key is required")
        scope_type, scope_id = self._resolve_scope(scope)
        identity = self._scoped(user_id, scope_type, scope_id, api_key_id)
        if isinstance(identity, _Refusal):
            raise Unauthenticated(AUTH_FAILED)
        audit_ids = (new_audit_id(),) + ((parent_audit,) if parent_audit else ())
        payload = TokenPayload(user_id=user_id, methods=methods, scope_type=scope_type,
                               scope_id=scope_id, issued_at=issued_at, expires_at=expires_at,
                               audit_ids=audit_ids, api_key_id=api_key_id)
        return self._codec.encode(payload), self._info(payload, identity, include_catalog)

    def _check_password(self, credentials: PasswordCredentials, source: str | None) -> User:
        selector = credentials.user
        check_id_or_name("user", selector.id, selector.name)
        check_acceptable(credentials.password)
        if not selector.id and selector.domain is None:
            raise InvalidArgument("user.domain", "a user named by name needs its domain")
        # Shed floods before any lookup; the throttles count an existing user by its
        # id however it was named, so naming one account three ways does not triple
        # a guesser's budget.
        with self._identity.login_slot():
            if selector.id:
                user = self._identity.find_user(user_id=selector.id)
                claimed = selector.id
            else:
                domain = self._find_domain(selector.domain, "user.domain")
                user = self._identity.find_user(name=selector.name, domain_id=domain.id) if domain else None
                claimed = f"{domain.id if domain else selector.domain.id or selector.domain.name}/{selector.name}"
            if not self._identity.check_password(user, credentials.password, source, claimed) \
                    or not user.enabled:
                raise Unauthenticated(AUTH_FAILED)
        return user

    def _check_api_key(self, credentials: ApiKeyCredentials, now: int) -> ApiKey:
        selector = credentials.user
        if selector is not None:
            check_id_or_name("api_key.user", selector.id, selector.name)
            if not selector.id:
                if selector.domain is None:
                    raise InvalidArgument("api_key.user.domain",
                                          "a user named by name needs its domain")
                check_id_or_name("api_key.user.domain", selector.domain.id, selector.domain.name)
        key = self.api_keys.find_for_auth(credentials.key)
        if key is None or (key.expires_at is not None and now >= key.expires_at):
            raise Unauthenticated(AUTH_FAILED)
        owner = User.select(User, Domain).join(Domain).where(User.id == key.user_id).first()
        if owner is None or not owner.enabled or not _names(selector, owner):
            raise Unauthenticated(AUTH_FAILED)
        return key

    def _api_key_scope(self, key: ApiKey, requested: ScopeRequest) -> ScopeRequest:
        """The key's project; a scope asked for must be that very project."""
        if requested.kind != "unscoped":
            if requested.kind != "project" or self._resolve_scope(requested)[1] != key.project_id:
                raise InvalidArgument("scope", "a token from an api key is scoped to the key's "
                                               "project; leave the scope out or name that project")
        return ScopeRequest("project", Selector(id=key.project_id))

    def _default_project_scope(self, user: User) -> ScopeRequest:
        """Keystone scopes a no-scope request to the user's default project, when the
        user may use it; otherwise the token stays unscoped."""
        scoped = self._scoped(user.id, "project", user.default_project_id)
        if isinstance(scoped, _Refusal):
            return ScopeRequest()
        return ScopeRequest("project", Selector(id=user.default_project_id))

    def _resolve_scope(self, scope: ScopeRequest) -> tuple[str, str | None]:
        if scope.kind == "unscoped":
            return "unscoped", None
        if scope.kind == "system":
            return "system", SYSTEM_TARGET
        target = scope.target or Selector()
        if scope.kind == "domain":
            check_id_or_name("scope.domain", target.id, target.name)
            if target.id:  # `_scoped` checks that it exists, cached: no query here
                return "domain", target.id
            domain = self._find_domain(target, "scope.domain")
            if domain is None:
                raise Unauthenticated(AUTH_FAILED)
            return "domain", domain.id
        if scope.kind == "project":
            check_id_or_name("scope.project", target.id, target.name)
            if target.id:  # `_scoped` checks that it exists, cached: no query here
                return "project", target.id
            if target.domain is None:
                raise InvalidArgument("scope.project.domain",
                                      "a project named by name needs its domain")
            domain = self._find_domain(target.domain, "scope.project.domain")
            project = self._resources.find_project(name=target.name, domain=domain)
            if project is None:
                raise Unauthenticated(AUTH_FAILED)
            return "project", project.id
        raise InvalidArgument("scope", f"unknown scope {scope.kind!r}")

    def _find_domain(self, selector: Selector, field: str) -> Domain | None:
        check_id_or_name(field, selector.id, selector.name)
        return self._resources.find_domain(selector.id, selector.name)

    # ---- validating ---------------------------------------------------------

    def validate(self, token: str, include_catalog: bool = True,
                 error: type[Unauthenticated] = Unauthenticated) -> TokenInfo:
        """The facts of a valid token; `error` is raised (with the reason) otherwise."""
        payload = self._decode(token, error)
        now = self._clock()
        if now >= payload.expires_at:
            raise error("token has expired")
        # Signed with our key, yet not as this service issues them (clocks disagreeing
        # by more than the tolerance, or a key holder minting its own): refused.
        if payload.issued_at > now * 1000 + self._skew_ms:
            raise error("token was issued in the future")
        if payload.expires_at * 1000 - payload.issued_at > self._lifetime_ms:
            raise error("token lives longer than the token lifetime")
        # One scope lookup serves both the revocation check (which needs the project's
        # domain) and the token's facts: this is the hot path of every call.
        identity = self._scoped(payload.user_id, payload.scope_type, payload.scope_id,
                                payload.api_key_id)
        refused = isinstance(identity, _Refusal)
        domain_id = identity.project.domain.id if not refused and identity.project else None
        if self._revocations.is_revoked(payload, domain_id):
            raise error("token has been revoked")
        if refused:
            raise error(f"token is no longer valid: {identity.message}")
        return self._info(payload, identity, include_catalog)

    def validate_for(self, caller: TokenInfo, subject_token: str, include_catalog: bool = True,
                     rule: str = "identity:validate_token") -> TokenInfo:
        """Validate a token (the subject) for an already-validated caller, if `rule`
        (`identity:validate_token`, `check_token`, `list_domain_projects`) lets it."""
        self.authorize_token_access(caller, subject_token, rule)
        return self.validate(subject_token, include_catalog, error=InvalidSubjectToken)

    def revoke(self, caller: TokenInfo, subject_token: str) -> None:
        """Revoke one token; within the limits on its owner's revocations (rate,
        folding: `revocation_limits`)."""
        self.authorize_token_access(caller, subject_token, "identity:revoke_token")
        subject = self.validate(subject_token, include_catalog=False, error=InvalidSubjectToken)
        owner = subject.identity.user.id
        self._revocation_limits.admit(owner)
        event = Revocation(audit_id=subject.audit_ids[0], issued_before=subject.issued_at,
                           expires_at=subject.expires_at, token_user_id=owner)
        with self._writer.transaction() as tx:
            tx.revoke(self._revocation_limits.event_for(event))

    def authorize_token_access(self, caller: TokenInfo, subject_token: str, rule: str) -> None:
        """PermissionDenied naming `rule` unless it lets the caller act on the subject
        token (the target: `token.user_id`, its owner). Checked before the subject is
        validated, so a refused caller learns nothing of it. Memoised: the hot path."""
        owner = self._decode(subject_token, InvalidSubjectToken).user_id
        self._policy.enforce_on_token(rule, caller, {"token.user_id": owner})

    def _decode(self, token: str, error: type[Unauthenticated]) -> TokenPayload:
        try:
            return self._codec.decode(token)
        except Unauthenticated as e:
            if error is Unauthenticated:
                raise
            raise error(e.message) from None

    def _info(self, payload: TokenPayload, identity: ScopedIdentity,
              include_catalog: bool) -> TokenInfo:
        catalog = None
        if include_catalog and payload.scope_type != "unscoped":
            catalog = self._catalog.for_project(identity.project.id if identity.project else None,
                                                identity.user.id)
        return TokenInfo(identity=identity, methods=payload.methods, issued_at=payload.issued_at,
                         expires_at=payload.expires_at, audit_ids=payload.audit_ids,
                         catalog=catalog)

    # ---- what a token's user may see ----------------------------------------

    def list_projects(self, caller: TokenInfo) -> tuple[ProjectRecord, ...]:
        user_id = caller.identity.user.id
        return self._cache.get(("projects", user_id), lambda deps: self._targets(user_id, "project", deps))

    def list_domains(self, caller: TokenInfo) -> tuple[DomainRecord, ...]:
        user_id = caller.identity.user.id
        return self._cache.get(("domains", user_id), lambda deps: self._targets(user_id, "domain", deps))

    def system_scopes(self, caller: TokenInfo) -> list[str]:
        """The system targets the caller's user may scope to: ["all"] or []."""
        scoped = self._scoped(caller.identity.user.id, "system", SYSTEM_TARGET)
        return [] if isinstance(scoped, _Refusal) else [SYSTEM_TARGET]

    def catalog_for(self, caller: TokenInfo):
        if caller.identity.scope_type == "unscoped":
            raise PermissionDenied("the catalog needs a scoped token; this one is unscoped")
        project = caller.identity.project
        return self._catalog.for_project(project.id if project else None, caller.identity.user.id)

    def _targets(self, user_id: str, target_type: str, deps: set[Dep]):
        deps.add(("user", user_id))
        group_ids = self._identity.group_ids(user_id)
        deps.update(("group", g) for g in group_ids)
        if target_type == "project":
            ids = self._assignments.project_ids_reached(user_id, group_ids, self._resources, deps)
        else:
            ids = self._assignments.target_ids(user_id, group_ids, target_type)
        if not ids:  # nothing to look up: spare the store a query that cannot match
            return ()
        if target_type == "domain":
            rows = Domain.select().where(Domain.id.in_(ids) & (Domain.enabled == True))  # noqa: E712
            deps.update(("domain", i) for i in ids)
            return tuple(sorted((domain_record(d) for d in rows), key=lambda d: d.name))
        deps.update(("project", i) for i in ids)
        records = []
        for p in self._resources.projects_with_domains(ids, enabled=True):
            deps.add(("domain", p.domain.id))  # enabling it would show the project
            if p.domain.enabled:
                records.append(project_record(p, p.domain))
        return tuple(sorted(records, key=lambda p: (p.domain.name, p.name)))

    # ---- the scope cache ------------------------------------------------------

    def _scoped(self, user_id: str, scope_type: str, scope_id: str | None,
                api_key_id: str | None = None):
        return self._cache.get(
            (user_id, scope_type, scope_id, api_key_id),
            lambda deps: self._compute_scoped(user_id, scope_type, scope_id, deps, api_key_id))

    def _roles_on(self, user_id: str, project_id: str) -> tuple:
        """The user's effective roles on a project it may scope to now, else ()."""
        scoped = self._scoped(user_id, "project", project_id)
        return () if isinstance(scoped, _Refusal) else scoped.roles

    def _compute_scoped(self, user_id: str, scope_type: str, scope_id: str | None,
                        deps: set[Dep],
                        api_key_id: str | None = None) -> "ScopedIdentity | _Refusal":
        if api_key_id is not None:
            deps.add(("api_key", api_key_id))
            key = ApiKey.get_or_none(ApiKey.id == api_key_id)
            if key is None:
                return _Refusal("its api key has been deleted")
            if (key.user_id, scope_type, scope_id) != (user_id, "project", key.project_id):
                return _Refusal("it does not match its api key")
            if key.expires_at is not None and self._clock() >= key.expires_at:
                return _Refusal("its api key has expired")
        deps.add(("user", user_id))
        user = User.select(User, Domain).join(Domain).where(User.id == user_id).first()
        if user is None:
            return _Refusal("the user no longer exists")
        deps.add(("domain", user.domain.id))
        if not user.enabled or not user.domain.enabled:
            return _Refusal("the user, or its domain, is disabled")
        user_record = UserRecord(id=user.id, name=user.name, domain=domain_record(user.domain))
        if scope_type == "unscoped":
            return ScopedIdentity(user_record, "unscoped", None, None, ())
        group_ids = self._identity.group_ids(user_id)
        deps.update(("group", g) for g in group_ids)
        project = domain = None
        if scope_type == "project":
            deps.add(("project", scope_id))
            row = Project.select(Project, Domain).join(Domain).where(Project.id == scope_id).first()
            if row is None:
                return _Refusal("the project no longer exists")
            deps.add(("domain", row.domain.id))
            if not row.enabled or not row.domain.enabled:
                return _Refusal("the project, or its domain, is disabled")
            project = project_record(row, row.domain)
            ancestors = [p.id for p in self._resources.ancestors(row)]
            deps.update(("project", p) for p in ancestors)
        elif scope_type == "domain":
            deps.add(("domain", scope_id))
            row = Domain.get_or_none(Domain.id == scope_id)
            if row is None or not row.enabled:
                return _Refusal("the domain does not exist or is disabled")
            domain = domain_record(row)
        roles = self._assignments.effective_roles(
            user_id, group_ids, scope_type, scope_id,
            ancestor_ids=ancestors if project else (), domain_id=project.domain.id if project else "")
        if not roles:
            return _Refusal(f"the user holds no role on the {scope_type}")
        if api_key_id is not None and role_ids_of(key):
            # A key limited to some roles also gives what those imply (member -> reader).
            allowed = self._assignments.graph.closure(role_ids_of(key))
            roles = tuple(r for r in roles if r.id in allowed)
            if not roles:
                return _Refusal("the user no longer holds any of its api key's roles")
        return ScopedIdentity(user_record, scope_type, project, domain, roles)


def _names(selector: Selector | None, user: User) -> bool:
    """Whether a user selector (absent: anyone) names this user."""
    if selector is None:
        return True
    if selector.id:
        return selector.id == user.id
    domain = selector.domain
    return selector.name == user.name and (
        domain.id == user.domain.id if domain.id else domain.name == user.domain.name)
