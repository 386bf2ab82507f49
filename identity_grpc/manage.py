"""`identity-manage`: the operator's command for the store and the keys.

    identity-manage [--config FILE] init          create or upgrade the store, create keys
    identity-manage [--config FILE] bootstrap     init, then roles, admin user and project,
                                                  service project, region, identity endpoint
    identity-manage [--config FILE] demo          load the demo dataset (after bootstrap)
    identity-manage [--config FILE] setup [--demo]  init + bootstrap (+ demo, into a new
                                                  store only, once: demo.py): `make run`
            [--ldap-demo URL]                     + domain Employees on the demo directory
                                                  at URL (`make run LDAP=1`, see ldap_demo)
    identity-manage [--config FILE] rotate-keys   promote the staged key, stage a new one
    identity-manage [--config FILE] credential-keys setup|rotate
                                                  the keys encrypting credential blobs: create
                                                  them; or promote the staged key, re-encrypt
                                                  every blob with it, drop unused old keys
    identity-manage [--config FILE] generate [--size small|large] [--users N] ...
                                                  load a large synthetic deployment (after
                                                  setup), for benchmarks; see `generate`
    identity-manage [--config FILE] db status     the store's schema version, this release's,
                                                  the upgrades pending (changes nothing)
    identity-manage [--config FILE] db upgrade [--check]
                                                  apply them (--check: list them, exit 2 if any)
    identity-manage [--config FILE] export [-o FILE]  the whole store, one snapshot (store.dump)
    identity-manage [--config FILE] import FILE   ... restored into an empty store
    identity-manage [--config FILE] doctor        settings, store, keys, clocks...: ok/warn/fail
    identity-manage [--config FILE] show-config [--json]
                                                  the effective settings, sources, secrets masked

The bootstrap admin's password comes from IDENTITY_ADMIN_PASSWORD (taken out of the
environment as the command starts, see `secret_env`); when that is unset, one is
generated once, kept in `admin_password_file` (mode 0600) and printed.
"""

import argparse
import os
import secrets
import sys
from pathlib import Path

from . import doctor, effective_settings, generate, ldap_demo, secret_env, store_commands
from .bootstrap import bootstrap
from .demo import load_demo, store_is_new
from .config import Settings, load_settings
from .core import Core
from .credential_keys import CredentialKeys
from .store import dump
from .store.db import open_database
from .tokens.keys import KeyRepository


def init(settings: Settings) -> None:
    open_database(settings.database_url).close()
    KeyRepository.initialize(settings.key_dir, settings.max_active_keys)
    CredentialKeys.initialize(settings.credential_key_dir)
    print(f"store ready at {settings.database_url}; keys in {settings.key_dir}; "
          f"credential keys in {settings.credential_key_dir}")


def admin_password(settings: Settings, given: str | None) -> str:
    """`given` (IDENTITY_ADMIN_PASSWORD's value), else the kept one, else a new one."""
    if given:
        return given
    path = Path(settings.admin_password_file)
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(18)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    print(f"generated the bootstrap admin's password (kept in {path}): {password}")
    return password


def run_bootstrap(settings: Settings, demo: bool, given_password: str | None,
                  ldap_demo_url: str = "") -> None:
    init(settings)
    core = Core(settings)
    try:
        new = store_is_new(core)
        bootstrap(core, admin_password(settings, given_password), settings.advertised_url)
        print("bootstrap done: user 'admin' in domain 'Default' holds admin on project "
              "'admin' and on the system")
        if demo and new:
            load_demo(core)
            print("demo dataset loaded (alice, bob, nova; acme, cyberdyne; domain Foo)")
        elif demo:
            print("demo dataset not loaded again: it goes only into a new store, once "
                  "(`identity-manage demo` loads it on purpose)")
        if ldap_demo_url:
            ldap_demo.load(core, ldap_demo_url)
            print(f"LDAP demo loaded: domain {ldap_demo.DOMAIN} reads {ldap_demo_url} "
                  f"(carol, dave; group {ldap_demo.GROUP} holds {ldap_demo.ROLE} on "
                  f"project {ldap_demo.PROJECT})")
    finally:
        core.close()


def rotate_keys(settings: Settings) -> None:
    keys = KeyRepository(settings.key_dir, settings.max_active_keys)
    primary = keys.rotate()
    print(f"rotated: key {primary} is now primary; active keys {keys.indexes()}")


def credential_keys(settings: Settings, action: str) -> None:
    """`setup`: create the repository if it has no keys. `rotate`: promote the staged
    key, re-encrypt every credential with it (each decrypted with the key that
    encrypted it), then drop the old keys no row needs. Copy the directory to every
    replica afterwards: the new staged key must be everywhere before the next rotation."""
    if action == "setup":
        CredentialKeys.initialize(settings.credential_key_dir)
        print(f"credential keys in {settings.credential_key_dir}")
        return
    core = Core(settings)
    try:
        primary, count, dropped = core.credential_blobs.rotate_keys()
    finally:
        core.close()
    print(f"rotated: credential key {primary} is now primary; {count} credentials "
          f"re-encrypted; keys dropped: {dropped or 'none'}")


