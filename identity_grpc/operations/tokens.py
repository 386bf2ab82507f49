"""Operations on tokens: issue, validate, revoke, and what a token's user may scope to;
and what consuming services that check tokens themselves are served (signing keys, the
revocation stream, a domain's projects).

Authentication decides its own policy (a caller acting on another token names the rule
of that act), so these forward to the token core (`tokens.service.TokenService`, `scopes.Scopes`) and to
`consumers.ConsumerService`; they are the one door both transports use, so neither
holds a manager.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable

from .. import audit, metrics
from ..audit.claims import claimed
from ..audit.events import USER_TYPE_URI, target_type_uri
from ..core import Core
from ..errors import FailedPrecondition, Unauthenticated
from ..records import (DomainRecord, ProjectRecord, ScopeRequest, ServiceRecord, TokenCredentials,
                       TokenInfo)

log = logging.getLogger(__name__)


class TokenOps:
    def __init__(self, core: Core):
        self._tokens = core.tokens
        self._scopes = core.scopes
        self._codec = core.codec
        self._audit = core.audit

    def authenticate(self, credentials, scope: ScopeRequest, include_catalog: bool = True,
                     source: str | None = None) -> tuple[str, TokenInfo]:
        """A token, every method alike (password, token, application credential,
        EC2, OAuth1, and through a trust); each attempt is counted by method and
        outcome and records an `authenticate` audit event: its user from the token
        made, or who the credentials claimed."""
        try:
            with metrics.counting_authentication(credentials):
                token, info = self._tokens.authenticate(credentials, scope, include_catalog,
                                                        source=source)
        except Exception as e:
            self._failed(credentials, scope, e)
            raise
        audit.note(self._audit, "authenticate", info, USER_TYPE_URI, info.identity.user.id)
        return token, info

    def _failed(self, credentials, scope: ScopeRequest, error: Exception) -> None:
        """Record a failed authentication as who its credentials claimed to be (a fault
        in that is logged, never the answer)."""
        try:
            who = claimed(credentials, scope)
            if isinstance(credentials, TokenCredentials):  # its user, if the token is ours
                payload = self._decoded(credentials.token)
                who = replace(who, user_id=payload.user_id if payload else "")
            audit.note(self._audit, "authenticate", who, USER_TYPE_URI, who.user_id, error=error)
        except Exception:
            log.exception("audit event of a failed authentication not recorded")

    def validate(self, token: str, include_catalog: bool = True,
                 error: type[Unauthenticated] = Unauthenticated) -> TokenInfo:
        """The caller's own token (or, with `error`, a token it hands over to exchange)."""
        return self._tokens.validate(token, include_catalog, error=error)

    def validate_for(self, caller: TokenInfo, subject_token: str, include_catalog: bool = True,
                     rule: str = "identity:validate_token", allow_expired: bool = False) -> TokenInfo:
        return self._tokens.validate_for(caller, subject_token, include_catalog, rule=rule,
                                         allow_expired=allow_expired)

    def revoke(self, caller: TokenInfo, subject_token: str, whole_chain: bool = False) -> None:
        """Recorded as `revoked.token`, the token named by its audit id (never itself)."""
        error = None
        try:
            self._tokens.revoke(caller, subject_token, whole_chain)
        except Exception as e:
            error = e
            raise
        finally:
            payload = self._decoded(subject_token)
            audit.note(self._audit, "revoked.token", caller, target_type_uri("token"),
                       payload.audit_ids[0] if payload else "",
                       (("whole_chain", True),) if whole_chain else (), error)

    def _decoded(self, token: str):
        """The token's payload if it is one of ours (its signature checks, whether or
        not it is still valid); else None."""
        try:
            return self._codec.decode(token)
        except Exception:
            return None

    def projects(self, caller: TokenInfo) -> tuple[ProjectRecord, ...]:
        """The projects the caller's user may scope to."""
        return self._scopes.list_projects(caller)

    def domains(self, caller: TokenInfo) -> tuple[DomainRecord, ...]:
        return self._scopes.list_domains(caller)

    def system_scopes(self, caller: TokenInfo) -> list[str]:
        return self._scopes.system_scopes(caller)

    def catalog(self, caller: TokenInfo) -> tuple[ServiceRecord, ...]:
        return self._tokens.catalog_for(caller)


class ConsumerOps:
    """What GetSigningKeys, WatchRevocations and ListDomainProjects are answered with,
    and the timing a consuming service is told to follow."""

    def __init__(self, core: Core):
        self._consumers = consumers = core.consumers
        self.poll_interval = consumers.poll_interval
        self.token_lifetime = consumers.token_lifetime
        self.clock_skew_tolerance = consumers.clock_skew_tolerance
        self.keepalive_interval = consumers.keepalive_interval

    def signing_keys(self, caller: TokenInfo) -> dict[str, bytes]:
        return self._consumers.signing_keys(caller)

    def watch(self, caller: TokenInfo) -> "Watch":
        """A watch of the revocations: subscribed first, then the snapshot, so an event
        lands in the snapshot, the queue, or both, never in neither."""
        subscription, snapshot = self._consumers.watch(caller)
        return Watch(subscription, snapshot, self.keepalive_interval,
                     self._consumers.authorize_watch)

    def domain_projects(self, caller: TokenInfo, subject_token: str = ""):
        return self._consumers.domain_projects(caller, subject_token)


class Watch:
    """One WatchRevocations stream: its snapshot, then `next(caller)` for each message."""

    def __init__(self, subscription, snapshot: list, keepalive: float,
                 authorize: Callable[[TokenInfo], None]):
        self._subscription = subscription
        self.snapshot = snapshot
        self.keepalive = keepalive
        self._authorize = authorize

    def next(self, caller: TokenInfo) -> list | None:
        """The notices that came within one keepalive interval (none: send the
        keepalive), or None once the watch is closed. The rule is checked again for
        each message (memoised, so that costs a lookup); a watcher that fell too far
        behind must start again from a fresh snapshot."""
        notices = self._subscription.take(self.keepalive)
        if self._subscription.closed:
            return None
        if self._subscription.overflowed:
            raise FailedPrecondition("this watcher fell too far behind; "
                                     "watch again for a fresh snapshot")
        self._authorize(caller)
        return notices

    def close(self) -> None:
        self._subscription.close()
