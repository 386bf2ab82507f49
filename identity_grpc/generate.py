"""`identity-manage generate`: load a large synthetic deployment, for benchmarks.

Into a store that `identity-manage setup` has bootstrapped (the roles admin, member and
reader must exist), it writes domains, projects (in small hierarchies), groups,
users with their passwords, group memberships and role assignments, shaped as
`synthetic.Shape` describes; the defaults (`--size large`) are a million users and
three million assignments, `--size small` a thousandth of that. Every generated user
shares ONE password hash, made once by the service's own hasher with the configured
argon2 parameters: hashing a million passwords at ~15 ms each would take over four
hours, and one real hash is all it takes for authentication to work for real (the
stored hash needs no rehash, so the first login writes nothing).

Fast enough for minutes, not hours, in bounded memory: rows are streamed from
generators and written with multi-row `insert_many` in batches (sized under every
backend's bound-parameter limit), many batches per transaction; ids are made by the
generator, not by one ORM object or one query per row. Peewee spends four fifths of
a load rendering each batch's statement value by value, yet a batch of n rows
always renders to the same text, so `insert_many` renders it once per batch size
and each batch runs it with its own values (rows are already in database types). Each transaction commits as
it goes, so a failed run leaves part of a load behind: start again on a fresh store.
A second run into the same store is refused. Afterwards the planner's statistics are
refreshed (ANALYZE), since a bulk load leaves them describing an empty store.

Every row is new, so no server's cache can hold anything the load changes, and it
writes nothing to the change feed.
"""

import argparse
import resource
import sys
import time
from dataclasses import fields as dataclass_fields
from itertools import islice
from typing import Iterable, TextIO

import peewee as pw

from .config import Settings
from .passwords import Passwords
from .progress import Progress
from .store.db import open_database
from .store.models import Tables
from .synthetic import SIZES, Shape, Sizes, domain_name

MAX_PARAMETERS = 30_000  # bound values in one statement; SQLite's limit is 32 766
ROWS_PER_TRANSACTION = 50_000
SQLITE_CACHE_KIB = 256 * 1024  # index pages kept while loading (bounded: not the data)
ROLES = ("admin", "member", "reader")

# The tables a deployment is generated into (in this order), and the columns written.
COLUMNS = {
    "Domain": ("id", "name", "description", "enabled"),
    "Project": ("id", "name", "domain", "parent", "is_domain", "description", "enabled"),
    "Group": ("id", "name", "domain", "description"),
    "User": ("id", "name", "domain", "email", "description", "enabled", "default_project",
           "created_at", "extra", "failed_auth_count", "failed_auth_at", "options"),
    "Password": ("user", "hash", "created_at", "expires_at"),
    "GroupMembership": ("user", "group"),
    "RoleAssignment": ("actor_type", "actor_id", "target_type", "target_id", "role", "inherited"),
}


