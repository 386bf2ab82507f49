"""EC2 credentials (`/v3/users/{id}/credentials/OS-EC2`, the Credentials service's Ec2
methods) and `POST /v3/ec2tokens`, through the real server. The requests are signed
here, with AWS's own signature algorithms written out from its documentation (not the
service's code), so a correctly signed request gets a project-scoped token and a
wrongly signed one, an unknown access key or a deleted credential gets 401."""

import base64
import hashlib
import hmac
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import grpc
import pytest
from identity_api.admin.v1 import credentials_pb2 as cpb
from identity_api.admin.v1 import credentials_pb2_grpc as cgrpc

import support
from test_gateway_admin import Api, call

CODE = grpc.StatusCode
HOST = "ec2.example.com:8788"


def _amz_date(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


def sign_v4(secret: str, access: str, verb: str = "GET", path: str = "/",
            params: dict | None = None, when: float | None = None,
            region: str = "RegionOne", service: str = "ec2") -> dict:
    """The `credentials` object an EC2 API server forwards for a request it received
    signed with AWS Signature Version 4 (the Authorization header form)."""
    params = params or {"Action": "DescribeInstances", "Version": "2016-11-15"}
    amz_date = _amz_date(time.time() if when is None else when)
    date = amz_date[:8]
    body_hash = hashlib.sha256(b"").hexdigest()
    headers = {"Host": HOST, "X-Amz-Date": amz_date}
    signed = "host;x-amz-date"
    query = "&".join(f"{_quote(k)}={_quote(params[k])}" for k in sorted(params))
    canonical = "\n".join([verb, path, query, f"host:{HOST}\nx-amz-date:{amz_date}\n", signed,
                           body_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access}/{scope}, "
                                f"SignedHeaders={signed}, Signature={signature}")
    return {"access": access, "signature": signature, "host": HOST, "verb": verb,
            "path": path, "params": params, "headers": headers, "body_hash": body_hash}


def sign_v2(secret: str, access: str, verb: str = "GET", path: str = "/",
            host: str = HOST) -> dict:
    """The same for AWS Signature Version 2 (HmacSHA256, the query parameters signed)."""
    params = {"Action": "DescribeInstances", "AWSAccessKeyId": access,
              "SignatureMethod": "HmacSHA256", "SignatureVersion": "2",
              "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "Version": "2016-11-15"}
    query = "&".join(f"{_quote(k)}={_quote(params[k])}" for k in sorted(params))
    to_sign = f"{verb}\n{host}\n{path}\n{query}"
    signature = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(),
                                          hashlib.sha256).digest()).decode()
    return {"access": access, "signature": signature, "host": HOST, "verb": verb,
            "path": path, "params": params}  # the host as received, with its port


@pytest.fixture
def admin_api(service, gateway) -> Api:
    return Api(gateway, support.system_admin_token(service.stub))


@pytest.fixture
def people(service, gateway, admin_api):
    """alice's own API (an unscoped token, as Tempest's primary user), her id, acme's."""
    alice_id = admin_api.find("users", "alice")["id"]
    acme = admin_api.find("projects", "acme")["id"]
    return Api(gateway, support.login(service.stub, "alice").token), alice_id, acme


def _ec2_tokens(gateway: str, credentials: dict, key: str = "credentials"):
    return call(gateway + "/v3/ec2tokens", "POST", None, {key: credentials})


# ---- OS-EC2 -------------------------------------------------------------------------

