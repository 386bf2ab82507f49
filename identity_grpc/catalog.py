"""The service catalog: services, their endpoints, and regions.

A deployment has tens of services, so the whole catalog is held in memory and read
again only when it changes. Endpoint URLs are templates, as Keystone's are:
`$(project_id)s` and `$(tenant_id)s` are filled in with the token's project,
`$(user_id)s` with its user, and each may be written `%(...)s` too (Keystone turns `$(`
into `%(` and formats with Python's `%`). An endpoint whose template cannot be filled
(a project key on a token with no project) is left out, as Keystone does; a template
naming any other key is refused when the endpoint is created or changed.

Every change announces ("catalog", id of what changed), which drops the in-memory
catalog on every server, so tokens show the change at once. A region in use by
endpoints or child regions cannot be deleted; deleting a service deletes its
endpoints.
"""

import logging
import re
import threading
from typing import Callable

from identity_api.changes import Kind

from .errors import FailedPrecondition, InvalidArgument, NotFound
from .records import EndpointRecord, ServiceRecord
from .sizing import MIB, estimate
from .store.models import new_id
from .store import Store
from .change_feed import Writer
from .validation import check_name, check_text

INTERFACES = ("public", "internal", "admin")
PROJECT_KEYS = ("project_id", "tenant_id")
TEMPLATE_KEYS = (*PROJECT_KEYS, "user_id")  # Keystone's, less its deployment-config ones
_OPENING = re.compile(r"[$%]\(")
_TEMPLATE = re.compile(r"[$%]\(([^()]*)\)s")

log = logging.getLogger(__name__)


