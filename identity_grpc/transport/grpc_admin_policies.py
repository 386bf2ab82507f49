"""The Policies admin service: Keystone's stored policy blobs."""

from google.protobuf import json_format
from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import policies_pb2 as ppb
from identity_api.admin.v1 import policies_pb2_grpc as pgrpc

from ..operations import Operations
from . import grpc_admin_messages as msg
from .grpc_admin_domain_config import struct
from .grpc_interceptor import current_caller


def policy(entry) -> ppb.Policy:
    return ppb.Policy(id=entry.id, type=entry.type, blob=entry.blob, extra=struct(dict(entry.extra)))


def _extra(request) -> dict:
    return json_format.MessageToDict(request.extra) if request.HasField("extra") else {}


class PoliciesServicer(pgrpc.PoliciesServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.policies

    def CreatePolicy(self, request, context):
        return policy(self._ops.create(current_caller(), request.type, request.blob,
                                       _extra(request)))

    def GetPolicy(self, request, context):
        return policy(self._ops.get(current_caller(), request.id))

    def ListPolicies(self, request, context):
        rows, token = self._ops.list(current_caller(), request.type, request.page_size,
                                     request.page_token)
        return ppb.ListPoliciesResponse(policies=[policy(r) for r in rows], next_page_token=token)

    def UpdatePolicy(self, request, context):
        changes = {"type_" if k == "type" else k: v
                   for k, v in msg.set_fields(request, ("type", "blob")).items()}
        return policy(self._ops.update(current_caller(), request.id, extra=_extra(request),
                                       **changes))

    def DeletePolicy(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return Empty()