def test_tempests_ec2_credentials_create_list_show_delete(people, gateway):
    alice, alice_id, acme = people
    path = f"/v3/users/{alice_id}/credentials/OS-EC2"
    first = alice("POST", path, {"tenant_id": acme}, expect=201)["credential"]
    second = alice("POST", path, {"tenant_id": acme}, expect=201)["credential"]
    assert first["access"] and first["secret"] and first["access"] != second["access"]
    assert (first["user_id"], first["tenant_id"], first["trust_id"]) == (alice_id, acme, None)
    assert first["links"] == {"self": f"{gateway}{path}/{first['access']}"}
    listed = alice.get(path)["credentials"]
    assert sorted(c["access"] for c in listed) == sorted([first["access"], second["access"]])
    shown = alice.get(f"{path}/{first['access']}")["credential"]
    assert shown == first
    # the same credential, seen through /v3/credentials
    same = alice.get(f"/v3/credentials/{hashlib.sha256(first['access'].encode()).hexdigest()}")
    assert same["credential"]["type"] == "ec2"
    assert alice.status("DELETE", f"{path}/{first['access']}") == 204
    assert alice.status("GET", f"{path}/{first['access']}") == 404
    assert alice.status("DELETE", f"{path}/{first['access']}") == 404


def test_bad_ec2_requests_get_clear_answers(people, admin_api, service, gateway):
    alice, alice_id, acme = people
    path = f"/v3/users/{alice_id}/credentials/OS-EC2"
    for body, status, word in (({}, 400, "tenant_id"), ({"tenant_id": 5}, 400, "tenant_id"),
                               ({"tenant_id": "nope"}, 404, "nope")):
        got = call(gateway + path, "POST", alice.token, body)
        assert got[0] == status and word in got[2]["error"]["message"], got[3]
    assert alice.status("GET", "/v3/users/no-such-user/credentials/OS-EC2") == 403
    assert admin_api.status("GET", "/v3/users/no-such-user/credentials/OS-EC2") == 404
    bob_id = admin_api.find("users", "bob")["id"]
    bobs = admin_api("POST", f"/v3/users/{bob_id}/credentials/OS-EC2", {"tenant_id": acme},
                     expect=201)["credential"]
    # bob's access key under alice's path is not alice's: not found, never shown
    assert alice.status("GET", f"{path}/{bobs['access']}") == 404
    assert alice.status("DELETE", f"{path}/{bobs['access']}") == 404
    assert alice.status("GET", f"/v3/users/{bob_id}/credentials/OS-EC2") == 403
    assert admin_api.status("GET", f"/v3/users/{bob_id}/credentials/OS-EC2/{bobs['access']}") == 200


# ---- ec2tokens ------------------------------------------------------------------------

@pytest.mark.every_backend
def test_a_correctly_signed_request_gets_a_project_token_and_a_wrong_one_401(
        people, admin_api, gateway):
    alice, alice_id, acme = people
    pair = alice("POST", f"/v3/users/{alice_id}/credentials/OS-EC2", {"tenant_id": acme},
                 expect=201)["credential"]
    status, headers, body, raw = _ec2_tokens(gateway, sign_v4(pair["secret"], pair["access"]))
    assert status == 200, raw
    token = body["token"]
    assert token["methods"] == ["ec2credential"]
    assert (token["user"]["id"], token["project"]["id"]) == (alice_id, acme)
    assert [r["name"] for r in token["roles"]] == ["compute-user"] and "catalog" in token
    request = urllib.request.Request(gateway + "/v3/auth/tokens", headers={
        "X-Auth-Token": admin_api.token, "X-Subject-Token": headers["X-Subject-Token"]})
    with urllib.request.urlopen(request) as response:  # it validates
        assert response.status == 200

    wrong = sign_v4("not-the-secret", pair["access"])
    assert _ec2_tokens(gateway, wrong)[0] == 401
    tampered = sign_v4(pair["secret"], pair["access"])
    tampered["path"] = "/other"
    assert _ec2_tokens(gateway, tampered)[0] == 401
    assert _ec2_tokens(gateway, sign_v4(pair["secret"], "unknown-access"))[0] == 401
    unsigned = sign_v4(pair["secret"], pair["access"])
    del unsigned["signature"]
    assert _ec2_tokens(gateway, unsigned)[0] == 401


