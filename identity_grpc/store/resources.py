"""Domains and projects, with the project hierarchy (tables Domain, Project).

Rows are deleted only when nothing refers to them: a domain still holding projects,
users, groups or roles, or a project with child projects, is refused by the store
itself (an IntegrityError of kind `conflicts.REFERENCE`, for the operation's retry to
run the manager's checks again, which name what holds it)."""

from .base import Change, ConceptStore, present
from .models import is_sqlite
from .paging import page
from .project_tags import ProjectTagStore, TagFilter
from .unique import refusing_clash


class ResourceStore(ConceptStore):
    # ---- domains -------------------------------------------------------------

    def find_domain(self, domain_id: str):
        Domain = self.t.Domain
        return Domain.get_or_none(Domain.id == domain_id)

    def find_domain_by_name(self, name: str):
        Domain = self.t.Domain
        return Domain.get_or_none(Domain.name == name)

    def get_domain(self, domain_id: str):
        return present(self.find_domain(domain_id), f"domain {domain_id} not found")

    def domains_by_ids(self, domain_ids) -> dict:
        """id -> row of the domains of `domain_ids` that exist, in one query."""
        Domain = self.t.Domain
        ids = list(domain_ids)
        return {row.id: row for row in Domain.select().where(Domain.id.in_(ids))} if ids else {}

    def domain_exists(self, domain_id: str) -> bool:
        Domain = self.t.Domain
        return Domain.select().where(Domain.id == domain_id).exists()

    def list_domains(self, name: str = "", enabled: bool | None = None, page_size: int = 0,
                     page_token: str = "") -> tuple[list, str]:
        """One page of the domains, by name."""
        Domain = self.t.Domain
        query = Domain.select()
        if name:
            query = query.where(Domain.name == name)
        if enabled is not None:
            query = query.where(Domain.enabled == enabled)
        return page(query, (Domain.name, Domain.id), page_size, page_token)

    def create_domain(self, name: str, description: str = "", enabled: bool = True):
        with refusing_clash(f"a domain named {name!r} already exists"):
            return self.t.Domain.create(name=name, description=description, enabled=enabled)

    def update_domain(self, domain_id: str, change: Change):
        """`change(row)` gives the fields to set (see `ConceptStore.update`)."""
        return self.update(self.t.Domain, domain_id, change, f"domain {domain_id} not found",
                           clash=lambda row, fields: f"a domain named {fields.get('name')!r} "
                                                     "already exists")

    def delete_domain(self, domain_id: str) -> int:
        """Rows deleted (0 or 1); refused while anything is in the domain."""
        Domain = self.t.Domain
        return Domain.delete().where(Domain.id == domain_id).execute()

    # ---- projects ------------------------------------------------------------

    def find_project(self, project_id: str):
        Project = self.t.Project
        return Project.get_or_none(Project.id == project_id)

    def find_project_by_name(self, domain_id: str, name: str):
        Project = self.t.Project
        return Project.get_or_none((Project.domain == domain_id) & (Project.name == name))

    def get_project(self, project_id: str):
        return present(self.find_project(project_id), f"project {project_id} not found")

    def lock_project(self, project_id: str):
        """The project's row, held until this transaction ends; NotFound without one."""
        return self.locked(self.t.Project, project_id, f"project {project_id} not found")

    def projects_by_ids(self, project_ids) -> dict:
        """id -> row of the projects of `project_ids` that exist, in one query."""
        Project = self.t.Project
        ids = list(project_ids)
        return {row.id: row for row in Project.select().where(Project.id.in_(ids))} if ids else {}

    def count_projects_in_domain(self, domain_id: str) -> int:
        Project = self.t.Project
        return Project.select().where(Project.domain == domain_id).count()

    def domain_ids_of_projects(self, project_ids) -> set[str]:
        """The domains the projects are in, in one query."""
        Project = self.t.Project
        ids = sorted(set(project_ids))
        if not ids:
            return set()
        return {r.domain_id for r in Project.select(Project.domain).where(Project.id.in_(ids))}

    def projects_with_domains(self, project_ids, enabled: bool | None = None,
                              limit: int | None = None) -> list:
        """The projects of `project_ids` (only the enabled or disabled ones, when
        `enabled` is given), each with its domain, by name: one query."""
        Project, Domain = self.t.Project, self.t.Domain
        ids = sorted(set(project_ids))
        if not ids:
            return []
        query = (Project.select(Project, Domain).join(Domain).where(Project.id.in_(ids))
                 .order_by(Project.name, Project.id))
        if enabled is not None:
            query = query.where(Project.enabled == enabled)
        return list(query.limit(limit))

    def enabled_projects_of_domain(self, domain_id: str) -> list:
        """The domain's enabled projects, each with its domain, by name: one query."""
        Project, Domain = self.t.Project, self.t.Domain
        return list(Project.select(Project, Domain).join(Domain)
                    .where((Project.domain == domain_id) & (Project.enabled == True))  # noqa: E712
                    .order_by(Project.name, Project.id))

    def project_parents_in_domain(self, domain_id: str) -> dict[str, str | None]:
        """Every project of the domain, mapped to its parent's id (None: top level)."""
        Project = self.t.Project
        return {p.id: p.parent_id for p in Project.select(Project.id, Project.parent)
                .where(Project.domain == domain_id)}

    def project_ids_in_domains(self, domain_ids) -> set[str]:
        """Ids of every project of the domains, in one query."""
        Project = self.t.Project
        ids = sorted(set(domain_ids))
        if not ids:
            return set()
        return {p.id for p in Project.select(Project.id).where(Project.domain.in_(ids))}

    def list_projects(self, name: str = "", domain_id: str = "", parent_id: str = "",
                      enabled: bool | None = None, page_size: int = 0, page_token: str = "",
                      top_level: bool = False, tags: TagFilter = TagFilter()) -> tuple[list, str]:
        """One page of the projects, by name. `top_level`: only the projects right
        below their domain; `tags`: only those the tag filter keeps."""
        Project = self.t.Project
        query = Project.select()
        if tags:
            query = query.where(ProjectTagStore(self.t).condition(Project.id, tags))
        if top_level:
            query = query.where(Project.parent.is_null())
        for field, value in ((Project.name, name), (Project.domain, domain_id),
                             (Project.parent, parent_id)):
            if value:
                query = query.where(field == value)
        if enabled is not None:
            query = query.where(Project.enabled == enabled)
        return page(query, (Project.name, Project.id), page_size, page_token)

    def create_project(self, name: str, domain_id: str, description: str = "",
                       enabled: bool = True, parent_id: str | None = None):
        conflict = f"a project named {name!r} already exists in domain {domain_id}"
        with refusing_clash(conflict):
            return self.t.Project.create(name=name, domain=domain_id, description=description,
                                         enabled=enabled, parent=parent_id or None)

    def update_project(self, project_id: str, change: Change):
        """`change(row)` gives the fields to set (`parent`, not `parent_id`)."""
        return self.update(self.t.Project, project_id, change, f"project {project_id} not found",
                           clash=lambda row, fields: f"a project named {fields.get('name')!r} "
                                                     f"already exists in domain {row.domain_id}")

    def delete_project(self, project_id: str) -> int:
        """Rows deleted (0 or 1); refused while it has child projects."""
        Project = self.t.Project
        return Project.delete().where(Project.id == project_id).execute()

    # ---- the hierarchy -------------------------------------------------------

    def count_children(self, project_id: str) -> int:
        Project = self.t.Project
        return Project.select().where(Project.parent == project_id).count()

    def ancestors(self, project, max_depth: int) -> list:
        """The project's parents, nearest first (at most `max_depth` + 1 lookups)."""
        Project = self.t.Project
        chain, parent_id = [], project.parent_id
        while parent_id and len(chain) <= max_depth:
            parent = Project.get_or_none(Project.id == parent_id)
            if parent is None:
                break
            chain.append(parent)
            parent_id = parent.parent_id
        return chain

    def subtree(self, project_id: str, limit: int | None = None) -> list:
        """Every project below `project_id`, depth first, one query per level; with
        `limit`, no more than that many, the nearest levels first."""
        Project = self.t.Project
        children: dict[str, list] = {}
        level, room = [project_id], limit
        while level and room != 0:
            rows = list(Project.select().where(Project.parent.in_(level))
                        .order_by(Project.name, Project.id).limit(room))
            for row in rows:
                children.setdefault(row.parent_id, []).append(row)
            level = [r.id for r in rows]
            room = None if room is None else room - len(rows)
        ordered: list = []

        def walk(pid: str) -> None:
            for child in children.get(pid, ()):
                ordered.append(child)
                walk(child.id)
        walk(project_id)
        return ordered

    def descendant_ids(self, project_ids) -> set[str]:
        """Ids of every project below any of `project_ids`, one query per level."""
        Project = self.t.Project
        found: set[str] = set()
        level = sorted(project_ids)
        while level:
            level = [r.id for r in Project.select(Project.id).where(Project.parent.in_(level))
                     if r.id not in found]
            found.update(level)
        return found

    def height(self, project_id: str) -> int:
        """Levels of the subtree below `project_id` (0 for a leaf)."""
        Project = self.t.Project
        height, level = 0, [project_id]
        while True:
            level = [r.id for r in Project.select(Project.id).where(Project.parent.in_(level))]
            if not level:
                return height
            height += 1

    def project_ids_from(self, start: str | None, limit: int, domain_id: str = "",
                         below: str = "", max_depth: int = 1) -> list[str]:
        """Ids of the projects of `domain_id`, or below project `below` (at most
        `max_depth` levels down), in id order from `start` on (None: the first): one
        query, however deep the page is."""
        Project = self.t.Project
        rows = Project.select(Project.id)
        if domain_id:
            rows = rows.where(Project.domain == domain_id)
        else:
            rows = rows.where(self._below(below, max_depth))
        if start is not None:
            rows = rows.where(Project.id >= start)
        return [p.id for p in rows.order_by(Project.id).limit(limit)]

    def _below(self, project_id: str, max_depth: int):
        """Projects below `project_id`, at any depth up to `max_depth`, as one
        condition the store can page through in id order (one nested subquery per
        level)."""
        Project = self.t.Project
        where = Project.parent == project_id
        level = None
        for _ in range(max_depth - 1):
            alias = Project.alias()
            level = alias.select(alias.id).where(
                alias.parent == project_id if level is None else alias.parent.in_(level))
            where |= Project.parent.in_(level)
        return where

    # ---- what quotas and scopes ask ------------------------------------------

    def project_exists(self, project_id: str) -> bool:
        Project = self.t.Project
        return Project.select().where(Project.id == project_id).exists()

    def lock_domain(self, domain_id: str) -> None:
        """Hold the domain's row until this transaction ends (what serializes creates
        counted against its quotas; SQLite's write transaction holds the store already)."""
        if not self.db.in_transaction():
            raise RuntimeError("a domain is locked inside the transaction that needs it")
        if not is_sqlite(self.db):
            Domain = self.t.Domain
            list(Domain.select(Domain.id).where(Domain.id == domain_id).for_update())

    def enabled_domains(self, domain_ids) -> list:
        """The enabled domains among `domain_ids`, in one query."""
        Domain = self.t.Domain
        ids = sorted(set(domain_ids))
        if not ids:
            return []
        return list(Domain.select().where(Domain.id.in_(ids) & (Domain.enabled == True)))  # noqa: E712
