"""The cliff application: the commands of every resource module, the global
options, and the CLI's answers to unknown commands and to no command."""


import argparse
import difflib
import sys
from importlib import metadata

from cliff import app, commandmanager, help

from . import (api_keys, catalog, classic, domains, endpoints, groups, implied_roles,
               projects, regions, role_assignments, roles, services, tokens, users)
from .base import PROG, one_line_errors, say_error
from .connection import Connection
from .options import add_global_options, settle

MODULES = (domains, projects, users, groups, roles, implied_roles, role_assignments, regions,
           services, endpoints, tokens, catalog, api_keys, classic)


def version() -> str:
    try:
        return metadata.version("identity-client")
    except metadata.PackageNotFoundError:
        return "unknown"


class IdentityApp(app.App):
    NAME = PROG

    def __init__(self):
        manager = commandmanager.CommandManager("identity.cli")
        for module in MODULES:
            for name, command in module.COMMANDS.items():
                manager.add_command(name, command)
        super().__init__(description="The identity service's command-line client, over "
                         "gRPC: openstackclient's commands and the classic keystone "
                         "client's (a tenant is a project).", version=version(),
                         command_manager=manager, deferred_help=True)
        self._connection = None

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(
            description, version, {"prog": PROG, "allow_abbrev": False})
        for action in parser._actions:
            if isinstance(action, argparse._VersionAction):
                action.version = f"{PROG} {version}"
        add_global_options(parser)
        return one_line_errors(parser)

    @property
    def connection(self) -> Connection:
        """The connection, made on first use from the settled options."""
        if self._connection is None:
            settle(self.options)
            self._connection = Connection(self.options)
        return self._connection

    def clean_up(self, cmd, result, err):
        if self._connection is not None:
            self._connection.close()

    def run_subcommand(self, argv):
        try:
            self.command_manager.find_command(argv)
        except ValueError:
            say_error(self.unknown(argv), self.stderr)
            return 2
        return super().run_subcommand(argv)

    def unknown(self, argv: list[str]) -> str:
        words = []
        for item in argv[:4]:
            if item.startswith("-"):
                break
            words.append(item)
        words = words or argv[:1]
        names = [name for name, _ in self.command_manager]
        typed = " ".join(words)
        below = sorted(n[len(typed) + 1:] for n in names if n.startswith(typed + " "))
        if below:
            return f"'{typed}' needs more: {', '.join(below)}"
        close = difflib.get_close_matches(typed, names, n=1) or difflib.get_close_matches(
            " ".join(words[:2]), names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f" (see '{PROG} help')"
        return f"unknown command '{typed}'{hint}"

    def interact(self):
        """No command: the help, and exit status 2 (no interactive shell)."""
        try:
            help.HelpAction([], argparse.SUPPRESS, default=self)(self.parser, self.options,
                                                                 None, None)
        except help.HelpExit:
            pass
        raise SystemExit(2)


def run(argv: list[str]) -> int:
    try:
        return IdentityApp().run(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
