"""The consuming side: a client session, local token checks that still refuse a
revoked token within a second, the gRPC / WSGI / ASGI middleware, policy over the
caller's identity, and the projects of a domain-scoped caller."""

import asyncio
import base64
import json
import threading
import time
import wsgiref.util
from concurrent import futures

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb
from identity_client.authz import PolicyNotAuthorized, authorize, domain_projects, enforce
from identity_client.middleware import (AsgiAuthMiddleware, GrpcAuthInterceptor,
                                        WsgiAuthMiddleware, current_identity)
from identity_client.policy import Enforcer
from identity_client.session import EndpointNotFound, Session, SessionExpired
from identity_client.verifier import TokenRejected, TokenVerifier

from identity_grpc.tokens.keys import KeyRepository
from support import DEMO_PASSWORDS, auth_md, login, project_scope, validate

URI = "http://identity.example.test/v3"
COMPUTE_URL = "http://127.0.0.1:8774/v2.1"
CHALLENGE = f'Keystone uri="{URI}"'
LIFETIME = 3600


# ---- helpers ------------------------------------------------------------------------------

def nova_session(address: str, clock) -> Session:
    return Session(address, username="nova", password=DEMO_PASSWORDS["nova"],
                   project_name="service", clock=clock)


def make_verifier(address: str, clock) -> TokenVerifier:
    verifier = TokenVerifier(nova_session(address, clock), clock=clock)
    assert verifier.wait_until_connected(5), "the revocation stream did not come up"
    return verifier


@pytest.fixture
def verifier(service):
    verifier = make_verifier(service.address, service.clock)
    yield verifier
    verifier.close()


def wait_until(predicate, within: float, step: float = 0.01) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < within, f"not so after {within}s"
        time.sleep(step)
    return time.monotonic() - started


def key_id_of(token: str) -> str:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw[1:5].hex()


def tampered(token: str) -> str:
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def ids(service):
    tables = service.core.store.tables
    User, Project, Domain = tables.User, tables.Project, tables.Domain
    return {
        "alice": User.get(User.name == "alice").id, "nova": User.get(User.name == "nova").id,
        "acme": Project.get(Project.name == "acme").id,
        "cyberdyne": Project.get(Project.name == "cyberdyne").id,
        "foo": Domain.get(Domain.name == "Foo").id,
    }


def role_id(service, name: str) -> str:
    return service.core.assignments.find_role(name).id


