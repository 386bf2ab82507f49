"""Endpoint filtering (Keystone's OS-EP-FILTER): endpoint groups, and which endpoints
and endpoint groups are given to which projects (tables EndpointGroup,
ProjectEndpoint, ProjectEndpointGroup).

An association goes with its project, its endpoint or its endpoint group: the
database deletes it with them (ON DELETE CASCADE), so no other store has to know."""

import json

from .base import Change, ConceptStore, present
from .paging import page
from .unique import refusing_clash


def filters_of(group) -> dict[str, str]:
    """An endpoint group's filters, as stored (a JSON object of strings)."""
    return json.loads(group.filters or "{}")


class EndpointFilterStore(ConceptStore):
    # ---- endpoint groups -------------------------------------------------------

    def find_group(self, group_id: str):
        Group = self.t.EndpointGroup
        return Group.get_or_none(Group.id == group_id)

    def get_group(self, group_id: str):
        return present(self.find_group(group_id), f"endpoint group {group_id} not found")

    def list_groups(self, name: str = "", page_size: int = 0,
                    page_token: str = "") -> tuple[list, str]:
        """One page of the endpoint groups (of one name), by id."""
        Group = self.t.EndpointGroup
        query = Group.select()
        if name:
            query = query.where(Group.name == name)
        return page(query, (Group.id,), page_size, page_token)

    def create_group(self, group_id: str, name: str, description: str,
                     filters: dict[str, str]):
        with refusing_clash(f"endpoint group {group_id!r} already exists"):
            return self.t.EndpointGroup.create(id=group_id, name=name, description=description,
                                               filters=json.dumps(filters, sort_keys=True))

    def update_group(self, group_id: str, change: Change):
        """`change(row)` gives the fields to set (`filters` as a dict)."""
        def encoded(row) -> dict:
            fields = change(row)
            if "filters" in fields:
                fields = {**fields, "filters": json.dumps(fields["filters"], sort_keys=True)}
            return fields
        return self.update(self.t.EndpointGroup, group_id, encoded,
                           f"endpoint group {group_id} not found")

    def delete_group(self, group_id: str) -> int:
        """Rows deleted (0 or 1); its project associations go with it."""
        Group = self.t.EndpointGroup
        return Group.delete().where(Group.id == group_id).execute()

    # ---- endpoints given to projects -------------------------------------------

    def add_project_endpoint(self, project_id: str, endpoint_id: str) -> bool:
        """False when the project had the endpoint already (nothing written)."""
        if self.has_project_endpoint(project_id, endpoint_id):
            return False
        with refusing_clash("already given"):
            self.t.ProjectEndpoint.create(project=project_id, endpoint=endpoint_id)
        return True

    def has_project_endpoint(self, project_id: str, endpoint_id: str) -> bool:
        Row = self.t.ProjectEndpoint
        return Row.select().where((Row.project == project_id)
                                  & (Row.endpoint == endpoint_id)).exists()

    def remove_project_endpoint(self, project_id: str, endpoint_id: str) -> int:
        Row = self.t.ProjectEndpoint
        return Row.delete().where((Row.project == project_id)
                                  & (Row.endpoint == endpoint_id)).execute()

    def endpoint_ids_of_project(self, project_id: str) -> list[str]:
        """The endpoints given to the project directly, by id."""
        Row = self.t.ProjectEndpoint
        return [r.endpoint_id for r in Row.select(Row.endpoint)
                .where(Row.project == project_id).order_by(Row.endpoint)]

    def project_ids_of_endpoint(self, endpoint_id: str) -> list[str]:
        Row = self.t.ProjectEndpoint
        return [r.project_id for r in Row.select(Row.project)
                .where(Row.endpoint == endpoint_id).order_by(Row.project)]

    # ---- endpoint groups given to projects -------------------------------------

    def add_project_group(self, project_id: str, group_id: str) -> bool:
        """False when the project had the group already (nothing written)."""
        if self.has_project_group(project_id, group_id):
            return False
        with refusing_clash("already given"):
            self.t.ProjectEndpointGroup.create(project=project_id, endpoint_group=group_id)
        return True

    def has_project_group(self, project_id: str, group_id: str) -> bool:
        Row = self.t.ProjectEndpointGroup
        return Row.select().where((Row.project == project_id)
                                  & (Row.endpoint_group == group_id)).exists()

    def remove_project_group(self, project_id: str, group_id: str) -> int:
        Row = self.t.ProjectEndpointGroup
        return Row.delete().where((Row.project == project_id)
                                  & (Row.endpoint_group == group_id)).execute()

    def groups_of_project(self, project_id: str) -> list:
        """The endpoint groups given to the project, by id."""
        Group, Row = self.t.EndpointGroup, self.t.ProjectEndpointGroup
        return list(Group.select().join(Row, on=(Row.endpoint_group == Group.id))
                    .where(Row.project == project_id).order_by(Group.id))

    def project_ids_of_group(self, group_id: str) -> list[str]:
        Row = self.t.ProjectEndpointGroup
        return [r.project_id for r in Row.select(Row.project)
                .where(Row.endpoint_group == group_id).order_by(Row.project)]
