"""Admin servicers for endpoint filtering (endpoint_filter.proto): endpoint groups and
the endpoints given to projects. Each method turns a message into one operation call
and back; policy is the operations' business."""

from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import endpoint_filter_pb2 as epb
from identity_api.admin.v1 import endpoint_filter_pb2_grpc as egrpc

from ..operations import Operations
from . import grpc_admin_messages as msg
from .grpc_admin_catalog import endpoint
from .grpc_interceptor import current_caller

EMPTY = Empty()
FILTER_KEYS = ("service_id", "region_id", "interface")


def group(entry) -> epb.EndpointGroup:
    return epb.EndpointGroup(id=entry.id, name=entry.name, description=entry.description,
                             filters=epb.EndpointGroupFilters(**dict(entry.filters)))


def _filters(message: epb.EndpointGroupFilters) -> dict[str, str]:
    return {key: getattr(message, key) for key in FILTER_KEYS if getattr(message, key)}


def _endpoints(rows) -> apb.ListEndpointsResponse:
    return apb.ListEndpointsResponse(endpoints=[endpoint(r) for r in rows])


def _projects(rows) -> apb.ListProjectsResponse:
    return apb.ListProjectsResponse(projects=[msg.project(r) for r in rows])


class EndpointGroupsServicer(egrpc.EndpointGroupsServicer):

    def __init__(self, ops: Operations):
        self._ops = ops.endpoint_filter

    def CreateEndpointGroup(self, request, context):
        return group(self._ops.create_endpoint_group(
            current_caller(), request.name, _filters(request.filters),
            description=request.description))

    def GetEndpointGroup(self, request, context):
        return group(self._ops.get_endpoint_group(current_caller(), request.id))

    def ListEndpointGroups(self, request, context):
        rows, token = self._ops.list_endpoint_groups(
            current_caller(), name=request.name, page_size=request.page_size,
            page_token=request.page_token)
        return epb.ListEndpointGroupsResponse(endpoint_groups=[group(r) for r in rows],
                                              next_page_token=token)

    def UpdateEndpointGroup(self, request, context):
        changes = msg.set_fields(request, ("name", "description"))
        if request.HasField("filters"):
            changes["filters"] = _filters(request.filters)
        return group(self._ops.update_endpoint_group(current_caller(), request.id, **changes))

    def DeleteEndpointGroup(self, request, context):
        self._ops.delete_endpoint_group(current_caller(), request.id)
        return EMPTY

    def ListEndpointsAssociatedWithEndpointGroup(self, request, context):
        return _endpoints(self._ops.list_endpoints_associated_with_endpoint_group(
            current_caller(), request.id))

    def ListProjectsAssociatedWithEndpointGroup(self, request, context):
        return _projects(self._ops.list_projects_associated_with_endpoint_group(
            current_caller(), request.id))

    def ListEndpointGroupsForProject(self, request, context):
        rows = self._ops.list_endpoint_groups_for_project(current_caller(), request.id)
        return epb.ListEndpointGroupsResponse(endpoint_groups=[group(r) for r in rows])

    def AddEndpointGroupToProject(self, request, context):
        self._ops.add_endpoint_group_to_project(current_caller(), request.endpoint_group_id,
                                                request.project_id)
        return EMPTY

    def GetEndpointGroupInProject(self, request, context):
        self._ops.get_endpoint_group_in_project(current_caller(), request.endpoint_group_id,
                                                request.project_id)
        return EMPTY

    def RemoveEndpointGroupFromProject(self, request, context):
        self._ops.remove_endpoint_group_from_project(
            current_caller(), request.endpoint_group_id, request.project_id)
        return EMPTY


class ProjectEndpointsServicer(egrpc.ProjectEndpointsServicer):

    def __init__(self, ops: Operations):
        self._ops = ops.endpoint_filter

    def AddEndpointToProject(self, request, context):
        self._ops.add_endpoint_to_project(current_caller(), request.project_id,
                                          request.endpoint_id)
        return EMPTY

    def CheckEndpointInProject(self, request, context):
        self._ops.check_endpoint_in_project(current_caller(), request.project_id,
                                            request.endpoint_id)
        return EMPTY

    def RemoveEndpointFromProject(self, request, context):
        self._ops.remove_endpoint_from_project(current_caller(), request.project_id,
                                               request.endpoint_id)
        return EMPTY

    def ListEndpointsForProject(self, request, context):
        return _endpoints(self._ops.list_endpoints_for_project(current_caller(), request.id))

    def ListProjectsForEndpoint(self, request, context):
        return _projects(self._ops.list_projects_for_endpoint(current_caller(), request.id))
