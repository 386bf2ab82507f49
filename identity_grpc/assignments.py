"""Assignments: roles, the roles they imply, grants, and effective roles.

A user's effective roles on a project are the roles granted to the user or to any of
its groups on the project itself, plus the *inherited* grants on any of the
project's ancestors or on its domain, closed over role implication (admin -> manager
-> member -> reader). Domain-specific roles never appear in tokens themselves, only
the global roles they imply. Roles and implications are few and change rarely, so
they are held in memory and reloaded when any role changes.
"""

import threading

from identity_api.changes import Kind

from .assignment_pages import Assignment, AssignmentQuery, list_page
from .errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from .records import RoleRecord
from .store import Store
from .store.assignments import AssignmentStore
from .change_feed import Writer
from .validation import check_id, check_name, check_text, check_named_changes

ACTOR_TYPES = ("user", "group")
# Keystone's `[assignment] prohibited_implied_role` default: implying admin would hand
# it to every holder of the prior role.
PROHIBITED_IMPLIED_ROLES = ("admin",)
TARGET_TYPES = ("project", "domain", "system")


class RoleGraph:
    """Every role and what it implies, loaded at once (a deployment has tens of
    roles, not millions)."""

    def __init__(self, roles: dict[str, object], implies: dict[str, set[str]]):
        self.roles = roles
        self.implies = implies

    @classmethod
    def load(cls, store: AssignmentStore) -> "RoleGraph":
        roles = {r.id: r for r in store.all_roles()}
        implies: dict[str, set[str]] = {}
        for prior, implied in store.implications():
            implies.setdefault(prior, set()).add(implied)
        return cls(roles, implies)

    def role_ids_named(self, selectors) -> list[str]:
        """The ids of global roles given as ("id", value) or ("name", value) pairs, in
        order, each once: what a delegation (an application credential, a trust) names.
        An empty or malformed value is InvalidArgument, an unknown role NotFound."""
        ids: list[str] = []
        for kind, value in selectors:
            if not value:
                raise InvalidArgument("roles", "must not contain an empty id or name")
            if kind == "id":
                check_id("roles", value)
                found = self.roles.get(value)
            else:
                check_name("roles", value)
                found = next((r for r in self.roles.values()
                              if r.name == value and not r.domain_id), None)
            if found is None:
                raise NotFound(f"Could not find role: {value}.")
            if found.id not in ids:
                ids.append(found.id)
        return ids

    def closure(self, role_ids) -> dict[str, str]:
        """Each role reachable from `role_ids`, mapped to the role that implied it
        ("" for the given ones). The same on every server, whatever the order sets
        iterate in: pages of an effective list depend on it."""
        reached: dict[str, str] = {}
        stack = [(r, "") for r in role_ids]
        while stack:
            role_id, by = stack.pop()
            if role_id in reached:
                continue
            reached[role_id] = by
            stack.extend((i, role_id) for i in sorted(self.implies.get(role_id, ()), reverse=True))
        return reached

    def expand(self, role_ids, reached: dict | None = None) -> tuple[RoleRecord, ...]:
        """The global roles a token carries for these grants, sorted by name
        (`reached`: their `closure`, when the caller has it already)."""
        reached = self.closure(role_ids) if reached is None else reached
        rows = (self.roles[r] for r in reached if r in self.roles)
        return tuple(sorted((RoleRecord(id=r.id, name=r.name) for r in rows if not r.domain_id),
                            key=lambda r: r.name))


