"""The schema's version and its upgrades.

A store records its schema version in `schema_version`. Opening a store runs every
migration above that version, in order, each in a transaction, so an older store is
upgraded in place and a new one is built by the same path. Migrations are written to
be safe to re-run (they check before they create), because migration 1 creates
tables from the current models.
"""

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from . import models

LATEST = 3


class SchemaVersion(models.BaseModel):
    version = pw.IntegerField()


def _create_initial_tables(db: pw.Database) -> None:
    db.create_tables([m for m in models.ALL_MODELS
                      if m not in (models.Change, models.ApiKey)], safe=True)


def _add_change_feed(db: pw.Database) -> None:
    """Version 2: the change feed that lets replicas invalidate caches precisely."""
    db.create_tables([models.Change], safe=True)


def _add_security_and_api_keys(db: pw.Database) -> None:
    """Version 3: user extra attributes and lockout counters, password expiry, API keys."""
    _add_columns(db, models.User, ["extra", "failed_auth_count", "failed_auth_at"])
    _add_columns(db, models.Password, ["expires_at"])
    db.create_tables([models.ApiKey], safe=True)


def _add_columns(db: pw.Database, model, names: list[str]) -> None:
    table = model._meta.table_name
    present = {c.name for c in db.get_columns(table)}
    migrator = SchemaMigrator.from_database(db)
    migrate(*[migrator.add_column(table, model._meta.fields[n].column_name, model._meta.fields[n])
              for n in names if model._meta.fields[n].column_name not in present])


MIGRATIONS = {1: _create_initial_tables, 2: _add_change_feed, 3: _add_security_and_api_keys}


def current_version(db: pw.Database) -> int:
    if not db.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def upgrade(db: pw.Database, target: int = LATEST) -> int:
    """Apply migrations up to `target`; returns the version the store is at."""
    db.create_tables([SchemaVersion], safe=True)
    version = current_version(db)
    if version > LATEST:
        raise RuntimeError(
            f"store schema version {version} is newer than this service knows "
            f"({LATEST}): upgrade the service")
    for step in range(version + 1, target + 1):
        with db.atomic():
            MIGRATIONS[step](db)
            SchemaVersion.delete().execute()
            SchemaVersion.create(version=step)
        version = step
    ensure_default_domain()
    return version


def ensure_default_domain() -> None:
    """The default domain (id `default`) always exists."""
    if not models.Domain.select().where(models.Domain.id == models.DEFAULT_DOMAIN_ID).exists():
        models.Domain.insert(id=models.DEFAULT_DOMAIN_ID, name="Default",
                             description="The default domain").on_conflict_ignore().execute()
