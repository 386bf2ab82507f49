"""Measurements that need no load processes: the raw argon2 verify rate of the
configured parameters, and the consuming side's local token check."""

import threading
import time

from argon2 import PasswordHasher, Type


def argon2_verify_rate(time_cost: int, memory_kib: int, parallelism: int, threads: int,
                       seconds: float = 3.0) -> float:
    """Verifies per second with `threads` threads, straight through argon2-cffi: the
    most the password method can do on this machine with these parameters."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                            parallelism=parallelism, type=Type.ID)
    stored = hasher.hash("benchmark password")
    hasher.verify(stored, "benchmark password")  # warm: first use allocates
    deadline = time.perf_counter() + seconds
    counts = [0] * threads

    def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            hasher.verify(stored, "benchmark password")
            counts[i] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def per_call_us(call, iterations: int) -> float:
    call()  # the first call may resolve remotely; measure the steady state
    started = time.perf_counter()
    for _ in range(iterations):
        call()
    return (time.perf_counter() - started) / iterations * 1e6


def middleware_check(address: str, username: str, password: str, project: str,
                     tokens: list[str], iterations: int = 50_000) -> dict:
    """The local check of a token already seen (the steady state: a token serves many
    calls), bare and through the WSGI middleware; and the first sight of a token,
    which verifies its signature here and asks the service for its roles once."""
    from identity_client.middleware import WsgiAuthMiddleware
    from identity_client.session import Session
    from identity_client.verifier import TokenVerifier

    session = Session(address, username=username, password=password, project_name=project)
    verifier = TokenVerifier(session)
    try:
        if not verifier.wait_until_connected(10):
            raise RuntimeError("the revocation stream did not come up")
        token = tokens[0]
        check_us = per_call_us(lambda: verifier.check(token), iterations)

        def app(environ, start_response):
            start_response("204 No Content", [])
            return []

        middleware = WsgiAuthMiddleware(app, verifier, "http://identity.invalid/v3")
        environ = {"HTTP_X_AUTH_TOKEN": token, "REQUEST_METHOD": "GET", "PATH_INFO": "/"}
        wsgi_us = per_call_us(lambda: middleware(dict(environ), lambda *a: None), iterations)

        fresh = tokens[1:]
        started = time.perf_counter()
        for each in fresh:
            verifier.check(each)
        first_sight_us = (time.perf_counter() - started) / max(1, len(fresh)) * 1e6
        remote = verifier.stats["remote_validations"]
    finally:
        verifier.close()
        session.close()
    return {"check_us": check_us, "wsgi_us": wsgi_us, "first_sight_us": first_sight_us,
            "first_sight_tokens": len(fresh), "remote_validations": remote}

