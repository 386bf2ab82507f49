"""Resources: domains and projects, the project hierarchy, and how requests name them.

Lookups here are uncached; the hot path reads them through the scope cache in
`auth`. Disabling a project or a domain revokes the tokens scoped to it, so they stay
refused even if it is enabled again (as in Keystone). Besides ("project", id) and
("domain", id), changes announce ("domain_projects", domain id) and
("project_children", parent id), so that cached lists derived from "every project
of a domain / below a project" are dropped when that set changes, and nothing else.
"""

import time
from typing import Callable

from identity_api.revocation import Revocation

from .errors import FailedPrecondition, InvalidArgument, NotFound
from .quotas import DomainQuotas
from .records import ProjectRecord
from .records import domain_entry as domain_record
from .store.models import (DEFAULT_DOMAIN_ID, Domain, Group, Project, Role, RoleAssignment,
                           User)
from .store.paging import page
from .store import Store
from .change_feed import PendingWrites, Writer
from .validation import check_name, check_text

MAX_PROJECT_DEPTH = 5  # levels below the domain, as Keystone's default


def project_record(row: Project, domain: Domain) -> ProjectRecord:
    return ProjectRecord(id=row.id, name=row.name, domain=domain_record(domain),
                         enabled=row.enabled, description=row.description,
                         parent_id=row.parent_id or "", is_domain=row.is_domain)


