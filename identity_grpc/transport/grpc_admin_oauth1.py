"""The OAuth1 admin service: consumers, and the access tokens a user authorized (the
signed flow itself is HTTP only, as in Keystone: `gateway/oauth1_routes.py`)."""

from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import oauth1_pb2 as opb
from identity_api.admin.v1 import oauth1_pb2_grpc as ogrpc

from ..operations import Operations
from . import grpc_admin_messages as msg
from .grpc_interceptor import current_caller


def consumer(entry) -> opb.Consumer:
    """Never its secret."""
    return opb.Consumer(id=entry.id, description=entry.description)


def access_token(entry) -> opb.AccessToken:
    return opb.AccessToken(id=entry.id, consumer_id=entry.consumer_id,
                           authorizing_user_id=entry.authorizing_user_id,
                           project_id=entry.project_id, role_ids=entry.role_ids,
                           expires_at=msg.timestamp(entry.expires_at))


class OAuth1Servicer(ogrpc.OAuth1Servicer):

    def __init__(self, ops: Operations):
        self._ops = ops.oauth1

    @staticmethod
    def _user(request) -> str:
        return request.user_id or current_caller().identity.user.id

    def CreateConsumer(self, request, context):
        entry, secret = self._ops.create_consumer(current_caller(), request.description)
        return opb.CreateConsumerResponse(consumer=consumer(entry), secret=secret)

    def GetConsumer(self, request, context):
        return consumer(self._ops.get_consumer(current_caller(), request.id))

    def ListConsumers(self, request, context):
        entries = self._ops.list_consumers(current_caller())
        return opb.ListConsumersResponse(consumers=[consumer(e) for e in entries])

    def UpdateConsumer(self, request, context):
        entry = self._ops.update_consumer(current_caller(), request.id,
                                          msg.optional(request, "description"))
        return consumer(entry)

    def DeleteConsumer(self, request, context):
        self._ops.delete_consumer(current_caller(), request.id)
        return Empty()

    def ListAccessTokens(self, request, context):
        entries = self._ops.list_access_tokens(current_caller(), self._user(request))
        return opb.ListAccessTokensResponse(access_tokens=[access_token(e) for e in entries])

    def GetAccessToken(self, request, context):
        return access_token(self._ops.get_access_token(current_caller(), self._user(request),
                                                       request.id))

    def DeleteAccessToken(self, request, context):
        self._ops.delete_access_token(current_caller(), self._user(request), request.id)
        return Empty()

    def ListAccessTokenRoles(self, request, context):
        roles = self._ops.list_access_token_roles(current_caller(), self._user(request),
                                                  request.id)
        return opb.ListAccessTokenRolesResponse(roles=[msg.role(r) for r in roles])
