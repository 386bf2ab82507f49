"""Running an operation again when a concurrent write made it fail.

Replicas share one store, so two of them writing at once can collide: MariaDB picks a
deadlock victim, PostgreSQL (at stricter isolation levels) refuses to serialize,
SQLite reports "database is locked" (see `store.conflicts`). The loser's transaction
was rolled back and wrote nothing, so running the same work again is the cure.

What is run again is the whole operation, not just its transaction, and this is why
the retry lives here rather than in `change_feed.Writer`:

* an operation is the unit of work: it reads and checks (the caller's rights, that
  the domain exists, that the user is enabled) and then writes in one transaction.
  After a collision those reads may be stale, so they must be made again; replaying
  only the transaction would write on the strength of the old checks;
* `Writer.transaction()` is a `with` block, and Python cannot run a block twice;
* both transports call operations, so one wrapper covers gRPC and the gateway alike.

Attempts are bounded (ATTEMPTS) and spaced by a short jittered backoff, so racers
spread apart; past the last one the caller gets Aborted (gRPC ABORTED, HTTP 409),
never a false "store unavailable". A unique-name clash is never retried: it is
AlreadyExists and stays so. A vanished reference (a domain deleted between the check
and the insert) is run again like a collision, and the operation's own checks then
answer with the precise NotFound or FailedPrecondition. Work already inside a
transaction, or inside another operation, is not retried on its own: only the
outermost unit can be run again as a whole.
"""

import functools
import logging
import random
import threading
import time
from typing import Callable

import peewee as pw

from .. import metrics
from ..errors import Aborted
from ..store import conflicts

log = logging.getLogger(__name__)

ATTEMPTS = 5
BASE_DELAY = 0.005  # seconds; doubled each attempt, jittered, so racers spread apart
MAX_DELAY = 0.1

_inside = threading.local()


def backoff(attempt: int) -> float:
    """How long to wait before attempt `attempt + 1`: exponential with full jitter."""
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** attempt))


def retrying(db: "pw.Database | Callable[[tuple], pw.Database]", operation):
    """`operation`, run again (at most ATTEMPTS times in all) when it fails with a
    transient conflict or a vanished reference. `db` is the store's database, or how to
    find it from the call's arguments (a method's object knows its own store)."""
    database_of = db if callable(db) and not isinstance(db, pw.Database) else (lambda _: db)

    @functools.wraps(operation)
    def run(*args, **kwargs):
        if getattr(_inside, "active", False) or database_of(args).in_transaction():
            return operation(*args, **kwargs)
        _inside.active = True
        try:
            return _run(operation, args, kwargs)
        finally:
            _inside.active = False
    return run


def _run(operation, args, kwargs):
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return operation(*args, **kwargs)
        except pw.DatabaseError as e:
            kind = conflicts.kind_of(e)
            if kind not in (conflicts.TRANSIENT, conflicts.REFERENCE):
                raise
            if attempt == ATTEMPTS:
                if kind == conflicts.REFERENCE:
                    raise  # the checks did not catch it: a bug, reported as such
                metrics.STORE_CONFLICTS.labels("gave_up").inc()
                log.warning("%s: gave up after %d attempts: %s", operation.__qualname__,
                            attempt, conflicts.original(e))
                raise Aborted("concurrent changes kept conflicting with this one; "
                              "nothing was changed: try again") from e
            metrics.STORE_CONFLICTS.labels("retried").inc()
            log.info("%s: attempt %d met a concurrent change (%s): running it again",
                     operation.__qualname__, attempt, conflicts.original(e))
            time.sleep(backoff(attempt))
