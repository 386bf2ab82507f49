"""Operations on domains and projects."""

from __future__ import annotations

from ..errors import InvalidArgument
from ..records import DomainRecord, ProjectEntry, TokenInfo, domain_entry
from .audited import audited
from .base import Ops, caller_domain, owning_domain


class DomainOps(Ops):
    def get(self, caller: TokenInfo, domain_id: str) -> DomainRecord:
        domain = self.core.resources.get_domain(domain_id)
        self.enforce("get_domain", caller, domain_id=domain.id)
        return domain_entry(domain)

    def list(self, caller: TokenInfo, **filters) -> tuple[list[DomainRecord], str]:
        self.enforce("list_domains", caller)
        rows, token = self.core.resources.list_domains(**filters)
        return [domain_entry(d) for d in rows], token

    @audited("created.domain", details=("name",))
    def create(self, caller: TokenInfo, **fields) -> DomainRecord:
        self.enforce("create_domain", caller)
        return domain_entry(self.core.resources.create_domain(**fields))

    @audited("updated.domain")
    def update(self, caller: TokenInfo, domain_id: str, **changes) -> DomainRecord:
        self.enforce("update_domain", caller, domain_id=self.core.resources.get_domain(domain_id).id)
        return domain_entry(self.core.resources.update_domain(domain_id, **changes))

    @audited("deleted.domain")
    def delete(self, caller: TokenInfo, domain_id: str) -> None:
        self.enforce("delete_domain", caller, domain_id=self.core.resources.get_domain(domain_id).id)
        self.core.resources.delete_domain(domain_id)


