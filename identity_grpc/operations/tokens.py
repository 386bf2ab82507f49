"""Operations on tokens: issue, validate, revoke, and what a token's user may scope to;
and what consuming services that check tokens themselves are served (signing keys, the
revocation stream, a domain's projects).

Authentication decides its own policy (a caller acting on another token names the rule
of that act), so these forward to the token core (`tokens.service.TokenService`, `scopes.Scopes`) and to
`consumers.ConsumerService`; they are the one door both transports use, so neither
holds a manager.
"""

from __future__ import annotations

from typing import Callable

from ..core import Core
from ..errors import FailedPrecondition, Unauthenticated
from ..records import DomainRecord, ProjectRecord, ScopeRequest, ServiceRecord, TokenInfo


class TokenOps:
    def __init__(self, core: Core):
        self._tokens = core.tokens
        self._scopes = core.scopes

    def authenticate(self, credentials, scope: ScopeRequest, include_catalog: bool = True,
                     source: str | None = None) -> tuple[str, TokenInfo]:
        return self._tokens.authenticate(credentials, scope, include_catalog, source=source)

    def validate(self, token: str, include_catalog: bool = True,
                 error: type[Unauthenticated] = Unauthenticated) -> TokenInfo:
        """The caller's own token (or, with `error`, a token it hands over to exchange)."""
        return self._tokens.validate(token, include_catalog, error=error)

    def validate_for(self, caller: TokenInfo, subject_token: str, include_catalog: bool = True,
                     rule: str = "identity:validate_token") -> TokenInfo:
        return self._tokens.validate_for(caller, subject_token, include_catalog, rule=rule)

    def revoke(self, caller: TokenInfo, subject_token: str) -> None:
        self._tokens.revoke(caller, subject_token)

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
