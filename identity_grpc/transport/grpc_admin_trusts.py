"""The Trusts admin service: Keystone's OS-TRUST trusts over gRPC."""

from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import trusts_pb2 as tpb
from identity_api.admin.v1 import trusts_pb2_grpc as tgrpc

from ..errors import InvalidArgument
from ..operations import Operations
from ..records import TrustRequest
from . import grpc_admin_messages as msg
from .grpc_interceptor import current_caller


def trust_message(entry) -> tpb.Trust:
    return tpb.Trust(
        id=entry.id, trustor_user_id=entry.trustor_user_id,
        trustee_user_id=entry.trustee_user_id, project_id=entry.project_id or "",
        impersonation=entry.impersonation,
        roles=[tpb.TrustRole(id=r.id, name=r.name) for r in entry.roles],
        expires_at=msg.timestamp(entry.expires_at), remaining_uses=entry.remaining_uses,
        redelegation_count=entry.redelegation_count,
        redelegated_trust_id=entry.redelegated_trust_id or "",
        created_at=msg.timestamp(entry.created_at))


def _role_refs(roles) -> tuple:
    refs = []
    for i, role in enumerate(roles):
        if bool(role.id) == bool(role.name):
            raise InvalidArgument(f"roles[{i}]", "name a role by its id or by its name")
        refs.append(("id", role.id) if role.id else ("name", role.name))
    return tuple(refs)


def trust_request(request: tpb.CreateTrustRequest) -> TrustRequest:
    return TrustRequest(
        trustor_user_id=request.trustor_user_id, trustee_user_id=request.trustee_user_id,
        impersonation=request.impersonation, project_id=request.project_id or None,
        roles=_role_refs(request.roles), expires_at=msg.seconds_of(request, "expires_at"),
        remaining_uses=msg.optional(request, "remaining_uses"),
        allow_redelegation=request.allow_redelegation,
        redelegation_count=msg.optional(request, "redelegation_count"))


class TrustsServicer(tgrpc.TrustsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.trusts

    def CreateTrust(self, request, context):
        return trust_message(self._ops.create(current_caller(), trust_request(request)))

    def GetTrust(self, request, context):
        return trust_message(self._ops.get(current_caller(), request.id))

    def ListTrusts(self, request, context):
        entries, token = self._ops.list(current_caller(), request.trustor_user_id,
                                        request.trustee_user_id, page_size=request.page_size,
                                        page_token=request.page_token)
        return tpb.ListTrustsResponse(trusts=[trust_message(e) for e in entries],
                                      next_page_token=token)

    def DeleteTrust(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return Empty()

    def ListTrustRoles(self, request, context):
        roles = self._ops.roles(current_caller(), request.id)
        return tpb.ListTrustRolesResponse(roles=[tpb.TrustRole(id=r.id, name=r.name)
                                                 for r in roles])

    def GetTrustRole(self, request, context):
        role = self._ops.role(current_caller(), request.trust_id, request.role_id)
        return msg.role(role)
