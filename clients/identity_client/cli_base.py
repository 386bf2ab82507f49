"""What every `identity` command shares: the command registry, the argument helpers,
the errors the CLI reports, and how results are printed (table, JSON or values).

A command is a function `(session, args) -> result` registered under its words
(`("user", "create")`, or a classic one-word form such as `("user-create",)`). Its
result is a `Show` (one entity: Field | Value), a `Listing` (rows under columns) or
None (nothing to print).
"""

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone


class UsageError(Exception):
    """A command line that makes no sense: exit status 2."""


class CliError(Exception):
    """A request the service (or the name resolution) refused: exit status 1."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises UsageError (one line, exit 2) instead of
    printing the usage and exiting."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        name = self.prog.partition(" ")[2]  # "identity user create" -> "user create"
        raise UsageError(f"{name}: {message}" if name else message)


# ---- the registry ---------------------------------------------------------------

@dataclass
class Command:
    words: tuple[str, ...]
    func: Callable
    help: str
    arguments: tuple = ()
    classic: bool = False
    description: str = ""

    @property
    def name(self) -> str:
        return " ".join(self.words)

    def parser(self, prog: str = "identity") -> Parser:
        parser = Parser(prog=f"{prog} {self.name}", description=self.description or self.help)
        for add in self.arguments:
            add(parser)
        return parser


COMMANDS: dict[tuple[str, ...], Command] = {}


def command(name: str, help: str, *arguments, classic: bool = False, description: str = ""):
    """Register the decorated function as the command `name` (space-separated words)."""
    def register(func):
        words = tuple(name.split())
        COMMANDS[words] = Command(words, func, help, arguments, classic, description)
        return func
    return register


def find_command(words: list[str]) -> tuple[Command | None, int]:
    """The command whose words begin `words`, longest match first, and how many it took."""
    for n in range(min(len(words), 4), 0, -1):
        found = COMMANDS.get(tuple(words[:n]))
        if found is not None:
            return found, n
    return None, 0


def arg(*names, **kwargs):
    """An argument, added later to the command's parser."""
    return lambda parser: parser.add_argument(*names, **kwargs)


def exclusive(*arguments, required: bool = False):
    """Arguments of which at most one (exactly one if `required`) may be given."""
    def add(parser):
        group = parser.add_mutually_exclusive_group(required=required)
        for add_one in arguments:
            add_one(group)
    return add


def enable_disable(what: str):
    return exclusive(
        arg("--enable", dest="enabled", action="store_const", const=True, default=None,
            help=f"enable the {what} (the default on create)"),
        arg("--disable", dest="enabled", action="store_const", const=False,
            help=f"disable the {what}"))


# ---- results ---------------------------------------------------------------------

@dataclass
class Show:
    """One entity: a mapping of lower_snake field names to values."""
    fields: dict
    headers: tuple[str, str] = ("Field", "Value")


@dataclass
class Listing:
    """Rows (mappings) under `columns`: (key, header) pairs. `json_columns`, when set,
    are the (larger) set of keys given to `-f json`."""
    columns: list[tuple[str, str]]
    rows: list[dict]
    json_columns: list[tuple[str, str]] | None = None


def timestamp(ts) -> str:
    """A protobuf Timestamp as ISO 8601 in UTC, or "" when unset."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return ""
    when = datetime.fromtimestamp(ts.seconds, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S+0000")


def cell(value) -> str:
    """How a value reads in a table or as `-f value`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}='{v}'" for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return "\n".join(cell(v) for v in value) if any(
            isinstance(v, dict) or "\n" in cell(v) for v in value) else ", ".join(
            cell(v) for v in value)
    return str(value)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A prettytable-style table; cells may span several lines."""
    split = [[c.split("\n") for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in split:
        for i, lines in enumerate(row):
            widths[i] = max(widths[i], *(len(line) for line in lines))
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [rule, line(headers), rule]
    for row in split:
        height = max(len(lines) for lines in row) if row else 1
        for n in range(height):
            out.append(line([lines[n] if n < len(lines) else "" for lines in row]))
    if rows:
        out.append(rule)
    return "\n".join(out)


def pick(columns: list[tuple[str, str]], wanted: list[str] | None) -> list[tuple[str, str]]:
    """The columns named by `-c` (by key or header, in the order given), or all of them."""
    if not wanted:
        return columns
    chosen = []
    for name in wanted:
        match = [c for c in columns if name in c or name.lower() in (c[0], c[1].lower())]
        if not match:
            raise UsageError(f"no column {name!r}; choose from "
                             f"{', '.join(key for key, _ in columns)}")
        chosen.append(match[0])
    return chosen


def jsonable(value):
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def render(result, fmt: str, columns: list[str] | None) -> str:
    if isinstance(result, Show):
        keys = [(k, k) for k in result.fields]
        keys = pick(keys, columns) if columns else sorted(keys)
        if fmt == "json":
            return json.dumps({k: jsonable(result.fields[k]) for k, _ in keys}, indent=4)
        if fmt == "value":
            return "\n".join(cell(result.fields[k]) for k, _ in keys)
        return table(list(result.headers), [[k, cell(result.fields[k])] for k, _ in keys])
    if isinstance(result, Listing):
        if fmt == "json":
            cols = pick(result.columns if columns else (result.json_columns or result.columns),
                        columns)
            return json.dumps([{k: jsonable(row.get(k)) for k, _ in cols} for row in result.rows],
                              indent=4)
        cols = pick(result.columns, columns)
        if fmt == "value":
            return "\n".join(" ".join(cell(row.get(k)).replace("\n", " ") for k, _ in cols)
                             for row in result.rows)
        return table([h for _, h in cols], [[cell(row.get(k)) for k, _ in cols]
                                            for row in result.rows])
    raise TypeError(f"cannot print {result!r}")
