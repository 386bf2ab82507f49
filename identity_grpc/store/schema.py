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

LATEST = 7


class SchemaTooNew(RuntimeError):
    """The store was upgraded by a newer release than this one."""


def _create_initial_tables(db: pw.Database, t: models.Tables) -> None:
    db.create_tables([m for m in t.all
                      if m not in (t.Change, t.ApiKey, t.AccessRule, t.ApiKeyAccessRule)],
                     safe=True)


def _add_change_feed(db: pw.Database, t: models.Tables) -> None:
    """Version 2: the change feed that lets replicas invalidate caches precisely."""
    db.create_tables([t.Change], safe=True)


def _add_security_and_api_keys(db: pw.Database, t: models.Tables) -> None:
    """Version 3: user extra attributes and lockout counters, password expiry, API keys."""
    _add_columns(db, t.User, ["extra", "failed_auth_count", "failed_auth_at"])
    _add_columns(db, t.Password, ["expires_at"])
    db.create_tables([t.ApiKey], safe=True)


def _index_assignments_by_target_id(db: pw.Database, t: models.Tables) -> None:
    """Version 4: the assignments' target index leads with target_id, not target_type.

    Listing a user's projects asks for `target_type = 'project'` and the user's (or
    its groups') actor ids. SQLite, which has no statistics unless ANALYZE is run,
    took an index led by target_type for that and read every project assignment
    (8 s with three million of them) instead of the primary key (actor first).
    Every query that needs the target index names the target id, so leading with it
    loses nothing and leaves no index that a bare target_type can be matched on."""
    table = t.RoleAssignment._meta.table_name
    present = {i.name for i in db.get_indexes(table)}
    migrator = SchemaMigrator.from_database(db)
    old, new = f"{table}_target_type_target_id", f"{table}_target_id_target_type"
    operations = []
    if old in present:
        operations.append(migrator.drop_index(table, old))
    if new not in present:
        operations.append(migrator.add_index(table, ("target_id", "target_type"), False, name=new))
    migrate(*operations)


def _feed_ids_never_reused_and_user_options(db: pw.Database, t: models.Tables) -> None:
    """Version 5: feed ids that are never handed out twice, user options, and the
    owner of a revoked token on its audit-id event.

    On SQLite the feeds' id columns are rebuilt as AUTOINCREMENT (`FeedIdField`):
    without it, pruning the newest rows let the next row take an id that followers
    had already applied, and they skipped it. The other backends never reuse ids."""
    _add_columns(db, t.User, ["options"])
    _add_columns(db, t.RevocationEvent, ["token_user_id"])
    if models.is_sqlite(db):
        for model in (t.RevocationEvent, t.Change):
            _rebuild_with_autoincrement(db, model)


def _cutoffs_in_milliseconds(db: pw.Database, t: models.Tables) -> None:
    """Version 6: revocation events' `issued_before` in unix milliseconds, as tokens'
    issue times now are (token format version 2), so that a password change revokes
    the tokens issued earlier in the same second. A cutoff of second s covered every
    token issued during s: it becomes the last millisecond of s, so nothing revoked
    before the upgrade becomes valid.

    Also a random `nonce` on change-feed rows, so that a follower tells a row from an
    earlier one with the same id and the same change (see `change_feed.FeedCursor`)."""
    _add_columns(db, t.Change, ["nonce"])
    t.RevocationEvent.update(
        issued_before=t.RevocationEvent.issued_before * 1000 + 999).execute()


# Version 7's new columns on tables that existed before it, by model name. (A new
# table needs no entry: version 7 creates every missing table from its model.)
PARITY_COLUMNS: dict[str, list[str]] = {
    "RevocationEvent": ["audit_chain_id"],
    "ApiKey": ["description", "unrestricted"],
}


def _add_parity_families(db: pw.Database, t: models.Tables) -> None:
    """Version 7: the API families Keystone serves beside the core (application
    credentials, trusts, credentials, OAuth1, domain configuration, endpoint groups,
    policies, project tags, limits) and the public ids of directory-backed users and
    groups (IdMapping): their tables, created where missing, and their
    columns on older tables (`PARITY_COLUMNS`)."""
    # Keys of the shape before this version (the table is migration 3's): converted
    # below. Creating ApiKey here would add its unique name index before that.
    older_keys = "unrestricted" not in {c.name for c in db.get_columns(t.ApiKey._meta.table_name)}
    db.create_tables([m for m in t.all if m is not t.ApiKey], safe=True)
    for model_name, names in PARITY_COLUMNS.items():
        _add_columns(db, getattr(t, model_name), names)
    if older_keys:
        _api_keys_as_application_credentials(db, t)


