"""Clients over TLS, for real: the project's own (identity_client's Session, its
middleware's verifier, the `identity` CLI with --os-cacert/OS_CACERT and a client
certificate) and the unmodified OpenStack ones against the HTTPS gateway
(keystoneauth1 with `verify=ca`, `openstack --os-cacert`, keystonemiddleware with
`cafile`), with and without mutual TLS.
"""

import json
import subprocess
import sys

import pytest
from identity_client.middleware import WsgiAuthMiddleware
from identity_client.session import Session
from identity_client.verifier import TokenVerifier
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session

from support import ADMIN_PASSWORD, DEMO_PASSWORDS, clean_env
from test_openstackclient import OPENSTACK
from test_real_clients import ACME, call, password_plugin, protected_app
from test_tls import clients, mtls_service, pki, start_tls, tls_service  # noqa: F401 (fixtures)

ALICE = dict(username="alice", password=DEMO_PASSWORDS["alice"], project_name="acme")


@pytest.fixture
def https_keystone(tls_service):
    """The TLS service, its catalog's identity endpoint pointing at its HTTPS gateway
    (keystonemiddleware and openstackclient find the identity service there)."""
    return point_catalog_at(tls_service)


@pytest.fixture
def mtls_keystone(mtls_service):
    return point_catalog_at(mtls_service)


def point_catalog_at(service):
    catalog = service.core.catalog
    identity = catalog.find_service("identity", "keystone")
    for endpoint in catalog.list_endpoints(service_id=identity.id)[0]:
        catalog.update_endpoint(endpoint.id, url=f"{service.https}/v3/")
    return service


# ---- identity_client ---------------------------------------------------------------

def test_a_session_over_grpcs_trusts_the_ca_it_is_given(tls_service, pki):
    session = Session(f"grpcs://127.0.0.1:{tls_service.grpc_port}", cacert=str(pki.ca.cert),
                      **ALICE)
    assert session.token_info.project.name == "acme"
    session.close()


def test_a_session_with_a_client_certificate_passes_mtls(mtls_service, pki, clients):
    good, _ = clients
    session = Session(f"127.0.0.1:{mtls_service.grpc_port}", cacert=str(pki.ca.cert),
                      cert=str(good.cert), key=str(good.key), **ALICE)
    assert session.token_info.project.name == "acme"
    session.close()


def test_the_middlewares_verifier_checks_tokens_over_mtls(mtls_service, pki, clients):
    good, _ = clients
    address = f"127.0.0.1:{mtls_service.grpc_port}"
    tls_files = dict(cacert=str(pki.ca.cert), cert=str(good.cert), key=str(good.key))
    service_session = Session(address, username="nova", password=DEMO_PASSWORDS["nova"],
                              project_name="service", **tls_files)
    verifier = TokenVerifier(service_session)
    alice = Session(address, **ALICE, **tls_files)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["identity.context"].project_name.encode()]

    try:
        reply = call(WsgiAuthMiddleware(app, verifier, mtls_service.https),
                     {"X-Auth-Token": alice.token})
        assert (reply.status_int, reply.body) == (200, b"acme")
    finally:
        alice.close()
        verifier.close()
        service_session.close()


def identity_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "identity_client.cli", *args],
                          env=clean_env(OS_USERNAME="alice", OS_PASSWORD=ALICE["password"],
                                        OS_PROJECT_NAME="acme", **env),
                          capture_output=True, text=True, timeout=60)


def test_the_cli_discovers_grpcs_over_https_with_os_cacert(tls_service, pki):
    done = identity_cli("--os-auth-url", f"{tls_service.https}/v3", "--os-cacert",
                        str(pki.ca.cert), "token", "issue", "-f", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["project_id"]
    refused = identity_cli("--os-auth-url", f"{tls_service.https}/v3", "--os-cacert",
                           str(pki.other_ca.cert), "token", "issue")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "TLS failed" in refused.stderr and "CERTIFICATE_VERIFY_FAILED" in refused.stderr


def test_the_cli_presents_os_cert_and_os_key_for_mtls(mtls_service, pki, clients):
    good, _ = clients
    done = identity_cli("token", "issue", "-f", "json", OS_AUTH_URL=f"{mtls_service.https}/v3",
                        OS_CACERT=str(pki.ca.cert), OS_CERT=str(good.cert), OS_KEY=str(good.key))
    assert done.returncode == 0, done.stderr
    without = identity_cli("token", "issue", OS_AUTH_URL=f"{mtls_service.https}/v3",
                           OS_CACERT=str(pki.ca.cert))
    assert without.returncode != 0 and "Traceback" not in without.stderr, without.stderr


# ---- the OpenStack clients -----------------------------------------------------------

def test_keystoneauth1_authenticates_over_https_with_verify_ca(https_keystone, pki):
    session = ks_session.Session(auth=password_plugin(https_keystone.https, "alice", **ACME),
                                 verify=str(pki.ca.cert))
    assert session.get_token()
    untrusting = ks_session.Session(auth=password_plugin(https_keystone.https, "alice", **ACME),
                                    verify=str(pki.other_ca.cert))
    with pytest.raises(ks_exceptions.SSLError):
        untrusting.get_token()


def test_keystoneauth1_presents_a_client_certificate_for_mtls(mtls_keystone, pki, clients):
    good, _ = clients
    session = ks_session.Session(auth=password_plugin(mtls_keystone.https, "alice", **ACME),
                                 verify=str(pki.ca.cert), cert=(str(good.cert), str(good.key)))
    assert session.get_token()


def test_keystonemiddleware_validates_over_https_with_cafile(https_keystone, pki):
    app = protected_app(https_keystone.https, cafile=str(pki.ca.cert))
    alice = ks_session.Session(auth=password_plugin(https_keystone.https, "alice", **ACME),
                               verify=str(pki.ca.cert)).get_token()
    reply = call(app, {"X-Auth-Token": alice})
    assert reply.status_int == 200, reply.body
    assert reply.json["HTTP_X_PROJECT_NAME"] == "acme"


def test_keystonemiddleware_presents_certfile_and_keyfile_for_mtls(mtls_keystone, pki, clients):
    good, _ = clients
    tls_files = dict(cafile=str(pki.ca.cert), certfile=str(good.cert), keyfile=str(good.key))
    app = protected_app(mtls_keystone.https, **tls_files)
    alice = ks_session.Session(auth=password_plugin(mtls_keystone.https, "alice", **ACME),
                               verify=str(pki.ca.cert), cert=(str(good.cert), str(good.key)))
    reply = call(app, {"X-Auth-Token": alice.get_token()})
    assert reply.status_int == 200, reply.body


@pytest.mark.slow
def test_openstackclient_issues_a_token_over_https_with_os_cacert(https_keystone, pki):
    if not OPENSTACK.exists():
        pytest.skip(f"{OPENSTACK} is not installed")
    env = clean_env(OS_AUTH_URL=f"{https_keystone.https}/v3", OS_IDENTITY_API_VERSION="3",
                    OS_USERNAME="admin", OS_PASSWORD=ADMIN_PASSWORD, OS_PROJECT_NAME="admin",
                    OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default",
                    OS_INTERFACE="public")
    done = subprocess.run([str(OPENSTACK), "--os-cacert", str(pki.ca.cert), "token", "issue",
                           "-f", "json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["project_id"]
    listed = subprocess.run([str(OPENSTACK), "--os-cacert", str(pki.ca.cert), "project", "list",
                             "-f", "json"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    refused = subprocess.run([str(OPENSTACK), "--os-cacert", str(pki.other_ca.cert), "token",
                              "issue"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "SSL" in refused.stderr, refused.stderr
