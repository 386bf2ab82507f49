"""Domain configurations from files: `keystone.<domain name>.conf` in `domain_config_dir`,
Keystone's domain-specific configuration files, for operators who keep a directory's
settings (and its bind password) with the rest of their configuration management.

A file has the groups and options the domain configuration API accepts:

    [identity]
    driver = ldap

    [ldap]
    url = ldaps://ldap.example.com
    user = cn=identity,ou=services,dc=example,dc=com
    password = ...

When a domain has a file, the file is its configuration and what the API stores for it
is not used (Keystone, too, takes one source or the other). Values are typed as the
option's default is (booleans, integers, lists separated by commas). Files are read
when first needed and read again when they change on disk (the core's watcher asks
`changed()` on each tick): no restart.
"""

import configparser
import os
from pathlib import Path

from .domain_config import DEFAULTS, check_config
from .errors import FailedPrecondition, IdentityError, InvalidArgument

PREFIX, SUFFIX = "keystone.", ".conf"


def _typed(group: str, option: str, text: str) -> object:
    default = DEFAULTS.get(group, {}).get(option)
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise InvalidArgument(f"{group}.{option}", f"{text!r} is not a boolean")
        return lowered in ("true", "1", "yes", "on")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise InvalidArgument(f"{group}.{option}", f"{text!r} is not an integer") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise InvalidArgument(f"{group}.{option}", f"{text!r} is not a number") from None
    if isinstance(default, list):
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def parse(path: Path) -> dict:
    """The configuration a file holds, checked as the API checks one."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(), source=str(path))
    except (OSError, configparser.Error) as e:
        raise FailedPrecondition(f"the domain configuration file {path} is unreadable: {e}") from e
    try:
        config = {group: {option: _typed(group, option, value)
                          for option, value in parser.items(group)}
                  for group in parser.sections()}
        check_config(config)
    except IdentityError as e:
        raise FailedPrecondition(f"the domain configuration file {path} is invalid: {e}") from e
    return config


class DomainConfigFiles:
    def __init__(self, directory: str):
        self._directory = Path(directory) if directory else None
        self._snapshot: dict[str, float] = {}  # domain name -> its file's mtime

    def path(self, domain_name: str) -> Path | None:
        return self._directory / f"{PREFIX}{domain_name}{SUFFIX}" if self._directory else None

    def config(self, domain_name: str) -> dict | None:
        """The domain's file's configuration; None when it has no file."""
        path = self.path(domain_name)
        if path is None or not path.is_file():
            return None
        return parse(path)

    def changed(self) -> list[str]:
        """Names of the domains whose file appeared, changed or went away since the
        last call."""
        if self._directory is None:
            return []
        now: dict[str, float] = {}
        try:
            entries = list(os.scandir(self._directory))
        except OSError:
            entries = []
        for entry in entries:
            if entry.name.startswith(PREFIX) and entry.name.endswith(SUFFIX) and entry.is_file():
                now[entry.name[len(PREFIX):-len(SUFFIX)]] = entry.stat().st_mtime_ns
        before, self._snapshot = self._snapshot, now
        return sorted(n for n in before.keys() | now.keys() if before.get(n) != now.get(n))
