"""Keyset paging: a page continues after the last row of the previous one.

Unlike OFFSET, a page costs the same however deep it is and never skips or repeats a
row when rows are added meanwhile. The page token is the last row's sort key, opaque
to clients (URL-safe base64 of JSON).

A token comes back from the client, so it is checked as strictly as any other input
before it reaches a query: each value must be of the type its sort key's column holds
(a string no longer than the column, with no NUL and valid UTF-8; an integer within
signed 64 bits; never a bool standing in for an integer), and there must be exactly
one value per key. Anything else is INVALID_ARGUMENT naming `page_token`, never a
database error.
"""

import base64
import binascii
import json

import peewee as pw

from ..errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_TOKEN_LENGTH = 8192  # characters; a real token is well under half of this
INT64 = (-2 ** 63, 2 ** 63 - 1)
BOOL = "bool"
NOT_OURS = "is not a token this service gave out"


def page_size_of(page_size: int) -> int:
    """The number of rows a page holds for a requested `page_size` (0: the default)."""
    if page_size < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def page(query: pw.ModelSelect, key: tuple[pw.Field, ...], page_size: int,
         page_token: str) -> tuple[list, str]:
    """The rows of one page of `query` in `key` order, and the next page's token
    ("" on the last page). `key` must be unique (end it with the primary key)."""
    size = page_size_of(page_size)
    if page_token:
        after = decode(page_token, [kind_of_field(f) for f in key])
        query = query.where(pw.Tuple(*key) > pw.Tuple(*after))
    rows = list(query.order_by(*key).limit(size + 1))
    if len(rows) <= size:
        return rows, ""
    last = rows[size - 1]
    return rows[:size], encode([getattr(last, f.name) for f in key])


def kind_of_field(field: pw.Field):
    """What a token may hold for a sort key on `field`: a maximum string length, the
    (low, high) range of an integer, or BOOL."""
    if isinstance(field, pw.ForeignKeyField):
        field = field.rel_field
    if isinstance(field, pw.BooleanField):
        return BOOL
    if isinstance(field, (pw.IntegerField, pw.AutoField)):
        return INT64
    return getattr(field, "max_length", None) or MAX_TOKEN_LENGTH


def encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode(token: str, kinds: list) -> list:
    """The values of a token made by `encode`, one per entry of `kinds` (see
    `kind_of_field`), or InvalidArgument("page_token")."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidArgument("page_token", NOT_OURS)
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        values = None
    if not isinstance(values, list) or len(values) != len(kinds) or not all(
            _fits(v, kind) for v, kind in zip(values, kinds)):
        raise InvalidArgument("page_token", NOT_OURS)
    return values


def _fits(value, kind) -> bool:
    if kind == BOOL:
        return isinstance(value, bool)
    if isinstance(kind, tuple):
        return type(value) is int and kind[0] <= value <= kind[1]
    if not isinstance(value, str) or len(value) > kind or "\x00" in value:
        return False
    try:
        value.encode("utf-8")  # a lone surrogate (JSON "\ud800") is no string we store
    except UnicodeEncodeError:
        return False
    return True
