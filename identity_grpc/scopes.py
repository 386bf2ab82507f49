"""Scopes: which scope a request names, and what a user holds on it.

`scoped` answers, for a user (and API key) on a scope, the `ScopedIdentity` a token
there carries (the user, the project or domain, the effective roles), or a `Refusal`
saying why there is none. Every answer is kept in the `DependentCache` with what it
was read from (the user, its groups, the project and its ancestors, the domain, the
API key, each role it holds), so validating a token is a few dict lookups, and a change
drops exactly the answers it touched. The projects and domains a user may scope to
are kept the same way.
"""

from identity_api.changes import Kind

from .api_keys import role_ids_of
from .assignments import Assignments
from .cache import Dep, DependentCache
from .credentials import AUTH_FAILED, find_domain
from .errors import InvalidArgument, Unauthenticated
from .records import (DomainRecord, ProjectRecord, ScopeRequest, ScopedIdentity, Selector,
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
                 assignments: Assignments, cache: DependentCache, clock):
        self._store = store
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
                api_key_id: str | None = None):
        return self._cache.get(
            (user_id, scope_type, scope_id, api_key_id),
            lambda deps: self._compute_scoped(user_id, scope_type, scope_id, deps, api_key_id))

    def roles_on(self, user_id: str, project_id: str) -> tuple:
        """The user's effective roles on a project it may scope to now, else ()."""
        scoped = self.scoped(user_id, "project", project_id)
        return () if isinstance(scoped, Refusal) else scoped.roles

    def _compute_scoped(self, user_id: str, scope_type: str, scope_id: str | None,
                        deps: set[Dep],
                        api_key_id: str | None = None) -> "ScopedIdentity | Refusal":
        if api_key_id is not None:
            deps.add((Kind.API_KEY, api_key_id))
            key = self._store.credentials.find(api_key_id)
            if key is None:
                return Refusal("its api key has been deleted")
            if (key.user_id, scope_type, scope_id) != (user_id, "project", key.project_id):
                return Refusal("it does not match its api key")
            if key.expires_at is not None and self._clock() >= key.expires_at:
                return Refusal("its api key has expired")
        deps.add((Kind.USER, user_id))
        user = self._store.users.find_with_domain(user_id)
        if user is None:
            return Refusal("the user no longer exists")
        deps.add((Kind.DOMAIN, user.domain.id))
        if not user.enabled or not user.domain.enabled:
            return Refusal("the user, or its domain, is disabled")
        user_record = UserRecord(id=user.id, name=user.name, domain=domain_record(user.domain))
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
        if api_key_id is not None and role_ids_of(key):
            # A key limited to some roles also gives what those imply (member -> reader).
            allowed = self._assignments.graph.closure(role_ids_of(key))
            deps.update((Kind.ROLE, r) for r in allowed)
            roles = tuple(r for r in roles if r.id in allowed)
            if not roles:
                return Refusal("the user no longer holds any of its api key's roles")
        return ScopedIdentity(user_record, scope_type, project, domain, roles)
