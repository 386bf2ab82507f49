"""The demo dataset, whose passwords README.md publishes: loaded once, into a store
made for it, never brought back over an operator's deletions by the next `make run`;
and a server started as a production one (no `--demo`) warns of each demo password
still in use, until it is changed (identity_grpc/demo.py, demo_passwords.py)."""

import json
import time

import pytest

from identity_grpc.config import load_settings
from identity_grpc.core import Core
from identity_grpc.demo import DEMO_PASSWORDS
from identity_grpc.demo_passwords import demo_passwords_in_use
from identity_grpc.store.models import DEFAULT_DOMAIN_ID
from test_operations import config, demo_config, manage, servers, with_admin_password  # noqa: F401

WARNING_TIMEOUT = 30.0


def user_named(core: Core, name: str):
    return core.users_and_groups.find_user(name=name, domain_id=DEFAULT_DOMAIN_ID)


def on_store(config_path, change) -> None:
    core = Core(load_settings(config_path))
    try:
        change(core)
    finally:
        core.close()


def demo_warnings(server, expected_end: str) -> list[str]:
    """The server's WARNING lines about demo passwords, once its check has ended
    (the DEBUG line `expected_end` names what it found)."""
    deadline = time.monotonic() + WARNING_TIMEOUT
    while expected_end not in server.stderr():
        if time.monotonic() > deadline or server.proc.poll() is not None:
            pytest.fail(f"no {expected_end!r} from the server: {server.stderr()[-3000:]}")
        time.sleep(0.05)
    entries = [json.loads(line) for line in server.stderr().splitlines()
               if line.startswith("{")]  # JSON log lines (docs/observability.md)
    return [e["message"] for e in entries
            if e["level"] == "WARNING" and "demo's published password" in e["message"]]


@pytest.mark.slow
def test_a_deleted_demo_user_stays_deleted_when_make_run_sets_up_again(demo_config):
    on_store(demo_config, lambda core: core.users_and_groups.delete_user(
        user_named(core, "nova").id))
    again = manage(demo_config, "setup", "--demo", env=with_admin_password())
    assert "not loaded again" in again.stdout, again.stdout

    def check(core):
        assert user_named(core, "nova") is None
        assert user_named(core, "alice") is not None  # the rest as it was
    on_store(demo_config, check)


@pytest.mark.slow
def test_setup_demo_over_a_store_set_up_without_it_loads_no_demo(config):
    manage(config, "setup", env=with_admin_password())
    result = manage(config, "setup", "--demo", env=with_admin_password())
    assert "not loaded again" in result.stdout
    on_store(config, lambda core: [user_named(core, n) for n in DEMO_PASSWORDS] == [None] * 3
             or pytest.fail("a demo user was loaded into a store made without the demo"))


@pytest.mark.slow
def test_a_production_start_warns_of_each_demo_password_until_it_is_changed(demo_config, servers):
    demo_config.write_text(demo_config.read_text() + 'log_level = "DEBUG"\n')
    first = servers(demo_config)
    warned = demo_warnings(first, "published passwords: alice, bob, nova")
    assert [w.split("user ")[1].split()[0] for w in warned] == ["'alice'", "'bob'", "'nova'"]
    assert "mypassword123" not in first.stderr()  # named, never printed
    first.terminate()

    def change(core):
        for name in DEMO_PASSWORDS:
            core.users_and_groups.set_password(user_named(core, name).id, f"{name}-rotated-pw1")
    on_store(demo_config, change)
    second = servers(demo_config)
    assert demo_warnings(second, "published passwords: none in use") == []


def test_demo_passwords_in_use_names_the_users_whose_password_still_works(deployment):
    core = Core(deployment)
    try:
        assert demo_passwords_in_use(core) == ["alice", "bob", "nova"]
        core.users_and_groups.set_password(user_named(core, "bob").id, "bob-rotated-pw1")
        core.users_and_groups.delete_user(user_named(core, "nova").id)
        assert demo_passwords_in_use(core) == ["alice"]
        assert user_named(core, "bob").failed_auth_count == 0  # a mismatch is no failed login
    finally:
        core.close()
