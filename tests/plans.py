"""Catching the SQL a server runs, and asking the database how it would run it.

`QueryLog` records every statement Peewee executes in this process (the server under
test runs in-process); `full_scans` explains one with the backend's own EXPLAIN and
names the large tables it would read from end to end:

* SQLite: any SCAN of one, and a SEARCH that constrains only columns of a few values
  (`target_type = 'project'` matches most of role_assignment: a scan by another name);
* PostgreSQL: a Seq Scan with sequential scans disabled, i.e. where no index can
  serve (with them enabled the planner rightly reads a few-page table whole);
* MariaDB/MySQL: an access type of ALL or index (a full table or index scan).
"""

import json
import logging
import re

import peewee as pw

# Tables that grow with the deployment; the small ones (roles, catalog, the feeds
# read by id) may be read whole.
LARGE_TABLES = {"domain", "project", "user", "password", "group", "group_membership",
                "role_assignment", "api_key"}
# Columns holding a handful of values: a search on these alone reads most of a table.
FEW_VALUES = {"actor_type", "target_type", "inherited", "enabled", "is_domain"}
_ALIAS = re.compile(r'[`"](\w+)[`"] AS [`"](\w+)[`"]')
_SQLITE_STEP = re.compile(r"^(SCAN|SEARCH) (\w+)(?: .*?)?(?: \((.*)\))?$")


class QueryLog(logging.Handler):
    """Statements (with their parameters) executed while it is installed."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, tuple]] = []
        self._logger = logging.getLogger("peewee")

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            sql, params = record.msg
            self.statements.append((sql, tuple(params or ())))

    def __enter__(self) -> "QueryLog":
        self._level = self._logger.level
        self._logger.setLevel(logging.DEBUG)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def reads(self) -> list[tuple[str, tuple]]:
        """Distinct SELECT, UPDATE and DELETE statements (inserts need no plan)."""
        seen, result = set(), []
        for sql, params in self.statements:
            if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")) and sql not in seen:
                seen.add(sql)
                result.append((sql, params))
        return result


def full_scans(db: pw.Database, sql: str, params: tuple) -> list[str]:
    """The large tables this statement would read in full, each with the plan."""
    aliases = {alias: table for table, alias in _ALIAS.findall(sql)}
    if isinstance(db, pw.SqliteDatabase):
        details = [r[-1] for r in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params)]
        scanned = [aliases.get(m[2], m[2]) for m in map(_SQLITE_STEP.match, details)
                   if m and (m[1] == "SCAN" or _few_values_only(m[3]))]
    elif isinstance(db, pw.MySQLDatabase):
        cursor = db.execute_sql("EXPLAIN " + sql, params)
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, r)) for r in cursor.fetchall()]
        details = [f"{r['table']}: {r['type']} {r['key']}" for r in rows]
        scanned = [aliases.get(r["table"], r["table"]) for r in rows if r["type"] in ("ALL", "index")]
    else:
        with db.atomic():
            db.execute_sql("SET LOCAL enable_seqscan = off")
            plan = db.execute_sql("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        nodes, details, scanned = [plan[0]["Plan"]], [], []
        while nodes:
            node = nodes.pop()
            nodes.extend(node.get("Plans", ()))
            details.append(f"{node['Node Type']} {node.get('Relation Name', '')} "
                           f"{node.get('Index Name', '')}".strip())
            if node["Node Type"] == "Seq Scan":
                scanned.append(node["Relation Name"])
    return [f"{t}: {'; '.join(details)}" for t in scanned if t in LARGE_TABLES]


def _few_values_only(constraints: str | None) -> bool:
    """Whether a SQLite SEARCH constrains nothing but few-valued columns."""
    if not constraints:
        return False
    columns = {re.match(r"(?:ANY\()?(\w+)", term.strip())[1] for term in constraints.split(" AND ")}
    return columns <= FEW_VALUES
