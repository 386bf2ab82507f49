"""Whether this server should be sent traffic: one decision, for both transports.

*Live* means the process answers at all: a transport that can run the question says
yes. *Ready* means it can do its job: the store answers, the key repository holds a
primary key that signs, and the server is not draining for shutdown. The gRPC health
service and the gateway's probes (docs/health.md) only translate this answer.

The store is asked by one thread every `health_check_interval` seconds, never per
probe, so a flood of probes costs the database nothing; the query runs on a thread of
its own, so that a store that hangs (a network partition, not a refusal) is reported
not ready after STORE_CHECK_TIMEOUT seconds instead of leaving the last answer
standing. Listeners (the gRPC health service) hear every change of readiness.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)

# A store query taking longer than this counts as a failed check.
STORE_CHECK_TIMEOUT = 5.0
PROBE_MESSAGE = b"identity readiness probe"


@dataclass(frozen=True)
class Check:
    """One condition of readiness: its name, whether it holds, and why (words an
    unauthenticated prober may read: never an address, a path or a secret)."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]


class StoreProbe:
    """`SELECT 1` on a daemon thread of its own, at most one at a time: the caller
    waits at most STORE_CHECK_TIMEOUT, and a query still hanging from an earlier
    check is waited for, never piled on."""

    def __init__(self, db, timeout: float = STORE_CHECK_TIMEOUT):
        self._db = db
        self._timeout = timeout
        self._asked = threading.Event()
        self._answered = threading.Event()
        self._answer = Check("store", False, "not checked yet")
        self._asked_at = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="store-probe", daemon=True)
        self._thread.start()

    def check(self) -> Check:
        if not self._asked.is_set():  # the last query answered: ask again
            self._answered.clear()
            self._asked_at = time.monotonic()
            self._asked.set()
        waited = time.monotonic() - self._asked_at
        if self._answered.wait(max(0.0, self._timeout - waited)):
            return self._answer
        return Check("store", False, f"no answer for {time.monotonic() - self._asked_at:.0f} s")

    def _run(self) -> None:
        while True:
            self._asked.wait()
            if self._closed:
                return
            self._answer = self._query()
            self._asked.clear()
            self._answered.set()

    def _query(self) -> Check:
        try:
            with self._db.connection_context():
                self._db.execute_sql("SELECT 1")
            return Check("store", True, "answers")
        except Exception as e:  # whatever the driver raises: the store is not usable
            try:
                self._db.close()  # a broken connection: the next check opens a new one
            except Exception:
                pass
            log.debug("store check failed: %s", e)
            return Check("store", False, f"does not answer ({type(e).__name__})")

    def close(self) -> None:
        """End the thread once the query it runs (if any) returns."""
        self._closed = True
        self._asked.set()


def check_keys(keys) -> Check:
    """The primary key, the only one that signs, signs a message its public key
    verifies: a token issued now would be valid."""
    try:
        primary = keys.primary
        primary.public_key.verify(primary.private_key.sign(PROBE_MESSAGE), PROBE_MESSAGE)
    except Exception as e:
        return Check("keys", False, f"no usable primary key ({type(e).__name__})")
    return Check("keys", True, f"primary key {primary.index}")


class Health:
    """This server's readiness, kept current by one thread (`start`, `stop`)."""

    def __init__(self, db, keys, interval: float = 2.0):
        self._db = db
        self._keys = keys
        self._interval = interval
        self._probe: StoreProbe | None = None
        self._store = Check("store", False, "not checked yet")
        self._keys_checked: tuple[int | None, Check] = (None, Check("keys", False, "unchecked"))
        self._draining = False
        self._listeners: list[Callable[[bool], None]] = []
        self._published: bool | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def live(self) -> bool:
        return True  # whoever can ask has been answered by a running process

    @property
    def draining(self) -> bool:
        return self._draining

    def readiness(self) -> Readiness:
        """The last store check, the keys as they are now, and the drain."""
        drain = (Check("shutdown", False, "draining: the server is stopping") if self._draining
                 else Check("shutdown", True, "not stopping"))
        return Readiness((self._store, self._check_keys(), drain))

    def _check_keys(self) -> Check:
        """`check_keys`, once per set of keys (a reload makes a new generation)."""
        generation, checked = self._keys_checked
        if generation != self._keys.generation:
            generation = self._keys.generation
            checked = check_keys(self._keys)
            self._keys_checked = (generation, checked)
        return checked

    def on_change(self, listener: Callable[[bool], None]) -> None:
        """Call `listener(ready)` now and whenever readiness changes."""
        with self._lock:  # held while listeners run, so that they hear changes in order
            self._listeners.append(listener)
            listener(self.readiness().ready)

    def begin_drain(self) -> None:
        """From now on not ready, whatever the checks say (the server is stopping)."""
        self._draining = True
        self._publish()

    def check_now(self) -> Readiness:
        if self._probe is None:
            self._probe = StoreProbe(self._db)
        store = self._probe.check()
        if store.ok != self._store.ok:
            log.log(logging.INFO if store.ok else logging.WARNING,
                    "readiness: store %s", store.detail)
        self._store = store
        self._publish()
        return self.readiness()

    def start(self) -> "Health":
        """Check once before serving, then every interval on a thread."""
        self.check_now()
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:  # not for a check hanging on the store: the thread is a daemon
            self._thread.join(timeout=1.0)
        if self._probe:
            self._probe.close()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check_now()
            except Exception:  # a listener's fault must not end the checks
                log.exception("readiness check failed")

    def _publish(self) -> None:
        with self._lock:
            ready = self.readiness().ready
            if ready == self._published:
                return
            self._published = ready
            for listener in self._listeners:
                listener(ready)
