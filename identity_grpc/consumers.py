"""What services that consume tokens need from the identity service to check them
themselves: the public keys, a live feed of revocations and changes, and the
projects of a domain.

A consuming service verifies a token's signature locally and keeps an index of
revocation events, so a request costs it microseconds, not a call. For that index to
be right it must hear of every revocation this server applies, at once: the
`NoticeHub` is the small subscriber list the server feeds. `ObservedRevocations`
(the server's `RevocationList`) tells it of each event, whether from this server's
own writes (`change_feed.Writer`) or from the shared store (`change_feed.StoreWatcher`); `Core`
tells it of each change it applies to its caches and of each key reload.
"""

import threading
import time
from collections.abc import Callable

from identity_api.changes import EVERY, Kind
from identity_api.revocation import Revocation, RevocationList

from . import metrics
from .cache import Dep, DependentCache
from .config import Settings
from .errors import PermissionDenied, ResourceExhausted
from .policy import Policy
from .records import DomainRecord, ProjectRecord, TokenInfo
from .resources import Resources, project_record
from .tokens.keys import KeyRepository
from .tokens.service import TokenService


# A notice: ("revoked", Revocation) or ("changed", entity, entity_id).
Notice = tuple
# A subscriber that falls this far behind is cut off; it reconnects and starts over
# from a fresh snapshot, which is always correct, instead of the server buffering
# without bound.
MAX_PENDING_NOTICES = 10_000
# The role whose holders are the consuming services (for messages; who holds it is
# the policy rule `service_role`): part of the stream slots is kept for them, so that
# no other caller can take every slot.
SERVICE_ROLE = "service"
SERVICE_RULE = "service_role"


class Subscription:
    """One watcher's queue of notices."""

    def __init__(self, hub: "NoticeHub", limit: int, user_id: str = "", service: bool = False):
        self._hub = hub
        self._limit = limit
        self.user_id = user_id
        self.service = service
        self._cond = threading.Condition()
        self._items: list[Notice] = []
        self._oldest = 0.0  # when the oldest notice queued was put (monotonic)
        self.closed = False
        self.overflowed = False

    def put(self, notice: Notice) -> None:
        with self._cond:
            if self.closed or self.overflowed:
                return
            if len(self._items) >= self._limit:
                self.overflowed = True
                self._items.clear()
                metrics.STREAM_OVERFLOWS.inc()
            else:
                if not self._items:
                    self._oldest = time.monotonic()
                self._items.append(notice)
            self._cond.notify()

    def take(self, timeout: float) -> list[Notice]:
        """The notices queued so far, waiting up to `timeout` for the first one."""
        with self._cond:
            if not self._items and not self.closed and not self.overflowed:
                self._cond.wait(timeout)
            items, self._items = self._items, []
            oldest = self._oldest
        if items:  # how long the oldest waited for its watcher
            metrics.STREAM_LAG.observe(time.monotonic() - oldest)
        return items

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify()
        self._hub.unsubscribe(self)


class NoticeHub:
    """The subscriber list. Publishing is a loop over an immutable tuple: writers
    never wait on a watcher.

    Each stream holds a server thread, so slots are few and shared out: at most
    `max_per_user` per user, and half of them (rounded up) only for callers holding
    the service role, so that no other caller (an admin, say) can take every slot
    from the consuming services."""

    def __init__(self, max_subscribers: int = 16, queue_limit: int = MAX_PENDING_NOTICES,
                 max_per_user: int | None = None):
        self.max_subscribers = max_subscribers
        self.max_per_user = max_per_user or max_subscribers
        self.reserved_for_services = (max_subscribers + 1) // 2
        self._queue_limit = queue_limit
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscription, ...] = ()

    def subscribe(self, user_id: str = "", service: bool = False) -> Subscription:
        """A new subscription for `user_id` (`service`: it holds the service role),
        or ResourceExhausted naming the limit it would pass."""
        with self._lock:
            self._check_slots(user_id, service)
            subscription = Subscription(self, self._queue_limit, user_id, service)
            self._subscribers += (subscription,)
            metrics.STREAM_SUBSCRIBERS.inc()
            return subscription

    def _check_slots(self, user_id: str, service: bool) -> None:
        """The most specific limit first: the caller's own, its share, the total."""
        subscribers = self._subscribers
        held = sum(1 for s in subscribers if s.user_id == user_id)
        if held >= self.max_per_user:
            raise ResourceExhausted(
                f"user {user_id} already holds {held} revocation streams on this server, "
                f"the most one user may (max_watch_streams_per_user = {self.max_per_user})")
        open_to_all = self.max_subscribers - self.reserved_for_services
        if not service and sum(1 for s in subscribers if not s.service) >= open_to_all:
            raise ResourceExhausted(
                f"the {open_to_all} revocation stream slots open to callers without the "
                f"{SERVICE_ROLE} role are taken; the other {self.reserved_for_services} "
                "are kept for consuming services")
        if len(subscribers) >= self.max_subscribers:
            raise ResourceExhausted(
                f"this server already serves {self.max_subscribers} revocation streams, "
                "all it has slots for (half of grpc_workers); check tokens with "
                "ValidateToken meanwhile, or watch another server")

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            remaining = tuple(s for s in self._subscribers if s is not subscription)
            if len(remaining) < len(self._subscribers):  # closing twice counts once
                metrics.STREAM_SUBSCRIBERS.dec()
            self._subscribers = remaining

    def publish(self, notice: Notice) -> None:
        for subscription in self._subscribers:
            subscription.put(notice)

    def revoked(self, event: Revocation) -> None:
        self.publish(("revoked", event))

    def changed(self, entity: str, entity_id: str) -> None:
        self.publish(("changed", entity, entity_id))

    def __len__(self) -> int:
        return len(self._subscribers)


