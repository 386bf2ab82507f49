"""The demo dataset (the classic documentation's example cloud, `make run`'s) and when
it is loaded: once, into a store created for it.

Its passwords are published (README.md), so the dataset must never come back into a
store by itself: `identity-manage setup --demo` loads it only when the store it is
setting up holds no user yet (a new store, made for the demo), and never again after
that, so a demo user an operator deleted, or whose password was changed, stays so
however often `make run` runs. `identity-manage demo` loads it on purpose, into any
store. A server started without `--demo` warns of each demo password still in use
(`demo_passwords.py`).
"""

from .bootstrap import Seeder
from .core import Core
from .store.models import DEFAULT_DOMAIN_ID

# The demo's users, all in domain Default, and their published passwords.
DEMO_PASSWORDS = {"alice": "mypassword123", "bob": "bobpassword123", "nova": "novapass"}


def store_is_new(core: Core) -> bool:
    """Whether the store holds no user of its own yet (directories' users aside)."""
    users, _ = core.users_and_groups.list_users(page_size=1)
    return not users


def load_demo(core: Core) -> None:
    """The demo cloud of ../shared/keystone-samples (run after `bootstrap`). Idempotent:
    what exists is found, never changed (no password is reset)."""
    seed = Seeder(core)
    acme, cyberdyne = seed.project("acme"), seed.project("cyberdyne")
    alice = seed.user("alice", DEMO_PASSWORDS["alice"], email="alice@example.com")
    seed.grant("compute-user", "project", acme, user_id=alice)
    seed.grant("admin", "project", cyberdyne, user_id=alice)
    bob = seed.user("bob", DEMO_PASSWORDS["bob"])
    devs = seed.group("devs")
    core.users_and_groups.add_user_to_group(bob, devs)
    seed.grant("member", "project", acme, group_id=devs)
    nova = seed.user("nova", DEMO_PASSWORDS["nova"])
    seed.never_locked_out(nova)
    seed.grant("service", "project", seed.project("service"), user_id=nova)
    seed.endpoint("compute", "nova", "http://127.0.0.1:8774/v2.1")
    admin = core.users_and_groups.find_user(name="admin", domain_id=DEFAULT_DOMAIN_ID)
    seed.grant("admin", "domain", DEFAULT_DOMAIN_ID, user_id=admin.id)
    foo = seed.domain("Foo")
    seed.project("bar", foo)
    seed.project("baz", foo)