class Assignments:
    """Owns roles, implied roles and grants; promises an effective role set that any
    grant or implication change shows at once."""

    def __init__(self, store: Store, writer: Writer):
        self._store = store
        self._writer = writer
        self._graph: RoleGraph | None = None
        self._graph_lock = threading.Lock()

    # ---- roles -------------------------------------------------------------

    @property
    def graph(self) -> RoleGraph:
        graph = self._graph
        if graph is None:
            with self._graph_lock:
                graph = self._graph = self._graph or RoleGraph.load(self._store.assignments)
        return graph

    def forget_roles(self) -> None:
        """Called on any role change: the graph is read again on next use."""
        self._graph = None

    def find_role(self, name: str, domain_id: str = ""):
        return self._store.assignments.find_role(name, domain_id)

    def get_role(self, role_id: str):
        return self._store.assignments.get_role(role_id)

    def list_roles(self, name: str = "", domain_id: str = "", page_size: int = 0,
                   page_token: str = "") -> tuple[list, str]:
        return self._store.assignments.list_roles(name, domain_id, page_size, page_token)

    def create_role(self, name: str, description: str = "", domain_id: str = ""):
        check_name("role.name", name)
        check_text("role.description", description)
        if domain_id and not self._store.resources.domain_exists(domain_id):
            raise NotFound(f"domain {domain_id} not found")
        where = f" in domain {domain_id}" if domain_id else ""
        with self._writer.unique(f"a role named {name!r} already exists{where}") as tx:
            role = self._store.assignments.create_role(name, description, domain_id)
            tx.changed(Kind.ROLE, role.id)
        return role

    def update_role(self, role_id: str, **changes):
        role = self.get_role(role_id)
        if not changes:
            return role  # nothing to write: an UPDATE with no column is no statement
        check_named_changes("role", changes)
        with self._writer.unique(f"a role named {changes.get('name')!r} already exists") as tx:
            role = self._store.assignments.update_role(role_id, lambda row: changes)
            tx.changed(Kind.ROLE, role.id)
        return role

    def delete_role(self, role_id: str) -> None:
        """Deletes the role with its assignments and implications. Everyone who held
        it is announced too: what was computed from their grants (the projects they
        may scope to) changes with them, not only what carried the role."""
        self.get_role(role_id)
        with self._writer.transaction() as tx:
            for actor_type, actor_id in self._store.assignments.actors_holding(role_id):
                tx.changed(Kind(actor_type), actor_id)
            self._store.assignments.delete_role(role_id)
            tx.changed(Kind.ROLE, role_id)

    def add_implied_role(self, prior_role_id: str, implied_role_id: str) -> None:
        prior, implied = self.get_role(prior_role_id), self.get_role(implied_role_id)
        if implied.name in PROHIBITED_IMPLIED_ROLES:
            raise PermissionDenied(f"role {implied.name!r} cannot be implied")
        if implied.domain_id and not prior.domain_id:
            raise PermissionDenied("a global role cannot imply a domain-specific role")
        if prior_role_id in self.graph.closure([implied_role_id]):
            raise InvalidArgument("implied_role_id",
                                  f"{implied.name} already implies {prior.name}: that would be a cycle")
        with self._writer.transaction() as tx:
            self._store.assignments.add_implication(prior_role_id, implied_role_id)
            tx.changed(Kind.ROLE, prior_role_id)

    def remove_implied_role(self, prior_role_id: str, implied_role_id: str) -> None:
        with self._writer.transaction() as tx:
            self._store.assignments.remove_implication(prior_role_id, implied_role_id)
            tx.changed(Kind.ROLE, prior_role_id)

    def names_for(self, assignments: list["Assignment"]) -> dict:
        return names_for(self._store, assignments)

    def implied_roles(self, prior_role_id: str = "") -> list[tuple[str, str]]:
        return self._store.assignments.implications(prior_role_id)

    # ---- grants ------------------------------------------------------------

    def grant(self, role_id: str, *, target_type: str, target_id: str, user_id: str = "",
              group_id: str = "", inherited: bool = False) -> None:
        actor_type, actor_id = _actor(user_id, group_id)
        self._check_grant(role_id, actor_type, actor_id, target_type, target_id, inherited)
        with self._writer.transaction() as tx:
            self._store.assignments.grant(role_id, actor_type, actor_id, target_type, target_id,
                                          inherited)
            tx.changed(actor_type, actor_id)

    def revoke(self, role_id: str, *, target_type: str, target_id: str, user_id: str = "",
               group_id: str = "", inherited: bool = False) -> None:
        actor_type, actor_id = _actor(user_id, group_id)
        with self._writer.transaction() as tx:
            self._store.assignments.revoke(role_id, actor_type, actor_id, target_type, target_id,
                                           inherited)
            tx.changed(actor_type, actor_id)

    def has_grant(self, role_id: str, *, target_type: str, target_id: str, user_id: str = "",
                  group_id: str = "", inherited: bool = False) -> bool:
        actor_type, actor_id = _actor(user_id, group_id)
        return self._store.assignments.has_grant(role_id, actor_type, actor_id, target_type,
                                                 target_id, inherited)

    def _from_directory(self, actor_type: str, actor_id: str) -> bool:
        """An LDAP user or group (docs/ldap.md): given out by the id mapping, which
        only ever names entries read from a directory."""
        found = self._store.id_mapping.find(actor_id) if len(actor_id) == 64 else None
        return found is not None and found.entity_type == actor_type

    def _check_grant(self, role_id, actor_type, actor_id, target_type, target_id, inherited):
        role = self.get_role(role_id)
        actors = self._store.users if actor_type == "user" else self._store.groups
        if not actors.exists(actor_id) and not self._from_directory(actor_type, actor_id):
            raise NotFound(f"{actor_type} {actor_id} not found")
        if target_type == "system":
            if inherited:
                raise InvalidArgument("inherited", "system grants cannot be inherited")
            target_domain = None
        else:
            resources = self._store.resources
            target = (resources.find_project(target_id) if target_type == "project"
                      else resources.find_domain(target_id))
            if target is None:
                raise NotFound(f"{target_type} {target_id} not found")
            target_domain = target.domain_id if target_type == "project" else target.id
        if role.domain_id and role.domain_id != target_domain:
            raise FailedPrecondition(
                "a domain-specific role can be granted only on its domain or its projects")

    # ---- effective roles ---------------------------------------------------

    def effective_roles(self, user_id: str, group_ids: list[str], target_type: str,
                        target_id: str, ancestor_ids: list[str] = (),
                        domain_id: str = "", deps: set | None = None) -> tuple[RoleRecord, ...]:
        """For a project pass its `ancestor_ids` and `domain_id`, so that inherited
        grants on them count. `deps` (a scope cache's) gets every role the answer was
        made of: those granted and all they imply, domain-specific ones included."""
        targets = [(target_type, target_id, False)]
        if target_type == "project":
            if ancestor_ids:
                targets.append(("project", list(ancestor_ids), True))
            if domain_id:
                targets.append(("domain", domain_id, True))
        held = self._store.assignments.role_ids_held(_actors(user_id, group_ids), targets)
        graph = self.graph
        reached = graph.closure(held)
        if deps is not None:
            deps.update((Kind.ROLE, r) for r in reached)
        return graph.expand(held, reached)

    def target_ids(self, user_id: str, group_ids: list[str], target_type: str,
                   inherited: bool = False) -> set[str]:
        """Ids of the targets of one type on which the user holds any role."""
        return self._store.assignments.target_ids(_actors(user_id, group_ids), target_type,
                                                  inherited)

    def project_ids_reached(self, user_id: str, group_ids: list[str], resources,
                            deps: set | None = None) -> set[str]:
        """Ids of the projects on which the user, or one of `group_ids` (its groups),
        holds a role: granted on the project, or inherited from its domain or from a
        project above it. A bounded number of queries, however many grants: one per
        kind of grant, one for the projects of all the domains, one per level below
        all the projects. `deps` (a scope cache's) gets what would change the answer
        besides the grants themselves: the domains' and the projects' sets of projects."""
        deps = set() if deps is None else deps
        ids = self.target_ids(user_id, group_ids, "project")
        domain_ids = self.target_ids(user_id, group_ids, "domain", inherited=True)
        if domain_ids:
            deps.update((Kind.DOMAIN_PROJECTS, d) for d in domain_ids)
            ids |= resources.project_ids_in_domains(domain_ids)
        roots = self.target_ids(user_id, group_ids, "project", inherited=True)
        if roots:
            below = resources.descendant_ids(roots)
            deps.update((Kind.PROJECT_CHILDREN, p) for p in roots | below)
            ids |= below
        return ids

    def grants_held(self, user_id: str = "", group_ids=()) -> list[tuple[str, str, str]]:
        """(target type, target id, role id) of every grant to the user or the groups,
        inherited or not: all the power they hold, wherever it is."""
        actors = ([("user", user_id)] if user_id else []) + [("group", g) for g in group_ids]
        if not actors:
            return []
        return self._store.assignments.grants_held(actors)

    # ---- querying assignments ------------------------------------------------

    def list_assignments(self, query: AssignmentQuery, resources, page_size: int = 0,
                         page_token: str = "") -> tuple[list[Assignment], str]:
        """One page of the assignments matching every filter of `query`, and the
        next page's token. An effective list shows what tokens would carry: groups
        expanded into their members, inherited grants into the projects they reach,
        implied roles added, each page computed on its own (`assignment_pages`).
        `resources` (the Resources manager) finds the projects above a project."""
        return list_page(self._store, query, self.graph, resources, page_size, page_token)


