"""Keyset paging: a page continues after the last row of the previous one.

Unlike OFFSET, a page costs the same however deep it is and never skips or repeats a
row when rows are added meanwhile. The page token is the last row's sort key, opaque
to clients (URL-safe base64 of JSON).
"""

import base64
import binascii
import json

import peewee as pw

from ..errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page(query: pw.ModelSelect, key: tuple[pw.Field, ...], page_size: int,
         page_token: str) -> tuple[list, str]:
    """The rows of one page of `query` in `key` order, and the next page's token
    ("" on the last page). `key` must be unique (end it with the primary key)."""
    if page_size < 0:
        raise InvalidArgument("page_size", "must not be negative")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if page_token:
        after = _decode(page_token, len(key))
        query = query.where(pw.Tuple(*key) > pw.Tuple(*after))
    rows = list(query.order_by(*key).limit(size + 1))
    if len(rows) <= size:
        return rows, ""
    last = rows[size - 1]
    return rows[:size], _encode([getattr(last, f.name) for f in key])


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(token: str, length: int) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != length or not all(
            isinstance(v, (str, int)) for v in values):
        raise InvalidArgument("page_token", "is not a token this service gave out")
    return values
