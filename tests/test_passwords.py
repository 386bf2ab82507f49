"""Password storage and checking: argon2id with OWASP's parameters, rehash when they
change, and refusals that tell no case apart, not even by timing."""


import threading

import grpc
import pytest

from conftest import start_service
from identity_grpc.errors import InvalidArgument
from identity_grpc.passwords import MAX_PASSWORD_BYTES, Passwords, check_acceptable
from support import login, password_request, rpc_error, time_ratio

OWASP_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
pytestmark = pytest.mark.real_hashing  # what is stored, and how long checks take


def _alice_id(service) -> str:
    return service.core.users_and_groups.find_user(name="alice", domain_id="default").id


def _rows(service, user_id: str) -> list[tuple[int, str]]:
    """The user's password rows (id, hash), oldest first, read on `service`'s store."""
    Password = service.core.store.tables.Password
    return [(p.id, p.hash) for p in Password.select().where(Password.user == user_id)
            .order_by(Password.id)]


def _refusal(stub, request) -> str:
    error = rpc_error(stub.Authenticate, request)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (error.code(), error.details())
    return error.details()


def _wrong_password_details(stub) -> str:
    return _refusal(stub, password_request("alice", password="not-her-password"))


# ---- storage ------------------------------------------------------------------------

def test_stored_hash_is_argon2id_with_owasp_parameters(service):
    rows = _rows(service, _alice_id(service))
    assert len(rows) == 1
    assert rows[0][1].startswith(OWASP_PREFIX), rows[0][1]


def test_hash_is_rewritten_in_place_when_the_parameters_change(service):
    alice = _alice_id(service)
    [(row_id, before)] = _rows(service, alice)
    stronger = start_service(service.core.settings.replace(argon2_time_cost=3))
    try:
        login(stronger.stub, "alice")
        [(same_id, after)] = _rows(service, alice)
        assert same_id == row_id  # updated, not a new history entry
        assert after != before and after.startswith("$argon2id$v=19$m=19456,t=3,p=1$"), after
        # The rehashed password still works, and a login with these parameters
        # leaves the row alone.
        assert login(stronger.stub, "alice").token
        assert _rows(service, alice) == [(row_id, after)]
    finally:
        stronger.stop()


def test_hash_is_not_rewritten_when_the_parameters_are_unchanged(service, stub):
    alice = _alice_id(service)
    before = _rows(service, alice)
    for _ in range(2):
        login(stub, "alice")
    assert _rows(service, alice) == before


def test_wrong_password_does_not_rehash(service):
    alice = _alice_id(service)
    before = _rows(service, alice)
    stronger = start_service(service.core.settings.replace(argon2_time_cost=3))
    try:
        _wrong_password_details(stronger.stub)
        assert _rows(service, alice) == before
    finally:
        stronger.stop()


# ---- refusals -------------------------------------------------------------------------

def test_unknown_user_and_wrong_password_get_the_same_answer(stub):
    unknown = _refusal(stub, password_request("nobody", password="mypassword123"))
    assert unknown == _wrong_password_details(stub)


@pytest.fixture
def unthrottled(deployment):
    """A server without the throttles of failed passwords, which would refuse the
    repeated refusals measured here (quickly) from their one address, and without
    the lockout, whose failure-count write (a commit) only a known user pays: under
    load that write alone can halve the ratio, so it would hide what is pinned here,
    that the hash is always computed."""
    running = start_service(deployment.replace(login_failures_per_user_and_address=0,
                                               login_failures_per_address=0,
                                               lockout_failure_attempts=0))
    yield running.stub
    running.stop()


@pytest.mark.slow
def test_unknown_user_takes_as_long_as_a_wrong_password(unthrottled):
    stub = unthrottled
    unknown = password_request("nobody", password="mypassword123")
    wrong = password_request("alice", password="not-her-password")
    ratio = time_ratio(lambda: rpc_error(stub.Authenticate, unknown),
                       lambda: rpc_error(stub.Authenticate, wrong))
    assert 0.5 <= ratio <= 2.0, f"unknown user over wrong password: {ratio:.2f}"


def test_disabled_user_cannot_authenticate(service, stub):
    expected = _wrong_password_details(stub)
    service.core.users_and_groups.set_user_enabled(_alice_id(service), False)
    assert _refusal(stub, password_request("alice")) == expected
    service.core.users_and_groups.set_user_enabled(_alice_id(service), True)
    assert login(stub, "alice").token


def test_user_in_a_disabled_domain_cannot_authenticate(service, stub):
    core = service.core
    foo = core.resources.find_domain(name="Foo")
    core.users_and_groups.create_user("dave", foo.id, "davepassword1")
    dave = password_request("dave", password="davepassword1")
    dave.password.user.domain.id = foo.id
    assert stub.Authenticate(dave).token_info.user.domain.name == "Foo"
    expected = _wrong_password_details(stub)
    core.resources.set_domain_enabled(foo.id, False)
    assert _refusal(stub, dave) == expected


