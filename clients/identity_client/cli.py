"""`identity`: the identity service's command-line client, in the manner of
openstackclient (`identity user create alice --password ...`, `identity role add
member --user alice --project acme`) and of the classic keystone client
(`identity user-create --name alice --pass ...`). It speaks gRPC to the service.

Credentials and scope come from --os-* options or the OS_* environment variables an
openrc file sets; options win. Results print as a table, or with `-f json` as JSON
(lists as arrays of objects). A refused request prints one line,
`identity: error: <gRPC status>: <details>`, and exits 1; a bad command line exits 2.
"""

import argparse
import difflib
import os
import sys

from .cli_base import COMMANDS, CliError, Parser, UsageError, find_command, render
from . import cli_catalog, cli_commands, cli_legacy, cli_roles  # noqa: F401  (they register commands)
from .cli_session import DEFAULT_ADDRESS, Session

PROG = "identity"

# (options, dest, environment variables, help); every one is a string option.
GLOBAL_OPTIONS = [
    (("--os-auth-url",), "os_auth_url", ("OS_AUTH_URL",),
     f"the service's gRPC address, e.g. {DEFAULT_ADDRESS} (an http:// prefix and a path "
     f"are ignored; default {DEFAULT_ADDRESS})"),
    (("--os-username",), "os_username", ("OS_USERNAME",), "authenticate as this user"),
    (("--os-user-id",), "os_user_id", ("OS_USER_ID",), "authenticate as the user of this id"),
    (("--os-password",), "os_password", ("OS_PASSWORD",), "the user's password"),
    (("--os-user-domain-name",), "os_user_domain_name", ("OS_USER_DOMAIN_NAME",),
     "the user's domain, by name"),
    (("--os-user-domain-id",), "os_user_domain_id", ("OS_USER_DOMAIN_ID",),
     "the user's domain, by id (default: default)"),
    (("--os-default-domain-id",), "os_default_domain_id", ("OS_DEFAULT_DOMAIN_ID",),
     "the domain id assumed when no domain is given (default: default)"),
    (("--os-project-name", "--os-tenant-name"), "os_project_name",
     ("OS_PROJECT_NAME", "OS_TENANT_NAME"), "scope to this project, by name"),
    (("--os-project-id", "--os-tenant-id"), "os_project_id", ("OS_PROJECT_ID", "OS_TENANT_ID"),
     "scope to this project, by id"),
    (("--os-project-domain-name",), "os_project_domain_name", ("OS_PROJECT_DOMAIN_NAME",),
     "the domain of --os-project-name, by name (default: the user's domain)"),
    (("--os-project-domain-id",), "os_project_domain_id", ("OS_PROJECT_DOMAIN_ID",),
     "the domain of --os-project-name, by id"),
    (("--os-domain-name",), "os_domain_name", ("OS_DOMAIN_NAME",), "scope to this domain, by name"),
    (("--os-domain-id",), "os_domain_id", ("OS_DOMAIN_ID",), "scope to this domain, by id"),
    (("--os-system-scope",), "os_system_scope", ("OS_SYSTEM_SCOPE",),
     "scope to the system: 'all'"),
    (("--os-token",), "os_token", ("OS_TOKEN",),
     "use this token instead of a password (rescoped when a scope is given)"),
    (("--os-api-key",), "os_api_key", ("OS_API_KEY",),
     "authenticate with this API key's secret instead of a password"),
]
SCOPES = {"project": ("os_project_name", "os_project_id"),
          "domain": ("os_domain_name", "os_domain_id"), "system": ("os_system_scope",)}


def add_global_options(parser, hidden: bool = False) -> None:
    """The options every command takes, before or after the command words. In a
    command's parser they are hidden and leave unset what they do not set."""
    group = parser if hidden else parser.add_argument_group("global options")
    extra = {"default": argparse.SUPPRESS} if hidden else {"default": None}

    def shown(text):
        return argparse.SUPPRESS if hidden else text
    for names, dest, envs, text in GLOBAL_OPTIONS:
        env = " or ".join(f"${e}" for e in envs)
        group.add_argument(*names, dest=dest, metavar="VALUE", help=shown(f"{text} ({env})"),
                           **extra)
    group.add_argument("--timeout", type=float, help=shown("seconds per call (default 30)"),
                       **extra)
    group.add_argument("-f", "--format", choices=["table", "json", "value"],
                       help=shown("output format (default table)"), **extra)
    group.add_argument("-c", "--column", dest="columns", action="append", metavar="COLUMN",
                       help=shown("show only this column (repeatable)"), **extra)


