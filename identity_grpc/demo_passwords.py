"""Whether the demo's published passwords still open accounts in this store.

The demo dataset's passwords are printed in README.md: a server that is not the demo
(`identity-server` without `--demo`) over a store where one of them still works is a
deployment anyone can log into. `demo_passwords_in_use` tells which of the demo's
users still have theirs (for the server at start, and for `identity-manage doctor`);
`warn_in_background` logs one WARNING line per such user, from a thread of its own
once the server serves, so that no call waits on it.

Cost: at most one argon2 verify per demo user (three), against the user's current
hash with that hash's own parameters, on the core's hashing threads without taking a
login slot, and never counted as a failed login (no lockout, no throttle).
"""

import logging
import threading

from .core import Core
from .demo import DEMO_PASSWORDS
from .store.models import DEFAULT_DOMAIN_ID

log = logging.getLogger(__name__)


def demo_passwords_in_use(core: Core) -> list[str]:
    """The names of the demo's users (domain Default) whose current password is still
    the published one, in the order of `DEMO_PASSWORDS`."""
    in_use = []
    for name, password in DEMO_PASSWORDS.items():
        user = core.users_and_groups.find_user(name=name, domain_id=DEFAULT_DOMAIN_ID)
        if user is None or core.users_and_groups.is_directory_user(user):
            continue  # deleted, or a directory's: not a password the store holds
        stored = core.users_and_groups.password_hash(user.id)
        if stored is not None and core.passwords.verify(stored.hash, password, shed=False):
            in_use.append(name)
    return in_use


def warn_of_demo_passwords(core: Core) -> list[str]:
    """One WARNING per demo user whose published password still works; the names."""
    try:
        in_use = demo_passwords_in_use(core)
    except Exception:  # the check must never stop a server; the store says why elsewhere
        log.exception("could not check for the demo's published passwords")
        return []
    log.debug("checked the demo's published passwords: %s", ", ".join(in_use) or "none in use")
    for name in in_use:
        log.warning("user %r (domain Default) still has the demo's published password "
                    "(README.md): anyone can log in as it; change its password or delete "
                    "the user (or start with --demo if this is the demo)", name)
    return in_use


def warn_in_background(core: Core) -> threading.Thread:
    thread = threading.Thread(target=warn_of_demo_passwords, args=(core,),
                              name="demo-passwords", daemon=True)
    thread.start()
    return thread
