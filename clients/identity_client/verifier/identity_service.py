"""Calls to the identity service on this service's own credentials: its token sent,
renewed once when refused, and its errors told apart (the token refused, or the
service not to be asked)."""

import grpc
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

from .errors import IdentityUnavailable, TokenRejected


class IdentityService:
    """The identity service as the verifier asks it: `session` (renewed on a
    challenge) or a fixed `service_token`, over `channel`, each call within `timeout`
    (the revocation stream aside)."""

    def __init__(self, channel: grpc.Channel, session, service_token: str | None,
                 timeout: float, stats: dict):
        self.session = session
        self._service_token = service_token
        self._stub = rpc.IdentityStub(channel)
        self.timeout = timeout
        self._stats = stats

    def validate(self, token: str) -> pb.Token:
        """What the service says of a token (ValidateToken, without the catalog)."""
        request = pb.ValidateTokenRequest(subject_token=token, no_catalog=True)
        for attempt in (0, 1):
            self._stats["remote_validations"] += 1
            try:
                response = self._stub.ValidateToken(request, metadata=self.metadata(),
                                                    timeout=self.timeout)
                return response.token_info
            except grpc.RpcError as e:
                if attempt == 0 and self._own_token_refused(e):
                    continue
                raise self.translate(e) from None
        raise AssertionError("unreachable")

    def domain_projects(self, token: str) -> pb.ListDomainProjectsResponse:
        try:
            return self._stub.ListDomainProjects(
                pb.ListDomainProjectsRequest(subject_token=token),
                metadata=self.metadata(), timeout=self.timeout)
        except grpc.RpcError as e:
            raise self.translate(e) from None

    def signing_keys(self) -> pb.GetSigningKeysResponse:
        try:
            return self._stub.GetSigningKeys(pb.GetSigningKeysRequest(),
                                             metadata=self.metadata(),
                                             timeout=self.timeout)
        except grpc.RpcError as e:
            raise self.translate(e) from None

    def watch_revocations(self):
        """The WatchRevocations call (no deadline; its errors are the caller's)."""
        return self._stub.WatchRevocations(pb.WatchRevocationsRequest(),
                                           metadata=self.metadata())

    def _own_token_refused(self, error: grpc.RpcError) -> bool:
        """A challenge means this service's own token was refused: renew it, once."""
        if error.code() != grpc.StatusCode.UNAUTHENTICATED or self.session is None:
            return False
        if not any(k == "www-authenticate" for k, _ in (error.trailing_metadata() or ())):
            return False
        self.session.invalidate()
        return True

    def translate(self, error: grpc.RpcError) -> Exception:
        code = error.code()
        challenged = any(k == "www-authenticate" for k, _ in (error.trailing_metadata() or ()))
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT) \
                and not challenged:
            details = error.details() or "token not accepted"
            return TokenRejected(details.removeprefix("subject_token: "))
        if challenged or code == grpc.StatusCode.PERMISSION_DENIED:
            return IdentityUnavailable(f"the identity service refused this service's own "
                                       f"token: {error.details()}")
        return IdentityUnavailable(f"the identity service could not be asked: "
                                   f"{code.name if code else 'UNKNOWN'} {error.details()}")

    def metadata(self) -> tuple[tuple[str, str], ...]:
        if self.session is not None:
            try:
                return (("x-auth-token", self.session.token),)
            except Exception as e:  # SessionError: cannot authenticate right now
                raise IdentityUnavailable(f"this service cannot authenticate: {e}") from None
        return (("x-auth-token", self._service_token),)
