"""The open-file budget of one server process.

Every connection, HTTP or gRPC, holds a file descriptor, and many systems start
services with a soft limit of 1,024 open files (systemd's default) while allowing
far more. A connection limit past that soft limit could never be reached: accept()
would fail with EMFILE instead, which waitress logs and retries at full speed. So
the server raises its soft limit towards the hard limit at start, to what its
connection limits need, and where the hard limit is too low it says so and lowers
the HTTP limit to what fits.
"""

import logging
import resource

from .config import Settings

log = logging.getLogger(__name__)

# Descriptors beside the client connections: listeners, store connections, the key
# directory, logs, waitress' wake-up pipe, a body spilled to a temporary file.
RESERVED = 256
HTTP_FLOOR = 100  # waitress' own default: never go below it


def needed(settings: Settings) -> int:
    return settings.http_connection_limit + settings.grpc_max_connections + RESERVED


def ensure_open_files(count: int) -> int:
    """Raise the soft RLIMIT_NOFILE to `count` (at most the hard limit); return the
    soft limit now in force. Never lowers it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= count:
        return soft
    target = count if hard == resource.RLIM_INFINITY else min(count, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def http_connection_limit(settings: Settings) -> int:
    """The HTTP connection limit this process can honour: the setting, unless the
    open-file limit cannot be raised far enough."""
    soft = ensure_open_files(needed(settings))
    if soft == resource.RLIM_INFINITY or soft >= needed(settings):
        return settings.http_connection_limit
    fits = max(HTTP_FLOOR, soft - settings.grpc_max_connections - RESERVED)
    log.warning("open file limit %d is below the %d that http_connection_limit (%d) and "
                "grpc_max_connections (%d) need; raise the hard limit (ulimit -Hn, "
                "systemd LimitNOFILE=). Serving at most %d HTTP connections.",
                soft, needed(settings), settings.http_connection_limit,
                settings.grpc_max_connections, min(fits, settings.http_connection_limit))
    return min(fits, settings.http_connection_limit)
