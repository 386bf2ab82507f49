"""HTTPS on waitress' own loop: each accepted socket wrapped in TLS, the handshake
driven without blocking, then the same bounded connection as over plaintext.

Waitress has no TLS. Rather than a second WSGI server, whose limits would all need
re-making and re-proving (connections, idle and request timeouts, header and body
sizes, Keystone's error bodies), the gateway keeps waitress and wraps each accepted
connection in an `ssl.SSLSocket` that never blocks: the handshake advances as bytes
arrive, on the same poll() loop as every other connection, so a client that shakes
hands slowly holds only its own connection, and one that never finishes is closed
after `request_timeout` like a request that never arrives. Every connection takes
the SSLContext current when it is accepted (`tls.ServerContexts`): a certificate
replaced on disk serves the next connection, with no restart.

An SSL object must not be used by two threads at once, and is not: waitress reads a
connection only while no handler runs for it (a channel with a request in hand is not
readable), and writes it, from its loop or from a handler's thread flushing a large
response, only under the connection's output lock.
"""

import logging
import ssl
import time

from .. import tls
from .connections import GatewayServer, TimedChannel

log = logging.getLogger(__name__)


class TlsChannel(TimedChannel):
    """A TimedChannel over a non-blocking TLS socket: handshake first, then reads
    and writes that may each ask for the other direction."""

    handshaken = False
    _wants_write = False  # TLS must send before it can go on

    def __init__(self, server, sock, addr, adj, map=None):
        self.accepted = time.time()
        super().__init__(server, sock, addr, adj, map=map)

    def readable(self):
        return not self.handshaken or super().readable()

    def writable(self):
        if not self.handshaken:
            return self._wants_write or self.will_close
        return self._wants_write or super().writable()

    def _handshake(self) -> bool:
        """Advance the handshake; True once it is done."""
        try:
            self.socket.do_handshake()
        except ssl.SSLWantReadError:
            self._wants_write = False
            return False
        except ssl.SSLWantWriteError:
            self._wants_write = True
            return False
        except OSError as e:  # a client trusting another CA, without a certificate...
            log.debug("TLS handshake with %s failed: %s", self.addr, e)
            self.handle_close()
            return False
        self.handshaken, self._wants_write = True, False
        self.last_activity = time.time()
        return True

    def handle_read(self):
        if not self.handshaken and not self._handshake():
            return
        try:
            data = self.socket.recv(self.adj.recv_bytes)
            while data and self.socket.pending():  # decrypted already: poll() cannot see it
                data += self.socket.recv(self.socket.pending())
        except ssl.SSLWantReadError:
            return
        except ssl.SSLWantWriteError:
            self._wants_write = True
            return
        except OSError as e:
            log.debug("TLS connection from %s failed: %s", self.addr, e)
            self.handle_close()
            return
        if not data:  # the client closed
            self.handle_close()
            return
        self._wants_write = False
        self.last_activity = time.time()
        self.received(data)

    def handle_write(self):
        if not self.handshaken:
            if self.will_close:  # timed out while shaking hands
                self.handle_close()
            else:
                self._handshake()
            return
        self._wants_write = False
        super().handle_write()

    def send(self, data, do_close=True):
        try:
            return super().send(data, do_close)
        except ssl.SSLWantWriteError:
            return 0
        except ssl.SSLWantReadError:  # TLS reads first (a key update): poll() says when
            return 0
        except ssl.SSLError as e:
            log.debug("TLS connection from %s failed: %s", self.addr, e)
            if do_close:
                self.handle_close()
            return 0


class TlsGatewayServer(GatewayServer):
    """The gateway's server with TLS connections, from the SSLContext current when
    each is accepted; connections still shaking hands after `request_timeout` are
    closed by the periodic sweep."""

    channel_class = TlsChannel

    def __init__(self, *args, contexts: tls.ServerContexts, **kwargs):
        self.contexts = contexts
        super().__init__(*args, **kwargs)

    def accept(self):
        accepted = super().accept()
        if accepted is None:
            return None
        conn, addr = accepted
        return self.contexts.current().wrap_socket(
            conn, server_side=True, do_handshake_on_connect=False), addr

    def maintenance(self, now):
        super().maintenance(now)
        cutoff = now - self.request_timeout
        for channel in list(self.active_channels.values()):
            if not channel.handshaken and channel.accepted < cutoff:
                channel.will_close = True
