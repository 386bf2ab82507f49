"""A dump of the whole store, and its restore into an empty one (`identity-manage
export` / `import`).

The dump is JSON lines, written and read one row at a time so that a store of
millions of rows never needs to be in memory:

    {"format": "identity-grpc-dump", "format_version": 1, "schema_version": 7, ...}
    {"table": "domain", "columns": ["id", "name", "description", "enabled"]}
    ["default", "Default", "The default domain", true]
    ...                                    (every table, in `models.TABLE_NAMES` order)
    {"end": true, "rows": {"domain": 3, ...}}

It is read in one read-only transaction (a snapshot: rows written meanwhile are all
in or all out), each table streamed in primary-key order. Every table is in it, password and
application-credential hashes included, so a dump is as secret as the store. The
credential blobs stay encrypted with the keys of `credential_key_dir`, and the token
signing keys (`key_dir`) are files: neither directory is in the dump, and both must be
restored beside it (docs/operations.md).

A restore goes into an empty store (only the default domain that every new store
has), in one transaction: a dump cut short, or one whose rows the store refuses,
leaves the store as empty as it was. Only a dump of this release's schema version is
read: one of a newer format or schema is refused (upgrade this service first), and
an older one is restored with the release that wrote it, then `db upgrade`.
"""

import datetime
import json
from collections.abc import Iterable, Iterator
from typing import IO

import peewee as pw

from . import models, schema

FORMAT = "identity-grpc-dump"
FORMAT_VERSION = 1
PAGE_ROWS = 1000
# Text per INSERT, at most (and a row more): under MariaDB's smallest usual
# max_allowed_packet (16 MiB) whatever the rows hold.
BATCH_CHARS = 4_000_000
NOTE = ("credential blobs are encrypted with the keys in credential_key_dir and tokens are "
        "signed with the keys in key_dir: neither directory is in this dump; keep them with it")


class DumpError(RuntimeError):
    """The dump cannot be written or restored: why, in one line."""


def _models(t: models.Tables) -> list:
    return [getattr(t, name) for name in models.TABLE_NAMES]


def _columns(model) -> list[str]:
    return [f.column_name for f in model._meta.sorted_fields]


def _backend(db: pw.Database) -> str:
    if models.is_sqlite(db):
        return "sqlite"
    return "postgresql" if isinstance(db, pw.PostgresqlDatabase) else "mysql"


def _snapshot(db: pw.Database):
    """One read-only transaction that sees the store as of its first read."""
    if models.is_sqlite(db):
        return db.transaction(lock_type="DEFERRED")  # WAL: readers never block the writer
    if isinstance(db, pw.PostgresqlDatabase):
        return db.transaction(isolation_level="REPEATABLE READ READ ONLY")
    return db.transaction(isolation_level="REPEATABLE READ")


def _rows(db: pw.Database, model) -> Iterator[tuple]:
    """Every row of `model` in primary-key order, the values as the model reads them,
    streamed by the driver a batch at a time: SQLite's cursor steps as it is read, and
    PostgreSQL (a cursor declared in SQL) and MariaDB (an unbuffered cursor) send rows
    as they are fetched. (Paging by key instead cost MariaDB a full scan per page
    of a composite key: four minutes for 1.2 million rows.)"""
    fields = model._meta.sorted_fields
    sql, params = model.select(*fields).order_by(*model._meta.get_primary_keys()).sql()
    converters = [f.python_value for f in fields]
    for batch in _batches(db, sql, params):
        for row in batch:
            yield tuple(convert(value) for convert, value in zip(converters, row))


def _batches(db: pw.Database, sql: str, params) -> Iterator[list]:
    connection = db.connection()
    if isinstance(db, pw.PostgresqlDatabase):
        # Declared in SQL: psycopg2's named cursors refuse a connection in autocommit
        # mode, which Peewee's are (its transactions are BEGIN statements).
        cursor = connection.cursor()
        try:
            cursor.execute(f"DECLARE identity_dump NO SCROLL CURSOR FOR {sql}", params)
            while True:
                cursor.execute(f"FETCH {PAGE_ROWS} FROM identity_dump")
                batch = cursor.fetchall()
                if not batch:
                    break
                yield batch
            cursor.execute("CLOSE identity_dump")
        finally:
            cursor.close()
        return
    if models.is_sqlite(db):
        cursor = connection.cursor()
    else:
        import pymysql.cursors
        cursor = connection.cursor(pymysql.cursors.SSCursor)
    try:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(PAGE_ROWS):
            yield batch
    finally:
        cursor.close()


