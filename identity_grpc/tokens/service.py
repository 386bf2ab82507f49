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

from ..api_keys import expiry_seconds
from ..catalog import Catalog
from ..change_feed import Writer
from ..credentials import AUTH_FAILED, CredentialChecks
from ..errors import InvalidArgument, InvalidSubjectToken, PermissionDenied, Unauthenticated
from ..policy import Policy
from ..records import (ApiKeyCredentials, Ec2Credentials, OAuth1Credentials, PasswordCredentials,
                       ScopeRequest,
                       ScopedIdentity, Selector, TokenCredentials, TokenInfo)
from ..revocation_limits import RevocationLimits
from ..scopes import Refusal, Scopes
from .codec import TokenCodec

METHOD_ORDER = ("password", "token", "api_key", "ec2credential", "oauth1")


class TokenService:
    """Owns issuing, validating and revoking tokens; promises that a token is valid
    only while its signature, times, revocations and scope all still hold."""

    def __init__(self, *, credentials: CredentialChecks, scopes: Scopes, catalog: Catalog,
                 codec: TokenCodec, revocations: RevocationList, writer: Writer,
                 token_lifetime: int, revocation_limits: RevocationLimits, policy: Policy,
                 clock: Callable[[], float] = time.time, clock_skew_tolerance: float = 5.0,
                 allow_expired_window: int = 0, trusts=None):
        self._credentials = credentials
        self._trusts = trusts  # trusts.Trusts, for trust-scoped tokens
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
        self._allow_expired_window = allow_expired_window

    # ---- issuing -----------------------------------------------------------

    def authenticate(self, credentials, scope: ScopeRequest, include_catalog: bool = True,
                     source: str | None = None) -> tuple[str, TokenInfo]:
        """A token for the credentials. `source` is the client's address, which the
        throttles of failed passwords go by (None: a call from inside the server)."""
        issued_at = now_ms(self._clock)
        now = issued_at // 1000
        api_key_id = access_token_id = None
        if isinstance(credentials, PasswordCredentials):
            user = self._credentials.password(credentials, source)
            user_id, methods = user.id, ("password",)
            expires_at, parent_audit = now + self._lifetime, None
            if scope.kind == "unscoped" and user.default_project_id:
                scope = self._scopes.default_project_scope(user)
        elif isinstance(credentials, TokenCredentials):
            # The old token must still be valid as a whole, roles on its scope included.
            old = self.validate(credentials.token, include_catalog=False)
            if old.identity.trust is not None:
                raise PermissionDenied("a trust-scoped token cannot be rescoped; "
                                       "authenticate again for another scope")
            if "api_key" in old.methods:
                raise InvalidArgument("token.token", "a token issued with an api key cannot be "
                                                     "rescoped; authenticate with the key again")
            if "oauth1" in old.methods:  # Keystone's 403
                raise PermissionDenied("a token issued with an OAuth1 access token cannot be "
                                       "rescoped; ask for a new one with the access token")
            user_id = old.identity.user.id
            methods = tuple(m for m in METHOD_ORDER if m in old.methods or m == "token")
            # A rescoped token never outlives the one it came from.
            # Its second audit id is the chain's: the first token's (Keystone's
            # audit_chain_id), so that a whole rescope chain can be revoked at once.
            expires_at, parent_audit = min(old.expires_at, now + self._lifetime), old.audit_ids[-1]
        elif isinstance(credentials, ApiKeyCredentials):
            key = self._credentials.api_key(credentials, now)
            user_id, methods, api_key_id, parent_audit = key.user_id, ("api_key",), key.id, None
            # A token never outlives its key.
            expiry = expiry_seconds(key)
            expires_at = now + self._lifetime if expiry is None else min(now + self._lifetime,
                                                                         int(expiry))
            scope = self._scopes.api_key_scope(key, scope)
        elif isinstance(credentials, Ec2Credentials):
            # Keystone's ec2tokens: scoped to the credential's project, whatever asked.
            user_id, project_id = self._credentials.ec2(credentials)
            methods, expires_at, parent_audit = ("ec2credential",), now + self._lifetime, None
            scope = ScopeRequest("project", Selector(id=project_id))
        elif isinstance(credentials, OAuth1Credentials):
            access = self._credentials.oauth1(credentials)
            user_id, methods, parent_audit = access.authorizing_user_id, ("oauth1",), None
            access_token_id = access.id
            # On the access token's project, and never longer than the access token.
            expires_at = min(now + self._lifetime, access.expires_at or now + self._lifetime)
            if scope.kind != "unscoped" and (scope.kind != "project" or self._scopes.resolve(
                    scope)[1] != access.project_id):
                raise InvalidArgument("scope", "a token from an OAuth1 access token is scoped "
                                               "to its project; leave the scope out")
            scope = ScopeRequest("project", Selector(id=access.project_id))
        else:
            raise InvalidArgument("method", "one of password, token, api_key or oauth1 is "
                                            "required")
        if scope.kind == "trust":
            return self._through_trust(user_id, methods, scope, issued_at, expires_at,
                                       parent_audit, include_catalog)
        scope_type, scope_id = self._scopes.resolve(scope)
        identity = self._scopes.scoped(user_id, scope_type, scope_id, api_key_id,
                                       access_token_id=access_token_id)
        if isinstance(identity, Refusal):
            raise Unauthenticated(AUTH_FAILED)
        audit_ids = (new_audit_id(),) + ((parent_audit,) if parent_audit else ())
        payload = TokenPayload(user_id=user_id, methods=methods, scope_type=scope_type,
                               scope_id=scope_id, issued_at=issued_at, expires_at=expires_at,
                               audit_ids=audit_ids, api_key_id=api_key_id,
                               access_token_id=access_token_id)
        return self._codec.encode(payload), self._info(payload, identity, include_catalog)

    def _through_trust(self, trustee_id: str, methods: tuple[str, ...], scope: ScopeRequest,
                       issued_at: int, expires_at: int, parent_audit: str | None,
                       include_catalog: bool) -> tuple[str, TokenInfo]:
        """A token for the trustee through a trust: as the trustee (or the trustor it
        impersonates), on the trust's project, with the trust's roles; one use spent
        once it is known the token can be issued. It never outlives the trust."""
        trust = self._trusts.for_token(scope.target.id if scope.target else "", trustee_id)
        user_id = trust.trustor_id if trust.impersonation else trust.trustee_id
        scope_type, scope_id = ("project", trust.project_id) if trust.project_id \
            else ("unscoped", None)
        identity = self._scopes.scoped(user_id, scope_type, scope_id, trust_id=trust.id)
        if isinstance(identity, Refusal):
            raise PermissionDenied(f"the trust cannot be used: {identity.message}")
        self._trusts.spend_use(trust.id)
        if trust.expires_at is not None:
            expires_at = min(expires_at, trust.expires_at)
        audit_ids = (new_audit_id(),) + ((parent_audit,) if parent_audit else ())
        payload = TokenPayload(user_id=user_id, methods=methods, scope_type=scope_type,
                               scope_id=scope_id, issued_at=issued_at, expires_at=expires_at,
                               audit_ids=audit_ids, trust_id=trust.id)
        return self._codec.encode(payload), self._info(payload, identity, include_catalog)

    # ---- validating ---------------------------------------------------------

    def validate(self, token: str, include_catalog: bool = True,
                 error: type[Unauthenticated] = Unauthenticated,
                 allow_expired: bool = False) -> TokenInfo:
        """The facts of a valid token; `error` is raised (with the reason) otherwise.
        With `allow_expired`, a token that expired less than the allow_expired window
        ago is valid still (Keystone's `?allow_expired=1`, which services use to finish
        an operation begun with a token that has since expired); everything else about
        it (signature, revocations, the user's roles) must hold as for any token."""
        payload = self._decode(token, error)
        now = self._clock()
        if now >= payload.expires_at and not (
                allow_expired and now < payload.expires_at + self._allow_expired_window):
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
                                       payload.api_key_id, payload.trust_id, payload.access_token_id)
        refused = isinstance(identity, Refusal)
        domain_id = identity.project.domain.id if not refused and identity.project else None
        if self._revocations.is_revoked(payload, domain_id):
            raise error("token has been revoked")
        if refused:
            raise error(f"token is no longer valid: {identity.message}")
        return self._info(payload, identity, include_catalog)

    def validate_for(self, caller: TokenInfo, subject_token: str, include_catalog: bool = True,
                     rule: str = "identity:validate_token", allow_expired: bool = False) -> TokenInfo:
        """Validate a token (the subject) for an already-validated caller, if `rule`
        (`identity:validate_token`, `check_token`, `list_domain_projects`) lets it."""
        self.authorize_token_access(caller, subject_token, rule)
        return self.validate(subject_token, include_catalog, error=InvalidSubjectToken,
                             allow_expired=allow_expired)

    def revoke(self, caller: TokenInfo, subject_token: str, whole_chain: bool = False) -> None:
        """Revoke one token, or with `whole_chain` every token of its rescope chain
        (the first token and every token rescoped from it or its descendants: they
        share its audit id as their last); within the limits on its owner's
        revocations (rate, folding: `revocation_limits`)."""
        self.authorize_token_access(caller, subject_token, "identity:revoke_token")
        subject = self.validate(subject_token, include_catalog=False, error=InvalidSubjectToken)
        owner = subject.identity.user.id
        self._revocation_limits.admit(owner)
        with self._writer.transaction() as tx:
            if whole_chain:
                tx.revoke(Revocation.issued_until_now(self._lifetime, self._clock,
                                                      audit_chain_id=subject.audit_ids[-1]))
            else:
                tx.revoke(self._revocation_limits.event_for(Revocation(
                    audit_id=subject.audit_ids[0], issued_before=subject.issued_at,
                    expires_at=subject.expires_at, token_user_id=owner)))

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
                         catalog=catalog, access_token_id=payload.access_token_id)

    def catalog_for(self, caller: TokenInfo):
        if caller.identity.scope_type == "unscoped":
            raise PermissionDenied("the catalog needs a scoped token; this one is unscoped")
        project = caller.identity.project
        return self._catalog.for_project(project.id if project else None, caller.identity.user.id)