def test_signature_version_2_and_keystones_other_body_keys(people, gateway):
    alice, alice_id, acme = people
    pair = alice("POST", f"/v3/users/{alice_id}/credentials/OS-EC2", {"tenant_id": acme},
                 expect=201)["credential"]
    for key in ("credentials", "credential", "ec2Credentials"):
        status, _, body, raw = _ec2_tokens(gateway, sign_v2(pair["secret"], pair["access"]), key)
        assert status == 200 and body["token"]["methods"] == ["ec2credential"], raw
    wrong = sign_v2(pair["secret"] + "x", pair["access"])
    assert _ec2_tokens(gateway, wrong)[0] == 401
    # some clients sign the host without its port: Keystone tries again without it
    no_port = sign_v2(pair["secret"], pair["access"], host="ec2.example.com")
    assert no_port["host"] == HOST and _ec2_tokens(gateway, no_port)[0] == 200


def test_deleting_the_credential_refuses_it_at_once(people, gateway, service):
    alice, alice_id, acme = people
    path = f"/v3/users/{alice_id}/credentials/OS-EC2"
    pair = alice("POST", path, {"tenant_id": acme}, expect=201)["credential"]
    assert _ec2_tokens(gateway, sign_v4(pair["secret"], pair["access"]))[0] == 200
    alice("DELETE", f"{path}/{pair['access']}", expect=204)
    assert _ec2_tokens(gateway, sign_v4(pair["secret"], pair["access"]))[0] == 401


def test_an_old_request_a_disabled_user_or_no_role_is_refused(people, admin_api, gateway,
                                                              service):
    alice, alice_id, acme = people
    pair = alice("POST", f"/v3/users/{alice_id}/credentials/OS-EC2", {"tenant_id": acme},
                 expect=201)["credential"]
    old = sign_v4(pair["secret"], pair["access"], when=time.time() - 3600)
    assert _ec2_tokens(gateway, old)[0] == 401
    # a project alice holds no role on
    service_project = admin_api.find("projects", "service")["id"]
    elsewhere = admin_api("POST", f"/v3/users/{alice_id}/credentials/OS-EC2",
                          {"tenant_id": service_project}, expect=201)["credential"]
    assert _ec2_tokens(gateway, sign_v4(elsewhere["secret"], elsewhere["access"]))[0] == 401
    admin_api("PATCH", f"/v3/users/{alice_id}", {"user": {"enabled": False}}, expect=200)
    assert _ec2_tokens(gateway, sign_v4(pair["secret"], pair["access"]))[0] == 401


@pytest.mark.parametrize("body, status", [
    ({}, 400), ({"credentials": "x"}, 400), ({"credentials": {"access": 5}}, 400),
    ({"credentials": {"access": "a", "params": [1]}}, 400),
    ({"credentials": {"access": "a", "headers": {"h": {"x": 1}}}}, 400),
    ({"credentials": {"signature": "s"}}, 401),
    ({"credentials": {"access": "a", "signature": "s", "params": {"SignatureVersion": "9"}}}, 401),
    ({"credentials": {"access": "a" * 10_000, "signature": "s"}}, 401),
])
def test_malformed_ec2tokens_bodies_get_a_clear_4xx(gateway, body, status):
    got = call(gateway + "/v3/ec2tokens", "POST", None, body)
    assert got[0] == status, got[3]


def test_a_malformed_v4_request_for_a_real_credential_is_401_not_500(people, gateway):
    alice, alice_id, acme = people
    pair = alice("POST", f"/v3/users/{alice_id}/credentials/OS-EC2", {"tenant_id": acme},
                 expect=201)["credential"]
    for damage in ({"headers": {"Authorization": "AWS4-HMAC-SHA256 nonsense"}},
                   {"headers": {"Authorization": "AWS4-HMAC-SHA256 Credential=a/b, "
                                                 "SignedHeaders=host, Signature=x"}},
                   {"params": {"Timestamp": "yesterday", "SignatureVersion": "2"}}):
        request = {**sign_v4(pair["secret"], pair["access"]), **damage}
        assert _ec2_tokens(gateway, request)[0] == 401, damage
    assert call(gateway + "/v3/ec2tokens", "GET", None, None)[0] == 405


