"""The Identity servicer: each method turns a message into one core call and back.

Who the caller is has already been settled by `RequestInterceptor` (from the
`x-auth-token` metadata) and is read with `current_caller()`, except in the one
streaming method, WatchRevocations, which the interceptor passes through: it
authenticates and maps errors itself, the same way.
"""

import json
import logging
import time

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc

from .. import errors
from ..auth import AuthService
from ..errors import InvalidArgument
from ..tokens.revocation import Revocation
from ..verification import TooManyWatchers, Verification
from . import grpc_messages as msg
from .grpc_interceptor import STATUS_FOR, current_caller
from .grpc_peer import client_address

log = logging.getLogger("identity_grpc.requests")
WATCH_METHOD = "/identity.v1.Identity/WatchRevocations"


class IdentityServicer(pb_grpc.IdentityServicer):
    # Methods a caller may use without a token of its own.
    ANONYMOUS = frozenset({"/identity.v1.Identity/Authenticate", "/identity.v1.Identity/Ping"})

    def __init__(self, auth: AuthService, verification: Verification | None = None):
        self._auth = auth
        self._verification = verification

    def Authenticate(self, request, context):
        token, info = self._auth.authenticate(
            msg.credentials_from(request), msg.scope_from(request), not request.no_catalog,
            source=client_address(context))
        return pb.AuthenticateResponse(token=token, token_info=msg.token_message(info))

    def ValidateToken(self, request, context):
        info = self._auth.validate_for(current_caller(), _subject(request), not request.no_catalog)
        return pb.ValidateTokenResponse(token_info=msg.token_message(info))

    def RevokeToken(self, request, context):
        self._auth.revoke(current_caller(), _subject(request))
        return pb.RevokeTokenResponse()

    def ListProjects(self, request, context):
        projects = self._auth.list_projects(current_caller())
        return pb.ListProjectsResponse(projects=[msg.project_message(p) for p in projects])

    def ListDomains(self, request, context):
        domains = self._auth.list_domains(current_caller())
        return pb.ListDomainsResponse(domains=[msg.domain_message(d) for d in domains])

    def Ping(self, request, context):
        return pb.PingResponse()

    def Catalog(self, request, context):
        services = self._auth.catalog_for(current_caller())
        return pb.CatalogResponse(services=msg.catalog_messages(services))


    # ---- for services that check tokens themselves ------------------------------

    def GetSigningKeys(self, request, context):
        keys = self._verification.signing_keys(current_caller())
        return pb.GetSigningKeysResponse(
            keys=[pb.SigningKey(key_id=key_id, public_key=raw, algorithm="Ed25519")
                  for key_id, raw in sorted(keys.items())],
            poll_interval=self._verification.poll_interval)

    def ListDomainProjects(self, request, context):
        domain, projects = self._verification.domain_projects(current_caller(),
                                                              request.subject_token)
        return pb.ListDomainProjectsResponse(domain=msg.domain_message(domain),
                                             projects=[msg.project_message(p) for p in projects])

    def WatchRevocations(self, request, context):
        """Snapshot, then notices as they come, a keepalive whenever there is nothing
        to say; the caller's token is checked again at every turn, so the stream
        ends (UNAUTHENTICATED) when it expires or is revoked."""
        started, user_id, code, message = time.perf_counter(), "", grpc.StatusCode.OK, ""
        subscription = None
        verification = self._verification
        try:
            token = _metadata_token(context)
            caller = self._stream_caller(token)
            user_id = caller.identity.user.id
            subscription, snapshot = verification.watch(caller)
            context.add_callback(subscription.close)  # wakes the loop when the call ends
            keepalive = verification.keepalive_interval
            yield pb.WatchRevocationsResponse(
                snapshot=True, events=[_event_message(e) for e in snapshot],
                keepalive_interval=keepalive)
            while context.is_active():
                notices = subscription.take(keepalive)
                if subscription.closed:
                    break
                if subscription.overflowed:
                    raise errors.FailedPrecondition("this watcher fell too far behind; "
                                                    "watch again for a fresh snapshot")
                verification.authorize_consumer(self._stream_caller(token))
                yield _notices_message(notices)
        except TooManyWatchers as e:
            code, message = grpc.StatusCode.RESOURCE_EXHAUSTED, e.message
        except errors.IdentityError as e:
            code, message = STATUS_FOR.get(type(e), grpc.StatusCode.INTERNAL), e.message
            if type(e) is errors.Unauthenticated:
                context.set_trailing_metadata(
                    (("www-authenticate", self._challenge()),))
        except Exception:
            log.exception("unexpected error in %s", WATCH_METHOD)
            code, message = grpc.StatusCode.INTERNAL, "internal error"
        finally:
            if subscription is not None:
                subscription.close()
            log.info(json.dumps({
                "rpc": WATCH_METHOD, "code": code.name, "user_id": user_id,
                "peer": context.peer(), "ms": round((time.perf_counter() - started) * 1000, 3)}))
        if code != grpc.StatusCode.OK:
            context.abort(code, message)

    def _stream_caller(self, token: str):
        try:
            return self._auth.validate(token, include_catalog=False)
        except errors.Unauthenticated as e:
            raise errors.Unauthenticated(f"x-auth-token: {e.message}") from None

    def _challenge(self) -> str:
        return f'Keystone uri="{self._verification.advertised_url}/v3"'


def _metadata_token(context) -> str:
    for key, value in context.invocation_metadata():
        if key == "x-auth-token" and value:
            return value
    raise errors.Unauthenticated("x-auth-token: this call needs a token in its metadata")


def _timestamp(seconds: int) -> Timestamp:
    return Timestamp(seconds=max(int(seconds), 0))


def _event_message(event: Revocation) -> pb.RevocationEvent:
    return pb.RevocationEvent(
        audit_id=event.audit_id or "", user_id=event.user_id or "",
        project_id=event.project_id or "", domain_id=event.domain_id or "",
        issued_before=_timestamp(event.issued_before), expires_at=_timestamp(event.expires_at))


def _notices_message(notices) -> pb.WatchRevocationsResponse:
    response = pb.WatchRevocationsResponse()
    for notice in notices:
        if notice[0] == "revoked":
            response.events.append(_event_message(notice[1]))
        else:
            response.changes.append(pb.EntityChange(entity=notice[1], entity_id=notice[2]))
    return response


def _subject(request) -> str:
    if not request.subject_token:
        raise InvalidArgument("subject_token", "is required")
    return request.subject_token