# A WSGI app that shows what the middleware gave it.
def echo_app(environ, start_response):
    context = environ.get("identity.context")
    body = json.dumps({
        "status": environ.get("HTTP_X_IDENTITY_STATUS"),
        "service_status": environ.get("HTTP_X_SERVICE_IDENTITY_STATUS"),
        "user_id": environ.get("HTTP_X_USER_ID"), "project_id": environ.get("HTTP_X_PROJECT_ID"),
        "project_name": environ.get("HTTP_X_PROJECT_NAME"), "roles": environ.get("HTTP_X_ROLES"),
        "service_user_id": environ.get("HTTP_X_SERVICE_USER_ID"),
        "service_roles": environ.get("HTTP_X_SERVICE_ROLES"),
        "context_user": context.user_id if context else None,
        "context_roles": sorted(context.roles) if context else None,
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def wsgi_call(app, headers: dict | None = None, path: str = "/", environ_extra=None):
    environ = {}
    wsgiref.util.setup_testing_defaults(environ)
    environ["PATH_INFO"] = path
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    environ.update(environ_extra or {})
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


def wsgi_json(app, headers=None, path="/"):
    status, _, body = wsgi_call(app, headers, path)
    assert status == 200, body
    return json.loads(body)


# ---- the session ------------------------------------------------------------------------

def test_session_authenticates_renews_rescopes_and_finds_endpoints(service):
    clock = service.clock
    with Session(service.address, username="alice", password=DEMO_PASSWORDS["alice"],
                 project_name="acme", clock=clock) as session:
        first = session.token
        assert session.token_info.project.name == "acme"
        assert session.token == first  # cached, not reissued
        assert validate(service.stub, first, first).user.name == "alice"

        assert session.endpoint("compute") == COMPUTE_URL
        assert session.endpoint("compute", region="RegionOne") == COMPUTE_URL
        assert session.endpoint("compute", interface="publicURL") == COMPUTE_URL
        assert session.endpoint("identity").endswith("/v3/")
        with pytest.raises(EndpointNotFound):
            session.endpoint("compute", interface="admin")
        with pytest.raises(EndpointNotFound):
            session.endpoint("compute", region="Elsewhere")
        with pytest.raises(EndpointNotFound):
            session.endpoint("image")

        clock.advance(LIFETIME - 120)  # not yet within the renewal margin
        assert session.token == first
        clock.advance(90)  # 30 s left: renewed before it runs out
        calls = []
        real = session.stub.Authenticate

        class Counting:
            def Authenticate(self, *args, **kwargs):
                calls.append(1)
                return real(*args, **kwargs)

        session.stub = Counting()
        tokens = []
        threads = [threading.Thread(target=lambda: tokens.append(session.token)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(tokens)) == 1 and tokens[0] != first
        assert len(calls) == 1  # one thread renewed; the others waited for it
        renewed = tokens[0]
        assert validate(service.stub, renewed, renewed).project.name == "acme"

        info = session.rescope(project_name="cyberdyne")
        assert info.project.name == "cyberdyne" and "admin" in {r.name for r in info.roles}
        assert session.token_info.project.name == "cyberdyne"
        assert session.token != renewed
        clock.advance(LIFETIME - 30)  # renewal keeps the new scope
        assert session.token_info.project.name == "cyberdyne"
        assert validate(service.stub, session.token, session.token).project.name == "cyberdyne"


def test_session_from_a_token_cannot_outlive_it(service):
    alice = login(service.stub, "alice", project_scope("acme")).token
    session = Session(channel=service.channel, token=alice, clock=service.clock)
    assert session.token == alice and not session.can_renew
    assert session.endpoint("compute") == COMPUTE_URL
    info = session.rescope(project_name="cyberdyne")
    assert info.project.name == "cyberdyne"
    service.clock.advance(LIFETIME + 1)
    with pytest.raises(SessionExpired):
        session.token  # noqa: B018


# ---- local checks ------------------------------------------------------------------------

def test_verifier_checks_tokens_locally(service, verifier):
    alice = login(service.stub, "alice", project_scope("acme"))
    context = verifier.check(alice.token)
    assert (context.user_name, context.project_name, context.project_domain_id) == (
        "alice", "acme", "default")
    assert context.user_id == alice.token_info.user.id and "compute-user" in context.roles
    assert context.scope_type == "project" and context.token == alice.token
    remote = verifier.stats["remote_validations"]
    for _ in range(100):
        assert verifier.check(alice.token) is context
    assert verifier.check_local(alice.token) is context
    assert verifier.stats["remote_validations"] == remote  # no call for a token seen before

    # Forged or malformed: refused here, without asking the service.
    for bad in (tampered(alice.token), alice.token + "A", "not-a-token", "", alice.token[:40]):
        with pytest.raises(TokenRejected):
            verifier.check(bad)
    assert verifier.stats["remote_validations"] == remote

    # Expired: by the clock the verifier judges by (here the server's fake one).
    fresh = login(service.stub, "alice", project_scope("acme")).token
    verifier.check(fresh)
    service.clock.advance(LIFETIME + 1)
    for token in (alice.token, fresh):
        with pytest.raises(TokenRejected, match="expired"):
            verifier.check(token)


def test_verifier_follows_key_rotation(service, verifier):
    settings = service.core.settings
    old = login(service.stub, "alice", project_scope("acme")).token
    verifier.check(old)
    fetches = verifier.stats["key_fetches"]
    KeyRepository(settings.key_dir, settings.max_active_keys).rotate()
    wait_until(lambda: key_id_of(login(service.stub, "alice", project_scope("acme")).token)
               != key_id_of(old), within=2.0)
    new = login(service.stub, "alice", project_scope("acme")).token
    assert key_id_of(new) != key_id_of(old)
    assert verifier.check(new).user_name == "alice"
    assert key_id_of(new) in verifier.key_ids()
    assert verifier.stats["key_fetches"] > fetches
    remote = verifier.stats["remote_validations"]
    verifier.check(new)
    assert verifier.stats["remote_validations"] == remote  # checked locally from now on

    # Two rotations later the first key is retired: what it signed is refused.
    assert verifier.check(old).user_name == "alice"
    KeyRepository(settings.key_dir, settings.max_active_keys).rotate()
    KeyRepository(settings.key_dir, settings.max_active_keys).rotate()

    def refused():
        try:
            verifier.check(old)
        except TokenRejected:
            return True
        return False
    wait_until(refused, within=1.0)
    wait_until(lambda: key_id_of(old) not in verifier.key_ids(), within=1.0)


# ---- revocation reaches consumers within a second ------------------------------------------

def _refused_by(app, token: str) -> bool:
    status, _, _ = wsgi_call(app, {"X-Auth-Token": token})
    return status == 401


def test_revoked_token_is_refused_by_a_consuming_service_within_a_second(service, verifier):
    app = WsgiAuthMiddleware(echo_app, verifier, URI)
    alice = login(service.stub, "alice", project_scope("acme")).token
    other = login(service.stub, "alice", project_scope("acme")).token
    assert wsgi_json(app, {"X-Auth-Token": alice})["project_name"] == "acme"
    assert wsgi_json(app, {"X-Auth-Token": other})["project_name"] == "acme"
    service.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=alice), metadata=auth_md(alice))
    wait_until(lambda: _refused_by(app, alice), within=1.0)
    assert wsgi_json(app, {"X-Auth-Token": other})["project_name"] == "acme"  # only that one


def test_disabled_user_is_refused_by_a_consuming_service_within_a_second(service, verifier):
    app = WsgiAuthMiddleware(echo_app, verifier, URI)
    alice = login(service.stub, "alice", project_scope("acme")).token
    assert wsgi_json(app, {"X-Auth-Token": alice})["project_name"] == "acme"
    service.core.users_and_groups.set_user_enabled(ids(service)["alice"], False)
    wait_until(lambda: _refused_by(app, alice), within=1.0)


@pytest.mark.slow
def test_revocation_on_one_replica_reaches_a_consumer_of_the_other(service, replica):
    verifier = make_verifier(f"127.0.0.1:{replica.port}", service.clock)
    try:
        app = WsgiAuthMiddleware(echo_app, verifier, URI)
        alice = login(service.stub, "alice", project_scope("acme")).token
        assert wsgi_json(app, {"X-Auth-Token": alice})["user_id"]
        service.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=alice),
                                 metadata=auth_md(alice))
        wait_until(lambda: _refused_by(app, alice), within=1.0)

        # A role removed through one replica shows in the other's consumer too.
        bob = login(service.stub, "bob", project_scope("acme")).token
        assert "member" in verifier.check(bob).roles
        devs = service.core.users_and_groups.find_group("devs", "default").id
        service.core.assignments.revoke(role_id(service, "member"), target_type="project",
                                        target_id=ids(service)["acme"], group_id=devs)
        wait_until(lambda: _refused_by(app, bob), within=1.0)
    finally:
        verifier.close()


