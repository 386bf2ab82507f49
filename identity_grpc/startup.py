"""Starting a server: every way it can fail to start, told in one line.

An operator who gets a setting wrong (a broken policy file, a key directory without
keys, a database that refuses or does not answer, an address in use) needs the
setting, the file or the address, and the reason, not a traceback; and whatever runs
the service (systemd, Kubernetes) needs an exit status that says "fix the
configuration" rather than "restart me": `EXIT_CONFIGURATION` (2), as for settings
that do not load. Each step that reads a setting translates its own errors here.
"""

import contextlib
import socket

from identity_api.policy import PolicyFileError, PolicySyntaxError

from . import tls
from .audit.trail import AuditLogError
from .config import Settings
from .core import Core
from .gateway.server import HttpServer
from .policy import Policy
from .store.db import StoreError, describe_url, open_database
from .tokens.keys import KeyRepository, KeyRepositoryError
from .transport.grpc_server import create_server

EXIT_CONFIGURATION = 2


class StartupError(Exception):
    """The server cannot start as configured; the message names the setting."""


@contextlib.contextmanager
def naming_the_setting(settings: Settings):
    """Turn the errors of policy, store and keys into a StartupError naming the setting."""
    try:
        yield
    except (PolicyFileError, PolicySyntaxError) as e:  # a file's: its name, line and rule
        raise StartupError(f"policy_file: {e}") from None
    except StoreError as e:
        raise StartupError(f"database_url {describe_url(settings.database_url)}: {e}") from None
    except KeyRepositoryError as e:
        raise StartupError(f"key_dir: {e}") from None
    except tls.TlsFileError as e:  # names its setting
        raise StartupError(str(e)) from None
    except AuditLogError as e:
        raise StartupError(f"audit_log_file {e}") from None


def open_core(settings: Settings, hash_slots=None) -> Core:
    with naming_the_setting(settings):
        return Core(settings, hash_slots=hash_slots)


def check(settings: Settings) -> None:
    """What every server process would find wrong, found once (by the supervisor of
    several processes, before it starts them): policy, store (upgraded) and keys."""
    with naming_the_setting(settings):
        Policy(settings.policy_file)
        open_database(settings.database_url).close()
        KeyRepository(settings.key_dir, settings.max_active_keys)
        if tls.enabled(settings):
            tls.read_material(settings)


def bind_grpc(core: Core, reuse_port: bool):
    """The gRPC server bound to `listen`. The address is tried first with a socket of
    our own: gRPC says only that it failed (and logs it on stderr), the OS says why."""
    address = core.settings.listen
    problem = bind_problem(address, reuse_port)
    if problem is None:
        try:
            with naming_the_setting(core.settings):  # the TLS files
                return create_server(core, reuse_port=reuse_port)
        except OSError:  # taken in between
            problem = bind_problem(address, reuse_port) or "gRPC could not bind it"
    raise StartupError(f"listen {address}: cannot bind: {problem}")


def bind_http(core: Core, reuse_port: bool, grpc_port: int = 0) -> HttpServer:
    """The gateway bound to `http_listen`; its version discovery advertises the gRPC
    service on `grpc_port` (the one `listen` bound) when given."""
    address = core.settings.http_listen
    grpc_address = f"{core.settings.listen.rpartition(':')[0]}:{grpc_port}" if grpc_port else ""
    try:
        with naming_the_setting(core.settings):  # the TLS files
            return HttpServer(core, reuse_port=reuse_port, grpc_address=grpc_address)
    except OSError as e:
        raise StartupError(f"http_listen {address}: cannot bind: {e.strerror or e}") from None


def bind_problem(address: str, reuse_port: bool = False) -> str | None:
    """Why no address `address` resolves to can be bound, as the OS says it; None when
    one can (as gRPC, which binds every address it can and fails only with none)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or None
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        return f"{host}: {e.strerror}"
    problems = []
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
            if reuse_port:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                probe.bind(sockaddr)
            except OSError as e:
                problems.append(e.strerror or str(e))
            else:
                return None
    return problems[0] if problems else "it resolves to no address"
