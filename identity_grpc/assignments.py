"""Assignments: roles, the roles they imply, grants, and effective roles.

A user's effective roles on a project are the roles granted to the user or to any of
its groups on the project itself, plus the *inherited* grants on any of the
project's ancestors or on its domain, closed over role implication (admin -> manager
-> member -> reader). Domain-specific roles never appear in tokens themselves, only
the global roles they imply. Roles and implications are few and change rarely, so
they are held in memory and reloaded when any role changes.
"""

import threading

from .assignment_pages import Assignment, AssignmentQuery, list_page
from .assignment_pages import any_actor as _any_actor
from .assignment_pages import on_target as _on_target
from .errors import FailedPrecondition, InvalidArgument, NotFound
from .records import RoleRecord
from .store.models import Domain, Group, ImpliedRole, Project, Role, RoleAssignment, User
from .store.paging import page
from .store import Store
from .change_feed import Writer
from .validation import check_name, check_text

ACTOR_TYPES = ("user", "group")
TARGET_TYPES = ("project", "domain", "system")


class RoleGraph:
    """Every role and what it implies, loaded at once (a deployment has tens of
    roles, not millions)."""

    def __init__(self, roles: dict[str, Role], implies: dict[str, set[str]]):
        self.roles = roles
        self.implies = implies

    @classmethod
    def load(cls) -> "RoleGraph":
        roles = {r.id: r for r in Role.select()}
        implies: dict[str, set[str]] = {}
        for edge in ImpliedRole.select():
            implies.setdefault(edge.prior_role_id, set()).add(edge.implied_role_id)
        return cls(roles, implies)

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

    def expand(self, role_ids) -> tuple[RoleRecord, ...]:
        """The global roles a token carries for these grants, sorted by name."""
        rows = (self.roles[r] for r in self.closure(role_ids) if r in self.roles)
        return tuple(sorted((RoleRecord(id=r.id, name=r.name) for r in rows if not r.domain_id),
                            key=lambda r: r.name))


