"""Request ids: one per call, the same in its log lines and in its answer.

Keystone's form (`req-` and a UUID), which OpenStack's clients show and operators
grep for. gRPC returns it in the `x-openstack-request-id` trailer, the gateway in
the header of that name, and every log record made while the call is served
carries it (`current()`, a context variable the transports set around the call).

An id is a version-4 UUID whose first 80 bits are drawn at random once per process
and whose last 48 count the process's calls: unique without a random draw per call
(under a microsecond, where `uuid.uuid4()` costs three: a system call for its
randomness). An id must be unique, not unguessable: nothing is granted by one.
"""

import contextvars
import itertools
import os
import random

HEADER = "x-openstack-request-id"

CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def _prefix() -> str:
    """`req-` and a UUID's first 20 hex digits, random but for the version (4) and
    the variant (RFC 4122) bits, ending with a dash."""
    text = "%020x" % (random.SystemRandom().getrandbits(80)
                      & ~(0xF << 28) & ~(0xC << 12) | (0x4 << 28) | (0x8 << 12))
    return f"req-{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-"


_ids = itertools.count()
_process_prefix = _prefix()


def _new_process() -> None:
    global _ids, _process_prefix
    _ids, _process_prefix = itertools.count(), _prefix()


os.register_at_fork(after_in_child=_new_process)  # a forked child counts apart


def new() -> str:
    """A fresh id: `req-` and a version-4 UUID."""
    return f"{_process_prefix}{next(_ids) & 0xFFFFFFFFFFFF:012x}"


def current() -> str:
    """The id of the call being served on this thread, or ""."""
    return CURRENT.get()