def export(db: pw.Database, out: IO[str]) -> dict[str, int]:
    """Write the whole store at `db` to `out`; returns the rows written per table."""
    version = schema.current_version(db)
    if version != schema.LATEST:
        raise DumpError(f"the store's schema is version {version}, this release's is "
                        f"{schema.LATEST}: run `identity-manage db upgrade` (or export "
                        "with the release that matches the store)")
    t = models.Tables(db)
    counts: dict[str, int] = {}
    with _snapshot(db):
        _write(out, {"format": FORMAT, "format_version": FORMAT_VERSION,
                     "schema_version": version, "source_backend": _backend(db),
                     "written_at": datetime.datetime.now(datetime.UTC).isoformat(),
                     "note": NOTE})
        for model in _models(t):
            table = model._meta.table_name
            _write(out, {"table": table, "columns": _columns(model)})
            counts[table] = 0
            for row in _rows(db, model):
                _write(out, list(row))
                counts[table] += 1
        _write(out, {"end": True, "rows": counts})
    return counts


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # made once, not per row


def _write(out: IO[str], value) -> None:
    out.write(_ENCODER.encode(value))
    out.write("\n")


def check_empty(t: models.Tables) -> None:
    """Refuse a store holding anything but the default domain a new store has."""
    for model in _models(t):
        query = model.select()
        if model is t.Domain:
            query = query.where(t.Domain.id != models.DEFAULT_DOMAIN_ID)
        if query.exists():
            raise DumpError(f"the store is not empty (table {model._meta.table_name} has "
                            "rows): restore into a new, empty store (`identity-manage db "
                            "upgrade` on a new database creates one)")


def restore(db: pw.Database, lines: Iterable[str]) -> dict[str, int]:
    """Load a dump into the empty store at `db` (its schema current); returns the rows
    restored per table. All or nothing: any error rolls the whole restore back."""
    t = models.Tables(db)
    check_empty(t)
    lines = iter(lines)
    _check_header(_parse(next(lines, ""), 1))
    by_table = {m._meta.table_name: m for m in _models(t)}
    with db.atomic():
        t.Domain.delete().execute()  # the new store's default domain: the dump has its own
        counts, trailer = _load_tables(by_table, lines)
        if trailer.get("rows") != counts:
            raise DumpError(f"the dump's rows per table {trailer.get('rows')} are not "
                            f"those read {counts}: the file is damaged")
        schema.ensure_default_domain(t)
    _advance_sequences(db, list(by_table.values()))
    return counts


def _parse(line: str, number: int):
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        what = "the file is empty" if number == 1 and not line else f"not JSON ({e})"
        raise DumpError(f"dump line {number}: {what}") from None


def _check_header(header) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DumpError(f"not a dump written by `identity-manage export` (no {FORMAT!r} "
                        "header on line 1)")
    if header.get("format_version") != FORMAT_VERSION:
        raise DumpError(f"dump format version {header.get('format_version')} is not this "
                        f"release's ({FORMAT_VERSION}): restore it with the release that "
                        "wrote it")
    version = header.get("schema_version")
    if not isinstance(version, int) or version > schema.LATEST:
        raise DumpError(f"the dump's schema version {version} is newer than this release's "
                        f"({schema.LATEST}): upgrade the service, then import")
    if version < schema.LATEST:
        raise DumpError(f"the dump's schema version {version} is older than this release's "
                        f"({schema.LATEST}): import it with the release that wrote it, "
                        "then run `identity-manage db upgrade`")


def _load_tables(by_table: dict, lines: Iterator[str]) -> tuple[dict[str, int], dict]:
    counts: dict[str, int] = {}
    loader = None
    for number, line in enumerate(lines, start=2):
        item = _parse(line, number)
        if isinstance(item, list):
            if loader is None:
                raise DumpError(f"dump line {number}: a row before any table")
            loader.add(item, number)
        elif isinstance(item, dict) and "table" in item:
            if loader is not None:
                counts[loader.table] = loader.finish()
            loader = _TableLoader(by_table, item, number)
        elif isinstance(item, dict) and item.get("end") is True:
            if loader is not None:
                counts[loader.table] = loader.finish()
            return counts, item
        else:
            raise DumpError(f"dump line {number}: neither a table, a row nor the end")
    raise DumpError("the dump ends before its last line: the file was cut short")


