"""Watching the audit events (`WatchAuditEvents`): the rule, the replay, then the
events as the trail writes them, never waiting on a slow watcher (`audit.trail`)."""

from __future__ import annotations

from ..core import Core
from ..errors import InvalidArgument
from ..policy import Policy
from ..records import TokenInfo

RULE = "identity:watch_audit_events"
MAX_REPLAY = 1000
KEEPALIVE_SECONDS = 1.0  # how long a quiet stream waits before it says so


class AuditOps:
    def __init__(self, core: Core):
        self._trail = core.audit
        self._policy: Policy = core.policy
        self.keepalive = KEEPALIVE_SECONDS

    def watch(self, caller: TokenInfo, replay: int = 0) -> "AuditWatch":
        """A watch: subscribed first, with up to `replay` recent events."""
        if not 0 <= replay <= MAX_REPLAY:
            raise InvalidArgument("replay", f"must be between 0 and {MAX_REPLAY}")
        self._policy.enforce_on_token(RULE, caller)
        subscriber, recent = self._trail.subscribe(caller.identity.user.id, replay)
        return AuditWatch(subscriber, recent, self.keepalive, self._policy)


class AuditWatch:
    """One stream: `recent` (the replay), then `next(caller)` for each message."""

    def __init__(self, subscriber, recent: list, keepalive: float, policy: Policy):
        self._subscriber = subscriber
        self.recent = recent
        self.keepalive = keepalive
        self._policy = policy

    def next(self, caller: TokenInfo) -> tuple[list, int] | None:
        """(events, how many were dropped) within one keepalive interval (none: a
        keepalive), or None once closed; the rule is checked again each time."""
        events, dropped = self._subscriber.take(self.keepalive)
        if self._subscriber.closed:
            return None
        self._policy.enforce_on_token(RULE, caller)
        return events, dropped

    def close(self) -> None:
        self._subscriber.close()
