"""Operations on a project's tags (Keystone's `/v3/projects/{id}/tags`)."""

from __future__ import annotations

from ..records import TokenInfo
from .audited import audited
from .base import Ops


class ProjectTagOps(Ops):
    def _enforce(self, rule: str, caller: TokenInfo, project_id: str) -> None:
        project = self.core.resources.get_project(project_id)
        self.enforce(rule, caller, project_id=project.id, domain_id=project.domain_id)

    def list(self, caller: TokenInfo, project_id: str) -> tuple[str, ...]:
        self._enforce("list_project_tags", caller, project_id)
        return self.core.project_tags.list(project_id)

    def check(self, caller: TokenInfo, project_id: str, tag: str) -> bool:
        self._enforce("get_project_tag", caller, project_id)
        return self.core.project_tags.has(project_id, tag)

    @audited("added.project_tag", details=("tag",))
    def add(self, caller: TokenInfo, project_id: str, tag: str) -> None:
        self._enforce("create_project_tag", caller, project_id)
        self.core.project_tags.add(project_id, tag)

    @audited("updated.project_tags")
    def replace(self, caller: TokenInfo, project_id: str, tags) -> tuple[str, ...]:
        self._enforce("update_project_tags", caller, project_id)
        return self.core.project_tags.replace(project_id, tags)

    @audited("removed.project_tag", details=("tag",))
    def remove(self, caller: TokenInfo, project_id: str, tag: str) -> None:
        self._enforce("delete_project_tag", caller, project_id)
        self.core.project_tags.remove(project_id, tag)

    @audited("deleted.project_tags")
    def clear(self, caller: TokenInfo, project_id: str) -> None:
        self._enforce("delete_project_tags", caller, project_id)
        self.core.project_tags.clear(project_id)