STORE_COMMANDS = {
    "db": lambda settings, args: (store_commands.db_status(settings) if args.db_command == "status"
                                  else store_commands.db_upgrade(settings, args.check)),
    "export": lambda settings, args: store_commands.export(settings, args.output),
    "import": lambda settings, args: store_commands.restore(settings, args.file),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="identity-manage", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="settings file (TOML); IDENTITY_* variables override it")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create or upgrade the store and create the keys")
    commands.add_parser("bootstrap", help="init, then the bootstrap admin, roles and catalog")
    commands.add_parser("demo", help="load the demo dataset")
    setup = commands.add_parser("setup", help="init + bootstrap (+ --demo)")
    setup.add_argument("--demo", action="store_true", help="also load the demo dataset")
    setup.add_argument("--ldap-demo", metavar="URL", default="",
                       help="also domain Employees on the demo directory at URL (ldap_demo)")
    commands.add_parser("rotate-keys", help="promote the staged key and stage a new one")
    keys = commands.add_parser("credential-keys", help="the keys encrypting credential blobs")
    keys.add_argument("action", choices=("setup", "rotate"))
    generate.add_arguments(commands.add_parser(
        "generate", help="load a large synthetic deployment (after setup), for benchmarks"))
    _add_store_commands(commands)
    return parser


def _add_store_commands(commands) -> None:
    db = commands.add_parser("db", help="the store's schema: its version and upgrades",
                             description=store_commands.__doc__.split("\n\n")[1])
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("status", help="the store's schema version, this release's, and "
                           "the upgrades pending (changes nothing)")
    upgrade = db_commands.add_parser("upgrade", help="apply the pending schema upgrades")
    upgrade.add_argument("--check", action="store_true",
                         help="say what would be applied and change nothing; exit 0 when "
                         f"the schema is current, {store_commands.UPGRADE_PENDING} when "
                         "upgrades are pending")
    export = commands.add_parser(
        "export", help="dump the whole store (one snapshot, JSON lines) to a file or stdout",
        description="Dump every table of the store, read in one snapshot, as JSON lines. "
        "It holds password hashes: keep it as secret as the store. " + dump.NOTE + ".")
    export.add_argument("--output", "-o", default="-", metavar="FILE",
                        help="where to write the dump (mode 0600); '-', the default: stdout")
    restore = commands.add_parser(
        "import", help="restore a dump into an empty store",
        description="Restore a dump written by `export` into an empty store (a new database "
        "gets the schema first), all or nothing. A store holding data is refused, as is a "
        "dump of a newer format or schema.")
    restore.add_argument("file", metavar="FILE", help="the dump to read; '-': stdin")
    commands.add_parser(
        "doctor", help="check settings, store, keys, clocks, TLS files, demo passwords",
        description=doctor.__doc__.split("\n\n")[0] + " Exit status 1 when any check fails.")
    show = commands.add_parser(
        "show-config", help="the effective settings, where each came from, secrets masked",
        description=effective_settings.__doc__.split("\n\n")[0])
    show.add_argument("--json", action="store_true", help="one JSON object, not TOML lines")


def main(argv: list[str] | None = None) -> int:
    given_password = secret_env.take(secret_env.ADMIN_PASSWORD)  # first: no thread yet
    args = build_parser().parse_args(argv)
    config = args.config or os.environ.get("IDENTITY_CONFIG")
    if args.command == "doctor":  # it reports settings that do not load as one finding
        return doctor.run(config)
    try:
        if args.command == "show-config":
            print(effective_settings.render(config, as_json=args.json))
            return 0
        settings = load_settings(config)
        if args.command == "init":
            init(settings)
        elif args.command in ("bootstrap", "setup"):
            run_bootstrap(settings, demo=getattr(args, "demo", False),
                          given_password=given_password,
                          ldap_demo_url=getattr(args, "ldap_demo", ""))
        elif args.command == "demo":
            core = Core(settings)
            try:
                load_demo(core)
            finally:
                core.close()
        elif args.command == "rotate-keys":
            rotate_keys(settings)
        elif args.command == "credential-keys":
            credential_keys(settings, args.action)
        elif args.command == "generate":
            generate.run(settings, args)
        elif args.command in STORE_COMMANDS:
            return STORE_COMMANDS[args.command](settings, args)
    except Exception as e:  # an operator wants one clear line, not a traceback
        print(f"identity-manage {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
