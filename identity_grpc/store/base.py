"""What every concept's store shares: its tables, its database, and the one way a row
is changed (`update`): read inside the transaction, locked, then changed by a function
of what was read, so no caller decides on a stale read."""

import contextlib
from typing import Callable, TypeVar

import peewee as pw

from ..errors import NotFound
from .models import Tables, is_sqlite
from .unique import refusing_clash

Row = TypeVar("Row", bound=pw.Model)
# Given the row as the transaction reads it, the fields to set (empty: nothing to
# write); it may raise to refuse the change, and then nothing is written.
Change = Callable[[Row], dict]
# Given the row as read and the fields written, what to say when they take a name
# another row holds (AlreadyExists).
Clash = Callable[[Row, dict], str]


def present(row: Row | None, missing: str) -> Row:
    """`row`, or NotFound(`missing`) when there is none."""
    if row is None:
        raise NotFound(missing)
    return row


class ConceptStore:
    def __init__(self, tables: Tables):
        self.t = tables
        self.db = tables.db

    def locked(self, model: type[Row], key, missing: str) -> Row:
        """The row with primary key `key` as this transaction reads it, locked until
        it ends (PostgreSQL and MariaDB lock the row; SQLite's write transaction holds
        the whole store already). NotFound(`missing`) when there is none."""
        if not self.db.in_transaction():
            raise RuntimeError("a row is locked inside the transaction that changes it")
        query = model.select().where(model._meta.primary_key == key)
        if not is_sqlite(self.db):
            query = query.for_update()
        row = query.first()
        if row is None:
            raise NotFound(missing)
        return row

    def update(self, model: type[Row], key, change: Change, missing: str,
               clash: Clash | None = None) -> Row:
        """Apply `change` to the row `key` in one transaction (joining the caller's,
        if any): read and lock it, ask `change` what to set, write that. Returns the
        row as written. A unique name taken is AlreadyExists(`clash(row, fields)`)."""
        read: dict = {}
        refusing = (refusing_clash(lambda: clash(read["row"], read["fields"])) if clash
                    else contextlib.nullcontext())
        # Inside the caller's transaction, no savepoint: nothing below is undone alone.
        joining = contextlib.nullcontext() if self.db.in_transaction() else self.db.atomic()
        with refusing, joining:
            row = read["row"] = self.locked(model, key, missing)
            fields = read["fields"] = change(row)
            if fields:
                model.update(**fields).where(model._meta.primary_key == key).execute()
                for name, value in fields.items():
                    setattr(row, name, value)
            return row
