"""Tokens: issuing, validating and revoking them, the core both transports call.

A token carries only who, how, on what scope, and when (see `identity_api.tokens`); its
roles, names and catalog are looked up when it is validated (`scopes.Scopes`, cached
with what each answer was read from), so removing a role or disabling a user shows at
once and issuing or validating writes nothing. A validation is a signature check
(itself cached), a clock check, a few dict lookups and no query.
"""

import time
from typing import Callable

from identity_api.revocation import Revocation, RevocationList, now_ms
from identity_api.tokens import TokenPayload, new_audit_id

from ..catalog import Catalog
from ..change_feed import Writer
from ..credentials import AUTH_FAILED, CredentialChecks
from ..errors import InvalidArgument, InvalidSubjectToken, PermissionDenied, Unauthenticated
from ..policy import Policy
from ..records import (ApiKeyCredentials, PasswordCredentials, ScopeRequest, ScopedIdentity,
                       TokenCredentials, TokenInfo)
from ..revocation_limits import RevocationLimits
from ..scopes import Refusal, Scopes
from .codec import TokenCodec

METHOD_ORDER = ("password", "token", "api_key")


class TokenService:
    """Owns issuing, validating and revoking tokens; promises that a token is valid
    only while its signature, times, revocations and scope all still hold."""

    def __init__(self, *, credentials: CredentialChecks, scopes: Scopes, catalog: Catalog,
                 codec: TokenCodec, revocations: RevocationList, writer: Writer,
                 token_lifetime: int, revocation_limits: RevocationLimits, policy: Policy,
                 clock: Callable[[], float] = time.time, clock_skew_tolerance: float = 5.0):
        self._credentials = credentials
        self._scopes = scopes
        self._policy = policy
        self._catalog = catalog
        self._codec = codec
        self._revocations = revocations
        self._writer = writer
        self._lifetime = token_lifetime
        self._lifetime_ms = token_lifetime * 1000
        self._skew_ms = int(clock_skew_tolerance * 1000)
        self._clock = clock
        self._revocation_limits = revocation_limits

    # ---- issuing -----------------------------------------------------------

    def authenticate(self, credentials, scope: ScopeRequest, include_catalog: bool = True,
                     source: str | None = None) -> tuple[str, TokenInfo]:
        """A token for the credentials. `source` is the client's address, which the
        throttles of failed passwords go by (None: a call from inside the server)."""
        issued_at = now_ms(self._clock)
        now = issued_at // 1000
        api_key_id = None
        if isinstance(credentials, PasswordCredentials):
            user = self._credentials.password(credentials, source)
            user_id, methods = user.id, ("password",)
            expires_at, parent_audit = now + self._lifetime, None
            if scope.kind == "unscoped" and user.default_project_id:
                scope = self._scopes.default_project_scope(user)
        elif isinstance(credentials, TokenCredentials):
            # The old token must still be valid as a whole, roles on its scope included.
            old = self.validate(credentials.token, include_catalog=False)
            if "api_key" in old.methods:
                raise InvalidArgument("token.token", "a token issued with an api key cannot be "
                                                     "rescoped; authenticate with the key again")
            user_id = old.identity.user.id
            methods = tuple(m for m in METHOD_ORDER if m in old.methods or m == "token")
            # A rescoped token never outlives the one it came from.
            expires_at, parent_audit = min(old.expires_at, now + self._lifetime), old.audit_ids[0]
        elif isinstance(credentials, ApiKeyCredentials):
            key = self._credentials.api_key(credentials, now)
            user_id, methods, api_key_id, parent_audit = key.user_id, ("api_key",), key.id, None
            # A token never outlives its key.
            expires_at = min(now + self._lifetime, key.expires_at or now + self._lifetime)
            scope = self._scopes.api_key_scope(key, scope)
        else:
            raise InvalidArgument("method", "one of password, token or api_key is required")
        scope_type, scope_id = self._scopes.resolve(scope)
        identity = self._scopes.scoped(user_id, scope_type, scope_id, api_key_id)
        if isinstance(identity, Refusal):
            raise Unauthenticated(AUTH_FAILED)
        audit_ids = (new_audit_id(),) + ((parent_audit,) if parent_audit else ())
        payload = TokenPayload(user_id=user_id, methods=methods, scope_type=scope_type,
                               scope_id=scope_id, issued_at=issued_at, expires_at=expires_at,
                               audit_ids=audit_ids, api_key_id=api_key_id)
        return self._codec.encode(payload), self._info(payload, identity, include_catalog)

    # ---- validating ---------------------------------------------------------

    def validate(self, token: str, include_catalog: bool = True,
                 error: type[Unauthenticated] = Unauthenticated) -> TokenInfo:
        """The facts of a valid token; `error` is raised (with the reason) otherwise."""
        payload = self._decode(token, error)
        now = self._clock()
        if now >= payload.expires_at:
            raise error("token has expired")
        # Signed with our key, yet not as this service issues them (clocks disagreeing
        # by more than the tolerance, or a key holder minting its own): refused.
        if payload.issued_at > now * 1000 + self._skew_ms:
            raise error("token was issued in the future")
        if payload.expires_at * 1000 - payload.issued_at > self._lifetime_ms:
            raise error("token lives longer than the token lifetime")
        # One scope lookup serves both the revocation check (which needs the project's
        # domain) and the token's facts: this is the hot path of every call.
        identity = self._scopes.scoped(payload.user_id, payload.scope_type, payload.scope_id,
                                payload.api_key_id)
        refused = isinstance(identity, Refusal)
        domain_id = identity.project.domain.id if not refused and identity.project else None
        if self._revocations.is_revoked(payload, domain_id):
            raise error("token has been revoked")
        if refused:
            raise error(f"token is no longer valid: {identity.message}")
        return self._info(payload, identity, include_catalog)

    def validate_for(self, caller: TokenInfo, subject_token: str, include_catalog: bool = True,
                     rule: str = "identity:validate_token") -> TokenInfo:
        """Validate a token (the subject) for an already-validated caller, if `rule`
        (`identity:validate_token`, `check_token`, `list_domain_projects`) lets it."""
        self.authorize_token_access(caller, subject_token, rule)
        return self.validate(subject_token, include_catalog, error=InvalidSubjectToken)

    def revoke(self, caller: TokenInfo, subject_token: str) -> None:
        """Revoke one token; within the limits on its owner's revocations (rate,
        folding: `revocation_limits`)."""
        self.authorize_token_access(caller, subject_token, "identity:revoke_token")
        subject = self.validate(subject_token, include_catalog=False, error=InvalidSubjectToken)
        owner = subject.identity.user.id
        self._revocation_limits.admit(owner)
        event = Revocation(audit_id=subject.audit_ids[0], issued_before=subject.issued_at,
                           expires_at=subject.expires_at, token_user_id=owner)
        with self._writer.transaction() as tx:
            tx.revoke(self._revocation_limits.event_for(event))

    def authorize_token_access(self, caller: TokenInfo, subject_token: str, rule: str) -> None:
        """PermissionDenied naming `rule` unless it lets the caller act on the subject
        token (the target: `token.user_id`, its owner). Checked before the subject is
        validated, so a refused caller learns nothing of it. Memoised: the hot path."""
        owner = self._decode(subject_token, InvalidSubjectToken).user_id
        self._policy.enforce_on_token(rule, caller, {"token.user_id": owner})

    def _decode(self, token: str, error: type[Unauthenticated]) -> TokenPayload:
        try:
            return self._codec.decode(token)
        except Unauthenticated as e:
            if error is Unauthenticated:
                raise
            raise error(e.message) from None

    def _info(self, payload: TokenPayload, identity: ScopedIdentity,
              include_catalog: bool) -> TokenInfo:
        catalog = None
        if include_catalog and payload.scope_type != "unscoped":
            catalog = self._catalog.for_project(identity.project.id if identity.project else None,
                                                identity.user.id)
        return TokenInfo(identity=identity, methods=payload.methods, issued_at=payload.issued_at,
                         expires_at=payload.expires_at, audit_ids=payload.audit_ids,
                         catalog=catalog)

    def catalog_for(self, caller: TokenInfo):
        if caller.identity.scope_type == "unscoped":
            raise PermissionDenied("the catalog needs a scoped token; this one is unscoped")
        project = caller.identity.project
        return self._catalog.for_project(project.id if project else None, caller.identity.user.id)
