"""The Identity servicer: each method turns a message into one core call and back.

Who the caller is has already been settled by `RequestInterceptor` (from the
`x-auth-token` metadata) and is read with `current_caller()`; the interceptor also
maps errors and logs, for the streaming WatchRevocations as for the rest.
"""

from google.protobuf.timestamp_pb2 import Timestamp
from identity_api.revocation import Revocation
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc

from ..errors import InvalidArgument
from ..operations.tokens import ConsumerOps, TokenOps
from . import grpc_messages as msg
from .grpc_interceptor import current_caller
from .grpc_peer import client_address

# Events (and changes) in one WatchRevocations message: at most ~250 bytes each
# (ids of at most 64 characters), so a message stays far under any size limit
# (gRPC's default is 4 MiB), however many events the server holds.
MAX_EVENTS_PER_MESSAGE = 1000


class IdentityServicer(pb_grpc.IdentityServicer):
    # Methods a caller may use without a token of its own.
    ANONYMOUS = frozenset({"/identity.v1.Identity/Authenticate", "/identity.v1.Identity/Ping"})

    def __init__(self, tokens: TokenOps, consumers: ConsumerOps):
        self._tokens = tokens
        self._consumers = consumers

    def Authenticate(self, request, context):
        token, info = self._tokens.authenticate(
            msg.credentials_from(request), msg.scope_from(request), not request.no_catalog,
            source=client_address(context))
        return pb.AuthenticateResponse(token=token, token_info=msg.token_message(info))

    def ValidateToken(self, request, context):
        info = self._tokens.validate_for(current_caller(), _subject(request), not request.no_catalog,
                                         allow_expired=request.allow_expired)
        return pb.ValidateTokenResponse(token_info=msg.token_message(info))

    def RevokeToken(self, request, context):
        self._tokens.revoke(current_caller(), _subject(request), request.whole_chain)
        return pb.RevokeTokenResponse()

    def ListProjects(self, request, context):
        projects = self._tokens.projects(current_caller())
        return pb.ListProjectsResponse(projects=[msg.project_message(p) for p in projects])

    def ListDomains(self, request, context):
        domains = self._tokens.domains(current_caller())
        return pb.ListDomainsResponse(domains=[msg.domain_message(d) for d in domains])

    def Ping(self, request, context):
        return pb.PingResponse()

    def Catalog(self, request, context):
        services = self._tokens.catalog(current_caller())
        return pb.CatalogResponse(services=msg.catalog_messages(services))


    # ---- for services that check tokens themselves ------------------------------

    def GetSigningKeys(self, request, context):
        keys = self._consumers.signing_keys(current_caller())
        return pb.GetSigningKeysResponse(
            keys=[pb.SigningKey(key_id=key_id, public_key=raw, algorithm="Ed25519")
                  for key_id, raw in sorted(keys.items())],
            poll_interval=self._consumers.poll_interval,
            token_lifetime=self._consumers.token_lifetime,
            clock_skew_tolerance=self._consumers.clock_skew_tolerance)

    def ListDomainProjects(self, request, context):
        domain, projects = self._consumers.domain_projects(current_caller(),
                                                              request.subject_token)
        return pb.ListDomainProjectsResponse(domain=msg.domain_message(domain),
                                             projects=[msg.project_message(p) for p in projects])

    def WatchRevocations(self, request, context):
        """The snapshot in chunks, then notices as they come, a keepalive whenever
        there is nothing to say. The interceptor decodes, authenticates the caller
        again before each message (the stream ends when its token expires or is
        revoked), maps errors and logs, as for unary calls; the operation decides
        the rest (the rule, again per message; a watcher fallen behind)."""
        watch = self._consumers.watch(current_caller())
        context.add_callback(watch.close)  # wakes the loop when the call ends
        try:
            yield from _snapshot_messages(watch.snapshot, watch.keepalive)
            while context.is_active():
                notices = watch.next(current_caller())
                if notices is None:
                    break
                yield from _notices_messages(notices)
        finally:
            watch.close()


def _timestamp(seconds: int) -> Timestamp:
    return Timestamp(seconds=max(int(seconds), 0))


def _event_message(event: Revocation) -> pb.RevocationEvent:
    return pb.RevocationEvent(
        audit_id=event.audit_id or "", user_id=event.user_id or "",
        project_id=event.project_id or "", domain_id=event.domain_id or "",
        issued_before=msg.timestamp_of_ms(event.issued_before),
        expires_at=_timestamp(event.expires_at),
        token_user_id=event.token_user_id or "", audit_chain_id=event.audit_chain_id or "")


def _snapshot_messages(events: list[Revocation], keepalive: float):
    """The snapshot as messages of at most MAX_EVENTS_PER_MESSAGE events: the first
    marked `snapshot`, each but the last `snapshot_continues`."""
    starts = range(0, max(len(events), 1), MAX_EVENTS_PER_MESSAGE)
    last = starts[-1]
    for start in starts:
        chunk = events[start:start + MAX_EVENTS_PER_MESSAGE]
        yield pb.WatchRevocationsResponse(
            snapshot=start == 0, keepalive_interval=keepalive if start == 0 else 0.0,
            events=[_event_message(e) for e in chunk], snapshot_continues=start != last)


def _notices_messages(notices):
    """Notices as messages of at most MAX_EVENTS_PER_MESSAGE items; none: one
    empty message, the keepalive."""
    for start in range(0, max(len(notices), 1), MAX_EVENTS_PER_MESSAGE):
        response = pb.WatchRevocationsResponse()
        for notice in notices[start:start + MAX_EVENTS_PER_MESSAGE]:
            if notice[0] == "revoked":
                response.events.append(_event_message(notice[1]))
            else:
                response.changes.append(pb.EntityChange(entity=notice[1], entity_id=notice[2]))
        yield response


def _subject(request) -> str:
    if not request.subject_token:
        raise InvalidArgument("subject_token", "is required")
    return request.subject_token