def test_role_removal_shows_in_the_context_promptly(service, verifier):
    known = ids(service)
    assignments = service.core.assignments
    assignments.grant(role_id(service, "reader"), target_type="project", target_id=known["acme"],
                      user_id=known["alice"])
    alice = login(service.stub, "alice", project_scope("acme")).token
    assert {"compute-user", "reader"} <= set(verifier.check(alice).roles)
    assignments.revoke(role_id(service, "compute-user"), target_type="project",
                       target_id=known["acme"], user_id=known["alice"])
    wait_until(lambda: "compute-user" not in verifier.check(alice).roles, within=1.0)
    assert verifier.check(alice).roles == ("reader",)
    # The last role gone, the token goes too.
    assignments.revoke(role_id(service, "reader"), target_type="project",
                       target_id=known["acme"], user_id=known["alice"])

    def refused():
        try:
            verifier.check(alice)
        except TokenRejected:
            return True
        return False
    wait_until(refused, within=1.0)


def test_the_verifier_falls_back_to_the_service_when_not_following_it(service):
    # A verifier whose stream is not (yet) up decides every token with ValidateToken.
    nova = login(service.stub, "nova", project_scope("service")).token
    verifier = TokenVerifier(channel=service.channel, service_token=nova, clock=service.clock,
                             start=False)
    alice = login(service.stub, "alice", project_scope("acme")).token
    assert not verifier.connected
    assert verifier.check(alice).user_name == "alice"
    assert verifier.check_local(alice) is None
    service.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=alice), metadata=auth_md(alice))
    with pytest.raises(TokenRejected, match="revoked"):
        verifier.check(alice)


