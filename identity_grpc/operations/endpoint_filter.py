"""Operations on endpoint groups and on which endpoints projects are given
(Keystone's OS-EP-FILTER), under Keystone's rule names.

Like the catalog's, these rules ask nothing of the entity acted on, so each operation
checks its rule before looking anything up: a caller who may not read them cannot
learn from NOT_FOUND what exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..records import EndpointEntry, ProjectEntry, TokenInfo, from_row
from ..store.endpoint_filter import filters_of
from .audited import audited
from .base import Ops


@dataclass(frozen=True, slots=True)
class EndpointGroupEntry:
    id: str
    name: str
    description: str
    filters: tuple[tuple[str, str], ...]  # by key

    @classmethod
    def of(cls, row) -> "EndpointGroupEntry":
        return from_row(cls, row, filters=tuple(sorted(filters_of(row).items())))


class EndpointFilterOps(Ops):
    # ---- endpoint groups ---------------------------------------------------------

    @audited("created.endpoint_group", details=("name",))
    def create_endpoint_group(self, caller: TokenInfo, name: str, filters: dict,
                              description: str = "") -> EndpointGroupEntry:
        self.enforce("create_endpoint_group", caller)
        return EndpointGroupEntry.of(
            self.core.endpoint_filter.create_group(name, filters, description))

    def get_endpoint_group(self, caller: TokenInfo, group_id: str) -> EndpointGroupEntry:
        self.enforce("get_endpoint_group", caller, endpoint_group_id=group_id)
        return EndpointGroupEntry.of(self.core.endpoint_filter.get_group(group_id))

    def list_endpoint_groups(self, caller: TokenInfo, **filters) -> tuple[list, str]:
        self.enforce("list_endpoint_groups", caller)
        rows, token = self.core.endpoint_filter.list_groups(**filters)
        return [EndpointGroupEntry.of(r) for r in rows], token

    @audited("updated.endpoint_group")
    def update_endpoint_group(self, caller: TokenInfo, group_id: str,
                              **changes) -> EndpointGroupEntry:
        self.enforce("update_endpoint_group", caller, endpoint_group_id=group_id)
        return EndpointGroupEntry.of(self.core.endpoint_filter.update_group(group_id, **changes))

    @audited("deleted.endpoint_group")
    def delete_endpoint_group(self, caller: TokenInfo, group_id: str) -> None:
        self.enforce("delete_endpoint_group", caller, endpoint_group_id=group_id)
        self.core.endpoint_filter.delete_group(group_id)

    def list_endpoints_associated_with_endpoint_group(
            self, caller: TokenInfo, group_id: str) -> list[EndpointEntry]:
        self.enforce("list_endpoints_associated_with_endpoint_group", caller,
                     endpoint_group_id=group_id)
        return [EndpointEntry.of(r) for r in self.core.endpoint_filter.endpoints_in_group(group_id)]

    def list_projects_associated_with_endpoint_group(
            self, caller: TokenInfo, group_id: str) -> list[ProjectEntry]:
        self.enforce("list_projects_associated_with_endpoint_group", caller,
                     endpoint_group_id=group_id)
        return [ProjectEntry.of(r) for r in self.core.endpoint_filter.projects_of_group(group_id)]

    def list_endpoint_groups_for_project(self, caller: TokenInfo,
                                         project_id: str) -> list[EndpointGroupEntry]:
        self.enforce("list_endpoint_groups_for_project", caller, project_id=project_id)
        return [EndpointGroupEntry.of(r)
                for r in self.core.endpoint_filter.groups_of_project(project_id)]

    @audited("added.project_endpoint_group", id_arg="project_id", details=("group_id",))
    def add_endpoint_group_to_project(self, caller: TokenInfo, group_id: str,
                                      project_id: str) -> None:
        self.enforce("add_endpoint_group_to_project", caller, endpoint_group_id=group_id,
                     project_id=project_id)
        self.core.endpoint_filter.add_group_to_project(group_id, project_id)

    def get_endpoint_group_in_project(self, caller: TokenInfo, group_id: str,
                                      project_id: str) -> None:
        """NOT_FOUND unless the group is given to the project."""
        self.enforce("get_endpoint_group_in_project", caller, endpoint_group_id=group_id,
                     project_id=project_id)
        self.core.endpoint_filter.check_group_in_project(group_id, project_id)

    @audited("removed.project_endpoint_group", id_arg="project_id", details=("group_id",))
    def remove_endpoint_group_from_project(self, caller: TokenInfo, group_id: str,
                                           project_id: str) -> None:
        self.enforce("remove_endpoint_group_from_project", caller, endpoint_group_id=group_id,
                     project_id=project_id)
        self.core.endpoint_filter.remove_group_from_project(group_id, project_id)

    # ---- endpoints given to projects ---------------------------------------------

    @audited("added.project_endpoint", id_arg="project_id", details=("endpoint_id",))
    def add_endpoint_to_project(self, caller: TokenInfo, project_id: str,
                                endpoint_id: str) -> None:
        self.enforce("add_endpoint_to_project", caller, project_id=project_id,
                     endpoint_id=endpoint_id)
        self.core.endpoint_filter.add_endpoint_to_project(project_id, endpoint_id)

    def check_endpoint_in_project(self, caller: TokenInfo, project_id: str,
                                  endpoint_id: str) -> None:
        """NOT_FOUND unless the endpoint is given to the project directly."""
        self.enforce("check_endpoint_in_project", caller, project_id=project_id,
                     endpoint_id=endpoint_id)
        self.core.endpoint_filter.check_endpoint_in_project(project_id, endpoint_id)

    @audited("removed.project_endpoint", id_arg="project_id", details=("endpoint_id",))
    def remove_endpoint_from_project(self, caller: TokenInfo, project_id: str,
                                     endpoint_id: str) -> None:
        self.enforce("remove_endpoint_from_project", caller, project_id=project_id,
                     endpoint_id=endpoint_id)
        self.core.endpoint_filter.remove_endpoint_from_project(project_id, endpoint_id)

    def list_endpoints_for_project(self, caller: TokenInfo,
                                   project_id: str) -> list[EndpointEntry]:
        self.enforce("list_endpoints_for_project", caller, project_id=project_id)
        return [EndpointEntry.of(r)
                for r in self.core.endpoint_filter.endpoints_of_project(project_id)]

    def list_projects_for_endpoint(self, caller: TokenInfo,
                                   endpoint_id: str) -> list[ProjectEntry]:
        self.enforce("list_projects_for_endpoint", caller, endpoint_id=endpoint_id)
        return [ProjectEntry.of(r)
                for r in self.core.endpoint_filter.projects_of_endpoint(endpoint_id)]
