"""The service catalog (tables Region, Service, Endpoint).

A region is deleted only when no endpoint and no child region uses it (the store
refuses otherwise: an IntegrityError of kind `conflicts.REFERENCE`); a service is
deleted with its endpoints."""

from contextlib import nullcontext

from .base import Change, ConceptStore, present
from .paging import page
from .unique import refusing_clash


class CatalogStore(ConceptStore):
    # ---- what tokens carry -----------------------------------------------------

    def enabled_endpoints(self) -> list:
        """Every enabled endpoint, by id."""
        Endpoint = self.t.Endpoint
        return list(Endpoint.select().where(Endpoint.enabled == True)  # noqa: E712
                    .order_by(Endpoint.id))

    def enabled_services(self) -> list:
        """Every enabled service, by type."""
        Service = self.t.Service
        return list(Service.select().where(Service.enabled == True)  # noqa: E712
                    .order_by(Service.type))

    # ---- regions ---------------------------------------------------------------

    def find_region(self, region_id: str):
        Region = self.t.Region
        return Region.get_or_none(Region.id == region_id)

    def get_region(self, region_id: str):
        return present(self.find_region(region_id), f"region {region_id} not found")

    def list_regions(self, parent_region_id: str = "", page_size: int = 0,
                     page_token: str = "") -> tuple[list, str]:
        """One page of the regions (of one parent's children), by id."""
        Region = self.t.Region
        query = Region.select()
        if parent_region_id:
            query = query.where(Region.parent_region == parent_region_id)
        return page(query, (Region.id,), page_size, page_token)

    def create_region(self, region_id: str, description: str = "",
                      parent_region_id: str | None = None):
        with refusing_clash(f"region {region_id!r} already exists"):
            return self.t.Region.create(id=region_id, description=description,
                                        parent_region=parent_region_id or None)

    def update_region(self, region_id: str, change: Change):
        """`change(row)` gives the fields to set (`parent_region`)."""
        return self.update(self.t.Region, region_id, change, f"region {region_id} not found")

    def endpoint_ids_in_region(self, region_id: str) -> list[str]:
        Endpoint = self.t.Endpoint
        return [e.id for e in Endpoint.select(Endpoint.id)
                .where(Endpoint.region == region_id).order_by(Endpoint.id)]

    def child_region_ids(self, region_id: str) -> list[str]:
        Region = self.t.Region
        return [r.id for r in Region.select(Region.id)
                .where(Region.parent_region == region_id).order_by(Region.id)]

    def delete_region(self, region_id: str) -> int:
        """Rows deleted (0 or 1); refused while endpoints or child regions use it."""
        Region = self.t.Region
        return Region.delete().where(Region.id == region_id).execute()

    # ---- services --------------------------------------------------------------

    def find_service(self, service_id: str):
        Service = self.t.Service
        return Service.get_or_none(Service.id == service_id)

    def get_service(self, service_id: str):
        return present(self.find_service(service_id), f"service {service_id} not found")

    def find_service_by_type_and_name(self, type: str, name: str):
        Service = self.t.Service
        return Service.get_or_none((Service.type == type) & (Service.name == name))

    def list_services(self, type: str = "", name: str = "", page_size: int = 0,
                      page_token: str = "") -> tuple[list, str]:
        """One page of the services, by type, then name."""
        Service = self.t.Service
        query = Service.select()
        for field, value in ((Service.type, type), (Service.name, name)):
            if value:
                query = query.where(field == value)
        return page(query, (Service.type, Service.name, Service.id), page_size, page_token)

    def create_service(self, type: str, name: str = "", description: str = "",
                       enabled: bool = True):
        return self.t.Service.create(type=type, name=name, description=description,
                                     enabled=enabled)

    def update_service(self, service_id: str, change: Change):
        return self.update(self.t.Service, service_id, change, f"service {service_id} not found")

    def delete_service(self, service_id: str) -> list[str]:
        """Deletes the service and its endpoints; the ids of those endpoints."""
        Service, Endpoint = self.t.Service, self.t.Endpoint
        with nullcontext() if self.db.in_transaction() else self.db.atomic():
            doomed = [e.id for e in Endpoint.select(Endpoint.id).where(Endpoint.service == service_id)]
            Endpoint.delete().where(Endpoint.service == service_id).execute()
            Service.delete().where(Service.id == service_id).execute()
        return doomed

    # ---- endpoints -------------------------------------------------------------

    def find_endpoint(self, endpoint_id: str):
        Endpoint = self.t.Endpoint
        return Endpoint.get_or_none(Endpoint.id == endpoint_id)

    def get_endpoint(self, endpoint_id: str):
        return present(self.find_endpoint(endpoint_id), f"endpoint {endpoint_id} not found")

    def list_endpoints(self, service_id: str = "", interface: str = "", region_id: str = "",
                       enabled: bool | None = None, page_size: int = 0,
                       page_token: str = "") -> tuple[list, str]:
        """One page of the endpoints, by id."""
        Endpoint = self.t.Endpoint
        query = Endpoint.select()
        for field, value in ((Endpoint.service, service_id), (Endpoint.interface, interface),
                             (Endpoint.region, region_id)):
            if value:
                query = query.where(field == value)
        if enabled is not None:
            query = query.where(Endpoint.enabled == enabled)
        return page(query, (Endpoint.id,), page_size, page_token)

    def create_endpoint(self, service_id: str, interface: str, url: str,
                        region_id: str | None = None, enabled: bool = True):
        return self.t.Endpoint.create(service=service_id, interface=interface, url=url,
                                      region=region_id or None, enabled=enabled)

    def update_endpoint(self, endpoint_id: str, change: Change):
        """`change(row)` gives the fields to set (`region`, not `region_id`)."""
        return self.update(self.t.Endpoint, endpoint_id, change,
                           f"endpoint {endpoint_id} not found")

    def endpoints_matching(self, service_id: str = "", region_id: str = "",
                           interface: str = "") -> list:
        """Every endpoint (disabled ones too) with the given fields, by id: what an
        endpoint group's filters name."""
        Endpoint = self.t.Endpoint
        query = Endpoint.select()
        for field, value in ((Endpoint.service, service_id), (Endpoint.region, region_id),
                             (Endpoint.interface, interface)):
            if value:
                query = query.where(field == value)
        return list(query.order_by(Endpoint.id))

    def endpoints_by_ids(self, endpoint_ids) -> list:
        Endpoint = self.t.Endpoint
        ids = list(endpoint_ids)
        return list(Endpoint.select().where(Endpoint.id.in_(ids)).order_by(Endpoint.id)) if ids else []

    def delete_endpoint(self, endpoint_id: str) -> int:
        Endpoint = self.t.Endpoint
        return Endpoint.delete().where(Endpoint.id == endpoint_id).execute()