def test_revocation_stream_needs_the_service_or_admin_role(service):
    alice = login(service.stub, "alice", project_scope("acme")).token
    stream = service.stub.WatchRevocations(pb.WatchRevocationsRequest(), metadata=auth_md(alice))
    with pytest.raises(grpc.RpcError) as info:
        next(stream)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    stream = service.stub.WatchRevocations(pb.WatchRevocationsRequest())
    with pytest.raises(grpc.RpcError) as info:
        next(stream)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert dict(info.value.trailing_metadata())["www-authenticate"].startswith("Keystone uri=")
    with pytest.raises(grpc.RpcError) as info:
        service.stub.GetSigningKeys(pb.GetSigningKeysRequest(), metadata=auth_md(alice))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED

    nova = login(service.stub, "nova", project_scope("service")).token
    keys = service.stub.GetSigningKeys(pb.GetSigningKeysRequest(), metadata=auth_md(nova))
    assert key_id_of(alice) in {k.key_id for k in keys.keys}
    assert keys.poll_interval == service.core.settings.poll_interval
    stream = service.stub.WatchRevocations(pb.WatchRevocationsRequest(), metadata=auth_md(nova))
    first = next(stream)
    assert first.snapshot and first.keepalive_interval > 0
    service.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=alice), metadata=auth_md(alice))
    audit_id = validate(service.stub, nova, nova).audit_ids[0]  # (nova's own: not revoked)
    seen = []
    for message in stream:
        seen.extend(e.audit_id for e in message.events)
        if seen:
            break
    assert seen and audit_id not in seen
    stream.cancel()


def test_revocation_stream_ends_when_its_callers_token_is_revoked(service):
    nova = login(service.stub, "nova", project_scope("service")).token
    stream = service.stub.WatchRevocations(pb.WatchRevocationsRequest(), metadata=auth_md(nova))
    assert next(stream).snapshot
    service.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=nova), metadata=auth_md(nova))
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        for _ in stream:  # keepalives until the token is checked again
            assert time.monotonic() - started < 5, "the stream outlived its token"
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in info.value.details()
    assert dict(info.value.trailing_metadata())["www-authenticate"].startswith("Keystone uri=")


# ---- the gRPC interceptor ---------------------------------------------------------------------

@pytest.fixture
def grpc_app(verifier):
    def whoami(request, context):
        ident = current_identity()
        return json.dumps({"user": ident.user_name, "project": ident.project_name,
                           "roles": sorted(ident.roles), "service_user": ident.service_user_id,
                           "service_roles": sorted(ident.service_roles)}).encode()

    def whoami_stream(request, context):
        for i in range(3):
            yield json.dumps({"user": current_identity().user_name, "i": i}).encode()

    handlers = grpc.method_handlers_generic_handler("demo.Compute", {
        "Whoami": grpc.unary_unary_rpc_method_handler(whoami),
        "WhoamiStream": grpc.unary_stream_rpc_method_handler(whoami_stream)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         interceptors=[GrpcAuthInterceptor(verifier, URI)])
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield channel
    channel.close()
    server.stop(0).wait()


def test_grpc_interceptor(service, grpc_app):
    whoami = grpc_app.unary_unary("/demo.Compute/Whoami")
    whoami_stream = grpc_app.unary_stream("/demo.Compute/WhoamiStream")
    alice = login(service.stub, "alice", project_scope("acme")).token
    nova = login(service.stub, "nova", project_scope("service")).token

    answer = json.loads(whoami(b"", metadata=auth_md(alice)))
    assert answer == {"user": "alice", "project": "acme", "roles": ["compute-user"],
                      "service_user": None, "service_roles": []}
    streamed = [json.loads(m) for m in whoami_stream(b"", metadata=auth_md(alice))]
    assert [m["user"] for m in streamed] == ["alice"] * 3

    answer = json.loads(whoami(b"", metadata=(("x-auth-token", alice), ("x-service-token", nova))))
    assert answer["service_user"] == ids(service)["nova"]
    assert "service" in answer["service_roles"]

    for metadata in ((), auth_md(tampered(alice)),
                     (("x-auth-token", alice), ("x-service-token", tampered(nova)))):
        with pytest.raises(grpc.RpcError) as info:
            whoami(b"", metadata=metadata)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert dict(info.value.trailing_metadata())["www-authenticate"] == CHALLENGE
    with pytest.raises(grpc.RpcError) as info:
        list(whoami_stream(b""))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

    service.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=alice), metadata=auth_md(alice))

    def refused():
        try:
            whoami(b"", metadata=auth_md(alice))
        except grpc.RpcError as e:
            return e.code() == grpc.StatusCode.UNAUTHENTICATED
        return False
    wait_until(refused, within=1.0)


