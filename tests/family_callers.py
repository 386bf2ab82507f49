"""What the tests of the Keystone families beside the core (project tags, domain
configuration, policies, unified limits) share: a server in either policy profile, its
gateway, and the callers each rule is tried with.

Callers: `sys` (admin, system scope), `project_admin` (alice, admin on cyberdyne, scoped
there), `member` (bob, member of acme through devs, scoped there), `alice` (unscoped)."""

import contextlib
import dataclasses
from dataclasses import dataclass

import grpc
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service
from support import auth_md, login, project_scope, system_admin_token
from test_gateway_admin import Api

PROFILES = ("keystone", "scoped")


@dataclass
class Callers:
    service: object
    base: str  # the gateway's URL
    sys: str
    project_admin: str
    member: str
    alice: str
    acme: str
    cyberdyne: str
    bar: str  # a project of domain Foo
    foo: str  # domain Foo

    def http(self, token: str) -> Api:
        return Api(self.base, token)

    def grpc(self, stub_class, token: str):
        """A stub of `stub_class` on the server whose calls carry `token`."""
        return Bound(stub_class(self.service.channel), token)


class Bound:
    def __init__(self, stub, token: str):
        self._stub, self._md = stub, auth_md(token)

    def __getattr__(self, method: str):
        rpc = getattr(self._stub, method)
        return lambda request: rpc(request, metadata=self._md, timeout=10)


def callers_of(service, base: str) -> Callers:
    core, stub = service.core, service.stub
    default = core.resources.get_domain("default")
    foo = core.resources.find_domain(name="Foo")
    return Callers(
        service=service, base=base, sys=system_admin_token(stub),
        project_admin=login(stub, "alice", project_scope("cyberdyne")).token,
        member=login(stub, "bob", project_scope("acme")).token,
        alice=login(stub, "alice").token,
        acme=core.resources.find_project(name="acme", domain=default).id,
        cyberdyne=core.resources.find_project(name="cyberdyne", domain=default).id,
        bar=core.resources.find_project(name="bar", domain=foo).id, foo=foo.id)


@contextlib.contextmanager
def running(settings, profile: str):
    """A server and its gateway over `settings` in policy profile `profile`: its callers."""
    from identity_grpc.gateway.server import HttpServer
    service = start_service(dataclasses.replace(settings, policy_profile=profile))
    http = HttpServer(service.core, "127.0.0.1:0").start()
    try:
        yield callers_of(service, f"http://127.0.0.1:{http.port}")
    finally:
        http.stop()
        service.stop()


def grpc_code(call, *args) -> grpc.StatusCode:
    try:
        call(*args)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def assert_denied(call, rule: str) -> None:
    try:
        call()
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED, (e.code(), e.details())
        assert rule in e.details(), e.details()
    else:
        raise AssertionError(f"{rule} let through a call it should refuse")


__all__ = ["PROFILES", "Callers", "callers_of", "running", "grpc_code", "assert_denied", "pb"]
