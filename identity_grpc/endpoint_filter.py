"""Endpoint filtering (Keystone's OS-EP-FILTER): which endpoints a project's catalog
shows.

An endpoint group is a set of filters (`service_id`, `region_id`, `interface`; every
one given must match) naming the endpoints that match them now and later. An
endpoint or an endpoint group is given to a project; a project given any is a
filtered project, and its tokens' catalogs (and `GET /v3/auth/catalog`) hold only the
endpoints given to it directly or matched by one of its groups, and only the services
left with an endpoint. A project given none sees the whole catalog, as in Keystone.
Unlike Keystone, a filtered project whose filters match nothing sees an empty catalog,
not the whole one: a filter never widens what a project sees.

Every change announces ("catalog", id), which drops the rendered catalogs on every
server, so tokens show it at once. An association goes with its project, endpoint or
group (the store's cascade).
"""

from dataclasses import dataclass

from identity_api.changes import Kind

from .change_feed import Writer
from .errors import InvalidArgument, NotFound
from .store import Store
from .store.endpoint_filter import filters_of
from .store.models import new_id
from .validation import check_id, check_name, check_text

FILTER_KEYS = ("service_id", "region_id", "interface")


@dataclass(frozen=True, slots=True)
class ProjectFilter:
    """What a filtered project's catalog may show: the endpoints given to it, and
    those matching any of its groups' filters."""

    endpoint_ids: frozenset[str]
    group_filters: tuple[tuple[tuple[str, str], ...], ...]

    def allows(self, endpoint_id: str, service_id: str, region_id: str | None,
               interface: str) -> bool:
        if endpoint_id in self.endpoint_ids:
            return True
        fields = {"service_id": service_id, "region_id": region_id or "", "interface": interface}
        return any(all(fields[key] == value for key, value in filters)
                   for filters in self.group_filters)