# ---- WSGI ------------------------------------------------------------------------------------

def test_wsgi_middleware(service, verifier):
    app = WsgiAuthMiddleware(echo_app, verifier, URI)
    known = ids(service)
    alice = login(service.stub, "alice", project_scope("acme")).token
    nova = login(service.stub, "nova", project_scope("service")).token

    seen = wsgi_json(app, {"X-Auth-Token": alice})
    assert seen["status"] == "Confirmed" and seen["user_id"] == known["alice"]
    assert seen["project_id"] == known["acme"] and seen["roles"] == "compute-user"
    assert seen["context_user"] == known["alice"] and seen["service_user_id"] is None

    # A client cannot pass identity headers of its own through.
    seen = wsgi_json(app, {"X-Auth-Token": alice, "X-User-Id": "forged", "X-Roles": "admin",
                           "X-Service-Roles": "admin"})
    assert seen["user_id"] == known["alice"] and seen["roles"] == "compute-user"
    assert seen["service_roles"] is None

    seen = wsgi_json(app, {"X-Auth-Token": alice, "X-Service-Token": nova})
    assert seen["service_user_id"] == known["nova"] and "service" in seen["service_roles"].split(",")
    assert seen["service_status"] == "Confirmed"

    for headers in ({}, {"X-Auth-Token": tampered(alice)},
                    {"X-Auth-Token": alice, "X-Service-Token": "bogus"},
                    {"X-Auth-Token": "bogus", "X-Service-Token": nova}):
        status, response_headers, body = wsgi_call(app, headers)
        assert status == 401
        assert response_headers["WWW-Authenticate"] == CHALLENGE
        assert response_headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"error": {
            "code": 401, "message": "The request you have made requires authentication.",
            "title": "Unauthorized"}}

    delayed = WsgiAuthMiddleware(echo_app, verifier, URI, delay_auth_decision=True)
    seen = wsgi_json(delayed, {"X-Auth-Token": "bogus", "X-User-Id": "forged"})
    assert seen["status"] == "Invalid" and seen["user_id"] is None and seen["context_user"] is None
    seen = wsgi_json(delayed, {"X-Auth-Token": "bogus", "X-Service-Token": nova})
    assert (seen["status"], seen["service_status"]) == ("Invalid", "Confirmed")
    assert wsgi_json(delayed, {"X-Auth-Token": alice})["status"] == "Confirmed"


# ---- ASGI --------------------------------------------------------------------------------------