class ProjectOps(Ops):
    """A project's `parent_id` may name its domain, as Keystone's API has it (a
    top-level project's parent is its domain): that means top-level."""

    def _target(self, project) -> dict:
        return {"project_id": project.id, "domain_id": project.domain_id}

    def _entries(self, rows) -> list[ProjectEntry]:
        """The projects' records, with their tags (one query for all)."""
        tags = self.core.resources.tags_of(r.id for r in rows)
        return [ProjectEntry.of(r, tags.get(r.id, ())) for r in rows]

    def _entry(self, row) -> ProjectEntry:
        return self._entries([row])[0]

    def _split_parent(self, parent_id: str | None) -> tuple[str, str]:
        """(domain, "") when `parent_id` names a domain, else ("", parent_id)."""
        if parent_id and self.core.resources.find_domain(domain_id=parent_id) is not None:
            return parent_id, ""
        return "", parent_id or ""

    def _acting_domain(self, project_id: str):
        """The domain of `project_id` when no project has that id: Keystone's project
        acting as a domain is the domain itself here, seen through the project API."""
        if not project_id or self.core.resources.find_project(project_id) is not None:
            return None
        return self.core.resources.find_domain(domain_id=project_id)

    def get(self, caller: TokenInfo, project_id: str) -> ProjectEntry:
        domain = self._acting_domain(project_id)
        if domain is not None:
            self.enforce("get_project", caller, project_id=domain.id, domain_id=domain.id)
            return ProjectEntry.of_domain(domain)
        project = self.core.resources.get_project(project_id)
        self.enforce("get_project", caller, **self._target(project))
        return self._entry(project)

    def list(self, caller: TokenInfo, domain_id: str = "", parent_id: str = "",
             is_domain: bool | None = None, **filters) -> tuple[list[ProjectEntry], str]:
        """`is_domain` true lists the projects acting as domains: every domain. A
        `parent_id` naming a domain lists its top-level projects."""
        if is_domain:
            return self._list_domains(caller, domain_id, parent_id, **filters)
        parent_domain, parent_id = self._split_parent(parent_id)
        if parent_domain and domain_id and parent_domain != domain_id:
            return [], ""
        domain_id = domain_id or parent_domain or caller_domain(caller) or ""
        self.enforce("list_projects", caller, domain_id=domain_id or None)
        rows, token = self.core.resources.list_projects(domain_id=domain_id, parent_id=parent_id,
                                                        top_level=bool(parent_domain), **filters)
        return self._entries(rows), token

    def _list_domains(self, caller: TokenInfo, domain_id: str, parent_id: str, name: str = "",
                      enabled: bool | None = None, page_size: int = 0, page_token: str = "",
                      tags=(), tags_any=(), **_) -> tuple[list[ProjectEntry], str]:
        self.enforce("list_projects", caller, domain_id=None)
        if domain_id or parent_id or tags or tags_any:  # domains: in none, below none, untagged
            return [], ""
        rows, token = self.core.resources.list_domains(name=name, enabled=enabled,
                                                       page_size=page_size, page_token=page_token)
        return [ProjectEntry.of_domain(d) for d in rows], token

    def parents(self, caller: TokenInfo, project_id: str) -> list[ProjectEntry]:
        project = self.core.resources.get_project(project_id)
        self.enforce("list_project_parents", caller, **self._target(project))
        return self._entries(self.core.resources.ancestors(project))

    def subtree(self, caller: TokenInfo, project_id: str,
                limit: int | None = None) -> list[ProjectEntry]:
        project = self.core.resources.get_project(project_id)
        self.enforce("list_project_subtree", caller, **self._target(project))
        return self._entries(self.core.resources.subtree(project.id, limit))

    @audited("created.project", details=("name", "domain_id", "parent_id", "is_domain"))
    def create(self, caller: TokenInfo, name: str, domain_id: str = "", parent_id: str = "",
               is_domain: bool = False, **fields) -> ProjectEntry:
        if is_domain:
            return self._create_domain(caller, name, domain_id, parent_id, **fields)
        parent_domain, parent_id = self._split_parent(parent_id)
        if parent_domain and domain_id and parent_domain != domain_id:
            raise InvalidArgument("parent_id", "a top-level project's parent must be its domain")
        domain_id = domain_id or parent_domain
        if not domain_id and parent_id:
            domain_id = self.core.resources.get_project(parent_id).domain_id
        domain_id = owning_domain(caller, domain_id)
        self.enforce("create_project", caller, domain_id=domain_id)
        return self._entry(self.core.resources.create_project(
            name, domain_id, parent_id=parent_id or None, **fields))

    def _create_domain(self, caller: TokenInfo, name: str, domain_id: str, parent_id: str,
                       description: str = "", enabled: bool = True, tags=()) -> ProjectEntry:
        """A project acting as a domain: the domain, created through the project API."""
        if parent_id:
            raise InvalidArgument("parent_id", "only root projects are allowed to act as domains")
        if domain_id:
            raise InvalidArgument("domain_id", "a project acting as a domain is in no domain")
        if tags:
            raise InvalidArgument("tags", "a project acting as a domain holds no tags here")
        self.enforce("create_project", caller)
        return ProjectEntry.of_domain(self.core.resources.create_domain(
            name, description=description, enabled=enabled))

    @audited("updated.project")
    def update(self, caller: TokenInfo, project_id: str, **changes) -> ProjectEntry:
        domain = self._acting_domain(project_id)
        if domain is not None:
            for field in ("parent_id", "tags"):
                if changes.get(field):
                    raise InvalidArgument(field, "cannot be set on a project acting as a domain")
                changes.pop(field, None)
            self.enforce("update_project", caller, project_id=domain.id, domain_id=domain.id)
            return ProjectEntry.of_domain(self.core.resources.update_domain(domain.id, **changes))
        if "parent_id" in changes:
            changes["parent_id"] = self._split_parent(changes["parent_id"])[1]
        self.enforce("update_project", caller,
                     **self._target(self.core.resources.get_project(project_id)))
        return self._entry(self.core.resources.update_project(project_id, **changes))

    @audited("deleted.project")
    def delete(self, caller: TokenInfo, project_id: str) -> None:
        """Deleting a project acting as a domain deletes the domain (disabled first)."""
        domain = self._acting_domain(project_id)
        if domain is not None:
            self.enforce("delete_project", caller, project_id=domain.id, domain_id=domain.id)
            self.core.resources.delete_domain(domain.id)
            return
        self.enforce("delete_project", caller,
                     **self._target(self.core.resources.get_project(project_id)))
        self.core.resources.delete_project(project_id)