class Assignments:
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
                graph = self._graph = self._graph or RoleGraph.load()
        return graph

    def forget_roles(self) -> None:
        """Called on any role change: the graph is read again on next use."""
        self._graph = None

    def find_role(self, name: str, domain_id: str = "") -> Role | None:
        return Role.get_or_none((Role.domain_key == domain_id) & (Role.name == name))

    def get_role(self, role_id: str) -> Role:
        role = Role.get_or_none(Role.id == role_id)
        if role is None:
            raise NotFound(f"role {role_id} not found")
        return role

    def list_roles(self, name: str = "", domain_id: str = "", page_size: int = 0,
                   page_token: str = "") -> tuple[list[Role], str]:
        query = Role.select().where(Role.domain_key == domain_id)
        if name:
            query = query.where(Role.name == name)
        return page(query, (Role.name, Role.id), page_size, page_token)

    def create_role(self, name: str, description: str = "", domain_id: str = "") -> Role:
        check_name("role.name", name)
        check_text("role.description", description)
        if domain_id and not Domain.select().where(Domain.id == domain_id).exists():
            raise NotFound(f"domain {domain_id} not found")
        where = f" in domain {domain_id}" if domain_id else ""
        return self._writer.create(Role, "role", f"a role named {name!r} already exists{where}",
                                   name=name, description=description,
                                   domain=domain_id or None, domain_key=domain_id)

    def update_role(self, role_id: str, **changes) -> Role:
        role = self.get_role(role_id)
        if not changes:
            return role  # nothing to write: an UPDATE with no column is no statement
        if "name" in changes:
            check_name("role.name", changes["name"])
        check_text("role.description", changes.get("description") or "")
        with self._writer.unique(f"a role named {changes.get('name')!r} already exists") as tx:
            Role.update(**changes).where(Role.id == role.id).execute()
            tx.changed("role", role.id)
        return self.get_role(role_id)

    def delete_role(self, role_id: str) -> None:
        """Deletes the role with its assignments and implications."""
        self.get_role(role_id)
        with self._writer.transaction() as tx:
            RoleAssignment.delete().where(RoleAssignment.role == role_id).execute()
            ImpliedRole.delete().where((ImpliedRole.prior_role == role_id)
                                       | (ImpliedRole.implied_role == role_id)).execute()
            Role.delete().where(Role.id == role_id).execute()
            tx.changed("role", role_id)

    def add_implied_role(self, prior_role_id: str, implied_role_id: str) -> None:
        prior, implied = self.get_role(prior_role_id), self.get_role(implied_role_id)
        if prior_role_id in self.graph.closure([implied_role_id]):
            raise InvalidArgument("implied_role_id",
                                  f"{implied.name} already implies {prior.name}: that would be a cycle")
        if implied.domain_id:
            raise InvalidArgument("implied_role_id", "a domain-specific role cannot be implied")
        with self._writer.transaction() as tx:
            ImpliedRole.insert(prior_role=prior_role_id,
                               implied_role=implied_role_id).on_conflict_ignore().execute()
            tx.changed("role", prior_role_id)

    def remove_implied_role(self, prior_role_id: str, implied_role_id: str) -> None:
        with self._writer.transaction() as tx:
            removed = ImpliedRole.delete().where((ImpliedRole.prior_role == prior_role_id)
                                                 & (ImpliedRole.implied_role == implied_role_id)).execute()
            if not removed:
                raise NotFound("no such role implication")
            tx.changed("role", prior_role_id)

    @staticmethod
    def names_for(assignments: list["Assignment"]) -> dict:
        return names_for(assignments)

    def implied_roles(self, prior_role_id: str = "") -> list[tuple[str, str]]:
        query = ImpliedRole.select()
        if prior_role_id:
            query = query.where(ImpliedRole.prior_role == prior_role_id)
        return [(e.prior_role_id, e.implied_role_id) for e in query]

    # ---- grants ------------------------------------------------------------

    def grant(self, role_id: str, *, target_type: str, target_id: str, user_id: str = "",
              group_id: str = "", inherited: bool = False) -> None:
        actor_type, actor_id = _actor(user_id, group_id)
        self._check_grant(role_id, actor_type, actor_id, target_type, target_id, inherited)
        with self._writer.transaction() as tx:
            RoleAssignment.insert(actor_type=actor_type, actor_id=actor_id,
                                  target_type=target_type, target_id=target_id, role=role_id,
                                  inherited=inherited).on_conflict_ignore().execute()
            tx.changed(actor_type, actor_id)

    def revoke(self, role_id: str, *, target_type: str, target_id: str, user_id: str = "",
               group_id: str = "", inherited: bool = False) -> None:
        actor_type, actor_id = _actor(user_id, group_id)
        with self._writer.transaction() as tx:
            removed = RoleAssignment.delete().where(
                _grant_is(role_id, actor_type, actor_id, target_type, target_id, inherited)).execute()
            if not removed:
                raise NotFound("no such role assignment")
            tx.changed(actor_type, actor_id)

    def has_grant(self, role_id: str, *, target_type: str, target_id: str, user_id: str = "",
                  group_id: str = "", inherited: bool = False) -> bool:
        actor_type, actor_id = _actor(user_id, group_id)
        return RoleAssignment.select().where(
            _grant_is(role_id, actor_type, actor_id, target_type, target_id, inherited)).exists()

    def _check_grant(self, role_id, actor_type, actor_id, target_type, target_id, inherited):
        role = self.get_role(role_id)
        actor_model = User if actor_type == "user" else Group
        actor = actor_model.get_or_none(actor_model.id == actor_id)
        if actor is None:
            raise NotFound(f"{actor_type} {actor_id} not found")
        if target_type == "system":
            if inherited:
                raise InvalidArgument("inherited", "system grants cannot be inherited")
            target_domain = None
        else:
            model = Project if target_type == "project" else Domain
            target = model.get_or_none(model.id == target_id)
            if target is None:
                raise NotFound(f"{target_type} {target_id} not found")
            target_domain = target.domain_id if target_type == "project" else target.id
        if role.domain_id and role.domain_id != target_domain:
            raise FailedPrecondition(
                "a domain-specific role can be granted only on its domain or its projects")

    # ---- effective roles ---------------------------------------------------

    def effective_roles(self, user_id: str, group_ids: list[str], target_type: str,
                        target_id: str, ancestor_ids: list[str] = (),
                        domain_id: str = "") -> tuple[RoleRecord, ...]:
        """For a project pass its `ancestor_ids` and `domain_id`, so that inherited
        grants on them count."""
        where = _on_target(target_type, target_id, inherited=False)
        if target_type == "project":
            if ancestor_ids:
                where |= _on_target("project", list(ancestor_ids), inherited=True)
            if domain_id:
                where |= _on_target("domain", domain_id, inherited=True)
        rows = RoleAssignment.select(RoleAssignment.role).where(where & _actor_is(user_id, group_ids))
        return self.graph.expand({a.role_id for a in rows})

    def target_ids(self, user_id: str, group_ids: list[str], target_type: str,
                   inherited: bool = False) -> set[str]:
        """Ids of the targets of one type on which the user holds any role."""
        rows = (RoleAssignment.select(RoleAssignment.target_id).distinct()
                .where((RoleAssignment.target_type == target_type)
                       & (RoleAssignment.inherited == inherited) & _actor_is(user_id, group_ids)))
        return {r.target_id for r in rows}

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
            deps.update(("domain_projects", d) for d in domain_ids)
            ids |= resources.project_ids_in_domains(domain_ids)
        roots = self.target_ids(user_id, group_ids, "project", inherited=True)
        if roots:
            below = resources.descendant_ids(roots)
            deps.update(("project_children", p) for p in roots | below)
            ids |= below
        return ids

    def grants_held(self, user_id: str = "", group_ids=()) -> list[tuple[str, str, str]]:
        """(target type, target id, role id) of every grant to the user or the groups,
        inherited or not: all the power they hold, wherever it is."""
        actors = ([("user", user_id)] if user_id else []) + [("group", g) for g in group_ids]
        if not actors:
            return []
        rows = (RoleAssignment.select(RoleAssignment.target_type, RoleAssignment.target_id,
                                      RoleAssignment.role).where(_any_actor(actors)))
        return [(r.target_type, r.target_id, r.role_id) for r in rows]

    # ---- querying assignments ------------------------------------------------

    def list_assignments(self, query: AssignmentQuery, resources, page_size: int = 0,
                         page_token: str = "") -> tuple[list[Assignment], str]:
        """One page of the assignments matching every filter of `query`, and the
        next page's token. An effective list shows what tokens would carry: groups
        expanded into their members, inherited grants into the projects they reach,
        implied roles added, each page computed on its own (`assignment_pages`).
        `resources` (the Resources manager) finds the projects above a project."""
        return list_page(query, self.graph, resources, page_size, page_token)


