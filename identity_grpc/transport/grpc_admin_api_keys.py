"""The ApiKeys admin service: a user's keys for "user name and API key" authentication."""

from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc

from ..operations import Operations
from . import grpc_admin_messages as msg
from .grpc_interceptor import current_caller


def api_key(row) -> apb.ApiKey:
    """A key as clients see it: never its secret nor the secret's hash."""
    return apb.ApiKey(id=row.id, name=row.name, user_id=row.user_id, project_id=row.project_id,
                      role_ids=row.role_ids,
                      expires_at=msg.timestamp(row.expires_at),
                      created_at=msg.timestamp(row.created_at))


class ApiKeysServicer(agrpc.ApiKeysServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.api_keys

    def CreateApiKey(self, request, context):
        row, secret = self._ops.create(
            current_caller(), request.project_id, user_id=request.user_id, name=request.name,
            role_ids=list(request.role_ids), expires_at=msg.seconds_of(request, "expires_at"),
            on_behalf=request.on_behalf)
        return apb.CreateApiKeyResponse(api_key=api_key(row), secret=secret)

    def ListApiKeys(self, request, context):
        rows = self._ops.list(current_caller(), request.user_id)
        return apb.ListApiKeysResponse(api_keys=[api_key(r) for r in rows])

    def DeleteApiKey(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return Empty()