class Catalog:
    """Owns regions, services and endpoints; promises a rendered catalog that no change
    outlives."""

    def __init__(self, store: Store, writer: Writer, max_bytes: int = 16 * MIB,
                 project_filter: Callable[[str], object | None] = lambda project_id: None):
        self._store = store
        self._writer = writer
        # A project's endpoint filter (`endpoint_filter.ProjectFilter`: its `allows`),
        # None when the project sees the whole catalog.
        self._project_filter = project_filter
        self._generation = 0
        # Rendered catalogs kept, in estimated bytes (a render of a large catalog is
        # large, and there is one per project, or per user and project).
        self._max_bytes = max_bytes
        self._rendered_bytes = 0
        # The enabled services, and whether any endpoint names the user (then catalogs
        # are rendered per user and project, else per project): replaced together.
        self._loaded: tuple[tuple[ServiceRecord, ...], bool] | None = None
        self._rendered: dict[tuple[str, str], tuple[tuple[ServiceRecord, ...], int]] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Called on any catalog change."""
        with self._lock:
            self._generation += 1
            self._loaded = None
            self._rendered, self._rendered_bytes = {}, 0

    def for_project(self, project_id: str | None, user_id: str = "") -> tuple[ServiceRecord, ...]:
        """The catalog as a token of `user_id` scoped to `project_id` (or to no project) sees it."""
        generation = self._generation
        services, per_user = self._load()
        key = (project_id or "", user_id if per_user else "")
        entry = self._rendered.get(key)
        if entry is not None:
            return entry[0]
        if project_id and (allowed := self._project_filter(project_id)) is not None:
            services = _filtered(services, allowed)
        rendered = _render(services, {"project_id": project_id, "tenant_id": project_id,
                                      "user_id": user_id})
        self._keep(key, rendered, estimate(rendered) + estimate(key), generation)
        return rendered

    def _keep(self, key: tuple[str, str], rendered: tuple[ServiceRecord, ...], size: int,
              generation: int) -> None:
        """Keep a render, the oldest ones going past the budget (a render that alone
        passes it is served, not kept, and so is one computed while a change came)."""
        if size > self._max_bytes:
            return
        with self._lock:
            kept = self._rendered
            if key in kept or generation != self._generation:
                return
            while kept and self._rendered_bytes + size > self._max_bytes:
                self._rendered_bytes -= kept.pop(next(iter(kept)))[1]
            kept[key] = (rendered, size)
            self._rendered_bytes += size

    @property
    def rendered_bytes(self) -> int:
        return self._rendered_bytes

    def _load(self) -> tuple[tuple[ServiceRecord, ...], bool]:
        loaded = self._loaded
        if loaded is None:
            generation = self._generation
            endpoints: dict[str, list[EndpointRecord]] = {}
            per_user = False
            for e in self._store.catalog.enabled_endpoints():
                if problem := url_template_problem(e.url):  # stored before templates were checked
                    log.warning("endpoint %s is left out of every catalog: %s", e.id, problem)
                    continue
                per_user = per_user or "user_id" in template_keys(e.url)
                endpoints.setdefault(e.service_id, []).append(
                    EndpointRecord(id=e.id, interface=e.interface, region=e.region_id or "",
                                   url=e.url))
            services = tuple(
                ServiceRecord(id=s.id, type=s.type, name=s.name,
                              endpoints=tuple(endpoints.get(s.id, ())))
                for s in self._store.catalog.enabled_services())
            loaded = (services, per_user)
            with self._lock:
                if generation == self._generation:  # else it may predate the change
                    self._loaded = loaded
        return loaded

    # ---- regions -----------------------------------------------------------

    def get_region(self, region_id: str):
        return _get(self._store.catalog.find_region, "region", region_id)

    def list_regions(self, parent_region_id: str = "", page_size: int = 0,
                     page_token: str = "") -> tuple[list, str]:
        _check_text("parent_region_id", parent_region_id)
        return self._store.catalog.list_regions(parent_region_id, page_size, page_token)

    def create_region(self, region_id: str = "", description: str = "",
                      parent_region_id: str | None = None):
        region_id = region_id or new_id()
        check_name("region.id", region_id)
        _check_text("region.description", description)
        if parent_region_id:
            self._parent_region(parent_region_id)
        with self._writer.unique(f"region {region_id!r} already exists") as tx:
            region = self._store.catalog.create_region(region_id, description, parent_region_id)
            tx.changed(Kind.CATALOG, region.id)
        return region

    def update_region(self, region_id: str, **changes):
        region = self.get_region(region_id)
        _check_text("region.description", changes.get("description", ""))
        if "parent_region_id" in changes:
            parent_id = changes.pop("parent_region_id") or None
            if parent_id:
                self._parent_region(parent_id, moving=region_id)
            changes["parent_region"] = parent_id
        return self._apply(self._store.catalog.update_region, region, changes)

    def delete_region(self, region_id: str) -> None:
        """Refused while endpoints or child regions use the region."""
        self.get_region(region_id)
        catalog = self._store.catalog
        with self._writer.transaction() as tx:
            users = []
            for noun, ids in (("endpoint", catalog.endpoint_ids_in_region(region_id)),
                              ("child region", catalog.child_region_ids(region_id))):
                if ids:
                    users.append(_some(noun, ids))
            if users:
                raise FailedPrecondition(
                    f"region {region_id!r} is still used by {' and '.join(users)}")
            catalog.delete_region(region_id)
            tx.changed(Kind.CATALOG, region_id)

    def _parent_region(self, parent_id: str, moving: str | None = None) -> None:
        """Check that `parent_id` exists and, when `moving` is given, that making it
        the parent of region `moving` makes no cycle."""
        seen: set[str] = set()
        current: str | None = parent_id
        while current and current not in seen:
            if current == moving:
                raise InvalidArgument("parent_region_id", "a region cannot be placed below itself")
            seen.add(current)
            row = self._store.catalog.find_region(current)
            if row is None:
                raise NotFound(f"parent region {current} not found")
            current = row.parent_region_id

    # ---- services ----------------------------------------------------------

    def get_service(self, service_id: str):
        return _get(self._store.catalog.find_service, "service", service_id)

    def list_services(self, type: str = "", name: str = "", page_size: int = 0,
                      page_token: str = "") -> tuple[list, str]:
        _check_text("type", type)
        _check_text("name", name)
        return self._store.catalog.list_services(type, name, page_size, page_token)

    def create_service(self, type: str, name: str = "", description: str = "",
                       enabled: bool = True):
        _check_service(type=type, name=name, description=description)
        with self._writer.transaction() as tx:
            service = self._store.catalog.create_service(type, name, description, enabled)
            tx.changed(Kind.CATALOG, service.id)
        return service

    def update_service(self, service_id: str, **changes):
        service = self.get_service(service_id)
        _check_service(**changes)
        return self._apply(self._store.catalog.update_service, service, changes)

    def delete_service(self, service_id: str) -> None:
        """Delete a service and, with it, its endpoints."""
        self.get_service(service_id)
        with self._writer.transaction() as tx:
            doomed = self._store.catalog.delete_service(service_id)
            for endpoint_id in doomed:
                tx.changed(Kind.CATALOG, endpoint_id)
            tx.changed(Kind.CATALOG, service_id)

    def find_service(self, type: str, name: str):
        return self._store.catalog.find_service_by_type_and_name(type, name)

    # ---- endpoints ---------------------------------------------------------

    def get_endpoint(self, endpoint_id: str):
        return _get(self._store.catalog.find_endpoint, "endpoint", endpoint_id)

    def list_endpoints(self, service_id: str = "", interface: str = "", region_id: str = "",
                       enabled: bool | None = None, page_size: int = 0,
                       page_token: str = "") -> tuple[list, str]:
        if interface:
            _check_interface(interface)
        _check_text("service_id", service_id)
        _check_text("region_id", region_id)
        return self._store.catalog.list_endpoints(service_id, interface, region_id, enabled,
                                                  page_size, page_token)

    def create_endpoint(self, service_id: str, interface: str, url: str,
                        region_id: str | None = None, enabled: bool = True,
                        create_region: bool = False):
        """`create_region`: a region of that id that does not exist is created with
        the endpoint (Keystone's legacy `region` field), instead of NOT_FOUND."""
        _check_interface(interface)
        _check_url(url)
        if not service_id:
            raise InvalidArgument("endpoint.service_id", "is required")
        self.get_service(service_id)
        missing = self._missing_region(region_id, create_region)
        with self._writer.transaction() as tx:
            self._create_missing(missing, tx)
            endpoint = self._store.catalog.create_endpoint(service_id, interface, url, region_id,
                                                           enabled)
            tx.changed(Kind.CATALOG, endpoint.id)
        return endpoint

    def update_endpoint(self, endpoint_id: str, create_region: bool = False, **changes):
        """`service_id` moves the endpoint to another service; `create_region` as for
        `create_endpoint`."""
        endpoint = self.get_endpoint(endpoint_id)
        if "interface" in changes:
            _check_interface(changes["interface"])
        if "url" in changes:
            _check_url(changes["url"])
        if "service_id" in changes:
            service_id = changes.pop("service_id")
            if not service_id:
                raise InvalidArgument("endpoint.service_id", "must not be empty")
            changes["service"] = self.get_service(service_id).id
        missing = None
        if "region_id" in changes:
            region_id = changes.pop("region_id") or None
            missing = self._missing_region(region_id, create_region)
            changes["region"] = region_id
        if missing is None:
            return self._apply(self._store.catalog.update_endpoint, endpoint, changes)
        with self._writer.transaction() as tx:
            self._create_missing(missing, tx)
            row = self._store.catalog.update_endpoint(endpoint.id, lambda current: changes)
            tx.changed(Kind.CATALOG, row.id)
        return row

    def _missing_region(self, region_id: str | None, create: bool) -> str | None:
        """The region to create with the endpoint (None: none), after checking that
        `region_id` exists unless it may be created."""
        if not region_id:
            return None
        if create and self._store.catalog.find_region(region_id) is None:
            check_name("region.id", region_id)
            return region_id
        self.get_region(region_id)
        return None

    def _create_missing(self, region_id: str | None, tx) -> None:
        if region_id:
            self._store.catalog.create_region(region_id)
            tx.changed(Kind.CATALOG, region_id)

    def delete_endpoint(self, endpoint_id: str) -> None:
        self.get_endpoint(endpoint_id)
        with self._writer.transaction() as tx:
            self._store.catalog.delete_endpoint(endpoint_id)
            tx.changed(Kind.CATALOG, endpoint_id)

    # ---- shared --------------------------------------------------------------

    def _apply(self, update, row, changes: dict):
        """`row` with `changes` written by `update` (a CatalogStore method), announced."""
        if not changes:
            return row
        with self._writer.transaction() as tx:
            row = update(row.id, lambda current: changes)
            tx.changed(Kind.CATALOG, row.id)
        return row


def _get(find, what: str, row_id: str):
    if "\x00" in row_id:
        raise InvalidArgument(f"{what}.id", "must not contain NUL characters")
    row = find(row_id) if row_id else None
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


def _some(noun: str, ids: list[str], shown: int = 5) -> str:
    """"2 endpoints (a, b)": what still uses a row, naming the first few."""
    named = ", ".join(ids[:shown]) + (", ..." if len(ids) > shown else "")
    return f"{len(ids)} {noun}{'s' if len(ids) != 1 else ''} ({named})"


def _check_text(field: str, value: str) -> None:
    check_text(field, value)


def _check_service(**fields) -> None:
    if "type" in fields:
        check_name("service.type", fields["type"])
    if fields.get("name"):
        check_name("service.name", fields["name"])
    _check_text("service.description", fields.get("description", ""))


def _check_interface(interface: str) -> None:
    if interface not in INTERFACES:
        raise InvalidArgument("endpoint.interface", f"must be one of {', '.join(INTERFACES)}")


def _check_url(url: str) -> None:
    if not url or not url.strip():
        raise InvalidArgument("endpoint.url", "must not be empty")
    _check_text("endpoint.url", url)
    if problem := url_template_problem(url):
        raise InvalidArgument("endpoint.url", problem)


def template_keys(url: str) -> set[str]:
    return {m.group(1) for m in _TEMPLATE.finditer(url)}


def url_template_problem(url: str) -> str | None:
    """What keeps `url` from being a template Keystone could fill, else None. Every
    `$(` or `%(` must open `$(key)s` / `%(key)s` of a known key; other `%` (escapes
    such as `%20`) are kept as they are."""
    for opening in _OPENING.finditer(url):
        template = _TEMPLATE.match(url, opening.start())
        if template is None:
            return (f"malformed substitution at {url[opening.start():opening.start() + 20]!r}: "
                    "write $(key)s or %(key)s")
        if template.group(1) not in TEMPLATE_KEYS:
            return (f"unknown substitution {template.group(0)!r}; known: "
                    + ", ".join(f"$({key})s" for key in TEMPLATE_KEYS) + " (or %(...)s)")
    return None


def _fill(url: str, values: dict[str, str | None]) -> str | None:
    """`url` with its substitutions filled in, or None when one has no value."""
    if "(" not in url:
        return url
    missing = False

    def value(match: re.Match) -> str:
        nonlocal missing
        filled = values.get(match.group(1))
        missing = missing or not filled
        return filled or ""

    filled = _TEMPLATE.sub(value, url)
    return None if missing else filled


def _filtered(services: tuple[ServiceRecord, ...], allowed) -> tuple[ServiceRecord, ...]:
    """A filtered project's services: only its endpoints, and only the services left
    with one (Keystone drops the others)."""
    kept = []
    for service in services:
        endpoints = tuple(e for e in service.endpoints
                          if allowed.allows(e.id, service.id, e.region, e.interface))
        if endpoints:
            kept.append(ServiceRecord(service.id, service.type, service.name, endpoints))
    return tuple(kept)


def _render(services: tuple[ServiceRecord, ...], values: dict[str, str | None]):
    rendered = []
    for service in services:
        endpoints = []
        for e in service.endpoints:
            url = _fill(e.url, values)
            if url is None:
                continue  # e.g. a project's URL in a domain-scoped token's catalog
            endpoints.append(e if url == e.url else EndpointRecord(e.id, e.interface, e.region, url))
        rendered.append(ServiceRecord(service.id, service.type, service.name, tuple(endpoints)))
    return tuple(rendered)
