"""Helpers for tests: build requests the way a client would, and a settable clock."""

import json
import os
import statistics
import time
from collections.abc import Mapping
from pathlib import Path

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb

ADMIN_PASSWORD = "admin-secret-for-tests"
DEMO_PASSWORDS = {"alice": "mypassword123", "bob": "bobpassword123", "nova": "novapass",
                  "admin": ADMIN_PASSWORD}


class FakeClock:
    """Real time plus an offset a test can advance, so expiry is tested without sleeping."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def user(name: str, domain_id: str = "default") -> pb.UserSelector:
    return pb.UserSelector(name=name, domain=pb.DomainSelector(id=domain_id))


def project_scope(name: str = "", domain_id: str = "default", project_id: str = "",
                  domain_name: str = "") -> pb.Scope:
    if project_id:
        return pb.Scope(project=pb.ProjectSelector(id=project_id))
    domain = pb.DomainSelector(name=domain_name) if domain_name else pb.DomainSelector(id=domain_id)
    return pb.Scope(project=pb.ProjectSelector(name=name, domain=domain))


def password_request(name: str, password: str | None = None, scope: pb.Scope | None = None,
                     **kwargs) -> pb.AuthenticateRequest:
    password = DEMO_PASSWORDS.get(name, "") if password is None else password
    request = pb.AuthenticateRequest(
        password=pb.PasswordMethod(user=user(name), password=password), **kwargs)
    if scope is not None:
        request.scope.CopyFrom(scope)
    return request


def login(stub, name: str, scope: pb.Scope | None = None, **kwargs) -> pb.AuthenticateResponse:
    """Authenticate a demo user with its password."""
    return stub.Authenticate(password_request(name, scope=scope, **kwargs))


def rescope(stub, token: str, scope: pb.Scope, **kwargs) -> pb.AuthenticateResponse:
    return stub.Authenticate(pb.AuthenticateRequest(token=pb.TokenMethod(token=token),
                                                    scope=scope, **kwargs))


def auth_md(token: str) -> tuple:
    return (("x-auth-token", token),)


def validate(stub, caller_token: str, subject_token: str, **kwargs) -> pb.Token:
    return stub.ValidateToken(pb.ValidateTokenRequest(subject_token=subject_token, **kwargs),
                              metadata=auth_md(caller_token)).token_info


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    """Run a call that must fail and return its error."""
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value


def role_names(token_info: pb.Token) -> set[str]:
    return {r.name for r in token_info.roles}


class AdminClient:
    """Stubs of every admin service on one channel, calling with one token."""

    def __init__(self, channel, token: str):
        from identity_api.admin.v1 import admin_pb2_grpc as agrpc
        self.metadata = auth_md(token)
        for service in ("Domains", "Projects", "Users", "Groups", "Roles", "Assignments",
                        "Regions", "Services", "Endpoints", "ApiKeys"):
            setattr(self, service.lower(), getattr(agrpc, f"{service}Stub")(channel))

    def call(self, method, request):
        return method(request, metadata=self.metadata)


def time_ratio(first, second, rounds: int = 11) -> float:
    """Median time of `first()` over median time of `second()`, called in turns so
    that load from tests running beside this one weighs on both alike."""
    def timed(call) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    first(), second()  # warm connections and caches
    pairs = [(timed(first), timed(second)) for _ in range(rounds)]
    return statistics.median(a for a, _ in pairs) / statistics.median(b for _, b in pairs)


def system_admin_token(stub) -> str:
    return login(stub, "admin", pb.Scope(system=pb.SystemScope(all=True))).token


ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: the caller's minus any IDENTITY_* and OS_*
    variable, the gateway on a free port (never a fixed one two tests could share),
    plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDENTITY_", "OS_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["IDENTITY_HTTP_LISTEN"] = "127.0.0.1:0"
    env.update(extra)
    return env


SAMPLES_DIR = Path(os.environ.get("IDENTITY_KEYSTONE_SAMPLES",
                                  ROOT.parent / "shared" / "keystone-samples"))


class ReferenceSamples(Mapping):
    """Keystone's recorded wire format (../shared/keystone-samples), by name, read on
    first use. CI has shared/ beside the checkout; a clone without it skips the tests
    that compare against it, saying where it looked, rather than failing to collect."""

    def __init__(self, filename: str, key: str):
        self._path = SAMPLES_DIR / filename
        self._key = key
        self._by_key: dict | None = None

    def _load(self) -> dict:
        if self._by_key is None:
            if not self._path.exists():
                pytest.skip(f"reference samples not found at {self._path} "
                            "(set IDENTITY_KEYSTONE_SAMPLES to their folder)")
            samples = json.loads(self._path.read_text())["samples"]
            self._by_key = {s[self._key]: s for s in samples}
        return self._by_key

    def __getitem__(self, name: str) -> dict:
        return self._load()[name]

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


SAMPLES = ReferenceSamples("samples.json", "name")
MIDDLEWARE_SAMPLES = ReferenceSamples("middleware.json", "title")


def http_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of one raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def read_until_closed(sock, timeout: float = 10.0) -> bytes:
    """Everything the server sends on `sock` until it closes it (or `timeout`)."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received
