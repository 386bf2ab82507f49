"""Shape checks for what clients send, shared by every subsystem, so that a bad
field gets the same clear INVALID_ARGUMENT wherever it arrives."""

from .errors import InvalidArgument

MAX_NAME_LENGTH = 255
MAX_ID_LENGTH = 64
NO_NUL = "must not contain NUL characters"


def check_name(field: str, value: str) -> None:
    if not value or not value.strip():
        raise InvalidArgument(field, "must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidArgument(field, f"must be at most {MAX_NAME_LENGTH} characters")
    _check_no_nul(field, value)


def check_id(field: str, value: str) -> None:
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgument(field, f"must be at most {MAX_ID_LENGTH} characters")
    _check_no_nul(field, value)


def _check_no_nul(field: str, value: str) -> None:
    # Valid UTF-8, but no store column can hold it (PostgreSQL refuses it outright).
    if "\x00" in value:
        raise InvalidArgument(field, NO_NUL)


def refuse_nul(values) -> None:
    """The store's last line: no text with NUL reaches a backend, whichever field
    (or lookup, or filter) it came in; the fields checked above say which one."""
    for value in values:
        if type(value) is str and "\x00" in value:
            raise InvalidArgument("request", f"text {NO_NUL}")


def check_id_or_name(field: str, ident: str, name: str) -> None:
    """Exactly one of `ident` and `name` names the thing."""
    if ident and name:
        raise InvalidArgument(field, "give an id or a name, not both")
    if not ident and not name:
        raise InvalidArgument(field, "an id or a name is required")
    if ident:
        check_id(f"{field}.id", ident)
    else:
        check_name(f"{field}.name", name)
