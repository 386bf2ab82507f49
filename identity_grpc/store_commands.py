"""`identity-manage db status|upgrade [--check]`, `export` and `import`: the store's
schema and its dump, as an operator runs them.

`db status` and `db upgrade --check` change nothing (a SQLite file that does not exist
is reported, not created). Exit statuses: 0 done (or, for `--check`, nothing to apply),
2 for `--check` when upgrades are pending, 1 on any failure (one line on stderr).
The dump's format and its guarantees are `store.dump`'s.
"""

import os
import sys
from pathlib import Path

import peewee as pw

from .config import Settings
from .store import dump, schema
from .store.db import describe_url, open_database, sqlite_file

UPGRADE_PENDING = 2  # `db upgrade --check`'s exit status when there is something to apply


def stored_version(url: str) -> int:
    """The schema version of the store at `url` (0: none yet), touching nothing."""
    path = sqlite_file(url)
    if path is not None and not os.path.exists(path):
        return 0
    db = open_database(url, upgrade=False)
    try:
        return schema.current_version(db)
    finally:
        db.close()


def _too_new(version: int) -> str:
    return (f"the store's schema version {version} is newer than this release's "
            f"({schema.LATEST}): run the newer release")


def db_status(settings: Settings) -> int:
    version = stored_version(settings.database_url)
    print(f"store:          {describe_url(settings.database_url)}")
    print(f"schema version: {version}{' (no store yet)' if version == 0 else ''}")
    print(f"this release:   {schema.LATEST}")
    if version > schema.LATEST:
        print(f"pending:        none; {_too_new(version)}")
        return 1
    _print_pending(schema.pending(version), "pending")
    return 0


def _print_pending(steps: list[tuple[int, str]], label: str) -> None:
    if not steps:
        print(f"{label + ':':<15} none, the schema is current")
        return
    print(f"{label + ':':<15} {len(steps)} upgrade{'s' if len(steps) > 1 else ''}")
    for step, summary in steps:
        print(f"  {step}  {summary}")


def db_upgrade(settings: Settings, check: bool) -> int:
    version = stored_version(settings.database_url)
    if version > schema.LATEST:
        raise RuntimeError(_too_new(version))
    steps = schema.pending(version)
    if check:
        print(f"store {describe_url(settings.database_url)} at schema version {version}, "
              f"this release's is {schema.LATEST}")
        _print_pending(steps, "would apply")
        return UPGRADE_PENDING if steps else 0
    open_database(settings.database_url).close()  # opening applies the migrations
    if steps:
        print(f"upgraded the store from schema version {version} to {schema.LATEST}")
        _print_pending(steps, "applied")
    else:
        print(f"the schema is current (version {schema.LATEST}): nothing to apply")
    return 0


def export(settings: Settings, output: str) -> int:
    """Write the dump to `output` ("-": stdout). A file is written 0600 beside its
    final name and renamed when complete, so a failed export leaves no partial dump."""
    db = open_database(settings.database_url, upgrade=False)
    try:
        if output == "-":
            counts = dump.export(db, sys.stdout)
            sys.stdout.flush()
        else:
            counts = _export_to_file(db, Path(output))
    finally:
        db.close()
    print(f"exported {sum(counts.values())} rows of {len(counts)} tables (schema version "
          f"{schema.LATEST}) to {'stdout' if output == '-' else output}; {dump.NOTE}",
          file=sys.stderr)
    return 0


def _export_to_file(db: pw.Database, path: Path) -> dict[str, int]:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            counts = dump.export(db, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return counts


def restore(settings: Settings, source: str) -> int:
    """Load the dump at `source` ("-": stdin) into the empty store of `settings` (a
    new database gets this release's schema first)."""
    db = open_database(settings.database_url)
    try:
        if source == "-":
            counts = dump.restore(db, sys.stdin)
        else:
            with open(source, encoding="utf-8") as lines:
                counts = dump.restore(db, lines)
    finally:
        db.close()
    print(f"imported {sum(counts.values())} rows of {len(counts)} tables into "
          f"{describe_url(settings.database_url)}; restore key_dir ({settings.key_dir}) and "
          f"credential_key_dir ({settings.credential_key_dir}) from the same backup, or old "
          "tokens and credentials will not be readable")
    return 0