async def echo_asgi(scope, receive, send):
    await receive()
    context = scope.get("identity.context")
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    body = json.dumps({"user": context.user_name if context else None,
                       "roles": sorted(context.roles) if context else None,
                       "x-user-id": headers.get("x-user-id"),
                       "x-identity-status": headers.get("x-identity-status"),
                       "x-service-roles": headers.get("x-service-roles"),
                       "service_user": context.service_user_id if context else None}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def asgi_call(app, headers: dict):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/servers", "raw_path": b"/servers", "query_string": b"",
             "root_path": "", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5555),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    assert start["type"] == "http.response.start"
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def test_asgi_middleware(service, verifier):
    app = AsgiAuthMiddleware(echo_asgi, verifier, URI)
    alice = login(service.stub, "alice", project_scope("acme")).token
    nova = login(service.stub, "nova", project_scope("service")).token

    status, _, body = asgi_call(app, {"X-Auth-Token": alice, "X-User-Id": "forged"})
    seen = json.loads(body)
    assert status == 200 and seen["user"] == "alice" and seen["roles"] == ["compute-user"]
    assert seen["x-user-id"] == ids(service)["alice"] and seen["x-identity-status"] == "Confirmed"

    status, _, body = asgi_call(app, {"X-Auth-Token": alice, "X-Service-Token": nova})
    seen = json.loads(body)
    assert seen["service_user"] == ids(service)["nova"] and "service" in seen["x-service-roles"]

    for headers in ({}, {"X-Auth-Token": tampered(alice)},
                    {"X-Auth-Token": alice, "X-Service-Token": tampered(nova)}):
        status, response_headers, body = asgi_call(app, headers)
        assert status == 401 and response_headers["www-authenticate"] == CHALLENGE
        assert json.loads(body)["error"]["code"] == 401

    delayed = AsgiAuthMiddleware(echo_asgi, verifier, URI, delay_auth_decision=True)
    status, _, body = asgi_call(delayed, {"X-Auth-Token": "bogus"})
    assert status == 200 and json.loads(body)["x-identity-status"] == "Invalid"


# ---- policy ------------------------------------------------------------------------------------

CLASSIC_POLICY = {
    "context_is_admin": "role:admin",
    "admin_or_owner": "is_admin:True or project_id:%(project_id)s",
    "default": "rule:admin_or_owner",
    "admin_api": "is_admin:True",
    "compute:create": "role:compute-user",
    "compute:get_all": "",
    "compute:delete": [["rule:admin_api"], ["project_id:%(project_id)s", "role:compute-user"]],
    "compute_extension:admin_actions": "rule:admin_api",
    "compute_extension:admin_actions:migrate": "rule:admin_api",
}


def test_classic_policy_json_over_the_identity(service, verifier, tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(CLASSIC_POLICY, indent=4))
    enforcer = Enforcer.from_file(path, default_rule="default")
    known = ids(service)
    at_acme = verifier.check(login(service.stub, "alice", project_scope("acme")).token)
    at_cyberdyne = verifier.check(login(service.stub, "alice", project_scope("cyberdyne")).token)
    own, other = {"project_id": known["acme"]}, {"project_id": known["cyberdyne"]}

    assert authorize(enforcer, "compute:create", at_acme)
    assert not authorize(enforcer, "compute:create", at_cyberdyne)  # admin there, no compute-user
    assert not authorize(enforcer, "compute_extension:admin_actions", at_acme)
    assert authorize(enforcer, "compute_extension:admin_actions:migrate", at_cyberdyne)
    assert authorize(enforcer, "compute:delete", at_acme, own)
    assert not authorize(enforcer, "compute:delete", at_acme, other)
    assert authorize(enforcer, "compute:delete", at_cyberdyne, own)  # admin_api
    assert authorize(enforcer, "compute:get_all", at_acme)
    assert authorize(enforcer, "compute:unknown", at_acme)  # default: the owner
    assert not authorize(enforcer, "compute:unknown", at_acme, other)
    enforce(enforcer, "compute:create", at_acme)
    with pytest.raises(PolicyNotAuthorized, match="compute_extension:admin_actions"):
        enforce(enforcer, "compute_extension:admin_actions", at_acme)

    # The same decisions through the middleware, as a compute API would make them.
    def compute_api(environ, start_response):
        rule = environ["PATH_INFO"].strip("/")
        try:
            enforce(enforcer, rule, environ["identity.context"])
        except PolicyNotAuthorized as e:
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [str(e).encode()]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    app = WsgiAuthMiddleware(compute_api, verifier, URI)
    acme_token = {"X-Auth-Token": at_acme.token}
    cyberdyne_token = {"X-Auth-Token": at_cyberdyne.token}
    assert wsgi_call(app, acme_token, "/compute:create")[0] == 200
    assert wsgi_call(app, acme_token, "/compute_extension:admin_actions")[0] == 403
    assert wsgi_call(app, cyberdyne_token, "/compute_extension:admin_actions")[0] == 200
    assert wsgi_call(app, cyberdyne_token, "/compute:create")[0] == 403


