"""Where the call being served came from: its request id, the client's address and
its agent, as the transport saw them.

Each transport binds an origin when a call starts (the gRPC interceptor, the
gateway's WSGI app) and the core reads it only when it records an audit event, so
a call that records nothing pays for one context variable and no more. The
request id is the call's (`request_ids`, the one its logs, response and error name),
read when first asked for and then kept; `request_origin()` is the one place
the core reads it.
"""

import contextvars
from dataclasses import dataclass
from typing import Callable

from .. import request_ids


class Origin:
    """A call's origin. `address` and `agent` are read from the transport's own
    objects by `resolve`, only when an event is recorded."""

    __slots__ = ("_request_id", "_resolve", "_resolved")

    def __init__(self, resolve: Callable[[], tuple[str, str]] = lambda: ("", ""),
                 request_id: str = ""):
        self._request_id = request_id
        self._resolve = resolve
        self._resolved: tuple[str, str] | None = None

    @property
    def request_id(self) -> str:
        if not self._request_id:  # the call's (request_ids), else one of its own
            self._request_id = request_ids.current() or request_ids.new()
        return self._request_id

    def facts(self) -> "OriginFacts":
        """The origin as plain data, safe to hand to another thread."""
        if self._resolved is None:
            self._resolved = self._resolve()
        address, agent = self._resolved
        return OriginFacts(self.request_id, address, agent)


@dataclass(frozen=True, slots=True)
class OriginFacts:
    request_id: str
    address: str
    agent: str


_ORIGIN: contextvars.ContextVar[Origin | None] = contextvars.ContextVar("call_origin",
                                                                        default=None)


def bind(origin: Origin) -> contextvars.Token:
    """Make `origin` the current call's; give the token back to `unbind`."""
    return _ORIGIN.set(origin)


def unbind(token: contextvars.Token) -> None:
    _ORIGIN.reset(token)


def request_origin() -> Origin:
    """The origin of the call being served; outside any bound call (work inside the
    server, a stream), one of its own, with no address and a request id of its own."""
    return _ORIGIN.get() or Origin()
