"""Operations on regions, services and endpoints.

The catalog's rules ask nothing of the entity acted on, so each operation checks its
rule before looking anything up: a caller who may not read the catalog cannot learn
from NOT_FOUND what exists.
"""

from __future__ import annotations

from ..records import EndpointEntry, RegionEntry, ServiceEntry, TokenInfo
from .audited import audited
from .base import Ops


class CatalogOps(Ops):
    # ---- regions -----------------------------------------------------------

    def get_region(self, caller: TokenInfo, region_id: str) -> RegionEntry:
        self.enforce("get_region", caller, region_id=region_id)
        return RegionEntry.of(self.core.catalog.get_region(region_id))

    def list_regions(self, caller: TokenInfo, **filters) -> tuple[list[RegionEntry], str]:
        self.enforce("list_regions", caller)
        rows, token = self.core.catalog.list_regions(**filters)
        return [RegionEntry.of(r) for r in rows], token

    @audited("created.region", details=("parent_region_id",))
    def create_region(self, caller: TokenInfo, region_id: str = "", **fields) -> RegionEntry:
        self.enforce("create_region", caller)
        return RegionEntry.of(self.core.catalog.create_region(region_id, **fields))

    @audited("updated.region")
    def update_region(self, caller: TokenInfo, region_id: str, **changes) -> RegionEntry:
        self.enforce("update_region", caller, region_id=region_id)
        return RegionEntry.of(self.core.catalog.update_region(region_id, **changes))

    @audited("deleted.region")
    def delete_region(self, caller: TokenInfo, region_id: str) -> None:
        self.enforce("delete_region", caller, region_id=region_id)
        self.core.catalog.delete_region(region_id)

    # ---- services ----------------------------------------------------------

    def get_service(self, caller: TokenInfo, service_id: str) -> ServiceEntry:
        self.enforce("get_service", caller, service_id=service_id)
        return ServiceEntry.of(self.core.catalog.get_service(service_id))

    def list_services(self, caller: TokenInfo, **filters) -> tuple[list[ServiceEntry], str]:
        self.enforce("list_services", caller)
        rows, token = self.core.catalog.list_services(**filters)
        return [ServiceEntry.of(r) for r in rows], token

    @audited("created.service", details=("type", "name"))
    def create_service(self, caller: TokenInfo, type: str, **fields) -> ServiceEntry:
        self.enforce("create_service", caller)
        return ServiceEntry.of(self.core.catalog.create_service(type, **fields))

    @audited("updated.service")
    def update_service(self, caller: TokenInfo, service_id: str, **changes) -> ServiceEntry:
        self.enforce("update_service", caller, service_id=service_id)
        return ServiceEntry.of(self.core.catalog.update_service(service_id, **changes))

    @audited("deleted.service")
    def delete_service(self, caller: TokenInfo, service_id: str) -> None:
        self.enforce("delete_service", caller, service_id=service_id)
        self.core.catalog.delete_service(service_id)

    # ---- endpoints ---------------------------------------------------------

    def get_endpoint(self, caller: TokenInfo, endpoint_id: str) -> EndpointEntry:
        self.enforce("get_endpoint", caller, endpoint_id=endpoint_id)
        return EndpointEntry.of(self.core.catalog.get_endpoint(endpoint_id))

    def list_endpoints(self, caller: TokenInfo, **filters) -> tuple[list[EndpointEntry], str]:
        self.enforce("list_endpoints", caller)
        rows, token = self.core.catalog.list_endpoints(**filters)
        return [EndpointEntry.of(r) for r in rows], token

    @audited("created.endpoint", details=("service_id", "interface", "region_id"))
    def create_endpoint(self, caller: TokenInfo, service_id: str, interface: str, url: str,
                        **fields) -> EndpointEntry:
        self.enforce("create_endpoint", caller, service_id=service_id)
        return EndpointEntry.of(self.core.catalog.create_endpoint(service_id, interface, url,
                                                                  **fields))

    @audited("updated.endpoint")
    def update_endpoint(self, caller: TokenInfo, endpoint_id: str, **changes) -> EndpointEntry:
        self.enforce("update_endpoint", caller, endpoint_id=endpoint_id)
        return EndpointEntry.of(self.core.catalog.update_endpoint(endpoint_id, **changes))

    @audited("deleted.endpoint")
    def delete_endpoint(self, caller: TokenInfo, endpoint_id: str) -> None:
        self.enforce("delete_endpoint", caller, endpoint_id=endpoint_id)
        self.core.catalog.delete_endpoint(endpoint_id)
