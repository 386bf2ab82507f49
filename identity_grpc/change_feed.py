"""Keeping each server's in-memory state in step with the shared store.

Writes that take rights away or change what a token would show go through
`Writer.transaction()`: in the same database transaction they append to the change
feed and the revocation events, and once committed they are applied to this
server's caches at once. Every server (this one included, which closes the window
where a cache refilled before the commit) polls the feed and applies what is new,
so other replicas follow within one poll interval.
"""

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import peewee as pw
from identity_api.changes import EVERY, Kind
from identity_api.revocation import Revocation, RevocationList

from . import metrics
from .errors import AlreadyExists
from .store import conflicts
from .store import Store
from .store.feed import AppendOnly
from .store.models import now_seconds

log = logging.getLogger(__name__)

OnChange = Callable[[Kind, str], None]
# Rows that commit out of id order (concurrent writers) are caught by re-reading this
# many ids below the highest one seen; ids already applied are skipped.
LOOKBACK_IDS = 200
CHANGE_RETENTION_SECONDS = 600


@dataclass
class PendingWrites:
    changes: list[tuple[str, str]] = field(default_factory=list)
    revocations: list[Revocation] = field(default_factory=list)

    def changed(self, entity: Kind, entity_id: str) -> None:
        self.changes.append((Kind(entity), entity_id))  # an unknown kind is a bug: refused

    def revoke(self, event: Revocation) -> None:
        self.revocations.append(event)


class Writer:
    """Owns writing a change: the change feed and revocation events in the same
    transaction; promises this server's caches apply it once committed."""

    def __init__(self, store: Store, on_change: OnChange, revocations: RevocationList):
        self._store = store
        self._db = store.db
        self._on_change = on_change
        self._revocations = revocations

    @contextmanager
    def transaction(self) -> Iterator[PendingWrites]:
        pending = PendingWrites()
        with self._db.atomic():
            yield pending
            self._store.feed.append(pending.changes)
            for event in pending.revocations:
                self._store.revocations.append(vars_of(event))
        for entity, entity_id in pending.changes:
            self._on_change(entity, entity_id)
        for event in pending.revocations:
            self._revocations.add(event)

    @contextmanager
    def unique(self, conflict: str) -> Iterator[PendingWrites]:
        """A transaction in which a unique-name clash becomes AlreadyExists(conflict).
        Any other integrity error (a reference that vanished after the caller checked
        it) passes through: the operation's retry runs the checks again."""
        try:
            with self.transaction() as tx:
                yield tx
        except pw.IntegrityError as e:
            if conflicts.kind_of(e) != conflicts.UNIQUE:
                raise
            raise AlreadyExists(conflict) from None


def vars_of(event: Revocation) -> dict:
    return {name: getattr(event, name) for name in Revocation.__slots__}


class FeedCursor:
    """Reads rows of one append-only table that this server has not applied yet.

    Ids are trusted only while the table shows no sign of having gone back: a
    table whose highest id is below the highest one applied here (its newest rows
    deleted, so the next ids may be handed out again), an applied id that now names
    another row (handed out again before this server looked: change rows carry a
    random nonce, so even the same change again differs), or a lowest id past
    the next one expected (rows this server never read were pruned) is a feed this
    cursor can no longer follow row by row. `fetch_new` then says so, and the
    caller resynchronises (see `StoreWatcher`)."""

    def __init__(self, feed: AppendOnly, start_id: int = 0):
        self._feed = feed
        self.high = start_id
        self._applied: dict[int, int] = {}  # id -> fingerprint of the row applied

    def fetch_new(self) -> tuple[list[dict], str | None]:
        """(rows not applied yet, why the feed cannot be trusted or None)."""
        lowest, highest = self._feed.id_range()
        if self.high:
            if highest is None or highest < self.high:
                return [], (f"its highest id went back from {self.high} to {highest or 0}")
            if lowest > self.high + 1:
                return [], (f"ids {self.high + 1} to {lowest - 1} are gone unread")
        rows = self._feed.rows_after(self.high - LOOKBACK_IDS)
        fresh = []
        for row in rows:
            seen = self._applied.get(row["id"])
            if seen is None:
                fresh.append(row)
            elif seen != _fingerprint(row):
                return [], f"id {row['id']} was handed out again"
        self._mark_applied(fresh)
        return fresh, None

    def restart(self) -> list[dict]:
        """Every row of the table, all counted as applied: after a rewind or a gap."""
        rows = self._feed.all_rows()
        self.high, self._applied = 0, {}
        self._mark_applied(rows)
        return rows

    def _mark_applied(self, rows: list[dict]) -> None:
        for row in rows:
            self._applied[row["id"]] = _fingerprint(row)
            self.high = max(self.high, row["id"])
        floor = self.high - LOOKBACK_IDS
        if len(self._applied) > LOOKBACK_IDS:
            self._applied = {i: f for i, f in self._applied.items() if i > floor}


