"""A unique name or key taken, as the store reports it: AlreadyExists naming the
entity. Any other integrity error (a reference that vanished, or a row still
referred to) passes through as it is, for the operation's retry to run its checks
again (`operations.retry`)."""

from contextlib import contextmanager
from typing import Callable, Iterator

import peewee as pw

from ..errors import AlreadyExists
from . import conflicts


@contextmanager
def refusing_clash(conflict: str | Callable[[], str]) -> Iterator[None]:
    """Turns a unique clash inside into AlreadyExists(`conflict`); `conflict` may be
    a function, for a message that names what the statement read."""
    try:
        yield
    except pw.IntegrityError as e:
        if conflicts.kind_of(e) != conflicts.UNIQUE:
            raise
        raise AlreadyExists(conflict() if callable(conflict) else conflict) from None
