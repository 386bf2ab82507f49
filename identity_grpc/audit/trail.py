"""The audit trail: events recorded on the calling thread in constant time, written
out and fanned out on a thread of its own.

`record` puts a `Fact` on a queue and returns: no formatting, no I/O, no lock a
slow reader could hold, no thread woken. The trail's thread, every WRITE_INTERVAL,
turns each fact into its CADF object (`events.cadf_event`) and JSON line once, then
hands it to every sink: the logger
`identity_grpc.audit` (one INFO line each), the `audit_log_file` (JSON lines,
appended with one write per batch, so the processes of one host can share the
file), a ring of recent events (the replay a new stream starts with) and each
stream subscriber's bounded buffer.

Nothing waits on a reader: a subscriber whose buffer is full loses the events that
do not fit and is told how many in its next message (drop and tell). If the trail's
own thread falls `QUEUE_LIMIT` events behind (a stalled disk), further facts are
counted and dropped, and the count is logged, rather than slowing calls or
growing without bound.

The trail is this process's: each server process (and replica) has its own, and a
collector watches each of them or ships each one's file (docs/audit.md).
"""

import collections
import json
import logging
import os
import queue
import threading

from ..errors import ResourceExhausted
from .events import Fact, cadf_event

log = logging.getLogger("identity_grpc.audit")
trail_log = logging.getLogger(__name__)

QUEUE_LIMIT = 100_000  # facts waiting for the trail's thread
SUBSCRIBER_BUFFER = 10_000  # events waiting for one stream subscriber
REPLAY_EVENTS = 1_000  # recent events kept for a new stream's replay
BATCH = 500  # facts written out together
# Seconds a fact may wait before the trail's thread wakes for it. Woken per fact, the
# thread took the GIL from the serving threads once per authentication: 17% of a
# rescope's GIL time under load (docs/performance.md); a flush wakes it at once.
WRITE_INTERVAL = 0.05
_STOP = object()


class AuditLogError(Exception):
    """The audit_log_file cannot be opened for appending: the server does not start."""


class Subscriber:
    """One audit stream's buffer of events (their CADF objects and JSON lines)."""

    def __init__(self, trail: "AuditTrail", user_id: str, limit: int):
        self._trail = trail
        self.user_id = user_id
        self._limit = limit
        self._cond = threading.Condition()
        self._items: list[tuple[dict, str]] = []
        self.dropped = 0
        self.closed = False

    def put(self, items: list[tuple[dict, str]]) -> None:
        with self._cond:
            if self.closed:
                return
            room = self._limit - len(self._items)
            if room < len(items):
                self.dropped += len(items) - max(room, 0)
                items = items[:max(room, 0)]
            self._items += items
            self._cond.notify()

    def take(self, timeout: float) -> tuple[list[tuple[dict, str]], int]:
        """(the events buffered so far, waiting up to `timeout` for one; how many
        were dropped since the last take)."""
        with self._cond:
            if not self._items and not self.dropped and not self.closed:
                self._cond.wait(timeout)
            items, self._items = self._items, []
            dropped, self.dropped = self.dropped, 0
            return items, dropped

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify()
        self._trail.unsubscribe(self)


class AuditTrail:
    """Owns this process's audit events; promises `record` never blocks the caller."""

    def __init__(self, log_file: str = "", max_subscribers: int = 2,
                 queue_limit: int = QUEUE_LIMIT, subscriber_buffer: int = SUBSCRIBER_BUFFER,
                 replay: int = REPLAY_EVENTS):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()  # set by flush and close: drain now
        self._queue_limit = queue_limit
        self._log_file = log_file
        self._fd: int | None = None
        if log_file:  # opened now, so a server that cannot write its audit log never starts
            try:
                self._fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as e:
                raise AuditLogError(f"{log_file}: cannot append to it: {e.strerror}") from None
        self.max_subscribers = max_subscribers
        self._subscriber_buffer = subscriber_buffer
        self._recent: collections.deque[tuple[dict, str]] = collections.deque(maxlen=replay)
        self._lock = threading.Lock()  # subscribers and the ring
        self._subscribers: tuple[Subscriber, ...] = ()
        self._thread: threading.Thread | None = None
        self.dropped = 0  # facts dropped because the trail's thread fell behind
        self.written = 0

    def record(self, fact: Fact) -> None:
        """Hand a fact to the trail's thread (the hot path: a queue put, waking no
        one: the thread drains the queue every WRITE_INTERVAL)."""
        if self._queue.qsize() >= self._queue_limit:
            self.dropped += 1
            return
        self._queue.put(fact)

    # ---- the trail's thread ------------------------------------------------

    def start(self) -> "AuditTrail":
        self._thread = threading.Thread(target=self._run, name="audit-trail", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Write out what was recorded, then stop."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._wake.set()
            self._thread.join(timeout=5)
            self._thread = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _run(self) -> None:
        reported = 0
        while True:
            facts = []
            while len(facts) < BATCH:
                try:
                    facts.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if facts:
                try:
                    self._write([f for f in facts if isinstance(f, Fact)])
                except Exception:  # keep the trail alive through a bad disk or a bug
                    trail_log.exception("audit events could not be written")
                for marker in facts:
                    if isinstance(marker, _Flush):
                        marker.done.set()
                if self.dropped != reported:
                    trail_log.error("audit trail fell behind: %d events dropped so far",
                                    self.dropped)
                    reported = self.dropped
                if _STOP in facts:
                    return
            if len(facts) < BATCH:  # drained: the next interval, or a flush or close
                self._wake.wait(WRITE_INTERVAL)
                self._wake.clear()

    def _write(self, facts: list[Fact]) -> None:
        if not facts:
            return
        items = []
        for fact in facts:
            event = cadf_event(fact)
            items.append((event, json.dumps(event, separators=(",", ":"))))
        if log.isEnabledFor(logging.INFO):
            for _, line in items:
                log.info(line)
        if self._fd is not None:
            os.write(self._fd, "".join(line + "\n" for _, line in items).encode())
        with self._lock:
            self._recent.extend(items)
            subscribers = self._subscribers
        for subscriber in subscribers:
            subscriber.put(items)
        self.written += len(items)

    # ---- streams --------------------------------------------------------------

    def subscribe(self, user_id: str, replay: int = 0) -> tuple[Subscriber, list[tuple[dict, str]]]:
        """A subscriber and up to `replay` recent events (subscribed first, under the
        same lock, so an event is in the replay or the buffer, never both, never
        neither); ResourceExhausted past `max_subscribers`."""
        with self._lock:
            if len(self._subscribers) >= self.max_subscribers:
                raise ResourceExhausted(
                    f"this server already serves {self.max_subscribers} audit streams, all it "
                    "has slots for (max_audit_streams); watch another process, or read the "
                    "audit_log_file")
            subscriber = Subscriber(self, user_id, self._subscriber_buffer)
            self._subscribers += (subscriber,)
            recent = list(self._recent)[-replay:] if replay > 0 else []
        return subscriber, recent

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every fact recorded so far is written out (tests, shutdown)."""
        marker = _Flush()
        self._queue.put(marker)
        self._wake.set()
        return marker.done.wait(timeout)


class _Flush:
    """Put on the queue by `flush`: set once everything before it is written."""

    __slots__ = ("done",)

    def __init__(self):
        self.done = threading.Event()
