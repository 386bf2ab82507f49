"""Policies: Keystone's policy API, which stores opaque blobs (a policy file, in the
format its `type` names, e.g. `application/json`) for services to fetch. The service
never reads a blob: its own rules are `policy_rules`, and a `policy_file`.

A policy has a `type` (1-255 characters) and a `blob` (a string); any other attribute
given is kept as its `extra` and shown beside them, as Keystone keeps it. Policies change
no token.
"""

import json

from .change_feed import Writer
from .errors import InvalidArgument, NotFound
from .store import Store

RESERVED = ("id", "links", "type", "blob")


def check_type(type_) -> str:
    if not isinstance(type_, str):
        raise InvalidArgument("type", f"{type_!r} is not of type 'string'")
    if not 1 <= len(type_) <= 255:
        raise InvalidArgument("type", "is 1 to 255 characters long")
    return type_


def check_blob(blob) -> str:
    if not isinstance(blob, str):
        raise InvalidArgument("blob", f"{type(blob).__name__} is not of type 'string'")
    return blob


def check_extra(extra) -> dict:
    if not isinstance(extra, dict):
        raise InvalidArgument("extra", f"{extra!r} is not of type 'object'")
    for key in extra:
        if key in RESERVED:
            raise InvalidArgument(f"extra.{key}", "is an attribute of its own")
    return extra


class Policies:
    def __init__(self, store: Store, writer: Writer):
        self._store = store
        self._writer = writer

    def create(self, type_: str, blob: str, extra: dict | None = None):
        extra = check_extra(extra or {})
        with self._writer.transaction():
            return self._store.policies.create(check_type(type_), check_blob(blob),
                                               json.dumps(extra, sort_keys=True))

    def get(self, policy_id: str):
        return self._store.policies.get(policy_id)

    def list(self, type_: str = "", page_size: int = 0, page_token: str = "") -> tuple[list, str]:
        return self._store.policies.list(type_, page_size, page_token)

    def update(self, policy_id: str, type_: str | None = None, blob: str | None = None,
               extra: dict | None = None):
        """Sets what is given; `extra` is merged into the policy's (a None value removes
        that key)."""
        fields = {}
        if type_ is not None:
            fields["type"] = check_type(type_)
        if blob is not None:
            fields["blob"] = check_blob(blob)
        extra = check_extra(extra) if extra is not None else None

        def change(row) -> dict:
            if extra:
                merged = {**json.loads(row.extra), **extra}
                fields["extra"] = json.dumps({k: v for k, v in merged.items() if v is not None},
                                             sort_keys=True)
            return fields
        with self._writer.transaction():
            return self._store.policies.update(policy_id, change)

    def delete(self, policy_id: str) -> None:
        with self._writer.transaction():
            if not self._store.policies.delete(policy_id):
                raise NotFound(f"policy {policy_id} not found")
