"""Following the service's WatchRevocations stream in background threads: the
revocation index (trusted only while the stream is live), the notices it carries, and
the watchdog that cuts a stream gone quiet."""

import logging
import random
import threading
import time
from typing import Callable

import grpc
from identity_api.changes import Kind, kind_of
from identity_api.revocation import Revocation, RevocationList
from identity_api.v1 import identity_pb2 as pb

from .cached_facts import CachedFacts
from .errors import IdentityUnavailable
from .identity_service import IdentityService
from .signing_keys import SigningKeys

log = logging.getLogger(__package__)


def _revocation(event: pb.RevocationEvent) -> Revocation:
    """A WatchRevocations event as the index takes it (the service sends whole
    milliseconds and seconds, so nothing is lost)."""
    return Revocation(issued_before=event.issued_before.ToMilliseconds(),
                      expires_at=event.expires_at.seconds, audit_id=event.audit_id or None,
                      user_id=event.user_id or None, project_id=event.project_id or None,
                      domain_id=event.domain_id or None,
                      token_user_id=event.token_user_id or None,
                      audit_chain_id=event.audit_chain_id or None)


class RevocationStream:
    """`index` and `live_until` (monotonic: the stream is trusted until then) are read
    without a lock. `stale_after`: how long the stream may stay silent before it
    counts as lost (None: a bit over two of the server's keepalive intervals)."""

    def __init__(self, service: IdentityService, keys: SigningKeys, facts: CachedFacts, *,
                 clock: Callable[[], float], stale_after: float | None,
                 max_backoff: float, stats: dict):
        self._service = service
        self._keys = keys
        self._facts = facts
        self._clock = clock
        self._timeout = service.timeout
        self._stale_after_setting = stale_after
        self._stale_after = stale_after or 0.6
        self._max_backoff = max_backoff
        self._stats = stats
        self._backoff = 0.05  # before the next attempt to watch; doubles per failure
        self.index = RevocationList()
        self.live_until = 0.0
        self._quiet_deadline = 0.0  # monotonic: a stream silent past this is cut
        self._call = None
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target, name in ((self._watch, "identity-revocations"),
                             (self._watchdog, "identity-watchdog")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._closed.set()
        call = self._call
        if call is not None:
            call.cancel()
        for thread in self._threads:
            thread.join(timeout=5)
        self.live_until = 0.0

    @property
    def connected(self) -> bool:
        return time.monotonic() < self.live_until

    def _watch(self) -> None:
        self._backoff = 0.05
        while not self._closed.is_set():
            try:
                call = self._service.watch_revocations()
                self._quiet_deadline = time.monotonic() + max(self._timeout, 1.0)
                self._call = call
                if self._closed.is_set():
                    call.cancel()
                self._follow(call)
            except grpc.RpcError as e:
                if not self._closed.is_set():
                    log.info("revocation stream lost (%s): checking with the service "
                             "until it is back", e.code())
                    session = self._service.session
                    if e.code() == grpc.StatusCode.UNAUTHENTICATED and session is not None:
                        session.invalidate()
            except IdentityUnavailable as e:
                log.info("cannot watch revocations: %s", e)
            except Exception:
                log.exception("revocation stream failed")
            finally:
                self.live_until = 0.0
                self._call = None
            self._closed.wait(self._backoff * random.uniform(0.8, 1.2))
            self._backoff = min(self._backoff * 2, self._max_backoff)

    def _follow(self, call) -> None:
        """Apply a stream's messages: the snapshot once all its chunks are in (the
        index is trusted only from then on), then each notice."""
        snapshot = None  # the snapshot's index, while its chunks arrive
        for message in call:
            if message.snapshot:  # always the first message
                snapshot = RevocationList()
                self._snapshot_started(message)
            if snapshot is not None:
                for event in message.events:
                    snapshot.add(_revocation(event))
                if message.snapshot_continues:
                    self._quiet_deadline = time.monotonic() + max(self._timeout, 1.0)
                    continue  # not whole yet
                self._apply_snapshot(snapshot)
                snapshot = None
                self._backoff = 0.05
            else:
                self._apply(message)
            # Only now: what the message said is applied, the index is current.
            self._quiet_deadline = time.monotonic() + self._stale_after
            self.live_until = self._quiet_deadline

    def _snapshot_started(self, message: pb.WatchRevocationsResponse) -> None:
        if self._stale_after_setting is None and message.keepalive_interval > 0:
            self._stale_after = max(2.4 * message.keepalive_interval, 0.3)

    def _apply_snapshot(self, index: RevocationList) -> None:
        """The snapshot, once whole (every chunk of it), replaces what was known."""
        self._keys.refresh()  # keys may have changed while we were not listening
        with self._facts.lock:
            self.index = index
            self._facts.forget_all()
        self._stats["snapshots"] += 1

    def _apply(self, message: pb.WatchRevocationsResponse) -> None:
        if not message.events and not message.changes:
            return  # keepalive
        self._stats["notices"] += 1
        for event in message.events:
            self.index.add(_revocation(event))
        for change in message.changes:
            kind = kind_of(change.entity)  # an unknown kind: anything may have changed
            if kind is Kind.KEYS:
                self._keys.refresh()
            else:
                self._facts.changed(kind, change.entity_id)

    def _watchdog(self) -> None:
        """Cuts a stream that went quiet (a dead peer need not close it), and prunes."""
        last_prune = time.monotonic()
        while not self._closed.wait(min(self._stale_after / 3, 0.2)):
            now = time.monotonic()
            call = self._call
            if call is not None and now >= self._quiet_deadline:
                log.info("revocation stream silent too long: reconnecting")
                call.cancel()
            if now - last_prune > 30:
                last_prune = now
                wall = self._clock()
                self.index.prune(wall)
                self._facts.forget_expired(wall)
