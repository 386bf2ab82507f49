"""Audit events (docs/audit.md), through the real server on both transports: every
authentication (password, token, application credential, EC2; ok and failing) and
every change records one CADF-shaped event, which arrives on the WatchAuditEvents
stream and in the audit log file alike, with the right action, target, outcome,
initiator, request id and address, and none of the secrets the calls carried. A
stuck stream subscriber slows no call."""

import json
import threading
import time
import urllib.request

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.admin.v1 import audit_pb2 as aupb
from identity_api.admin.v1 import audit_pb2_grpc as augrpc
from identity_api.admin.v1 import credentials_pb2 as cpb
from identity_api.admin.v1 import credentials_pb2_grpc as cgrpc
from identity_api.v1 import identity_pb2 as pb

import support
from conftest import start_service
from identity_grpc.audit import AuditTrail, Claimed
from identity_grpc.audit.events import Fact
from identity_grpc.audit.origin import OriginFacts
from identity_grpc.gateway.server import HttpServer
from identity_grpc.operations.audited import recording
from test_ec2 import sign_v4

AGENT = "audit-test-agent/1.0"
WRONG_GRPC = "wrong-grpc-password-7e1"
WRONG_HTTP = "wrong-http-password-9c3"
NEW_USER_PASSWORD = "new-user-password-4b2"


# Events one stream may fall behind: more than the trail hands over at once (what a
# test makes in its WRITE_INTERVAL), far fewer than UPDATES.
STREAM_BUFFER = 100
UPDATES = 500


@pytest.fixture
def audited(deployment, tmp_path):
    """A server writing its audit events to a file, with its gateway."""
    log_file = tmp_path / "audit.jsonl"
    running = start_service(deployment.replace(audit_log_file=str(log_file),
                                               audit_stream_buffer=STREAM_BUFFER,
                                               max_audit_streams=3))
    http = HttpServer(running.core, "127.0.0.1:0").start()
    running.log_file = log_file
    running.http = f"http://127.0.0.1:{http.port}"
    running.admin_token = support.system_admin_token(running.stub)
    yield running
    http.stop()
    running.stop()