class EndpointFilter:
    """Owns endpoint groups and the project associations; promises the catalog the
    filter of each project as it is now."""

    def __init__(self, store: Store, writer: Writer):
        self._store = store
        self._writer = writer

    # ---- what the catalog asks ---------------------------------------------------

    def filter_of_project(self, project_id: str) -> ProjectFilter | None:
        """The project's filter; None when it has none (it sees the whole catalog)."""
        store = self._store.endpoint_filter
        endpoint_ids = store.endpoint_ids_of_project(project_id)
        groups = store.groups_of_project(project_id)
        if not endpoint_ids and not groups:
            return None
        return ProjectFilter(frozenset(endpoint_ids),
                             tuple(tuple(sorted(filters_of(g).items())) for g in groups))

    # ---- endpoint groups ---------------------------------------------------------

    def get_group(self, group_id: str):
        _check_id("endpoint_group_id", group_id)
        return self._store.endpoint_filter.get_group(group_id)

    def list_groups(self, name: str = "", page_size: int = 0, page_token: str = ""):
        check_text("name", name)
        return self._store.endpoint_filter.list_groups(name, page_size, page_token)

    def create_group(self, name: str, filters: dict, description: str = ""):
        check_name("endpoint_group.name", name)
        check_text("endpoint_group.description", description)
        filters = _checked_filters(filters)
        if not filters:
            raise InvalidArgument("endpoint_group.filters", "is required and cannot be empty")
        with self._writer.transaction() as tx:
            group = self._store.endpoint_filter.create_group(new_id(), name, description, filters)
            tx.changed(Kind.CATALOG, group.id)
        return group

    def update_group(self, group_id: str, **changes):
        group = self.get_group(group_id)
        if "name" in changes:
            check_name("endpoint_group.name", changes["name"])
        check_text("endpoint_group.description", changes.get("description", ""))
        if "filters" in changes:
            changes["filters"] = _checked_filters(changes["filters"])
            if not changes["filters"]:
                raise InvalidArgument("endpoint_group.filters", "cannot be empty")
        if not changes:
            return group
        with self._writer.transaction() as tx:
            group = self._store.endpoint_filter.update_group(group_id, lambda row: changes)
            tx.changed(Kind.CATALOG, group_id)
        return group

    def delete_group(self, group_id: str) -> None:
        """Its projects no longer see its endpoints (nor, given nothing else, are
        they filtered any more)."""
        self.get_group(group_id)
        with self._writer.transaction() as tx:
            if not self._store.endpoint_filter.delete_group(group_id):
                raise NotFound(f"endpoint group {group_id} not found")
            tx.changed(Kind.CATALOG, group_id)

    def endpoints_in_group(self, group_id: str) -> list:
        """The endpoints matching the group's filters now, by id (disabled ones too)."""
        filters = filters_of(self.get_group(group_id))
        return self._store.catalog.endpoints_matching(**filters)

    def projects_of_group(self, group_id: str) -> list:
        self.get_group(group_id)
        return self._projects(self._store.endpoint_filter.project_ids_of_group(group_id))

    def groups_of_project(self, project_id: str) -> list:
        self._project(project_id)
        return self._store.endpoint_filter.groups_of_project(project_id)

    def add_group_to_project(self, group_id: str, project_id: str) -> None:
        self.get_group(group_id)
        self._project(project_id)
        with self._writer.transaction() as tx:
            if self._store.endpoint_filter.add_project_group(project_id, group_id):
                tx.changed(Kind.CATALOG, project_id)

    def check_group_in_project(self, group_id: str, project_id: str) -> None:
        self.get_group(group_id)
        self._project(project_id)
        if not self._store.endpoint_filter.has_project_group(project_id, group_id):
            raise NotFound(f"endpoint group {group_id} is not given to project {project_id}")

    def remove_group_from_project(self, group_id: str, project_id: str) -> None:
        self.get_group(group_id)
        self._project(project_id)
        with self._writer.transaction() as tx:
            if not self._store.endpoint_filter.remove_project_group(project_id, group_id):
                raise NotFound(f"endpoint group {group_id} is not given to project {project_id}")
            tx.changed(Kind.CATALOG, project_id)

    # ---- endpoints given to projects ---------------------------------------------

    def add_endpoint_to_project(self, project_id: str, endpoint_id: str) -> None:
        self._endpoint(endpoint_id)
        self._project(project_id)
        with self._writer.transaction() as tx:
            if self._store.endpoint_filter.add_project_endpoint(project_id, endpoint_id):
                tx.changed(Kind.CATALOG, project_id)

    def check_endpoint_in_project(self, project_id: str, endpoint_id: str) -> None:
        self._endpoint(endpoint_id)
        self._project(project_id)
        if not self._store.endpoint_filter.has_project_endpoint(project_id, endpoint_id):
            raise NotFound(f"endpoint {endpoint_id} is not given to project {project_id}")

    def remove_endpoint_from_project(self, project_id: str, endpoint_id: str) -> None:
        _check_id("project_id", project_id)
        _check_id("endpoint_id", endpoint_id)
        with self._writer.transaction() as tx:
            if not self._store.endpoint_filter.remove_project_endpoint(project_id, endpoint_id):
                raise NotFound(f"endpoint {endpoint_id} is not given to project {project_id}")
            tx.changed(Kind.CATALOG, project_id)

    def endpoints_of_project(self, project_id: str) -> list:
        """Every endpoint the project is given, directly or through its groups, by id."""
        self._project(project_id)
        store = self._store.endpoint_filter
        found = {e.id: e for e in self._store.catalog.endpoints_by_ids(
            store.endpoint_ids_of_project(project_id))}
        for group in store.groups_of_project(project_id):
            for endpoint in self._store.catalog.endpoints_matching(**filters_of(group)):
                found.setdefault(endpoint.id, endpoint)
        return [found[k] for k in sorted(found)]

    def projects_of_endpoint(self, endpoint_id: str) -> list:
        """The projects the endpoint is given to directly (not through groups)."""
        self._endpoint(endpoint_id)
        return self._projects(self._store.endpoint_filter.project_ids_of_endpoint(endpoint_id))

    # ---- shared ------------------------------------------------------------------

    def _project(self, project_id: str):
        _check_id("project_id", project_id)
        return self._store.resources.get_project(project_id)

    def _endpoint(self, endpoint_id: str):
        _check_id("endpoint_id", endpoint_id)
        return self._store.catalog.get_endpoint(endpoint_id)

    def _projects(self, project_ids: list[str]) -> list:
        rows = self._store.resources.projects_by_ids(project_ids)
        return [rows[i] for i in project_ids if i in rows]


def _check_id(field: str, value: str) -> None:
    if not value:
        raise InvalidArgument(field, "is required")
    check_id(field, value)


def _checked_filters(filters) -> dict[str, str]:
    if not isinstance(filters, dict):
        raise InvalidArgument("endpoint_group.filters", "must be an object")
    for key, value in filters.items():
        if key not in FILTER_KEYS:
            raise InvalidArgument("endpoint_group.filters",
                                  f"{key!r} is not a filter; the filters are "
                                  + ", ".join(FILTER_KEYS))
        if not isinstance(value, str) or not value:
            raise InvalidArgument(f"endpoint_group.filters.{key}", "must be a non-empty string")
        if key == "region_id":
            check_text(f"endpoint_group.filters.{key}", value, 255)
        else:
            check_id(f"endpoint_group.filters.{key}", value)
    return dict(filters)