class Resources:
    def __init__(self, store: Store, writer: Writer, max_token_lifetime: int,
                 quotas: DomainQuotas = DomainQuotas(), clock: Callable[[], float] = time.time):
        self._store = store
        self._writer = writer
        self._max_token_lifetime = max_token_lifetime
        self._clock = clock  # the clock tokens are issued by, which cutoffs must agree with
        self._quotas = quotas

    # ---- lookups -----------------------------------------------------------

    def find_domain(self, domain_id: str = "", name: str = "") -> Domain | None:
        if domain_id:
            return Domain.get_or_none(Domain.id == domain_id)
        return Domain.get_or_none(Domain.name == name)

    def find_project(self, project_id: str = "", name: str = "",
                     domain: Domain | None = None) -> Project | None:
        if project_id:
            return Project.get_or_none(Project.id == project_id)
        if domain is None:
            return None
        return Project.get_or_none((Project.domain == domain.id) & (Project.name == name))

    def get_domain(self, domain_id: str) -> Domain:
        row = Domain.get_or_none(Domain.id == domain_id)
        if row is None:
            raise NotFound(f"domain {domain_id} not found")
        return row

    def get_project(self, project_id: str) -> Project:
        row = Project.get_or_none(Project.id == project_id)
        if row is None:
            raise NotFound(f"project {project_id} not found")
        return row

    def domain_ids_of_projects(self, project_ids) -> set[str]:
        """The domains the projects are in, in one query."""
        ids = sorted(set(project_ids))
        if not ids:
            return set()
        return {r.domain_id for r in Project.select(Project.domain).where(Project.id.in_(ids))}

    def projects_with_domains(self, project_ids, enabled: bool | None = None,
                              limit: int | None = None) -> list[Project]:
        """The projects of `project_ids` (only the enabled or disabled ones, when
        `enabled` is given), each with its domain, by name: one query."""
        ids = sorted(set(project_ids))
        if not ids:
            return []
        query = (Project.select(Project, Domain).join(Domain).where(Project.id.in_(ids))
                 .order_by(Project.name, Project.id))
        if enabled is not None:
            query = query.where(Project.enabled == enabled)
        return list(query.limit(limit))

    def project_ids_in_domains(self, domain_ids) -> set[str]:
        """Ids of every project of the domains, in one query."""
        ids = sorted(set(domain_ids))
        if not ids:
            return set()
        return {p.id for p in Project.select(Project.id).where(Project.domain.in_(ids))}

    def list_domains(self, name: str = "", enabled: bool | None = None, page_size: int = 0,
                     page_token: str = "") -> tuple[list[Domain], str]:
        query = Domain.select()
        if name:
            query = query.where(Domain.name == name)
        if enabled is not None:
            query = query.where(Domain.enabled == enabled)
        return page(query, (Domain.name, Domain.id), page_size, page_token)

    def list_projects(self, name: str = "", domain_id: str = "", parent_id: str = "",
                      enabled: bool | None = None, page_size: int = 0, page_token: str = "",
                      top_level: bool = False) -> tuple[list[Project], str]:
        """`top_level`: only the projects right below their domain."""
        query = Project.select()
        if top_level:
            query = query.where(Project.parent.is_null())
        for field, value in ((Project.name, name), (Project.domain, domain_id),
                             (Project.parent, parent_id)):
            if value:
                query = query.where(field == value)
        if enabled is not None:
            query = query.where(Project.enabled == enabled)
        return page(query, (Project.name, Project.id), page_size, page_token)

    # ---- the hierarchy -------------------------------------------------------

    def ancestors(self, project: Project) -> list[Project]:
        """The project's parents, nearest first (at most MAX_PROJECT_DEPTH lookups)."""
        chain, parent_id = [], project.parent_id
        while parent_id and len(chain) <= MAX_PROJECT_DEPTH:
            parent = Project.get_or_none(Project.id == parent_id)
            if parent is None:
                break
            chain.append(parent)
            parent_id = parent.parent_id
        return chain

    def subtree(self, project_id: str, limit: int | None = None) -> list[Project]:
        """Every project below `project_id`, depth first, one query per level; with
        `limit`, no more than that many, the nearest levels first."""
        children: dict[str, list[Project]] = {}
        level, room = [project_id], limit
        while level and room != 0:
            rows = list(Project.select().where(Project.parent.in_(level))
                        .order_by(Project.name, Project.id).limit(room))
            for row in rows:
                children.setdefault(row.parent_id, []).append(row)
            level = [r.id for r in rows]
            room = None if room is None else room - len(rows)
        ordered: list[Project] = []

        def walk(pid: str) -> None:
            for child in children.get(pid, ()):
                ordered.append(child)
                walk(child.id)
        walk(project_id)
        return ordered

    def descendant_ids(self, project_ids: set[str]) -> set[str]:
        """Ids of every project below any of `project_ids`, one query per level."""
        found: set[str] = set()
        level = sorted(project_ids)
        while level:
            level = [r.id for r in Project.select(Project.id).where(Project.parent.in_(level))
                     if r.id not in found]
            found.update(level)
        return found

    def _height(self, project_id: str) -> int:
        """Levels of the subtree below `project_id` (0 for a leaf)."""
        height, level = 0, [project_id]
        while True:
            level = [r.id for r in Project.select(Project.id).where(Project.parent.in_(level))]
            if not level:
                return height
            height += 1

    def _check_parent(self, parent_id: str, domain_id: str, moving: str | None = None) -> Project:
        parent = self.get_project(parent_id)
        if parent.domain_id != domain_id:
            raise InvalidArgument("parent_id", "the parent must be in the same domain")
        above = self.ancestors(parent)
        if moving and (parent.id == moving or any(a.id == moving for a in above)):
            raise InvalidArgument("parent_id", "a project cannot be moved below itself")
        height = self._height(moving) if moving else 0
        if len(above) + 2 + height > MAX_PROJECT_DEPTH:
            raise InvalidArgument(
                "parent_id", f"projects nest at most {MAX_PROJECT_DEPTH} levels deep")
        return parent

    # ---- domains -------------------------------------------------------------

    def create_domain(self, name: str, description: str = "", enabled: bool = True) -> Domain:
        check_name("domain.name", name)
        check_text("domain.description", description)
        return self._writer.create(Domain, "domain", f"a domain named {name!r} already exists",
                                   name=name, description=description, enabled=enabled)

    def update_domain(self, domain_id: str, **changes) -> Domain:
        domain = self.get_domain(domain_id)
        if not changes:
            return domain  # nothing to write: an UPDATE with no column is no statement
        if "name" in changes:
            check_name("domain.name", changes["name"])
        check_text("domain.description", changes.get("description") or "")
        with self._writer.unique(f"a domain named {changes.get('name')!r} already exists") as tx:
            Domain.update(**changes).where(Domain.id == domain_id).execute()
            tx.changed("domain", domain_id)
            if changes.get("enabled") is False and domain.enabled:
                self._revoke(tx, domain_id=domain_id)
        return self.get_domain(domain_id)

    def set_domain_enabled(self, domain_id: str, enabled: bool) -> None:
        self.update_domain(domain_id, enabled=enabled)

    def delete_domain(self, domain_id: str) -> None:
        domain = self.get_domain(domain_id)
        if domain_id == DEFAULT_DOMAIN_ID:
            raise FailedPrecondition("the default domain cannot be deleted")
        if domain.enabled:
            raise FailedPrecondition(f"domain {domain.name!r} must be disabled before it is deleted")
        holding = [f"{n} {what}" for what, n in (
            ("projects", Project.select().where(Project.domain == domain_id).count()),
            ("users", User.select().where(User.domain == domain_id).count()),
            ("groups", Group.select().where(Group.domain == domain_id).count()),
            ("roles", Role.select().where(Role.domain == domain_id).count())) if n]
        if holding:
            raise FailedPrecondition(f"domain {domain.name!r} still holds {', '.join(holding)}")
        with self._writer.transaction() as tx:
            _delete_assignments_on("domain", domain_id)
            Domain.delete().where(Domain.id == domain_id).execute()
            tx.changed("domain", domain_id)

    # ---- projects ------------------------------------------------------------

    def create_project(self, name: str, domain_id: str, description: str = "",
                       enabled: bool = True, parent_id: str | None = None) -> Project:
        check_name("project.name", name)
        check_text("project.description", description)
        self.get_domain(domain_id)
        if parent_id:
            self._check_parent(parent_id, domain_id)
        conflict = f"a project named {name!r} already exists in domain {domain_id}"
        with self._writer.unique(conflict) as tx:
            self._quotas.check("projects", domain_id)
            project = Project.create(name=name, domain=domain_id, description=description,
                                     enabled=enabled, parent=parent_id or None)
            self._announce(tx, project)
        return project

    def update_project(self, project_id: str, **changes) -> Project:
        project = self.get_project(project_id)
        if not changes:
            return project  # nothing to write: an UPDATE with no column is no statement
        if "name" in changes:
            check_name("project.name", changes["name"])
        check_text("project.description", changes.get("description") or "")
        if "parent_id" in changes:
            new_parent = changes.pop("parent_id") or None
            if new_parent:
                self._check_parent(new_parent, project.domain_id, moving=project_id)
            changes["parent"] = new_parent
        conflict = f"a project named {changes.get('name')!r} already exists in domain {project.domain_id}"
        with self._writer.unique(conflict) as tx:
            Project.update(**changes).where(Project.id == project_id).execute()
            self._announce(tx, project)  # the old parent's children changed too
            if changes.get("parent"):
                tx.changed("project_children", changes["parent"])
            if changes.get("enabled") is False and project.enabled:
                self._revoke(tx, project_id=project_id)
        return self.get_project(project_id)

    def set_project_enabled(self, project_id: str, enabled: bool) -> None:
        self.update_project(project_id, enabled=enabled)

    def delete_project(self, project_id: str) -> None:
        """Deletes the project with the assignments on it and revokes its tokens;
        refused while it has child projects."""
        project = self.get_project(project_id)
        children = Project.select().where(Project.parent == project_id).count()
        if children:
            raise FailedPrecondition(
                f"project {project.name!r} has {children} child project(s); delete or move them first")
        with self._writer.transaction() as tx:
            _delete_assignments_on("project", project_id)
            Project.delete().where(Project.id == project_id).execute()
            self._announce(tx, project)
            self._revoke(tx, project_id=project_id)

    def _announce(self, tx: PendingWrites, project: Project) -> None:
        tx.changed("project", project.id)
        tx.changed("domain_projects", project.domain_id)
        if project.parent_id:
            tx.changed("project_children", project.parent_id)

    def _revoke(self, tx: PendingWrites, **target) -> None:
        tx.revoke(Revocation.issued_until_now(self._max_token_lifetime, self._clock, **target))


def _delete_assignments_on(target_type: str, target_id: str) -> None:
    RoleAssignment.delete().where((RoleAssignment.target_type == target_type)
                                  & (RoleAssignment.target_id == target_id)).execute()