def _actor(user_id: str, group_id: str) -> tuple[str, str]:
    if bool(user_id) == bool(group_id):
        raise InvalidArgument("actor", "exactly one of user_id and group_id is required")
    return ("user", user_id) if user_id else ("group", group_id)


def _grant_is(role_id, actor_type, actor_id, target_type, target_id, inherited):
    return ((RoleAssignment.actor_type == actor_type) & (RoleAssignment.actor_id == actor_id)
            & (RoleAssignment.role == role_id) & (RoleAssignment.inherited == inherited)
            & (RoleAssignment.target_type == target_type) & (RoleAssignment.target_id == target_id))


def _actor_is(user_id: str, group_ids: list[str]):
    return _any_actor([("user", user_id)] + [("group", g) for g in group_ids])


def _names(model, ids: set[str]) -> dict[str, object]:
    return {row.id: row for row in model.select().where(model.id.in_(list(ids)))} if ids else {}


def names_for(assignments: list[Assignment]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(kind, id) -> (name, domain id, domain name) for everything the assignments
    mention, in one query per kind."""
    wanted: dict[str, set[str]] = {"role": set(), "user": set(), "group": set(),
                                   "project": set(), "domain": set()}
    for a in assignments:
        wanted["role"].add(a.role_id)
        wanted[a.actor_type].add(a.actor_id)
        if a.target_type != "system":
            wanted[a.target_type].add(a.target_id)
    rows = {kind: _names(model, wanted[kind]) for kind, model in (
        ("role", Role), ("user", User), ("group", Group), ("project", Project))}
    domain_ids = set(wanted["domain"])
    for kind in rows:
        domain_ids |= {r.domain_id for r in rows[kind].values() if getattr(r, "domain_id", None)}
    rows["domain"] = _names(Domain, domain_ids)
    domains = rows["domain"]
    result = {}
    for kind, by_id in rows.items():
        for ident, row in by_id.items():
            domain_id = row.id if kind == "domain" else (row.domain_id or "")
            domain = domains.get(domain_id)
            result[(kind, ident)] = (row.name, domain_id, domain.name if domain else "")
    return result
