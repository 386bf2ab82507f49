"""Unmodified OpenStack clients against the HTTP gateway: keystoneauth1's plugins and
sessions, and keystonemiddleware's auth_token protecting a WSGI app the way every
OpenStack service does."""

import json

import pytest
import webob
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import generic, v3
from keystonemiddleware import auth_token
from oslo_config import cfg

from support import DEMO_PASSWORDS, MIDDLEWARE_SAMPLES as MIDDLEWARE

COMPUTE_URL = "http://127.0.0.1:8774/v2.1"


@pytest.fixture
def keystone(gateway, service):
    """The gateway, with the catalog's identity endpoint pointing at it: bootstrap
    registered the configured address, not this test's free port, and
    keystonemiddleware finds the identity service through the catalog."""
    catalog = service.core.catalog
    identity = catalog.find_service("identity", "keystone")
    endpoints, _ = catalog.list_endpoints(service_id=identity.id)
    for endpoint in endpoints:
        catalog.update_endpoint(endpoint.id, url=f"{gateway}/v3/")
    return gateway


def password_plugin(base: str, name: str, password: str | None = None, **scope) -> v3.Password:
    return v3.Password(auth_url=f"{base}/v3", username=name, user_domain_id="default",
                       password=DEMO_PASSWORDS[name] if password is None else password, **scope)


def token_for(base: str, name: str, **scope) -> str:
    return ks_session.Session(auth=password_plugin(base, name, **scope)).get_token()


ACME = {"project_name": "acme", "project_domain_id": "default"}


# ---- keystoneauth1 -----------------------------------------------------------------------

def test_password_plugin_gets_a_token_and_finds_endpoints_in_the_catalog(keystone):
    auth = password_plugin(keystone, "alice", **ACME)
    session = ks_session.Session(auth=auth)
    assert session.get_endpoint(service_type="compute", interface="public") == COMPUTE_URL
    assert session.get_endpoint(service_type="identity", interface="public") == f"{keystone}/v3/"
    access = auth.get_access(session)
    assert (access.version, access.project_name, access.project_domain_id) == ("v3", "acme", "default")
    assert access.role_names == ["compute-user"]
    assert access.username == "alice" and access.user_domain_name == "Default"
    assert session.get_token() == access.auth_token
    assert not access.will_expire_soon(stale_duration=3000)


def test_identity_requests_through_the_session(keystone):
    session = ks_session.Session(auth=password_plugin(keystone, "alice", **ACME))
    response = session.get("/auth/projects", endpoint_filter={
        "service_type": "identity", "interface": "public"})
    assert sorted(p["name"] for p in response.json()["projects"]) == ["acme", "cyberdyne"]
    catalog = session.get("/auth/catalog", endpoint_filter={
        "service_type": "identity", "interface": "public"}).json()["catalog"]
    assert {s["type"] for s in catalog} == {"identity", "compute"}


def test_token_plugin_rescopes(keystone):
    unscoped = token_for(keystone, "alice")
    auth = v3.Token(auth_url=f"{keystone}/v3", token=unscoped, project_name="cyberdyne",
                    project_domain_id="default")
    session = ks_session.Session(auth=auth)
    access = auth.get_access(session)
    assert access.project_name == "cyberdyne"
    assert {"admin", "member", "reader"} <= set(access.role_names)
    assert access._data["token"]["methods"] == ["password", "token"]
    assert session.get_endpoint(service_type="compute", interface="public") == COMPUTE_URL


def test_generic_password_discovers_v3_from_the_unversioned_url(keystone):
    auth = generic.Password(auth_url=keystone, username="alice", password="mypassword123",
                            user_domain_id="default", **ACME)
    session = ks_session.Session(auth=auth)
    access = auth.get_access(session)
    assert access.version == "v3" and access.project_name == "acme"
    assert isinstance(auth._plugin, v3.Password)
    assert session.get_endpoint(service_type="compute", interface="public") == COMPUTE_URL


def test_system_and_domain_scopes(keystone):
    system = password_plugin(keystone, "admin", system_scope="all")
    access = system.get_access(ks_session.Session(auth=system))
    assert access.system_scoped and "admin" in access.role_names
    domain = password_plugin(keystone, "admin", domain_id="default")
    access = domain.get_access(ks_session.Session(auth=domain))
    assert access.domain_id == "default" and access.domain_scoped


def test_wrong_password_raises_unauthorized(keystone):
    session = ks_session.Session(auth=password_plugin(keystone, "alice", "not-her-password", **ACME))
    with pytest.raises(ks_exceptions.Unauthorized):
        session.get_token()
    generic_session = ks_session.Session(auth=generic.Password(
        auth_url=keystone, username="alice", password="wrong", user_domain_id="default"))
    with pytest.raises(ks_exceptions.Unauthorized):
        generic_session.get_token()


# ---- keystonemiddleware ---------------------------------------------------------------------