# ---- unit level -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


def test_new_hashes_use_owasp_parameters(passwords):
    hashed = passwords.hash("correct horse")
    assert hashed.startswith(OWASP_PREFIX)
    assert passwords.verify(hashed, "correct horse")
    assert not passwords.verify(hashed, "wrong horse")
    assert not passwords.needs_rehash(hashed)
    assert Passwords().verify(hashed, "correct horse")  # salted: another instance agrees


def test_verify_without_a_hash_is_false_and_takes_as_long(passwords):
    real = passwords.hash("correct horse")
    assert passwords.verify(None, "x") is False
    assert passwords.verify(None, "dummy password for unknown users") is False
    assert passwords.verify("", "x") is False

    ratio = time_ratio(lambda: passwords.verify(None, "wrong horse"),
                       lambda: passwords.verify(real, "wrong horse"))
    assert 0.5 <= ratio <= 2.0, ratio


def test_no_more_hashes_run_at_once_than_the_bound(passwords):
    """Each argon2 hash holds 19 MiB: 32 server threads hashing at once would hold
    600 MiB for no more throughput than one per core. Only the pool's own threads
    hash, so only their memory arenas ever hold a hash's blocks."""
    import threading

    bounded = Passwords(concurrency=2, queue_limit=8)  # all 8 may wait: none is shed
    stored = bounded.hash("correct horse")
    lock = threading.Lock()
    running, most, hashing_threads = 0, 0, set()

    class CountingHasher:  # the real hasher, counting the verifies in progress
        def __init__(self, hasher):
            self._hasher = hasher

        def verify(self, *args):
            nonlocal running, most
            hashing_threads.add(threading.current_thread().name)
            with lock:
                running += 1
                most = max(most, running)
            try:
                return self._hasher.verify(*args)
            finally:
                with lock:
                    running -= 1

    bounded._hasher = CountingHasher(bounded._hasher)
    start = threading.Barrier(8)

    def attempt():
        start.wait()
        assert bounded.verify(stored, "correct horse")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2
    assert len(hashing_threads) == 2
    assert all(name.startswith("argon2") for name in hashing_threads)


def test_verify_with_a_corrupt_stored_hash_is_false_not_an_error(passwords):
    assert passwords.verify("not-a-hash", "x") is False
    assert passwords.verify("$argon2id$v=19$m=19456,t=2,p=1$garbage", "x") is False
    assert passwords.needs_rehash("not-a-hash")


def test_needs_rehash_when_parameters_differ(passwords):
    from identity_grpc.passwords import HashParameters
    stronger = Passwords(HashParameters(time_cost=3))
    assert stronger.needs_rehash(passwords.hash("correct horse"))
    assert not stronger.needs_rehash(stronger.hash("correct horse"))


@pytest.mark.parametrize("password", ["", "p" * (MAX_PASSWORD_BYTES + 1), "é" * 2049],
                         ids=["empty", "4097_bytes", "4098_utf8_bytes_in_2049_chars"])
def test_unacceptable_passwords_are_refused_naming_the_field(passwords, password):
    for check in (check_acceptable, passwords.hash):
        with pytest.raises(InvalidArgument) as info:
            check(password)
        assert info.value.field == "password"
        assert info.value.message.startswith("password: ")


def test_a_4096_byte_password_is_acceptable(passwords):
    check_acceptable("p" * MAX_PASSWORD_BYTES)
    check_acceptable("é" * (MAX_PASSWORD_BYTES // 2))
    assert passwords.verify(passwords.hash("p" * MAX_PASSWORD_BYTES), "p" * MAX_PASSWORD_BYTES)


class CountingSlots:
    """A host's hashing slots (one), counting how many hashes ever held one at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self._slot = threading.BoundedSemaphore(1)
        self.holding = self.most = self.taken = 0

    def __enter__(self):
        self._slot.acquire()
        with self._lock:
            self.holding += 1
            self.taken += 1
            self.most = max(self.most, self.holding)

    def __exit__(self, *exc):
        with self._lock:
            self.holding -= 1
        self._slot.release()


def test_the_workers_of_one_host_hash_no_more_at_once_than_their_shared_slots():
    """Two workers' Passwords (two hashing threads each) over one host slot: every hash
    and verify takes it, so at most one runs at a time, and none is lost."""
    slots = CountingSlots()
    workers = [Passwords(concurrency=2, host_slots=slots) for _ in range(2)]
    stored = workers[0].hash("correct horse battery")
    outcomes = []

    def log_in(passwords, password):
        outcomes.append(passwords.verify(stored, password, shed=False))

    threads = [threading.Thread(target=log_in, args=(workers[i % 2], password))
               for i, password in enumerate(["correct horse battery", "wrong"] * 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == [False] * 4 + [True] * 4
    assert slots.taken == 9 and slots.most == 1
