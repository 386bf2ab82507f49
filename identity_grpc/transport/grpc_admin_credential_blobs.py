"""The Credentials admin service: credentials, EC2 credentials, and authenticating a
request signed with one. Each method turns a message into one operation call and back."""

from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import credentials_pb2 as cpb
from identity_api.admin.v1 import credentials_pb2_grpc as cgrpc
from identity_api.v1 import identity_pb2 as pb

from ..operations import Operations
from ..records import Ec2Credentials, ScopeRequest
from . import grpc_admin_messages as msg
from . import grpc_messages
from .grpc_interceptor import current_caller
from .grpc_peer import client_address

EMPTY = Empty()
# Needs no token: the request's signature is the proof.
ANONYMOUS = frozenset({"/identity.admin.v1.Credentials/AuthenticateEc2"})


def credential(c) -> cpb.Credential:
    return cpb.Credential(id=c.id, user_id=c.user_id, project_id=c.project_id or "",
                          type=c.type, blob=c.blob)


def ec2_credential(c) -> cpb.Ec2Credential:
    return cpb.Ec2Credential(access=c.access, secret=c.secret, user_id=c.user_id,
                             project_id=c.project_id or "")


class CredentialsServicer(cgrpc.CredentialsServicer):
    # The contract this servicer serves (grpc_server registers it from there).

    def __init__(self, ops: Operations):
        self._ops = ops.credential_blobs
        self._tokens = ops.tokens

    def CreateCredential(self, request, context):
        return credential(self._ops.create(current_caller(), request.user_id, request.type,
                                           request.blob, project_id=request.project_id or None))

    def GetCredential(self, request, context):
        return credential(self._ops.get(current_caller(), request.id))

    def ListCredentials(self, request, context):
        rows = self._ops.list(current_caller(), user_id=request.user_id, type_=request.type)
        return cpb.ListCredentialsResponse(credentials=[credential(r) for r in rows])

    def UpdateCredential(self, request, context):
        changes = msg.set_fields(request, ("blob", "type", "project_id"))
        if "type" in changes:
            changes["type_"] = changes.pop("type")
        return credential(self._ops.update(current_caller(), request.id, **changes))

    def DeleteCredential(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return EMPTY

    def CreateEc2Credential(self, request, context):
        return ec2_credential(self._ops.ec2_create(current_caller(), request.user_id,
                                                   request.project_id))

    def GetEc2Credential(self, request, context):
        return ec2_credential(self._ops.ec2_get(current_caller(), request.user_id,
                                                request.access))

    def ListEc2Credentials(self, request, context):
        rows = self._ops.ec2_list(current_caller(), request.user_id)
        return cpb.ListEc2CredentialsResponse(credentials=[ec2_credential(r) for r in rows])

    def DeleteEc2Credential(self, request, context):
        self._ops.ec2_delete(current_caller(), request.user_id, request.access)
        return EMPTY

    def AuthenticateEc2(self, request, context):
        creds = Ec2Credentials(access=request.access, signature=request.signature,
                               host=request.host, verb=request.verb, path=request.path,
                               params=dict(request.params), headers=dict(request.headers),
                               body_hash=request.body_hash)
        token, info = self._tokens.authenticate(creds, ScopeRequest(), not request.no_catalog,
                                                source=client_address(context))
        return pb.AuthenticateResponse(token=token, token_info=grpc_messages.token_message(info))
