"""Unified limits: what Nova, Cinder, Glance... read through oslo.limit for quotas.

A *registered limit* is a service's default limit of one resource (`cores`), in one
region or everywhere; a *limit* is a project's or a domain's own value of a registered
resource. Keystone's rules, with its status codes:

* what a limit names must exist: the service, the region, the project or domain
  (InvalidArgument naming the field, 400);
* a limit needs a registered limit of the same service, region and resource
  (PermissionDenied, 403: Keystone's NoLimitReference);
* no two registered limits of one service, region and resource, and no two limits of
  one registered resource for one project or domain (AlreadyExists, 409);
* a registered limit that limits refer to can be neither changed nor deleted
  (PermissionDenied, 403: Keystone's RegisteredLimitError);
* values are integers from -1 (unlimited) to 2**31 - 1.

A limit given a `project_id` that names a project acting as a domain (a domain, here) is
that domain's limit, as in Keystone. The enforcement model is `flat`: limits are not
checked against the project hierarchy. Limits change no token.
"""

from .change_feed import Writer
from .errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from .store import Store

MIN_LIMIT, MAX_LIMIT = -1, 0x7FFFFFFF
MODEL = {"name": "flat",
         "description": "Limit enforcement and validation does not take project hierarchy "
                        "into consideration."}