def global_parser() -> Parser:
    parser = Parser(prog=PROG, add_help=False, usage=f"{PROG} [global options] COMMAND ...",
                    description="The identity service's command-line client, over gRPC: "
                    "openstackclient's commands and the classic keystone client's.")
    parser.add_argument("-h", "--help", action="store_true", help="show this help")
    add_global_options(parser)
    parser.add_argument("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def settle(options) -> None:
    """Fill in from the environment what the command line left unset, and decide the
    scope: the command line's if it names one, else the environment's."""
    from_env = {}
    for _, dest, envs, _ in GLOBAL_OPTIONS:
        from_env[dest] = next((os.environ[e] for e in envs if os.environ.get(e)), None)

    def chosen(values) -> list[str]:
        return [kind for kind, dests in SCOPES.items() if any(values.get(d) for d in dests)]
    given = {dest: getattr(options, dest, None) for _, dest, _, _ in GLOBAL_OPTIONS}
    kinds = chosen(given)
    source = "the command line"
    if not kinds:
        kinds, source = chosen(from_env), "the environment"
    if len(kinds) > 1:
        raise UsageError(f"{source} asks for more than one scope ({' and '.join(kinds)}); "
                         "choose one")
    for dest, value in given.items():
        env_value = from_env[dest]
        if any(dest in dests for kind, dests in SCOPES.items() if kind not in kinds):
            env_value = None  # another scope was chosen: ignore this one's variable
        setattr(options, dest, value if value is not None else env_value)
    options.scope = kinds[0] if kinds else None
    if getattr(options, "timeout", None) is None:
        options.timeout = 30.0
    options.format = getattr(options, "format", None) or "table"
    options.columns = getattr(options, "columns", None)


def general_help() -> str:
    lines = [global_parser().format_help().rstrip(), "", "commands:"]
    for c in sorted(COMMANDS.values(), key=lambda c: c.name):
        if not c.classic:
            lines.append(f"  {c.name:<24} {c.help}")
    lines += ["", "classic commands (keystone client forms; a tenant is a project):"]
    for c in sorted(COMMANDS.values(), key=lambda c: c.name):
        if c.classic:
            lines.append(f"  {c.name:<24} {c.help}")
    lines += ["", f"'{PROG} help COMMAND' or '{PROG} COMMAND --help' describes one command."]
    return "\n".join(lines)


def unknown(words: list[str]) -> UsageError:
    typed = " ".join(words)
    below = sorted(" ".join(w[len(words):]) for w in COMMANDS if w[:len(words)] == tuple(words)
                   and len(w) > len(words))
    if below:
        return UsageError(f"'{typed}' needs more: {', '.join(below)}")
    names = [c.name for c in COMMANDS.values()]
    close = difflib.get_close_matches(typed, names, n=1) or difflib.get_close_matches(
        " ".join(words[:2]), names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f" (see '{PROG} help')"
    return UsageError(f"unknown command '{typed}'{hint}")


def leading_words(rest: list[str]) -> list[str]:
    words = []
    for item in rest:
        if item.startswith("-"):
            break
        words.append(item)
    return words


def run(argv: list[str]) -> int:
    options = global_parser().parse_args(argv)
    rest = options.command
    if options.help or not rest:
        print(general_help())
        return 0 if options.help else 2
    if rest[0] == "help":
        if len(rest) == 1:
            print(general_help())
            return 0
        found, n = find_command(rest[1:])
        if found is None or n != len(rest) - 1:
            raise unknown(rest[1:])
        print(found.parser(PROG).format_help().rstrip())
        return 0
    found, n = find_command(rest)
    if found is None:
        raise unknown(leading_words(rest)[:4] or rest[:1])
    parser = found.parser(PROG)
    add_global_options(parser, hidden=True)
    args = parser.parse_args(rest[n:], namespace=options)
    settle(args)
    session = Session(args)
    try:
        result = found.func(session, args)
    finally:
        session.close()
    if result is not None:
        print(render(result, args.format, args.columns))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return run(argv)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except CliError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except SystemExit as e:  # argparse after --help
        return e.code if isinstance(e.code, int) else 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`| head`): nothing left to say
        return 1
    except Exception as e:  # a bug: still one line, never a traceback
        print(f"{PROG}: error: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