class Watcher:
    """A WatchAuditEvents stream read on a thread of its own (or, with
    `reading=False`, not read at all until `start_reading`)."""

    def __init__(self, channel, token: str, replay: int = 0, reading: bool = True):
        self.call = augrpc.AuditStub(channel).WatchAuditEvents(
            aupb.WatchAuditEventsRequest(replay=replay), metadata=support.auth_md(token))
        self.messages: list = []
        self.events: list[dict] = []
        self.dropped = 0
        self.error = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        if reading:
            self.start_reading()

    def start_reading(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in self.call:
                self.messages.append(message)
                self.dropped += message.dropped_events
                for event in message.events:
                    self.events.append(json.loads(event.cadf) | {"_message": event})
        except grpc.RpcError as e:
            self.error = e

    def wait(self, predicate, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.02)
        raise AssertionError(f"not seen in {timeout}s: {len(self.events)} events, "
                             f"{self.dropped} dropped, error {self.error}")

    def close(self) -> None:
        self.call.cancel()


def _http(base: str, method: str, path: str, token: str = "", body=None):
    """(status, headers, parsed body), with our user agent."""
    headers = {"Accept": "application/json", "User-Agent": AGENT}
    if token:
        headers["X-Auth-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    if data:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            raw, status, got = response.read(), response.status, response.headers
    except urllib.error.HTTPError as e:
        raw, status, got = e.read(), e.code, e.headers
    return status, got, json.loads(raw) if raw else None


def _password_body(name: str, password: str) -> dict:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": password}}}}}


def _one(events: list[dict], **wanted) -> dict:
    """The one event whose fields (dotted paths) have these values."""
    def value(event, path):
        for part in path.split("__"):
            event = event.get(part, {}) if isinstance(event, dict) else {}
        return event
    found = [e for e in events if all(value(e, k) == v for k, v in wanted.items())]
    assert len(found) == 1, (wanted, [(e["action"], e["outcome"], e["target"]) for e in events])
    return found[0]


def apb_stub(running, service: str):
    """An admin service's stub on the server's channel."""
    return getattr(agrpc, f"{service}Stub")(running.channel)


def test_authentications_and_changes_on_both_transports_reach_the_stream_and_the_file(audited):
    admin_md = support.auth_md(audited.admin_token)
    watcher = Watcher(audited.channel, audited.admin_token)
    watcher.wait(lambda w: w.messages)  # subscribed
    secrets = {audited.admin_token, support.ADMIN_PASSWORD, support.DEMO_PASSWORDS["alice"],
               WRONG_GRPC, WRONG_HTTP, NEW_USER_PASSWORD}

    # gRPC: password ok and failing, a rescoping, an API key ok and failing.
    alice = support.login(audited.stub, "alice", support.project_scope("acme"))
    secrets.add(alice.token)
    alice_id = alice.token_info.user.id
    refused = support.rpc_error(audited.stub.Authenticate,
                                support.password_request("alice", WRONG_GRPC))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    rescoped = support.rescope(audited.stub, alice.token, support.project_scope("acme"))
    secrets.add(rescoped.token)
    keys = apb_stub(audited, "ApiKeys")
    made = keys.CreateApiKey(apb.CreateApiKeyRequest(name="audit-key"),
                             metadata=support.auth_md(alice.token))
    secrets |= {made.secret, made.secret.partition(".")[2]}
    by_key = audited.stub.Authenticate(pb.AuthenticateRequest(api_key=pb.ApiKeyMethod(
        key=made.secret)))
    secrets.add(by_key.token)
    bad_key = f"{made.api_key.id}.not-the-secret-5d8"
    secrets.add(bad_key)
    assert support.rpc_error(audited.stub.Authenticate, pb.AuthenticateRequest(
        api_key=pb.ApiKeyMethod(key=bad_key))).code() == grpc.StatusCode.UNAUTHENTICATED

    # EC2: a signed request ok, and one wrongly signed.
    ec2 = cgrpc.CredentialsStub(audited.channel)
    pair = ec2.CreateEc2Credential(cpb.CreateEc2CredentialRequest(
        project_id=alice.token_info.project.id), metadata=support.auth_md(alice.token))
    secrets |= {pair.secret}
    signed = sign_v4(pair.secret, pair.access)
    request = cpb.AuthenticateEc2Request(
        access=signed["access"], signature=signed["signature"], host=signed["host"],
        verb=signed["verb"], path=signed["path"], params=signed["params"],
        headers=signed["headers"], body_hash=signed["body_hash"], no_catalog=True)
    secrets.add(ec2.AuthenticateEc2(request).token)
    request.signature = "0" * 64
    assert support.rpc_error(ec2.AuthenticateEc2, request).code() == grpc.StatusCode.UNAUTHENTICATED

    # gRPC changes: a user made (with a password), granted a role, disabled, deleted.
    users, roles, assignments = (apb_stub(audited, s) for s in ("Users", "Roles", "Assignments"))
    new = users.CreateUser(apb.CreateUserRequest(name="audited-user", password=NEW_USER_PASSWORD),
                           metadata=admin_md)
    reader = roles.ListRoles(apb.ListRolesRequest(name="reader"), metadata=admin_md).roles[0]
    grant = apb.GrantRequest(role_id=reader.id, actor=apb.Actor(user_id=new.id),
                             target=apb.Target(system=True))
    assignments.GrantRole(grant, metadata=admin_md)
    users.UpdateUser(apb.UpdateUserRequest(id=new.id, enabled=False), metadata=admin_md)
    denied = support.rpc_error(users.DeleteUser, apb.DeleteRequest(id=new.id),
                               metadata=support.auth_md(alice.token))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    users.DeleteUser(apb.DeleteRequest(id=new.id), metadata=admin_md)
    audited.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=rescoped.token),
                             metadata=admin_md)

    # HTTP: password ok and failing, a project made and deleted.
    status, headers, _ = _http(audited.http, "POST", "/v3/auth/tokens",
                               body=_password_body("alice", support.DEMO_PASSWORDS["alice"]))
    assert status == 201
    http_ok_request, http_token = headers["x-openstack-request-id"], headers["X-Subject-Token"]
    secrets.add(http_token)
    status, headers, _ = _http(audited.http, "POST", "/v3/auth/tokens",
                               body=_password_body("alice", WRONG_HTTP))
    assert status == 401
    http_failed_request = headers["x-openstack-request-id"]
    status, headers, made_project = _http(audited.http, "POST", "/v3/projects",
                                          audited.admin_token, {"project": {"name": "audited"}})
    assert status == 201
    project_request, project_id = headers["x-openstack-request-id"], made_project["project"]["id"]
    status, _, _ = _http(audited.http, "DELETE", f"/v3/projects/{project_id}", audited.admin_token)
    assert status == 204

    assert audited.core.audit.flush()
    watcher.wait(lambda w: any(e["action"] == "deleted.project" for e in w.events))
    events = watcher.events
    admin_id = _one(events, action="created.user")["initiator"]["id"]

    # Authentications, each method, each outcome.
    ok = _one(events, action="authenticate", outcome="success", initiator__name="alice",
              initiator__credential__methods=["password"], initiator__host__agent=AGENT)
    assert ok["requestId"] == http_ok_request and ok["initiator"]["host"]["address"] == "127.0.0.1"
    assert ok["target"] == {"typeURI": "service/security/account/user", "id": alice_id}
    failed_http = _one(events, action="authenticate", outcome="failure",
                       requestId=http_failed_request)
    assert failed_http["initiator"]["name"] == "alice"
    assert failed_http["initiator"]["domain"] == {"id": "default", "name": ""}
    assert failed_http["reason"]["reasonType"] == "Unauthenticated"
    failed_grpc = [e for e in events if e["action"] == "authenticate"
                   and e["outcome"] == "failure" and e["initiator"].get("name") == "alice"]
    assert len(failed_grpc) == 2  # one on each transport
    grpc_failure = next(e for e in failed_grpc if e is not failed_http)
    assert grpc_failure["initiator"]["host"]["address"] == "127.0.0.1"
    assert grpc_failure["initiator"]["host"]["agent"].startswith("grpc-python")
    assert grpc_failure["requestId"].startswith("req-")
    grpc_ok = _one(events, action="authenticate", outcome="success", initiator__name="alice",
                   initiator__credential__methods=["password"],
                   initiator__project__id=alice.token_info.project.id,
                   initiator__host__agent=grpc_failure["initiator"]["host"]["agent"])
    assert grpc_ok["initiator"]["credential"]["audit_id"] == alice.token_info.audit_ids[0]
    _one(events, action="authenticate", outcome="success",
         initiator__credential__methods=["password", "token"])
    by_key_event = _one(events, action="authenticate", outcome="success",
                        initiator__credential__methods=["api_key"])
    assert by_key_event["initiator"]["application_credential_id"] == made.api_key.id
    _one(events, action="authenticate", outcome="failure",
         initiator__application_credential_id=made.api_key.id)
    _one(events, action="authenticate", outcome="success",
         initiator__credential__methods=["ec2credential"])
    ec2_failed = _one(events, action="authenticate", outcome="failure",
                      initiator__methods=["ec2credential"])
    assert ec2_failed["initiator"]["ec2_credential_id"]

    # Changes: target, initiator, outcome.
    created = _one(events, action="created.user")
    assert created["target"] == {"typeURI": "data/security/account/user", "id": new.id,
                                 "name": "audited-user", "domain_id": "default"}
    assert created["outcome"] == "success" and created["initiator"]["scope"] == "system"
    granted = _one(events, action="created.role_assignment")
    assert {k: granted["target"].get(k) for k in ("typeURI", "id", "target_type", "user_id")} == {
        "typeURI": "data/security/role_assignment", "id": reader.id, "target_type": "system",
        "user_id": new.id}
    _one(events, action="updated.user", target__id=new.id, target__enabled=False)
    refused_delete = _one(events, action="deleted.user", outcome="failure")
    assert refused_delete["initiator"]["id"] == alice_id
    assert refused_delete["reason"]["reasonType"] == "PermissionDenied"
    _one(events, action="deleted.user", outcome="success", target__id=new.id,
         initiator__id=admin_id)
    _one(events, action="created.application_credential", target__id=made.api_key.id,
         initiator__id=alice_id)
    _one(events, action="created.ec2_credential", initiator__id=alice_id,
         target__id=ec2_failed["initiator"]["ec2_credential_id"])
    _one(events, action="revoked.token", target__id=rescoped.token_info.audit_ids[0])
    made_project_event = _one(events, action="created.project", target__id=project_id)
    assert made_project_event["requestId"] == project_request
    assert made_project_event["initiator"]["host"]["agent"] == AGENT
    _one(events, action="deleted.project", target__id=project_id, outcome="success")

    # The file holds the same events, one JSON object a line; no secret anywhere.
    text = audited.log_file.read_text()
    written = [json.loads(line) for line in text.splitlines()]
    streamed = [{k: v for k, v in e.items() if k != "_message"} for e in events]
    assert written[-len(streamed):] == streamed  # the file also holds the admin's login before
    every_message = "".join(str(m) for m in watcher.messages)
    for secret in secrets:
        assert secret not in text and secret not in every_message, secret
    # The message's own fields say the same as its CADF object.
    message = made_project_event["_message"]
    assert (message.action, message.target_id, message.request_id, message.outcome,
            message.initiator_id, message.address) == (
        "created.project", project_id, project_request, "success", admin_id, "127.0.0.1")
    watcher.close()