class _TableLoader:
    """Inserts one table's rows in batches. A row that refers to another row of its own
    table (a project's parent, a region's, a redelegated trust's) waits until that one
    is in, since the backends check foreign keys row by row."""

    def __init__(self, by_table: dict, item: dict, number: int):
        self.table = item["table"]
        self.model = by_table.get(self.table)
        if self.model is None:
            raise DumpError(f"dump line {number}: table {self.table!r} is not in this "
                            "release's store")
        columns = item.get("columns")
        if columns is None or sorted(columns) != sorted(_columns(self.model)):
            raise DumpError(f"dump line {number}: table {self.table!r} has columns "
                            f"{columns}, this release's are {_columns(self.model)}")
        meta = self.model._meta
        self.fields = [meta.columns[c] for c in columns]
        self_refs = [f for f in self.fields
                     if isinstance(f, pw.ForeignKeyField) and f.rel_model is self.model]
        self.key = columns.index(meta.primary_key.column_name) if self_refs else None
        self.parents = [columns.index(f.column_name) for f in self_refs]
        self.present: set = set()
        self.waiting: dict = {}  # missing parent id -> rows waiting for it
        self.batch: list[list] = []
        self.batch_chars = 0
        self.count = 0
        db, quote = meta.database, meta.database.quote
        names = ", ".join(f"{quote[0]}{c}{quote[1]}" for c in columns)
        self.insert = f"INSERT INTO {quote[0]}{self.table}{quote[1]} ({names})"
        self.placeholders = "(" + ", ".join([db.param] * len(columns)) + ")"
        self.converters = [f.db_value for f in self.fields]

    def add(self, row: list, number: int) -> None:
        if len(row) != len(self.fields):
            raise DumpError(f"dump line {number}: {len(row)} values for the "
                            f"{len(self.fields)} columns of {self.table!r}")
        self.count += 1
        ready = [row]
        while ready:
            row = ready.pop()
            missing = next((row[i] for i in self.parents
                            if row[i] is not None and row[i] not in self.present), None)
            if missing is not None:
                self.waiting.setdefault(missing, []).append(row)
                continue
            self.batch.append(row)  # after its parent, in the same batch or an earlier one
            self.batch_chars += sum(len(v) for v in row if type(v) is str)
            if self.key is not None:
                self.present.add(row[self.key])
                ready.extend(self.waiting.pop(row[self.key], []))
        if len(self.batch) >= PAGE_ROWS or self.batch_chars >= BATCH_CHARS:
            self._flush()

    def _flush(self) -> None:
        """One multi-row INSERT of the batch, its text built here: Peewee's query
        builder took four fifths of a restore's time."""
        if not self.batch:
            return
        db = self.model._meta.database
        sql = f"{self.insert} VALUES " + ", ".join([self.placeholders] * len(self.batch))
        db.execute_sql(sql, [convert(value) for row in self.batch
                             for convert, value in zip(self.converters, row)])
        self.batch, self.batch_chars = [], 0

    def finish(self) -> int:
        self._flush()
        if self.waiting:
            orphan = next(iter(self.waiting))
            raise DumpError(f"table {self.table!r}: rows refer to {orphan!r}, which is not "
                            "in the dump")
        return self.count


def _advance_sequences(db: pw.Database, all_models: list) -> None:
    """PostgreSQL's sequences do not follow ids inserted explicitly: set each past the
    highest id restored. (SQLite and MariaDB move theirs on such inserts.)"""
    if not isinstance(db, pw.PostgresqlDatabase):
        return
    for model in all_models:
        key = model._meta.primary_key
        if isinstance(key, pw.AutoField):
            table, column = model._meta.table_name, key.column_name
            db.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                f"COALESCE(MAX(\"{column}\"), 1), MAX(\"{column}\") IS NOT NULL) FROM \"{table}\"")
