"""Which operations change something, and the audit event each records.

Every public method of an operations class (`base.Ops`) is either a read (its name
says so: `READ_PREFIXES`, `READS`) or a change marked `@audited(action)`; a class
with a method that is neither fails when it is defined, so no change, present or
future, goes unaudited. A change records one event per call, success or failure
(the policy refused it, the target was missing...), after the whole operation and
its retries: the caller from its token, the target from the result (a created
entity's id) or the call's arguments. Only the arguments the marker names are read
(ids), never a password, secret or blob. An audited operation called inside
another records nothing: the outer one tells the story.
"""

import contextvars
import functools
import inspect
import logging
from typing import Callable
from dataclasses import dataclass

from .. import audit
from ..audit.claims import claimed
from ..audit.events import Claimed, target_type_uri
from ..records import TokenInfo

READ_PREFIXES = ("get", "list", "check", "has", "ec2_get", "ec2_list")
READS = frozenset({"names", "defaults", "parents", "subtree", "groups", "users", "projects",
                   "roles", "role", "access_rules", "access_rule", "implications",
                   "implied_by", "inference_rules", "granted_roles", "model"})
log = logging.getLogger(__name__)
_inside = contextvars.ContextVar("audited_operation", default=False)


@dataclass(frozen=True)
class Change:
    action: str  # "<verb>.<resource>": created.user, added.group...
    # The argument naming the target (None: a created entity's result, else the first
    # id argument after the caller), or a function of (arguments, result) giving it.
    id_arg: "str | Callable[[dict, object], str] | None"
    # Arguments (ids, flags) shown as the target's attributes; `request.user_id`: an
    # attribute of one (shown as `user_id`).
    details: tuple[str, ...]
    initiator_arg: str | None  # without a caller token: the argument naming the user

    @property
    def creates(self) -> bool:
        return self.action.startswith("created.")

    @property
    def target_type(self) -> str:
        return target_type_uri(self.action.split(".", 1)[1])


def audited(action: str, id_arg: "str | Callable[[dict, object], str] | None" = None, details: tuple[str, ...] = (),
            initiator_arg: str | None = None):
    """Mark an operation as a change recorded as `action` (see `Change`)."""
    def mark(operation):
        operation.audit_change = Change(action, id_arg, details, initiator_arg)
        return operation
    return mark


def is_read(name: str) -> bool:
    return name in READS or name.startswith(READ_PREFIXES)


def recording(operation, run):
    """`run` (the operation, wrapped for retries), recording `operation`'s marked
    change; `operation` itself unchanged if it is a read; TypeError if it is
    neither."""
    change = getattr(operation, "audit_change", None)
    if change is None:
        if is_read(operation.__name__):
            return run
        raise TypeError(f"{operation.__qualname__} is neither a read (by its name) nor "
                        "marked @audited(...): every change must record an audit event")
    signature = inspect.signature(operation)
    names = list(signature.parameters)
    # A created entity is named by the result; anything else by its id argument.
    id_arg = change.id_arg
    if id_arg is None and not change.creates:
        id_arg = next((n for n in names[2:] if n.endswith("id")), None)

    @functools.wraps(run)
    def recorded(ops, *args, **kwargs):
        if _inside.get():
            return run(ops, *args, **kwargs)
        reset = _inside.set(True)
        try:
            result = run(ops, *args, **kwargs)
        except BaseException as e:
            _record_safely(ops, change, signature, id_arg, args, kwargs, None, e)
            raise
        finally:
            _inside.reset(reset)
        _record_safely(ops, change, signature, id_arg, args, kwargs, result, None)
        return result
    return recorded


def _record_safely(*facts) -> None:
    """Record the event; a fault in recording it (a bug) is logged, and never changes
    what the operation answers."""
    try:
        _record(*facts)
    except Exception:
        log.exception("audit event of %s not recorded", facts[1].action)


def _record(ops, change: Change, signature, id_arg, args, kwargs, result, error) -> None:
    values = {}
    for name, value in signature.bind(ops, *args, **kwargs).arguments.items():
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            values.update(value)  # **fields: only the names the marker asks for are read
        else:
            values[name] = value
    if callable(id_arg):
        target_id = id_arg(values, result)
    else:
        target_id = _id_of(result) if error is None else ""
        if not target_id and id_arg:
            target_id = values.get(id_arg) or ""
    entity = _entity_of(result) if change.creates else None
    details = tuple((n.rpartition(".")[2], v) for n in change.details
                    if (v := _argument(values, n, entity)) not in (None, ""))
    audit.note(ops.core.audit, change.action, _initiator(change, args, values),
               change.target_type, str(target_id), details, error)


def _argument(values: dict, name: str, entity):
    """An argument by name, or an attribute of one (`request.user_id`); when the call
    left it out, the created entity's (a user created in the token's domain)."""
    first, _, attribute = name.partition(".")
    value = values.get(first)
    value = getattr(value, attribute, None) if attribute else value
    if value in (None, "") and entity is not None:
        value = getattr(entity, attribute or first, None)
    return value if isinstance(value, (str, bool, int)) else None


def _initiator(change: Change, args: tuple, values: dict):
    """The caller's token; without one, the user the marker's argument names, or who
    the call's credentials (a signed OAuth1 request) claim to be."""
    first = args[0] if args else values.get("caller", values.get("credentials"))
    if isinstance(first, TokenInfo):
        return first
    if change.initiator_arg:
        return Claimed(user_id=str(values.get(change.initiator_arg) or ""))
    return claimed(first) if first is not None else None


def _entity_of(result):
    """The entity an operation returned: itself, or the first part of a pair (an
    entry with its one-time secret), or a new API key's entry (not its secret)."""
    if isinstance(result, tuple) and result:
        result = result[0]
    return getattr(result, "entry", result)


def _id_of(result) -> str:
    """A created entity's id; several joined with commas (limits created at once)."""
    if isinstance(result, list):
        return ",".join(filter(None, (_id_of(r) for r in result)))
    value = getattr(_entity_of(result), "id", "")
    return value if isinstance(value, str) else ""
