"""Errors the core raises; each transport maps them to its own status codes.

The core never speaks gRPC or HTTP: a servicer turns `InvalidArgument` into
INVALID_ARGUMENT, the gateway into 400, and so on. Anything else escaping the core
is a bug and is reported as INTERNAL.
"""


class IdentityError(Exception):
    """Base of every error a client may see; `message` is safe to show it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(IdentityError):
    """The request is malformed; the message names the field."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field


class Unauthenticated(IdentityError):
    """Credentials or token not accepted. Messages never tell which part was wrong
    when that would reveal whether a user or project exists."""


class PermissionDenied(IdentityError):
    """The caller is known but may not do this. `rule` names the policy rule that
    refused it, when one did (the HTTP gateway shows it as Keystone does)."""

    def __init__(self, message: str, rule: str = ""):
        super().__init__(message)
        self.rule = rule


class NotFound(IdentityError):
    pass


class AlreadyExists(IdentityError):
    pass


class FailedPrecondition(IdentityError):
    pass


class ForbiddenState(FailedPrecondition):
    """Refused by the state of what is acted on (an enabled domain deleted): gRPC
    answers FAILED_PRECONDITION like any precondition; Keystone's HTTP API answers
    403 (its ForbiddenAction) here."""


class ReadOnlyBackend(ForbiddenState):
    """A write to users or groups a read-only backend keeps (an LDAP domain's
    directory): FAILED_PRECONDITION on gRPC, 403 over HTTP, as Keystone answers."""


class ResourceExhausted(IdentityError):
    """A limit was reached (a queue, a rate, a quota): nothing was done. `retry_after`,
    when known, is the seconds after which the same call may pass (HTTP Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(IdentityError):
    """Something the answer depends on outside this service (a domain's LDAP
    directory) cannot be reached or did not answer in time: nothing was done, and the
    same call may pass later (gRPC UNAVAILABLE, HTTP 503)."""


class Aborted(IdentityError):
    """Concurrent writes kept colliding with this one, past every retry; nothing of it
    was written, and the client may simply call again."""


class InvalidSubjectToken(Unauthenticated):
    """The token a call asks about (not the caller's own) is not valid. gRPC answers
    UNAUTHENTICATED like any bad token; Keystone's HTTP API answers 404 here."""

    def __init__(self, message: str):
        super().__init__(f"subject_token: {message}")