class ObservedRevocations(RevocationList):
    """The server's revocation list, also telling the hub of each event it learns.

    Events arrive twice for this server's own writes (from the write, then from the
    feed): subscribers, like the list, treat a repeat as a no-op."""

    def __init__(self, hub: NoticeHub):
        super().__init__()
        self._hub = hub

    def add(self, event: Revocation) -> None:
        super().add(event)  # first, so a snapshot taken after this call holds it
        self._hub.revoked(event)

    def snapshot(self) -> list[Revocation]:
        """The index as events: one per revoked audit id (with its token's owner
        and issue time where known), one per user, project and domain cutoff. (Read
        from `RevocationList`'s own dicts, under its lock.)"""
        with self._lock:
            audit = list(self._audit.items())
            cutoffs = list(self._cutoffs.items())
            owned = {a: (owner, before) for owner, ids in self._owners.by_owner.items()
                     for a, (before, _) in ids.items()}
        events = []
        for audit_id, expires_at in audit:
            owner, issued_before = owned.get(audit_id, (None, 0))
            events.append(Revocation(issued_before=issued_before, expires_at=expires_at,
                                     audit_id=audit_id, token_user_id=owner))
        for (kind, ident), (issued_before, expires_at) in cutoffs:
            events.append(Revocation(issued_before=issued_before, expires_at=expires_at,
                                     **{f"{kind}_id": ident}))
        return events


class ConsumerService:
    """Owns what consuming services are served (GetSigningKeys, WatchRevocations,
    ListDomainProjects); promises every revocation and change reaches each watcher."""

    def __init__(self, tokens: TokenService, keys: KeyRepository, hub: NoticeHub,
                 revocations: ObservedRevocations, cache: DependentCache,
                 settings: Settings, policy: Policy, resources: Resources):
        self._tokens = tokens
        self._resources = resources
        self._policy = policy
        self._keys = keys
        self.hub = hub
        self._revocations = revocations
        self._cache = cache
        self.poll_interval = poll_interval = settings.poll_interval
        self.advertised_url = settings.advertised_url
        self.token_lifetime = settings.token_lifetime
        self.clock_skew_tolerance = settings.clock_skew_tolerance
        # Often enough that a consumer tells a lost stream from a quiet one well
        # within a second, rarely enough to cost nothing.
        self.keepalive_interval = min(max(poll_interval, 0.05), 0.25)

    def authorize_watch(self, caller: TokenInfo) -> None:
        """Rule `identity:watch_revocations`; checked again before each message of a
        stream (memoised, so that costs a lookup)."""
        self._policy.enforce_on_token("identity:watch_revocations", caller)

    def signing_keys(self, caller: TokenInfo) -> dict[str, bytes]:
        self._policy.enforce_on_token("identity:get_signing_keys", caller)
        return self._keys.public_keys()

    def watch(self, caller: TokenInfo) -> tuple[Subscription, list[Revocation]]:
        """A subscription, then the snapshot: subscribed first, so an event lands in
        the snapshot, the queue, or both, never in neither."""
        self.authorize_watch(caller)
        service = self._policy.allows_on_token(SERVICE_RULE, caller)
        subscription = self.hub.subscribe(caller.identity.user.id, service)
        return subscription, self._revocations.snapshot()

    def domain_projects(self, caller: TokenInfo, subject_token: str = ""
                        ) -> tuple[DomainRecord, tuple[ProjectRecord, ...]]:
        rule = "identity:list_domain_projects"
        if subject_token:
            info = self._tokens.validate_for(caller, subject_token, include_catalog=False, rule=rule)
        else:
            self._policy.enforce_on_token(rule, caller, {"token.user_id": caller.identity.user.id})
            info = caller
        domain = info.identity.domain
        if info.identity.scope_type != "domain" or domain is None:
            what = "the subject token" if subject_token else "this call"
            raise PermissionDenied(f"{what} needs a domain-scoped token")
        projects = self._cache.get(("domain_projects_list", domain.id),
                                   lambda deps: _enabled_projects(self._resources, domain.id, deps))
        return domain, projects


def _enabled_projects(resources: Resources, domain_id: str,
                      deps: set[Dep]) -> tuple[ProjectRecord, ...]:
    # Creating, renaming, enabling or deleting a project announces its domain's
    # "domain_projects" (resources.Resources._announce).
    deps.add((Kind.DOMAIN_PROJECTS, domain_id))
    deps.add((Kind.DOMAIN, domain_id))
    return tuple(project_record(p, p.domain)
                 for p in resources.enabled_projects_of_domain(domain_id))


def key_reloader(keys: KeyRepository, hub: NoticeHub) -> Callable[[], None]:
    """The store watcher's tick: follow the key directory, and tell consumers when the
    keys changed (a retired key revokes what it signed; a new one must be fetched)."""
    def tick() -> None:
        if keys.reload_if_changed():
            hub.changed(Kind.KEYS, EVERY)
    return tick


__all__ = ["ConsumerService", "NoticeHub", "ObservedRevocations", "Subscription",
           "key_reloader"]