def _actor(user_id: str, group_id: str) -> tuple[str, str]:
    if bool(user_id) == bool(group_id):
        raise InvalidArgument("actor", "exactly one of user_id and group_id is required")
    return ("user", user_id) if user_id else ("group", group_id)



def _actors(user_id: str, group_ids: list[str]) -> list[tuple[str, str]]:
    return [("user", user_id)] + [("group", g) for g in group_ids]


def names_for(store: Store, assignments: list[Assignment]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(kind, id) -> (name, domain id, domain name) for everything the assignments
    mention, in one query per kind."""
    wanted: dict[str, set[str]] = {"role": set(), "user": set(), "group": set(),
                                   "project": set(), "domain": set()}
    for a in assignments:
        wanted["role"].add(a.role_id)
        wanted[a.actor_type].add(a.actor_id)
        if a.target_type != "system":
            wanted[a.target_type].add(a.target_id)
    rows = {kind: by_ids(wanted[kind]) for kind, by_ids in (
        ("role", store.assignments.roles_by_ids), ("user", store.users.by_ids),
        ("group", store.groups.by_ids), ("project", store.resources.projects_by_ids))}
    domain_ids = set(wanted["domain"])
    for kind in rows:
        domain_ids |= {r.domain_id for r in rows[kind].values() if getattr(r, "domain_id", None)}
    rows["domain"] = store.resources.domains_by_ids(domain_ids)
    domains = rows["domain"]
    result = {}
    for kind, by_id in rows.items():
        for ident, row in by_id.items():
            domain_id = row.id if kind == "domain" else (row.domain_id or "")
            domain = domains.get(domain_id)
            result[(kind, ident)] = (row.name, domain_id, domain.name if domain else "")
    return result
