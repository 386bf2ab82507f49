"""Connections to one domain's LDAP directory: opened with the domain's TLS options
and timeouts, bound, pooled, and every failure of the link turned into `Unavailable`.

Why each choice:

* TLS options are set on each connection (`OPT_X_TLS_*` then `OPT_X_TLS_NEWCTX`), never
  globally: libldap's global options are process-wide, and two domains may trust
  different CAs or none.
* `connection_timeout` bounds both the TCP connect (`OPT_NETWORK_TIMEOUT`) and each
  operation (`OPT_TIMEOUT`, and python-ldap's own `timeout` for its synchronous
  calls): a stopped directory refuses at once, but a hung one (a paused process, a
  black-holed route) accepts the connection and never answers, which only an
  operation timeout ends. A connection that timed out is dropped, never reused: its
  unanswered request could still be answered later, out of turn.
* The pool is bounded (`pool_size`): at most that many connections, bound as the
  domain's service user, shared by the server's threads one at a time each. A thread
  that finds all in use waits up to the timeout, then gets Unavailable, rather than
  opening more connections to a directory that is already slow.
* A pooled connection may have gone stale (the directory restarted): an operation that
  fails with SERVER_DOWN on a reused connection is tried once more on a fresh one, so
  a directory that came back serves the next call.
"""

import contextlib
import threading
from collections import deque

import ldap

from .errors import Unavailable
from .ldap_settings import LdapSettings

# Failures of the link (as opposed to answers the directory gave).
LINK_ERRORS = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.UNAVAILABLE,
               ldap.BUSY)
_REQUIRE_CERT = {"demand": ldap.OPT_X_TLS_DEMAND, "allow": ldap.OPT_X_TLS_ALLOW,
                 "never": ldap.OPT_X_TLS_NEVER}


def describe(error: ldap.LDAPError) -> str:
    """python-ldap's error as one line: its description and any detail."""
    info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    text = info.get("desc") or type(error).__name__
    if info.get("info"):
        text = f"{text} ({info['info']})"
    return text


class Connections:
    """The pool of one directory's service connections, and fresh user binds."""

    def __init__(self, settings: LdapSettings, domain: str = ""):
        self._settings = settings
        self._domain = domain or "(unnamed)"
        self._idle: deque = deque()
        self._slots = threading.BoundedSemaphore(settings.pool_size)
        self._lock = threading.Lock()
        self._closed = False

    def unavailable(self, reason: str) -> Unavailable:
        return Unavailable(f"the LDAP directory of domain {self._domain} is unreachable: "
                           f"{reason}")

    def open(self, who: str | None, password: str | None):
        """A new connection, TLS set up as configured, bound as `who` (anonymous
        when None). Link failures raise Unavailable; a refused bind raises
        python-ldap's INVALID_CREDENTIALS for the caller to judge."""
        s = self._settings
        conn = ldap.initialize(s.url)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, s.connection_timeout)
        conn.set_option(ldap.OPT_TIMEOUT, s.connection_timeout)
        conn.timeout = s.connection_timeout
        try:
            if s.wants_tls_options:
                if s.tls_cacertfile:
                    conn.set_option(ldap.OPT_X_TLS_CACERTFILE, s.tls_cacertfile)
                if s.tls_cacertdir:
                    conn.set_option(ldap.OPT_X_TLS_CACERTDIR, s.tls_cacertdir)
                conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, _REQUIRE_CERT[s.tls_req_cert])
                conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
            if s.use_tls:
                conn.start_tls_s()
            conn.simple_bind_s(who or "", password or "")
            return conn
        except LINK_ERRORS as e:
            _discard(conn)
            raise self.unavailable(describe(e)) from None
        except ldap.LDAPError:
            _discard(conn)
            raise

    def bind_as(self, dn: str, password: str) -> bool:
        """Whether `password` binds as `dn` (on a connection of its own, closed
        after). An empty password is False without asking: LDAP would take it as an
        unauthenticated bind, which succeeds with no password checked."""
        if not password or not dn:
            return False
        try:
            conn = self.open(dn, password)
        except (ldap.INVALID_CREDENTIALS, ldap.INVALID_DN_SYNTAX, ldap.UNWILLING_TO_PERFORM,
                ldap.INAPPROPRIATE_AUTH, ldap.NO_SUCH_OBJECT):
            return False
        _discard(conn)
        return True

    @contextlib.contextmanager
    def _borrowed(self):
        """A bound service connection for the duration of the block; back to the pool
        after, unless the block failed on the link (then closed)."""
        if not self._slots.acquire(timeout=self._settings.connection_timeout):
            raise self.unavailable(f"all {self._settings.pool_size} connections stayed "
                                   "busy")
        conn = None
        try:
            with self._lock:
                reused = bool(self._idle)
                conn = self._idle.popleft() if reused else None
            if conn is None:
                conn = self._open_service()
            yield conn, reused
        except ldap.LDAPError as e:
            if conn is not None and isinstance(e, LINK_ERRORS):
                _discard(conn)
                conn = None
            raise
        except BaseException:  # left in an unknown state: not reused
            if conn is not None:
                _discard(conn)
                conn = None
            raise
        finally:
            if conn is not None:
                with self._lock:
                    if self._closed:
                        _discard(conn)
                    else:
                        self._idle.append(conn)
            self._slots.release()

    def _open_service(self):
        s = self._settings
        try:
            return self.open(s.user, s.password)
        except ldap.LDAPError as e:
            raise self.unavailable(f"the service user could not bind: {describe(e)}") from None

    def run(self, operation):
        """`operation(conn)` on a pooled connection; link failures are Unavailable,
        once retried on a fresh connection when a reused one was found down."""
        for attempt in (1, 2):
            try:
                with self._borrowed() as (conn, reused):
                    return operation(conn)
            except ldap.SERVER_DOWN as e:
                if attempt == 1 and reused:
                    continue
                raise self.unavailable(describe(e)) from None
            except LINK_ERRORS as e:
                raise self.unavailable(describe(e)) from None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
        for conn in idle:
            _discard(conn)


def _discard(conn) -> None:
    try:
        conn.unbind_ext_s()
    except ldap.LDAPError:
        pass
