"""Operations on domains and projects."""

from __future__ import annotations

from ..errors import InvalidArgument
from ..records import DomainRecord, ProjectEntry, TokenInfo, domain_entry
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

    def create(self, caller: TokenInfo, **fields) -> DomainRecord:
        self.enforce("create_domain", caller)
        return domain_entry(self.core.resources.create_domain(**fields))

    def update(self, caller: TokenInfo, domain_id: str, **changes) -> DomainRecord:
        self.enforce("update_domain", caller, domain_id=self.core.resources.get_domain(domain_id).id)
        return domain_entry(self.core.resources.update_domain(domain_id, **changes))

    def delete(self, caller: TokenInfo, domain_id: str) -> None:
        self.enforce("delete_domain", caller, domain_id=self.core.resources.get_domain(domain_id).id)
        self.core.resources.delete_domain(domain_id)


class ProjectOps(Ops):
    """A project's `parent_id` may name its domain, as Keystone's API has it (a
    top-level project's parent is its domain): that means top-level."""

    def _target(self, project) -> dict:
        return {"project_id": project.id, "domain_id": project.domain_id}

    def _split_parent(self, parent_id: str | None) -> tuple[str, str]:
        """(domain, "") when `parent_id` names a domain, else ("", parent_id)."""
        if parent_id and self.core.resources.find_domain(domain_id=parent_id) is not None:
            return parent_id, ""
        return "", parent_id or ""

    def get(self, caller: TokenInfo, project_id: str) -> ProjectEntry:
        project = self.core.resources.get_project(project_id)
        self.enforce("get_project", caller, **self._target(project))
        return ProjectEntry.of(project)

    def list(self, caller: TokenInfo, domain_id: str = "", parent_id: str = "",
             is_domain: bool | None = None, **filters) -> tuple[list[ProjectEntry], str]:
        """`is_domain` true lists nothing: no project acts as a domain. A `parent_id`
        naming a domain lists its top-level projects."""
        parent_domain, parent_id = self._split_parent(parent_id)
        if is_domain or (parent_domain and domain_id and parent_domain != domain_id):
            return [], ""
        domain_id = domain_id or parent_domain or caller_domain(caller) or ""
        self.enforce("list_projects", caller, domain_id=domain_id or None)
        rows, token = self.core.resources.list_projects(domain_id=domain_id, parent_id=parent_id,
                                                        top_level=bool(parent_domain), **filters)
        return [ProjectEntry.of(p) for p in rows], token

    def parents(self, caller: TokenInfo, project_id: str) -> list[ProjectEntry]:
        project = self.core.resources.get_project(project_id)
        self.enforce("list_project_parents", caller, **self._target(project))
        return [ProjectEntry.of(p) for p in self.core.resources.ancestors(project)]

    def subtree(self, caller: TokenInfo, project_id: str,
                limit: int | None = None) -> list[ProjectEntry]:
        project = self.core.resources.get_project(project_id)
        self.enforce("list_project_subtree", caller, **self._target(project))
        return [ProjectEntry.of(p) for p in self.core.resources.subtree(project.id, limit)]

    def create(self, caller: TokenInfo, name: str, domain_id: str = "", parent_id: str = "",
               **fields) -> ProjectEntry:
        parent_domain, parent_id = self._split_parent(parent_id)
        if parent_domain and domain_id and parent_domain != domain_id:
            raise InvalidArgument("parent_id", "a top-level project's parent must be its domain")
        domain_id = domain_id or parent_domain
        if not domain_id and parent_id:
            domain_id = self.core.resources.get_project(parent_id).domain_id
        domain_id = owning_domain(caller, domain_id)
        self.enforce("create_project", caller, domain_id=domain_id)
        return ProjectEntry.of(self.core.resources.create_project(
            name, domain_id, parent_id=parent_id or None, **fields))

    def update(self, caller: TokenInfo, project_id: str, **changes) -> ProjectEntry:
        if "parent_id" in changes:
            changes["parent_id"] = self._split_parent(changes["parent_id"])[1]
        self.enforce("update_project", caller,
                     **self._target(self.core.resources.get_project(project_id)))
        return ProjectEntry.of(self.core.resources.update_project(project_id, **changes))

    def delete(self, caller: TokenInfo, project_id: str) -> None:
        self.enforce("delete_project", caller,
                     **self._target(self.core.resources.get_project(project_id)))
        self.core.resources.delete_project(project_id)