def check_value(field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(field, f"{value!r} is not of type 'integer'")
    if not MIN_LIMIT <= value <= MAX_LIMIT:
        raise InvalidArgument(field, f"must be from {MIN_LIMIT} to {MAX_LIMIT}")
    return value


def check_resource_name(value) -> str:
    if not isinstance(value, str):
        raise InvalidArgument("resource_name", f"{value!r} is not of type 'string'")
    if not 1 <= len(value) <= 255:
        raise InvalidArgument("resource_name", "is 1 to 255 characters long")
    return value


def check_description(value) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidArgument("description", f"{value!r} is not of type 'string'")
    return value


def _in_use(registered_id: str) -> PermissionDenied:
    return PermissionDenied(f"Unable to update or delete registered limit {registered_id} "
                            "because there are project limits associated with it.")


class Limits:
    def __init__(self, store: Store, writer: Writer):
        self._store = store
        self._writer = writer

    def model(self) -> dict:
        return dict(MODEL)

    # ---- what limits name ------------------------------------------------------

    def _service_and_region(self, service_id, region_id) -> None:
        if not isinstance(service_id, str) or self._store.catalog.find_service(service_id) is None:
            raise InvalidArgument("service_id", f"no service {service_id!r}")
        if region_id is not None and (not isinstance(region_id, str)
                                      or self._store.catalog.find_region(region_id) is None):
            raise InvalidArgument("region_id", f"no region {region_id!r}")

    def _owner(self, project_id, domain_id) -> tuple[str | None, str | None]:
        """(project id, domain id) of a limit's owner, exactly one of them set."""
        if (project_id is None) == (domain_id is None):
            raise InvalidArgument("project_id", "a limit is for a project_id or a domain_id, "
                                                "exactly one of them")
        resources = self._store.resources
        if project_id is not None:
            if isinstance(project_id, str) and resources.find_project(project_id) is not None:
                return project_id, None
            if isinstance(project_id, str) and resources.find_domain(project_id) is not None:
                return None, project_id  # a project acting as a domain: the domain's limit
            raise InvalidArgument("project_id", f"no project {project_id!r}")
        if not isinstance(domain_id, str) or resources.find_domain(domain_id) is None:
            raise InvalidArgument("domain_id", f"no domain {domain_id!r}")
        return None, domain_id

    # ---- registered limits -------------------------------------------------------

    def create_registered(self, items: list[dict]) -> list:
        """Each item: service_id, region_id (None: everywhere), resource_name,
        default_limit, description. All or none are created."""
        if not items:
            raise InvalidArgument("registered_limits", "[] is too short")
        checked, seen = [], set()
        for item in items:
            self._service_and_region(item.get("service_id"), item.get("region_id"))
            entry = dict(service_id=item["service_id"], region_id=item.get("region_id"),
                         resource_name=check_resource_name(item.get("resource_name")),
                         default_limit=check_value("default_limit", item.get("default_limit")),
                         description=check_description(item.get("description")))
            key = (entry["service_id"], entry["region_id"] or "", entry["resource_name"])
            if key in seen:
                raise AlreadyExists("Conflict occurred attempting to store registered_limit - "
                                    "Duplicate entry.")
            seen.add(key)
            checked.append(entry)
        conflict = "Conflict occurred attempting to store registered_limit - Duplicate entry."
        with self._writer.unique(conflict):
            limits = self._store.limits
            for entry in checked:
                if limits.registered_for(entry["service_id"], entry["region_id"],
                                         entry["resource_name"]) is not None:
                    raise AlreadyExists(conflict)
            return [limits.create_registered(**entry) for entry in checked]

    def get_registered(self, registered_id: str):
        return self._store.limits.get_registered(registered_id)

    def list_registered(self, **filters) -> tuple[list, str]:
        return self._store.limits.list_registered(**filters)

    def update_registered(self, registered_id: str, **changes):
        """Changes service_id, region_id, resource_name, default_limit, description;
        refused while limits refer to it."""
        fields = {}
        current = self._store.limits.get_registered(registered_id)
        if "service_id" in changes or "region_id" in changes:
            service_id = changes.get("service_id", current.service_id)
            region_id = changes.get("region_id", current.region_id) or None
            self._service_and_region(service_id, region_id)
            fields.update(service=service_id, region=region_id, region_key=region_id or "")
        if "resource_name" in changes:
            fields["resource_name"] = check_resource_name(changes["resource_name"])
        if "default_limit" in changes:
            fields["default_limit"] = check_value("default_limit", changes["default_limit"])
        if "description" in changes:
            fields["description"] = check_description(changes["description"])
        conflict = "Conflict occurred attempting to store registered_limit - Duplicate entry."
        with self._writer.unique(conflict):
            if self._store.limits.count_limits_of(registered_id):
                raise _in_use(registered_id)

            def change(row) -> dict:
                after = {"service": row.service_id, "region_key": row.region_key,
                         "resource_name": row.resource_name, **fields}
                clash = self._store.limits.registered_for(after["service"],
                                                          after["region_key"] or None,
                                                          after["resource_name"])
                if clash is not None and clash.id != row.id:
                    raise AlreadyExists(conflict)
                return fields
            return self._store.limits.update_registered(registered_id, change)

    def delete_registered(self, registered_id: str) -> None:
        with self._writer.transaction():
            self._store.limits.get_registered(registered_id)
            if self._store.limits.count_limits_of(registered_id):
                raise _in_use(registered_id)
            self._store.limits.delete_registered(registered_id)

    # ---- limits --------------------------------------------------------------------

    def create_limits(self, items: list[dict]) -> list:
        """Each item: project_id or domain_id, service_id, region_id (None: the
        registered limit of every region), resource_name, resource_limit, description.
        All or none are created."""
        if not items:
            raise InvalidArgument("limits", "[] is too short")
        checked, seen = [], set()
        limits = self._store.limits
        for item in items:
            project_id, domain_id = self._owner(item.get("project_id"), item.get("domain_id"))
            self._service_and_region(item.get("service_id"), item.get("region_id"))
            resource_name = check_resource_name(item.get("resource_name"))
            registered = limits.registered_for(item["service_id"], item.get("region_id"),
                                               resource_name)
            if registered is None:
                raise PermissionDenied("Unable to create a limit that has no corresponding "
                                       "registered limit.")
            key = (registered.id, project_id or domain_id)
            if key in seen:
                raise AlreadyExists("Conflict occurred attempting to store limit - "
                                    "Duplicate entry.")
            seen.add(key)
            checked.append(dict(registered_id=registered.id, project_id=project_id,
                                domain_id=domain_id,
                                resource_limit=check_value("resource_limit",
                                                           item.get("resource_limit")),
                                description=check_description(item.get("description"))))
        conflict = "Conflict occurred attempting to store limit - Duplicate entry."
        with self._writer.unique(conflict):
            for entry in checked:
                if limits.limit_for(entry["registered_id"],
                                    entry["project_id"] or entry["domain_id"]) is not None:
                    raise AlreadyExists(conflict)
            made = [limits.create_limit(**entry).id for entry in checked]
        return [limits.get_limit(limit_id) for limit_id in made]

    def get_limit(self, limit_id: str):
        return self._store.limits.get_limit(limit_id)

    def find_limit(self, limit_id: str):
        return self._store.limits.find_limit(limit_id)

    def list_limits(self, **filters) -> tuple[list, str]:
        return self._store.limits.list_limits(**filters)

    def update_limit(self, limit_id: str, **changes):
        """Changes resource_limit and description only."""
        fields = {}
        if "resource_limit" in changes:
            fields["resource_limit"] = check_value("resource_limit", changes["resource_limit"])
        if "description" in changes:
            fields["description"] = check_description(changes["description"])
        with self._writer.transaction():
            return self._store.limits.update_limit(limit_id, lambda row: fields)

    def delete_limit(self, limit_id: str) -> None:
        with self._writer.transaction():
            if not self._store.limits.delete_limit(limit_id):
                raise NotFound(f"limit {limit_id} not found")
