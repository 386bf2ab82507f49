"""Memory a long session leaves behind stays bounded (docs/memory.md).

Each cache is bounded in estimated bytes, not entries, and the verified-token cache
forgets tokens once they expire: driven here through a real server with budgets of
one megabyte, by one user scoping to hundreds of projects (each described at length,
so each cached scope is large) and validating over a thousand distinct tokens.
"""

import pytest

import identity_grpc.core as core_module
from conftest import ServerProcess, start_service
from identity_grpc import allocator
from identity_grpc.bootstrap import Seeder
from identity_grpc.config import Settings
from identity_grpc.sizing import MIB, estimate
from support import login, password_request, project_scope, rescope, validate

PROJECTS = 600
DESCRIPTION = "a project described at length " * 30  # ~900 characters
BUDGET_MB = 1


@pytest.fixture
def small_caches(deployment, monkeypatch):
    """A server whose caches may each hold one megabyte, sweeping expired tokens
    every tick; alice holds a role on PROJECTS more projects."""
    monkeypatch.setattr(core_module, "EXPIRED_TOKEN_SWEEP_SECONDS", 0.0)
    running = start_service(deployment.replace(
        cache_memory_mb=BUDGET_MB, token_cache_mb=BUDGET_MB, catalog_cache_mb=BUDGET_MB))
    seed = Seeder(running.core)
    alice = seed.user("alice", "mypassword123")
    running.project_ids = []
    for i in range(PROJECTS):
        project_id = seed.project(f"soak-{i:04d}", description=DESCRIPTION)
        seed.grant("member", "project", project_id, user_id=alice)
        running.project_ids.append(project_id)
    yield running
    running.stop()


def _service_token(stub) -> str:
    return login(stub, "nova", project_scope("service")).token


def test_caches_hold_no_more_than_their_byte_budgets(small_caches):
    stub, core = small_caches.stub, small_caches.core
    unscoped = login(stub, "alice").token
    service = _service_token(stub)
    tokens = []
    for _ in range(2):
        for project_id in small_caches.project_ids:
            token = rescope(stub, unscoped, project_scope(project_id=project_id)).token
            validate(stub, service, token)
            tokens.append(token)
    assert len(set(tokens)) == 2 * PROJECTS
    # Today's entry-bounded caches held all of it: several megabytes.
    assert 0 < core.cache.bytes <= BUDGET_MB * MIB
    assert len(core.cache) < PROJECTS
    assert 0 < core.codec.cached_bytes <= BUDGET_MB * MIB
    assert core.codec.cached_tokens < 2 * PROJECTS
    assert 0 < core.catalog.rendered_bytes <= BUDGET_MB * MIB
    # The estimates are honest: what is kept really is about that size.
    kept = list(core.codec._cache[1].items())
    assert estimate(kept) <= 1.5 * core.codec.cached_bytes
    # The newest stay: the last token validates from the cache, the first again too.
    assert validate(stub, service, tokens[-1]).project.id == small_caches.project_ids[-1]
    assert validate(stub, service, tokens[0]).project.id == small_caches.project_ids[0]


def test_expired_tokens_are_forgotten(small_caches):
    stub, core = small_caches.stub, small_caches.core
    unscoped = login(stub, "alice").token
    service = _service_token(stub)
    for project_id in small_caches.project_ids[:50]:
        validate(stub, service, rescope(stub, unscoped, project_scope(project_id=project_id)).token)
    assert core.codec.cached_tokens >= 50
    small_caches.clock.advance(core.settings.token_lifetime + 1)
    wait_for(lambda: core.codec.cached_tokens == 0)
    assert core.codec.cached_bytes == 0


def test_memory_settings_are_range_checked():
    for name, bad in (("cache_memory_mb", 0), ("token_cache_mb", 0), ("catalog_cache_mb", -1),
                      ("malloc_mmap_threshold_kib", 64 * 1024)):
        with pytest.raises(ValueError, match=name):
            Settings(**{name: bad})


@pytest.mark.real_hashing
def test_hashing_threads_do_not_keep_argon2s_memory(service):
    """argon2 takes 19 MiB per check; under glibc's dynamic mmap threshold each hashing
    thread kept its block after the first checks. A server process of its own, so that
    its RSS is its own; tokens minted after the checks are still good (huge pages
    change nothing a caller sees)."""
    import platform
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("no glibc here")
    server = ServerProcess(service.core.settings)
    try:
        environ = open(f"/proc/{server.proc.pid}/environ", "rb").read()
        assert allocator.huge_pages_environment({}) is None or b"glibc.malloc.hugetlb=1" in environ
        server.stub.Authenticate(password_request("alice"))  # everything else warmed up
        before = rss_mb(server.proc.pid)
        for _ in range(4):  # enough checks for every hashing thread to have kept a block
            calls = [server.stub.Authenticate.future(password_request("alice"))
                     for _ in range(4)]
            for call in calls:
                assert call.result().token
        grown = rss_mb(server.proc.pid) - before
        assert grown < 15, f"RSS grew by {grown:.0f} MB over 16 password checks"
    finally:
        server.stop()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def wait_for(condition, timeout: float = 10.0) -> None:
    import time
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
