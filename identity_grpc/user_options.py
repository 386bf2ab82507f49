"""Keystone's user options: per-user exceptions to the deployment's rules.

Stored as a JSON object in `User.options`. Only the options this service implements
are accepted; any other name, Keystone's own included, is refused by name rather than
stored and silently ignored. As in Keystone, a boolean option set to None (JSON null)
is removed, and an update changes only the options it names.
"""

import json

from .errors import InvalidArgument

IGNORE_LOCKOUT = "ignore_lockout_failure_attempts"
SUPPORTED = {IGNORE_LOCKOUT: bool}
# Keystone has these too; naming them here lets the error say they are not supported
# rather than unknown.
KEYSTONE_ONLY = ("ignore_change_password_upon_first_use", "ignore_password_expiry",
                 "ignore_user_inactivity", "lock_password", "multi_factor_auth_enabled",
                 "multi_factor_auth_rules")


def options_of(stored: str | None) -> dict:
    return json.loads(stored or "{}")


def merged(stored: str | None, changes: dict | None) -> str:
    """The stored options with `changes` applied (None removes an option), as JSON;
    InvalidArgument naming the option when one is unknown or of the wrong type."""
    if changes is None:
        changes = {}
    if not isinstance(changes, dict):
        raise InvalidArgument("options", "must be an object mapping option names to values")
    options = options_of(stored)
    supported = ", ".join(sorted(SUPPORTED))
    for name, value in changes.items():
        if name in KEYSTONE_ONLY:
            raise InvalidArgument("options", f"the user option {name!r} is not supported "
                                             f"(supported: {supported})")
        if name not in SUPPORTED:
            raise InvalidArgument("options", f"unknown user option {name!r} "
                                             f"(supported: {supported})")
        if value is None:
            options.pop(name, None)
        elif not isinstance(value, SUPPORTED[name]):
            raise InvalidArgument(f"options.{name}", f"{value!r} is not of type 'boolean'")
        else:
            options[name] = value
    return json.dumps(options, sort_keys=True)


def ignores_lockout(stored: str | None) -> bool:
    return options_of(stored).get(IGNORE_LOCKOUT) is True
