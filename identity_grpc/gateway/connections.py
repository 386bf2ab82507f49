"""Waitress' connection handling, bounded: how long a request may take to arrive,
how big it may be, and Keystone's error body for the requests waitress refuses.

Waitress closes connections that sit idle (`channel_timeout`), but a connection
that trickles a byte now and then is never idle, so a slowloris client could hold
it forever. `TimedChannel` records when the request it is receiving began, and
`GatewayServer` closes it with a 408 once that is `request_timeout` ago, from
waitress' own periodic `maintenance` sweep. A request that has fully arrived is
never cut, however long its handler takes.

Waitress itself refuses a body over its `max_request_body_size` (from Content-Length
before reading a byte, or as soon as a chunked body passes it) and malformed
requests, with a plain-text page; `KeystoneErrorTask` answers those in Keystone's
JSON error format instead.
"""

import time
import uuid

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import Error

from .wsgi import error_body

# Headers of one request, in bytes (waitress' default is 256 KiB per connection).
MAX_HEADER_BYTES = 32 * 1024
ACCEPT_BATCH = 64  # connections accepted per wake-up of the listener
UNEXPECTED = "An unexpected error prevented the server from fulfilling your request."


class RequestTimeout(Error):
    code = 408
    reason = "Request Timeout"


class KeystoneErrorTask(ErrorTask):
    """Waitress' answer to a request it refused, in Keystone's error format; the
    connection is closed after it, as waitress does."""

    def execute(self):
        error = self.request.error
        body = error_body(error.code, self._message(error), error.reason).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"),
                                      ("Vary", "X-Auth-Token"),
                                      ("x-openstack-request-id", f"req-{uuid.uuid4()}")])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)

    def _message(self, error: Error) -> str:
        """Never waitress' own text: it may quote a header line (a token)."""
        server = self.channel.server
        if error.code == 413:
            return ("Request is too large. Larger than max_request_body_size "
                    f"({server.body_limit}).")
        if error.code == 431:
            return f"The request's headers are larger than {MAX_HEADER_BYTES} bytes."
        if error.code == 408:
            return f"The request did not arrive within {server.request_timeout} seconds."
        if error.code == 501:
            return "Transfer-Encoding requested is not supported."
        if error.code == 400:
            return "The request is not valid HTTP/1.1."
        return UNEXPECTED


class TimedChannel(HTTPChannel):
    """A connection that knows since when its current request has been arriving."""

    error_task_class = KeystoneErrorTask
    request_started = 0.0  # when the first byte of `self.request` came
    _timed_request = None

    def received(self, data):
        result = super().received(data)
        if self.request is not self._timed_request:  # a new request began
            self._timed_request = self.request
            self.request_started = time.time()
        return result

    def expire_slow_request(self, cutoff: float) -> None:
        """Answer 408 and close if the request still arriving began before `cutoff`.
        Runs on waitress' main thread, as `received` does."""
        if (self.request is None or self.requests or self.will_close
                or self.close_when_flushed or self.request_started > cutoff):
            return
        with self.requests_lock:
            request, self.request = self.request, None
            self._timed_request = None
            request.error = RequestTimeout("request_timeout")
            request.completed = True
            self.requests.append(request)
        self.server.add_task(self)


class GatewayServer(TcpWSGIServer):
    """Waitress' TCP server with `TimedChannel` connections, sweeping slow requests
    away each `cleanup_interval` along with idle connections."""

    channel_class = TimedChannel

    def __init__(self, *args, body_limit: int, request_timeout: float, **kwargs):
        self.body_limit = body_limit
        self.request_timeout = request_timeout
        super().__init__(*args, **kwargs)

    def handle_accept(self):
        """Accept every connection waiting (up to a batch), not waitress' one per
        turn of its loop: each turn polls every open connection, so a burst of a
        thousand would otherwise keep a new client in the backlog for seconds."""
        for _ in range(ACCEPT_BATCH):
            if len(self._map) >= self.adj.connection_limit:
                return
            open_before = len(self._map)
            super().handle_accept()
            if len(self._map) == open_before:  # none was waiting (or accept failed)
                return

    def maintenance(self, now):
        super().maintenance(now)
        cutoff = now - self.request_timeout
        for channel in list(self.active_channels.values()):
            channel.expire_slow_request(cutoff)


def finish_in_flight(listeners, connections: dict, grace: float) -> None:
    """Close the listening sockets (no new connection), then for up to `grace` seconds
    close each connection once it has no request in progress and nothing left to send;
    return when none is busy. A keep-alive connection's next request, arriving before
    its turn, is still answered: its client learns of the stop by the close after it."""
    for listener in listeners:
        listener.close()
    deadline = time.monotonic() + grace
    while True:
        busy = False
        for channel in list(connections.values()):
            if not isinstance(channel, TimedChannel):
                continue  # waitress' trigger, which wakes its loop: needed to the end
            if channel.requests or channel.total_outbufs_len:
                busy = True
            else:
                channel.handle_close()
        if not busy or time.monotonic() >= deadline:
            return
        time.sleep(0.02)
