"""The ProjectTags admin service: a project's tags."""

from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import project_tags_pb2_grpc as tgrpc

from ..errors import NotFound
from ..operations import Operations
from .grpc_interceptor import current_caller

EMPTY = Empty()


class ProjectTagsServicer(tgrpc.ProjectTagsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.project_tags

    def ListProjectTags(self, request, context):
        return apb.ProjectTagList(tags=self._ops.list(current_caller(), request.project_id))

    def CheckProjectTag(self, request, context):
        if not self._ops.check(current_caller(), request.project_id, request.tag):
            raise NotFound(f"project {request.project_id} has no tag {request.tag!r}")
        return EMPTY

    def AddProjectTag(self, request, context):
        self._ops.add(current_caller(), request.project_id, request.tag)
        return EMPTY

    def ReplaceProjectTags(self, request, context):
        tags = self._ops.replace(current_caller(), request.project_id, list(request.tags))
        return apb.ProjectTagList(tags=tags)

    def DeleteProjectTag(self, request, context):
        self._ops.remove(current_caller(), request.project_id, request.tag)
        return EMPTY

    def DeleteProjectTags(self, request, context):
        self._ops.clear(current_caller(), request.project_id)
        return EMPTY