def test_a_stuck_subscriber_slows_no_call_and_is_told_what_it_lost(audited):
    admin_md = support.auth_md(audited.admin_token)
    # The admin's own login is recorded by the trail's thread: delivered before the
    # watchers subscribe, so that they see the 200 changes below and nothing else.
    assert audited.core.audit.flush()
    # Its own channel, whose receive window stays at HTTP/2's 64 KiB (no BDP probing
    # growing it), so that the server soon has nowhere to put what it does not read.
    narrow = grpc.insecure_channel(audited.address, options=[("grpc.http2.bdp_probe", 0)])
    stuck = Watcher(narrow, audited.admin_token, reading=False)
    reader = Watcher(audited.channel, audited.admin_token)
    reader.wait(lambda w: w.messages)
    time.sleep(0.2)  # the stuck one subscribed too (its call is under way)
    projects = apb_stub(audited, "Projects")
    project = projects.ListProjects(apb.ListProjectsRequest(name="acme"),
                                    metadata=admin_md).projects[0]
    started = time.monotonic()
    for i in range(UPDATES):
        projects.UpdateProject(apb.UpdateProjectRequest(id=project.id, description=f"d{i}"),
                               metadata=admin_md)
    elapsed = time.monotonic() - started
    assert audited.core.audit.flush()
    # The reader keeps up, but its buffer is the stuck one's: on a loaded machine it
    # may fall that far behind once, and is then told, like any subscriber.
    reader.wait(lambda w: sum(e["action"] == "updated.project" for e in w.events)
                + w.dropped == UPDATES)
    assert elapsed < 60, elapsed  # nothing waited for the stuck stream
    stuck.start_reading()
    # Its buffer (STREAM_BUFFER events) overflowed while it read nothing: every event is either
    # delivered or counted in a message's dropped_events, and some were dropped.
    stuck.wait(lambda w: len(w.events) + w.dropped == UPDATES)
    assert stuck.dropped > reader.dropped, (stuck.dropped, reader.dropped)
    stuck.close()
    narrow.close()
    reader.close()