def _api_keys_as_application_credentials(db: pw.Database, t: models.Tables) -> None:
    """API keys become Keystone's application credentials (docs/appcreds.md): their
    expiry in microseconds, as Keystone keeps it (and shows it back), and a name unique
    per user; a key made without a name is named by its id, and a name used twice by
    one user gets the later key's id after it."""
    ApiKey = t.ApiKey
    table = ApiKey._meta.table_name
    ApiKey.update(expires_at=ApiKey.expires_at * 1_000_000).where(
        ApiKey.expires_at.is_null(False)).execute()
    seen: set[tuple[str, str]] = set()
    for key in ApiKey.select(ApiKey.id, ApiKey.user, ApiKey.name).order_by(
            ApiKey.created_at, ApiKey.id):
        name = key.name or key.id
        if (key.user_id, name) in seen:
            name = f"{name[:200]} ({key.id})"
        seen.add((key.user_id, name))
        if name != key.name:
            ApiKey.update(name=name).where(ApiKey.id == key.id).execute()
    if f"{table}_user_id_name" not in {i.name for i in db.get_indexes(table)}:
        migrate(SchemaMigrator.from_database(db).add_index(table, ("user_id", "name"), True))


def _rebuild_with_autoincrement(db: pw.Database, model) -> None:
    table = model._meta.table_name
    (sql,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (table,)).fetchone()
    if "AUTOINCREMENT" in sql.upper():
        return
    columns = ", ".join(f'"{c.name}"' for c in db.get_columns(table))
    db.execute_sql(f'ALTER TABLE "{table}" RENAME TO "{table}_v4"')
    for index in db.get_indexes(f"{table}_v4"):
        db.execute_sql(f'DROP INDEX "{index.name}"')
    model.create_table(safe=False)
    db.execute_sql(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{table}_v4"')
    db.execute_sql(f'DROP TABLE "{table}_v4"')


def _add_columns(db: pw.Database, model, names: list[str]) -> None:
    table = model._meta.table_name
    present = {c.name for c in db.get_columns(table)}
    migrator = SchemaMigrator.from_database(db)
    migrate(*[migrator.add_column(table, model._meta.fields[n].column_name, model._meta.fields[n])
              for n in names if model._meta.fields[n].column_name not in present])


MIGRATIONS = {1: _create_initial_tables, 2: _add_change_feed, 3: _add_security_and_api_keys,
              4: _index_assignments_by_target_id, 5: _feed_ids_never_reused_and_user_options,
              6: _cutoffs_in_milliseconds, 7: _add_parity_families}


def pending(version: int) -> list[tuple[int, str]]:
    """The migrations a store at `version` still needs: (version, what it does)."""
    def summary(step: int) -> str:
        doc = MIGRATIONS[step].__doc__ or MIGRATIONS[step].__name__.strip("_").replace("_", " ")
        first = " ".join(doc.split("\n\n")[0].split()).removeprefix(f"Version {step}: ")
        return first.split(". ")[0].rstrip(".")
    return [(step, summary(step)) for step in range(version + 1, LATEST + 1)]


def current_version(db: pw.Database) -> int:
    SchemaVersion = models.Tables(db).SchemaVersion
    if not db.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def upgrade(db: pw.Database, target: int = LATEST) -> int:
    """Apply migrations up to `target`; returns the version the store is at."""
    t = models.Tables(db)
    SchemaVersion = t.SchemaVersion
    db.create_tables([SchemaVersion], safe=True)
    version = current_version(db)
    if version > LATEST:
        raise SchemaTooNew(
            f"store schema version {version} is newer than this service knows "
            f"({LATEST}): upgrade the service")
    for step in range(version + 1, target + 1):
        with db.atomic():
            MIGRATIONS[step](db, t)
            SchemaVersion.delete().execute()
            SchemaVersion.create(version=step)
        version = step
    ensure_default_domain(t)
    return version


def ensure_default_domain(t: models.Tables) -> None:
    """The default domain (id `default`) always exists."""
    if not t.Domain.select().where(t.Domain.id == models.DEFAULT_DOMAIN_ID).exists():
        t.Domain.insert(id=models.DEFAULT_DOMAIN_ID, name="Default",
                             description="The default domain").on_conflict_ignore().execute()
