"""What every `identity` command shares: cliff's command classes with the CLI's way
of failing (one line on stderr: exit 1 for a refusal, 2 for a bad command line), the
column types a table shows differently from JSON, and small argument helpers.

A command's `take_action` returns what cliff prints: `show(fields)` for one entity,
`listing(columns, rows)` for many, nothing for a command that only acts.
"""

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

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


ID_NAME = (("id", "ID"), ("name", "Name"))


def described_fields(e) -> dict:
    """A group's or role's fields (and --long columns): a name and description in a domain."""
    return {"id": e.id, "name": e.name, "domain_id": e.domain_id, "description": e.description}


DESCRIBED_LONG = (*ID_NAME, ("domain_id", "Domain ID"), ("description", "Description"))


# ---- a resource's commands, from a small description of it --------------------------

@dataclass(frozen=True)
class Resource:
    """What the generic commands need to know of a resource: the kind the connection
    finds it as (`connection.find(kind, ...)`), its fields as show and list print them,
    its list columns (and with --long), whether it is named within a --domain or by id
    alone. Its gRPC service and methods follow from the kind: "group" is served by
    `Groups` (`CreateGroup`, `ListGroups`, `UpdateGroup`, `DeleteGroup`, `GetGroup`)."""
    kind: str
    fields: Callable[[Any], dict]
    columns: tuple = ()
    long: tuple | None = None
    in_domain: bool = False
    by_id: bool = False
    name: str = ""     # the gRPC name, when not the kind capitalised
    metavar: str = ""  # how its help names it, when not KIND (or KIND_ID by id)

    def __post_init__(self):
        if not self.name:
            object.__setattr__(self, "name", self.kind.capitalize())
        if not self.metavar:
            object.__setattr__(self, "metavar", f"{self.kind}_id".upper() if self.by_id
                               else self.kind.upper())

    @property
    def service(self) -> str:  # "Groups"
        return f"{self.name}s"

    def list_all(self, connection, **request) -> list:
        return connection.list_all(self.service, f"List{self.service}",
                                   getattr(apb, f"List{self.service}Request")(**request),
                                   f"{self.kind}s")


class ResourceCommand:
    """A command on one `resource`; `add_domain_option` adds its --domain."""
    resource: Resource

    def add_domain_option(self, parser, what: str) -> None:
        add_domain(parser, what)

    def domain_ref(self, args) -> str | None:
        return args.domain if self.resource.in_domain else None

    def fields(self, entity) -> dict:
        return self.resource.fields(entity)

    def add_ref(self, parser, help: str = "name or id") -> None:
        """The positional naming it (and its --domain where it is in one)."""
        parser.add_argument("ref", metavar=self.resource.metavar,
                            help=None if self.resource.by_id else help)
        if self.resource.in_domain:
            self.add_domain_option(parser, self.resource.kind)

    def entity_id(self, args) -> str:
        r = self.resource
        return args.ref if r.by_id else self.connection.find_id(r.kind, args.ref,
                                                                self.domain_ref(args))


class CreateNamed(ResourceCommand, ShowOne):
    """Create the `resource` NAME (in --domain where it is in one), --description,
    --enable/--disable where `enabling`, --or-show; `more` adds the request's other
    fields (after the name and domain are resolved)."""
    enabling = False
    or_show = True

    def subject(self, parser) -> None:
        parser.add_argument("name", metavar="NAME")

    def options(self, parser) -> None:
        add_description(parser)
        if self.enabling:
            enable_disable(parser, self.resource.kind)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        self.subject(parser)
        if self.resource.in_domain:
            self.add_domain_option(parser, self.resource.kind)
        self.options(parser)
        if self.or_show:
            add_or_show(parser)
        return parser

    def more(self, args) -> dict:
        return {}

    def take_action(self, args):
        c, r = self.connection, self.resource
        fields = {"name": args.name or ""}  # a service's --name may be left out
        if r.in_domain:
            fields["domain_id"] = c.domain_id(args.domain)
        fields.update(self.more(args))
        request = getattr(apb, f"Create{r.name}Request")(
            description=args.description or "", **fields)
        if self.enabling and args.enabled is not None:
            request.enabled = args.enabled
        return show(self.fields(create_or_show(c, r.kind, r.service, f"Create{r.name}", request,
                                               self.domain_ref(args),
                                               getattr(args, "or_show", False))))


class ListAll(ResourceCommand, Lister):
    """List the `resource`: `options` adds the filters, `entities` finds the entities
    (by default all those `request` selects); --long where `with_long`."""
    with_long = True

    def options(self, parser) -> None:
        pass

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        self.options(parser)
        if self.with_long:
            add_long(parser)
        return parser

    def request(self, args) -> dict:
        return {}

    def entities(self, args) -> list:
        return self.resource.list_all(self.connection, **self.request(args))

    def take_action(self, args):
        r = self.resource
        cols = r.long if getattr(args, "long", False) and r.long else r.columns
        return listing(cols, [self.fields(e) for e in self.entities(args)])


class ShowFound(ResourceCommand, ShowOne):
    """Show the `resource` named by name or id (within --domain where it is in one),
    or by id alone."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        self.add_ref(parser)
        return parser

    def take_action(self, args):
        r = self.resource
        if r.by_id:
            entity = self.connection.call(r.service, f"Get{r.name}", apb.GetRequest(id=args.ref))
        else:
            entity = self.connection.find(r.kind, args.ref, self.domain_ref(args))
        return show(self.fields(entity))


class SetFound(ResourceCommand, Command):
    """Change the `resource` named (as ShowFound names it): copy `changes` (the options
    given) onto its update request, then `more` for what is not a plain copy."""
    changes: tuple = ("name", "description")
    fields_changed: tuple | None = None
    enabling = False
    ref_help = "name or id"

    def options(self, parser) -> None:
        parser.add_argument("--name", help="a new name")
        add_description(parser)
        self.more_options(parser)
        if self.enabling:
            enable_disable(parser, self.resource.kind)

    def more_options(self, parser) -> None:
        pass

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        self.add_ref(parser, self.ref_help)
        self.options(parser)
        return parser

    def more(self, args, request) -> None:
        pass

    def take_action(self, args):
        r = self.resource
        request = getattr(apb, f"Update{r.name}Request")(id=self.entity_id(args))
        copy_set(request, args, self.changes, self.fields_changed)
        self.more(args, request)
        self.connection.call(r.service, f"Update{r.name}", request)


class DeleteFound(ResourceCommand, Command):
    """Delete each `resource` named (by name or id, or by id alone)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        r = self.resource
        parser.add_argument("refs", metavar=r.metavar, nargs="+",
                            help="ids" if r.by_id else "names or ids")
        if r.in_domain:
            self.add_domain_option(parser, f"{r.kind}s")
        return parser

    def take_action(self, args):
        r = self.resource
        for ref in args.refs:
            entity_id = ref if r.by_id else self.connection.find_id(r.kind, ref,
                                                                    self.domain_ref(args))
            self.connection.call(r.service, f"Delete{r.name}", apb.DeleteRequest(id=entity_id))


def grant(connection, method: str, role_id: str, actor: dict, target: dict,
          inherited: bool = False) -> None:
    """Grant (method "GrantRole") or revoke ("RevokeRole") a role: actor is user_id= or
    group_id=, target project_id=, domain_id= or system=True."""
    request = apb.GrantRequest(role_id=role_id, inherited=inherited)
    for name, value in actor.items():
        setattr(request.actor, name, value)
    for name, value in target.items():
        setattr(request.target, name, value)
    connection.call("Assignments", method, request)