def _fingerprint(row: dict) -> int:
    return hash(tuple(row.values()))


class StoreWatcher:
    """A daemon thread: polls the feeds, follows key rotation on disk, prunes.

    A feed that went back or lost unread rows (`FeedCursor`) is resynchronised
    rather than trusted: every revocation event is read again (adding one twice is
    a no-op), and the change feed counts as "everything changed" (the wildcard
    change `("*", "*")`, which drops every cache)."""

    def __init__(self, store: Store, on_change: OnChange, revocations: RevocationList,
                 on_tick: Callable[[], None], interval: float = 0.25,
                 prune_interval: float = 60.0,
                 change_retention: float = CHANGE_RETENTION_SECONDS,
                 keep_after_expiry: int = 0):
        self._store = store
        # Revocations outlive their tokens by the allow_expired window: an expired
        # token may still be validated with allow_expired, and must stay revoked.
        self._keep_after_expiry = keep_after_expiry
        self._db = store.db
        self._on_change = on_change
        self._revocations = revocations
        self._on_tick = on_tick
        self._interval = interval
        self._prune_interval = prune_interval
        self._change_retention = change_retention
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._changes = FeedCursor(store.feed, store.feed.highest_id())
        self._events = FeedCursor(store.revocations)
        self._last_prune = 0.0
        self.resyncs = 0  # how many times a feed had to be read again from scratch

    def load(self) -> None:
        """Read every unexpired revocation event: called once before serving."""
        self.poll_once()

    def poll_once(self) -> None:
        started = time.perf_counter()
        with self._db.connection_context():
            events, broken = self._events.fetch_new()
            if broken:
                log.warning("revocation feed %s: reading every revocation event again", broken)
                self._resynced()
                events = self._events.restart()
            for row in events:
                self._revocations.add(Revocation(**{n: row[n] for n in Revocation.__slots__}))
            changes, broken = self._changes.fetch_new()
            if broken:
                log.warning("change feed %s: dropping every cache", broken)
                self._resynced()
                self._changes.restart()
                self._on_change(Kind.ANYTHING, EVERY)
            for row in changes:
                self._on_change(row["entity"], row["entity_id"])
            _observe_poll(started, len(events), len(changes))
            if time.monotonic() - self._last_prune > self._prune_interval:
                self.prune()
        self._on_tick()

    def _resynced(self) -> None:
        self.resyncs += 1
        metrics.FEED_RESYNCS.inc()

    def prune(self, now: int | None = None) -> None:
        """Delete revocation events no still-valid token could match, and change-feed
        rows every server has long since read. The newest row of each table is kept
        whatever its age, so that its id stays the table's high-water mark on every
        backend and engine (followers take a lower highest id for a rewind)."""
        now = now_seconds() if now is None else now
        self._store.revocations.prune(now - self._keep_after_expiry)
        self._store.feed.prune(now, self._change_retention)
        self._revocations.prune(now - self._keep_after_expiry)
        self._last_prune = time.monotonic()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="store-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll_once()
            except Exception:  # keep following the store through transient faults
                metrics.STORE_ERRORS.labels("feed").inc()
                log.exception("store watcher poll failed")


def _observe_poll(started: float, events: int, changes: int) -> None:
    """A successful read of the feeds: when, how long, how many rows applied."""
    metrics.FEED_LAST_POLL.set_to_current_time()
    metrics.FEED_POLL_DURATION.observe(time.perf_counter() - started)
    if events:
        metrics.FEED_ROWS_APPLIED.labels("revocations").inc(events)
    if changes:
        metrics.FEED_ROWS_APPLIED.labels("changes").inc(changes)
