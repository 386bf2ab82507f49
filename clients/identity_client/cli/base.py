"""What every `identity` command shares: cliff's command classes with the CLI's way
of failing (one line on stderr: exit 1 for a refusal, 2 for a bad command line), the
column types a table shows differently from JSON, and small argument helpers.

A command's `take_action` returns what cliff prints: `show(fields)` for one entity,
`listing(columns, rows)` for many, nothing for a command that only acts.
"""

import argparse
import sys
from datetime import datetime, timezone

from cliff import columns, command, lister, show as cliff_show
from identity_api.admin.v1 import admin_pb2 as apb

PROG = "identity"


class UsageError(Exception):
    """A command line that makes no sense: exit status 2."""


class CliError(Exception):
    """A request the service (or the name resolution) refused: exit status 1."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code


def say_error(message, stream=None) -> None:
    print(f"{PROG}: error: {message}", file=stream or sys.stderr)


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A parser whose usage errors are one line and exit status 2 (not the usage)."""
    def error(message):
        name = parser.prog.partition(" ")[2]  # "identity user create" -> "user create"
        say_error(f"{name}: {message}" if name else message)
        raise SystemExit(2)
    parser.error = error
    return parser


class Reporting:
    """Turns what a command raises into the CLI's one-line errors and exit statuses."""

    def get_parser(self, prog_name):
        return one_line_errors(super().get_parser(prog_name))

    @property
    def connection(self):
        return self.app.connection

    def run(self, parsed_args):
        try:
            return super().run(parsed_args)
        except UsageError as e:
            say_error(e, self.app.stderr)
            return 2
        except CliError as e:
            say_error(e, self.app.stderr)
            return 1
        except ValueError as e:  # cliff: -c or --sort-column names no column
            if self.app.options.debug:
                raise
            say_error(e, self.app.stderr)
            return 2
        except (BrokenPipeError, KeyboardInterrupt):
            raise
        except Exception as e:  # a bug: still one line, unless --debug
            if self.app.options.debug:
                raise
            say_error(f"internal error: {type(e).__name__}: {e}", self.app.stderr)
            return 1


class Command(Reporting, command.Command):
    """A command that acts and prints nothing (or its own line)."""


class ShowOne(Reporting, cliff_show.ShowOne):
    """One entity, as Field | Value (or -f json, value, yaml, shell)."""


class Lister(Reporting, lister.Lister):
    """Rows under columns (or -f json, csv, value, yaml); --sort-column."""


# ---- values that read differently in a table and in JSON ----------------------------

class ListColumn(columns.FormattableColumn):
    """A list: comma-separated in a table, an array in JSON."""

    def human_readable(self):
        return ", ".join(str(v) for v in self._value)

    def machine_readable(self):
        return list(self._value)


class DictColumn(columns.FormattableColumn):
    """A mapping: k='v', ... in a table, an object in JSON."""

    def human_readable(self):
        return ", ".join(f"{k}='{v}'" for k, v in sorted(self._value.items()))

    def machine_readable(self):
        return dict(self._value)


class EndpointsColumn(columns.FormattableColumn):
    """A catalog entry's endpoints: grouped by region, one per line, in a table."""

    def human_readable(self):
        lines, region = [], None
        for e in sorted(self._value, key=lambda e: (e["region"], e["interface"])):
            if e["region"] != region:
                region = e["region"]
                lines.append(region or "(no region)")
            lines.append(f"  {e['interface']}: {e['url']}")
        return "\n".join(lines)

    def machine_readable(self):
        return list(self._value)


def formattable(value):
    if isinstance(value, dict):
        return DictColumn(value)
    if isinstance(value, (list, tuple)):
        return ListColumn(value)
    return value


def show(fields: dict) -> tuple[tuple, tuple]:
    """One entity's fields, sorted by name as openstackclient prints them."""
    keys = sorted(fields)
    return tuple(keys), tuple(formattable(fields[k]) for k in keys)


def listing(cols: list[tuple[str, str]], rows: list[dict]) -> tuple[tuple, list]:
    """Rows (mappings) under (key, header) columns; the headers are what a table
    heads and what JSON keys are, as in openstackclient."""
    return (tuple(h for _, h in cols),
            [tuple(formattable(row.get(k)) for k, _ in cols) for row in rows])


def timestamp(ts) -> str:
    """A protobuf Timestamp as ISO 8601 in UTC, or "" when unset."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return ""
    return datetime.fromtimestamp(ts.seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


# ---- argument helpers ----------------------------------------------------------------

def enable_disable(parser, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--enable", dest="enabled", action="store_const", const=True,
                       default=None, help=f"enable the {what} (the default on create)")
    group.add_argument("--disable", dest="enabled", action="store_const", const=False,
                       help=f"disable the {what}")


def copy_set(request, args, names, fields=None) -> None:
    """Copy the options that were given onto an update request."""
    for name, field in zip(names, fields or names):
        if getattr(args, name) is not None:
            setattr(request, field, getattr(args, name))


def add_domain(parser, what: str, option: str = "--domain") -> None:
    parser.add_argument(option, metavar="DOMAIN", help=f"the domain (name or id) of the {what}")


def add_description(parser) -> None:
    parser.add_argument("--description", help="a description")


def add_or_show(parser) -> None:
    parser.add_argument("--or-show", action="store_true", help="show it if it exists already")


def add_long(parser) -> None:
    parser.add_argument("--long", action="store_true", help="more columns")


def create_or_show(connection, kind, service, method, request, domain_ref, or_show):
    """Create; with --or-show, an existing entity of that name is shown instead."""
    try:
        return connection.call(service, method, request)
    except CliError as e:
        if not (or_show and e.code == "ALREADY_EXISTS"):
            raise
        return connection.find(kind, request.name, domain_ref)


class ShowFound(ShowOne):
    """Show the `kind` named by name or id (within --domain where `in_domain`)."""
    kind = ""
    in_domain = True

    @staticmethod
    def fields(entity) -> dict:
        raise NotImplementedError

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("ref", metavar=self.kind.upper(), help="name or id")
        if self.in_domain:
            add_domain(parser, self.kind)
        return parser

    def take_action(self, args):
        return show(self.fields(self.connection.find(self.kind, args.ref,
                                                     getattr(args, "domain", None))))


class DeleteFound(Command):
    """Delete each `kind` named (by name or id, or by id alone where `by_id`) through
    `service`.`method`."""
    kind = service = method = ""
    in_domain = True
    by_id = False

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("refs", metavar=self.kind.upper(), nargs="+",
                            help="ids" if self.by_id else "names or ids")
        if self.in_domain:
            add_domain(parser, f"{self.kind}s")
        return parser

    def take_action(self, args):
        for ref in args.refs:
            entity_id = ref if self.by_id else self.connection.find_id(
                self.kind, ref, getattr(args, "domain", None))
            self.connection.call(self.service, self.method, apb.DeleteRequest(id=entity_id))
