"""Audit events: who authenticated or changed what, when, from where, with what
outcome, in the shape of Keystone's CADF notifications (docs/audit.md).

Operations record them (`operations/audited.py`: every change, and every
authentication in `operations/tokens.py`), so gRPC and HTTP calls give the same
events, once; the transports only bind where a call came from (`origin`). The
`AuditTrail` (`trail.py`) writes them to the `identity_grpc.audit` logger, the
`audit_log_file`, and the `WatchAuditEvents` stream.
"""

import time

from ..errors import IdentityError
from .events import FAILURE, SUCCESS, Claimed, Fact
from .origin import request_origin
from .trail import AuditTrail


def note(trail: AuditTrail, action: str, initiator, target_type: str, target_id: str,
         details: tuple = (), error: BaseException | None = None) -> None:
    """Record one event: a success, or with `error` a failure for that reason."""
    trail.record(Fact(time.time(), action, SUCCESS if error is None else FAILURE, initiator,
                      target_type, target_id, details, request_origin().facts(),
                      None if error is None else reason_of(error)))


def reason_of(error: BaseException) -> tuple[str, str]:
    """(kind, message) of a failure: the core's error and its message (which names
    fields, never their values' secrets); anything else is an internal error."""
    if isinstance(error, IdentityError):
        return type(error).__name__, str(getattr(error, "message", "") or error)
    return "InternalError", "internal error"


__all__ = ["AuditTrail", "Claimed", "note", "reason_of"]