# The rule of Keystone's guide for services: a service token is required along with the
# user owning the object. `default` decides every name the file leaves out, as in oslo.policy.
SERVICE_POLICY = {
    "default": "role:admin",
    "compute:get_owned": "service_role:service and user_id:%(user_id)s",
}


def test_service_role_rules_need_a_service_token_holding_the_role(service, verifier, tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(SERVICE_POLICY, indent=4))
    enforcer = Enforcer.from_file(path)  # no default_rule named: the file's `default`
    alice_id = ids(service)["alice"]
    alice = login(service.stub, "alice", project_scope("acme")).token
    alice_admin = login(service.stub, "alice", project_scope("cyberdyne")).token
    nova = login(service.stub, "nova", project_scope("service")).token  # holds `service`
    bob = login(service.stub, "bob", project_scope("acme")).token  # a token without it

    def decide(rule, context, owner=alice_id):
        target = {"user_id": owner, "project_id": context.project_id}
        try:
            enforce(enforcer, rule, context, target)
        except PolicyNotAuthorized:
            return 403
        return 200

    # Over HTTP, through the WSGI middleware.
    def compute_api(environ, start_response):
        owner = environ.get("HTTP_X_OWNER", alice_id)
        status = decide(environ["PATH_INFO"].strip("/"), environ["identity.context"], owner)
        start_response(f"{status} {'OK' if status == 200 else 'Forbidden'}", [])
        return [b""]

    app = WsgiAuthMiddleware(compute_api, verifier, URI)
    get_owned = "/compute:get_owned"
    assert wsgi_call(app, {"X-Auth-Token": alice, "X-Service-Token": nova}, get_owned)[0] == 200
    assert wsgi_call(app, {"X-Auth-Token": alice}, get_owned)[0] == 403  # no service token
    assert wsgi_call(app, {"X-Auth-Token": alice, "X-Service-Token": bob}, get_owned)[0] == 403
    assert wsgi_call(app, {"X-Auth-Token": nova, "X-Service-Token": alice}, get_owned)[0] == 403
    assert wsgi_call(app, {"X-Auth-Token": alice, "X-Service-Token": nova,
                           "X-Owner": ids(service)["nova"]}, get_owned)[0] == 403  # not hers
    # A name the file does not define: its `default` rule (admin) decides.
    assert wsgi_call(app, {"X-Auth-Token": alice_admin}, "/compute:unlisted")[0] == 200
    assert wsgi_call(app, {"X-Auth-Token": alice}, "/compute:unlisted")[0] == 403

    # Over gRPC, through the interceptor.
    def get_owned_rpc(request, context):
        return str(decide(request.decode(), current_identity())).encode()

    handlers = grpc.method_handlers_generic_handler("demo.Compute", {
        "Decide": grpc.unary_unary_rpc_method_handler(get_owned_rpc)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2),
                         interceptors=[GrpcAuthInterceptor(verifier, URI)])
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/demo.Compute/Decide")
            both = (("x-auth-token", alice), ("x-service-token", nova))
            assert call(b"compute:get_owned", metadata=both) == b"200"
            assert call(b"compute:get_owned", metadata=auth_md(alice)) == b"403"
            assert call(b"compute:get_owned",
                        metadata=(("x-auth-token", alice), ("x-service-token", bob))) == b"403"
            assert call(b"compute:unlisted", metadata=auth_md(alice_admin)) == b"200"
            assert call(b"compute:unlisted", metadata=auth_md(alice)) == b"403"
    finally:
        server.stop(0).wait()