class GenerateError(Exception):
    """Why the generator will not run (the store or the sizes are not fit)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=sorted(SIZES), default="large",
                        help="preset sizes (large: the defaults; small: a thousandth)")
    for field in dataclass_fields(Sizes):
        parser.add_argument(f"--{field.name}", type=int, metavar="N",
                            help=f"override the preset (large: {field.default:,})")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same store (default 1)")
    parser.add_argument("--password", default="generated-password",
                        help="every generated user's password (default generated-password)")
    parser.add_argument("--batch", type=int, default=2_000, metavar="ROWS",
                        help="rows per INSERT (default 2000; capped by parameter limits)")


def sizes_from(args: argparse.Namespace) -> Sizes:
    preset = SIZES[args.size]
    return Sizes(**{f.name: getattr(args, f.name) if getattr(args, f.name) is not None
                    else getattr(preset, f.name) for f in dataclass_fields(Sizes)})


def run(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> dict[str, int]:
    counts, elapsed = generate(settings, sizes_from(args), seed=args.seed,
                               password=args.password, batch=args.batch)
    total = sum(counts.values())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(", ".join(f"{n:,} {table}" for table, n in counts.items()), file=out)
    print(f"generated {total:,} rows in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f} rows/s); "
          f"peak memory {peak_mib:,.0f} MiB; probe user 'gen-user-00000000' in domain "
          f"'{domain_name(0)}'", file=out)
    return counts


def generate(settings: Settings, sizes: Sizes, seed: int = 1, password: str = "generated-password",
             batch: int = 2_000, progress_out: TextIO = sys.stderr) -> tuple[dict[str, int], float]:
    """Load the deployment; returns rows written per table and the seconds it took."""
    problems = sizes.problems()
    if problems:
        raise GenerateError("; ".join(problems))
    if batch < 1:
        raise GenerateError("--batch must be at least 1")
    started = time.monotonic()
    db = open_database(settings.database_url)
    t = Tables(db)
    try:
        roles = _check_store(t)
        settings.password_rules.check_pattern(password)
        hashed = Passwords(settings.hash_parameters).hash(password)
        if isinstance(db, pw.SqliteDatabase):
            # A load cut short is thrown away anyway, so no fsync is worth waiting for.
            db.execute_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            db.execute_sql("PRAGMA synchronous = OFF")
        shape, now = Shape(sizes, seed), int(time.time())
        expires_at = settings.password_rules.expiry_for(now)
        plan = [
            ("domains", t.Domain, shape.domains(), sizes.domains),
            ("projects", t.Project, shape.projects(), sizes.projects),
            ("groups", t.Group, shape.groups(), sizes.groups),
            ("users", t.User, shape.users(now), sizes.users),
            ("passwords", t.Password, shape.passwords(hashed, now, expires_at), sizes.users),
            ("memberships", t.GroupMembership, shape.memberships(), sizes.memberships),
            ("assignments", t.RoleAssignment, shape.assignments(roles), sizes.assignments),
        ]
        counts = {label: _load(db, model, rows, total, batch, label, progress_out)
                  for label, model, rows, total in plan}
        _analyze(db, t)
    finally:
        db.close()
    return counts, time.monotonic() - started


def _check_store(t: Tables) -> dict[str, str]:
    """The global roles the assignments use; refuses a store not bootstrapped, or one
    already generated into."""
    if t.Domain.select().where(t.Domain.name == domain_name(0)).exists():
        raise GenerateError(f"the store already holds generated data (domain {domain_name(0)!r} "
                            "exists); generate into a fresh store")
    roles = {r.name: r.id for r in t.Role.select().where((t.Role.domain_key == "")
                                                         & t.Role.name.in_(ROLES))}
    missing = [name for name in ROLES if name not in roles]
    if missing:
        raise GenerateError(f"role(s) {', '.join(missing)} not found: run "
                            "`identity-manage setup` first")
    return roles


def _load(db: pw.Database, model, rows: Iterable[tuple], total: int, batch: int, label: str,
          progress_out: TextIO) -> int:
    columns = [model._meta.fields[name] for name in COLUMNS[model.__name__]]
    size = max(1, min(batch, MAX_PARAMETERS // len(columns)))
    per_transaction = max(1, ROWS_PER_TRANSACTION // size)
    progress, written, rows = Progress(label, total, progress_out), 0, iter(rows)
    statements: dict[int, str] = {}  # rows in a batch -> its INSERT
    chunk = [None]
    while chunk:
        with db.atomic():
            for _ in range(per_transaction):
                chunk = list(islice(rows, size))
                if not chunk:
                    break
                sql = statements.get(len(chunk))
                if sql is None:
                    sql = statements[len(chunk)] = (
                        model.insert_many(chunk, fields=columns).returning().sql()[0])
                db.execute_sql(sql, [value for row in chunk for value in row])
                written += len(chunk)
                progress.advance(len(chunk))
    progress.finish()
    return written


def _analyze(db: pw.Database, t: Tables) -> None:
    tables = [getattr(t, name)._meta.table_name for name in COLUMNS]
    if isinstance(db, pw.SqliteDatabase):
        db.execute_sql("ANALYZE")
    elif isinstance(db, pw.MySQLDatabase):
        db.execute_sql("ANALYZE TABLE " + ", ".join(f"`{t}`" for t in tables))
    else:
        for table in tables:
            db.execute_sql(f'ANALYZE "{table}"')