def test_replay_gives_recent_events_and_streams_are_admins_only_and_limited(audited):
    for _ in range(3):
        support.login(audited.stub, "alice")
    assert audited.core.audit.flush()
    watcher = Watcher(audited.channel, audited.admin_token, replay=2)
    watcher.wait(lambda w: len(w.events) >= 2)
    assert [e["action"] for e in watcher.events[:2]] == ["authenticate", "authenticate"]

    alice = support.login(audited.stub, "alice", support.project_scope("acme")).token
    denied = Watcher(audited.channel, alice)
    denied.wait(lambda w: w.error is not None)
    assert denied.error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "identity:watch_audit_events" in denied.error.details()

    bad = Watcher(audited.channel, audited.admin_token, replay=5000)
    bad.wait(lambda w: w.error is not None)
    assert bad.error.code() == grpc.StatusCode.INVALID_ARGUMENT

    more = [Watcher(audited.channel, audited.admin_token) for _ in range(2)]  # 3 in all
    for w in more:
        w.wait(lambda w: w.messages)
    refused = Watcher(audited.channel, audited.admin_token)
    refused.wait(lambda w: w.error is not None)
    assert refused.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_audit_streams" in refused.error.details()
    for w in (watcher, *more):
        w.close()


@pytest.mark.policy_profile("keystone")
def test_in_the_keystone_profile_an_admin_watches_and_a_member_does_not(audited):
    watcher = Watcher(audited.channel, audited.admin_token)
    watcher.wait(lambda w: w.messages)
    alice = support.login(audited.stub, "alice", support.project_scope("acme")).token
    denied = Watcher(audited.channel, alice)
    denied.wait(lambda w: w.error is not None)
    assert denied.error.code() == grpc.StatusCode.PERMISSION_DENIED
    watcher.close()