def protected_app(base: str, **overrides):
    """A tiny WSGI app behind auth_token, configured as a service's paste file would;
    the app answers with the identity headers auth_token set."""

    def app(environ, start_response):
        seen = {k: v for k, v in environ.items()
                if k.startswith(("HTTP_X_", "HTTP_OPENSTACK_")) and v is not None}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(seen).encode()]

    conf = {"www_authenticate_uri": base, "auth_url": f"{base}/v3", "auth_type": "password",
            "username": "nova", "password": "novapass", "project_name": "service",
            "user_domain_id": "default", "project_domain_id": "default",
            "interface": "public", "service_token_roles_required": True,
            "delay_auth_decision": False, "token_cache_time": 300,
            # A configuration of its own, not the process-wide oslo.config object.
            "oslo_config_config": _fresh_oslo_config()}
    conf.update(overrides)
    return auth_token.AuthProtocol(app, conf)


def _fresh_oslo_config() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf(args=[], project="identity-grpc-tests", default_config_files=[])
    return conf


def call(app, headers: dict | None = None) -> webob.Response:
    return webob.Request.blank("/servers", headers=headers or {}).get_response(app)


@pytest.mark.slow
def test_middleware_passes_a_valid_token_with_the_identity_headers(keystone):
    app = protected_app(keystone)
    alice = token_for(keystone, "alice", **ACME)
    response = call(app, {"X-Auth-Token": alice})
    assert response.status_int == 200
    seen = response.json
    expected = MIDDLEWARE["alice's acme token"]["environ_seen_by_app"]
    assert sorted(seen) == sorted(expected)
    assert seen["HTTP_X_IDENTITY_STATUS"] == "Confirmed"
    assert (seen["HTTP_X_USER_NAME"], seen["HTTP_X_PROJECT_NAME"]) == ("alice", "acme")
    assert seen["HTTP_X_ROLES"] == "compute-user"
    assert seen["HTTP_X_USER_DOMAIN_NAME"] == "Default"
    assert seen["HTTP_X_PROJECT_ID"] and seen["HTTP_X_USER_ID"]
    catalog = json.loads(seen["HTTP_X_SERVICE_CATALOG"])  # v2 form
    assert {"type": "compute", "name": "nova",
            "endpoints": [{"region": "RegionOne", "publicURL": COMPUTE_URL}]} in catalog


@pytest.mark.slow
def test_middleware_passes_a_system_scoped_token(keystone):
    app = protected_app(keystone)
    response = call(app, {"X-Auth-Token": token_for(keystone, "admin", system_scope="all")})
    assert response.status_int == 200
    expected = MIDDLEWARE["admin's system-scoped token"]["environ_seen_by_app"]
    assert sorted(response.json) == sorted(expected)
    assert response.json["HTTP_OPENSTACK_SYSTEM_SCOPE"] == "all"


@pytest.mark.slow
def test_middleware_refuses_a_missing_or_bad_token_with_a_challenge(keystone):
    app = protected_app(keystone)
    for headers in ({}, {"X-Auth-Token": "garbage"}):
        response = call(app, headers)
        expected = MIDDLEWARE["no token"]
        assert response.status_int == 401
        assert response.headers["WWW-Authenticate"] == f'Keystone uri="{keystone}"'
        assert response.json["error"]["code"] == 401
        assert expected["status"].startswith("401")


@pytest.mark.slow
def test_middleware_refuses_a_revoked_token(keystone):
    app = protected_app(keystone, token_cache_time=-1)
    alice = token_for(keystone, "alice", **ACME)
    assert call(app, {"X-Auth-Token": alice}).status_int == 200
    session = ks_session.Session(auth=password_plugin(keystone, "alice", **ACME))
    response = session.delete(f"{keystone}/v3/auth/tokens", headers={"X-Subject-Token": alice})
    assert response.status_code == 204
    refused = call(app, {"X-Auth-Token": alice})
    assert refused.status_int == 401
    assert refused.headers["WWW-Authenticate"] == f'Keystone uri="{keystone}"'


@pytest.mark.slow
def test_middleware_reports_the_service_token(keystone):
    app = protected_app(keystone)
    alice = token_for(keystone, "alice", **ACME)
    nova = token_for(keystone, "nova", project_name="service", project_domain_id="default")
    response = call(app, {"X-Auth-Token": alice, "X-Service-Token": nova})
    assert response.status_int == 200
    seen = response.json
    expected = MIDDLEWARE["alice's token + nova's service token"]["environ_seen_by_app"]
    assert sorted(seen) == sorted(expected)
    assert seen["HTTP_X_SERVICE_USER_NAME"] == "nova"
    assert seen["HTTP_X_SERVICE_USER_ID"]
    assert "service" in seen["HTTP_X_SERVICE_ROLES"].split(",")
    assert seen["HTTP_X_SERVICE_PROJECT_NAME"] == "service"
    assert seen["HTTP_X_USER_NAME"] == "alice"


@pytest.mark.slow
def test_middleware_with_wrong_service_credentials_answers_503(keystone):
    app = protected_app(keystone, password="not-novas-password")
    response = call(app, {"X-Auth-Token": token_for(keystone, "alice", **ACME)})
    assert response.status_int == 503
