"""Version discovery and the gateway's envelope, compared with the reference wire format."""

import json
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


def test_unknown_path_gets_the_html_404(gateway):
    status, headers, body = fetch(gateway + "/nope")
    expected = SAMPLES["50-not-found-path"]["response"]
    assert (status, body) == (404, expected["raw_body"])
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Vary"] == "X-Auth-Token"


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