def test_the_trail_drops_and_tells_and_never_blocks_the_recorder():
    trail = AuditTrail(subscriber_buffer=3).start()
    subscriber, _ = trail.subscribe("someone")
    origin = OriginFacts("req-1", "10.0.0.1", "test")
    started = time.perf_counter()
    for i in range(10):
        trail.record(Fact(time.time(), "created.thing", "success", Claimed(user_id="u"),
                          "data/security/thing", str(i), (), origin))
    recording_cost = (time.perf_counter() - started) / 10
    assert trail.flush()
    events, dropped = subscriber.take(0)
    assert ([e["target"]["id"] for e, _ in events], dropped) == (["0", "1", "2"], 7)
    assert recording_cost < 0.001, recording_cost
    subscriber.close()
    trail.close()


def test_an_operation_that_changes_must_be_marked_or_the_class_is_refused():
    def rename(self, caller, thing_id):  # neither a read by its name nor @audited
        pass
    with pytest.raises(TypeError, match="audited"):
        recording(rename, rename)


def test_password_changes_and_memberships_over_http_name_who_and_never_the_passwords(audited):
    old, new_password, wrong = "first-password-a1", "second-password-b2", "wrong-original-c3"
    admin = audited.admin_token
    status, _, made = _http(audited.http, "POST", "/v3/users", admin,
                            {"user": {"name": "changer", "password": old}})
    assert status == 201
    user_id = made["user"]["id"]
    status, _, group = _http(audited.http, "POST", "/v3/groups", admin,
                             {"group": {"name": "audited-group"}})
    assert status == 201
    group_id = group["group"]["id"]
    assert _http(audited.http, "PUT", f"/v3/groups/{group_id}/users/{user_id}", admin)[0] == 204
    assert _http(audited.http, "DELETE", f"/v3/groups/{group_id}/users/{user_id}", admin)[0] == 204
    # Keystone's way: no token, the original password is the proof.
    status, _, _ = _http(audited.http, "POST", f"/v3/users/{user_id}/password", body={
        "user": {"original_password": wrong, "password": new_password}})
    assert status == 401
    status, headers, _ = _http(audited.http, "POST", f"/v3/users/{user_id}/password", body={
        "user": {"original_password": old, "password": new_password}})
    assert status == 204
    changed_request = headers["x-openstack-request-id"]
    assert audited.core.audit.flush()

    events = [json.loads(line) for line in audited.log_file.read_text().splitlines()]
    _one(events, action="added.group_member", target__id=group_id, target__user_id=user_id)
    _one(events, action="removed.group_member", target__id=group_id, target__user_id=user_id)
    refused = _one(events, action="updated.password", outcome="failure")
    changed = _one(events, action="updated.password", outcome="success")
    for event in (refused, changed):
        assert event["initiator"]["id"] == user_id and event["target"]["id"] == user_id
    assert changed["requestId"] == changed_request
    assert changed["initiator"]["host"] == {"address": "127.0.0.1", "agent": AGENT}
    text = audited.log_file.read_text()
    for secret in (old, new_password, wrong, admin):
        assert secret not in text


