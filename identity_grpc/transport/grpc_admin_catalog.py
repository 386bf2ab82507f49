"""Admin servicers for the catalog: regions, services and endpoints. Each method turns
a message into one operation call and back; policy is the operations' business."""

from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc

from ..operations import Operations
from . import grpc_admin_messages as msg
from .grpc_interceptor import current_caller

EMPTY = Empty()


def _page(request) -> dict:
    return {"page_size": request.page_size, "page_token": request.page_token}


def region(row) -> apb.Region:
    return apb.Region(id=row.id, description=row.description,
                      parent_region_id=row.parent_region_id or "")


def service(row) -> apb.Service:
    return apb.Service(id=row.id, type=row.type, name=row.name, description=row.description,
                       enabled=row.enabled)


def endpoint(row) -> apb.Endpoint:
    return apb.Endpoint(id=row.id, service_id=row.service_id, interface=row.interface,
                        region_id=row.region_id or "", url=row.url, enabled=row.enabled)


def _enabled(request) -> bool:
    return request.enabled if request.HasField("enabled") else True


class RegionsServicer(agrpc.RegionsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.catalog

    def CreateRegion(self, request, context):
        return region(self._ops.create_region(
            current_caller(), request.id, description=request.description,
            parent_region_id=request.parent_region_id or None))

    def GetRegion(self, request, context):
        return region(self._ops.get_region(current_caller(), request.id))

    def ListRegions(self, request, context):
        rows, token = self._ops.list_regions(
            current_caller(), parent_region_id=request.parent_region_id, **_page(request))
        return apb.ListRegionsResponse(regions=[region(r) for r in rows], next_page_token=token)

    def UpdateRegion(self, request, context):
        changes = msg.set_fields(request, ("description", "parent_region_id"))
        return region(self._ops.update_region(current_caller(), request.id, **changes))

    def DeleteRegion(self, request, context):
        self._ops.delete_region(current_caller(), request.id)
        return EMPTY


class ServicesServicer(agrpc.ServicesServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.catalog

    def CreateService(self, request, context):
        return service(self._ops.create_service(
            current_caller(), request.type, name=request.name,
            description=request.description, enabled=_enabled(request)))

    def GetService(self, request, context):
        return service(self._ops.get_service(current_caller(), request.id))

    def ListServices(self, request, context):
        rows, token = self._ops.list_services(current_caller(), type=request.type,
                                              name=request.name, **_page(request))
        return apb.ListServicesResponse(services=[service(r) for r in rows],
                                        next_page_token=token)

    def UpdateService(self, request, context):
        changes = msg.set_fields(request, ("type", "name", "description", "enabled"))
        return service(self._ops.update_service(current_caller(), request.id, **changes))

    def DeleteService(self, request, context):
        self._ops.delete_service(current_caller(), request.id)
        return EMPTY


class EndpointsServicer(agrpc.EndpointsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.catalog

    def CreateEndpoint(self, request, context):
        return endpoint(self._ops.create_endpoint(
            current_caller(), request.service_id, request.interface, request.url,
            region_id=request.region_id or None, enabled=_enabled(request)))

    def GetEndpoint(self, request, context):
        return endpoint(self._ops.get_endpoint(current_caller(), request.id))

    def ListEndpoints(self, request, context):
        rows, token = self._ops.list_endpoints(
            current_caller(), service_id=request.service_id, interface=request.interface,
            region_id=request.region_id, enabled=msg.optional(request, "enabled"),
            **_page(request))
        return apb.ListEndpointsResponse(endpoints=[endpoint(r) for r in rows],
                                         next_page_token=token)

    def UpdateEndpoint(self, request, context):
        changes = msg.set_fields(request, ("interface", "region_id", "url", "enabled",
                                            "service_id"))
        return endpoint(self._ops.update_endpoint(current_caller(), request.id, **changes))

    def DeleteEndpoint(self, request, context):
        self._ops.delete_endpoint(current_caller(), request.id)
        return EMPTY