def test_a_policy_file_with_an_unknown_check_kind_is_refused(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text('{\n  "compute:get_owned": "service_rol:service and user_id:%(user_id)s"\n}\n')
    with pytest.raises(ValueError) as err:
        Enforcer.from_file(path)
    assert str(err.value).startswith(
        f"{path}:2: rule 'compute:get_owned': unknown check kind 'service_rol' in 'service_rol:service'")


# ---- domain-scoped tokens ----------------------------------------------------------------------

def test_domain_admin_sees_the_instances_of_every_project_of_its_domain(service, verifier):
    core = service.core
    foo = ids(service)["foo"]
    foo_admin = core.users_and_groups.create_user("foo-admin", foo, "foo-admin-password")
    core.assignments.grant(role_id(service, "admin"), target_type="domain", target_id=foo,
                           user_id=foo_admin.id)
    projects = {p.name: p.id for p in core.store.tables.Project.select()}
    instances = {projects["acme"]: ["acme-vm"], projects["bar"]: ["bar-vm1", "bar-vm2"],
                 projects["baz"]: ["baz-vm"], projects["cyberdyne"]: ["skynet"]}

    def compute_api(environ, start_response):  # GET /servers
        context = environ["identity.context"]
        mine = sorted(vm for p in domain_projects(context) for vm in instances.get(p.id, ()))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"servers": mine}).encode()]

    app = WsgiAuthMiddleware(compute_api, verifier, URI)
    with Session(service.address, username="foo-admin", user_domain_name="Foo",
                 password="foo-admin-password", domain_name="Foo", clock=service.clock) as session:
        headers = {"X-Auth-Token": session.token}
        context = verifier.check(session.token)
        assert context.scope_type == "domain" and context.domain_name == "Foo"
        assert {p.name for p in domain_projects(context)} == {"bar", "baz"}
        assert wsgi_json(app, headers, "/servers")["servers"] == ["bar-vm1", "bar-vm2", "baz-vm"]

        # Cached per domain. Every server re-reads its own changes from the feed (up to
        # one poll later), so a notice of the set-up above may still drop the cache once;
        # after that the list is served without a call.
        def served_from_cache() -> bool:
            calls = verifier.stats["domain_project_calls"]
            servers = wsgi_json(app, headers, "/servers")["servers"]
            assert servers == ["bar-vm1", "bar-vm2", "baz-vm"]
            return verifier.stats["domain_project_calls"] == calls
        wait_until(served_from_cache, within=3.0)

        # A new project in Foo shows promptly: the change notice drops the cached list.
        qux = core.resources.create_project("qux", foo)
        instances[qux.id] = ["qux-vm"]
        # (Revocations are held to 1 s; a project list has no such bound, and the
        # margin keeps this from failing on a loaded machine.)
        wait_until(lambda: "qux-vm" in wsgi_json(app, headers, "/servers")["servers"], within=3.0)
        # A disabled one goes.
        core.resources.set_project_enabled(projects["bar"], False)
        wait_until(lambda: wsgi_json(app, headers, "/servers")["servers"] == ["baz-vm", "qux-vm"],
                   within=3.0)

    # A project-scoped caller speaks for its project only.
    alice = login(service.stub, "alice", project_scope("acme")).token
    assert wsgi_json(app, {"X-Auth-Token": alice}, "/servers")["servers"] == ["acme-vm"]


def test_list_domain_projects_rpc(service):
    foo = ids(service)["foo"]
    core = service.core
    user = core.users_and_groups.create_user("foo-reader", foo, "foo-reader-password")
    core.assignments.grant(role_id(service, "reader"), target_type="domain", target_id=foo,
                           user_id=user.id)
    token = service.stub.Authenticate(pb.AuthenticateRequest(
        password=pb.PasswordMethod(user=pb.UserSelector(id=user.id), password="foo-reader-password"),
        scope=pb.Scope(domain=pb.DomainSelector(name="Foo")))).token
    own = service.stub.ListDomainProjects(pb.ListDomainProjectsRequest(), metadata=auth_md(token))
    assert own.domain.name == "Foo" and {p.name for p in own.projects} == {"bar", "baz"}
    alice = login(service.stub, "alice", project_scope("acme")).token
    with pytest.raises(grpc.RpcError) as info:  # not domain-scoped
        service.stub.ListDomainProjects(pb.ListDomainProjectsRequest(), metadata=auth_md(alice))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as info:  # another's token, without the service role
        service.stub.ListDomainProjects(pb.ListDomainProjectsRequest(subject_token=token),
                                        metadata=auth_md(alice))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    nova = login(service.stub, "nova", project_scope("service")).token
    theirs = service.stub.ListDomainProjects(pb.ListDomainProjectsRequest(subject_token=token),
                                             metadata=auth_md(nova))
    assert {p.name for p in theirs.projects} == {"bar", "baz"}
