"""Shape checks for what clients send, shared by every subsystem, so that a bad
field gets the same clear INVALID_ARGUMENT wherever it arrives."""

from .errors import InvalidArgument

MAX_NAME_LENGTH = 255
MAX_ID_LENGTH = 64
NO_NUL = "must not contain NUL characters"
MAX_EMAIL_LENGTH = 255
# Free text (descriptions, URLs, extra attributes) goes in TEXT columns; MariaDB's
# holds 65,535 bytes, the least of the three backends, so every backend takes this.
MAX_TEXT_BYTES = 65_535


def check_name(field: str, value: str, max_length: int = MAX_NAME_LENGTH) -> None:
    if not value or not value.strip():
        raise InvalidArgument(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidArgument(field, f"must be at most {max_length} characters")
    _check_no_nul(field, value)


def check_id(field: str, value: str) -> None:
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgument(field, f"must be at most {MAX_ID_LENGTH} characters")
    _check_no_nul(field, value)


def check_text(field: str, value: str, max_length: int | None = None) -> None:
    """Free text a store column must hold on every backend: no NUL, at most
    `max_length` characters where the column is bounded, and MAX_TEXT_BYTES of
    UTF-8 at most."""
    _check_no_nul(field, value)
    if max_length is not None and len(value) > max_length:
        raise InvalidArgument(field, f"must be at most {max_length} characters")
    if len(value) > MAX_TEXT_BYTES // 4 and len(value.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise InvalidArgument(field, f"must be at most {MAX_TEXT_BYTES} bytes of UTF-8")


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


def check_named_changes(entity: str, changes: dict,
                        max_name_length: int = MAX_NAME_LENGTH) -> None:
    """An update's new name (if any) and description, checked as `<entity>.name` and
    `<entity>.description`, as creating one checks them."""
    if "name" in changes:
        check_name(f"{entity}.name", changes["name"], max_name_length)
    check_text(f"{entity}.description", changes.get("description") or "")
