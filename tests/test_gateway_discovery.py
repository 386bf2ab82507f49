"""Version discovery and the gateway's envelope, compared with the reference wire format."""

import json
import re
import urllib.error
import urllib.request

from support import SAMPLES



def fetch(url: str, method: str = "GET", headers: dict | None = None):
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def _rebase(text: str, base: str) -> str:
    return text.replace("http://127.0.0.1:5000", base)


def test_root_answers_300_with_the_versions_document(gateway):
    status, headers, body = fetch(gateway + "/", headers={"Accept": "application/json"})
    expected = SAMPLES["01-get-root"]["response"]
    assert status == 300
    assert body == _rebase(expected["raw_body"], gateway)
    assert headers["Location"] == f"{gateway}/v3/"
    assert headers["Content-Type"] == "application/json"
    assert headers["Vary"] == "X-Auth-Token"
    assert headers["x-openstack-request-id"].startswith("req-")


def test_v3_answers_the_version_document_with_or_without_a_slash(gateway):
    expected = SAMPLES["02-get-v3"]["response"]["raw_body"]
    for path in ("/v3", "/v3/"):
        status, headers, body = fetch(gateway + path)
        assert (status, body) == (200, _rebase(expected, gateway))


def test_unknown_path_or_method_gets_the_json_error_envelope(gateway):
    """Keystone answers an unknown path with an HTML page (sample 50, which this test
    once pinned); every answer here is its JSON error body instead."""
    for path in ("/nope", "/v3/no-such-thing", "/v3/users/x/nothing-here"):
        status, headers, body = fetch(gateway + path)
        assert status == 404, path
        assert headers["Content-Type"] == "application/json"
        assert headers["Vary"] == "X-Auth-Token"
        assert json.loads(body) == {"error": {"code": 404, "title": "Not Found",
                                              "message": "The resource could not be found."}}
    status, headers, body = fetch(gateway + "/v3/role_inferences", "DELETE")
    assert status == 405 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == 405 and "GET" in headers["Allow"]


def _gateway_beside_grpc(service, grpc_address: str):
    from identity_grpc.gateway.server import HttpServer
    return HttpServer(service.core, "127.0.0.1:0", grpc_address=grpc_address).start()


def test_discovery_advertises_the_grpc_endpoint_in_a_link_keystoneauth_ignores(service):
    """One openrc serves both tools: the version document names the gRPC address in
    one more link, and keystoneauth still finds v3 where Keystone's document says."""
    from keystoneauth1 import discover, session

    http = _gateway_beside_grpc(service, service.address)
    base = f"http://127.0.0.1:{http.port}"
    try:
        grpc_link = {"rel": "alternate", "type": "application/grpc",
                     "href": f"grpc://{service.address}"}
        for path, sample in (("/v3", "02-get-v3"), ("/", "01-get-root")):
            status, _, body = fetch(base + path)
            answer = json.loads(body)
            version = answer["version"] if path == "/v3" else answer["versions"]["values"][0]
            assert grpc_link in version["links"]
            version["links"].remove(grpc_link)
            assert answer == json.loads(_rebase(SAMPLES[sample]["response"]["raw_body"], base))
        found = discover.Discover(session.Session(), base + "/v3").version_data()
        assert [(v["version"], v["url"]) for v in found] == [((3, 14), f"{base}/v3/")]
    finally:
        http.stop()


def test_a_wildcard_grpc_host_is_advertised_as_the_host_asked(service):
    http = _gateway_beside_grpc(service, f"0.0.0.0:{service.port}")
    try:
        _, _, body = fetch(f"http://127.0.0.1:{http.port}/v3")
        links = json.loads(body)["version"]["links"]
        assert links[1]["href"] == f"grpc://127.0.0.1:{service.port}"
    finally:
        http.stop()


def test_json_home_lists_exactly_the_routes_served(gateway):
    from identity_grpc.gateway.server import ROUTE_MODULES
    status, headers, body = fetch(gateway + "/v3", headers={"Accept": "application/json-home"})
    assert status == 200 and headers["Content-Type"] == "application/json-home"
    resources = json.loads(body)["resources"]
    served = {}
    for module in ROUTE_MODULES:
        for method, path, _ in module.ROUTES:
            if path.startswith("/v3/"):
                template = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", path)
                served.setdefault(template, set()).update(
                    [method] + (["HEAD"] if method == "GET" else []))
    listed = {r.get("href") or r["href-template"]: set(r["hints"]["allow"])
              for r in resources.values()}
    assert listed == served
    base = "https://docs.openstack.org/api/openstack-identity/3"
    assert resources[f"{base}/rel/users"] == {"href": "/v3/users",
                                              "hints": {"allow": ["GET", "HEAD", "POST"]}}
    user = resources[f"{base}/rel/user"]
    assert user["href-template"] == "/v3/users/{user_id}"
    assert user["href-vars"] == {"user_id": f"{base}/param/user_id"}
    assert f"{base}/rel/user_projects" in resources and f"{base}/rel/auth_tokens" in resources
    # The same at the root; a plain JSON request still gets the version document.
    assert json.loads(fetch(gateway + "/", headers={"Accept": "application/json-home"})[2]) \
        == {"resources": resources}
    status, _, body = fetch(gateway + "/v3", headers={"Accept": "application/json"})
    assert status == 200 and "version" in json.loads(body)
