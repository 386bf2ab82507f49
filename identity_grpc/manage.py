"""`identity-manage`: the operator's command for the store and the keys.

    identity-manage [--config FILE] init          create or upgrade the store, create keys
    identity-manage [--config FILE] bootstrap     init, then roles, admin user and project,
                                                  service project, region, identity endpoint
    identity-manage [--config FILE] demo          load the demo dataset (after bootstrap)
    identity-manage [--config FILE] setup [--demo]  init + bootstrap (+ demo): what `make run` does
    identity-manage [--config FILE] rotate-keys   promote the staged key, stage a new one
    identity-manage [--config FILE] generate [--size small|large] [--users N] ...
                                                  load a large synthetic deployment (after
                                                  setup), for benchmarks; see `generate`

The bootstrap admin's password comes from IDENTITY_ADMIN_PASSWORD (taken out of the
environment as the command starts, see `secret_env`); when that is unset, one is
generated once, kept in `admin_password_file` (mode 0600) and printed.
"""

import argparse
import os
import secrets
import sys
from pathlib import Path

from . import generate, secret_env
from .bootstrap import bootstrap, load_demo
from .config import Settings, load_settings
from .core import Core
from .store.db import open_database
from .tokens.keys import KeyRepository


def init(settings: Settings) -> None:
    open_database(settings.database_url).close()
    KeyRepository.initialize(settings.key_dir, settings.max_active_keys)
    print(f"store ready at {settings.database_url}; keys in {settings.key_dir}")


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


def run_bootstrap(settings: Settings, demo: bool, given_password: str | None) -> None:
    init(settings)
    core = Core(settings)
    try:
        bootstrap(core, admin_password(settings, given_password), settings.advertised_url)
        print("bootstrap done: user 'admin' in domain 'Default' holds admin on project "
              "'admin' and on the system")
        if demo:
            load_demo(core)
            print("demo dataset loaded (alice, bob, nova; acme, cyberdyne; domain Foo)")
    finally:
        core.close()


def rotate_keys(settings: Settings) -> None:
    keys = KeyRepository(settings.key_dir, settings.max_active_keys)
    primary = keys.rotate()
    print(f"rotated: key {primary} is now primary; active keys {keys.indexes()}")


def main(argv: list[str] | None = None) -> int:
    given_password = secret_env.take(secret_env.ADMIN_PASSWORD)  # first: no thread yet
    parser = argparse.ArgumentParser(prog="identity-manage", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="settings file (TOML); IDENTITY_* variables override it")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create or upgrade the store and create the keys")
    commands.add_parser("bootstrap", help="init, then the bootstrap admin, roles and catalog")
    commands.add_parser("demo", help="load the demo dataset")
    setup = commands.add_parser("setup", help="init + bootstrap (+ --demo)")
    setup.add_argument("--demo", action="store_true", help="also load the demo dataset")
    commands.add_parser("rotate-keys", help="promote the staged key and stage a new one")
    generate.add_arguments(commands.add_parser(
        "generate", help="load a large synthetic deployment (after setup), for benchmarks"))
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config or os.environ.get("IDENTITY_CONFIG"))
        if args.command == "init":
            init(settings)
        elif args.command in ("bootstrap", "setup"):
            run_bootstrap(settings, demo=getattr(args, "demo", False),
                          given_password=given_password)
        elif args.command == "demo":
            core = Core(settings)
            try:
                load_demo(core)
            finally:
                core.close()
        elif args.command == "rotate-keys":
            rotate_keys(settings)
        elif args.command == "generate":
            generate.run(settings, args)
    except Exception as e:  # an operator wants one clear line, not a traceback
        print(f"identity-manage {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
