"""The ApiKeys admin service: a user's keys for "user name and API key" authentication,
which are Keystone's application credentials, and the user's access rules."""

from google.protobuf.empty_pb2 import Empty
from google.protobuf.timestamp_pb2 import Timestamp
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc

from ..errors import InvalidArgument
from ..records import AccessRuleSpec, ApiKeyRequest
from ..operations import Operations
from . import grpc_admin_messages as msg
from .grpc_interceptor import current_caller


def access_rule(entry) -> apb.AccessRule:
    return apb.AccessRule(id=entry.id, service=entry.service, path=entry.path,
                          method=entry.method, user_id=entry.user_id)


def api_key(entry) -> apb.ApiKey:
    """A key as clients see it: never its secret nor the secret's hash."""
    expires = entry.expires_at_us
    return apb.ApiKey(
        id=entry.id, name=entry.name, user_id=entry.user_id, project_id=entry.project_id,
        role_ids=entry.role_ids, description=entry.description,
        unrestricted=entry.unrestricted,
        access_rules=[access_rule(r) for r in entry.access_rules],
        expires_at=None if expires is None else Timestamp(
            seconds=expires // 1_000_000, nanos=expires % 1_000_000 * 1000),
        created_at=msg.timestamp(entry.created_at))


def _expires_at_us(request) -> int | None:
    seconds = msg.seconds_of(request, "expires_at")
    return None if seconds is None else seconds * 1_000_000 + request.expires_at.nanos // 1000


def _access_rules(request) -> tuple[AccessRuleSpec, ...]:
    return tuple(AccessRuleSpec(id=r.id, service=r.service, path=r.path, method=r.method)
                 for r in request.access_rules)


class ApiKeysServicer(agrpc.ApiKeysServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.api_keys

    def CreateApiKey(self, request, context):
        made = self._ops.create(current_caller(), ApiKeyRequest(
            project_id=request.project_id, user_id=request.user_id, name=request.name,
            description=request.description,
            roles=tuple(("id", r) for r in request.role_ids)
            + tuple(("name", r) for r in request.role_names),
            expires_at_us=_expires_at_us(request), unrestricted=request.unrestricted,
            secret=request.secret, access_rules=_access_rules(request),
            on_behalf=request.on_behalf))
        return apb.CreateApiKeyResponse(api_key=api_key(made.entry), secret=made.key)

    def GetApiKey(self, request, context):
        if not request.id:
            raise InvalidArgument("id", "is required")
        return api_key(self._ops.get(current_caller(), request.id))

    def ListApiKeys(self, request, context):
        name = request.name if request.HasField("name") else None
        rows = self._ops.list(current_caller(), request.user_id, name=name)
        return apb.ListApiKeysResponse(api_keys=[api_key(r) for r in rows])

    def DeleteApiKey(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return Empty()

    def ListAccessRules(self, request, context):
        rules = self._ops.access_rules(current_caller(), request.user_id)
        return apb.ListAccessRulesResponse(access_rules=[access_rule(r) for r in rules])

    def GetAccessRule(self, request, context):
        return access_rule(self._ops.access_rule(current_caller(), request.user_id, request.id))

    def DeleteAccessRule(self, request, context):
        self._ops.delete_access_rule(current_caller(), request.user_id, request.id)
        return Empty()
