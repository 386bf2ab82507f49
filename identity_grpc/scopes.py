"""Scopes: which scope a request names, and what a user holds on it.

`scoped` answers, for a user (and API key) on a scope, the `ScopedIdentity` a token
there carries (the user, the project or domain, the effective roles), or a `Refusal`
saying why there is none. Every answer is kept in the `DependentCache` with what it
was read from (the user, its groups, the project and its ancestors, the domain, the
API key, each role it holds), so validating a token is a few dict lookups, and a change
drops exactly the answers it touched. The projects and domains a user may scope to
are kept the same way.
"""

import json

from identity_api.changes import Kind

from .api_keys import expiry_seconds, role_ids_of
from .assignments import Assignments
from .cache import Dep, DependentCache
from .credentials import AUTH_FAILED, find_domain
from .errors import InvalidArgument, Unauthenticated
from .records import (ApiKeyRef, DomainRecord, ProjectRecord, ScopeRequest, ScopedIdentity, Selector,
                      TokenInfo, UserRecord)
from .resources import Resources, domain_record, project_record
from .store import Store
from .store.models import SYSTEM_TARGET
from .users_and_groups import UsersAndGroups
from .validation import check_id_or_name


class Refusal:
    """A cached negative answer: the same lookups would refuse again."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


class Scopes:
    """Owns scope resolution and effective roles per scope, with their dependency
    cache; promises that no answer outlives a change to what it was read from."""

    def __init__(self, store: Store, identity: UsersAndGroups, resources: Resources,
                 assignments: Assignments, cache: DependentCache, clock, trusts=None):
        self._store = store
        self._trusts = trusts  # trusts.Trusts: what a trust-scoped token stands on
        self._identity = identity
        self._resources = resources
        self._assignments = assignments
        self._cache = cache
        self._clock = clock

    def resolve(self, scope: ScopeRequest) -> tuple[str, str | None]:
        if scope.kind == "unscoped":
            return "unscoped", None
        if scope.kind == "system":
            return "system", SYSTEM_TARGET
        target = scope.target or Selector()
        if scope.kind == "domain":
            check_id_or_name("scope.domain", target.id, target.name)
            if target.id:  # `_scoped` checks that it exists, cached: no query here
                return "domain", target.id
            domain = find_domain(self._resources, target, "scope.domain")
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
            domain = find_domain(self._resources, target.domain, "scope.project.domain")
            project = self._resources.find_project(name=target.name, domain=domain)
            if project is None:
                raise Unauthenticated(AUTH_FAILED)
            return "project", project.id
        raise InvalidArgument("scope", f"unknown scope {scope.kind!r}")

    def api_key_scope(self, key, requested: ScopeRequest) -> ScopeRequest:
        """The key's project; a scope asked for must be that very project."""
        if requested.kind != "unscoped":
            if requested.kind != "project" or self.resolve(requested)[1] != key.project_id:
                raise InvalidArgument("scope", "a token from an api key is scoped to the key's "
                                               "project; leave the scope out or name that project")
        return ScopeRequest("project", Selector(id=key.project_id))

    def default_project_scope(self, user) -> ScopeRequest:
        """Keystone scopes a no-scope request to the user's default project, when the
        user may use it; otherwise the token stays unscoped."""
        scoped = self.scoped(user.id, "project", user.default_project_id)
        if isinstance(scoped, Refusal):
            return ScopeRequest()
        return ScopeRequest("project", Selector(id=user.default_project_id))

    # ---- what a token's user may see ----------------------------------------

    def list_projects(self, caller: TokenInfo) -> tuple[ProjectRecord, ...]:
        user_id = caller.identity.user.id
        return self._cache.get(("projects", user_id), lambda deps: self._targets(user_id, "project", deps))

    def list_domains(self, caller: TokenInfo) -> tuple[DomainRecord, ...]:
        user_id = caller.identity.user.id
        return self._cache.get(("domains", user_id), lambda deps: self._targets(user_id, "domain", deps))

    def system_scopes(self, caller: TokenInfo) -> list[str]:
        """The system targets the caller's user may scope to: ["all"] or []."""
        scoped = self.scoped(caller.identity.user.id, "system", SYSTEM_TARGET)
        return [] if isinstance(scoped, Refusal) else [SYSTEM_TARGET]

    def _targets(self, user_id: str, target_type: str, deps: set[Dep]):
        deps.add((Kind.USER, user_id))
        group_ids = self._identity.group_ids(user_id)
        deps.update((Kind.GROUP, g) for g in group_ids)
        if target_type == "project":
            ids = self._assignments.project_ids_reached(user_id, group_ids, self._resources, deps)
        else:
            ids = self._assignments.target_ids(user_id, group_ids, target_type)
        if not ids:  # nothing to look up: spare the store a query that cannot match
            return ()
        if target_type == "domain":
            rows = self._store.resources.enabled_domains(ids)
            deps.update((Kind.DOMAIN, i) for i in ids)
            return tuple(sorted((domain_record(d) for d in rows), key=lambda d: d.name))
        deps.update((Kind.PROJECT, i) for i in ids)
        records = []
        for p in self._resources.projects_with_domains(ids, enabled=True):
            deps.add((Kind.DOMAIN, p.domain.id))  # enabling it would show the project
            if p.domain.enabled:
                records.append(project_record(p, p.domain))
        return tuple(sorted(records, key=lambda p: (p.domain.name, p.name)))

    # ---- the scope cache ------------------------------------------------------

    def scoped(self, user_id: str, scope_type: str, scope_id: str | None,
                api_key_id: str | None = None, trust_id: str | None = None,
               access_token_id: str | None = None):
        """`trust_id`: a trust-scoped token's trust; `access_token_id`: an OAuth1
        access token, whose delegated roles are all the answer gives."""
        if trust_id is not None:
            return self._cache.get(
                (user_id, scope_type, scope_id, api_key_id, trust_id),
                lambda deps: self._trust_scoped(user_id, scope_type, scope_id, trust_id, deps))
        key = (user_id, scope_type, scope_id, api_key_id)
        if access_token_id is not None:  # a delegation's answer is an entry of its own
            key += (None, access_token_id)
        return self._cache.get(
            key,
            lambda deps: self._compute_scoped(user_id, scope_type, scope_id, deps, api_key_id,
                                              access_token_id))

    def _trust_scoped(self, user_id: str, scope_type: str, scope_id: str | None,
                      trust_id: str, deps: set[Dep]) -> "ScopedIdentity | Refusal":
        """A trust-scoped token's identity: its user (the trustee, or the trustor it
        impersonates) with the trust's roles, as far as the first trustor still holds
        them on the project; refused once any user of the trust chain is disabled."""
        delegation = self._trusts.delegation(trust_id, user_id, scope_type, scope_id, deps)
        if isinstance(delegation, str):
            return Refusal(delegation)
        for chain_user in delegation.user_ids:
            if isinstance(self._compute_scoped(chain_user, "unscoped", None, deps), Refusal):
                return Refusal("a user of its trust no longer exists or is disabled")
        user = self._compute_scoped(user_id, "unscoped", None, deps)
        trustor = self._compute_scoped(delegation.trustor_id, scope_type, scope_id, deps)
        if isinstance(trustor, Refusal):
            return Refusal(f"its trustor's scope is gone: {trustor.message}")
        held = {r.id for r in trustor.roles}
        if not set(delegation.role_ids) <= held:
            return Refusal("the trustor no longer holds every role its trust delegates")
        allowed = self._assignments.graph.closure(delegation.role_ids)
        deps.update((Kind.ROLE, r) for r in allowed)
        roles = tuple(r for r in trustor.roles if r.id in allowed)
        return ScopedIdentity(user.user, scope_type, trustor.project, None, roles,
                              trust=delegation.trust)

    def roles_on(self, user_id: str, project_id: str) -> tuple:
        """The user's effective roles on a project it may scope to now, else ()."""
        scoped = self.scoped(user_id, "project", project_id)
        return () if isinstance(scoped, Refusal) else scoped.roles

    def _compute_scoped(self, user_id: str, scope_type: str, scope_id: str | None,
                        deps: set[Dep], api_key_id: str | None = None,
                        access_token_id: str | None = None) -> "ScopedIdentity | Refusal":
        delegated, consumer_id = (), None  # role ids a key or an access token limits to
        if access_token_id is not None:
            access = self._oauth1_access(access_token_id, user_id, scope_type, scope_id, deps)
            if isinstance(access, Refusal):
                return access
            delegated, consumer_id = json.loads(access.role_ids or "[]"), access.consumer_id
        key_ref = None
        if api_key_id is not None:
            deps.add((Kind.API_KEY, api_key_id))
            key = self._store.credentials.find(api_key_id)
            if key is None:
                return Refusal("its api key has been deleted")
            if (key.user_id, scope_type, scope_id) != (user_id, "project", key.project_id):
                return Refusal("it does not match its api key")
            expiry = expiry_seconds(key)
            if expiry is not None and self._clock() >= expiry:
                return Refusal("its api key has expired")
            delegated = role_ids_of(key)
            key_ref = ApiKeyRef(key.id, key.name, key.unrestricted, tuple(
                (r.id, r.service, r.path, r.method)
                for r in self._store.credentials.rules_of_key(key.id)))
        deps.add((Kind.USER, user_id))
        user = self._identity.find_with_domain(user_id)
        if user is None:
            return Refusal("the user no longer exists")
        deps.add((Kind.DOMAIN, user.domain.id))
        if self._identity.is_directory_user(user):  # its groups: as of the membership TTL
            deps.add((Kind.DIRECTORY, user.domain.id))
        if not user.enabled or not user.domain.enabled:
            return Refusal("the user, or its domain, is disabled")
        user_record = UserRecord(id=user.id, name=user.name, domain=domain_record(user.domain),
                                 password_expires_at=self._identity.password_expiries(
                                     [user.id]).get(user.id))
        if scope_type == "unscoped":
            return ScopedIdentity(user_record, "unscoped", None, None, ())
        group_ids = self._identity.group_ids(user_id)
        deps.update((Kind.GROUP, g) for g in group_ids)
        project = domain = None
        if scope_type == "project":
            deps.add((Kind.PROJECT, scope_id))
            found = self._resources.projects_with_domains([scope_id])
            row = found[0] if found else None
            if row is None:
                return Refusal("the project no longer exists")
            deps.add((Kind.DOMAIN, row.domain.id))
            if not row.enabled or not row.domain.enabled:
                return Refusal("the project, or its domain, is disabled")
            project = project_record(row, row.domain)
            ancestors = [p.id for p in self._resources.ancestors(row)]
            deps.update((Kind.PROJECT, p) for p in ancestors)
        elif scope_type == "domain":
            deps.add((Kind.DOMAIN, scope_id))
            row = self._resources.find_domain(scope_id)
            if row is None or not row.enabled:
                return Refusal("the domain does not exist or is disabled")
            domain = domain_record(row)
        roles = self._assignments.effective_roles(
            user_id, group_ids, scope_type, scope_id,
            ancestor_ids=ancestors if project else (), domain_id=project.domain.id if project else "",
            deps=deps)
        if not roles:
            return Refusal(f"the user holds no role on the {scope_type}")
        if key_ref is not None and not set(delegated) <= {r.id for r in roles}:
            # Keystone's application credentials: every role it holds, or nothing.
            return Refusal("the user no longer holds every role of its api key")
        if delegated or access_token_id is not None:
            # A key limited to some roles, or an access token, also gives what those
            # imply (member -> reader), of what the user still holds.
            allowed = self._assignments.graph.closure(delegated)
            deps.update((Kind.ROLE, r) for r in allowed)
            roles = tuple(r for r in roles if r.id in allowed)
            if not roles:
                source = "api key" if access_token_id is None else "access token"
                return Refusal(f"the user no longer holds any of its {source}'s roles")
        return ScopedIdentity(user_record, scope_type, project, domain, roles,
                              oauth1_consumer_id=consumer_id, api_key=key_ref)

    def _oauth1_access(self, access_token_id: str, user_id: str, scope_type: str,
                       scope_id: str | None, deps: set[Dep]):
        """The access token a token was issued with, if it still stands for it."""
        deps.add((Kind.OAUTH1_TOKEN, access_token_id))
        access = self._store.oauth1.find_access_token(access_token_id)
        if access is None:
            return Refusal("its access token has been deleted")
        deps.add((Kind.OAUTH1_CONSUMER, access.consumer_id))
        if (access.authorizing_user_id, scope_type, scope_id) != (user_id, "project",
                                                                   access.project_id):
            return Refusal("it does not match its access token")
        if access.expires_at is not None and self._clock() >= access.expires_at:
            return Refusal("its access token has expired")
        return access