def test_a_trust_made_and_used_and_refused_records_who_through_which_trust(audited):
    from test_trusts import Http, create, http_trust_token, ids_of, on_cyberdyne
    ids = ids_of(audited)
    trust = create(Http(audited.http, on_cyberdyne(audited)), ids)["trust"]
    status, _, token = http_trust_token(audited.http, trust["id"])  # bob, through alice's trust
    assert status == 201
    status, _, _ = http_trust_token(audited.http, trust["id"], name="nova")  # not its trustee
    assert status in (401, 403)
    assert audited.core.audit.flush()
    events = [json.loads(line) for line in audited.log_file.read_text().splitlines()]
    _one(events, action="created.trust", target__id=trust["id"], initiator__id=ids["alice"])
    used = _one(events, action="authenticate", outcome="success", initiator__trust_id=trust["id"])
    assert used["initiator"]["id"] == ids["alice"]  # impersonation: the trustor's token
    assert used["initiator"]["trust"] == {"trustor_user_id": ids["alice"],
                                          "trustee_user_id": ids["bob"], "impersonation": True}
    refused = _one(events, action="authenticate", outcome="failure", initiator__name="nova")
    assert refused["initiator"]["trust_id"] == trust["id"]
    assert token not in audited.log_file.read_text()


def test_the_oauth1_flow_records_each_step_and_the_authentication_without_secrets(deployment,
                                                                                  tmp_path):
    from test_oauth1 import Running, delegate, new_consumer, oauth1_token
    log_file = tmp_path / "audit.jsonl"
    running = Running(deployment.replace(policy_profile="keystone", audit_log_file=str(log_file)))
    try:
        ids = running.ids()
        consumer = new_consumer(running, running.login("admin", "admin"))
        access = delegate(running, consumer, running.login("alice", "cyberdyne"),
                          ids["cyberdyne"], [{"name": "member"}])
        token, _ = oauth1_token(consumer, access)
        status, _, _ = consumer.token(access, secret="not-the-consumer-secret-e4")
        assert status == 401
        assert running.core.audit.flush()
        events = [json.loads(line) for line in log_file.read_text().splitlines()]
    finally:
        running.stop()
    _one(events, action="created.oauth1_consumer", target__id=consumer.key)
    _one(events, action="created.oauth1_request_token", outcome="success",
         initiator__oauth1_consumer_id=consumer.key, target__project_id=ids["cyberdyne"])
    _one(events, action="authorized.oauth1_request_token", initiator__id=ids["alice"])
    _one(events, action="created.oauth1_access_token", target__id=access["oauth_token"])
    ok = _one(events, action="authenticate", outcome="success",
              initiator__credential__methods=["oauth1"])
    assert (ok["initiator"]["id"], ok["initiator"]["oauth1_consumer_id"]) == (ids["alice"],
                                                                             consumer.key)
    _one(events, action="authenticate", outcome="failure",
         initiator__oauth1_access_token_id=access["oauth_token"])
    text = log_file.read_text()
    for secret in (consumer.secret, access["oauth_token_secret"], token):
        assert secret not in text


def test_the_processes_of_one_host_append_whole_lines_to_one_audit_log_file(deployment,
                                                                            tmp_path):
    from conftest import ServerProcess
    from test_workers import fresh_stub
    log_file = tmp_path / "audit.jsonl"
    workers = ServerProcess(deployment, IDENTITY_PROCESSES="2",
                            IDENTITY_AUDIT_LOG_FILE=str(log_file))
    try:
        observers = set()
        deadline = time.monotonic() + 30
        logins = 0
        while len(observers) < 2 and time.monotonic() < deadline:
            for _ in range(10):  # new connections, which the kernel spreads over both
                channel, stub = fresh_stub(workers.port)
                support.login(stub, "alice")
                channel.close()
                logins += 1
            time.sleep(0.3)  # each worker's trail writes its lines out
            events = [json.loads(line) for line in log_file.read_text().splitlines()]
            observers = {e["observer"]["id"] for e in events}
    finally:
        workers.stop()
    events = [json.loads(line) for line in log_file.read_text().splitlines()]  # whole lines
    assert len(observers) == 2, observers
    assert sum(e["action"] == "authenticate" for e in events) == logins
