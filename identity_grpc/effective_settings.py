"""`identity-manage show-config`: the settings a server started here would run with,
where each came from, and no secret in the output.

Values are `config.load_settings`' own (so the checks and coercions are the server's);
their source is read beside it: an `IDENTITY_*` variable wins over the file, the file
over the default. Secrets are masked: the password in any URL (`database_url`), and
any text setting whose name says password, secret, token or key, except the ones
that name a file or directory (`key_dir`, `admin_password_file`) and the two that
describe a rule (`password_regex`, `password_regex_description`).
"""

import json
import os
import re
import tomllib
from dataclasses import fields

from .config import ENV_PREFIX, Settings, load_settings
from .store.db import describe_url

MASK = "***"
_SECRET_NAME = re.compile(r"(^|_)(password|secret|token|key|passphrase)(_|$)")
_PATH_NAME = re.compile(r"_(file|dir|path|directory)$")
NOT_SECRET = {"password_regex", "password_regex_description"}


def is_secret(name: str, value: object) -> bool:
    return (isinstance(value, str) and bool(value) and name not in NOT_SECRET
            and bool(_SECRET_NAME.search(name)) and not _PATH_NAME.search(name))


def shown(name: str, value: object) -> object:
    """`value` as it may be printed."""
    if is_secret(name, value):
        return MASK
    if isinstance(value, str) and "://" in value:
        return describe_url(value)
    return value


def sources(config: str | None, environ: dict[str, str]) -> dict[str, str]:
    """Where each setting's value comes from: `env IDENTITY_X`, `file PATH` or `default`."""
    in_file: dict = {}
    if config is not None:
        with open(config, "rb") as f:
            data = tomllib.load(f)
        in_file = data.get("identity", data)
    found = {}
    for field in fields(Settings):
        variable = ENV_PREFIX + field.name.upper()
        found[field.name] = (f"env {variable}" if variable in environ
                             else f"file {config}" if field.name in in_file else "default")
    return found


def render(config: str | None, environ: dict[str, str] | None = None,
           as_json: bool = False) -> str:
    """The effective settings as TOML (each line's source in a comment), or JSON."""
    environ = os.environ if environ is None else environ
    settings = load_settings(config, environ)
    where = sources(config, environ)
    values = {f.name: shown(f.name, getattr(settings, f.name)) for f in fields(Settings)}
    if as_json:
        return json.dumps({name: {"value": value, "source": where[name]}
                           for name, value in values.items()}, indent=2)
    width = max(len(f"{name} = {json.dumps(value)}") for name, value in values.items())
    return "\n".join(f"{f'{name} = {json.dumps(value)}':<{width}}  # {where[name]}"
                     for name, value in values.items())