def test_a_token_from_an_ec2_credential_cannot_make_credentials(people, gateway):
    alice, alice_id, acme = people
    pair = alice("POST", f"/v3/users/{alice_id}/credentials/OS-EC2", {"tenant_id": acme},
                 expect=201)["credential"]
    _, headers, _, _ = _ec2_tokens(gateway, sign_v4(pair["secret"], pair["access"]))
    derived = Api(gateway, headers["X-Subject-Token"])
    assert derived.status("POST", f"/v3/users/{alice_id}/credentials/OS-EC2",
                          {"tenant_id": acme}) == 403
    assert derived.status("POST", "/v3/credentials", {"credential": {
        "user_id": alice_id, "type": "totp", "blob": "x"}}) == 403
    assert derived.status("GET", f"/v3/users/{alice_id}/credentials/OS-EC2") == 200


# ---- gRPC ---------------------------------------------------------------------------------

def test_ec2_credentials_and_authentication_over_grpc(service, people):
    _, alice_id, acme = people
    stub = cgrpc.CredentialsStub(service.channel)
    md = support.auth_md(support.login(service.stub, "alice").token)
    pair = stub.CreateEc2Credential(cpb.CreateEc2CredentialRequest(project_id=acme), metadata=md)
    assert (pair.user_id, pair.project_id) == (alice_id, acme) and pair.secret
    assert stub.GetEc2Credential(cpb.Ec2CredentialRequest(access=pair.access), metadata=md) == pair
    listed = stub.ListEc2Credentials(cpb.ListEc2CredentialsRequest(user_id=alice_id), metadata=md)
    assert [c.access for c in listed.credentials] == [pair.access]

    signed = sign_v4(pair.secret, pair.access)
    request = cpb.AuthenticateEc2Request(
        access=signed["access"], signature=signed["signature"], host=signed["host"],
        verb=signed["verb"], path=signed["path"], params=signed["params"],
        headers=signed["headers"], body_hash=signed["body_hash"], no_catalog=True)
    answer = stub.AuthenticateEc2(request)  # no token: the signature is the proof
    assert list(answer.token_info.methods) == ["ec2credential"]
    assert answer.token_info.project.id == acme and not list(answer.token_info.catalog)
    assert support.validate(service.stub, support.system_admin_token(service.stub),
                            answer.token).project.id == acme
    request.signature = "0" * 64
    assert support.rpc_error(stub.AuthenticateEc2, request).code() == CODE.UNAUTHENTICATED

    stub.DeleteEc2Credential(cpb.Ec2CredentialRequest(user_id=alice_id, access=pair.access),
                             metadata=md)
    missing = support.rpc_error(stub.GetEc2Credential,
                                cpb.Ec2CredentialRequest(access=pair.access), metadata=md)
    assert missing.code() == CODE.NOT_FOUND
    bad = support.rpc_error(stub.CreateEc2Credential, cpb.CreateEc2CredentialRequest(),
                            metadata=md)
    assert bad.code() == CODE.INVALID_ARGUMENT and "tenant_id" in bad.details()


def test_a_credential_deleted_on_one_replica_is_refused_by_another(service, people, replica):
    _, alice_id, acme = people
    md = support.auth_md(support.login(service.stub, "alice").token)
    here = cgrpc.CredentialsStub(service.channel)
    there = cgrpc.CredentialsStub(replica.channel)
    pair = here.CreateEc2Credential(cpb.CreateEc2CredentialRequest(project_id=acme), metadata=md)

    def request():
        signed = sign_v4(pair.secret, pair.access)
        return cpb.AuthenticateEc2Request(
            access=signed["access"], signature=signed["signature"], host=signed["host"],
            verb=signed["verb"], path=signed["path"], params=signed["params"],
            headers=signed["headers"], body_hash=signed["body_hash"], no_catalog=True)

    assert there.AuthenticateEc2(request()).token_info.project.id == acme  # same keys, same store
    here.DeleteEc2Credential(cpb.Ec2CredentialRequest(user_id=alice_id, access=pair.access),
                             metadata=md)
    assert support.rpc_error(there.AuthenticateEc2, request()).code() == CODE.UNAUTHENTICATED
