"""Operations on domains and projects."""

from __future__ import annotations

from ..records import TokenInfo
from ..store.models import Domain, Project
from .base import Ops, caller_domain, owning_domain


class DomainOps(Ops):
    def get(self, caller: TokenInfo, domain_id: str) -> Domain:
        domain = self.core.resources.get_domain(domain_id)
        self.enforce("get_domain", caller, domain_id=domain.id)
        return domain

    def list(self, caller: TokenInfo, **filters) -> tuple[list[Domain], str]:
        self.enforce("list_domains", caller)
        return self.core.resources.list_domains(**filters)

    def create(self, caller: TokenInfo, **fields) -> Domain:
        self.enforce("create_domain", caller)
        return self.core.resources.create_domain(**fields)

    def update(self, caller: TokenInfo, domain_id: str, **changes) -> Domain:
        self.enforce("update_domain", caller, domain_id=self.core.resources.get_domain(domain_id).id)
        return self.core.resources.update_domain(domain_id, **changes)

    def delete(self, caller: TokenInfo, domain_id: str) -> None:
        self.enforce("delete_domain", caller, domain_id=self.core.resources.get_domain(domain_id).id)
        self.core.resources.delete_domain(domain_id)


class ProjectOps(Ops):
    def _target(self, project: Project) -> dict:
        return {"project_id": project.id, "domain_id": project.domain_id}

    def get(self, caller: TokenInfo, project_id: str) -> Project:
        project = self.core.resources.get_project(project_id)
        self.enforce("get_project", caller, **self._target(project))
        return project

    def list(self, caller: TokenInfo, domain_id: str = "", **filters) -> tuple[list[Project], str]:
        domain_id = domain_id or caller_domain(caller) or ""
        self.enforce("list_projects", caller, domain_id=domain_id or None)
        return self.core.resources.list_projects(domain_id=domain_id, **filters)

    def parents(self, caller: TokenInfo, project_id: str) -> list[Project]:
        project = self.core.resources.get_project(project_id)
        self.enforce("list_project_parents", caller, **self._target(project))
        return self.core.resources.ancestors(project)

    def subtree(self, caller: TokenInfo, project_id: str, limit: int | None = None) -> list[Project]:
        project = self.core.resources.get_project(project_id)
        self.enforce("list_project_subtree", caller, **self._target(project))
        return self.core.resources.subtree(project.id, limit)

    def create(self, caller: TokenInfo, name: str, domain_id: str = "", parent_id: str = "",
               **fields) -> Project:
        if not domain_id and parent_id:
            domain_id = self.core.resources.get_project(parent_id).domain_id
        domain_id = owning_domain(caller, domain_id)
        self.enforce("create_project", caller, domain_id=domain_id)
        return self.core.resources.create_project(name, domain_id, parent_id=parent_id or None,
                                                  **fields)

    def update(self, caller: TokenInfo, project_id: str, **changes) -> Project:
        self.enforce("update_project", caller,
                     **self._target(self.core.resources.get_project(project_id)))
        return self.core.resources.update_project(project_id, **changes)

    def delete(self, caller: TokenInfo, project_id: str) -> None:
        self.enforce("delete_project", caller,
                     **self._target(self.core.resources.get_project(project_id)))
        self.core.resources.delete_project(project_id)
