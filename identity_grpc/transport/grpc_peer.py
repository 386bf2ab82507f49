"""The client's address, as the throttles of failed passwords count it, and the
call's origin as audit events show it."""

from urllib.parse import unquote

from ..audit.origin import Origin


def client_address(context) -> str:
    """The address of `context.peer()` without its port: "ipv4:127.0.0.1:5000" gives
    "127.0.0.1", "ipv6:[::1]:5000" (or its %-escaped form) gives "::1"; any other
    kind of peer (a unix socket) is returned whole."""
    peer = unquote(context.peer() or "")
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return peer


def call_origin(context) -> Origin:
    """The call's origin for audit events: its address and user agent, read only
    when an event is recorded."""
    def resolve() -> tuple[str, str]:
        agent = next((v for k, v in context.invocation_metadata() if k == "user-agent"), "")
        return client_address(context), agent
    return Origin(resolve)
